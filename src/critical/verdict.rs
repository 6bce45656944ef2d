//! The verdict at a point when the spectrum is not needed: from the eigenvalues alone (no
//! eigenvectors), or from the inertia of the dense Hessian (no eigenvalues but the extremes).
//!
//! Both give the same kind, index and minimum ratio as [`classify_point`](super::classify_point),
//! which also returns every eigenvector, because they use its zero threshold, location term
//! included (the module docs of [`crate::critical::classify`]). They exist because at a few
//! thousand parameters the eigenvectors cost more than the Hessian, and the eigenvalues cost
//! several times more than two `LBLᵀ` factorizations.
//!
//! The location term needs the Newton step `−H⁺∇f`, hence the eigenvectors: both functions
//! compute them only where the term applies (a gradient that is small enough to call the point
//! critical but not exactly zero), which at a trained network's weights is rare.

use crate::critical::classify::{
    classify_counts, classify_with_threshold, location_applies, location_threshold, Classification,
    Tolerances,
};
use crate::curvature::{
    extreme_eigenpairs, inertia_with, inertia_with_threshold, symmetric_eigen,
    symmetric_eigenvalues, EigenBackend, InertiaSpectrum,
};
use crate::error::Result;
use crate::objective::{check_params, norm, Gradient, Hessian};
use nalgebra::DMatrix;

/// The verdict at a point from all eigenvalues of its Hessian, without eigenvectors.
#[derive(Debug, Clone)]
pub struct EigenvaluePoint {
    /// The loss there.
    pub value: f64,
    /// The gradient's Euclidean norm.
    pub gradient_norm: f64,
    /// The Hessian's eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
    /// The zero threshold the verdict used, location term included.
    pub zero_threshold: f64,
    /// Whether the location term needed the eigenvectors (a full decomposition was made).
    pub eigenvectors_computed: bool,
    /// The verdict.
    pub classification: Classification,
}

/// Gradient, dense Hessian, its eigenvalues only ([`symmetric_eigenvalues`] with `backend`)
/// and the verdict: [`classify_point`](super::classify_point) without the eigenvectors (unless
/// the location term of the threshold needs them; module docs).
///
/// # Cost
/// The Hessian and the eigenvalues (`4/3·n³` flops, no back-transformation); where the
/// location term applies, the full decomposition and one more Hessian instead.
///
/// # Errors
/// As [`classify_point`](super::classify_point).
pub fn classify_point_eigenvalues<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
    backend: EigenBackend,
) -> Result<EigenvaluePoint> {
    check_params(obj, params)?;
    let mut gradient = vec![0.0; params.len()];
    let value = obj.loss_and_gradient(params, &mut gradient)?;
    let gradient_norm = norm(&gradient);
    let h = obj.hessian(params)?;
    let located = location_applies(tol, &gradient, gradient_norm);
    let (eigenvalues, zero) = if located {
        let spectrum = symmetric_eigen(&h, backend)?;
        let zero = tol.zero_threshold(spectrum.max_abs(), value);
        let zero = location_threshold(obj, params, &gradient, &h, &spectrum, zero)?;
        (spectrum.into_parts().0, zero)
    } else {
        drop(gradient);
        let eigenvalues = symmetric_eigenvalues(&h, backend)?;
        drop(h);
        let max_abs = eigenvalues.iter().fold(0.0f64, |m, l| m.max(l.abs()));
        (eigenvalues, tol.zero_threshold(max_abs, value))
    };
    let classification = classify_with_threshold(&eigenvalues, gradient_norm, zero, tol);
    Ok(EigenvaluePoint {
        value,
        gradient_norm,
        eigenvalues,
        zero_threshold: zero,
        eigenvectors_computed: located,
        classification,
    })
}

/// The verdict at a point from the inertia of its dense Hessian, without the spectrum.
#[derive(Debug, Clone)]
pub struct InertiaPoint {
    /// The loss there.
    pub value: f64,
    /// The gradient's Euclidean norm.
    pub gradient_norm: f64,
    /// Extreme eigenpairs, zero threshold (location term included), exact counts and trace.
    pub inertia: InertiaSpectrum,
    /// Whether the location term needed the eigenvectors (a full decomposition was made).
    pub eigenvectors_computed: bool,
    /// The verdict (exact index and minimum ratio).
    pub classification: Classification,
}

/// Relative residual of the extreme eigenpairs behind the zero threshold of
/// [`classify_point_inertia`]: `τ` is then within a relative `1e-6` of the dense classifier's,
/// `1e-14·max|λ|` at the default `tol_eig`, below the eigenvalues' own rounding
/// ([`crate::curvature::inertia_with_threshold`]).
pub const INERTIA_LANCZOS_TOL: f64 = 1e-6;

/// Gradient, dense Hessian, extreme eigenpairs and the exact counts at the classifier's zero
/// threshold: the verdict of [`classify_point`](super::classify_point) (same kind, index and
/// minimum ratio; the threshold is scaled by the extreme Ritz values, see
/// [`crate::curvature::inertia::inertia_with_threshold`]) without the spectrum. The
/// factorizations are `backend`'s ([`crate::curvature::inertia_at_with`]).
///
/// # Cost
/// The Hessian, [`crate::curvature::extreme_eigenpairs`] (relative residual
/// [`INERTIA_LANCZOS_TOL`], seeded by `seed`) and two `LBLᵀ` factorizations (`2n³/3` flops)
/// instead of an eigen-decomposition (`≥ 4/3·n³`, half of it bound by memory bandwidth);
/// where the location term applies (module docs), also the full decomposition and one more
/// Hessian.
///
/// # Errors
/// As [`classify_point`](super::classify_point).
pub fn classify_point_inertia<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
    seed: u64,
    backend: EigenBackend,
) -> Result<InertiaPoint> {
    check_params(obj, params)?;
    let mut gradient = vec![0.0; params.len()];
    let value = obj.loss_and_gradient(params, &mut gradient)?;
    let gradient_norm = norm(&gradient);
    let h = obj.hessian(params)?;
    let mut inertia = inertia_with_threshold(
        &h,
        |max_abs| tol.zero_threshold(max_abs, value),
        INERTIA_LANCZOS_TOL,
        seed,
        backend,
    )?;
    let located = location_applies(tol, &gradient, gradient_norm);
    if located {
        let tau = widened(obj, params, &gradient, &h, inertia.tau, backend)?;
        if tau > inertia.tau {
            inertia.counts = inertia_with(&h, tau, backend)?;
            inertia.tau = tau;
        }
    }
    let classification = classify_counts(inertia.counts, gradient_norm, tol);
    Ok(InertiaPoint {
        value,
        gradient_norm,
        inertia,
        eigenvectors_computed: located,
        classification,
    })
}

/// The location term's threshold from the full decomposition of `h`.
fn widened<O: Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    gradient: &[f64],
    h: &DMatrix<f64>,
    zero: f64,
    backend: EigenBackend,
) -> Result<f64> {
    // nalgebra has no LDLᵀ but does decompose; any backend serves the step.
    let spectrum = symmetric_eigen(h, backend)?;
    location_threshold(obj, params, gradient, h, &spectrum, zero)
}

/// The most negative curvature at a point, for an escape step: the smallest eigenpair of the
/// dense Hessian and the classifier's zero threshold, without the rest of the spectrum.
#[derive(Debug, Clone)]
pub struct SmallestCurvature {
    /// The loss there.
    pub value: f64,
    /// The gradient there.
    pub gradient: Vec<f64>,
    /// Its Euclidean norm.
    pub gradient_norm: f64,
    /// The smallest eigenvalue (a Ritz value within `residual` of it, usually far closer).
    pub eigenvalue: f64,
    /// Its unit eigenvector, signed so that the largest-magnitude entry is positive.
    pub eigenvector: Vec<f64>,
    /// `‖H v − λ v‖`.
    pub residual: f64,
    /// The zero threshold of [`classify_point`](super::classify_point) at this point.
    pub zero_threshold: f64,
}

/// Relative residual of the smallest eigenpair in [`smallest_curvature`].
pub const ESCAPE_LANCZOS_TOL: f64 = 1e-10;

/// Gradient, dense Hessian, its two extreme eigenpairs
/// ([`crate::curvature::extreme_eigenpairs`], relative residual [`ESCAPE_LANCZOS_TOL`], seed 0)
/// and the classifier's zero threshold: what an escape step needs, one eigenvector instead of
/// all. Where the location term of the threshold applies (module docs) the full
/// decomposition is made and its exact smallest pair returned.
///
/// # Cost
/// The Hessian and a few passes over it (block Lanczos); up to 200 parameters, the full
/// decomposition.
///
/// # Errors
/// As [`classify_point`](super::classify_point).
pub fn smallest_curvature<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
) -> Result<SmallestCurvature> {
    check_params(obj, params)?;
    let mut gradient = vec![0.0; params.len()];
    let value = obj.loss_and_gradient(params, &mut gradient)?;
    let gradient_norm = norm(&gradient);
    let h = obj.hessian(params)?;
    let (eigenvalue, eigenvector, residual, zero_threshold) =
        if location_applies(tol, &gradient, gradient_norm) {
            let spectrum = symmetric_eigen(&h, EigenBackend::Faer)?;
            let zero = tol.zero_threshold(spectrum.max_abs(), value);
            let zero = location_threshold(obj, params, &gradient, &h, &spectrum, zero)?;
            let v = spectrum.eigenvector(0);
            (spectrum.eigenvalues()[0], v, 0.0, zero)
        } else {
            let e = extreme_eigenpairs(&h, ESCAPE_LANCZOS_TOL, 0)?;
            let zero = tol.zero_threshold(e.max_abs(), value);
            (
                e.smallest.value,
                e.smallest.vector,
                e.smallest.residual,
                zero,
            )
        };
    Ok(SmallestCurvature {
        value,
        gradient,
        gradient_norm,
        eigenvalue,
        eigenvector,
        residual,
        zero_threshold,
    })
}
