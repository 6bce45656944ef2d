//! Gradient sources for the [`Executor`](super::Executor): where an update's loss and gradient
//! come from (the full objective, or a batch of samples of a mean loss), and [`Batching`], which
//! samples make each update's batch.

use crate::error::{Error, Result};
use crate::objective::{Counted, EvalCounts, Gradient, Loss};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
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

/// An evaluation on all samples at the end of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// The loss over all samples.
    pub loss: f64,
    /// The accuracy (classification networks only).
    pub accuracy: Option<f64>,
}

/// Where the executor gets each update's loss and gradient.
///
/// Mutable, because a source may carry state that training changes besides the parameters (the
/// running statistics of batch norm).
pub trait GradientSource {
    /// The number of parameters.
    fn n_params(&self) -> usize;

    /// The number of samples batches are drawn from (1 for a plain objective).
    fn n_samples(&self) -> usize;

    /// The mean loss over the samples `batch` at `params`, its gradient in `grad`.
    ///
    /// # Errors
    /// Whatever the loss cannot compute; [`Error::NonFinite`] is read as divergence.
    fn loss_and_gradient_on(
        &mut self,
        params: &[f64],
        batch: &[usize],
        grad: &mut [f64],
    ) -> Result<f64>;

    /// Whether a batch of `len` samples can make an update (train-mode batch norm needs two);
    /// a batch that cannot is skipped, as PyTorch cannot normalize it either.
    fn accepts(&self, len: usize) -> bool {
        len > 0
    }

    /// The loss (and accuracy, where that means something) on all samples at `params`.
    ///
    /// # Errors
    /// As [`GradientSource::loss_and_gradient_on`].
    fn evaluate(&mut self, params: &[f64]) -> Result<Evaluation>;

    /// The evaluations made so far.
    fn counts(&self) -> EvalCounts;
}

/// A [`Gradient`] objective as a source of one sample: every update sees the full gradient.
pub struct FullBatch<G> {
    obj: Counted<G>,
}

impl<G: Gradient> FullBatch<G> {
    /// Wraps `obj`, counting its evaluations.
    pub fn new(obj: G) -> Self {
        FullBatch {
            obj: Counted::new(obj),
        }
    }
}

impl<G: Gradient> GradientSource for FullBatch<G> {
    fn n_params(&self) -> usize {
        self.obj.n_params()
    }
    fn n_samples(&self) -> usize {
        1
    }
    fn loss_and_gradient_on(&mut self, p: &[f64], _b: &[usize], g: &mut [f64]) -> Result<f64> {
        self.obj.loss_and_gradient(p, g)
    }
    fn evaluate(&mut self, params: &[f64]) -> Result<Evaluation> {
        Ok(Evaluation {
            loss: self.obj.loss(params)?,
            accuracy: None,
        })
    }
    fn counts(&self) -> EvalCounts {
        self.obj.counts()
    }
}

/// A [`BatchLoss`] as a source: updates see the mean loss over their batch.
pub struct Batched<L> {
    obj: Counted<L>,
    all: Vec<usize>,
}

impl<L: BatchLoss> Batched<L> {
    /// Wraps `obj`, counting its evaluations.
    pub fn new(obj: L) -> Self {
        let all = (0..obj.n_samples()).collect();
        Batched {
            obj: Counted::new(obj),
            all,
        }
    }
}

impl<L: BatchLoss> GradientSource for Batched<L> {
    fn n_params(&self) -> usize {
        BatchLoss::n_params(&self.obj)
    }
    fn n_samples(&self) -> usize {
        BatchLoss::n_samples(&self.obj)
    }
    fn loss_and_gradient_on(&mut self, p: &[f64], b: &[usize], g: &mut [f64]) -> Result<f64> {
        self.obj.loss_and_gradient_on(p, b, g)
    }
    fn evaluate(&mut self, params: &[f64]) -> Result<Evaluation> {
        let mut g = vec![0.0; BatchLoss::n_params(&self.obj)];
        let loss = self.obj.loss_and_gradient_on(params, &self.all, &mut g)?;
        if !g.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFinite("gradient on all samples".into()));
        }
        Ok(Evaluation {
            loss,
            accuracy: None,
        })
    }
    fn counts(&self) -> EvalCounts {
        self.obj.counts()
    }
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

/// Which samples make each update's batch, epoch by epoch. Every epoch visits every sample
/// once; the last batch of an epoch holds the remainder.
#[derive(Debug, Clone)]
pub enum Batching {
    /// One batch of all samples in order per epoch; each new point's evaluation is the next
    /// update's, so a run of `E` epochs costs `E + 1` evaluations and observers see the loss at
    /// every point.
    Full,
    /// Batches of `size` in file order, the same every epoch (`DataLoader(shuffle=False)`).
    InOrder(usize),
    /// Batches of `size`; at the start of each epoch the previous epoch's order is shuffled in
    /// place (Fisher–Yates with a [`StdRng`] seeded once from `seed`). When one batch covers
    /// all samples it is taken in order, unshuffled.
    Shuffled {
        /// Samples per batch.
        size: usize,
        /// The shuffling seed.
        seed: u64,
    },
    /// Batches of `size`; each epoch a fresh permutation of `0..N` drawn with rand's
    /// `SliceRandom::shuffle` from `rng` (as `DataLoader(shuffle=True)`; even one batch of all
    /// samples is permuted).
    Permuted {
        /// Samples per batch.
        size: usize,
        /// The generator, continued across epochs.
        rng: Box<StdRng>,
    },
    /// As [`Batching::Permuted`], but epoch `e` (from 0) draws from
    /// `StdRng::seed_from_u64((seed + e) ^ mix)`, as `E` one-epoch runs with seeds `seed + e`.
    PermutedPerEpoch {
        /// Samples per batch.
        size: usize,
        /// The seed of epoch 0.
        seed: u64,
        /// Mixed into every epoch's seed.
        mix: u64,
    },
}

impl Batching {
    /// The batch size, when it is fixed (`None` for [`Batching::Full`]).
    fn size(&self) -> Option<usize> {
        match self {
            Batching::Full => None,
            Batching::InOrder(size)
            | Batching::Shuffled { size, .. }
            | Batching::Permuted { size, .. }
            | Batching::PermutedPerEpoch { size, .. } => Some(*size),
        }
    }

    /// Checks the batch size.
    ///
    /// # Errors
    /// A batch size of zero.
    pub fn check(&self) -> Result<()> {
        if self.size() == Some(0) {
            return Err(Error::invalid("batch size", "must be at least 1, got 0"));
        }
        Ok(())
    }
}

/// The batches of a run, drawn epoch by epoch.
pub(crate) struct BatchPlan {
    batching: Batching,
    n: usize,
    order: Vec<usize>,
    rng: Option<StdRng>,
}

impl BatchPlan {
    /// The plan for `n` samples.
    pub(crate) fn new(batching: &Batching, n: usize) -> Self {
        let rng = match batching {
            Batching::Shuffled { seed, .. } => Some(StdRng::seed_from_u64(*seed)),
            Batching::Permuted { rng, .. } => Some((**rng).clone()),
            _ => None,
        };
        BatchPlan {
            batching: batching.clone(),
            n,
            order: (0..n).collect(),
            rng,
        }
    }

    /// The batches of epoch `epoch` (from 0).
    pub(crate) fn epoch(&mut self, epoch: usize) -> Vec<Vec<usize>> {
        let n = self.n;
        let size = self.batching.size().unwrap_or(n).clamp(1, n.max(1));
        match (&self.batching, self.rng.as_mut()) {
            (Batching::Shuffled { .. }, Some(rng)) if size < n => {
                fisher_yates(&mut self.order, rng)
            }
            (Batching::Permuted { .. }, Some(rng)) => return shuffled_batches(n, size, rng),
            (Batching::PermutedPerEpoch { seed, mix, .. }, _) => {
                let mut rng = StdRng::seed_from_u64(seed.wrapping_add(epoch as u64) ^ mix);
                return shuffled_batches(n, size, &mut rng);
            }
            _ => {}
        }
        self.order.chunks(size).map(<[usize]>::to_vec).collect()
    }
}

/// The sample indices `0..n` shuffled with `rng` and cut into batches of `batch_size` (the
/// last one may be smaller), as a `DataLoader(shuffle=True)` epoch.
pub fn shuffled_batches<R: Rng>(n: usize, batch_size: usize, rng: &mut R) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    idx.chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Fisher–Yates: a uniformly random permutation of `order` in place.
fn fisher_yates(order: &mut [usize], rng: &mut StdRng) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}

impl<L: BatchLoss + ?Sized> BatchLoss for &L {
    fn n_samples(&self) -> usize {
        (**self).n_samples()
    }
    fn n_params(&self) -> usize {
        (**self).n_params()
    }
    fn loss_and_gradient_on(&self, p: &[f64], idx: &[usize], g: &mut [f64]) -> Result<f64> {
        (**self).loss_and_gradient_on(p, idx, g)
    }
}
