//! [`Ridge`]: an objective plus weight decay `½·α‖θ‖²`.

use crate::error::Result;
use crate::objective::{Gradient, Hessian, Loss};
use nalgebra::DMatrix;

/// `L(θ) + ½·α‖θ‖²`: weight decay, which keeps the critical points of a tanh network at finite
/// parameters (without it the loss can keep falling along directions to infinity, where
/// `‖∇L‖ → 0` only asymptotically).
#[derive(Debug, Clone)]
pub struct Ridge<O> {
    /// The unregularized objective.
    pub inner: O,
    /// The weight-decay coefficient `α`.
    pub alpha: f64,
}

impl<O: Loss> Loss for Ridge<O> {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        Ok(self.inner.loss(params)? + 0.5 * self.alpha * params.iter().map(|p| p * p).sum::<f64>())
    }
}

impl<O: Gradient> Gradient for Ridge<O> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.inner.gradient(params, out)?;
        for (o, p) in out.iter_mut().zip(params) {
            *o += self.alpha * p;
        }
        Ok(())
    }
}

impl<O: Hessian> Hessian for Ridge<O> {
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        let mut h = self.inner.hessian(params)?;
        for i in 0..h.nrows() {
            h[(i, i)] += self.alpha;
        }
        Ok(h)
    }
}
