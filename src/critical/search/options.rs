//! [`SearchOptions`] and the limits on starts and rounds.

use crate::critical::classify::Tolerances;
use crate::error::{Error, Result};

/// Default size of the first round: with the round that confirms it, 256 starts, which cover
/// the common 2-D test surfaces.
pub const DEFAULT_STARTS: usize = 128;

/// The largest number of starts accepted, over all rounds (every start's outcome is kept in
/// memory).
pub const MAX_STARTS: usize = 10_000_000;

/// Default limit on the rounds of the coverage rule: a first round of 128 grows to at most
/// 128 · 2⁹ = 65 536 starts.
pub const DEFAULT_MAX_ROUNDS: usize = 10;

/// Settings of [`find_critical_points`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Starts in the first round (default [`DEFAULT_STARTS`]); later rounds double the total.
    pub starts: usize,
    /// The most rounds of the coverage rule (default [`DEFAULT_MAX_ROUNDS`]; 1 = one fixed
    /// round of `starts`, without the warning that more points may exist).
    pub max_rounds: usize,
    /// Seed of the start sequence.
    pub seed: u64,
    /// Acceptance (`tol.grad`) and classification tolerances (default [`Tolerances::dual`]).
    pub tol: Tolerances,
    /// Newton iterations per run and per polish (default 100).
    pub max_newton_iters: usize,
    /// L-BFGS iterations on `½‖∇f‖²` (default 100).
    pub max_lbfgs_iters: u64,
    /// Points closer than `merge_tol · diameter(box)` are merged (default `1e-6`).
    pub merge_tol: f64,
    /// Keep every start's full paths (default `true`); otherwise only the end points.
    pub record_paths: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            starts: DEFAULT_STARTS,
            max_rounds: DEFAULT_MAX_ROUNDS,
            seed: 0,
            tol: Tolerances::dual(),
            max_newton_iters: 100,
            max_lbfgs_iters: 100,
            merge_tol: 1e-6,
            record_paths: true,
        }
    }
}

impl SearchOptions {
    /// Sets the size of the first round.
    ///
    /// # Errors
    /// Zero starts, or more than [`MAX_STARTS`].
    pub fn with_starts(mut self, starts: usize) -> Result<Self> {
        if starts == 0 {
            return Err(Error::invalid("starts", "need at least one start, got 0"));
        }
        if starts > MAX_STARTS {
            return Err(Error::invalid(
                "starts",
                format!("at most {MAX_STARTS} starts, got {starts}"),
            ));
        }
        self.starts = starts;
        Ok(self)
    }

    /// Sets the most rounds of the coverage rule.
    ///
    /// # Errors
    /// Zero rounds, or more than 40 (the total would exceed any memory long before).
    pub fn with_max_rounds(mut self, rounds: usize) -> Result<Self> {
        if !(1..=40).contains(&rounds) {
            return Err(Error::invalid(
                "max rounds",
                format!("need between 1 and 40 rounds, got {rounds}"),
            ));
        }
        self.max_rounds = rounds;
        Ok(self)
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the tolerances.
    pub fn with_tolerances(mut self, tol: Tolerances) -> Self {
        self.tol = tol;
        self
    }

    /// Sets whether full paths are kept.
    pub fn with_record_paths(mut self, record: bool) -> Self {
        self.record_paths = record;
        self
    }
}
