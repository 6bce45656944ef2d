//! How many eigenvalues are negative, zero and positive, without computing them.
//!
//! Sylvester's law of inertia: `A − σI = P L D Lᵀ Pᵀ` with `L` unit lower triangular and `D`
//! block diagonal (1×1 and 2×2 blocks) is a congruence, so `A − σI` and `D` have the same
//! numbers of negative, zero and positive eigenvalues, and those of `D` are read off its blocks.
//! [`inertia_at`] factors `A − σI` once (Bunch–Kaufman `LBLᵀ`: faer's by default, LAPACK's
//! `dsytrf` with the `lapack` feature through [`inertia_at_with`]; timings in
//! [`EigenBackend::fastest_factorization`]);
//! [`inertia`] factors `A − τI` and `A + τI` (in one reused buffer) and counts the eigenvalues below `−τ`, inside
//! `[−τ, τ]` and above `τ`: the classifier's verdict for a zero threshold `τ` without the
//! spectrum. [`inertia_with_threshold`] also finds the extreme eigenpairs, whose largest
//! magnitude scales `τ` the way the dense classifier does.
//!
//! Accuracy: Bunch–Kaufman is backward stable, so the counts are exact for a matrix within a
//! small multiple of `n·ε·‖A‖` of `A` (with the same caveat as any dense eigensolver, whose
//! eigenvalues carry errors of that size): an eigenvalue farther than that from `±τ` is counted
//! on its correct side.

use crate::curvature::dense::{
    extreme_eigenpairs, extreme_eigenpairs_within, EigenBackend, Extremes,
};
use crate::error::{ensure_finite, Error, Result};
use nalgebra::DMatrix;

/// Numbers of negative, zero and positive eigenvalues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Inertia {
    /// Eigenvalues below the interval (or below the shift).
    pub negative: usize,
    /// Eigenvalues inside the interval (or equal to the shift).
    pub zero: usize,
    /// Eigenvalues above the interval (or above the shift).
    pub positive: usize,
}

impl Inertia {
    /// `negative + zero + positive`: the matrix size.
    pub fn total(&self) -> usize {
        self.negative + self.zero + self.positive
    }
}

fn check_square(a: &DMatrix<f64>) -> Result<()> {
    if a.nrows() != a.ncols() {
        return Err(Error::Unsupported(format!(
            "the inertia needs a square matrix, got {}x{}",
            a.nrows(),
            a.ncols()
        )));
    }
    Ok(())
}

/// The inertia of `a − shift·I`: how many eigenvalues of the symmetric matrix `a` lie below,
/// at and above `shift`. Reads the lower triangle of `a`. The factorization is
/// [`EigenBackend::fastest_factorization`]'s; [`inertia_at_with`] chooses.
///
/// An exactly zero pivot (a 1×1 block of `D` that is `0`, or a singular 2×2 block) counts as a
/// zero eigenvalue; in floating point that happens only when `shift` is an eigenvalue to
/// rounding and `a − shift·I` is exactly singular.
///
/// # Cost
/// One `LBLᵀ` factorization: `n³/3` flops, mostly matrix products; memory one `n×n` copy.
/// On the 2-core development machine: 1.55 s at n = 5059 when quiet (faer), against 13.5 s for
/// faer's eigenvalues alone and 6.3 s for numpy's `eigvalsh`.
///
/// # Errors
/// A non-square or non-finite matrix, a non-finite shift.
///
/// # Example
/// ```
/// # use critpt::curvature::{inertia_at, Inertia};
/// let a = nalgebra::DMatrix::from_row_slice(3, 3, &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 5.0]);
/// // Eigenvalues −1, 1, 5.
/// let i = inertia_at(&a, 2.0).unwrap();
/// assert_eq!(i, Inertia { negative: 2, zero: 0, positive: 1 });
/// ```
pub fn inertia_at(a: &DMatrix<f64>, shift: f64) -> Result<Inertia> {
    inertia_at_with(a, shift, EigenBackend::fastest_factorization())
}

/// [`inertia_at`] with a chosen factorization: faer's Bunch–Kaufman `LBLᵀ`
/// ([`EigenBackend::Faer`]) or LAPACK's `dsytrf` ([`EigenBackend::Lapack`], with the `lapack`
/// feature). Both pivot by Bunch–Kaufman's rule and are backward stable; their counts agree
/// except for eigenvalues within rounding of the shift.
///
/// # Errors
/// As [`inertia_at`]; [`EigenBackend::Nalgebra`] (nalgebra has no symmetric indefinite
/// factorization) and [`EigenBackend::Lapack`] in a build without the feature.
pub fn inertia_at_with(a: &DMatrix<f64>, shift: f64, backend: EigenBackend) -> Result<Inertia> {
    check_square(a)?;
    ensure_finite("matrix", a.as_slice())?;
    check_shift("shift", shift)?;
    let mut buf = Vec::new();
    shifted_inertia(a, shift, backend, &mut buf)
}

fn check_shift(name: &str, shift: f64) -> Result<()> {
    if shift.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(name, format!("must be finite, got {shift}")))
    }
}

/// Copies `a − shift·I` into `buf` (reused across calls, so two factorizations page in one
/// buffer) and factors its lower triangle there.
fn shifted_inertia(
    a: &DMatrix<f64>,
    shift: f64,
    backend: EigenBackend,
    buf: &mut Vec<f64>,
) -> Result<Inertia> {
    let n = a.nrows();
    if n == 0 {
        return Ok(Inertia::default());
    }
    // The whole matrix, so that neither factorization sees what the last one left behind.
    buf.clear();
    buf.extend_from_slice(a.as_slice());
    for i in 0..n {
        buf[i * n + i] -= shift;
    }
    match backend {
        EigenBackend::Faer => Ok(faer_inertia(buf, n)),
        EigenBackend::Lapack => lapack_inertia(buf, n),
        EigenBackend::Nalgebra => Err(Error::Unsupported(
            "the nalgebra backend has no symmetric indefinite factorization; use faer or lapack"
                .into(),
        )),
    }
}

/// Factors the column-major `n×n` lower triangle in `buf` in place with faer's `LBLᵀ`.
fn faer_inertia(buf: &mut [f64], n: usize) -> Inertia {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::lblt::factor::{cholesky_in_place, cholesky_in_place_scratch};
    let par = faer::get_global_parallelism();
    let mut m = faer::MatMut::from_column_major_slice_mut(buf, n, n);
    let mut subdiag = faer::diag::Diag::<f64>::zeros(n);
    let mut perm = vec![0usize; n];
    let mut perm_inv = vec![0usize; n];
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<usize, f64>(
        n,
        par,
        Default::default(),
    ));
    cholesky_in_place(
        m.as_mut(),
        subdiag.as_mut(),
        &mut perm,
        &mut perm_inv,
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    let diag: Vec<f64> = (0..n).map(|i| m[(i, i)]).collect();
    let off: Vec<f64> = (0..n).map(|i| subdiag[i]).collect();
    block_diagonal_inertia(&diag, &off)
}

/// Factors the column-major `n×n` lower triangle in `buf` in place with LAPACK's `dsytrf`
/// (`A = L D Lᵀ`, Bunch–Kaufman) and reads the inertia off `D`.
#[cfg(feature = "lapack")]
fn lapack_inertia(buf: &mut [f64], n: usize) -> Result<Inertia> {
    let ni = i32::try_from(n)
        .map_err(|_| Error::Unsupported(format!("lapack: n = {n} exceeds 32-bit indices")))?;
    let mut ipiv = vec![0i32; n];
    let mut info = 0;
    let mut query = [0.0f64];
    // SAFETY: `buf` is a column-major n×n array with leading dimension n and `ipiv` has n
    // entries; lwork = −1 only asks for the optimal workspace size.
    unsafe { lapack::dsytrf(b'L', ni, buf, ni, &mut ipiv, &mut query, -1, &mut info) };
    let lwork = (query[0] as usize).max(1);
    let lwork_i = i32::try_from(lwork).unwrap_or(i32::MAX);
    let mut work = vec![0.0; lwork];
    // SAFETY: as above, with a workspace of the size dsytrf asked for.
    unsafe { lapack::dsytrf(b'L', ni, buf, ni, &mut ipiv, &mut work, lwork_i, &mut info) };
    if info < 0 {
        return Err(Error::Unsupported(format!(
            "lapack dsytrf rejected argument {}",
            -info
        )));
    }
    // info > 0: an exactly zero 1×1 pivot, which counts as a zero eigenvalue below.
    let diag: Vec<f64> = (0..n).map(|i| buf[i * n + i]).collect();
    // With UPLO = 'L' a 2×2 block at k, k+1 has ipiv[k] = ipiv[k+1] < 0 and its off-diagonal
    // entry at (k+1, k).
    let mut off = vec![0.0; n];
    let mut k = 0;
    while k < n {
        if ipiv[k] < 0 && k + 1 < n {
            off[k] = buf[k * n + k + 1];
            k += 2;
        } else {
            k += 1;
        }
    }
    Ok(block_diagonal_inertia(&diag, &off))
}

#[cfg(not(feature = "lapack"))]
fn lapack_inertia(_buf: &mut [f64], _n: usize) -> Result<Inertia> {
    Err(Error::Unsupported(
        "the lapack backend needs critpt built with `--features lapack`".into(),
    ))
}

/// The inertia of a symmetric block-diagonal matrix given by its diagonal and the
/// sub-diagonal entries of its 2×2 blocks (`off[i] ≠ 0` couples `i` and `i + 1`; zero
/// elsewhere), as faer's `LBLᵀ` stores `D`.
fn block_diagonal_inertia(diag: &[f64], off: &[f64]) -> Inertia {
    let mut counts = Inertia::default();
    let mut count = |x: f64| match x.partial_cmp(&0.0) {
        Some(std::cmp::Ordering::Less) => counts.negative += 1,
        Some(std::cmp::Ordering::Greater) => counts.positive += 1,
        // Zero (and a NaN from an overflowing pivot, which cannot be signed) count as zero.
        _ => counts.zero += 1,
    };
    let n = diag.len();
    let mut i = 0;
    while i < n {
        let b = if i + 1 < n { off[i] } else { 0.0 };
        if b == 0.0 {
            count(diag[i]);
            i += 1;
            continue;
        }
        // [[p, b], [b, r]]: the determinant's sign, scaled by |b| against overflow.
        let (p, r) = (diag[i] / b.abs(), diag[i + 1] / b.abs());
        let det = p * r - 1.0;
        if det < 0.0 {
            count(-1.0);
            count(1.0);
        } else if det > 0.0 {
            // Both eigenvalues share the sign of the diagonal (p and r agree in sign).
            count(p);
            count(p);
        } else {
            count(0.0);
            count(p + r);
        }
        i += 2;
    }
    counts
}

/// The eigenvalues of the symmetric matrix `a` below `−tau`, inside `[−tau, tau]` and above
/// `tau`, counted exactly (to the backward error of the factorization) from two `LBLᵀ`
/// factorizations: the negative count of `a + τI` and the positive count of `a − τI`. With
/// `tau = 0` one factorization is enough.
///
/// These are the classifier's counts when `tau` is its zero threshold
/// ([`crate::critical::Tolerances::zero_threshold`]).
///
/// # Cost
/// Two `LBLᵀ` factorizations (`2n³/3` flops) for `tau > 0`, one for `tau = 0`.
///
/// # Errors
/// A non-square or non-finite matrix; `tau` negative or not finite.
///
/// # Example
/// ```
/// # use critpt::curvature::inertia;
/// # use critpt::problems::QuadraticForm;
/// let q = QuadraticForm::from_spectrum(&[-3.0, -1e-9, 0.0, 2e-9, 4.0], 1).unwrap();
/// let i = inertia(q.matrix(), 1e-6).unwrap();
/// assert_eq!((i.negative, i.zero, i.positive), (1, 3, 1));
/// ```
pub fn inertia(a: &DMatrix<f64>, tau: f64) -> Result<Inertia> {
    inertia_with(a, tau, EigenBackend::fastest_factorization())
}

/// [`inertia`] with a chosen factorization (see [`inertia_at_with`]).
///
/// # Errors
/// As [`inertia`] and [`inertia_at_with`].
pub fn inertia_with(a: &DMatrix<f64>, tau: f64, backend: EigenBackend) -> Result<Inertia> {
    if !(tau.is_finite() && tau >= 0.0) {
        return Err(Error::invalid(
            "zero threshold",
            format!("must be finite and non-negative, got {tau}"),
        ));
    }
    check_square(a)?;
    ensure_finite("matrix", a.as_slice())?;
    let mut buf = Vec::new();
    if tau == 0.0 {
        return shifted_inertia(a, 0.0, backend, &mut buf);
    }
    let below = shifted_inertia(a, -tau, backend, &mut buf)?.negative;
    let above = shifted_inertia(a, tau, backend, &mut buf)?.positive;
    drop(buf);
    let n = a.nrows();
    // Disjoint in exact arithmetic. When τ is below the factorizations' backward error an
    // eigenvalue near 0 may be counted on both sides; it is then kept negative.
    let zero = n.saturating_sub(below + above);
    Ok(Inertia {
        negative: below,
        zero,
        positive: n - below - zero,
    })
}

/// The verdict's ingredients for a dense symmetric matrix without its spectrum: the extreme
/// eigenpairs, the zero threshold they imply and the exact counts at that threshold.
#[derive(Debug, Clone)]
pub struct InertiaSpectrum {
    /// The smallest and largest eigenpairs (block Lanczos on the dense matrix), with residuals.
    pub extremes: Extremes,
    /// The zero threshold `τ`, from `threshold(max|λ|)`.
    pub tau: f64,
    /// Eigenvalues below `−τ`, inside `[−τ, τ]`, above `τ`.
    pub counts: Inertia,
    /// The trace, exact (the sum of the diagonal).
    pub trace: f64,
}

/// Extreme eigenpairs, then the counts at the zero threshold `threshold(max|λ|)`, for a
/// classifier whose threshold is relative to the largest eigenvalue magnitude.
///
/// `max|λ|` is `max(|θ_min|, |θ_max|)` of the extreme Ritz values (relative residual
/// `lanczos_tol`, seeded by `seed`): never above the true value, and below it by at most the
/// residual (usually residual²/gap), so `τ` matches the dense classifier's threshold to a
/// relative `lanczos_tol`; with `tol_eig = 1e-8` and `lanczos_tol = 1e-6` the two thresholds
/// differ by at most `1e-14·max|λ|`, below the eigenvalues' own rounding (`n·ε·max|λ|`). Only
/// the end of larger magnitude must converge for that; the other is kept from a short run when
/// its residual already shows it is smaller (then its `converged` is false).
///
/// The factorizations are `backend`'s (see [`inertia_at_with`]).
///
/// # Cost
/// [`extreme_eigenpairs`] plus [`inertia_with`].
///
/// # Errors
/// As [`extreme_eigenpairs`] and [`inertia_with`]; a threshold that is negative or not finite.
pub fn inertia_with_threshold(
    a: &DMatrix<f64>,
    threshold: impl Fn(f64) -> f64,
    lanczos_tol: f64,
    seed: u64,
    backend: EigenBackend,
) -> Result<InertiaSpectrum> {
    let extremes = extremes_for_threshold(a, lanczos_tol, seed)?;
    let tau = threshold(extremes.max_abs());
    let counts = inertia_with(a, tau, backend)?;
    Ok(InertiaSpectrum {
        extremes,
        tau,
        counts,
        trace: a.trace(),
    })
}

/// Block steps of the short first Lanczos run of [`inertia_with_threshold`]. On the trained
/// 5059-parameter digits Hessian (relative residual 1e-6) neither end had converged after 6
/// steps (worst residual 5e-5), so the full run of both ends (34 steps, 272 products)
/// followed; the largest eigenvalue's residual after 8, 10 and 12 steps was 4e-8, 7e-11 and
/// 9e-14 (the tolerance: 2.2e-7), so 10 steps leave a margin of three orders of magnitude for
/// 80 products.
const SHORT_RUN: usize = 10;

/// The extreme eigenpairs, as far as the zero threshold needs them: a short Lanczos run first
/// ([`SHORT_RUN`] block steps), kept when both ends converged or when the end of larger
/// magnitude converged and the other end's Ritz value, widened by its residual, is smaller in
/// magnitude (then `max|λ|` is the converged one's, and the other pair is reported with its
/// residual and `converged` false); otherwise the full run of [`extreme_eigenpairs`]. On a
/// trained network the largest eigenvalue is an outlier that converges in a few steps while the
/// negative end is a cluster that needs hundreds of products.
fn extremes_for_threshold(a: &DMatrix<f64>, tol: f64, seed: u64) -> Result<Extremes> {
    match extreme_eigenpairs_within(a, tol, seed, SHORT_RUN) {
        Ok(e) if e.converged || decides_norm(&e, tol) => return Ok(e),
        Ok(_) | Err(Error::NoConvergence { .. }) => {}
        Err(e) => return Err(e),
    }
    extreme_eigenpairs(a, tol, seed)
}

/// Whether the pair of larger magnitude has converged (`residual ≤ tol·|value|`) and exceeds
/// the other pair's magnitude plus its residual.
fn decides_norm(e: &Extremes, tol: f64) -> bool {
    let (big, other) = if e.largest.value.abs() >= e.smallest.value.abs() {
        (&e.largest, &e.smallest)
    } else {
        (&e.smallest, &e.largest)
    };
    big.residual <= tol * big.value.abs() && big.value.abs() > other.value.abs() + other.residual
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two_blocks_are_signed_by_their_determinant() {
        // [[0, 1], [1, 0]]: −1, 1; [[2, 1], [1, 2]]: 1, 3; [[−2, 1], [1, −2]]: −3, −1;
        // [[1, 1], [1, 1]]: 0, 2.
        let cases = [
            ([0.0, 0.0], (1, 0, 1)),
            ([2.0, 2.0], (0, 0, 2)),
            ([-2.0, -2.0], (2, 0, 0)),
            ([1.0, 1.0], (0, 1, 1)),
        ];
        for (d, (neg, zero, pos)) in cases {
            let i = block_diagonal_inertia(&d, &[1.0, 0.0]);
            assert_eq!((i.negative, i.zero, i.positive), (neg, zero, pos), "{d:?}");
        }
        let i = block_diagonal_inertia(&[-1.0, 0.0, 3.0], &[0.0, 0.0, 0.0]);
        assert_eq!((i.negative, i.zero, i.positive), (1, 1, 1));
    }
}
