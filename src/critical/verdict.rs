//! The verdict at a point when the spectrum is not needed: from the eigenvalues alone (no
//! eigenvectors), or from the inertia of the dense Hessian (no eigenvalues but the extremes).
//!
//! Both give the same kind, index and minimum ratio as [`classify_point`](super::classify_point), which also returns
//! every eigenvector; they exist because at a few thousand parameters the eigenvectors cost
//! more than the Hessian, and the eigenvalues cost several times more than two `LBLᵀ`
//! factorizations.

use crate::critical::classify::{classify_counts, classify_spectrum, Classification, Tolerances};
use crate::curvature::{
    inertia_with_threshold, symmetric_eigenvalues, EigenBackend, InertiaSpectrum,
};
use crate::error::Result;
use crate::objective::{check_params, norm, Gradient, Hessian};

/// The verdict at a point from all eigenvalues of its Hessian, without eigenvectors.
#[derive(Debug, Clone)]
pub struct EigenvaluePoint {
    /// The loss there.
    pub value: f64,
    /// The gradient's Euclidean norm.
    pub gradient_norm: f64,
    /// The Hessian's eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
    /// The verdict.
    pub classification: Classification,
}

/// Gradient, dense Hessian, its eigenvalues only ([`symmetric_eigenvalues`] with `backend`)
/// and the verdict: [`classify_point`](super::classify_point) without the eigenvectors.
///
/// # Cost
/// The Hessian and the eigenvalues (`4/3·n³` flops, no back-transformation).
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
    drop(gradient);
    let h = obj.hessian(params)?;
    let eigenvalues = symmetric_eigenvalues(&h, backend)?;
    let classification = classify_spectrum(&eigenvalues, gradient_norm, value, tol);
    Ok(EigenvaluePoint {
        value,
        gradient_norm,
        eigenvalues,
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
    /// Extreme eigenpairs, zero threshold, exact counts and trace.
    pub inertia: InertiaSpectrum,
    /// The verdict (exact index and minimum ratio).
    pub classification: Classification,
}

/// Relative residual of the extreme eigenpairs behind the zero threshold of
/// [`classify_point_inertia`].
pub const INERTIA_LANCZOS_TOL: f64 = 1e-8;

/// Gradient, dense Hessian, extreme eigenpairs and the exact counts at the classifier's zero
/// threshold: the verdict of [`classify_point`](super::classify_point) (same kind, index and minimum ratio; the
/// threshold is scaled by the extreme Ritz values, see
/// [`crate::curvature::inertia::inertia_with_threshold`]) without the spectrum.
///
/// # Cost
/// The Hessian, [`crate::curvature::extreme_eigenpairs`] (relative residual
/// [`INERTIA_LANCZOS_TOL`], seeded by `seed`) and two `LBLᵀ` factorizations (`2n³/3` flops)
/// instead of an eigen-decomposition (`≥ 4/3·n³`, half of it bound by memory bandwidth).
///
/// # Errors
/// As [`classify_point`](super::classify_point).
pub fn classify_point_inertia<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
    seed: u64,
) -> Result<InertiaPoint> {
    check_params(obj, params)?;
    let mut gradient = vec![0.0; params.len()];
    let value = obj.loss_and_gradient(params, &mut gradient)?;
    let gradient_norm = norm(&gradient);
    drop(gradient);
    let h = obj.hessian(params)?;
    let inertia = inertia_with_threshold(
        &h,
        |max_abs| tol.zero_threshold(max_abs, value),
        INERTIA_LANCZOS_TOL,
        seed,
    )?;
    let classification = classify_counts(inertia.counts, gradient_norm, tol);
    Ok(InertiaPoint {
        value,
        gradient_norm,
        inertia,
        classification,
    })
}
