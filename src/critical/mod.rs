//! Critical points: classify a point from its Hessian spectrum, and escape a saddle.
//!
//! [`classify`] owns [`CriticalKind`], [`Tolerances`] and [`CriticalPoint`]; [`verdict`] gives the
//! verdict from the eigenvalues alone or from the inertia of the Hessian; [`extremes`] from
//! extreme eigenpairs only ([`ExtremesVerdict`]); [`escape`] owns [`EscapeStep`]; [`search`]
//! owns [`SearchBox`] and [`SearchResult`].

pub mod classify;
pub mod escape;
pub mod extremes;
pub mod search;
pub mod verdict;

pub use classify::{
    classify_counts, classify_point, classify_point_with, classify_spectrum,
    classify_with_threshold, Classification, CriticalKind, CriticalPoint, Tolerances,
    EIGEN_ROUNDING,
};
pub use escape::{escape_saddle, EscapeOptions, EscapeStep, MAX_DOUBLINGS};
pub use extremes::{classify_extremes, ExtremesVerdict};
pub use search::{
    find_critical_points, halton_points, halton_range, minimize_gradient_norm, GradNormRun,
    SearchBox, SearchOptions, SearchResult, SearchStats, StartPath, DEFAULT_MAX_ROUNDS,
    DEFAULT_STARTS, MAX_STARTS,
};
pub use verdict::{
    classify_point_eigenvalues, classify_point_inertia, smallest_curvature, EigenvaluePoint,
    InertiaPoint, SmallestCurvature, ESCAPE_LANCZOS_TOL, INERTIA_LANCZOS_TOL,
};
