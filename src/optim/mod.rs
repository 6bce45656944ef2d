//! Optimizers, learning-rate schedules and the trajectory runners.
//!
//! Every optimizer implements [`Optimizer`]: it owns its state (momentum buffers, accumulators,
//! step count) and updates the parameters in place from a gradient and the learning rate of this
//! step (the schedule's value), exactly as `torch.optim` does.

use crate::error::Result;

/// A first-order optimizer with its state.
pub trait Optimizer: Send {
    /// The optimizer's name (`sgd`, `adam`, `adagrad-book`, ...).
    fn name(&self) -> &str;

    /// One update of `params` in place from the gradient `grad` at `params`, with learning rate
    /// `lr` for this step.
    ///
    /// # Errors
    /// Lengths that differ from the first call's.
    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()>;

    /// Forgets all state (as a freshly constructed optimizer).
    fn reset(&mut self);
}
