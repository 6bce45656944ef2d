//! Escape a saddle along its most negative curvature.
//!
//! At a point with Hessian eigenpair `(λ, u)`, `λ < 0`, the loss along `u` is
//! `f(θ + αu) = f(θ) + α gᵀu + ½λα² + O(α³)`: going along `u` lowers it even where the gradient
//! vanishes. The direction is signed so that `gᵀu ≤ 0` (never uphill); the step comes from a
//! line search that accepts only a real decrease: it starts from `α₀` (`--step`, default 1),
//! halves until the loss drops, and, when `α₀` was not fixed by the user, doubles while the loss
//! keeps dropping. The second-order prediction `½λα²` is reported beside the actual change.
//!
//! # Warnings
//! The step is still taken, and [`EscapeStep::warnings`] says what it means (the CLI prints each
//! on stderr):
//! - at a point that is not critical (`‖∇f‖ > tol_grad`) the step is a descent along negative
//!   curvature, not an escape from a saddle;
//! - when the loss still falls after all [`MAX_DOUBLINGS`] doublings of the step, the loss looks
//!   unbounded below along the direction (`x² − y²` along `y`): the step length and the value
//!   reached say nothing about a neighbouring basin.
//!
//! The zero threshold deciding whether the smallest eigenvalue is negative is the classifier's
//! ([`crate::critical::CriticalPoint::zero_threshold`]).

use crate::critical::classify::Tolerances;
use crate::critical::verdict::smallest_curvature;
use crate::error::{Error, Result};
use crate::objective::{Gradient, Hessian};

/// How many times the line search doubles a step that keeps lowering the loss.
pub const MAX_DOUBLINGS: usize = 30;

/// Line-search settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EscapeOptions {
    /// The first trial step `α₀`.
    pub initial_step: f64,
    /// Whether to double `α` while the loss keeps decreasing (off when the user fixed the step).
    pub expand: bool,
    /// Maximal number of halvings before giving up.
    pub max_halvings: usize,
}

impl Default for EscapeOptions {
    fn default() -> Self {
        EscapeOptions {
            initial_step: 1.0,
            expand: true,
            max_halvings: 60,
        }
    }
}

impl EscapeOptions {
    /// A user-fixed first step (`--step`): no expansion.
    ///
    /// # Errors
    /// A step that is not positive and finite.
    pub fn with_step(step: f64) -> Result<Self> {
        if !(step.is_finite() && step > 0.0) {
            return Err(Error::invalid(
                "escape step",
                format!("the step must be positive and finite, got {step}"),
            ));
        }
        Ok(EscapeOptions {
            initial_step: step,
            expand: false,
            ..Self::default()
        })
    }
}

/// One escape step and what it achieved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EscapeStep {
    /// Starting point.
    pub from: Vec<f64>,
    /// Loss at the start.
    pub value_before: f64,
    /// Gradient norm at the start.
    pub gradient_norm: f64,
    /// The most negative eigenvalue.
    pub eigenvalue: f64,
    /// Its unit eigenvector, signed not to point uphill.
    pub direction: Vec<f64>,
    /// The accepted step length `α`.
    pub step: f64,
    /// `from + α · direction`.
    pub to: Vec<f64>,
    /// Loss after the step (strictly below `value_before`).
    pub value_after: f64,
    /// `½ λ α²`.
    pub predicted_change: f64,
    /// Loss evaluations made by the line search.
    pub line_search_evals: usize,
    /// What the step does not mean (not a critical point, unbounded direction); see the module
    /// docs.
    pub warnings: Vec<String>,
}

/// Takes one step along the most negative curvature direction at `params` (only that
/// eigenpair is computed: [`smallest_curvature`]).
///
/// # Errors
/// [`Error::NoNegativeCurvature`] when the smallest eigenvalue is not negative beyond the
/// tolerance; [`Error::NoConvergence`] when no step lowers the loss (rounding at a very flat
/// point); bad points as in [`crate::critical::classify_point`].
///
/// # Example
/// ```
/// # use critpt::{expr::Formula, critical::{escape_saddle, EscapeOptions, Tolerances}};
/// let f = Formula::parse("(1 - w1*w2)^2").unwrap();
/// let s = escape_saddle(&f, &[0.0, 0.0], &Tolerances::dual(), &EscapeOptions::default()).unwrap();
/// assert!(s.value_after < s.value_before);
/// assert!((s.eigenvalue + 2.0).abs() < 1e-12);
/// ```
pub fn escape_saddle<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
    opts: &EscapeOptions,
) -> Result<EscapeStep> {
    let cp = smallest_curvature(obj, params, tol)?;
    let lambda = cp.eigenvalue;
    let zero = cp.zero_threshold;
    if lambda >= -zero {
        return Err(Error::NoNegativeCurvature { smallest: lambda });
    }
    let mut u = cp.eigenvector;
    let slope: f64 = u.iter().zip(&cp.gradient).map(|(a, b)| a * b).sum();
    if slope > 0.0 {
        u.iter_mut().for_each(|x| *x = -*x);
    }
    let at =
        |alpha: f64| -> Vec<f64> { params.iter().zip(&u).map(|(p, d)| p + alpha * d).collect() };
    let mut evals = 0usize;
    // A trial that leaves the domain (non-finite) counts as no decrease.
    let mut trial = |alpha: f64| -> f64 {
        evals += 1;
        obj.loss(&at(alpha)).unwrap_or(f64::INFINITY)
    };
    let f0 = cp.value;
    let mut alpha = opts.initial_step;
    let mut f = trial(alpha);
    let mut halvings = 0;
    while f >= f0 {
        if halvings == opts.max_halvings {
            return Err(Error::NoConvergence {
                method: "escape line search (no step along the negative-curvature direction lowered the loss)"
                    .into(),
                iters: halvings,
                residual: lambda,
            });
        }
        alpha *= 0.5;
        halvings += 1;
        f = trial(alpha);
    }
    let mut doublings = 0;
    if opts.expand && halvings == 0 {
        while doublings < MAX_DOUBLINGS {
            let f2 = trial(2.0 * alpha);
            if f2 < f {
                alpha *= 2.0;
                f = f2;
                doublings += 1;
            } else {
                break;
            }
        }
    }
    let mut warnings = Vec::new();
    if cp.gradient_norm > tol.grad {
        warnings.push(format!(
            "the gradient norm {:.3e} exceeds the tolerance {:.1e}: this is not a critical point, so the step is a descent along negative curvature, not an escape from a saddle",
            cp.gradient_norm, tol.grad
        ));
    }
    if doublings == MAX_DOUBLINGS {
        warnings.push(format!(
            "the loss kept falling through all {MAX_DOUBLINGS} doublings of the step (step {alpha:e}, value {f:e}): it looks unbounded below along this direction"
        ));
    }
    Ok(EscapeStep {
        from: params.to_vec(),
        value_before: f0,
        gradient_norm: cp.gradient_norm,
        eigenvalue: lambda,
        to: at(alpha),
        direction: u,
        step: alpha,
        value_after: f,
        predicted_change: 0.5 * lambda * alpha * alpha,
        line_search_evals: evals,
        warnings,
    })
}
