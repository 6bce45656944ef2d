//! Critical points: classify a point from its Hessian spectrum, and escape a saddle.
//!
//! [`classify`] owns [`CriticalKind`], [`Tolerances`] and [`CriticalPoint`]; [`escape`] owns
//! [`EscapeStep`]; [`search`] owns [`SearchBox`] and [`SearchResult`]; [`verdict`] gives the
//! verdict from the eigenvalues alone or from the inertia of the Hessian.

pub mod classify;
pub mod escape;
pub mod search;
pub mod verdict;

pub use classify::{
    classify_counts, classify_point, classify_point_with, classify_spectrum, Classification,
    CriticalKind, CriticalPoint, Tolerances,
};
pub use escape::{escape_saddle, EscapeOptions, EscapeStep};
pub use search::{
    find_critical_points, halton_points, SearchBox, SearchOptions, SearchResult, SearchStats,
    StartPath, DEFAULT_STARTS, MAX_STARTS,
};
pub use verdict::{
    classify_point_eigenvalues, classify_point_inertia, EigenvaluePoint, InertiaPoint,
    INERTIA_LANCZOS_TOL,
};
