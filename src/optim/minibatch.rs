//! The mini-batch runner: epochs of shuffled batches over a loss that is a mean over samples.
//!
//! A network's training loss (or any empirical risk) implements the small [`BatchLoss`] trait;
//! [`MiniBatchRunner`] then runs any [`Optimizer`] with batch size 1 (SGD in the strict sense),
//! `B`, or the full set (gradient descent), reshuffling the samples every epoch from a seed; it
//! is the [`Executor`] with [`Batching::Shuffled`] and an observer that records the path.

use super::observer::{Chain, Observer, ObserverAction, State};
use super::source::{BatchLoss, BatchSize, Batched, Batching};
use super::{Executor, Optimizer, Run, Schedule};
use crate::error::{Error, Result};

/// The record of a mini-batch run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MiniBatchRun {
    /// The optimizer's name.
    pub optimizer: String,
    /// The final parameters (non-finite entries possible when the run diverged).
    pub params: Vec<f64>,
    /// The start followed by the parameters after every update (empty unless recording is on;
    /// see [`MiniBatchRunner::with_record_params`]).
    pub path: Vec<Vec<f64>>,
    /// The loss of each batch, at the parameters before its update.
    pub batch_losses: Vec<f64>,
    /// The learning rate of each update.
    pub learning_rates: Vec<f64>,
    /// Per finished epoch, the mean over samples of the batch losses (what a training loop
    /// prints; each sample counted at the parameters its batch saw).
    pub epoch_losses: Vec<f64>,
    /// Per finished epoch, the loss on all samples at the epoch's end parameters (only with
    /// [`MiniBatchRunner::with_full_loss`]).
    pub epoch_full_losses: Vec<f64>,
    /// Number of updates made.
    pub updates: usize,
    /// Losses and gradients evaluated (batches and full-set evaluations).
    pub counts: crate::objective::EvalCounts,
    /// Whether the run stopped on a non-finite loss, gradient or parameter.
    pub diverged: bool,
    /// The number of updates made when the first non-finite quantity appeared.
    pub diverged_at_update: Option<usize>,
}

/// Runs an [`Optimizer`] over a [`BatchLoss`] in epochs of mini-batches.
///
/// Every epoch visits every sample exactly once: the sample order is shuffled at the start of
/// each epoch (Fisher–Yates with a [`StdRng`] seeded once from the seed, so the same seed gives
/// the same batches), then cut into consecutive batches. A batch that covers all samples is
/// taken in order, unshuffled, so [`BatchSize::Full`] (or `Fixed(B >= N)`) is exactly
/// full-batch gradient descent. The rate of update `u` (from 0) is `schedule.lr(u)`, or
/// `schedule.lr(epoch)` with [`MiniBatchRunner::with_schedule_per_epoch`].
///
/// Cost: one `loss_and_gradient_on` per batch, `ceil(N/B)` per epoch, plus one full-set
/// evaluation per epoch with [`MiniBatchRunner::with_full_loss`].
///
/// # Example
/// ```
/// # use critpt::optim::{BatchLoss, BatchSize, MiniBatchRunner, Schedule, Sgd};
/// # use critpt::Result;
/// /// Mean of (θ − y_i)²: the minimum is the mean of the targets.
/// struct Mean(Vec<f64>);
/// impl BatchLoss for Mean {
///     fn n_samples(&self) -> usize { self.0.len() }
///     fn n_params(&self) -> usize { 1 }
///     fn loss_and_gradient_on(&self, p: &[f64], idx: &[usize], g: &mut [f64]) -> Result<f64> {
///         let m = idx.len() as f64;
///         g[0] = idx.iter().map(|&i| 2.0 * (p[0] - self.0[i])).sum::<f64>() / m;
///         Ok(idx.iter().map(|&i| (p[0] - self.0[i]).powi(2)).sum::<f64>() / m)
///     }
/// }
/// let runner = MiniBatchRunner::new(Schedule::constant(0.1).unwrap(), BatchSize::Full, 100)
///     .unwrap();
/// let run = runner.run(&Mean(vec![1.0, 2.0, 6.0]), &mut Sgd::new(), &[0.0]).unwrap();
/// assert!((run.params[0] - 3.0).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct MiniBatchRunner {
    schedule: Schedule,
    batch: BatchSize,
    epochs: usize,
    seed: u64,
    record_params: bool,
    full_loss: bool,
    per_epoch: bool,
}

impl MiniBatchRunner {
    /// `epochs` epochs of batches of `batch` samples, rates from `schedule`, seed 0, recording
    /// every update's parameters.
    ///
    /// # Errors
    /// `BatchSize::Fixed(0)`.
    pub fn new(schedule: Schedule, batch: BatchSize, epochs: usize) -> Result<Self> {
        if batch == BatchSize::Fixed(0) {
            return Err(Error::invalid("batch size", "must be at least 1, got 0"));
        }
        Ok(MiniBatchRunner {
            schedule,
            batch,
            epochs,
            seed: 0,
            record_params: true,
            full_loss: false,
            per_epoch: false,
        })
    }

    /// Sets the shuffling seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to record the parameters after every update (default on; turn off for large
    /// models, where the path would hold `updates × n_params` values).
    pub fn with_record_params(mut self, record: bool) -> Self {
        self.record_params = record;
        self
    }

    /// Whether to evaluate the loss on all samples after every epoch.
    pub fn with_full_loss(mut self, full: bool) -> Self {
        self.full_loss = full;
        self
    }

    /// Whether the schedule advances once per epoch (as most PyTorch training loops call
    /// `scheduler.step()`) instead of once per update.
    pub fn with_schedule_per_epoch(mut self, per_epoch: bool) -> Self {
        self.per_epoch = per_epoch;
        self
    }

    /// Runs from `start` (the optimizer is reset first).
    ///
    /// # Errors
    /// A start of the wrong length or not finite, no samples, or an error of the loss other
    /// than [`Error::NonFinite`] (which ends the run as diverged).
    pub fn run<L: BatchLoss + ?Sized>(
        &self,
        obj: &L,
        opt: &mut dyn Optimizer,
        start: &[f64],
    ) -> Result<MiniBatchRun> {
        self.run_observed(obj, opt, start, &mut [])
    }

    /// As [`MiniBatchRunner::run`], calling `observers` after every update and epoch (e.g. a
    /// progress bar or a stopping rule).
    ///
    /// # Errors
    /// As [`MiniBatchRunner::run`], and the observers' errors.
    pub fn run_observed<'l, L: BatchLoss + ?Sized>(
        &self,
        obj: &'l L,
        opt: &mut dyn Optimizer,
        start: &[f64],
        observers: &mut [&mut dyn Observer<Batched<&'l L>>],
    ) -> Result<MiniBatchRun> {
        let size = match self.batch {
            BatchSize::Fixed(b) => b,
            BatchSize::Full => usize::MAX,
        };
        let executor = Executor::new(
            self.schedule,
            Batching::Shuffled {
                size,
                seed: self.seed,
            },
            self.epochs,
        )
        .with_schedule_per_epoch(self.per_epoch)
        .with_evaluation(self.full_loss);
        let mut path = PathRecorder {
            on: self.record_params,
            path: Vec::new(),
            full: Vec::new(),
        };
        let mut chain = Chain {
            first: &mut path,
            rest: observers,
        };
        let run: Run = executor.run(&mut Batched::new(obj), opt, start, &mut [&mut chain])?;
        Ok(MiniBatchRun {
            optimizer: run.optimizer,
            params: run.params,
            path: path.path,
            batch_losses: run.batch_losses,
            learning_rates: run.learning_rates,
            epoch_losses: run.epoch_losses,
            epoch_full_losses: path.full,
            updates: run.updates,
            counts: run.counts,
            diverged: run.divergence.is_some(),
            diverged_at_update: run.divergence.map(|d| d.step),
        })
    }
}

/// Keeps the start and the parameters after every update, and the full-set losses.
struct PathRecorder {
    on: bool,
    path: Vec<Vec<f64>>,
    full: Vec<f64>,
}

impl<S: ?Sized> Observer<S> for PathRecorder {
    fn observe(&mut self, s: &State<'_, S>) -> Result<ObserverAction> {
        if self.on {
            self.path.push(s.params.to_vec());
        }
        Ok(ObserverAction::Continue)
    }
    fn observe_epoch(&mut self, e: &super::observer::EpochState<'_, S>) -> Result<ObserverAction> {
        if let Some(ev) = e.evaluation {
            self.full.push(ev.loss);
        }
        Ok(ObserverAction::Continue)
    }
}
