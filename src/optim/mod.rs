//! Optimizers, learning-rate schedules and the trajectory runners.
//!
//! Every optimizer implements [`Optimizer`]: it owns its state (momentum buffers, accumulators,
//! step count) and updates the parameters in place from a gradient and the learning rate of this
//! step (the schedule's value), exactly as `torch.optim` does.
//!
//! - One file per optimizer: [`Sgd`], [`Momentum`], [`Nesterov`], [`Adagrad`], [`RmsProp`],
//!   [`Adam`], [`AdamW`], [`NAdam`], [`RAdam`], [`Adamax`], [`Adadelta`], [`Rprop`] follow
//!   `torch.optim` (update order, epsilon placement, defaults);
//!   [`MomentumBook`], [`AdagradBook`], [`RmsPropBook`] are the chapter's own forms
//!   (docs/reference.md §3). [`optimizer_by_name`] builds any of them from a [`Hyper`].
//! - [`Schedule`] (in `schedule.rs`): the learning rate of step `k`, parsed from the
//!   `--schedule` grammar.
//! - [`Executor`] (in `executor.rs`): the one optimization loop over a [`GradientSource`]
//!   (`source.rs`: the full batch, shuffled or in-order mini-batches), with [`Observer`]s
//!   (`observer.rs`) that record, checkpoint or stop, gradient clipping, [`Plateau`]
//!   (`plateau.rs`), divergence reported as a [`Divergence`], and evaluation counts.
//! - [`Runner`] (in `runner.rs`): a full-gradient trajectory over any
//!   [`Gradient`](crate::objective::Gradient) objective, recorded by a [`TrajectoryRecorder`].
//! - [`MiniBatchRunner`] (in `minibatch.rs`): epochs of shuffled mini-batches over a
//!   [`BatchLoss`].
//!
//! Optimizers never evaluate the objective and never print; the runners own the loop.

mod adadelta;
mod adagrad;
mod adagrad_book;
mod adam;
mod adamax;
mod adamw;
mod executor;
mod factory;
mod minibatch;
mod momentum;
mod momentum_book;
mod nadam;
mod nesterov;
mod observer;
mod plateau;
mod radam;
mod rmsprop;
mod rmsprop_book;
mod rprop;
mod runner;
mod schedule;
mod sgd;
mod source;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adagrad_book::AdagradBook;
pub use adam::Adam;
pub use adamax::Adamax;
pub use adamw::AdamW;
pub use executor::{clip_grad_norm, Divergence, Executor, Rates, Run, StopReason};
pub use factory::{default_lr, optimizer_by_name, Hyper, OptimizerKind, OPTIMIZER_NAMES};
pub use minibatch::{MiniBatchRun, MiniBatchRunner};
pub use momentum::Momentum;
pub use momentum_book::MomentumBook;
pub use nadam::NAdam;
pub use nesterov::Nesterov;
pub(crate) use observer::Chain;
pub use observer::{EpochState, Every, Observer, ObserverAction, OnEpoch, OnUpdate, State};
pub use plateau::Plateau;
pub use radam::RAdam;
pub use rmsprop::RmsProp;
pub use rmsprop_book::RmsPropBook;
pub use rprop::Rprop;
pub use runner::{Runner, Trajectory, TrajectoryRecorder};
pub use schedule::{CyclicMode, Milestones, Schedule, ScheduleKind, MAX_MILESTONES};
pub use sgd::Sgd;
pub use source::{
    shuffled_batches, BatchLoss, BatchSize, Batched, Batching, Evaluation, FullBatch,
    GradientSource,
};

use crate::error::{Error, Result};

/// A first-order optimizer with its state.
pub trait Optimizer: Send {
    /// The optimizer's name (`sgd`, `adam`, `adagrad-book`, ...).
    fn name(&self) -> &str;

    /// One update of `params` in place from the gradient `grad` at `params`, with learning rate
    /// `lr` for this step.
    ///
    /// # Errors
    /// Lengths that differ from the first call's (or between `params` and `grad`), or a
    /// learning rate that is negative or not finite.
    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()>;

    /// Forgets all state (as a freshly constructed optimizer).
    fn reset(&mut self);
}

/// Checks the arguments of one [`Optimizer::step`]: `grad` as long as `params`, both as long as
/// the optimizer's state (`state_len`, `None` before the first step), and a learning rate that is
/// finite and not negative (zero is allowed: schedules may start at zero, as torch allows).
pub(crate) fn check_step(
    params: &[f64],
    grad: &[f64],
    lr: f64,
    state_len: Option<usize>,
) -> Result<()> {
    if grad.len() != params.len() {
        return Err(Error::dim("gradient", params.len(), grad.len()));
    }
    if let Some(n) = state_len {
        if params.len() != n {
            return Err(Error::dim("parameters (optimizer state)", n, params.len()));
        }
    }
    if !(lr.is_finite() && lr >= 0.0) {
        return Err(Error::invalid(
            "learning rate",
            format!("must be finite and not negative, got {lr}"),
        ));
    }
    Ok(())
}

/// Validators shared by the constructors, each naming the parameter as the user spells it.
pub(crate) mod check {
    use crate::error::{Error, Result};

    /// `lr > 0` and finite.
    pub fn lr(v: f64) -> Result<f64> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(Error::invalid(
                "learning rate",
                format!("must be positive and finite, got {v}"),
            ))
        }
    }

    /// `0 <= v < 1`.
    pub fn unit_open(name: &str, v: f64) -> Result<f64> {
        if (0.0..1.0).contains(&v) {
            Ok(v)
        } else {
            Err(Error::invalid(name, format!("must be in [0, 1), got {v}")))
        }
    }

    /// `0 <= v <= 1`.
    pub fn unit_closed(name: &str, v: f64) -> Result<f64> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(Error::invalid(name, format!("must be in [0, 1], got {v}")))
        }
    }

    /// `v > 0` and finite.
    pub fn positive(name: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(Error::invalid(
                name,
                format!("must be positive and finite, got {v}"),
            ))
        }
    }

    /// `v >= 0` and finite.
    pub fn non_negative(name: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(Error::invalid(
                name,
                format!("must be finite and not negative, got {v}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
