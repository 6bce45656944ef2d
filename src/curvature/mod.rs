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
//! [`QuadraticForm`] is a dense quadratic with a chosen spectrum, for tests and teaching.

pub mod dense;
pub mod density;
pub mod inertia;
pub mod lanczos;
pub mod landscape;
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
pub use lanczos::{
    HvpOperator, Lanczos, LanczosResult, QuadraticForm, Which, BASIS_BYTES, MAX_BASIS, MIN_BASIS,
};
pub use landscape::{
    checkpoint_pca, filter_normalize, interpolation_slice, random_direction, slice_1d, slice_2d,
    CheckpointPca, RandomDirection, Slice2d,
};
pub use power::{power_extremes, PowerIteration, PowerResult};
pub use trace::{hutch_plus_plus, hutchinson, TraceEstimate};
