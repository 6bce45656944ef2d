//! The second-order test: minimum, maximum, saddle, degenerate, or not critical.
//!
//! With eigenvalues `λ_1 ≤ … ≤ λ_n` an eigenvalue counts as zero when
//! `|λ| ≤ max(tol_eig · max|λ|, tol_eig_abs · max(1, |f|))`: relative to the spectrum (DESIGN.md),
//! with an absolute floor so that an all-zero Hessian estimated with rounding noise (the monkey
//! saddle by finite differences) is still recognised as zero. Then:
//! - any negative and any positive eigenvalue: [`CriticalKind::Saddle`] (even when zeros are
//!   present: a saddle is certain);
//! - all positive: [`CriticalKind::Minimum`]; all negative: [`CriticalKind::Maximum`];
//! - otherwise (zeros without a sign pair): [`CriticalKind::Degenerate`], the test cannot decide;
//! - a gradient norm above `tol_grad`: [`CriticalKind::NotCritical`], whatever the spectrum.
//!
//! `index` is the number of negative eigenvalues; `minimum_ratio` is positive / all.
//!
//! Default tolerances ([`Tolerances::for_method`]):
//!
//! | method | `tol_grad` | `tol_eig` | `tol_eig_abs` | why |
//! |---|---|---|---|---|
//! | dual | 1e-6 | 1e-8 | 1e-12 | exact derivatives; only the eigensolver's rounding (~1e-15 relative) |
//! | fd | 1e-5 | 1e-6 | 1e-7 | central differences: gradient error ~1e-10, Hessian error ~1e-8 relative to f |

use crate::curvature::{symmetric_eigen, EigenBackend, Inertia, Spectrum};
use crate::derivatives::Method;
use crate::error::{Error, Result};
use crate::objective::{check_params, norm, Gradient, Hessian};

/// What the second-order test says about a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticalKind {
    /// Gradient zero, Hessian positive definite.
    Minimum,
    /// Gradient zero, Hessian negative definite.
    Maximum,
    /// Gradient zero, eigenvalues of both signs.
    Saddle,
    /// Gradient zero, zero eigenvalues and no sign pair: the test cannot decide.
    Degenerate,
    /// The gradient is not zero (within tolerance).
    NotCritical,
}

impl CriticalKind {
    /// The name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            CriticalKind::Minimum => "minimum",
            CriticalKind::Maximum => "maximum",
            CriticalKind::Saddle => "saddle",
            CriticalKind::Degenerate => "degenerate",
            CriticalKind::NotCritical => "not_critical",
        }
    }
}

impl std::fmt::Display for CriticalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Tolerances of the classifier (see the module docs for the defaults and why).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// A point is critical when `‖∇f‖ ≤ grad`.
    pub grad: f64,
    /// Relative zero threshold for eigenvalues.
    pub eig: f64,
    /// Absolute zero floor, scaled by `max(1, |f|)`.
    pub eig_abs: f64,
}

impl Tolerances {
    /// Defaults for exact (dual-number or backpropagated) derivatives.
    pub fn dual() -> Self {
        Tolerances {
            grad: 1e-6,
            eig: 1e-8,
            eig_abs: 1e-12,
        }
    }
    /// Defaults for finite differences.
    pub fn fd() -> Self {
        Tolerances {
            grad: 1e-5,
            eig: 1e-6,
            eig_abs: 1e-7,
        }
    }
    /// The defaults for a derivative method.
    pub fn for_method(method: Method) -> Self {
        match method {
            Method::Dual => Self::dual(),
            Method::FiniteDiff => Self::fd(),
        }
    }
    /// Overrides the gradient tolerance (`--tol-grad`).
    ///
    /// # Errors
    /// A negative or non-finite value.
    pub fn with_grad(mut self, tol: f64) -> Result<Self> {
        self.grad = check_tol("--tol-grad", tol)?;
        Ok(self)
    }
    /// Overrides the relative eigenvalue tolerance (`--tol-eig`).
    ///
    /// # Errors
    /// A negative or non-finite value.
    pub fn with_eig(mut self, tol: f64) -> Result<Self> {
        self.eig = check_tol("--tol-eig", tol)?;
        Ok(self)
    }
    /// The zero threshold for a spectrum whose largest magnitude is `max_abs` at value `f`.
    pub fn zero_threshold(&self, max_abs: f64, value: f64) -> f64 {
        (self.eig * max_abs).max(self.eig_abs * value.abs().max(1.0))
    }
}

fn check_tol(name: &str, tol: f64) -> Result<f64> {
    if tol.is_finite() && tol >= 0.0 {
        Ok(tol)
    } else {
        Err(Error::invalid(
            name,
            format!("a tolerance must be finite and non-negative, got {tol}"),
        ))
    }
}

/// The counts behind a classification.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Classification {
    /// The verdict.
    pub kind: CriticalKind,
    /// Number of negative eigenvalues.
    pub index: usize,
    /// Number of positive eigenvalues.
    pub positive: usize,
    /// Number of eigenvalues counted as zero.
    pub zero: usize,
    /// Positive eigenvalues / all eigenvalues.
    pub minimum_ratio: f64,
}

/// Classifies from a spectrum, a gradient norm and the value (for the absolute zero floor).
///
/// Costs nothing beyond the spectrum; never evaluates the loss.
///
/// # Example
/// ```
/// # use critpt::critical::{classify_spectrum, CriticalKind, Tolerances};
/// let c = classify_spectrum(&[-2.0, 10.0], 0.0, 0.0, &Tolerances::dual()); // 5x² − y² at 0
/// assert_eq!((c.kind, c.index, c.minimum_ratio), (CriticalKind::Saddle, 1, 0.5));
/// ```
pub fn classify_spectrum(
    eigenvalues: &[f64],
    gradient_norm: f64,
    value: f64,
    tol: &Tolerances,
) -> Classification {
    let max_abs = eigenvalues.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    let zero = tol.zero_threshold(max_abs, value);
    let index = eigenvalues.iter().filter(|&&l| l < -zero).count();
    let positive = eigenvalues.iter().filter(|&&l| l > zero).count();
    let n = eigenvalues.len();
    let zeros = n - index - positive;
    let kind = if gradient_norm > tol.grad || gradient_norm.is_nan() {
        CriticalKind::NotCritical
    } else if index > 0 && positive > 0 {
        CriticalKind::Saddle
    } else if zeros > 0 || n == 0 {
        CriticalKind::Degenerate
    } else if index == n {
        CriticalKind::Maximum
    } else {
        CriticalKind::Minimum
    };
    Classification {
        kind,
        index,
        positive,
        zero: zeros,
        minimum_ratio: if n == 0 {
            0.0
        } else {
            positive as f64 / n as f64
        },
    }
}

/// Classifies from the counts of negative, zero and positive eigenvalues alone (as
/// [`crate::curvature::inertia`] gives them at the zero threshold): the same rules and the same
/// result as [`classify_spectrum`] on a spectrum with those counts.
///
/// # Example
/// ```
/// # use critpt::critical::{classify_counts, CriticalKind, Tolerances};
/// # use critpt::curvature::Inertia;
/// let counts = Inertia { negative: 1, zero: 0, positive: 3 };
/// let c = classify_counts(counts, 0.0, &Tolerances::dual());
/// assert_eq!((c.kind, c.index, c.minimum_ratio), (CriticalKind::Saddle, 1, 0.75));
/// ```
pub fn classify_counts(counts: Inertia, gradient_norm: f64, tol: &Tolerances) -> Classification {
    let (index, zeros, positive) = (counts.negative, counts.zero, counts.positive);
    let n = counts.total();
    let kind = if gradient_norm > tol.grad || gradient_norm.is_nan() {
        CriticalKind::NotCritical
    } else if index > 0 && positive > 0 {
        CriticalKind::Saddle
    } else if zeros > 0 || n == 0 {
        CriticalKind::Degenerate
    } else if index == n {
        CriticalKind::Maximum
    } else {
        CriticalKind::Minimum
    };
    Classification {
        kind,
        index,
        positive,
        zero: zeros,
        minimum_ratio: if n == 0 {
            0.0
        } else {
            positive as f64 / n as f64
        },
    }
}

/// Everything the classifier knows about one point.
#[derive(Debug, Clone)]
pub struct CriticalPoint {
    /// The point.
    pub point: Vec<f64>,
    /// The loss there.
    pub value: f64,
    /// The gradient there.
    pub gradient: Vec<f64>,
    /// Its Euclidean norm.
    pub gradient_norm: f64,
    /// The Hessian's spectrum.
    pub spectrum: Spectrum,
    /// The verdict.
    pub kind: CriticalKind,
    /// Number of negative eigenvalues.
    pub index: usize,
    /// Positive eigenvalues / all.
    pub minimum_ratio: f64,
}

/// Gradient, Hessian, eigen-decomposition (faer) and verdict at `params`.
///
/// # Errors
/// A wrong point length, non-finite values, or a derivative that is not finite there.
pub fn classify_point<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
) -> Result<CriticalPoint> {
    classify_point_with(obj, params, tol, EigenBackend::default())
}

/// [`classify_point`] with a chosen eigen backend.
pub fn classify_point_with<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
    backend: EigenBackend,
) -> Result<CriticalPoint> {
    check_params(obj, params)?;
    let mut gradient = vec![0.0; params.len()];
    let value = obj.loss_and_gradient(params, &mut gradient)?;
    let h = obj.hessian(params)?;
    let spectrum = symmetric_eigen(&h, backend)?;
    let gradient_norm = norm(&gradient);
    let c = classify_spectrum(&spectrum.eigenvalues, gradient_norm, value, tol);
    Ok(CriticalPoint {
        point: params.to_vec(),
        value,
        gradient,
        gradient_norm,
        spectrum,
        kind: c.kind,
        index: c.index,
        minimum_ratio: c.minimum_ratio,
    })
}
