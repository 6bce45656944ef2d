//! The trajectory runner: one optimizer walking a full-gradient objective, recorded.

use super::{Optimizer, Schedule};
use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient};

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All requested steps were taken.
    MaxSteps,
    /// The gradient norm fell to the tolerance.
    GradientTolerance,
    /// A parameter, the value or the gradient became non-finite.
    Diverged,
}

/// A recorded run.
///
/// Point `k` of `path` is the parameters after `k` steps (`path[0]` is the start); `values[k]`
/// and `gradient_norms[k]` belong to it; `learning_rates[k]` is the rate of the step from point
/// `k` to `k + 1`, so it has one entry fewer than `path`. Only finite points are recorded: a run
/// that diverges at step `k` ends with point `k - 1`.
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
    /// The learning rate of each step taken.
    pub learning_rates: Vec<f64>,
    /// Whether the run stopped on a non-finite parameter, value or gradient.
    pub diverged: bool,
    /// The step `k` (from 1) whose result was non-finite, when diverged: point `k` would have
    /// been the first non-finite one.
    pub diverged_at_step: Option<usize>,
    /// Why the run stopped.
    pub stop: StopReason,
}

impl Trajectory {
    /// The number of steps taken (`path.len() - 1`).
    pub fn steps(&self) -> usize {
        self.path.len() - 1
    }

    /// The last point.
    pub fn last(&self) -> &[f64] {
        self.path.last().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// What an observer sees at each recorded point.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo<'a> {
    /// The point's index `k` (0 for the start).
    pub k: usize,
    /// The parameters.
    pub params: &'a [f64],
    /// The loss.
    pub value: f64,
    /// The gradient.
    pub grad: &'a [f64],
}

/// Runs an [`Optimizer`] over a [`Gradient`] objective for a number of steps with a
/// [`Schedule`], recording the path, as argmin's `Executor` owns the loop and the stopping rules.
///
/// Each step evaluates the loss and gradient at the current point (one `loss_and_gradient`),
/// then calls [`Optimizer::step`] with the rate `schedule.lr(k)`. The run stops after `steps`
/// steps, when the gradient norm at a point is at most the tolerance (if one is set), or at the
/// first non-finite parameter, value or gradient (divergence: reported, not an error).
///
/// # Requirements
/// The objective must implement [`Gradient`].
///
/// Cost: `steps + 1` gradient evaluations and O(steps · n) memory for the path.
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
    schedule: Schedule,
    steps: usize,
    grad_tol: Option<f64>,
}

impl Runner {
    /// `steps` steps with the rates of `schedule`.
    pub fn new(schedule: Schedule, steps: usize) -> Self {
        Runner {
            schedule,
            steps,
            grad_tol: None,
        }
    }

    /// Also stop at the first point whose gradient norm is at most `tol`.
    ///
    /// # Errors
    /// `tol` negative or not finite.
    pub fn with_grad_tol(mut self, tol: f64) -> Result<Self> {
        self.grad_tol = Some(super::check::non_negative("gradient tolerance", tol)?);
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
        self.run_observed(obj, opt, start, |_| {})
    }

    /// As [`Runner::run`], calling `observer` at every recorded point (the start included).
    ///
    /// # Errors
    /// As [`Runner::run`].
    pub fn run_observed<G, F>(
        &self,
        obj: &G,
        opt: &mut dyn Optimizer,
        start: &[f64],
        mut observer: F,
    ) -> Result<Trajectory>
    where
        G: Gradient + ?Sized,
        F: FnMut(&StepInfo<'_>),
    {
        check_params(obj, start)?;
        opt.reset();
        let n = start.len();
        let mut params = start.to_vec();
        let mut grad = vec![0.0; n];
        let value = obj.loss_and_gradient(&params, &mut grad)?;
        crate::error::ensure_finite("value at the start", &[value])?;
        crate::error::ensure_finite("gradient at the start", &grad)?;
        let mut run = Trajectory {
            optimizer: opt.name().to_string(),
            path: vec![params.clone()],
            values: vec![value],
            gradient_norms: vec![norm(&grad)],
            learning_rates: Vec::new(),
            diverged: false,
            diverged_at_step: None,
            stop: StopReason::MaxSteps,
        };
        observer(&StepInfo {
            k: 0,
            params: &params,
            value,
            grad: &grad,
        });
        for k in 0..self.steps {
            if self
                .grad_tol
                .is_some_and(|tol| run.gradient_norms[k] <= tol)
            {
                run.stop = StopReason::GradientTolerance;
                return Ok(run);
            }
            let lr = self.schedule.lr(k as u64);
            opt.step(&mut params, &grad, lr)?;
            let value = if params.iter().all(|p| p.is_finite()) {
                match obj.loss_and_gradient(&params, &mut grad) {
                    Ok(v) if v.is_finite() && grad.iter().all(|g| g.is_finite()) => Some(v),
                    Ok(_) | Err(Error::NonFinite(_)) => None,
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            let Some(value) = value else {
                run.diverged = true;
                run.diverged_at_step = Some(k + 1);
                run.stop = StopReason::Diverged;
                return Ok(run);
            };
            run.learning_rates.push(lr);
            run.path.push(params.clone());
            run.values.push(value);
            run.gradient_norms.push(norm(&grad));
            observer(&StepInfo {
                k: k + 1,
                params: &params,
                value,
                grad: &grad,
            });
        }
        if self
            .grad_tol
            .is_some_and(|tol| run.gradient_norms[self.steps] <= tol)
        {
            run.stop = StopReason::GradientTolerance;
        }
        Ok(run)
    }
}

/// The Euclidean norm, scaled so that it does not overflow for large finite entries.
fn norm(v: &[f64]) -> f64 {
    let scale = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return scale;
    }
    scale * v.iter().map(|x| (x / scale).powi(2)).sum::<f64>().sqrt()
}
