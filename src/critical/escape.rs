//! Escape a saddle along its most negative curvature.
//!
//! At a point with Hessian eigenpair `(λ, u)`, `λ < 0`, the loss along `u` is
//! `f(θ + αu) = f(θ) + α gᵀu + ½λα² + O(α³)`: going along `u` lowers it even where the gradient
//! vanishes. The direction is signed so that `gᵀu ≤ 0` (never uphill); the step comes from a
//! line search that accepts only a real decrease: it starts from `α₀` (`--step`, default 1),
//! halves until the loss drops, and, when `α₀` was not fixed by the user, doubles while the loss
//! keeps dropping. The second-order prediction `½λα²` is reported beside the actual change.

use crate::critical::classify::Tolerances;
use crate::curvature::{extreme_eigenpairs, symmetric_eigen, EigenBackend};
use crate::error::{Error, Result};
use crate::objective::{check_params, norm, Gradient, Hessian};

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
                "--step",
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
}

/// Takes one step along the most negative curvature direction at `params`.
///
/// Only the extreme eigenpairs of the Hessian are computed
/// ([`crate::curvature::extreme_eigenpairs`], relative residual `1e-10`); when they do not
/// converge, the full eigen-decomposition decides.
///
/// # Errors
/// [`Error::NoNegativeCurvature`] when the smallest eigenvalue is not negative beyond the
/// tolerance; [`Error::NoConvergence`] when no step lowers the loss (rounding at a very flat
/// point); bad points as in [`classify_point`](crate::critical::classify_point).
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
    check_params(obj, params)?;
    let mut gradient = vec![0.0; params.len()];
    let f0 = obj.loss_and_gradient(params, &mut gradient)?;
    let gradient_norm = norm(&gradient);
    let (lambda, mut u, max_abs) = smallest_eigenpair(obj, params)?;
    let zero = tol.zero_threshold(max_abs, f0);
    if lambda >= -zero {
        return Err(Error::NoNegativeCurvature { smallest: lambda });
    }
    let slope: f64 = u.iter().zip(&gradient).map(|(a, b)| a * b).sum();
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
    if opts.expand && halvings == 0 {
        for _ in 0..30 {
            let f2 = trial(2.0 * alpha);
            if f2 < f {
                alpha *= 2.0;
                f = f2;
            } else {
                break;
            }
        }
    }
    Ok(EscapeStep {
        from: params.to_vec(),
        value_before: f0,
        gradient_norm,
        eigenvalue: lambda,
        to: at(alpha),
        direction: u,
        step: alpha,
        value_after: f,
        predicted_change: 0.5 * lambda * alpha * alpha,
        line_search_evals: evals,
    })
}

/// The smallest eigenpair of the Hessian at `params` and the largest eigenvalue magnitude (the
/// zero threshold's scale): the extreme pairs only, the full decomposition when they do not
/// converge.
fn smallest_eigenpair<O: Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
) -> Result<(f64, Vec<f64>, f64)> {
    let h = obj.hessian(params)?;
    if h.nrows() == 0 {
        return Ok((0.0, vec![], 0.0));
    }
    let e = extreme_eigenpairs(&h, 1e-10, 0)?;
    if e.converged {
        let max_abs = e.max_abs();
        return Ok((e.smallest.value, e.smallest.vector, max_abs));
    }
    let s = symmetric_eigen(&h, EigenBackend::default())?;
    Ok((s.eigenvalues[0], s.eigenvector(0), s.max_abs()))
}
