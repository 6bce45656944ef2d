//! The trajectory runner: one optimizer walking a full-gradient objective, recorded by an
//! observer of the [`Executor`].

use super::observer::{Chain, Observer, ObserverAction, State};
use super::source::{Batching, FullBatch};
use super::{Executor, Optimizer, Run, Schedule, StopReason};
use crate::error::{Error, Result};
use crate::objective::norm;
use crate::objective::{check_params, EvalCounts, Gradient};

/// A recorded run.
///
/// Point `i` of `path` is the parameters after `recorded_steps[i]` steps (`path[0]` is the
/// start; every step is kept unless [`Runner::with_record_every`] thins the path); `values[i]`
/// and `gradient_norms[i]` belong to it; `learning_rates[k]` is the rate of step `k` (from point
/// `k` to `k + 1`, every step, also when the path is thinned). Only finite points are recorded:
/// a run that diverges at step `k` ends with point `k - 1`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trajectory {
    /// The optimizer's name.
    pub optimizer: String,
    /// The points, the start first (`steps + 1` of them unless the run stopped early).
    pub path: Vec<Vec<f64>>,
    /// The loss at each point.
    pub values: Vec<f64>,
    /// The gradient norm at each point.
    pub gradient_norms: Vec<f64>,
    /// The step of each kept point (`0, 1, 2, ...` unless thinned).
    pub recorded_steps: Vec<usize>,
    /// The learning rate of each step taken.
    pub learning_rates: Vec<f64>,
    /// Whether the run stopped on a non-finite parameter, value or gradient.
    pub diverged: bool,
    /// The step `k` (from 1) whose result was non-finite, when diverged: point `k` would have
    /// been the first non-finite one.
    pub diverged_at_step: Option<usize>,
    /// Why the run stopped.
    pub stop: StopReason,
    /// The number of steps taken (to the last finite point).
    pub steps: usize,
    /// Losses and gradients evaluated.
    pub counts: EvalCounts,
}

impl Trajectory {
    /// The last point.
    pub fn last(&self) -> &[f64] {
        self.path.last().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Records a full-batch run as a [`Trajectory`], keeping one point in `every` (the start and
/// the last point always).
#[derive(Debug, Clone)]
pub struct TrajectoryRecorder {
    every: usize,
    run: Trajectory,
    /// The last point seen when it was not kept: `(step, params, value, gradient norm)`.
    pending: Option<(usize, Vec<f64>, f64, f64)>,
}

impl TrajectoryRecorder {
    /// A recorder for `optimizer` keeping every `every`-th point (`0` is read as 1).
    pub fn new(optimizer: &str, every: usize) -> Self {
        TrajectoryRecorder {
            every: every.max(1),
            run: Trajectory {
                optimizer: optimizer.to_string(),
                path: Vec::new(),
                values: Vec::new(),
                gradient_norms: Vec::new(),
                recorded_steps: Vec::new(),
                learning_rates: Vec::new(),
                steps: 0,
                counts: EvalCounts::default(),
                diverged: false,
                diverged_at_step: None,
                stop: StopReason::MaxSteps,
            },
            pending: None,
        }
    }

    /// The trajectory of the finished `run` (the last point seen is kept).
    pub fn finish(mut self, run: &Run) -> Trajectory {
        if let Some((k, p, v, g)) = self.pending.take() {
            self.push(k, p, v, g);
        }
        self.run.steps = self.run.recorded_steps.last().copied().unwrap_or(0);
        self.run.diverged = run.divergence.is_some();
        self.run.diverged_at_step = run.divergence.map(|d| d.step);
        self.run.stop = run.stop.clone();
        self.run.counts = run.counts;
        self.run
    }

    fn push(&mut self, k: usize, p: Vec<f64>, v: f64, g: f64) {
        self.run.recorded_steps.push(k);
        self.run.path.push(p);
        self.run.values.push(v);
        self.run.gradient_norms.push(g);
    }
}

impl<S: ?Sized> Observer<S> for TrajectoryRecorder {
    fn observe(&mut self, s: &State<'_, S>) -> Result<ObserverAction> {
        if let Some(lr) = s.lr {
            self.run.learning_rates.push(lr);
        }
        let value = s.value.or(s.batch_loss).unwrap_or(f64::NAN);
        let gn = s.grad.map_or(f64::NAN, norm);
        if s.update.is_multiple_of(self.every) {
            self.pending = None;
            self.push(s.update, s.params.to_vec(), value, gn);
        } else {
            self.pending = Some((s.update, s.params.to_vec(), value, gn));
        }
        Ok(ObserverAction::Continue)
    }
}

/// Runs an [`Optimizer`] over a [`Gradient`] objective for a number of steps with a
/// [`Schedule`], recording the path: the [`Executor`] with [`Batching::Full`] and a
/// [`TrajectoryRecorder`].
///
/// Each step evaluates the loss and gradient at the current point (one `loss_and_gradient`),
/// then calls [`Optimizer::step`] with the rate `schedule.lr(k)`. The run stops after `steps`
/// steps, when the gradient norm at a point is at most the tolerance (if one is set), when an
/// observer asks, or at the first non-finite parameter, value or gradient (divergence:
/// reported, not an error).
///
/// # Requirements
/// The objective must implement [`Gradient`].
///
/// Cost: `steps + 1` gradient evaluations and O(steps · n / record_every) memory for the path.
///
/// # Example
/// ```
/// # use critpt::{expr::Formula, optim::{Runner, Schedule, Sgd}};
/// let f = Formula::parse("x^2 + 10*y^2").unwrap();
/// let run = Runner::new(Schedule::constant(0.05).unwrap(), 200)
///     .run(&f, &mut Sgd::new(), &[1.0, 1.0])
///     .unwrap();
/// assert_eq!(run.path.len(), 201);
/// assert!(run.values[200] < 1e-8);
/// ```
#[derive(Debug, Clone)]
pub struct Runner {
    executor: Executor,
    record_every: usize,
}

impl Runner {
    /// `steps` steps with the rates of `schedule`.
    pub fn new(schedule: Schedule, steps: usize) -> Self {
        Runner {
            executor: Executor::new(schedule, Batching::Full, steps),
            record_every: 1,
        }
    }

    /// Also stop at the first point whose gradient norm is at most `tol`.
    ///
    /// # Errors
    /// `tol` negative or not finite.
    pub fn with_grad_tol(mut self, tol: f64) -> Result<Self> {
        self.executor = self.executor.with_grad_tol(tol)?;
        Ok(self)
    }

    /// Keeps one point in `k` of the path (the start and the last point always), for long
    /// runs; [`Trajectory::recorded_steps`] says which.
    ///
    /// # Errors
    /// `k` is zero.
    pub fn with_record_every(mut self, k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::invalid(
                "--record-every",
                "must be at least 1, got 0",
            ));
        }
        self.record_every = k;
        Ok(self)
    }

    /// Runs from `start` (the optimizer is reset first).
    ///
    /// # Errors
    /// A start of the wrong length or with a non-finite entry, an objective that fails at the
    /// start, or any error of the objective other than [`Error::NonFinite`] along the way.
    pub fn run<G: Gradient + ?Sized>(
        &self,
        obj: &G,
        opt: &mut dyn Optimizer,
        start: &[f64],
    ) -> Result<Trajectory> {
        self.run_observed(obj, opt, start, &mut []).map(|(t, _)| t)
    }

    /// As [`Runner::run`], calling `observers` after the recorder at every point (the start
    /// included); also returns the executor's report (evaluation counts).
    ///
    /// # Errors
    /// As [`Runner::run`], and the observers' errors.
    pub fn run_observed<'g, G: Gradient + ?Sized>(
        &self,
        obj: &'g G,
        opt: &mut dyn Optimizer,
        start: &[f64],
        observers: &mut [&mut dyn Observer<FullBatch<&'g G>>],
    ) -> Result<(Trajectory, Run)> {
        check_params(obj, start)?;
        // The path is kept: refuse, before allocating, one longer than memory allows.
        crate::limits::check_recorded_steps(self.executor.epochs(), self.record_every)?;
        let mut recorder = TrajectoryRecorder::new(opt.name(), self.record_every);
        let mut chain = Chain {
            first: &mut recorder,
            rest: observers,
        };
        let run = self
            .executor
            .run(&mut FullBatch::new(obj), opt, start, &mut [&mut chain])?;
        Ok((recorder.finish(&run), run))
    }
}
