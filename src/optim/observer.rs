//! Observers of the optimization loop, as argmin's `Observe`: they see the state after every
//! update and at the end of every epoch, may fail (the run returns the error) and may stop the
//! run. Recording a trajectory, checkpoints, stopping rules and progress bars are observers.

use crate::error::Result;
use crate::objective::EvalCounts;

/// What an observer asks the loop to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObserverAction {
    /// Keep going.
    Continue,
    /// End the run now; the reason is reported as [`StopReason::Observer`](super::StopReason).
    Stop(String),
}

/// The state an observer sees after each update (and once at the start, update 0).
///
/// `source` is the gradient source itself, so an observer written for one source (a network's
/// training loss) can read what it holds (the running statistics of batch norm).
pub struct State<'a, S: ?Sized> {
    /// Updates made so far (0 at the start).
    pub update: usize,
    /// The epoch (from 0) the update belongs to.
    pub epoch: usize,
    /// The parameters after `update` updates.
    pub params: &'a [f64],
    /// The loss at `params` over all samples; only for full-batch runs, which evaluate each new
    /// point anyway (its gradient is the next update's).
    pub value: Option<f64>,
    /// The gradient at `params` (full-batch runs, with `value`).
    pub grad: Option<&'a [f64]>,
    /// The loss of this update's batch at the parameters before it (`None` at the start).
    pub batch_loss: Option<f64>,
    /// The samples of this update's batch (empty at the start).
    pub batch: &'a [usize],
    /// The learning rate of this update (`None` at the start).
    pub lr: Option<f64>,
    /// Evaluations made so far.
    pub counts: EvalCounts,
    /// The gradient source.
    pub source: &'a S,
}

/// The state an observer sees at the end of each epoch.
pub struct EpochState<'a, S: ?Sized> {
    /// Epochs finished (from 1).
    pub epoch: usize,
    /// Updates made so far.
    pub update: usize,
    /// The parameters at the end of the epoch.
    pub params: &'a [f64],
    /// The mean over samples of the epoch's batch losses (each sample at the parameters its
    /// batch saw), what a training loop prints and what `ReduceLROnPlateau` watches.
    pub mean_loss: f64,
    /// The source's evaluation at `params` (only when the runner evaluates every epoch).
    pub evaluation: Option<super::Evaluation>,
    /// The learning rate of the epoch's last update (the first update's when it had none).
    pub lr: f64,
    /// Evaluations made so far.
    pub counts: EvalCounts,
    /// The gradient source.
    pub source: &'a S,
}

/// Watches a run over the gradient source `S`.
pub trait Observer<S: ?Sized> {
    /// Called after every update and once at the start.
    ///
    /// # Errors
    /// Whatever the observer cannot do; the run ends with this error.
    fn observe(&mut self, state: &State<'_, S>) -> Result<ObserverAction>;

    /// Called at the end of every epoch (default: nothing).
    ///
    /// # Errors
    /// As [`Observer::observe`].
    fn observe_epoch(&mut self, _epoch: &EpochState<'_, S>) -> Result<ObserverAction> {
        Ok(ObserverAction::Continue)
    }
}

/// Passes every `k`-th update (and the start) on to the inner observer, as argmin's
/// `ObserverMode::Every(k)`; epochs are passed on unchanged.
#[derive(Debug, Clone)]
pub struct Every<O> {
    k: usize,
    inner: O,
}

impl<O> Every<O> {
    /// Every `k`-th update (`k = 0` is read as 1).
    pub fn new(k: usize, inner: O) -> Self {
        Every { k: k.max(1), inner }
    }

    /// The wrapped observer.
    pub fn into_inner(self) -> O {
        self.inner
    }
}

impl<S: ?Sized, O: Observer<S>> Observer<S> for Every<O> {
    fn observe(&mut self, state: &State<'_, S>) -> Result<ObserverAction> {
        if state.update.is_multiple_of(self.k) {
            self.inner.observe(state)
        } else {
            Ok(ObserverAction::Continue)
        }
    }
    fn observe_epoch(&mut self, epoch: &EpochState<'_, S>) -> Result<ObserverAction> {
        self.inner.observe_epoch(epoch)
    }
}

/// An observer from a closure over the per-update state.
pub struct OnUpdate<F>(pub F);

impl<S: ?Sized, F> Observer<S> for OnUpdate<F>
where
    F: FnMut(&State<'_, S>) -> Result<ObserverAction>,
{
    fn observe(&mut self, state: &State<'_, S>) -> Result<ObserverAction> {
        (self.0)(state)
    }
}

/// An observer from a closure over the end-of-epoch state.
pub struct OnEpoch<F>(pub F);

impl<S: ?Sized, F> Observer<S> for OnEpoch<F>
where
    F: FnMut(&EpochState<'_, S>) -> Result<ObserverAction>,
{
    fn observe(&mut self, _state: &State<'_, S>) -> Result<ObserverAction> {
        Ok(ObserverAction::Continue)
    }
    fn observe_epoch(&mut self, epoch: &EpochState<'_, S>) -> Result<ObserverAction> {
        (self.0)(epoch)
    }
}

/// One observer followed by a list of others (a runner's own recorder, then the caller's).
pub(crate) struct Chain<'r, 'o, A, S: ?Sized> {
    /// Called first.
    pub first: &'r mut A,
    /// Called after `first`, in order.
    pub rest: &'r mut [&'o mut dyn Observer<S>],
}

impl<A: Observer<S>, S: ?Sized> Observer<S> for Chain<'_, '_, A, S> {
    fn observe(&mut self, state: &State<'_, S>) -> Result<ObserverAction> {
        if let stop @ ObserverAction::Stop(_) = self.first.observe(state)? {
            return Ok(stop);
        }
        for o in self.rest.iter_mut() {
            if let stop @ ObserverAction::Stop(_) = o.observe(state)? {
                return Ok(stop);
            }
        }
        Ok(ObserverAction::Continue)
    }
    fn observe_epoch(&mut self, epoch: &EpochState<'_, S>) -> Result<ObserverAction> {
        if let stop @ ObserverAction::Stop(_) = self.first.observe_epoch(epoch)? {
            return Ok(stop);
        }
        for o in self.rest.iter_mut() {
            if let stop @ ObserverAction::Stop(_) = o.observe_epoch(epoch)? {
                return Ok(stop);
            }
        }
        Ok(ObserverAction::Continue)
    }
}
