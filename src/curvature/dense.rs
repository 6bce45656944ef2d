//! Dense symmetric eigen-decomposition behind one interface.
//!
//! Backends ([`EigenBackend`]):
//! - `faer` (default): pure Rust, blocked tridiagonalization and divide and conquer; on par with
//!   LAPACK's `dsyevd` on this kind of machine.
//! - `nalgebra`: nalgebra's own `SymmetricEigen` (implicit QR); simple and slow for large `n`.
//! - `lapack` (feature `lapack`): LAPACK's `dsyev` through nalgebra-lapack and OpenBLAS.
//!
//! Whatever the backend, the result is sorted ascending with eigenvectors in matching columns,
//! and each eigenvector's sign is fixed so that its largest-magnitude entry is positive, so that
//! backends agree up to rounding on well-separated eigenvalues.
//!
//! Pay for what is used: [`symmetric_eigenvalues`] skips the eigenvectors (tridiagonalization
//! and a tridiagonal eigenvalue solver, no back-transformation), and [`extreme_eigenpairs`]
//! finds only the smallest and the largest eigenpair (block Lanczos on the dense matrix, with
//! their residuals), for an escape direction or the scale of the zero threshold.

use crate::curvature::lanczos::dot;
use crate::error::{Error, Result};
use nalgebra::DMatrix;
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Eigenvalues (ascending) and unit eigenvectors (matching columns) of a symmetric matrix.
#[derive(Debug, Clone)]
pub struct Spectrum {
    /// Eigenvalues, sorted ascending.
    pub eigenvalues: Vec<f64>,
    /// Orthonormal eigenvectors, column `k` belongs to `eigenvalues[k]`.
    pub eigenvectors: DMatrix<f64>,
}

impl Spectrum {
    /// Column `k` as a vector.
    pub fn eigenvector(&self, k: usize) -> Vec<f64> {
        self.eigenvectors.column(k).iter().copied().collect()
    }

    /// Largest absolute eigenvalue (0 for an empty spectrum).
    pub fn max_abs(&self) -> f64 {
        self.eigenvalues.iter().fold(0.0f64, |m, l| m.max(l.abs()))
    }

    /// Sorts ascending (stable) and fixes eigenvector signs: the entry of largest magnitude is
    /// positive. Used by every backend.
    fn normalize(values: Vec<f64>, vectors: DMatrix<f64>) -> Self {
        let n = values.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let eigenvalues = order.iter().map(|&k| values[k]).collect();
        let mut eigenvectors = DMatrix::zeros(vectors.nrows(), n);
        for (dst, &src) in order.iter().enumerate() {
            let col = vectors.column(src);
            let sign = super::largest_entry_sign(col.iter());
            eigenvectors.set_column(dst, &(col * sign));
        }
        Spectrum {
            eigenvalues,
            eigenvectors,
        }
    }
}

/// Which dense eigensolver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EigenBackend {
    /// faer's self-adjoint eigen-decomposition (default).
    #[default]
    Faer,
    /// nalgebra's own `SymmetricEigen`.
    Nalgebra,
    /// LAPACK `dsyev` via nalgebra-lapack (only with the `lapack` feature).
    Lapack,
}

impl EigenBackend {
    /// Backends compiled into this build.
    pub fn available() -> Vec<EigenBackend> {
        let mut v = vec![EigenBackend::Faer, EigenBackend::Nalgebra];
        if cfg!(feature = "lapack") {
            v.push(EigenBackend::Lapack);
        }
        v
    }

    /// The backend's name (`faer`, `nalgebra`, `lapack`).
    pub fn name(self) -> &'static str {
        match self {
            EigenBackend::Faer => "faer",
            EigenBackend::Nalgebra => "nalgebra",
            EigenBackend::Lapack => "lapack",
        }
    }
}

impl std::str::FromStr for EigenBackend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "faer" => Ok(EigenBackend::Faer),
            "nalgebra" => Ok(EigenBackend::Nalgebra),
            "lapack" => Ok(EigenBackend::Lapack),
            _ => Err(Error::Unknown {
                what: "eigen backend".into(),
                name: s.into(),
                known: "faer, nalgebra, lapack".into(),
            }),
        }
    }
}

/// Eigen-decomposition of the symmetric matrix `a` (only its lower triangle is read by faer;
/// the others read all of it, so pass a symmetric matrix).
///
/// # Postconditions
/// Eigenvalues ascending; eigenvectors orthonormal, in matching columns.
///
/// # Cost
/// `O(n³)` time, `O(n²)` memory.
///
/// # Errors
/// A non-square or non-finite matrix; no convergence; the `lapack` backend in a build without
/// the `lapack` feature.
///
/// # Example
/// ```
/// # use critpt::curvature::{symmetric_eigen, EigenBackend};
/// let h = nalgebra::DMatrix::from_row_slice(2, 2, &[0.0, -2.0, -2.0, 0.0]);
/// let s = symmetric_eigen(&h, EigenBackend::Faer).unwrap();
/// assert!((s.eigenvalues[0] + 2.0).abs() < 1e-12 && (s.eigenvalues[1] - 2.0).abs() < 1e-12);
/// ```
pub fn symmetric_eigen(a: &DMatrix<f64>, backend: EigenBackend) -> Result<Spectrum> {
    if a.nrows() != a.ncols() {
        return Err(Error::Unsupported(format!(
            "eigen-decomposition needs a square matrix, got {}x{}",
            a.nrows(),
            a.ncols()
        )));
    }
    crate::error::ensure_finite("matrix", a.as_slice())?;
    if a.nrows() == 0 {
        return Ok(Spectrum {
            eigenvalues: vec![],
            eigenvectors: DMatrix::zeros(0, 0),
        });
    }
    match backend {
        EigenBackend::Faer => faer_eigen(a),
        EigenBackend::Nalgebra => {
            let e = nalgebra::SymmetricEigen::new(a.clone());
            Ok(Spectrum::normalize(
                e.eigenvalues.iter().copied().collect(),
                e.eigenvectors,
            ))
        }
        EigenBackend::Lapack => lapack_eigen(a),
    }
}

fn faer_eigen(a: &DMatrix<f64>) -> Result<Spectrum> {
    let n = a.nrows();
    let m = faer::Mat::<f64>::from_fn(n, n, |i, j| a[(i, j)]);
    let evd = m
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|_| Error::NoConvergence {
            method: "faer self-adjoint eigen".into(),
            iters: 0,
            residual: f64::NAN,
        })?;
    let s = evd.S();
    let u = evd.U();
    let values: Vec<f64> = (0..n).map(|k| s[k]).collect();
    let vectors = DMatrix::from_fn(n, n, |i, j| u[(i, j)]);
    Ok(Spectrum::normalize(values, vectors))
}

/// The eigenvalues of the symmetric matrix `a`, ascending, without eigenvectors.
///
/// Reads the lower triangle with `faer` and `lapack`, all of `a` with `nalgebra`. The
/// eigenvalues equal those of [`symmetric_eigen`] to rounding (a backward-stable reduction:
/// each within a small multiple of `n·ε·‖a‖₂`).
///
/// # Cost
/// `4/3·n³` flops for the tridiagonalization (half of them matrix-vector products, bound by
/// memory bandwidth for matrices beyond the cache) and `O(n²)` for the tridiagonal eigenvalues;
/// memory one `n×n` copy. The full decomposition also back-transforms the eigenvectors
/// (another `2n³` or more: 15–19 s against 13.5 s at n = 5059 with faer on a quiet machine).
/// Backend timings are in [`EigenBackend::fastest_eigenvalues`].
///
/// # Errors
/// As [`symmetric_eigen`].
///
/// # Example
/// ```
/// # use critpt::curvature::{symmetric_eigenvalues, EigenBackend};
/// let h = nalgebra::DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 2.0]);
/// let ev = symmetric_eigenvalues(&h, EigenBackend::Faer).unwrap();
/// assert!((ev[0] - 1.0).abs() < 1e-14 && (ev[1] - 3.0).abs() < 1e-14);
/// ```
pub fn symmetric_eigenvalues(a: &DMatrix<f64>, backend: EigenBackend) -> Result<Vec<f64>> {
    check_square_finite(a)?;
    if a.nrows() == 0 {
        return Ok(vec![]);
    }
    let mut values = match backend {
        EigenBackend::Faer => {
            let n = a.nrows();
            let view = faer::MatRef::from_column_major_slice(a.as_slice(), n, n);
            view.self_adjoint_eigenvalues(faer::Side::Lower)
                .map_err(|_| Error::NoConvergence {
                    method: "faer self-adjoint eigenvalues".into(),
                    iters: 0,
                    residual: f64::NAN,
                })?
        }
        EigenBackend::Nalgebra => a.symmetric_eigenvalues().iter().copied().collect(),
        EigenBackend::Lapack => lapack_eigenvalues(a)?,
    };
    values.sort_by(f64::total_cmp);
    Ok(values)
}

impl EigenBackend {
    /// The backend [`symmetric_eigenvalues`] should use in this build: faer, with or without
    /// the `lapack` feature, because LAPACK's `dsyevd` (`JOBZ = 'N'`, Debian's OpenBLAS 0.3.21,
    /// 2 threads) lost every paired run against it on the development machine (a 2-core AMD
    /// EPYC Zen 4 VM, shared with other builds at the time; one run each, seconds):
    ///
    /// | matrix | load | faer | lapack | nalgebra | numpy `eigvalsh` |
    /// |---|---|---|---|---|---|
    /// | random, n = 1500 | 4–16 | 0.42–2.3 | 1.9 | 4.8 | 1.8 |
    /// | random, n = 3000 | 5–16 | 7.6–21 | 29 | — | 12.8 |
    /// | digits MLP Hessian, n = 3600, with the Hessian | 7–8 | 15.7, 20.4, 25.6, 25.7 | 24.1, 25.5, 29.4, 29.8 (1 thread) | — | — |
    /// | digits MLP Hessian, n = 5059, whole `analyze` | 7–12 | 83 | 110 | — | 72.5 alone |
    ///
    /// On a quiet machine faer took 13.5 s at n = 5059 and numpy's `eigvalsh` (OpenBLAS 0.3.31)
    /// 6.3 s; `cargo bench --bench dense --features lapack` decides there. The tridiagonal
    /// reduction reads the trailing matrix once per column, so beyond the cache (n ≳ 2000 here)
    /// it is bound by memory bandwidth in every backend.
    pub fn fastest_eigenvalues() -> EigenBackend {
        EigenBackend::Faer
    }
}

fn check_square_finite(a: &DMatrix<f64>) -> Result<()> {
    if a.nrows() != a.ncols() {
        return Err(Error::Unsupported(format!(
            "eigen-decomposition needs a square matrix, got {}x{}",
            a.nrows(),
            a.ncols()
        )));
    }
    crate::error::ensure_finite("matrix", a.as_slice())
}

#[cfg(feature = "lapack")]
fn lapack_eigenvalues(a: &DMatrix<f64>) -> Result<Vec<f64>> {
    let n = a.nrows();
    let ni = i32::try_from(n)
        .map_err(|_| Error::Unsupported(format!("lapack: n = {n} exceeds 32-bit indices")))?;
    let mut work_a = a.as_slice().to_vec();
    let mut w = vec![0.0; n];
    let mut info = 0;
    // JOBZ = 'N' needs lwork = 2n + 1 and liwork = 1 (dsyevd's documentation).
    let mut work = vec![0.0; 2 * n + 1];
    let mut iwork = vec![0i32; 1];
    // SAFETY: the buffers have the sizes dsyevd documents for JOBZ = 'N', `work_a` is a
    // column-major n×n array with leading dimension n.
    unsafe {
        lapack::dsyevd(
            b'N',
            b'L',
            ni,
            &mut work_a,
            ni,
            &mut w,
            &mut work,
            2 * ni + 1,
            &mut iwork,
            1,
            &mut info,
        );
    }
    if info != 0 {
        return Err(Error::NoConvergence {
            method: "lapack dsyevd".into(),
            iters: 0,
            residual: info as f64,
        });
    }
    Ok(w)
}

#[cfg(not(feature = "lapack"))]
fn lapack_eigenvalues(_a: &DMatrix<f64>) -> Result<Vec<f64>> {
    Err(Error::Unsupported(
        "the lapack backend needs critpt built with `--features lapack`".into(),
    ))
}

/// One eigenpair and how well it is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct EigenPair {
    /// The eigenvalue (a Ritz value).
    pub value: f64,
    /// The unit eigenvector (Ritz vector), signed so that its largest-magnitude entry is
    /// positive, as in [`Spectrum`].
    pub vector: Vec<f64>,
    /// `‖a v − λ v‖₂`: an eigenvalue of `a` lies within this distance of `value`.
    pub residual: f64,
}

/// The smallest and the largest eigenpair of a symmetric matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Extremes {
    /// The algebraically smallest eigenpair.
    pub smallest: EigenPair,
    /// The algebraically largest eigenpair.
    pub largest: EigenPair,
    /// Whether both residuals reached the tolerance (`≤ tol · max|λ|`).
    pub converged: bool,
    /// Products with `a` (columns of the block Krylov basis).
    pub matvecs: usize,
}

impl Extremes {
    /// `max(|λ_min|, |λ_max|)`: the spectral norm, which scales the zero threshold.
    pub fn max_abs(&self) -> f64 {
        self.smallest.value.abs().max(self.largest.value.abs())
    }
}

/// Matrices up to this size are decomposed fully by [`extreme_eigenpairs`]: cheaper than a
/// Krylov basis, and exact.
const EXTREMES_FULL_LIMIT: usize = 200;
/// Block size of the block Lanczos iteration: one pass over `a` serves 16 vectors.
const BLOCK: usize = 16;
/// Largest block Krylov basis.
const MAX_BASIS: usize = 480;

/// The smallest and the largest eigenpair of the symmetric matrix `a`, with residuals, without
/// the rest of the spectrum.
///
/// Block Lanczos with full reorthogonalization: a block Krylov basis `Q` of 16 seeded random
/// start vectors and their images under `a` (classical Gram–Schmidt twice), Rayleigh–Ritz on
/// `QᵀaQ`, stopping when both extreme residuals `‖a v − θ v‖` are at most
/// `tol · max(|θ_min|, |θ_max|)`, or at 480 basis vectors (then `converged` is false and the
/// residuals say how far each pair is). Ritz values lie inside `[λ_min, λ_max]`, each within
/// its residual of an eigenvalue, and usually much closer (`residual²/gap`). Up to 200 rows
/// the matrix is decomposed fully instead (exact, residuals at rounding level).
///
/// # Cost
/// One product `a·X` per 16 basis vectors (a matrix-matrix product that reads `a` once), so a
/// few passes over `a` for well-separated extremes; `O(n·m²)` for the reorthogonalization of
/// `m` basis vectors. Memory `2·n·m`. The full eigen-decomposition costs `≥ 4/3·n³`. On the
/// 2-core development machine under load 13–15, a Hessian-like spectrum (10 outliers, a bulk
/// near zero, a negative tail) converged to `1e-8` in 112 vectors: 0.31 s at n = 1500,
/// 0.67 s at n = 3000 (the eigenvalues alone: 1.0–2.3 s and 15–21 s).
///
/// # Errors
/// A non-square or non-finite matrix; `tol` not in `(0, 1)`.
///
/// # Example
/// ```
/// # use critpt::curvature::extreme_eigenpairs;
/// # use critpt::problems::QuadraticForm;
/// let spectrum: Vec<f64> = (0..300).map(|i| i as f64 - 10.0).collect();
/// let q = QuadraticForm::from_spectrum(&spectrum, 1).unwrap();
/// let e = extreme_eigenpairs(q.matrix(), 1e-10, 0).unwrap();
/// assert!((e.smallest.value + 10.0).abs() < 1e-8 && (e.largest.value - 289.0).abs() < 1e-8);
/// ```
pub fn extreme_eigenpairs(a: &DMatrix<f64>, tol: f64, seed: u64) -> Result<Extremes> {
    check_square_finite(a)?;
    if !(tol > 0.0 && tol < 1.0) {
        return Err(Error::invalid(
            "tol",
            format!("the residual tolerance must be in (0, 1), got {tol}"),
        ));
    }
    let n = a.nrows();
    if n == 0 {
        return Err(Error::Unsupported(
            "extreme eigenpairs of an empty matrix".into(),
        ));
    }
    if n <= EXTREMES_FULL_LIMIT {
        let s = symmetric_eigen(a, EigenBackend::Faer)?;
        let pair = |k: usize| {
            let v = s.eigenvector(k);
            let residual = residual_norm(a, &v, s.eigenvalues[k]);
            EigenPair {
                value: s.eigenvalues[k],
                vector: v,
                residual,
            }
        };
        return Ok(Extremes {
            smallest: pair(0),
            largest: pair(n - 1),
            converged: true,
            matvecs: n,
        });
    }
    block_lanczos_extremes(a, tol, seed)
}

fn residual_norm(a: &DMatrix<f64>, v: &[f64], lambda: f64) -> f64 {
    let n = v.len();
    let av = a * nalgebra::DVector::from_column_slice(v);
    (0..n)
        .map(|i| (av[i] - lambda * v[i]).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Orthonormalizes columns `k..k + b` of the column-major `n`-row basis `q` against columns
/// `..k` (classical Gram–Schmidt twice, blocked) and among themselves (twice, column by
/// column). A column that vanishes (it lay in the span already) is replaced by a random vector
/// orthogonalized against everything before it.
fn orthonormalize(q: &mut [f64], n: usize, k: usize, b: usize, rng: &mut StdRng) {
    use faer::linalg::matmul::matmul;
    use faer::reborrow::{Reborrow, ReborrowMut};
    use faer::{Accum, MatMut, MatRef};
    let par = faer::get_global_parallelism();
    let norms: Vec<f64> = (k..k + b)
        .map(|j| dot(&q[j * n..(j + 1) * n], &q[j * n..(j + 1) * n]).sqrt())
        .collect();
    if k > 0 {
        let (prev, rest) = q.split_at_mut(k * n);
        let prev = MatRef::from_column_major_slice(&prev[..], n, k);
        let mut cur = MatMut::from_column_major_slice_mut(&mut rest[..b * n], n, b);
        let mut h = faer::Mat::<f64>::zeros(k, b);
        for _ in 0..2 {
            matmul(
                h.as_mut(),
                Accum::Replace,
                prev.transpose(),
                cur.rb(),
                1.0,
                par,
            );
            matmul(cur.rb_mut(), Accum::Add, prev, h.as_ref(), -1.0, par);
        }
    }
    for j in k..k + b {
        let mut reference = norms[j - k];
        let mut from = k;
        for _attempt in 0..4 {
            let (done, rest) = q.split_at_mut(j * n);
            let col = &mut rest[..n];
            for _ in 0..2 {
                for i in from..j {
                    let qi = &done[i * n..(i + 1) * n];
                    let d = dot(qi, col);
                    col.iter_mut().zip(qi).for_each(|(c, x)| *c -= d * x);
                }
            }
            let norm = dot(col, col).sqrt();
            if norm > 1e-10 * reference && norm > 0.0 {
                col.iter_mut().for_each(|c| *c /= norm);
                break;
            }
            // In the span already: a fresh random direction, orthogonalized against all.
            col.iter_mut()
                .for_each(|c| *c = StandardNormal.sample(&mut *rng));
            reference = dot(col, col).sqrt();
            from = 0;
        }
    }
}

fn block_lanczos_extremes(a: &DMatrix<f64>, tol: f64, seed: u64) -> Result<Extremes> {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, MatMut, MatRef};
    let n = a.nrows();
    let par = faer::get_global_parallelism();
    let a_ref = MatRef::from_column_major_slice(a.as_slice(), n, n);
    let max_basis = MAX_BASIS.min(n);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut q = vec![0.0; n * max_basis];
    let mut w = vec![0.0; n * max_basis];
    // t = Qᵀ a Q, column-major with leading dimension max_basis.
    let mut t = vec![0.0; max_basis * max_basis];
    let b0 = BLOCK.min(max_basis);
    q[..n * b0]
        .iter_mut()
        .for_each(|x| *x = StandardNormal.sample(&mut rng));
    orthonormalize(&mut q, n, 0, b0, &mut rng);
    let (mut k, mut cur) = (0usize, b0);
    let mut next_check = 0usize;
    loop {
        let b = cur - k;
        {
            let qn = MatRef::from_column_major_slice(&q[k * n..cur * n], n, b);
            let wn = MatMut::from_column_major_slice_mut(&mut w[k * n..cur * n], n, b);
            matmul(wn, Accum::Replace, a_ref, qn, 1.0, par);
            let qall = MatRef::from_column_major_slice(&q[..cur * n], n, cur);
            let wn = MatRef::from_column_major_slice(&w[k * n..cur * n], n, b);
            let mut tb = faer::Mat::<f64>::zeros(cur, b);
            matmul(tb.as_mut(), Accum::Replace, qall.transpose(), wn, 1.0, par);
            for jj in 0..b {
                for i in 0..cur {
                    let v = tb[(i, jj)];
                    let j = k + jj;
                    if i < k {
                        t[i + j * max_basis] = v;
                        t[j + i * max_basis] = v;
                    } else {
                        // Inside the new block: symmetrize the two computed halves.
                        t[i + j * max_basis] += 0.5 * v;
                        t[j + i * max_basis] += 0.5 * v;
                    }
                }
            }
        }
        k = cur;
        let last = k == max_basis;
        if k >= next_check || last {
            next_check = (k + BLOCK).max(k + k / 4);
            let tm = faer::Mat::<f64>::from_fn(k, k, |i, j| t[i + j * max_basis]);
            let evd =
                tm.self_adjoint_eigen(faer::Side::Lower)
                    .map_err(|_| Error::NoConvergence {
                        method: "block lanczos rayleigh-ritz".into(),
                        iters: k,
                        residual: f64::NAN,
                    })?;
            let ritz = |idx: usize| -> EigenPair {
                let theta = evd.S()[idx];
                let s: Vec<f64> = (0..k).map(|i| evd.U()[(i, idx)]).collect();
                let mut y = vec![0.0; n];
                let mut ay = vec![0.0; n];
                for (c, &sc) in s.iter().enumerate() {
                    let qc = &q[c * n..(c + 1) * n];
                    let wc = &w[c * n..(c + 1) * n];
                    for r in 0..n {
                        y[r] += sc * qc[r];
                        ay[r] += sc * wc[r];
                    }
                }
                let residual = y
                    .iter()
                    .zip(&ay)
                    .map(|(yi, ai)| (ai - theta * yi).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let norm = dot(&y, &y).sqrt();
                let scale = super::largest_entry_sign(&y) / norm;
                y.iter_mut().for_each(|x| *x *= scale);
                EigenPair {
                    value: theta,
                    vector: y,
                    residual: residual / norm,
                }
            };
            let smallest = ritz(0);
            let largest = ritz(k - 1);
            let scale = smallest.value.abs().max(largest.value.abs());
            let converged =
                k == n || (smallest.residual <= tol * scale && largest.residual <= tol * scale);
            if converged || last {
                return Ok(Extremes {
                    smallest,
                    largest,
                    converged,
                    matvecs: k,
                });
            }
        }
        // The next block: the newest images, orthogonalized against the basis.
        let nb = BLOCK.min(max_basis - k).min(b);
        let (head, tail) = ((k - b) * n, (k - b + nb) * n);
        let src: Vec<f64> = w[head..tail].to_vec();
        q[k * n..(k + nb) * n].copy_from_slice(&src);
        orthonormalize(&mut q, n, k, nb, &mut rng);
        cur = k + nb;
    }
}

#[cfg(feature = "lapack")]
fn lapack_eigen(a: &DMatrix<f64>) -> Result<Spectrum> {
    // `SymmetricEigen::eigenvalues()` is broken in nalgebra-lapack 0.27 (JOBZ='T'); `new` works.
    let e = nalgebra_lapack::SymmetricEigen::new(a.clone());
    Ok(Spectrum::normalize(
        e.eigenvalues.iter().copied().collect(),
        e.eigenvectors,
    ))
}

#[cfg(not(feature = "lapack"))]
fn lapack_eigen(_a: &DMatrix<f64>) -> Result<Spectrum> {
    Err(Error::Unsupported(
        "the lapack backend needs critpt built with `--features lapack`".into(),
    ))
}
