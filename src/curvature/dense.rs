//! Dense symmetric eigen-decomposition behind one interface.
//!
//! Backends ([`EigenBackend`]):
//! - `faer` (default): pure Rust, a one-stage blocked tridiagonalization and divide and
//!   conquer; the fastest pure-Rust route, slower than LAPACK's for the eigenvalues alone.
//! - `nalgebra`: nalgebra's own `SymmetricEigen` (implicit QR); simple and slow for large `n`.
//! - `lapack` (feature `lapack`): LAPACK through OpenBLAS: `dsyev` (nalgebra-lapack) for the
//!   full decomposition, the two-stage `dsyevd_2stage` with `JOBZ = 'N'` for the eigenvalues
//!   alone (the fastest route measured, [`EigenBackend::fastest_eigenvalues`]).
//!
//! Whatever the backend, the result is sorted ascending with eigenvectors in matching columns,
//! and each eigenvector's sign is fixed so that its largest-magnitude entry is positive, so that
//! backends agree up to rounding on well-separated eigenvalues.
//!
//! Pay for what is used: [`symmetric_eigenvalues`] skips the eigenvectors (tridiagonalization
//! and a tridiagonal eigenvalue solver, no back-transformation), and [`extreme_eigenpairs`]
//! finds only the smallest and the largest eigenpair (the library's block Lanczos over
//! [`DenseOperator`], with their residuals), for an escape direction or the scale of the zero
//! threshold.

use crate::error::{Error, Result};
use nalgebra::DMatrix;

/// Eigenvalues (ascending) and unit eigenvectors (matching columns) of a symmetric matrix.
///
/// The fields are private so that the order holds by construction: [`Spectrum::new`] checks and
/// sorts, the backends of [`symmetric_eigen`] sort and sign.
#[derive(Debug, Clone)]
pub struct Spectrum {
    /// Eigenvalues, sorted ascending.
    eigenvalues: Vec<f64>,
    /// Eigenvectors, column `k` belongs to `eigenvalues[k]`.
    eigenvectors: DMatrix<f64>,
}

impl Spectrum {
    /// Pairs `eigenvalues[k]` with column `k` of `eigenvectors` (`n×k`, `n ≥ k`: all `n`
    /// eigenvectors or `k` of them) and sorts the pairs ascending by eigenvalue (stable: equal
    /// eigenvalues keep their order). The vectors are taken as given, neither normalized nor
    /// re-signed.
    ///
    /// # Errors
    /// [`Error::DimMismatch`] if `eigenvectors` has a column count other than
    /// `eigenvalues.len()`; [`Error::InvalidParameter`] if it has fewer rows than columns;
    /// [`Error::NonFinite`] for a NaN or infinite eigenvalue or eigenvector entry.
    ///
    /// # Example
    /// ```
    /// # use critpt::curvature::Spectrum;
    /// let v = nalgebra::DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]);
    /// let s = Spectrum::new(vec![3.0, -1.0], v).unwrap();
    /// assert_eq!(s.eigenvalues(), &[-1.0, 3.0]);
    /// assert_eq!(s.eigenvector(0), vec![1.0, 0.0]);
    /// ```
    pub fn new(eigenvalues: Vec<f64>, eigenvectors: DMatrix<f64>) -> Result<Self> {
        let k = eigenvalues.len();
        let (rows, cols) = eigenvectors.shape();
        if cols != k {
            return Err(Error::dim(
                "spectrum: eigenvector columns (one per eigenvalue)",
                k,
                cols,
            ));
        }
        if rows < k {
            return Err(Error::invalid(
                "spectrum",
                format!("{k} eigenvectors need at least {k} rows, got a {rows}x{cols} matrix"),
            ));
        }
        crate::error::ensure_finite("spectrum eigenvalues", &eigenvalues)?;
        crate::error::ensure_finite("spectrum eigenvectors", eigenvectors.as_slice())?;
        if eigenvalues
            .windows(2)
            .all(|w| w[0].total_cmp(&w[1]).is_le())
        {
            return Ok(Spectrum {
                eigenvalues,
                eigenvectors,
            });
        }
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| eigenvalues[a].total_cmp(&eigenvalues[b]));
        Ok(Spectrum {
            eigenvalues: order.iter().map(|&i| eigenvalues[i]).collect(),
            eigenvectors: eigenvectors.select_columns(order.iter()),
        })
    }

    /// Eigenvalues, ascending.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// Eigenvectors as columns, column `k` belonging to `eigenvalues()[k]`.
    pub fn eigenvectors(&self) -> &DMatrix<f64> {
        &self.eigenvectors
    }

    /// The eigenvalues (ascending) and the eigenvector matrix, moved out.
    pub fn into_parts(self) -> (Vec<f64>, DMatrix<f64>) {
        (self.eigenvalues, self.eigenvectors)
    }

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
    /// LAPACK through OpenBLAS (only with the `lapack` feature): `dsyev` via nalgebra-lapack,
    /// `dsyevd_2stage` for eigenvalues alone, `dsytrf` for the inertia.
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
/// let ev = s.eigenvalues();
/// assert!((ev[0] + 2.0).abs() < 1e-12 && (ev[1] - 2.0).abs() < 1e-12);
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
/// `4/3·n³` flops for the tridiagonalization (with faer half of them matrix-vector products,
/// bound by memory bandwidth for matrices beyond the cache; LAPACK's two-stage reduction does
/// them as matrix-matrix products) and `O(n²)` for the tridiagonal eigenvalues;
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
    /// The backend `analyze` computes eigenvalues with: [`EigenBackend::Lapack`] in a build
    /// with the `lapack` feature (LAPACK's two-stage `dsyevd_2stage`, `JOBZ = 'N'`), faer
    /// otherwise.
    ///
    /// A one-stage reduction to tridiagonal form (faer's, LAPACK's `dsytrd` inside `dsyevd`,
    /// which numpy's `eigvalsh` calls, and `dsyevr`) does half of its `4/3·n³` flops in
    /// symmetric matrix-vector products that read the trailing matrix once per column, so
    /// beyond the cache (n ≳ 2000 here) it runs at memory bandwidth. The two-stage reduction
    /// does those flops as matrix-matrix products on the way to a band form, and the band to
    /// tridiagonal step works in cache. The tridiagonal eigenvalues then cost `O(n²)`.
    ///
    /// The 5059-parameter digits Hessian (64-33-66-10 tanh, trained 20 epochs), one process,
    /// routines in turn, on the 2-core development machine (AMD EPYC Zen 4 VM, Debian's
    /// OpenBLAS 0.3.21, pthread build) shared with other builds at load 7–11, so the CPU
    /// seconds (user + system, all threads) rank better than the wall time:
    ///
    /// | routine | CPU s | wall s |
    /// |---|---|---|
    /// | faer `self_adjoint_eigenvalues` | 28.5 | 71.1 |
    /// | `dsyevd`, `JOBZ = 'N'` (numpy's `eigvalsh`) | 17.7 | 43.3 |
    /// | `dsyevr`, `RANGE = 'A'`, `JOBZ = 'N'` | 14.2, 17.2 | 35.3, 33.6 |
    /// | `dsyev_2stage`, `JOBZ = 'N'` | 13.9 | 84.1 |
    /// | `dsyevd_2stage`, `JOBZ = 'N'` | 9.2, 10.3 | 23.0, 88.1 |
    /// | `dsyevd_2stage`, `OPENBLAS_NUM_THREADS=1` | 7.8 | 19.8 |
    ///
    /// (On a quiet machine faer took 13.5 s and numpy's `eigvalsh`, OpenBLAS 0.3.31, 6.3 s.)
    /// At n = 3000 (criterion, `benches/dense.rs`, load 13–16) faer took 18.3 s and
    /// `dsyevd_2stage` 6.17 s. Whole `analyze --method dense` at n = 5059, load 4–7: faer
    /// 51.3 s, `dsyevd_2stage` 12.2 s (JAX's Hessian plus numpy's `eigvalsh` 97.9 s;
    /// `benches/compare/dense_vs_jax.py`).
    /// OpenBLAS's threads wait for work by spinning, which a loaded machine punishes: with one
    /// thread the same routine used less CPU and less wall time there, and
    /// `OPENBLAS_NUM_THREADS=1` is the setting for a busy machine. `critpt analyze --backend`
    /// and `cargo bench --bench dense --features lapack` compare the backends again.
    pub fn fastest_eigenvalues() -> EigenBackend {
        if cfg!(feature = "lapack") {
            EigenBackend::Lapack
        } else {
            EigenBackend::Faer
        }
    }

    /// The backend [`crate::curvature::inertia`] factors with by default: faer's `LBLᵀ`, with
    /// or without the `lapack` feature, because LAPACK's `dsytrf` (Bunch–Kaufman, Debian's
    /// OpenBLAS 0.3.21) lost three of four comparisons here, all on a shared machine: the two
    /// factorizations at n = 1500 (criterion, load 3–12) faer 98 ms, `dsytrf` 169 ms; at
    /// n = 3000 (criterion, load 13–16) faer 3.31 s, `dsytrf` 5.66 s; whole `analyze --method
    /// inertia` at n = 5059 faer 64.5 s against 65.6 s (load 14–20), 55.7 s against 66.0 s
    /// (load 4–15) and 35.0 s against 49.4 s (load 10–12); only paired runs in one process at
    /// n = 5059 (load 9–10) had `dsytrf` ahead, 7.2 s against 10.4 and 10.9 s.
    pub fn fastest_factorization() -> EigenBackend {
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

/// LAPACK's two-stage `dsyevd_2stage` with `JOBZ = 'N'`: dense to band form by blocked
/// Householder reflections (matrix-matrix products, so not bound by memory bandwidth), band to
/// tridiagonal by bulge chasing in the band (which fits in cache), then `dsterf`'s
/// root-free QR for the tridiagonal eigenvalues. The one-stage `dsyevd` (numpy's `eigvalsh`)
/// and `dsyevr` spend half of their flops in symmetric matrix-vector products over the whole
/// trailing matrix; timings in [`EigenBackend::fastest_eigenvalues`].
#[cfg(feature = "lapack")]
fn lapack_eigenvalues(a: &DMatrix<f64>) -> Result<Vec<f64>> {
    let n = a.nrows();
    let ni = i32::try_from(n)
        .map_err(|_| Error::Unsupported(format!("lapack: n = {n} exceeds 32-bit indices")))?;
    let mut work_a = a.as_slice().to_vec();
    let mut w = vec![0.0; n];
    let mut info = 0;
    let mut query = [0.0f64];
    let mut iquery = [0i32];
    // SAFETY: `work_a` is a column-major n×n array with leading dimension n and `w` has n
    // entries; lwork = liwork = −1 only asks for the workspace sizes.
    unsafe {
        lapack::dsyevd_2stage(
            b'N',
            b'L',
            ni,
            &mut work_a,
            ni,
            &mut w,
            &mut query,
            -1,
            &mut iquery,
            -1,
            &mut info,
        );
    }
    if info != 0 {
        return Err(Error::Unsupported(format!(
            "lapack dsyevd_2stage rejected argument {}",
            -info
        )));
    }
    // The band form's workspace grows like n·(block size); the query's answer is exact in
    // floating point for any n that fits in 32 bits.
    let lwork = (query[0] as usize).max(2 * n + 1);
    let lwork_i = i32::try_from(lwork)
        .map_err(|_| Error::Unsupported(format!("lapack: workspace {lwork} exceeds 32 bits")))?;
    let liwork = iquery[0].max(1);
    let mut work = vec![0.0; lwork];
    let mut iwork = vec![0i32; liwork as usize];
    // SAFETY: `work_a` is a column-major n×n array with leading dimension n, `w` has n
    // entries, and the workspaces have the sizes the query returned.
    unsafe {
        lapack::dsyevd_2stage(
            b'N',
            b'L',
            ni,
            &mut work_a,
            ni,
            &mut w,
            &mut work,
            lwork_i,
            &mut iwork,
            liwork,
            &mut info,
        );
    }
    if info != 0 {
        return Err(Error::NoConvergence {
            method: "lapack dsyevd_2stage".into(),
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
    /// Products with `a` (block Krylov columns and the two residual checks).
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
/// Block size of [`extreme_eigenpairs`]' Lanczos: one pass over the matrix serves 8 vectors.
/// On the 5059-parameter digits Hessian (to 1e-8, both ends) blocks of 8 took 338 products
/// and 42 block steps, of 16 562 and 35, of 32 1122 and 35, and 8 the least time.
const EXTREMES_BLOCK: usize = 8;

/// A dense symmetric matrix as a Hessian-vector product, so that the matrix-free eigensolvers
/// ([`crate::curvature::Lanczos`]) run on it: `hvp(_, v) = a·v`, and `hvp_many` is one
/// matrix-matrix product that reads `a` once for the whole block. The loss is the quadratic
/// `½ xᵀ a x`; the point is ignored beyond its length.
#[derive(Debug, Clone, Copy)]
pub struct DenseOperator<'a> {
    a: &'a DMatrix<f64>,
}

impl<'a> DenseOperator<'a> {
    /// Wraps the square matrix `a` (symmetric: the eigensolvers assume it).
    ///
    /// # Errors
    /// A non-square or non-finite matrix.
    pub fn new(a: &'a DMatrix<f64>) -> Result<Self> {
        check_square_finite(a)?;
        Ok(DenseOperator { a })
    }

    /// `out = a · vs` for `k` column-major vectors, parallel over faer's threads.
    fn apply(&self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let n = self.a.nrows();
        if vs.len() != n * k || out.len() != n * k {
            return Err(Error::dim("directions", n * k, vs.len().min(out.len())));
        }
        if n == 0 || k == 0 {
            return Ok(());
        }
        faer::linalg::matmul::matmul(
            faer::MatMut::from_column_major_slice_mut(out, n, k),
            faer::Accum::Replace,
            faer::MatRef::from_column_major_slice(self.a.as_slice(), n, n),
            faer::MatRef::from_column_major_slice(vs, n, k),
            1.0,
            faer::get_global_parallelism(),
        );
        Ok(())
    }
}

impl crate::objective::Loss for DenseOperator<'_> {
    fn n_params(&self) -> usize {
        self.a.nrows()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        crate::objective::check_params(self, params)?;
        let mut ax = vec![0.0; params.len()];
        self.apply(params, 1, &mut ax)?;
        Ok(0.5 * params.iter().zip(&ax).map(|(x, y)| x * y).sum::<f64>())
    }
}

impl crate::objective::Hvp for DenseOperator<'_> {
    fn hvp(&self, _params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.apply(v, 1, out)
    }
    fn hvp_many(&self, _params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        self.apply(vs, k, out)
    }
}

/// The smallest and the largest eigenpair of the symmetric matrix `a`, with residuals, without
/// the rest of the spectrum.
///
/// [`crate::curvature::Lanczos`] (block Lanczos with full reorthogonalization and thick
/// restarts) over [`DenseOperator`], one pair at each end, blocks of 8 vectors, relative
/// residual `tol` (`‖a v − θ v‖ ≤ tol · max|θ|`), seeded by `seed`. Ritz values lie inside
/// `[λ_min, λ_max]`, each within its residual of an eigenvalue, and usually much closer
/// (`residual²/gap`). When the block-step limit is reached with only one end converged,
/// `converged` is false and each residual says how far its pair is. Up to 200 rows the matrix
/// is decomposed fully instead (exact, residuals at rounding level).
///
/// # Cost
/// One product `a·X` per 8 basis vectors (a matrix-matrix product that reads `a` once), so a
/// few passes over `a` for well-separated extremes; `O(n·m²)` for the reorthogonalization of a
/// basis of `m` vectors (at most 300), two more products for the true residuals. The full
/// eigen-decomposition costs `≥ 4/3·n³`.
///
/// # Errors
/// A non-square, empty or non-finite matrix; `tol` not in `(0, 1)`; neither end converged
/// within the block-step limit ([`Error::NoConvergence`]).
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
    extreme_eigenpairs_within(a, tol, seed, crate::curvature::lanczos::LANCZOS_MAX_ITERS)
}

/// [`extreme_eigenpairs`] with at most `max_iters` block steps of Lanczos.
///
/// # Errors
/// As [`extreme_eigenpairs`]; `max_iters == 0`.
pub fn extreme_eigenpairs_within(
    a: &DMatrix<f64>,
    tol: f64,
    seed: u64,
    max_iters: usize,
) -> Result<Extremes> {
    let op = DenseOperator::new(a)?;
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
    let r = crate::curvature::Lanczos::new(1, crate::curvature::Which::Both)
        .with_block_size(EXTREMES_BLOCK)?
        .with_tol(tol)?
        .with_max_iters(max_iters)?
        .with_seed(seed)
        .run(&op, &vec![0.0; n])?;
    let last = r.spectrum.eigenvalues.len() - 1;
    let pair = |k: usize| EigenPair {
        value: r.spectrum.eigenvalues[k],
        vector: r.spectrum.eigenvector(k),
        residual: r.residuals[k],
    };
    Ok(Extremes {
        smallest: pair(0),
        largest: pair(last),
        converged: r.converged.iter().all(|&c| c),
        matvecs: r.n_hvps,
    })
}

fn residual_norm(a: &DMatrix<f64>, v: &[f64], lambda: f64) -> f64 {
    let n = v.len();
    let av = a * nalgebra::DVector::from_column_slice(v);
    (0..n)
        .map(|i| (av[i] - lambda * v[i]).powi(2))
        .sum::<f64>()
        .sqrt()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sorts_pairs_and_rejects_bad_input() {
        // Columns are tagged by their eigenvalue: column k is (λ_k, 10 λ_k, 100 λ_k).
        let values = vec![2.0, -1.0, 0.5];
        let v = DMatrix::from_fn(3, 3, |i, j| values[j] * 10f64.powi(i as i32));
        let s = Spectrum::new(values, v).unwrap();
        assert_eq!(s.eigenvalues(), &[-1.0, 0.5, 2.0]);
        for (k, &l) in s.eigenvalues().iter().enumerate() {
            assert_eq!(s.eigenvector(k), vec![l, 10.0 * l, 100.0 * l]);
        }
        // n×k: two eigenvectors of length 3.
        let v = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let s = Spectrum::new(vec![4.0, 3.0], v).unwrap();
        assert_eq!(s.eigenvalues(), &[3.0, 4.0]);
        assert_eq!(s.eigenvector(0), vec![0.0, 1.0, 0.0]);
        let (values, vectors) = s.into_parts();
        assert_eq!((values.len(), vectors.shape()), (2, (3, 2)));

        let cols = Spectrum::new(vec![1.0, 2.0], DMatrix::zeros(3, 3)).unwrap_err();
        assert!(
            matches!(
                cols,
                Error::DimMismatch {
                    expected: 2,
                    got: 3,
                    ..
                }
            ),
            "{cols}"
        );
        let rows = Spectrum::new(vec![1.0, 2.0], DMatrix::zeros(1, 2)).unwrap_err();
        assert!(matches!(rows, Error::InvalidParameter { .. }), "{rows}");
        let nan = Spectrum::new(vec![1.0, f64::NAN], DMatrix::identity(2, 2)).unwrap_err();
        assert!(matches!(nan, Error::NonFinite(_)), "{nan}");
        let mut v = DMatrix::identity(2, 2);
        v[(1, 0)] = f64::NAN;
        let nan = Spectrum::new(vec![1.0, 2.0], v).unwrap_err();
        assert!(matches!(nan, Error::NonFinite(_)), "{nan}");
    }

    /// Matrices with closed-form spectra: the tridiagonal Toeplitz matrix with `a` on the
    /// diagonal and `b` beside it has the eigenvalues `a + 2b·cos(kπ/(n+1))`, `k = 1..n`;
    /// `a·I + b·11ᵀ` has `a` (`n − 1` times) and `a + n·b`.
    fn closed_form_cases(n: usize) -> Vec<(&'static str, DMatrix<f64>, Vec<f64>)> {
        let (a, b) = (2.0, -1.0);
        let toeplitz = DMatrix::from_fn(n, n, |i, j| match i.abs_diff(j) {
            0 => a,
            1 => b,
            _ => 0.0,
        });
        let mut toeplitz_values: Vec<f64> = (1..=n)
            .map(|k| a + 2.0 * b * (k as f64 * std::f64::consts::PI / (n as f64 + 1.0)).cos())
            .collect();
        toeplitz_values.sort_by(f64::total_cmp);
        let (c, d) = (-1.5, 0.25);
        let rank_one = DMatrix::from_fn(n, n, |i, j| if i == j { c + d } else { d });
        let mut rank_one_values = vec![c; n - 1];
        rank_one_values.push(c + n as f64 * d);
        vec![
            ("toeplitz", toeplitz, toeplitz_values),
            ("identity plus ones", rank_one, rank_one_values),
        ]
    }

    /// Every closed-form case within n·ε·‖A‖₂ of the truth (backward stability; the largest
    /// errors seen at n = 600: 17.5·ε·‖A‖ for faer, 22·ε·‖A‖ for LAPACK's two-stage route).
    /// Sizes below, at and well beyond the band width of the two-stage reduction.
    fn assert_closed_forms(backend: EigenBackend) {
        for n in [1usize, 2, 7, 64, 150, 600] {
            for (name, m, want) in closed_form_cases(n) {
                let norm = want.iter().fold(0.0f64, |x, l| x.max(l.abs()));
                let tol = n as f64 * f64::EPSILON * norm;
                let got = symmetric_eigenvalues(&m, backend).unwrap();
                assert_eq!(got.len(), n);
                for k in 0..n {
                    assert!(
                        (got[k] - want[k]).abs() <= tol,
                        "{backend:?} {name} n={n} k={k}: {} vs {}",
                        got[k],
                        want[k]
                    );
                }
            }
        }
    }

    #[test]
    fn faer_eigenvalues_match_closed_forms() {
        assert_closed_forms(EigenBackend::Faer);
    }

    #[cfg(feature = "lapack")]
    #[test]
    fn lapack_two_stage_eigenvalues_match_closed_forms() {
        assert_closed_forms(EigenBackend::Lapack);
    }
}
