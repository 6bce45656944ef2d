//! Power iteration: the simple baseline for the extreme eigenvalues of a Hessian.
//!
//! [`PowerIteration`] finds the eigenvalue of largest magnitude of `H − σI` (σ a shift, 0 by
//! default) from Hessian-vector products; [`power_extremes`] uses the shift trick to get the
//! other end of the spectrum too. It converges at rate `|λ₂/λ₁|` per step, much slower than
//! [`super::Lanczos`] with the same number of products: it is here as the reference point that
//! PyHessian and many papers start from.

use crate::curvature::lanczos::{axpy, dot, gaussian_vec, HvpOperator};
use crate::error::{Error, Result};
use crate::objective::Hvp;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// One eigenpair found by power iteration.
#[derive(Debug, Clone)]
pub struct PowerResult {
    /// The eigenvalue of `H` (the shift added back): the Rayleigh quotient `vᵀHv`.
    pub eigenvalue: f64,
    /// The unit eigenvector, sign fixed so that its largest-magnitude entry is positive.
    pub eigenvector: Vec<f64>,
    /// `‖H v − λ v‖`.
    pub residual: f64,
    /// Iterations done.
    pub iterations: usize,
    /// Hessian-vector products used.
    pub n_hvps: usize,
    /// The seed of the start vector.
    pub seed: u64,
}

/// Power iteration on the shifted operator `H − σI`.
///
/// From a seeded Gaussian unit vector, repeats $w = (H - \sigma I)v$, $v \leftarrow w/\|w\|$ and
/// stops when the residual $\|Hv - \lambda v\|$ of the Rayleigh quotient $\lambda = v^\top H v$
/// is at most $\mathrm{tol}\cdot\max(|\lambda|, |\lambda - \sigma|)$. With $\sigma = 0$ it
/// finds the eigenvalue of largest magnitude, whatever its sign.
///
/// # Requirements
/// The objective implements [`Hvp`].
///
/// # Postconditions
/// The eigenvector has unit norm.
///
/// # Cost
/// One product per iteration; the error shrinks like $|\mu_2/\mu_1|^t$ for the two
/// largest-magnitude eigenvalues $\mu$ of $H - \sigma I$; if $\pm\mu$ are both eigenvalues it does
/// not converge.
///
/// # Errors
/// A bad point, an operator error, or [`Error::NoConvergence`] after `max_iters` iterations.
///
/// # Example
/// ```
/// # use critpt::curvature::PowerIteration;
/// # use critpt::problems::QuadraticForm;
/// let q = QuadraticForm::from_spectrum(&[-6.0, 1.0, 2.0], 1).unwrap();
/// let r = PowerIteration::new().run(&q, &[0.0; 3]).unwrap();
/// assert!((r.eigenvalue + 6.0).abs() < 1e-6); // largest magnitude, negative
/// ```
///
/// # References
/// Golub & Van Loan (2013), *Matrix Computations*, §8.2.1; Yao et al. (2020), PyHessian.
#[derive(Debug, Clone)]
pub struct PowerIteration {
    max_iters: usize,
    tol: f64,
    shift: f64,
    seed: u64,
}

impl Default for PowerIteration {
    fn default() -> Self {
        Self::new()
    }
}

impl PowerIteration {
    /// Tolerance `1e-8`, at most `10_000` iterations, no shift, seed 0.
    pub fn new() -> Self {
        PowerIteration {
            max_iters: 10_000,
            tol: 1e-8,
            shift: 0.0,
            seed: 0,
        }
    }

    /// Relative residual tolerance.
    ///
    /// # Errors
    /// `tol` not positive and finite.
    pub fn with_tol(mut self, tol: f64) -> Result<Self> {
        self.tol = crate::error::ensure_positive("tolerance", tol)?;
        Ok(self)
    }

    /// Maximum number of iterations.
    ///
    /// # Errors
    /// `max_iters == 0`.
    pub fn with_max_iters(mut self, max_iters: usize) -> Result<Self> {
        self.max_iters = crate::error::ensure_nonzero("max iterations", max_iters)?;
        Ok(self)
    }

    /// Iterates on `H − shift·I`.
    ///
    /// # Errors
    /// A non-finite shift.
    pub fn with_shift(mut self, shift: f64) -> Result<Self> {
        if !shift.is_finite() {
            return Err(Error::invalid(
                "shift",
                format!("must be finite, got {shift}"),
            ));
        }
        self.shift = shift;
        Ok(self)
    }

    /// Seed of the start vector.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs power iteration on `H(params) − σI`; see [`PowerIteration`].
    ///
    /// # Errors
    /// See [`PowerIteration`].
    pub fn run<O: Hvp + ?Sized>(&self, obj: &O, params: &[f64]) -> Result<PowerResult> {
        let mut op = HvpOperator::new(obj, params)?;
        let n = op.dim();
        if n == 0 {
            return Err(Error::invalid("operator", "has no parameters"));
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut v = gaussian_vec(n, &mut rng);
        let nrm = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|x| *x /= nrm);
        let mut hv = vec![0.0; n];
        let mut lambda = 0.0;
        let mut residual = f64::INFINITY;
        for iter in 1..=self.max_iters {
            op.apply(&v, &mut hv)?;
            lambda = dot(&v, &hv);
            // r = Hv − λv.
            let mut r = hv.clone();
            axpy(-lambda, &v, &mut r);
            residual = dot(&r, &r).sqrt();
            let scale = lambda.abs().max((lambda - self.shift).abs());
            if residual <= self.tol * scale || residual == 0.0 {
                return Ok(self.result(v, lambda, residual, iter, op.n_hvps()));
            }
            // w = (H − σI) v.
            axpy(-self.shift, &v, &mut hv);
            let wn = dot(&hv, &hv).sqrt();
            if wn == 0.0 {
                // v is an eigenvector of H with eigenvalue exactly σ, but the residual test
                // above failed: cannot happen in exact arithmetic; stop here.
                break;
            }
            for (vi, wi) in v.iter_mut().zip(&hv) {
                *vi = wi / wn;
            }
        }
        Err(Error::NoConvergence {
            method: "power iteration".into(),
            iters: self.max_iters,
            residual: residual / lambda.abs().max(f64::MIN_POSITIVE),
        })
    }

    fn result(
        &self,
        mut v: Vec<f64>,
        lambda: f64,
        residual: f64,
        iterations: usize,
        n_hvps: usize,
    ) -> PowerResult {
        if super::largest_entry_sign(&v) < 0.0 {
            v.iter_mut().for_each(|e| *e = -*e);
        }
        PowerResult {
            eigenvalue: lambda,
            eigenvector: v,
            residual,
            iterations,
            n_hvps,
            seed: self.seed,
        }
    }
}

/// Both ends of the spectrum by power iteration and the shift trick; returns
/// `(smallest, largest)`.
///
/// First, plain power iteration finds the dominant eigenvalue $\lambda_d$ (largest magnitude).
/// Every eigenvalue of $H - \lambda_d I$ then lies between $0$ and
/// $\lambda_o - \lambda_d$, where $\lambda_o$ is the opposite end of the spectrum; so the
/// dominant eigenvalue of the shifted operator is $\lambda_o - \lambda_d$, and a second power
/// iteration with shift $\lambda_d$ returns $\lambda_o$. The settings (tolerance, iterations,
/// seed) of `cfg` are used for both runs; its own shift is ignored.
///
/// # Cost
/// The two runs' products (`n_hvps` of each result). The second run's rate is
/// $|(\lambda_{o'} - \lambda_d)/(\lambda_o - \lambda_d)|$ with $\lambda_{o'}$ the next eigenvalue
/// after $\lambda_o$: slow when the spectrum's far end is crowded.
///
/// # Errors
/// As [`PowerIteration::run`].
pub fn power_extremes<O: Hvp + ?Sized>(
    obj: &O,
    params: &[f64],
    cfg: &PowerIteration,
) -> Result<(PowerResult, PowerResult)> {
    let plain = PowerIteration {
        shift: 0.0,
        ..cfg.clone()
    };
    let dominant = plain.run(obj, params)?;
    let shifted = PowerIteration {
        shift: dominant.eigenvalue,
        seed: cfg.seed.wrapping_add(1),
        ..cfg.clone()
    };
    let other = shifted.run(obj, params)?;
    Ok(if dominant.eigenvalue >= other.eigenvalue {
        (other, dominant)
    } else {
        (dominant, other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::QuadraticForm;

    #[test]
    fn finds_the_largest_magnitude_even_when_negative() {
        let q = QuadraticForm::from_spectrum(&[-10.0, -1.0, 0.5, 2.0, 5.0], 11).unwrap();
        let r = PowerIteration::new().run(&q, &[0.0; 5]).unwrap();
        assert!((r.eigenvalue + 10.0).abs() < 1e-9, "{}", r.eigenvalue);
        assert!(r.residual <= 1e-8 * 10.0);
        assert_eq!(r.n_hvps, r.iterations);
    }

    #[test]
    fn shift_trick_gives_both_ends() {
        let q = QuadraticForm::from_spectrum(&[-3.0, -1.0, 0.5, 2.0, 8.0, 1.0], 12).unwrap();
        let (lo, hi) = power_extremes(&q, &[0.0; 6], &PowerIteration::new()).unwrap();
        assert!((lo.eigenvalue + 3.0).abs() < 1e-9, "{}", lo.eigenvalue);
        assert!((hi.eigenvalue - 8.0).abs() < 1e-9, "{}", hi.eigenvalue);
    }

    #[test]
    fn reports_no_convergence_for_plus_minus_pair() {
        // ±4 dominate together: the iterate oscillates and never settles.
        let q = QuadraticForm::from_spectrum(&[-4.0, 1.0, 4.0], 2).unwrap();
        let err = PowerIteration::new()
            .with_max_iters(50)
            .unwrap()
            .run(&q, &[0.0; 3])
            .unwrap_err();
        assert!(
            matches!(err, Error::NoConvergence { iters: 50, .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(PowerIteration::new().with_tol(0.0).is_err());
        assert!(PowerIteration::new().with_max_iters(0).is_err());
        assert!(PowerIteration::new().with_shift(f64::NAN).is_err());
        let q = QuadraticForm::from_spectrum(&[1.0, 2.0], 0).unwrap();
        assert!(PowerIteration::new().run(&q, &[0.0; 3]).is_err());
    }
}
