//! The second-order test: minimum, maximum, saddle, degenerate, or not critical.
//!
//! # The zero threshold
//! With eigenvalues `λ_1 ≤ … ≤ λ_n` an eigenvalue counts as zero when `|λ| ≤ τ`, where
//!
//! `τ = max( max(tol_eig, 64ε) · max|λ|,  tol_eig_abs · |f|,  eig_floor,  3 · ‖H(θ + s) − H(θ)‖_F )`.
//!
//! With exact derivatives every term comes from the data, none from the number 1
//! (`eig_floor = 0`), so multiplying the function by a positive constant never changes a verdict
//! (`1e-13·(x² + y²)` is a minimum at the origin):
//! - **relative to the spectrum**: `tol_eig · max|λ|`, never below `64ε · max|λ|`,
//!   the rounding of a symmetric eigensolver (a few `ε‖H‖`), so `--tol-eig 0` still ignores
//!   rounding;
//! - **the value scale as computed**: `tol_eig_abs · |f|`, the rounding level of Hessian entries
//!   assembled from terms the size of `f` (for finite differences, `ε|f|/h²` with the steps of
//!   [`crate::derivatives::FiniteDiff`]). An all-zero Hessian (the monkey saddle at the origin)
//!   has `max|λ| = 0`, and `|λ| ≤ τ` still calls its exact zeros zero;
//! - **the location of the critical point**: at a point `θ` whose gradient is small but not zero
//!   (a point a search converged to), the critical point it stands for lies about a Newton step
//!   `s = −H⁺∇f` away (`H⁺` the pseudo-inverse over the eigenvalues above the first two terms),
//!   and the spectrum there differs from the one at `θ` by up to `‖H(θ*) − H(θ)‖` (Weyl). One more
//!   Hessian at `θ + s` measures that change; the factor 3 covers the slow (linear) convergence
//!   towards a degenerate point, where the remaining distance is up to about 2.7 Newton steps
//!   (for a gradient that is homogeneous of degree `k`, Newton shrinks the distance by
//!   `1 − 1/k` per step, and the eigenvalues change by at least 63 % of themselves on the way
//!   to the critical point). Near the monkey saddle `x³ − 3xy²` at `θ = (r, 0)` the spectrum is
//!   `±6r`, `s = (−r/2, 0)` and `‖ΔH‖_F = 3√2·r`, so `τ ≥ 12.7r` and the verdict is
//!   `degenerate`, as at the origin; at a non-degenerate point `‖ΔH‖ ≈ ‖∇³f‖·‖s‖` is
//!   negligible. The term is computed only where `∇f ≠ 0` and `‖∇f‖ ≤ tol_grad`, and only when
//!   [`Tolerances::location`] is set (the defaults); [`classify_spectrum`] alone cannot know it.
//!
//! - **the resolution of finite differences** (`eig_floor`, finite differences only): the steps of
//!   [`crate::derivatives::FiniteDiff`] are `h = 1.2e-4 · max(1, |θ_i|)`, so its Hessian carries a
//!   truncation error `h²·∂⁴f/12` of about `1e-8` per unit fourth derivative even where `f`
//!   vanishes: `x⁴ + y⁴` at the origin comes out as `2h²·I`. Eigenvalues below `1e-7` cannot be
//!   told from zero by that method; the unit scale is the step rule's, not the classifier's.
//!
//! [`CriticalPoint::zero_threshold`] records `τ`; `find`, `classify` and `escape` use this one
//! rule through [`classify_point`], so they agree at any point.
//!
//! # The verdict
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
//! | method | `tol_grad` | `tol_eig` | `tol_eig_abs` | `eig_floor` | why |
//! |---|---|---|---|---|---|
//! | dual | 1e-6 | 1e-8 | 1e-14 | 0 | exact derivatives; only rounding, a few ε relative to the terms |
//! | fd | 1e-5 | 1e-6 | 1e-7 | 1e-7 | central differences: gradient error ~1e-10, Hessian rounding `ε\|f\|/h² ≈ 1.5e-8·\|f\|`, truncation ~1e-8 |

use crate::curvature::{symmetric_eigen, EigenBackend, Inertia, Spectrum};
use crate::derivatives::Method;
use crate::error::{Error, Result};
use crate::objective::{check_params, norm, Gradient, Hessian};
use nalgebra::DMatrix;

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
    /// Relative zero threshold for eigenvalues (times `max|λ|`).
    pub eig: f64,
    /// Zero floor relative to the value: `eig_abs · |f|` (the rounding level of the entries).
    pub eig_abs: f64,
    /// Absolute zero floor: the resolution of the derivative method (0 for exact derivatives).
    pub eig_floor: f64,
    /// Whether [`classify_point`] widens the threshold by how much the Hessian changes between a
    /// point with a small non-zero gradient and the critical point it approximates (one more
    /// Hessian; see the module docs). On by default.
    pub location: bool,
}

impl Tolerances {
    /// Defaults for exact (dual-number or backpropagated) derivatives.
    pub fn dual() -> Self {
        Tolerances {
            grad: 1e-6,
            eig: 1e-8,
            eig_abs: 1e-14,
            eig_floor: 0.0,
            location: true,
        }
    }
    /// Defaults for finite differences.
    pub fn fd() -> Self {
        Tolerances {
            grad: 1e-5,
            eig: 1e-6,
            eig_abs: 1e-7,
            eig_floor: 1e-7,
            location: true,
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
        self.grad = check_tol("gradient-norm tolerance", tol)?;
        Ok(self)
    }
    /// Overrides the relative eigenvalue tolerance (`--tol-eig`).
    ///
    /// # Errors
    /// A negative or non-finite value.
    pub fn with_eig(mut self, tol: f64) -> Result<Self> {
        self.eig = check_tol("eigenvalue tolerance", tol)?;
        Ok(self)
    }
    /// The zero threshold for a spectrum whose largest magnitude is `max_abs` at value `value`,
    /// without the location term (see the module docs): scale-free for exact derivatives.
    pub fn zero_threshold(&self, max_abs: f64, value: f64) -> f64 {
        (self.eig.max(EIGEN_ROUNDING) * max_abs)
            .max(self.eig_abs * value.abs())
            .max(self.eig_floor)
    }
}

/// The relative rounding of a symmetric eigensolver, `64ε`: the least relative threshold.
pub const EIGEN_ROUNDING: f64 = 64.0 * f64::EPSILON;

/// How many Newton steps' worth of Hessian change the location term allows (module docs).
const LOCATION_FACTOR: f64 = 3.0;

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
    classify_with_threshold(
        eigenvalues,
        gradient_norm,
        tol.zero_threshold(max_abs, value),
        tol,
    )
}

/// Classifies from a spectrum and a gradient norm with a given zero threshold `zero` (for
/// callers that widened [`Tolerances::zero_threshold`], as [`classify_point`] does).
pub fn classify_with_threshold(
    eigenvalues: &[f64],
    gradient_norm: f64,
    zero: f64,
    tol: &Tolerances,
) -> Classification {
    let negative = eigenvalues.iter().filter(|&&l| l < -zero).count();
    let positive = eigenvalues.iter().filter(|&&l| l > zero).count();
    let counts = Inertia {
        negative,
        zero: eigenvalues.len() - negative - positive,
        positive,
    };
    classify_counts(counts, gradient_norm, tol)
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
    /// The zero threshold `τ` the verdict used (module docs), location term included.
    pub zero_threshold: f64,
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
    let mut zero = tol.zero_threshold(spectrum.max_abs(), value);
    if location_applies(tol, &gradient, gradient_norm) {
        zero = location_threshold(obj, params, &gradient, &h, &spectrum, zero)?;
    }
    let c = classify_with_threshold(spectrum.eigenvalues(), gradient_norm, zero, tol);
    Ok(CriticalPoint {
        point: params.to_vec(),
        value,
        gradient,
        gradient_norm,
        spectrum,
        kind: c.kind,
        index: c.index,
        minimum_ratio: c.minimum_ratio,
        zero_threshold: zero,
    })
}

/// Whether the zero threshold at a point with this gradient gets the location term (module
/// docs): it is on, the gradient is small enough to call the point critical, and not exactly
/// zero (any non-zero component: the norm of a gradient of 1e-300 underflows to 0).
pub(crate) fn location_applies(tol: &Tolerances, gradient: &[f64], gradient_norm: f64) -> bool {
    tol.location && gradient.iter().any(|&g| g != 0.0) && gradient_norm <= tol.grad
}

/// The zero threshold `zero` widened by the location term (module docs):
/// `max(zero, 3·‖H(θ + s) − H(θ)‖_F)` for the Newton step `s` over `spectrum`, the spectrum of
/// `h`. Every verdict at a point ([`classify_point`], and those of
/// [`crate::critical::verdict`]) uses this one rule.
pub(crate) fn location_threshold<O: Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    gradient: &[f64],
    h: &DMatrix<f64>,
    spectrum: &Spectrum,
    zero: f64,
) -> Result<f64> {
    let shift = hessian_shift(obj, params, gradient, h, spectrum, zero)?;
    Ok(zero.max(LOCATION_FACTOR * shift))
}

/// `‖H(θ + s) − H(θ)‖_F` for the pseudo-inverse Newton step `s = −H⁺∇f` over the eigenvalues
/// above `zero`: how much the Hessian moves between `θ` and the critical point near it. Zero when
/// the step vanishes; a step into a region where the Hessian is not finite gives no information
/// and counts as zero.
fn hessian_shift<O: Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    gradient: &[f64],
    h: &DMatrix<f64>,
    spectrum: &Spectrum,
    zero: f64,
) -> Result<f64> {
    let mut step = vec![0.0; params.len()];
    for (k, &l) in spectrum.eigenvalues().iter().enumerate() {
        if l.abs() <= zero {
            continue;
        }
        let u = spectrum.eigenvectors().column(k);
        let c = -u.iter().zip(gradient).map(|(a, b)| a * b).sum::<f64>() / l;
        for (s, a) in step.iter_mut().zip(u.iter()) {
            *s += c * a;
        }
    }
    let probe: Vec<f64> = params.iter().zip(&step).map(|(p, s)| p + s).collect();
    if probe == params || probe.iter().any(|v| !v.is_finite()) {
        return Ok(0.0);
    }
    match obj.hessian(&probe) {
        Ok(h2) if h2.iter().all(|v| v.is_finite()) => Ok((&h2 - h).norm()),
        Ok(_) => Ok(0.0),
        Err(Error::NonFinite(_)) => Ok(0.0),
        Err(e) => Err(e),
    }
}
