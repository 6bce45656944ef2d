//! Curvature: the spectrum of a Hessian.
//!
//! [`Spectrum`] is the one currency: eigenvalues ascending, eigenvectors as matching columns.
//! [`dense`] decomposes a dense symmetric matrix with one of three backends ([`EigenBackend`]),
//! or computes only its eigenvalues, or only its extreme eigenpairs; [`inertia`] counts its
//! eigenvalues below, inside and above `[−τ, τ]` from two LDLᵀ factorizations.
//! The matrix-free methods work on any [`crate::objective::Hvp`] and never build the Hessian:
//! [`lanczos`] (extreme eigenpairs, by sign), [`power`] (the power-iteration baseline),
//! [`trace`] (Hutchinson and Hutch++), [`density`] (stochastic Lanczos quadrature).
//! [`operator`] names the curvature matrices beyond the Hessian ([`Curvature`]) and wraps any
//! operator as a principal submatrix ([`Restricted`]) or a sum over chunks of data ([`Chunked`]).

pub mod dense;
pub mod density;
pub mod inertia;
pub mod lanczos;
pub mod operator;
pub mod power;
pub mod trace;

pub use dense::{
    extreme_eigenpairs, extreme_eigenpairs_within, symmetric_eigen, symmetric_eigenvalues,
    DenseOperator, EigenBackend, EigenPair, Extremes, Spectrum,
};
pub use density::{slq_density, MomentEstimate, Quadrature, Slq, SpectralDensity};
pub use inertia::{
    inertia, inertia_at, inertia_at_with, inertia_with, inertia_with_threshold, Inertia,
    InertiaSpectrum,
};
pub use lanczos::{HvpOperator, Lanczos, LanczosResult, Which, BASIS_BYTES, MAX_BASIS, MIN_BASIS};
/// The sign (`1` or `−1`) that makes the entry of largest magnitude of `v` positive (`1` for a
/// zero vector): eigenvectors are only defined up to sign, and every solver here fixes it this
/// way so that backends and methods agree.
pub(crate) fn largest_entry_sign<'a>(v: impl IntoIterator<Item = &'a f64>) -> f64 {
    let big = v
        .into_iter()
        .fold(0.0f64, |m, &x| if x.abs() > m.abs() { x } else { m });
    if big < 0.0 {
        -1.0
    } else {
        1.0
    }
}

pub use operator::{
    dense_from_products, select_tensors, tensor_indices, wildcard_match, Chunk, Chunked, Curvature,
    CurvatureOperator, ParamTensor, Restricted,
};
pub use power::{power_extremes, PowerIteration, PowerResult};
pub use trace::{hutch_plus_plus, hutchinson, TraceEstimate};
