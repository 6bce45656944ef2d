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
//!    `H ∇f ≈ 0` but `∇f ≠ 0` (docs/reference.md §6); those runs are counted in
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
//! [`DEFAULT_STARTS`] = 128, Himmelblau's nine points take two rounds (256 starts, the cost of a
//! fixed round of 256), and the 81 points of the 2-D Rastrigin function on `[−2.2, 2.2]²`
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
//! # Layout
//! One file per job: [`SearchBox`] (`search_box.rs`), the starts (`halton.rs`), the options and
//! limits (`options.rs`), Newton on `∇f = 0` (`newton.rs`) and the Levenberg–Marquardt step it
//! falls back on, also a minimizer of its own, [`minimize_gradient_norm`]
//! (`levenberg_marquardt.rs`), L-BFGS on `½‖∇f‖²` (`grad_norm.rs`), merging and ordering
//! (`merge.rs`), the continuum test (`continuum.rs`), what a search returns (`result.rs`); this
//! file runs the rounds.
//!
//! # References
//! Nocedal & Wright (2006), *Numerical Optimization*, ch. 4 (trust regions), ch. 7 (L-BFGS),
//! ch. 11 (Newton and Levenberg–Marquardt for nonlinear equations). Owen (1997), scrambled nets.
//! Doye & Wales (2002) and Pennington & Bahri (2017) on minimizing `‖∇f‖²` to find saddles.

mod continuum;
mod grad_norm;
mod halton;
mod levenberg_marquardt;
mod merge;
mod newton;
mod options;
mod result;
mod search_box;

pub use halton::{halton_points, halton_range};
pub use levenberg_marquardt::{minimize_gradient_norm, GradNormRun};
pub use options::{SearchOptions, DEFAULT_MAX_ROUNDS, DEFAULT_STARTS, MAX_STARTS};
pub use result::{SearchResult, SearchStats, StartPath};
pub use search_box::SearchBox;

use crate::critical::classify::{classify_point, CriticalKind, CriticalPoint};
use crate::error::{Error, Result};
use crate::objective::{Counted, Gradient, Hessian, Hvp};
use continuum::on_continuum;
use grad_norm::grad_norm_solve;
use merge::{order_by_value, Representatives};
use newton::{is_non_finite, newton_solve, Recorder};
use rayon::prelude::*;

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
    let mut outcomes: Vec<StartOutcome> = Vec::new();
    // Representatives, their verdicts and continuum flags; `dirty` marks a representative that
    // is new or was replaced this round and needs classifying.
    let mut reps = Representatives::new(opts.merge_tol * bx.diameter());
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
                let idx = reps.insert(p, *gn, &mut dirty);
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
                let p = classify_point(&counted, reps.point(i), &opts.tol)?;
                let has_zero = p
                    .spectrum
                    .eigenvalues()
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
    let order = order_by_value(&classified);
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
            "the search stopped after {} rounds ({} starts) while the last round still found {last_new} new critical points: there may be more (raise the max rounds or the starts)",
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
