//! The mini-batch runner: epochs of shuffled batches over a loss that is a mean over samples.
//!
//! A network's training loss (or any empirical risk) implements the small [`BatchLoss`] trait;
//! [`MiniBatchRunner`] then runs any [`Optimizer`] with batch size 1 (SGD in the strict sense),
//! `B`, or the full set (gradient descent), reshuffling the samples every epoch from a seed.

use super::{Optimizer, Schedule};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A loss that is the mean of per-sample losses, evaluated on any subset of the samples.
///
/// Implement this for a training loss: `loss_and_gradient_on(params, indices, grad_out)`
/// returns $\frac{1}{|I|}\sum_{i \in I} \ell_i(\theta)$ for the samples `indices` $= I$ and writes
/// its gradient into `grad_out` (length [`BatchLoss::n_params`], overwritten, not accumulated).
/// Indices are in `0..n_samples()`, never empty, and may come in any order; the result must not
/// depend on the order beyond rounding.
pub trait BatchLoss {
    /// The number of samples $N$.
    fn n_samples(&self) -> usize;

    /// The number of parameters.
    fn n_params(&self) -> usize;

    /// The mean loss over the samples `indices` at `params`, with its gradient in `grad_out`.
    ///
    /// # Errors
    /// Whatever the loss cannot compute; [`Error::NonFinite`] is read as divergence by the
    /// runner.
    fn loss_and_gradient_on(
        &self,
        params: &[f64],
        indices: &[usize],
        grad_out: &mut [f64],
    ) -> Result<f64>;
}

/// How many samples make one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// `B` samples per batch (the last batch of an epoch holds the remainder, as PyTorch's
    /// `DataLoader` without `drop_last`); `B >= N` is the full set.
    Fixed(usize),
    /// All samples, in their order (full-batch gradient descent).
    Full,
}

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
        self.run_observed(obj, opt, start, |_, _| {})
    }

    /// As [`MiniBatchRunner::run`], calling `on_epoch(epoch, epoch_loss)` after every finished
    /// epoch (epoch from 0), e.g. for a progress bar.
    ///
    /// # Errors
    /// As [`MiniBatchRunner::run`].
    pub fn run_observed<L, F>(
        &self,
        obj: &L,
        opt: &mut dyn Optimizer,
        start: &[f64],
        mut on_epoch: F,
    ) -> Result<MiniBatchRun>
    where
        L: BatchLoss + ?Sized,
        F: FnMut(usize, f64),
    {
        let n_samples = obj.n_samples();
        if n_samples == 0 {
            return Err(Error::invalid("data", "has no samples"));
        }
        if start.len() != obj.n_params() {
            return Err(Error::dim("start", obj.n_params(), start.len()));
        }
        crate::error::ensure_finite("start", start)?;
        opt.reset();
        let batch = match self.batch {
            BatchSize::Fixed(b) => b.min(n_samples),
            BatchSize::Full => n_samples,
        };
        let shuffle = batch < n_samples;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut order: Vec<usize> = (0..n_samples).collect();
        let mut params = start.to_vec();
        let mut grad = vec![0.0; params.len()];
        let mut run = MiniBatchRun {
            optimizer: opt.name().to_string(),
            params: Vec::new(),
            path: if self.record_params {
                vec![params.clone()]
            } else {
                Vec::new()
            },
            batch_losses: Vec::new(),
            learning_rates: Vec::new(),
            epoch_losses: Vec::new(),
            epoch_full_losses: Vec::new(),
            updates: 0,
            diverged: false,
            diverged_at_update: None,
        };
        'epochs: for epoch in 0..self.epochs {
            if shuffle {
                shuffle_in_place(&mut order, &mut rng);
            }
            let mut weighted = 0.0;
            for idx in order.chunks(batch) {
                let Some(loss) =
                    finite_or_diverged(obj.loss_and_gradient_on(&params, idx, &mut grad), &grad)?
                else {
                    run.diverged = true;
                    break 'epochs;
                };
                let k = if self.per_epoch { epoch } else { run.updates };
                let lr = self.schedule.lr(k as u64);
                opt.step(&mut params, &grad, lr)?;
                run.updates += 1;
                run.batch_losses.push(loss);
                run.learning_rates.push(lr);
                weighted += loss * idx.len() as f64;
                if self.record_params {
                    run.path.push(params.clone());
                }
                if !params.iter().all(|p| p.is_finite()) {
                    run.diverged = true;
                    break 'epochs;
                }
            }
            let epoch_loss = weighted / n_samples as f64;
            run.epoch_losses.push(epoch_loss);
            if self.full_loss {
                let Some(full) = finite_or_diverged(
                    obj.loss_and_gradient_on(&params, &order_all(n_samples), &mut grad),
                    &grad,
                )?
                else {
                    run.diverged = true;
                    break 'epochs;
                };
                run.epoch_full_losses.push(full);
            }
            on_epoch(epoch, epoch_loss);
        }
        if run.diverged {
            run.diverged_at_update = Some(run.updates);
            if self.record_params
                && run
                    .path
                    .last()
                    .is_some_and(|p| !p.iter().all(|v| v.is_finite()))
            {
                run.path.pop();
            }
        }
        run.params = params;
        Ok(run)
    }
}

/// All sample indices in order.
fn order_all(n: usize) -> Vec<usize> {
    (0..n).collect()
}

/// `Some(loss)` for a finite loss and gradient, `None` for a non-finite one (divergence).
fn finite_or_diverged(res: Result<f64>, grad: &[f64]) -> Result<Option<f64>> {
    match res {
        Ok(v) if v.is_finite() && grad.iter().all(|g| g.is_finite()) => Ok(Some(v)),
        Ok(_) | Err(Error::NonFinite(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fisher–Yates: a uniformly random permutation of `order` in place.
fn shuffle_in_place(order: &mut [usize], rng: &mut StdRng) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}
