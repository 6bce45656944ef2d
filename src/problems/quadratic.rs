//! [`QuadraticForm`]: a dense quadratic with a chosen spectrum.

use crate::curvature::lanczos::{axpy, dot};
use crate::error::{ensure_finite, Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// The quadratic objective $f(\theta) = \tfrac12 \theta^\top A \theta$ of a dense symmetric
/// matrix `A`: its Hessian is `A` everywhere. A documented utility for tests, benchmarks and
/// teaching: build it from a chosen spectrum ([`QuadraticForm::from_spectrum`]) and the
/// matrix-free solvers must recover that spectrum.
///
/// # Example
/// ```
/// # use critpt::problems::QuadraticForm;
/// # use critpt::objective::Hvp;
/// let q = QuadraticForm::from_spectrum(&[1.0, 2.0], 3).unwrap();
/// let mut out = [0.0; 2];
/// q.hvp(&[0.0, 0.0], &[1.0, 0.0], &mut out).unwrap(); // first column of A
/// ```
#[derive(Debug, Clone)]
pub struct QuadraticForm {
    a: DMatrix<f64>,
}

impl QuadraticForm {
    /// Wraps the symmetric matrix `a`.
    ///
    /// # Errors
    /// A non-square, non-finite or non-symmetric matrix (beyond `1e-12` relative).
    pub fn new(a: DMatrix<f64>) -> Result<Self> {
        if a.nrows() != a.ncols() {
            return Err(Error::invalid(
                "matrix",
                format!("must be square, got {}x{}", a.nrows(), a.ncols()),
            ));
        }
        ensure_finite("matrix", a.as_slice())?;
        let scale = a.amax().max(f64::MIN_POSITIVE);
        let asym = (&a - a.transpose()).amax();
        if asym > 1e-12 * scale {
            return Err(Error::invalid(
                "matrix",
                format!("must be symmetric, largest |a_ij - a_ji| is {asym:.3e}"),
            ));
        }
        Ok(QuadraticForm { a })
    }

    /// `A = Q diag(eigenvalues) Qᵀ` with `Q` a random orthogonal matrix (QR of a seeded Gaussian
    /// matrix, signs fixed so that `R` has a positive diagonal).
    ///
    /// # Cost
    /// `O(n³)` time and `O(n²)` memory.
    ///
    /// # Errors
    /// An empty or non-finite list of eigenvalues.
    pub fn from_spectrum(eigenvalues: &[f64], seed: u64) -> Result<Self> {
        let n = eigenvalues.len();
        if n == 0 {
            return Err(Error::invalid("eigenvalues", "the list is empty"));
        }
        ensure_finite("eigenvalues", eigenvalues)?;
        let q = random_orthogonal(n, seed);
        let mut qd = q.clone();
        for (j, &l) in eigenvalues.iter().enumerate() {
            qd.column_mut(j).scale_mut(l);
        }
        let mut a = qd * q.transpose();
        // Exact symmetry, so that every backend sees the same matrix.
        let at = a.transpose();
        a += at;
        a.scale_mut(0.5);
        Ok(QuadraticForm { a })
    }

    /// The matrix `A`.
    pub fn matrix(&self) -> &DMatrix<f64> {
        &self.a
    }
}

/// A Haar-distributed random orthogonal `n×n` matrix from a seed.
fn random_orthogonal(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = DMatrix::from_fn(n, n, |_, _| rng.sample::<f64, _>(StandardNormal));
    let qr = g.qr();
    let mut q = qr.q();
    let r = qr.r();
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

impl Loss for QuadraticForm {
    fn n_params(&self) -> usize {
        self.a.nrows()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        check_params(self, params)?;
        let mut hv = vec![0.0; params.len()];
        self.hvp(params, params, &mut hv)?;
        Ok(0.5 * dot(params, &hv))
    }
}

impl Gradient for QuadraticForm {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvp(params, params, out)
    }
}

impl Hessian for QuadraticForm {
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        Ok(self.a.clone())
    }
}

impl Hvp for QuadraticForm {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        let n = self.a.nrows();
        if params.len() != n {
            return Err(Error::dim("point", n, params.len()));
        }
        if v.len() != n {
            return Err(Error::dim("direction", n, v.len()));
        }
        if out.len() != n {
            return Err(Error::dim("output", n, out.len()));
        }
        out.fill(0.0);
        // Column-major: H v = Σ_j v_j a_j.
        let a = self.a.as_slice();
        for (j, &vj) in v.iter().enumerate() {
            axpy(vj, &a[j * n..(j + 1) * n], out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_form_gradient_and_hessian_agree() {
        let q = QuadraticForm::from_spectrum(&[1.0, -2.0, 3.0], 2).unwrap();
        let p = [0.3, -0.1, 0.7];
        let mut g = [0.0; 3];
        q.gradient(&p, &mut g).unwrap();
        let want = q.matrix() * nalgebra::DVector::from_column_slice(&p);
        for i in 0..3 {
            assert!((g[i] - want[i]).abs() < 1e-14);
        }
        let f = q.loss(&p).unwrap();
        assert!((f - 0.5 * want.dot(&nalgebra::DVector::from_column_slice(&p))).abs() < 1e-14);
        let s = crate::curvature::symmetric_eigen(
            &q.hessian(&p).unwrap(),
            crate::curvature::EigenBackend::Faer,
        )
        .unwrap();
        for (a, b) in s.eigenvalues().iter().zip([-2.0, 1.0, 3.0]) {
            assert!((a - b).abs() < 1e-13);
        }
    }
}
