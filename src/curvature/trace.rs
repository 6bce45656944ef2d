//! Stochastic trace estimators: the trace of a Hessian from Hessian-vector products.
//!
//! [`hutchinson`] averages $z^\top H z$ over seeded Rademacher vectors; [`hutch_plus_plus`]
//! first removes the top of the spectrum exactly through a sketch, then applies Hutchinson to the
//! deflated remainder, which needs far fewer products when the spectrum decays. Both take a
//! budget in products and report the estimate, its standard error and the products used
//! ([`TraceEstimate`]).

use crate::curvature::lanczos::{axpy, dot, rademacher_vec, HvpOperator};
use crate::error::{Error, Result};
use crate::objective::Hvp;
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A trace estimate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TraceEstimate {
    /// The estimate of `tr(H)`.
    pub estimate: f64,
    /// Its standard error: the sample standard deviation of the stochastic terms over the square
    /// root of their number (0 when the estimate is exact).
    pub std_error: f64,
    /// Hessian-vector products used.
    pub n_matvecs: usize,
    /// The seed of the random vectors.
    pub seed: u64,
}

/// Probes per call to [`HvpOperator::apply_many`]: enough for blocked products to pay off,
/// few enough that `O(n·PROBES)` memory stays small.
const PROBES: usize = 32;

/// `z_iᵀ H z_i` for `count` Rademacher probes drawn in order from `rng`, the products made
/// [`PROBES`] at a time; `deflate` (if any) is applied to each probe first.
fn quadratic_forms<O: Hvp + ?Sized>(
    op: &mut HvpOperator<'_, O>,
    rng: &mut StdRng,
    count: usize,
    deflate: &dyn Fn(&mut [f64]),
) -> Result<Vec<f64>> {
    let n = op.dim();
    let mut samples = Vec::with_capacity(count);
    let mut hz = Vec::new();
    while samples.len() < count {
        let k = PROBES.min(count - samples.len());
        let mut zs = Vec::with_capacity(n * k);
        for _ in 0..k {
            let mut z = rademacher_vec(n, rng);
            deflate(&mut z);
            zs.extend_from_slice(&z);
        }
        hz.resize(n * k, 0.0);
        op.apply_many(&zs, k, &mut hz)?;
        samples.extend(
            zs.chunks_exact(n)
                .zip(hz.chunks_exact(n))
                .map(|(z, h)| dot(z, h)),
        );
    }
    Ok(samples)
}

/// Sample mean and standard error of the mean (the sample standard deviation over `√m`; NaN
/// for fewer than two samples).
pub(crate) fn mean_and_se(samples: &[f64]) -> (f64, f64) {
    let m = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / m;
    if samples.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (m - 1.0);
    (mean, (var / m).sqrt())
}

/// Hutchinson's trace estimator with Rademacher vectors.
///
/// $\widehat{\mathrm{tr}}(H) = \frac1m \sum_{i=1}^m z_i^\top H z_i$ with $z_i \in \{\pm1\}^n$
/// i.i.d. uniform; unbiased, with variance $\frac2m(\|H\|_F^2 - \sum_i H_{ii}^2)$.
///
/// # Requirements
/// The objective implements [`Hvp`].
///
/// # Cost
/// Exactly `n_matvecs` products, made 32 at a time; `O(32·n)` memory.
///
/// # Errors
/// `n_matvecs < 2` (no standard error), a bad point, an operator error.
///
/// # Example
/// ```
/// # use critpt::curvature::hutchinson;
/// # use critpt::problems::QuadraticForm;
/// let q = QuadraticForm::from_spectrum(&[1.0, 2.0, 3.0], 5).unwrap();
/// let t = hutchinson(&q, &[0.0; 3], 200, 1).unwrap();
/// assert!((t.estimate - 6.0).abs() < 4.0 * t.std_error + 1e-12);
/// ```
///
/// # References
/// Hutchinson (1989), *Communications in Statistics*; Avron & Toledo (2011), *J. ACM*.
pub fn hutchinson<O: Hvp + ?Sized>(
    obj: &O,
    params: &[f64],
    n_matvecs: usize,
    seed: u64,
) -> Result<TraceEstimate> {
    if n_matvecs < 2 {
        return Err(Error::invalid(
            "matvec budget",
            format!("hutchinson needs at least 2 products, got {n_matvecs}"),
        ));
    }
    let mut op = HvpOperator::new(obj, params)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let samples = quadratic_forms(&mut op, &mut rng, n_matvecs, &|_| {})?;
    let (estimate, std_error) = mean_and_se(&samples);
    Ok(TraceEstimate {
        estimate,
        std_error,
        n_matvecs: op.n_hvps(),
        seed,
    })
}

/// Hutch++: exact trace on a sketched top subspace plus Hutchinson on the rest.
///
/// With budget $m$ products, $k = \lfloor m/3 \rfloor$ (at most $n$): draw Rademacher
/// $S \in \mathbb R^{n\times k}$, form $Q = \mathrm{orth}(HS)$ (Householder QR), then
/// $$\widehat{\mathrm{tr}}(H) = \mathrm{tr}(Q^\top H Q) + \frac1{g}\sum_{i=1}^{g} z_i^\top
/// (I-QQ^\top) H (I-QQ^\top) z_i,\qquad g = m - 2k,$$
/// with Rademacher $z_i$. The first term is exact; the standard error is that of the second
/// (Hutchinson on the deflated matrix, whose Frobenius norm is small when the spectrum decays).
/// When $k = n$ the sketch spans everything and the estimate is exact.
///
/// # Requirements
/// The objective implements [`Hvp`].
///
/// # Cost
/// At most `n_matvecs` products ($k$ for $HS$, $k$ for $HQ$, $g$ for the remainder);
/// `O(n·k)` memory.
///
/// # Errors
/// `n_matvecs < 6` (fewer than 2 Hutchinson terms), a bad point, an operator error.
///
/// # Example
/// ```
/// # use critpt::curvature::hutch_plus_plus;
/// # use critpt::problems::QuadraticForm;
/// let q = QuadraticForm::from_spectrum(&[100.0, 10.0, 1.0, 0.1, 0.01, 0.0], 5).unwrap();
/// let t = hutch_plus_plus(&q, &[0.0; 6], 30, 1).unwrap();
/// assert!((t.estimate - 111.11).abs() < 1e-8); // k = 10 > n: exact
/// ```
///
/// # References
/// Meyer, Musco, Musco & Woodruff (2021), "Hutch++: Optimal Stochastic Trace Estimation",
/// *SOSA*, Algorithm 1.
pub fn hutch_plus_plus<O: Hvp + ?Sized>(
    obj: &O,
    params: &[f64],
    n_matvecs: usize,
    seed: u64,
) -> Result<TraceEstimate> {
    if n_matvecs < 6 {
        return Err(Error::invalid(
            "matvec budget",
            format!("hutch++ needs at least 6 products, got {n_matvecs}"),
        ));
    }
    let mut op = HvpOperator::new(obj, params)?;
    let n = op.dim();
    let mut rng = StdRng::seed_from_u64(seed);
    let k = (n_matvecs / 3).min(n);
    crate::limits::check_block(
        "trace products",
        3 * k,
        n,
        "hutch++ keeps a sketch of a third of its products; use fewer products",
    )?;
    // HS, all k probes in blocked products.
    let mut s_cols = Vec::with_capacity(n * k);
    for _ in 0..k {
        s_cols.extend(rademacher_vec(n, &mut rng));
    }
    let mut hs = DMatrix::zeros(n, k);
    op.apply_many(&s_cols, k, hs.as_mut_slice())?;
    let q = hs.qr().q(); // n×k, orthonormal columns.
    let mut hq = DMatrix::zeros(n, k);
    op.apply_many(q.as_slice(), k, hq.as_mut_slice())?;
    let exact: f64 = (0..k)
        .map(|j| dot(q.column(j).as_slice(), hq.column(j).as_slice()))
        .sum();
    if k == n {
        return Ok(TraceEstimate {
            estimate: exact,
            std_error: 0.0,
            n_matvecs: op.n_hvps(),
            seed,
        });
    }
    let g = n_matvecs - 2 * k;
    // z ← (I − QQᵀ) z, twice for orthogonality to rounding.
    let deflate = |z: &mut [f64]| {
        for _ in 0..2 {
            let c = q.tr_mul(&nalgebra::DVector::from_column_slice(z));
            for (j, cj) in c.iter().enumerate() {
                axpy(-cj, q.column(j).as_slice(), z);
            }
        }
    };
    let samples = quadratic_forms(&mut op, &mut rng, g, &deflate)?;
    let (rest, std_error) = mean_and_se(&samples);
    Ok(TraceEstimate {
        estimate: exact + rest,
        std_error,
        n_matvecs: op.n_hvps(),
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::QuadraticForm;

    #[test]
    fn hutchinson_is_exact_for_diagonal_matrices() {
        // zᵀDz = Σ d_i z_i² = tr(D) for every Rademacher z: zero variance.
        let q = QuadraticForm::new(DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![
            1.0, -2.0, 3.5, 0.25,
        ])))
        .unwrap();
        let t = hutchinson(&q, &[0.0; 4], 5, 9).unwrap();
        assert!((t.estimate - 2.75).abs() < 1e-12);
        assert!(t.std_error < 1e-12);
        assert_eq!(t.n_matvecs, 5);
    }

    #[test]
    fn hutch_plus_plus_uses_its_budget_and_is_exact_for_low_rank() {
        // Rank 3 < k = 4: Q spans the range of H, the remainder is zero.
        let mut eig = vec![0.0; 40];
        eig[0] = 5.0;
        eig[1] = -2.0;
        eig[2] = 1.0;
        let q = QuadraticForm::from_spectrum(&eig, 3).unwrap();
        let t = hutch_plus_plus(&q, &vec![0.0; 40], 14, 2).unwrap();
        assert_eq!(t.n_matvecs, 14);
        assert!((t.estimate - 4.0).abs() < 1e-10, "{}", t.estimate);
        assert!(t.std_error < 1e-10);
    }

    /// The remainder is a mean over exactly `g = n_matvecs − 2k` samples. For `H = I₅₀` and the
    /// least budget (k = 2, g = 2) the sketch part is exactly 2 and each remainder sample is
    /// `‖(I − QQᵀ)z‖² = 50 − ‖Qᵀz‖²` with mean 48 and a standard deviation of about 2, so the
    /// average over 40 seeds is 50 to within about 0.25; a mean over `g + 1` would give ≈ 34.
    #[test]
    fn hutch_plus_plus_remainder_is_the_mean_over_its_samples() {
        let q = QuadraticForm::from_spectrum(&[1.0; 50], 7).unwrap();
        let runs: Vec<TraceEstimate> = (0..40)
            .map(|seed| hutch_plus_plus(&q, &[0.0; 50], 6, seed).unwrap())
            .collect();
        assert!(runs.iter().all(|t| t.n_matvecs == 6));
        // Each estimate is 2 + mean of two samples ≤ 50: at most 52.
        assert!(runs.iter().all(|t| t.estimate <= 52.0 + 1e-9));
        let mean = runs.iter().map(|t| t.estimate).sum::<f64>() / runs.len() as f64;
        assert!((mean - 50.0).abs() < 1.5, "mean estimate {mean}");
    }

    #[test]
    fn rejects_small_budgets() {
        let q = QuadraticForm::from_spectrum(&[1.0, 2.0], 0).unwrap();
        assert!(hutchinson(&q, &[0.0; 2], 1, 0).is_err());
        assert!(hutch_plus_plus(&q, &[0.0; 2], 5, 0).is_err());
        assert!(hutchinson(&q, &[0.0; 3], 4, 0).is_err());
    }
}
