//! Levenberg–Marquardt on the gradient system `∇f = 0`: the damped step [`LmSteps`] that the
//! search's Newton iteration falls back on where the Hessian is singular, and
//! [`minimize_gradient_norm`], a whole minimizer of `½‖∇f‖²` built from the same step.
//!
//! The residual is `∇f`, its Jacobian the Hessian `H`, so the step with damping `μ ≥ 0` is
//! `s(μ) = −(H² + μI)⁻¹ H ∇f`: Newton's step for `μ → 0`, a short step along `−∇(½‖∇f‖²) =
//! −H ∇f` for large `μ`. Both callers try several dampings at one point, so the step is taken
//! from one symmetric eigendecomposition `H = QΛQᵀ`:
//! `s(μ) = −Q diag(λᵢ / (λᵢ² + μ)) Qᵀ ∇f`.
//!
//! # References
//! Nocedal & Wright (2006), *Numerical Optimization*, §10.3 and ch. 11.

use crate::error::Result;
use crate::objective::{norm, Gradient, Hessian};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// The Levenberg–Marquardt steps of the residual `∇f` at one point, for any damping.
pub(crate) struct LmSteps {
    eig: SymmetricEigen<f64, nalgebra::Dyn>,
    /// `Qᵀ ∇f`.
    qg: DVector<f64>,
}

impl LmSteps {
    /// Decomposes the Hessian `h` once for the gradient `g`.
    pub(crate) fn new(h: DMatrix<f64>, g: &[f64]) -> Self {
        let eig = SymmetricEigen::new(h);
        let qg = eig.eigenvectors.transpose() * DVector::from_column_slice(g);
        LmSteps { eig, qg }
    }

    /// `max |λᵢ|`, the spectral norm of `H` (the scale of a relative damping).
    pub(crate) fn spectral_norm(&self) -> f64 {
        self.eig
            .eigenvalues
            .iter()
            .fold(0.0f64, |m, l| m.max(l.abs()))
    }

    /// `‖H²‖_F = (Σ λᵢ⁴)^½`.
    pub(crate) fn frobenius_norm_of_square(&self) -> f64 {
        self.eig
            .eigenvalues
            .iter()
            .map(|l| (l * l) * (l * l))
            .sum::<f64>()
            .sqrt()
    }

    /// The step `s(μ) = −(H² + μI)⁻¹ H ∇f`.
    pub(crate) fn step(&self, damping: f64) -> DVector<f64> {
        let coef = DVector::from_iterator(
            self.qg.len(),
            self.eig
                .eigenvalues
                .iter()
                .zip(self.qg.iter())
                .map(|(l, c)| -l * c / (l * l + damping)),
        );
        &self.eig.eigenvectors * coef
    }
}

/// The result of [`minimize_gradient_norm`].
#[derive(Debug, Clone)]
pub struct GradNormRun {
    /// The final point.
    pub params: Vec<f64>,
    /// `‖∇L‖` there.
    pub gradient_norm: f64,
    /// Iterations used.
    pub iterations: usize,
}

/// Drives `params` towards a critical point of `obj` (of any kind) by minimizing
/// `φ = ½‖∇L‖²` with Levenberg–Marquardt steps.
///
/// Each iteration takes the step `d = −(H² + μ‖H‖²I)⁻¹ H ∇L` ([`LmSteps`]); `μ` shrinks by 4 after
/// a step that lowers `‖∇L‖` and grows by 4 until one does (at most 30 times). Stops when
/// `‖∇L‖ ≤ tol`, after `max_iters`, or when no damping lowers `‖∇L‖`. Such steps can stall where
/// `φ` is flat without `∇L = 0`; the caller must check [`GradNormRun::gradient_norm`].
///
/// # Errors
/// Non-finite derivatives.
///
/// # Example
/// ```
/// # use critpt::critical::minimize_gradient_norm;
/// # use critpt::expr::Formula;
/// let f = Formula::parse("x^2 - y^2 + x*y").unwrap(); // a saddle at the origin
/// let run = minimize_gradient_norm(&f, &[0.3, -0.2], 1e-12, 20).unwrap();
/// assert!(run.gradient_norm <= 1e-12);
/// assert!(run.params.iter().all(|p| p.abs() < 1e-12));
/// ```
pub fn minimize_gradient_norm<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    start: &[f64],
    tol: f64,
    max_iters: usize,
) -> Result<GradNormRun> {
    let n = start.len();
    let mut p = start.to_vec();
    let mut g = vec![0.0; n];
    obj.gradient(&p, &mut g)?;
    let mut gn = norm(&g);
    let mut it = 0;
    let mut trial_g = vec![0.0; n];
    let mut mu = 1e-3;
    while gn > tol && it < max_iters {
        it += 1;
        let steps = LmSteps::new(obj.hessian(&p)?, &g);
        let scale = steps.spectral_norm();
        let mut accepted = false;
        for _ in 0..30 {
            let d = steps.step(mu * scale * scale);
            let trial: Vec<f64> = p.iter().zip(d.iter()).map(|(a, b)| a + b).collect();
            obj.gradient(&trial, &mut trial_g)?;
            let tn = norm(&trial_g);
            if tn.is_finite() && tn < gn {
                p = trial;
                g.copy_from_slice(&trial_g);
                gn = tn;
                mu = (mu / 4.0).max(1e-16);
                accepted = true;
                break;
            }
            mu *= 4.0;
        }
        if !accepted {
            break;
        }
    }
    Ok(GradNormRun {
        params: p,
        gradient_norm: gn,
        iterations: it,
    })
}
