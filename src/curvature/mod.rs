//! Curvature: the spectrum of a Hessian.
//!
//! [`Spectrum`] is the one currency: eigenvalues ascending, eigenvectors as matching columns.
//! [`dense`] decomposes a dense symmetric matrix with one of three backends ([`EigenBackend`]),
//! or computes only its eigenvalues, or only its extreme eigenpairs; [`inertia`] counts its
//! eigenvalues below, inside and above `[−τ, τ]` from two LDLᵀ factorizations.
//! The matrix-free methods work on any [`crate::objective::Hvp`] and never build the Hessian:
//! [`lanczos`] (extreme eigenpairs, by sign), [`power`] (the power-iteration baseline),
//! [`trace`] (Hutchinson and Hutch++), [`density`] (stochastic Lanczos quadrature);
//! [`landscape`] evaluates the loss on lines and planes (random, filter-normalized or PCA
//! directions).
//! [`operator`] names the curvature matrices beyond the Hessian ([`Curvature`]) and wraps any
//! operator as a principal submatrix ([`Restricted`]) or a sum over chunks of data ([`Chunked`]).
//! [`QuadraticForm`] is a dense quadratic with a chosen spectrum, for tests and teaching.

pub mod dense;
pub mod density;
pub mod inertia;
pub mod lanczos;
pub mod landscape;
pub mod operator;
pub mod power;
pub mod trace;

pub use dense::{
    extreme_eigenpairs, symmetric_eigen, symmetric_eigenvalues, EigenBackend, EigenPair, Extremes,
    Spectrum,
};
pub use density::{slq_density, MomentEstimate, Quadrature, Slq, SpectralDensity};
pub use inertia::{inertia, inertia_at, inertia_with_threshold, Inertia, InertiaSpectrum};
pub use lanczos::{
    HvpOperator, Lanczos, LanczosResult, QuadraticForm, Which, BASIS_BYTES, MAX_BASIS, MIN_BASIS,
};
pub use landscape::{
    checkpoint_pca, filter_normalize, interpolation_slice, random_direction, slice_1d, slice_2d,
    CheckpointPca, RandomDirection, Slice2d,
};
pub use operator::{
    dense_from_products, select_tensors, tensor_indices, wildcard_match, Chunk, Chunked, Curvature,
    CurvatureOperator, ParamTensor, Restricted,
};
pub use power::{power_extremes, PowerIteration, PowerResult};
pub use trace::{hutch_plus_plus, hutchinson, TraceEstimate};
