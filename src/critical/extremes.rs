//! The second-order test from the extreme eigenpairs only (matrix-free, [`Lanczos`]).
//!
//! Without the full spectrum some answers are certain and others are not; the verdict says
//! which. Two facts carry it:
//! - **Interlacing** (Cauchy): the `i`-th smallest Ritz value of any Rayleigh–Ritz projection is
//!   at least the `i`-th smallest eigenvalue (and symmetrically at the top). So `i` Ritz values
//!   below `−τ` prove at least `i` negative eigenvalues, and a Ritz value above `τ` proves a
//!   positive one: a saddle is certain as soon as both are seen.
//! - **Completeness of an end**, which is not certain but holds for a generic start block: the
//!   `k` smallest Ritz pairs are the `k` smallest eigenpairs once they have converged
//!   (residual ≤ tol·‖H‖), with every copy of each eigenvalue that appears fewer than `b` times
//!   (`b` the block size: a block Krylov space sees up to `b` copies of an eigenvalue, so `b`
//!   equal Ritz values may hide more). Counts (`index`, `minimum_ratio`) are proven only for
//!   eigenvalues seen fewer than `b` times.
//!
//! With a complete smallest end in which some eigenvalue is surely non-negative, every negative
//! eigenvalue is among those found: `index` is then exact; otherwise it is `None` and
//! `index_at_least` holds the proven lower bound. `minimum_ratio` (positive / all) needs the
//! zero eigenvalues too: it is reported when a found eigenvalue is surely positive. `kind` is
//! reported only when it follows from what is proven or complete. An eigenvalue counts as zero
//! within the same threshold `τ` as the dense test ([`Tolerances::zero_threshold`], relative to
//! the largest |Ritz value|), and each Ritz value is trusted only to within its residual.

use crate::critical::{classify_spectrum, CriticalKind, Tolerances};
use crate::curvature::{LanczosResult, Which};

/// What the extreme eigenpairs say about a point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExtremesVerdict {
    /// The kind, when it is proven (or follows from complete ends); `None` when undecided.
    pub kind: Option<CriticalKind>,
    /// The exact number of negative eigenvalues, when proven.
    pub index: Option<usize>,
    /// A proven lower bound on the number of negative eigenvalues (by interlacing).
    pub index_at_least: usize,
    /// Positive eigenvalues / all, when every non-positive one has been found.
    pub minimum_ratio: Option<f64>,
    /// The zero threshold `τ` used.
    pub zero_threshold: f64,
    /// Why the verdict is what it is, in one sentence.
    pub note: String,
}

/// The sign of one Ritz value, given its residual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sign {
    Negative,
    Zero,
    Positive,
    Ambiguous,
}

fn sign(theta: f64, residual: f64, zero: f64) -> Sign {
    if theta + residual < -zero {
        Sign::Negative
    } else if theta - residual > zero {
        Sign::Positive
    } else if theta.abs() + residual <= zero {
        Sign::Zero
    } else {
        Sign::Ambiguous
    }
}

/// Whether every eigenvalue among `values` (ascending) appears fewer than `b` times, so that
/// the block Krylov space has seen all its copies (values within `1e-6·‖H‖` or their residuals
/// count as one eigenvalue, on the safe side).
fn copies_all_seen(values: &[f64], residuals: &[f64], b: usize, norm: f64) -> bool {
    let mut run = 0;
    for i in 0..values.len() {
        let close = i > 0
            && (values[i] - values[i - 1]).abs()
                <= (residuals[i] + residuals[i - 1]).max(1e-6 * norm);
        run = if close { run + 1 } else { 1 };
        if run >= b {
            return false;
        }
    }
    true
}

/// Classifies a point from a [`LanczosResult`] for `k` pairs at the `which` end(s) of an
/// `n`-dimensional Hessian, with the gradient norm and the value there (see the module docs).
///
/// When the result holds all `n` eigenvalues, converged, this is the dense test.
///
/// # Example
/// ```
/// # use critpt::critical::{classify_extremes, CriticalKind, Tolerances};
/// # use critpt::curvature::{Lanczos, Which};
/// # use critpt::problems::QuadraticForm;
/// let mut eig: Vec<f64> = (0..50).map(|i| 1.0 + i as f64).collect();
/// eig[0] = -3.0;
/// let q = QuadraticForm::from_spectrum(&eig, 1).unwrap();
/// let r = Lanczos::new(3, Which::Both).run(&q, &[0.0; 50]).unwrap();
/// let v = classify_extremes(&r, Which::Both, 3, 50, 0.0, 0.0, &Tolerances::dual());
/// assert_eq!((v.kind, v.index), (Some(CriticalKind::Saddle), Some(1)));
/// ```
pub fn classify_extremes(
    result: &LanczosResult,
    which: Which,
    k: usize,
    n: usize,
    gradient_norm: f64,
    value: f64,
    tol: &Tolerances,
) -> ExtremesVerdict {
    let values = result.spectrum.eigenvalues();
    let residuals = &result.residuals;
    let converged = &result.converged;
    let m = values.len();
    let norm = result
        .norm_estimate
        .max(values.iter().fold(0.0f64, |a, l| a.max(l.abs())));
    let zero = tol.zero_threshold(norm, value);
    let not_critical = gradient_norm > tol.grad || gradient_norm.is_nan();
    if m == n && converged.iter().all(|&c| c) {
        let c = classify_spectrum(values, gradient_norm, value, tol);
        return ExtremesVerdict {
            kind: Some(c.kind),
            index: Some(c.index),
            index_at_least: c.index,
            minimum_ratio: Some(c.minimum_ratio),
            zero_threshold: zero,
            note: "every eigenvalue was found".into(),
        };
    }
    let (lo, hi) = match which {
        Which::Smallest => (0..m, m..m),
        Which::Largest => (0..0, 0..m),
        Which::Both => (0..k.min(m), m - k.min(m)..m),
    };
    let b = result.block_size;
    let signs: Vec<Sign> = values
        .iter()
        .zip(residuals)
        .map(|(&t, &r)| sign(t, r, zero))
        .collect();
    // Interlacing: Ritz values below −τ prove as many negative eigenvalues.
    let index_at_least = values[lo.clone()].iter().filter(|&&t| t < -zero).count();
    // Any Ritz value lies in [λmin, λmax]: one below −τ proves a negative eigenvalue, one above
    // τ a positive one.
    let proven_negative = values.first().is_some_and(|&t| t < -zero);
    let proven_positive = values.last().is_some_and(|&t| t > zero);
    let lo_converged = !lo.is_empty() && converged[lo.clone()].iter().all(|&c| c);
    let hi_converged = !hi.is_empty() && converged[hi.clone()].iter().all(|&c| c);
    let lo_signs = &signs[lo.clone()];
    let lo_decided = lo_converged && lo_signs.iter().all(|&s| s != Sign::Ambiguous);
    // The found values of the given signs, with every copy seen.
    let all_seen = |keep: &[Sign]| {
        let idx: Vec<usize> = lo.clone().filter(|&i| keep.contains(&signs[i])).collect();
        let v: Vec<f64> = idx.iter().map(|&i| values[i]).collect();
        let r: Vec<f64> = idx.iter().map(|&i| residuals[i]).collect();
        copies_all_seen(&v, &r, b, norm)
    };
    // Every negative eigenvalue is among the k smallest once one of them is surely ≥ −τ.
    let index = (lo_decided
        && lo_signs.iter().any(|&s| s != Sign::Negative)
        && all_seen(&[Sign::Negative]))
    .then(|| lo_signs.iter().filter(|&&s| s == Sign::Negative).count());
    // And every zero one too, once one of them is surely positive.
    let minimum_ratio = (lo_decided
        && lo_signs.contains(&Sign::Positive)
        && all_seen(&[Sign::Negative, Sign::Zero]))
    .then(|| {
        let nonpositive = lo_signs.iter().filter(|&&s| s != Sign::Positive).count();
        (n - nonpositive) as f64 / n as f64
    });
    let lowest_zero = lo_decided && lo_signs.first() == Some(&Sign::Zero);
    let hi_signs = &signs[hi.clone()];
    let hi_decided = hi_converged && hi_signs.iter().all(|&s| s != Sign::Ambiguous);
    let highest_zero = hi_decided && hi_signs.last() == Some(&Sign::Zero);
    let (kind, note) = if not_critical {
        (
            Some(CriticalKind::NotCritical),
            "the gradient is not zero".to_string(),
        )
    } else if proven_negative && proven_positive {
        (
            Some(CriticalKind::Saddle),
            "eigenvalues of both signs (proven by interlacing)".into(),
        )
    } else if lo_decided && lo_signs.first() == Some(&Sign::Positive) {
        (
            Some(CriticalKind::Minimum),
            "the smallest eigenvalues are positive and complete".into(),
        )
    } else if hi_decided && hi_signs.last() == Some(&Sign::Negative) {
        (
            Some(CriticalKind::Maximum),
            "the largest eigenvalues are negative and complete".into(),
        )
    } else if (lowest_zero && (proven_positive || index == Some(0)))
        || (highest_zero && !proven_positive)
    {
        (
            Some(CriticalKind::Degenerate),
            "zero eigenvalues without a sign pair".into(),
        )
    } else {
        let why = if !(lo_converged || hi_converged) {
            "the wanted pairs are unconverged"
        } else {
            "the extremes found do not settle it"
        };
        (
            None,
            format!(
                "undecided: {why}; extremes {:.3e}, {:.3e}, zero threshold {zero:.1e}",
                values.first().copied().unwrap_or(f64::NAN),
                values.last().copied().unwrap_or(f64::NAN)
            ),
        )
    };
    ExtremesVerdict {
        kind,
        index,
        index_at_least: index.unwrap_or(index_at_least),
        minimum_ratio,
        zero_threshold: zero,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curvature::Lanczos;
    use crate::problems::QuadraticForm;

    /// The verdict of `k` pairs at both ends of `½θᵀAθ` at 0, with `A` of the given spectrum.
    fn verdict(eig: &[f64], k: usize, which: Which) -> ExtremesVerdict {
        let q = QuadraticForm::from_spectrum(eig, 3).unwrap();
        let n = eig.len();
        let r = Lanczos::new(k, which)
            .with_seed(1)
            .run(&q, &vec![0.0; n])
            .unwrap();
        classify_extremes(&r, which, k, n, 0.0, 0.0, &Tolerances::dual())
    }

    fn spectrum(low: &[f64], n: usize) -> Vec<f64> {
        let mut e: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 / n as f64).collect();
        e[..low.len()].copy_from_slice(low);
        e
    }

    #[test]
    fn index_and_ratio_are_exact_once_a_found_eigenvalue_is_positive() {
        let v = verdict(&spectrum(&[-3.0, -2.0], 60), 3, Which::Both);
        assert_eq!(v.kind, Some(CriticalKind::Saddle));
        assert_eq!((v.index, v.index_at_least), (Some(2), 2));
        assert_eq!(v.minimum_ratio, Some(58.0 / 60.0));
    }

    #[test]
    fn more_negatives_than_found_give_a_lower_bound_only() {
        let v = verdict(&spectrum(&[-4.0, -3.0, -2.0, -1.5], 60), 3, Which::Both);
        assert_eq!(v.kind, Some(CriticalKind::Saddle));
        assert_eq!((v.index, v.index_at_least), (None, 3));
        assert_eq!(v.minimum_ratio, None);
    }

    #[test]
    fn an_eigenvalue_repeated_as_often_as_the_block_proves_no_count() {
        // −2 three times with k = b = 3: a fourth copy could hide; and k = 4 sees all three.
        let eig = spectrum(&[-2.0, -2.0, -2.0], 60);
        let v = verdict(&eig, 3, Which::Both);
        assert_eq!((v.index, v.index_at_least), (None, 3));
        let v = verdict(&eig, 4, Which::Both);
        assert_eq!((v.index, v.index_at_least), (Some(3), 3));
        assert_eq!(v.minimum_ratio, Some(57.0 / 60.0));
    }

    #[test]
    fn minimum_degenerate_and_maximum_follow_from_complete_ends() {
        let v = verdict(&spectrum(&[0.5], 60), 2, Which::Both);
        assert_eq!(
            (v.kind, v.index, v.minimum_ratio),
            (Some(CriticalKind::Minimum), Some(0), Some(1.0))
        );
        let v = verdict(&spectrum(&[0.0], 60), 2, Which::Smallest);
        assert_eq!((v.kind, v.index), (Some(CriticalKind::Degenerate), Some(0)));
        assert_eq!(v.minimum_ratio, Some(59.0 / 60.0));
        let neg: Vec<f64> = spectrum(&[], 60).iter().map(|l| -l).collect();
        let v = verdict(&neg, 2, Which::Largest);
        assert_eq!((v.kind, v.index), (Some(CriticalKind::Maximum), None));
    }

    #[test]
    fn one_end_alone_cannot_prove_a_saddle_from_the_other_side() {
        // Only the largest, all positive: the negative eigenvalue is unseen, so no verdict.
        let v = verdict(&spectrum(&[-1.0], 60), 2, Which::Largest);
        assert_eq!(v.kind, None);
        assert_eq!(v.index, None);
        // The smallest alone proves the saddle: a Ritz value above τ proves a positive one.
        let v = verdict(&spectrum(&[-1.0], 60), 2, Which::Smallest);
        assert_eq!((v.kind, v.index), (Some(CriticalKind::Saddle), Some(1)));
    }
}
