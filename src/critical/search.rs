//! Find every critical point of an objective in a box: seeded multi-start root finding on `∇f = 0`.
//!
//! This module owns [`SearchBox`], [`SearchOptions`], [`SearchResult`] and [`find_critical_points`];
//! the verdict on each point found is the classifier's ([`classify_point`]).
//!
//! # Method
//! 1. **Starts, in rounds until a round finds nothing new.** Starts are consecutive points of a
//!    scrambled Halton sequence ([`halton_points`]: bases 2, 3, 5, … one per dimension, every
//!    digit position with its own random permutation drawn from the seed), mapped into the box.
//!    Low discrepancy covers the box evenly, so small basins are not missed by bad luck; the
//!    scrambling makes the sequence depend on the seed. The first round has `starts` points
//!    (`--starts`); every later round has as many as all rounds before it, so each round doubles
//!    the total and continues the same sequence (the union is always the first `total` Halton
//!    points). **Coverage rule:** the search stops after the first round that adds no new
//!    isolated critical point (points on a continuum, see below, are samples and do not count),
//!    or after [`SearchOptions::max_rounds`] rounds, with a warning when that last round still
//!    found new points. A stop therefore means that doubling the effort found nothing: a basin
//!    holding a fraction `p` of the starts is missed by that last round with probability about
//!    `(1 − p)^total`. [`SearchStats::rounds`] and [`SearchStats::starts`] report what was used.
//! 2. **Two solvers from every start**, both converging to critical points of *every* kind
//!    (a minimizer of `f` would find only minima):
//!    - *Newton on the gradient system* `∇f(θ) = 0`: the step solves `H s = −∇f` (no eigenvalue
//!      modification such as `|H|`, which would move the fixed points), is clipped to a trust
//!      radius, and is accepted by backtracking on `‖∇f‖`. Where `H` is singular the step falls
//!      back to Levenberg–Marquardt on the same system, `(H² + μI) s = −H ∇f`.
//!    - *Gradient-norm minimization* of `½‖∇f‖²`, whose gradient is `H ∇f` (one Hessian-vector
//!      product), with argmin's L-BFGS (More–Thuente line search) run through argmin's
//!      `Executor`; a path-recording observer keeps every iterate. The end point is polished with
//!      the Newton iteration above.
//! 3. **Acceptance.** A run's end point counts only when `‖∇f‖ ≤ tol.grad` there (the
//!    classifier's gradient tolerance): both solvers also stop in *gradient-flat* regions, where
//!    `H ∇f ≈ 0` but `∇f ≠ 0` (REFERENCE.md §6); those runs are counted in
//!    [`SearchStats::not_critical`] and dropped. Points outside the box (beyond a relative slack
//!    of `1e-9`) are dropped too.
//! 4. **Merging.** Accepted points closer than `merge_tol · diameter(box)` are one point; the
//!    representative is the one with the smallest gradient norm (first in start order on ties).
//! 5. **Classification and order.** Each point goes through [`classify_point`]; the list is sorted
//!    by value (values equal to `1e-9` of the largest magnitude count as ties), ties by
//!    coordinates, so the output does not depend on thread scheduling. Starts run in parallel
//!    (rayon) and their results are collected in start order: the same seed gives the same
//!    result, bit for bit.
//!
//! # Non-finite regions
//! A start where the loss, the gradient or the Hessian is not finite (a formula outside its
//! domain, such as `ln(x)` at `x < 0`) is skipped; the skips are counted in
//! [`SearchStats::skipped`] and explained in [`SearchResult::warnings`]. A solver that steps into
//! such a region treats the step as failed and shrinks it.
//!
//! # Continua of critical points
//! Where critical points are not isolated, for example the minima of the chapter's
//! `(1 − w1·w2)²` on the hyperbola `w1·w2 = 1`, each run converges to *some* point of the curve
//! and different starts reach different points. The search does not pretend these are finitely
//! many strict minima: it reports the distinct points it converged to (each classified
//! `degenerate`, since the Hessian is singular along the curve) and marks each with
//! [`SearchResult::on_continuum`]. The test: from a degenerate point `θ`, step `δ = 1e-3 ·
//! diameter` along each null eigenvector and polish with Newton; if that lands on another critical
//! point at least `δ/2` away from `θ`, `θ` lies on a continuum. An isolated degenerate point
//! (`x² + y⁴`, the monkey saddle) pulls the polish back to itself and is not marked.
//! [`SearchResult::continuum_points`] counts the marked points and a warning says so.
//!
//! # Cost
//! Per start: one Newton run (a Hessian and a few gradients per iteration) and one L-BFGS run (two
//! gradients and one Hessian-vector product per function evaluation), then a short polish. The
//! coverage rule costs at least one round that finds nothing: with the default first round of
//! [`DEFAULT_STARTS`] = 128, Himmelblau's nine points take two rounds (256 starts, the cost of the
//! former fixed default), and the 81 points of the 2-D Rastrigin function on `[−2.2, 2.2]²`
//! (a fixed 256 starts missed one for eight of the seeds 0–9) take three or four rounds, 512 or
//! 1024 starts, and are all found for every seed 0–15. Higher dimensions need more. The separable `Σ (xᵢ⁴ − 2xᵢ²)` over `[−2, 2]^6` has `3^6 = 729`
//! points, the smallest basins (around the all-zero maximum) about `0.29^6 ≈ 6e-4` of the box:
//! 1500 starts found 718–722 of them and 3000 starts all 729 for each of the seeds 0–3, in 3–4.5 s
//! on two busy cores (about 40 gradients, 9 Hessians and 50 Hessian-vector products per start).
//! Evaluation counts are reported in [`SearchResult::evals`].
//!
//! # Known results
//! On Beale's function over `[−4.5, 4.5]²` the search finds exactly the three documented points (the
//! minimum `(3, 0.5)` and the saddles `(0, 1)` and `(0.100538, −2.644514)`): on the line `x = 0`
//! the gradient vanishes only where `2.625y³ + 2.25y² + 1.5y − 6.375 = 0`, whose only real root is
//! `y = 1`; off that line the search finds no other point (4096 starts with seed 0 gave the same
//! three; a test runs 1024). About a fifth of the runs on Beale end away from any critical point
//! (stalls where `H ∇f ≈ 0`, or runs that leave the box, which is easy on a surface that is
//! constant along `y = 1`); they are counted in [`SearchStats::not_critical`] and dropped.
//!
//! # References
//! Nocedal & Wright (2006), *Numerical Optimization*, ch. 4 (trust regions), ch. 7 (L-BFGS),
//! ch. 11 (Newton and Levenberg–Marquardt for nonlinear equations). Owen (1997), scrambled nets.
//! Doye & Wales (2002) and Pennington & Bahri (2017) on minimizing `‖∇f‖²` to find saddles.

use crate::critical::classify::{classify_point, CriticalKind, CriticalPoint, Tolerances};
use crate::error::{Error, Result};
use crate::objective::{norm, Counted, EvalCounts, Gradient, Hessian, Hvp};
use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Executor, IterState, State, KV};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Default size of the first round: with the round that confirms it, 256 starts, which cover
/// the common 2-D test surfaces.
pub const DEFAULT_STARTS: usize = 128;

/// The largest number of starts accepted, over all rounds (every start's outcome is kept in
/// memory).
pub const MAX_STARTS: usize = 10_000_000;

/// Default limit on the rounds of the coverage rule: a first round of 128 grows to at most
/// 128 · 2⁹ = 65 536 starts.
pub const DEFAULT_MAX_ROUNDS: usize = 10;

/// An axis-aligned box `[lo₁, hi₁] × … × [loₙ, hiₙ]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchBox {
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl SearchBox {
    /// A box from `(lo, hi)` pairs, one per variable.
    ///
    /// Every quantity the search derives from the box must be a finite number: each width
    /// `hi − lo` (so `±1e308` is refused: the width overflows), hence each midpoint and each
    /// Halton start `lo + t·(hi − lo)`, and the diagonal, the search's length scale; each width must be at least `1e-12` of the bounds'
    /// magnitude, so that the starts are distinct numbers (a box `[1e20, 1e20 + 1]` holds a single
    /// float).
    ///
    /// # Errors
    /// No pairs, a bound that is not finite, `lo ≥ hi`, a width or diagonal that overflows, or a
    /// width below the resolution of the bounds.
    pub fn try_new(bounds: &[(f64, f64)]) -> Result<Self> {
        if bounds.is_empty() {
            return Err(Error::invalid(
                "box",
                "a box needs at least one (lo, hi) pair",
            ));
        }
        for (i, &(lo, hi)) in bounds.iter().enumerate() {
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "bounds of variable {} must be finite, got [{lo}, {hi}]",
                        i + 1
                    ),
                ));
            }
            if lo >= hi {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "variable {} has lo {lo} >= hi {hi}; each lower bound must be below its upper bound",
                        i + 1
                    ),
                ));
            }
            let width = hi - lo;
            if !width.is_finite() {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "variable {} has width hi - lo = {hi} - ({lo}), which overflows f64; each width must stay below {:e}",
                        i + 1,
                        f64::MAX
                    ),
                ));
            }
            let magnitude = lo.abs().max(hi.abs());
            if width < 1e-12 * magnitude {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "variable {} has width {width:e} at magnitude {magnitude:e}; the width must be at least 1e-12 of the bounds' magnitude for the starts to be distinct",
                        i + 1
                    ),
                ));
            }
        }
        let bx = SearchBox {
            lo: bounds.iter().map(|b| b.0).collect(),
            hi: bounds.iter().map(|b| b.1).collect(),
        };
        let d = bx.diameter();
        if !d.is_finite() {
            return Err(Error::invalid(
                "box",
                format!(
                    "the diagonal of the box (its length scale) overflows f64 (above {:e}); shrink the widths",
                    f64::MAX
                ),
            ));
        }
        Ok(bx)
    }

    /// A box from a flat list `LO1, HI1, LO2, HI2, …` (the `--box` flag).
    ///
    /// # Errors
    /// An odd or zero count, and everything [`SearchBox::try_new`] rejects.
    pub fn from_flat(values: &[f64]) -> Result<Self> {
        if values.is_empty() || !values.len().is_multiple_of(2) {
            return Err(Error::invalid(
                "box",
                format!(
                    "expected pairs LO1,HI1,LO2,HI2,...; got {} numbers",
                    values.len()
                ),
            ));
        }
        let pairs: Vec<(f64, f64)> = values.chunks(2).map(|c| (c[0], c[1])).collect();
        Self::try_new(&pairs)
    }

    /// Number of dimensions.
    pub fn n_dims(&self) -> usize {
        self.lo.len()
    }

    /// Lower bounds.
    pub fn lo(&self) -> &[f64] {
        &self.lo
    }

    /// Upper bounds.
    pub fn hi(&self) -> &[f64] {
        &self.hi
    }

    /// `(lo, hi)` pairs.
    pub fn bounds(&self) -> Vec<(f64, f64)> {
        self.lo
            .iter()
            .copied()
            .zip(self.hi.iter().copied())
            .collect()
    }

    /// Length of the diagonal, the length scale of every tolerance in the search (computed
    /// scaled by the largest width, so it is finite whenever the widths are).
    pub fn diameter(&self) -> f64 {
        let widths: Vec<f64> = self.lo.iter().zip(&self.hi).map(|(l, h)| h - l).collect();
        let m = widths.iter().fold(0.0f64, |a, &w| a.max(w));
        if m == 0.0 {
            return 0.0;
        }
        m * widths.iter().map(|w| (w / m) * (w / m)).sum::<f64>().sqrt()
    }

    /// Whether `p` lies in the box widened by `slack` times each side's width.
    pub fn contains(&self, p: &[f64], slack: f64) -> bool {
        p.len() == self.lo.len()
            && p.iter()
                .zip(self.lo.iter().zip(&self.hi))
                .all(|(&x, (&l, &h))| {
                    let pad = slack * (h - l);
                    x >= l - pad && x <= h + pad
                })
    }

    /// Maps a point of the unit cube `[0, 1)ⁿ` into the box.
    pub fn from_unit(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(self.lo.iter().zip(&self.hi))
            .map(|(&t, (&l, &h))| l + t * (h - l))
            .collect()
    }
}

/// The first `n` primes (the Halton bases).
fn primes(n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    let mut c = 2u64;
    while out.len() < n {
        if out
            .iter()
            .take_while(|&&p| p * p <= c)
            .all(|&p| !c.is_multiple_of(p))
        {
            out.push(c);
        }
        c += 1;
    }
    out
}

/// `n_points` points of a scrambled Halton sequence in the unit cube `[0, 1)^n_dims`.
///
/// Dimension `d` uses the `d`-th prime `b` as base; point `i` has coordinate
/// $\sum_k \pi_{d,k}(a_k)\, b^{-k-1}$ where $a_k$ are the base-`b` digits of `i` and each digit
/// position `k` has its own random permutation $\pi_{d,k}$ of `{0, …, b−1}` drawn from `seed`
/// (random digit scrambling). Enough digit positions are used to fill `f64`'s 52-bit mantissa.
///
/// Postconditions: every coordinate is in `[0, 1)`; the same arguments give the same points.
/// Cost: `O(n_points · n_dims · 52)`.
///
/// # Example
/// ```
/// # use critpt::critical::halton_points;
/// let pts = halton_points(64, 2, 7);
/// assert_eq!(pts.len(), 64);
/// assert!(pts.iter().flatten().all(|&u| (0.0..1.0).contains(&u)));
/// // Stratified: each quarter of [0, 1) holds 16 first coordinates (base 2).
/// let low = pts.iter().filter(|p| p[0] < 0.25).count();
/// assert_eq!(low, 16);
/// ```
///
/// # References
/// Owen (1997), "Scrambled net variance for integrals of smooth functions"; Braaten & Weller
/// (1979), "An improved low-discrepancy sequence for multidimensional quasi-Monte Carlo
/// integration".
pub fn halton_points(n_points: usize, n_dims: usize, seed: u64) -> Vec<Vec<f64>> {
    halton_range(0, n_points, n_dims, seed)
}

/// Points `first .. first + count` of the sequence [`halton_points`] draws for `seed`: the rounds
/// of the search continue one sequence.
///
/// Postcondition: `halton_range(a, n, d, s)` equals `halton_points(a + n, d, s)[a..]`.
pub fn halton_range(first: usize, count: usize, n_dims: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let bases = primes(n_dims);
    // Per dimension: the base, its digit count, and one permutation per digit position.
    let tables: Vec<(u64, Vec<Vec<u64>>)> = bases
        .iter()
        .map(|&b| {
            let digits = (52.0 / (b as f64).log2()).ceil() as usize;
            let perms = (0..digits)
                .map(|_| {
                    let mut p: Vec<u64> = (0..b).collect();
                    p.shuffle(&mut rng);
                    p
                })
                .collect();
            (b, perms)
        })
        .collect();
    (first as u64..(first + count) as u64)
        .map(|i| {
            tables
                .iter()
                .map(|(b, perms)| {
                    let bf = *b as f64;
                    let mut rest = i;
                    let mut scale = 1.0 / bf;
                    let mut u = 0.0;
                    for perm in perms {
                        u += perm[(rest % b) as usize] as f64 * scale;
                        rest /= b;
                        scale /= bf;
                    }
                    u.min(1.0 - f64::EPSILON)
                })
                .collect()
        })
        .collect()
}

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
            return Err(Error::invalid("--starts", "need at least one start, got 0"));
        }
        if starts > MAX_STARTS {
            return Err(Error::invalid(
                "--starts",
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
                "--max-rounds",
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

/// Whether an error is a "not finite here" error (skip) rather than a real failure.
fn is_non_finite(e: &Error) -> bool {
    matches!(e, Error::NonFinite(_))
}

/// The gradient at `x`, or `None` where it is not finite.
fn grad_at<O: Gradient + ?Sized>(obj: &O, x: &[f64]) -> Result<Option<Vec<f64>>> {
    let mut g = vec![0.0; x.len()];
    match obj.gradient(x, &mut g) {
        Ok(()) if g.iter().all(|v| v.is_finite()) => Ok(Some(g)),
        Ok(()) => Ok(None),
        Err(e) if is_non_finite(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Collects iterates: every one, or only the last.
struct Recorder<'a> {
    path: &'a mut Vec<Vec<f64>>,
    keep_all: bool,
}

impl Recorder<'_> {
    fn push(&mut self, x: &[f64]) {
        if !self.keep_all {
            self.path.clear();
        }
        self.path.push(x.to_vec());
    }
}

/// Where a run ended.
struct RunEnd {
    point: Vec<f64>,
    grad_norm: f64,
}

/// Newton on `∇f = 0` with a trust radius, backtracking on `‖∇f‖`, and a Levenberg–Marquardt
/// fallback where `H` is singular. Records the iterates after the start.
fn newton_solve<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    x0: &[f64],
    bx: &SearchBox,
    max_iters: usize,
    rec: &mut Recorder<'_>,
) -> Result<RunEnd> {
    let scale = bx.diameter();
    let xtol = 1e-13 * scale;
    let n = x0.len();
    let mut x = x0.to_vec();
    let Some(mut g) = grad_at(obj, &x)? else {
        return Ok(RunEnd {
            point: x,
            grad_norm: f64::INFINITY,
        });
    };
    let mut r = norm(&g);
    let mut radius = 0.1 * scale;
    for _ in 0..max_iters {
        if r == 0.0 {
            break;
        }
        let h = match obj.hessian(&x) {
            Ok(h) if h.iter().all(|v| v.is_finite()) => h,
            Ok(_) => break,
            Err(e) if is_non_finite(&e) => break,
            Err(e) => return Err(e),
        };
        let gv = DVector::from_column_slice(&g);
        let newton = h
            .clone()
            .lu()
            .solve(&(-&gv))
            .filter(|s| s.iter().all(|v| v.is_finite()));
        // A Newton step below the resolution is the answer: take it and stop.
        if let Some(s) = &newton {
            if s.norm() <= xtol {
                let xt: Vec<f64> = x.iter().zip(s.iter()).map(|(a, b)| a + b).collect();
                if let Some(gt) = grad_at(obj, &xt)? {
                    let rt = norm(&gt);
                    if rt <= r {
                        x = xt;
                        r = rt;
                        rec.push(&x);
                    }
                }
                break;
            }
        }
        let mut moved = false;
        // Attempt 0 is Newton (when solvable); then Levenberg–Marquardt with growing damping.
        let h2 = &h * &h;
        let mu0 = 1e-10 * h2.norm().max(1e-300);
        for attempt in 0..4 {
            let (s_full, is_newton) = match (&newton, attempt) {
                (Some(s), 0) => (s.clone(), true),
                (None, 0) => continue,
                _ => {
                    let mu = mu0 * 1e3f64.powi(attempt - 1);
                    let a = &h2 + DMatrix::identity(n, n) * mu;
                    match a.cholesky() {
                        Some(c) => (c.solve(&(-(&h * &gv))), false),
                        None => continue,
                    }
                }
            };
            let full_len = s_full.norm();
            if !full_len.is_finite() || full_len == 0.0 {
                continue;
            }
            let kappa = (radius / full_len).min(1.0);
            let s = &s_full * kappa;
            let mut t = 1.0;
            for _ in 0..20 {
                let xt: Vec<f64> = x.iter().zip(s.iter()).map(|(a, b)| a + t * b).collect();
                if let Some(gt) = grad_at(obj, &xt)? {
                    let rt = norm(&gt);
                    let target = if is_newton {
                        r * (1.0 - 1e-4 * t * kappa)
                    } else {
                        r
                    };
                    if rt < target {
                        let step_len = t * kappa * full_len;
                        if t == 1.0 && kappa < 1.0 {
                            radius = (2.0 * radius).min(scale);
                        } else if t < 1.0 {
                            radius = step_len.max(xtol);
                        }
                        x = xt;
                        g = gt;
                        r = rt;
                        rec.push(&x);
                        moved = true;
                        break;
                    }
                }
                t *= 0.5;
            }
            if moved {
                break;
            }
        }
        if !moved || !bx.contains(&x, 1.0) {
            break;
        }
    }
    Ok(RunEnd {
        point: x,
        grad_norm: r,
    })
}

/// `½‖∇f‖²` as an argmin problem; its gradient is `H ∇f`. The line search asks for the cost and
/// the gradient at the same point, so the last `∇f` is cached.
struct HalfGradNormSq<'a, O: ?Sized> {
    obj: &'a O,
    cache: std::cell::RefCell<Option<(DVector<f64>, Vec<f64>)>>,
}

impl<O: Gradient + ?Sized> HalfGradNormSq<'_, O> {
    fn grad(&self, p: &DVector<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        if let Some((q, g)) = self.cache.borrow().as_ref() {
            if q == p {
                return Ok(g.clone());
            }
        }
        let mut g = vec![0.0; p.len()];
        self.obj.gradient(p.as_slice(), &mut g)?;
        *self.cache.borrow_mut() = Some((p.clone(), g.clone()));
        Ok(g)
    }
}

impl<O: Gradient + Hvp + ?Sized> CostFunction for HalfGradNormSq<'_, O> {
    type Param = DVector<f64>;
    type Output = f64;
    fn cost(&self, p: &DVector<f64>) -> std::result::Result<f64, argmin::core::Error> {
        let g = self.grad(p)?;
        Ok(0.5 * g.iter().map(|v| v * v).sum::<f64>())
    }
}

impl<O: Gradient + Hvp + ?Sized> argmin::core::Gradient for HalfGradNormSq<'_, O> {
    type Param = DVector<f64>;
    type Gradient = DVector<f64>;
    fn gradient(&self, p: &DVector<f64>) -> std::result::Result<DVector<f64>, argmin::core::Error> {
        let g = self.grad(p)?;
        let mut hg = vec![0.0; p.len()];
        self.obj.hvp(p.as_slice(), &g, &mut hg)?;
        Ok(DVector::from_vec(hg))
    }
}

type LbfgsState = IterState<DVector<f64>, DVector<f64>, (), (), (), f64>;

/// An argmin observer that records every iterate (or only the latest).
struct PathObserver {
    path: Arc<Mutex<Vec<Vec<f64>>>>,
    keep_all: bool,
}

impl PathObserver {
    fn record(&self, state: &LbfgsState) {
        if let Some(p) = state.get_param() {
            if let Ok(mut path) = self.path.lock() {
                if !self.keep_all {
                    path.clear();
                }
                path.push(p.iter().copied().collect());
            }
        }
    }
}

impl Observe<LbfgsState> for PathObserver {
    fn observe_init(
        &mut self,
        _name: &str,
        state: &LbfgsState,
        _kv: &KV,
    ) -> std::result::Result<(), argmin::core::Error> {
        self.record(state);
        Ok(())
    }
    fn observe_iter(
        &mut self,
        state: &LbfgsState,
        _kv: &KV,
    ) -> std::result::Result<(), argmin::core::Error> {
        self.record(state);
        Ok(())
    }
}

/// L-BFGS on `½‖∇f‖²` through argmin's executor, then a Newton polish.
fn grad_norm_solve<O: Gradient + Hessian + Hvp + ?Sized>(
    obj: &O,
    x0: &[f64],
    bx: &SearchBox,
    opts: &SearchOptions,
    path: &mut Vec<Vec<f64>>,
) -> Result<RunEnd> {
    let shared = Arc::new(Mutex::new(Vec::new()));
    let observer = PathObserver {
        path: Arc::clone(&shared),
        keep_all: opts.record_paths,
    };
    let target = 0.5 * (1e-3 * opts.tol.grad).powi(2);
    let run = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(0.0)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| Error::Unsupported(format!("l-bfgs setup failed: {e}")))
        .map(|solver| {
            Executor::new(
                HalfGradNormSq {
                    obj,
                    cache: std::cell::RefCell::new(None),
                },
                solver,
            )
            .configure(|st| {
                st.param(DVector::from_column_slice(x0))
                    .max_iters(opts.max_lbfgs_iters)
                    .target_cost(target)
            })
            .timer(false)
            .add_observer(observer, ObserverMode::Always)
            .run()
        })?;
    let recorded = std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner()));
    // The lowest-cost parameter when the run finished; the last recorded iterate when argmin
    // stopped on an error (a line search into a non-finite region, a failed line search).
    let end: Vec<f64> = match &run {
        Ok(res) => res
            .state()
            .get_best_param()
            .map(|p| p.iter().copied().collect())
            .or_else(|| recorded.last().cloned())
            .unwrap_or_else(|| x0.to_vec()),
        Err(_) => recorded.last().cloned().unwrap_or_else(|| x0.to_vec()),
    };
    *path = recorded;
    if path.is_empty() || !opts.record_paths {
        path.clear();
        path.push(x0.to_vec());
    }
    if opts.record_paths && path.last().map(|p| p.as_slice()) != Some(end.as_slice()) {
        path.push(end.clone());
    }
    let mut rec = Recorder {
        path,
        keep_all: opts.record_paths,
    };
    newton_solve(obj, &end, bx, opts.max_newton_iters, &mut rec)
}

/// One start's outcome before merging.
struct StartOutcome {
    path: StartPath,
    /// Accepted end points: (point, gradient norm, from Newton?).
    accepted: Vec<(Vec<f64>, f64, bool)>,
    not_critical: usize,
    outside: usize,
}

fn run_start<O: Gradient + Hessian + Hvp + ?Sized>(
    obj: &O,
    x0: Vec<f64>,
    bx: &SearchBox,
    opts: &SearchOptions,
) -> Result<StartOutcome> {
    let mut out = StartOutcome {
        path: StartPath {
            start: x0.clone(),
            skipped: false,
            newton: Vec::new(),
            grad_norm: Vec::new(),
            newton_point: None,
            grad_norm_point: None,
        },
        accepted: Vec::new(),
        not_critical: 0,
        outside: 0,
    };
    // Skip a start where the loss, gradient or Hessian is not finite.
    let mut g = vec![0.0; x0.len()];
    let probe = obj
        .loss_and_gradient(&x0, &mut g)
        .and_then(|_| obj.hessian(&x0).map(|_| ()));
    match probe {
        Ok(()) => {}
        Err(e) if is_non_finite(&e) => {
            out.path.skipped = true;
            return Ok(out);
        }
        Err(e) => return Err(e),
    }
    let mut newton_path = vec![x0.clone()];
    let newton_end = {
        let mut rec = Recorder {
            path: &mut newton_path,
            keep_all: opts.record_paths,
        };
        newton_solve(obj, &x0, bx, opts.max_newton_iters, &mut rec)?
    };
    let mut gn_path = Vec::new();
    let gn_end = grad_norm_solve(obj, &x0, bx, opts, &mut gn_path)?;
    for (end, from_newton) in [(newton_end, true), (gn_end, false)] {
        if end.grad_norm.is_nan() || end.grad_norm > opts.tol.grad {
            out.not_critical += 1;
        } else if !bx.contains(&end.point, 1e-9) {
            out.outside += 1;
        } else {
            out.accepted.push((end.point, end.grad_norm, from_newton));
        }
    }
    out.path.newton = newton_path;
    out.path.grad_norm = gn_path;
    Ok(out)
}

/// Whether a degenerate critical point lies on a continuum of critical points: step along each
/// null eigenvector and polish; landing on another critical point away from `p` says yes.
fn on_continuum<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    p: &CriticalPoint,
    bx: &SearchBox,
    opts: &SearchOptions,
) -> Result<bool> {
    let zero = p.zero_threshold;
    let delta = 1e-3 * bx.diameter();
    for (k, &l) in p.spectrum.eigenvalues.iter().enumerate() {
        if l.abs() > zero {
            continue;
        }
        let u = p.spectrum.eigenvector(k);
        for sign in [1.0, -1.0] {
            let x1: Vec<f64> = p
                .point
                .iter()
                .zip(&u)
                .map(|(a, b)| a + sign * delta * b)
                .collect();
            let mut scratch = Vec::new();
            let mut rec = Recorder {
                path: &mut scratch,
                keep_all: false,
            };
            let end = newton_solve(obj, &x1, bx, opts.max_newton_iters, &mut rec)?;
            let dist: f64 = norm(
                &end.point
                    .iter()
                    .zip(&p.point)
                    .map(|(a, b)| a - b)
                    .collect::<Vec<_>>(),
            );
            if end.grad_norm <= opts.tol.grad && dist >= 0.5 * delta {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Finds every critical point of `obj` in `bx` (see the module docs for the method).
///
/// # Requirements
/// The objective implements [`Gradient`], [`Hessian`] and [`Hvp`] (a [`crate::expr::Formula`]
/// does, exactly).
///
/// Postconditions: `points` are distinct (farther apart than `merge_tol · diameter`), inside the
/// box, each with `‖∇f‖ ≤ tol.grad`, sorted by value then coordinates; `paths` has one entry per
/// start in start order; the same inputs give the same result.
///
/// # Errors
/// A box whose dimension differs from the objective's, an error of the objective other than a
/// non-finite value (which skips the start instead).
///
/// # Example
/// ```
/// # use critpt::critical::{find_critical_points, SearchBox, SearchOptions, CriticalKind};
/// # use critpt::expr::Formula;
/// let f = Formula::parse("x^4 - 2*x^2 + y^2").unwrap(); // the double well
/// let bx = SearchBox::try_new(&[(-2.0, 2.0), (-2.0, 2.0)]).unwrap();
/// let res = find_critical_points(&f, &bx, &SearchOptions::default()).unwrap();
/// let kinds: Vec<_> = res.points.iter().map(|p| p.kind).collect();
/// assert_eq!(kinds, [CriticalKind::Minimum, CriticalKind::Minimum, CriticalKind::Saddle]);
/// ```
pub fn find_critical_points<O: Gradient + Hessian + Hvp + ?Sized>(
    obj: &O,
    bx: &SearchBox,
    opts: &SearchOptions,
) -> Result<SearchResult> {
    if obj.n_params() != bx.n_dims() {
        return Err(Error::dim("search box", obj.n_params(), bx.n_dims()));
    }
    SearchOptions::default().with_starts(opts.starts)?;
    SearchOptions::default().with_max_rounds(opts.max_rounds)?;
    let counted = Counted::new(obj);
    let merge_dist = opts.merge_tol * bx.diameter();
    let mut outcomes: Vec<StartOutcome> = Vec::new();
    // Representatives (point, gradient norm), their verdicts and continuum flags; `dirty` marks
    // a representative that is new or was replaced this round and needs classifying.
    let mut reps: Vec<(Vec<f64>, f64)> = Vec::new();
    let mut classified: Vec<Option<CriticalPoint>> = Vec::new();
    let mut continuum: Vec<bool> = Vec::new();
    let mut assign: Vec<[Option<usize>; 2]> = Vec::new();
    let mut stats = SearchStats::default();
    let mut round_size = opts.starts;
    loop {
        let first = stats.starts;
        let starts: Vec<Vec<f64>> = halton_range(first, round_size, bx.n_dims(), opts.seed)
            .iter()
            .map(|u| bx.from_unit(u))
            .collect();
        let round: Vec<StartOutcome> = starts
            .into_par_iter()
            .map(|x0| run_start(&counted, x0, bx, opts))
            .collect::<Result<_>>()?;
        stats.rounds += 1;
        stats.starts += round_size;
        // Merge in start order: Newton's end before the gradient-norm end of the same start.
        let known = reps.len();
        let mut dirty = vec![false; known];
        for o in &round {
            let mut slots = [None, None];
            if o.path.skipped {
                stats.skipped += 1;
            } else {
                stats.runs += 2;
            }
            stats.not_critical += o.not_critical;
            stats.outside_box += o.outside;
            stats.accepted += o.accepted.len();
            for (p, gn, from_newton) in &o.accepted {
                let found = reps.iter().position(|(q, _)| {
                    p.iter()
                        .zip(q)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt()
                        <= merge_dist
                });
                let idx = match found {
                    Some(i) => {
                        if *gn < reps[i].1 {
                            reps[i] = (p.clone(), *gn);
                            dirty[i] = true;
                        }
                        i
                    }
                    None => {
                        reps.push((p.clone(), *gn));
                        dirty.push(true);
                        reps.len() - 1
                    }
                };
                slots[usize::from(!*from_newton)] = Some(idx);
            }
            assign.push(slots);
        }
        outcomes.extend(round);
        // Classify what is new or changed, in parallel; then the continuum test on it.
        let todo: Vec<usize> = (0..reps.len()).filter(|&i| dirty[i]).collect();
        let fresh: Vec<(CriticalPoint, bool)> = todo
            .par_iter()
            .map(|&i| {
                let p = classify_point(&counted, &reps[i].0, &opts.tol)?;
                let has_zero = p
                    .spectrum
                    .eigenvalues
                    .iter()
                    .any(|l| l.abs() <= p.zero_threshold);
                let on = if has_zero && p.kind != CriticalKind::NotCritical {
                    on_continuum(&counted, &p, bx, opts)?
                } else {
                    false
                };
                Ok((p, on))
            })
            .collect::<Result<_>>()?;
        classified.resize(reps.len(), None);
        continuum.resize(reps.len(), false);
        for (&i, (p, on)) in todo.iter().zip(fresh) {
            classified[i] = Some(p);
            continuum[i] = on;
        }
        let new_isolated = (known..reps.len()).filter(|&i| !continuum[i]).count();
        stats.new_per_round.push(new_isolated);
        if new_isolated == 0
            || stats.rounds >= opts.max_rounds
            || stats.starts + stats.starts > MAX_STARTS
        {
            break;
        }
        round_size = stats.starts;
    }
    let classified: Vec<CriticalPoint> = classified.into_iter().flatten().collect();

    // Sort by value (quantized so that rounding-level differences tie), then coordinates.
    let vmax = classified.iter().fold(1.0f64, |m, p| m.max(p.value.abs()));
    let quantum = 1e-9 * vmax;
    let key = |p: &CriticalPoint| (p.value / quantum).round();
    let mut order: Vec<usize> = (0..classified.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&classified[a], &classified[b]);
        key(pa).total_cmp(&key(pb)).then_with(|| {
            pa.point
                .iter()
                .zip(&pb.point)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut new_index = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut slots: Vec<Option<CriticalPoint>> = classified.into_iter().map(Some).collect();
    let points: Vec<CriticalPoint> = order.iter().filter_map(|&i| slots[i].take()).collect();
    let on_continuum: Vec<bool> = order.iter().map(|&i| continuum[i]).collect();
    let continuum_points = on_continuum.iter().filter(|&&c| c).count();

    let paths: Vec<StartPath> = outcomes
        .into_iter()
        .zip(assign)
        .map(|(o, [a, b])| StartPath {
            newton_point: a.map(|i| new_index[i]),
            grad_norm_point: b.map(|i| new_index[i]),
            ..o.path
        })
        .collect();

    let mut warnings = Vec::new();
    if stats.skipped > 0 {
        let first = paths.iter().find(|p| p.skipped).map(|p| p.start.clone());
        warnings.push(format!(
            "{} of {} starts skipped: the function or its derivatives are not finite there (first at ({}))",
            stats.skipped,
            stats.starts,
            first
                .unwrap_or_default()
                .iter()
                .map(|v| format!("{v:.6}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let last_new = stats.new_per_round.last().copied().unwrap_or(0);
    if last_new > 0 && opts.max_rounds > 1 {
        warnings.push(format!(
            "the search stopped after {} rounds ({} starts) while the last round still found {last_new} new critical points: there may be more (raise --max-rounds or --starts)",
            stats.rounds, stats.starts
        ));
    }
    if continuum_points > 0 {
        warnings.push(format!(
            "{continuum_points} of the {} points lie on a continuum of critical points (the gradient vanishes along a curve or surface through them): they are samples of it, not isolated points",
            points.len()
        ));
    }
    Ok(SearchResult {
        points,
        on_continuum,
        continuum_points,
        paths,
        stats,
        warnings,
        evals: counted.counts(),
    })
}

#[cfg(test)]
mod tests;
