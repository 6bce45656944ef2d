//! The one optimization loop, in argmin's `Executor` design: it owns the iteration, the
//! stopping rules and the divergence check; a [`GradientSource`] supplies losses and gradients,
//! an [`Optimizer`] updates, and [`Observer`]s watch (recording, checkpoints, progress) and may
//! stop the run. [`Runner`](super::Runner), [`MiniBatchRunner`](super::MiniBatchRunner) and
//! `nn::train` are configurations of it.

use super::observer::{EpochState, Observer, ObserverAction, State};
use super::source::{BatchPlan, Batching, GradientSource};
use super::{Optimizer, Plateau, Schedule};
use crate::error::{Error, Result};
use crate::objective::{norm, EvalCounts};
use std::sync::Arc;

/// The learning rate of each update: a [`Schedule`] or any function of the update index.
#[derive(Clone)]
pub enum Rates {
    /// A parsed schedule.
    Schedule(Schedule),
    /// `f(k)` for update `k` (from 0).
    Custom(Arc<dyn Fn(u64) -> f64 + Send + Sync>),
}

impl Rates {
    /// A constant rate.
    ///
    /// # Errors
    /// `lr` not positive and finite.
    pub fn constant(lr: f64) -> Result<Self> {
        Ok(Rates::Schedule(Schedule::constant(lr)?))
    }

    /// Rates from a function of the update index.
    pub fn custom(f: impl Fn(u64) -> f64 + Send + Sync + 'static) -> Self {
        Rates::Custom(Arc::new(f))
    }

    /// The rate of update `k`.
    pub fn lr(&self, k: u64) -> f64 {
        match self {
            Rates::Schedule(s) => s.lr(k),
            Rates::Custom(f) => f(k),
        }
    }
}

impl From<Schedule> for Rates {
    fn from(s: Schedule) -> Self {
        Rates::Schedule(s)
    }
}

impl std::fmt::Debug for Rates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rates::Schedule(s) => f.debug_tuple("Schedule").field(s).finish(),
            Rates::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All requested steps (epochs) were taken.
    MaxSteps,
    /// The gradient norm fell to the tolerance.
    GradientTolerance,
    /// A parameter, the loss or the gradient became non-finite.
    Diverged,
    /// An observer stopped the run, for this reason.
    Observer(String),
}

/// Where and how a run diverged.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Divergence {
    /// The number of updates made when the first non-finite quantity appeared: point `step`
    /// (the parameters after `step` updates, or their loss or gradient) is not finite.
    pub step: usize,
    /// What was not finite: `"loss"`, `"gradient"` or `"parameter"`.
    pub quantity: &'static str,
    /// The first non-finite value.
    pub value: f64,
}

impl Divergence {
    /// The error a caller that treats divergence as failure returns.
    pub fn to_error(&self) -> Error {
        Error::NonFinite(format!(
            "training diverged at step {} ({} {}); lower the learning rate",
            self.step, self.quantity, self.value
        ))
    }
}

/// The report of an [`Executor`] run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Run {
    /// The optimizer's name.
    pub optimizer: String,
    /// The parameters at the end (non-finite entries possible when the run diverged).
    pub params: Vec<f64>,
    /// Updates made.
    pub updates: usize,
    /// Epochs finished.
    pub epochs: usize,
    /// The loss of each update's batch, at the parameters before the update.
    pub batch_losses: Vec<f64>,
    /// The learning rate of each update.
    pub learning_rates: Vec<f64>,
    /// Per finished epoch, the mean over samples of its batch losses.
    pub epoch_losses: Vec<f64>,
    /// Why the run stopped.
    pub stop: StopReason,
    /// Where it diverged, if it did (reported, not an error; see [`Run::check_diverged`]).
    pub divergence: Option<Divergence>,
    /// Evaluations made (losses and gradients of the source).
    pub counts: EvalCounts,
}

impl Run {
    /// The run itself, or the divergence as an error for callers that cannot use a diverged
    /// run.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the step and the value.
    pub fn check_diverged(self) -> Result<Self> {
        match self.divergence {
            Some(d) => Err(d.to_error()),
            None => Ok(self),
        }
    }
}

/// Runs an [`Optimizer`] over a [`GradientSource`] in epochs of batches.
///
/// Each update evaluates the loss and gradient of its batch at the current parameters (with
/// [`Batching::Full`], the evaluation of the previous point), optionally clips the gradient's
/// norm, and steps with the rate `rates.lr(k)` of update `k` (or of the epoch, with
/// [`Executor::with_schedule_per_epoch`]) times the plateau factor. After every epoch the
/// epoch's mean batch loss feeds the plateau rule and, optionally, the source evaluates all
/// samples. The run stops after its epochs, at the gradient tolerance, when an observer asks, or
/// at the first non-finite loss, gradient or parameter (reported as a [`Divergence`]).
///
/// Cost: one source evaluation per update (plus one at the start for [`Batching::Full`]), one
/// more per epoch with [`Executor::with_evaluation`].
///
/// # Example
/// ```
/// # use critpt::expr::Formula;
/// # use critpt::optim::{Batching, Executor, FullBatch, Rates, Sgd};
/// let f = Formula::parse("x^2 + 10*y^2").unwrap();
/// let run = Executor::new(Rates::constant(0.05).unwrap(), Batching::Full, 200)
///     .run(&mut FullBatch::new(&f), &mut Sgd::new(), &[1.0, 1.0], &mut [])
///     .unwrap();
/// assert_eq!(run.updates, 200);
/// assert_eq!(run.counts.gradients, 201);
/// assert!(run.params[0].abs() < 1e-8);
/// ```
#[derive(Debug, Clone)]
pub struct Executor {
    rates: Rates,
    batching: Batching,
    epochs: usize,
    grad_tol: Option<f64>,
    clip_grad_norm: Option<f64>,
    plateau: Option<Plateau>,
    per_epoch: bool,
    evaluate: bool,
}

impl Executor {
    /// The number of epochs (steps, with [`Batching::Full`]).
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// `epochs` epochs of `batching` with the rates `rates` (with [`Batching::Full`] an epoch
    /// is one step).
    pub fn new(rates: impl Into<Rates>, batching: Batching, epochs: usize) -> Self {
        Executor {
            rates: rates.into(),
            batching,
            epochs,
            grad_tol: None,
            clip_grad_norm: None,
            plateau: None,
            per_epoch: false,
            evaluate: false,
        }
    }

    /// Also stop once the gradient an update would use has norm at most `tol`.
    ///
    /// # Errors
    /// `tol` negative or not finite.
    pub fn with_grad_tol(mut self, tol: f64) -> Result<Self> {
        self.grad_tol = Some(super::check::non_negative("gradient tolerance", tol)?);
        Ok(self)
    }

    /// Scales each gradient as `torch.nn.utils.clip_grad_norm_(max_norm)` does after the
    /// backward pass: by `max_norm / (‖g‖ + 1e-6)` when that is below 1.
    ///
    /// # Errors
    /// `max_norm` not positive and finite.
    pub fn with_clip_grad_norm(mut self, max_norm: f64) -> Result<Self> {
        self.clip_grad_norm = Some(super::check::positive("gradient clipping norm", max_norm)?);
        Ok(self)
    }

    /// Applies `ReduceLROnPlateau` to the epoch's mean batch loss after every epoch.
    pub fn with_plateau(mut self, plateau: Plateau) -> Self {
        self.plateau = Some(plateau);
        self
    }

    /// Whether the rate is `rates.lr(epoch)` (a figure that steps its scheduler per epoch)
    /// instead of `rates.lr(update)`.
    pub fn with_schedule_per_epoch(mut self, per_epoch: bool) -> Self {
        self.per_epoch = per_epoch;
        self
    }

    /// Whether the source evaluates all samples at the end of every epoch.
    pub fn with_evaluation(mut self, evaluate: bool) -> Self {
        self.evaluate = evaluate;
        self
    }

    /// Runs from `start` (the optimizer is reset first), calling every observer in order.
    ///
    /// # Errors
    /// A zero batch size, a source without samples, a start of the wrong length or not finite,
    /// a full-batch start whose loss or gradient is not finite, an error of the source other
    /// than [`Error::NonFinite`] (divergence), the optimizer's and the observers' errors.
    pub fn run<S: GradientSource + ?Sized>(
        &self,
        source: &mut S,
        opt: &mut dyn Optimizer,
        start: &[f64],
        observers: &mut [&mut dyn Observer<S>],
    ) -> Result<Run> {
        self.batching.check()?;
        let n_samples = source.n_samples();
        if n_samples == 0 {
            return Err(Error::invalid("data", "has no samples"));
        }
        if start.len() != source.n_params() {
            return Err(Error::dim("start", source.n_params(), start.len()));
        }
        crate::error::ensure_finite("start", start)?;
        opt.reset();
        let lookahead = matches!(self.batching, Batching::Full);
        let mut plan = BatchPlan::new(&self.batching, n_samples);
        let mut plateau = self.plateau;
        let mut params = start.to_vec();
        let mut grad = vec![0.0; params.len()];
        let mut run = Run {
            optimizer: opt.name().to_string(),
            params: Vec::new(),
            updates: 0,
            epochs: 0,
            batch_losses: Vec::new(),
            learning_rates: Vec::new(),
            epoch_losses: Vec::new(),
            stop: StopReason::MaxSteps,
            divergence: None,
            counts: EvalCounts::default(),
        };
        let all: Vec<usize> = (0..n_samples).collect();
        let mut value = None;
        if lookahead {
            let v = source.loss_and_gradient_on(&params, &all, &mut grad)?;
            crate::error::ensure_finite("value at the start", &[v])?;
            crate::error::ensure_finite("gradient at the start", &grad)?;
            value = Some(v);
        }
        let state = State {
            update: 0,
            epoch: 0,
            params: &params,
            value,
            grad: value.map(|_| grad.as_slice()),
            batch_loss: None,
            batch: &[],
            lr: None,
            counts: source.counts(),
            source: &*source,
        };
        if let Some(stop) = notify(observers, &state)? {
            return Ok(finish(run, stop, params, &*source));
        }
        if lookahead && self.below_tol(&grad) {
            return Ok(finish(run, StopReason::GradientTolerance, params, &*source));
        }
        let mut last_lr = self.rates.lr(0) * plateau.as_ref().map_or(1.0, Plateau::scale);
        for epoch in 0..self.epochs {
            let (mut weighted, mut seen) = (0.0, 0usize);
            for batch in plan.epoch(epoch) {
                if !source.accepts(batch.len()) {
                    continue;
                }
                let loss = match value {
                    Some(v) if lookahead => v,
                    _ => match evaluate(source, &params, &batch, &mut grad)? {
                        Ok(v) => v,
                        Err(d) => return Ok(diverged(run, d, params, &*source)),
                    },
                };
                if !lookahead && self.below_tol(&grad) {
                    return Ok(finish(run, StopReason::GradientTolerance, params, &*source));
                }
                if let Some(c) = self.clip_grad_norm {
                    clip_grad_norm(&mut grad, c);
                }
                let k = if self.per_epoch { epoch } else { run.updates };
                let lr = self.rates.lr(k as u64) * plateau.as_ref().map_or(1.0, Plateau::scale);
                opt.step(&mut params, &grad, lr)?;
                run.updates += 1;
                run.batch_losses.push(loss);
                run.learning_rates.push(lr);
                last_lr = lr;
                weighted += loss * batch.len() as f64;
                seen += batch.len();
                if let Some(&p) = params.iter().find(|p| !p.is_finite()) {
                    let d = Divergence {
                        step: run.updates,
                        quantity: "parameter",
                        value: p,
                    };
                    return Ok(diverged(run, d, params, &*source));
                }
                if lookahead {
                    match evaluate(source, &params, &all, &mut grad)? {
                        Ok(v) => value = Some(v),
                        Err(mut d) => {
                            d.step = run.updates;
                            return Ok(diverged(run, d, params, &*source));
                        }
                    }
                }
                let state = State {
                    update: run.updates,
                    epoch,
                    params: &params,
                    value: value.filter(|_| lookahead),
                    grad: lookahead.then_some(grad.as_slice()),
                    batch_loss: Some(loss),
                    batch: &batch,
                    lr: Some(lr),
                    counts: source.counts(),
                    source: &*source,
                };
                if let Some(stop) = notify(observers, &state)? {
                    return Ok(finish(run, stop, params, &*source));
                }
                if lookahead && self.below_tol(&grad) {
                    return Ok(finish(run, StopReason::GradientTolerance, params, &*source));
                }
            }
            let mean_loss = weighted / seen.max(1) as f64;
            run.epoch_losses.push(mean_loss);
            run.epochs += 1;
            let evaluation = if self.evaluate {
                match source.evaluate(&params) {
                    Ok(e) if e.loss.is_finite() => Some(e),
                    Ok(e) => {
                        let d = Divergence {
                            step: run.updates,
                            quantity: "loss",
                            value: e.loss,
                        };
                        return Ok(diverged(run, d, params, &*source));
                    }
                    Err(Error::NonFinite(_)) => {
                        let d = Divergence {
                            step: run.updates,
                            quantity: "gradient",
                            value: f64::NAN,
                        };
                        return Ok(diverged(run, d, params, &*source));
                    }
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            if let Some(p) = plateau.as_mut() {
                p.step(mean_loss, last_lr);
            }
            let state = EpochState {
                epoch: run.epochs,
                update: run.updates,
                params: &params,
                mean_loss,
                evaluation,
                lr: last_lr,
                counts: source.counts(),
                source: &*source,
            };
            for o in observers.iter_mut() {
                if let ObserverAction::Stop(why) = o.observe_epoch(&state)? {
                    return Ok(finish(run, StopReason::Observer(why), params, &*source));
                }
            }
        }
        Ok(finish(run, StopReason::MaxSteps, params, &*source))
    }

    /// Whether the gradient is within the tolerance.
    fn below_tol(&self, grad: &[f64]) -> bool {
        self.grad_tol.is_some_and(|tol| norm(grad) <= tol)
    }
}

/// Calls the observers in order; the first stop wins.
fn notify<S: ?Sized>(
    observers: &mut [&mut dyn Observer<S>],
    state: &State<'_, S>,
) -> Result<Option<StopReason>> {
    for o in observers.iter_mut() {
        if let ObserverAction::Stop(why) = o.observe(state)? {
            return Ok(Some(StopReason::Observer(why)));
        }
    }
    Ok(None)
}

/// One evaluation: `Ok(Ok(loss))`, `Ok(Err(divergence))` for a non-finite loss or gradient
/// (the step is filled in by the caller when it differs from 0), or the source's other errors.
fn evaluate<S: GradientSource + ?Sized>(
    source: &mut S,
    params: &[f64],
    batch: &[usize],
    grad: &mut [f64],
) -> Result<std::result::Result<f64, Divergence>> {
    let d = |quantity, value| Divergence {
        step: 0,
        quantity,
        value,
    };
    match source.loss_and_gradient_on(params, batch, grad) {
        Ok(v) if !v.is_finite() => Ok(Err(d("loss", v))),
        Ok(v) => match grad.iter().find(|g| !g.is_finite()) {
            Some(&g) => Ok(Err(d("gradient", g))),
            None => Ok(Ok(v)),
        },
        Err(Error::NonFinite(_)) => Ok(Err(d("loss", f64::NAN))),
        Err(e) => Err(e),
    }
}

/// The finished report.
fn finish<S: GradientSource + ?Sized>(
    mut run: Run,
    stop: StopReason,
    params: Vec<f64>,
    source: &S,
) -> Run {
    run.stop = stop;
    run.params = params;
    run.counts = source.counts();
    run
}

/// The report of a diverged run; a divergence found before an update belongs to the current
/// point.
fn diverged<S: GradientSource + ?Sized>(
    mut run: Run,
    mut d: Divergence,
    params: Vec<f64>,
    source: &S,
) -> Run {
    if d.step == 0 {
        d.step = run.updates;
    }
    run.divergence = Some(d);
    finish(run, StopReason::Diverged, params, source)
}

/// `torch.nn.utils.clip_grad_norm_`: scales `grad` by `max_norm / (‖grad‖ + 1e-6)` when that
/// is below 1.
pub fn clip_grad_norm(grad: &mut [f64], max_norm: f64) {
    let total = norm(grad);
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for g in grad.iter_mut() {
            *g *= coef;
        }
    }
}
