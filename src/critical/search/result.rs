//! What a search returns: the points, one [`StartPath`] per start, and the run counts.

use crate::critical::classify::CriticalPoint;
use crate::objective::EvalCounts;

/// What happened from one start: the two solvers' paths and where they ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StartPath {
    /// The start.
    pub start: Vec<f64>,
    /// Skipped because the loss or its derivatives are not finite at the start.
    pub skipped: bool,
    /// Newton's iterates on `∇f = 0`, the start first (only the end when paths are not kept).
    pub newton: Vec<Vec<f64>>,
    /// L-BFGS iterates on `½‖∇f‖²` followed by the Newton polish, the start first.
    pub grad_norm: Vec<Vec<f64>>,
    /// Index in [`SearchResult::points`] of the point Newton reached, if it was accepted.
    pub newton_point: Option<usize>,
    /// Index in [`SearchResult::points`] of the point the gradient-norm run reached.
    pub grad_norm_point: Option<usize>,
}

/// Counts of what the runs did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SearchStats {
    /// Rounds of the coverage rule run.
    pub rounds: usize,
    /// Starts made, over all rounds.
    pub starts: usize,
    /// New isolated critical points each round found (the last is 0 unless the round limit
    /// stopped the search).
    pub new_per_round: Vec<usize>,
    /// Starts skipped (not finite there).
    pub skipped: usize,
    /// Solver runs (two per start that was not skipped).
    pub runs: usize,
    /// Runs that ended at a critical point inside the box.
    pub accepted: usize,
    /// Runs that ended where `‖∇f‖ > tol.grad` (gradient-flat regions, stalls, iteration limit).
    pub not_critical: usize,
    /// Runs that ended at a critical point outside the box (or left it for good).
    pub outside_box: usize,
}

/// Every critical point found in a box, with the paths that found them.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// The distinct critical points, classified, sorted by value then coordinates.
    pub points: Vec<CriticalPoint>,
    /// Per point: whether it lies on a continuum of critical points (see the module docs).
    pub on_continuum: Vec<bool>,
    /// Number of points marked in [`SearchResult::on_continuum`].
    pub continuum_points: usize,
    /// One entry per start, in start order.
    pub paths: Vec<StartPath>,
    /// Run counts.
    pub stats: SearchStats,
    /// Human-readable warnings (skipped starts, continua); the CLI prints them on stderr.
    pub warnings: Vec<String>,
    /// Evaluations of the objective.
    pub evals: EvalCounts,
}
