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

use crate::error::{Error, Result};
use nalgebra::DMatrix;

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
            let big = col
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            let sign = if big < 0.0 { -1.0 } else { 1.0 };
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
