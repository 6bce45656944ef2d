//! Nesterov momentum, as `torch.optim.SGD(momentum=μ, nesterov=True)`.

use super::{Optimizer, Sgd};
use crate::error::Result;

/// Nesterov momentum, exactly `torch.optim.SGD(momentum, nesterov=True)` (dampening 0):
///
/// $$b_1 = g_1,\quad b_t = \mu b_{t-1} + g_t,\quad \theta_t = \theta_{t-1} - \eta\,(g_t + \mu b_t).$$
///
/// Default momentum 0.9.
///
/// # Example
/// ```
/// # use critpt::optim::{Nesterov, Optimizer};
/// let mut opt = Nesterov::try_new(0.5, 0.0).unwrap();
/// let mut params = vec![0.0];
/// opt.step(&mut params, &[1.0], 0.1).unwrap(); // b = 1, d = 1.5
/// assert!((params[0] + 0.15).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct Nesterov(Sgd);

impl Nesterov {
    /// Default momentum.
    pub const DEFAULT_MOMENTUM: f64 = 0.9;

    /// Momentum `momentum` with L2 weight decay `weight_decay`.
    ///
    /// # Errors
    /// `momentum` not positive and finite (torch: "Nesterov momentum requires a momentum"),
    /// `weight_decay` negative.
    pub fn try_new(momentum: f64, weight_decay: f64) -> Result<Self> {
        Ok(Nesterov(
            Sgd::try_new(momentum, 0.0, weight_decay, true)?.named("nesterov"),
        ))
    }
}

impl Optimizer for Nesterov {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        self.0.step(params, grad, lr)
    }
    fn reset(&mut self) {
        self.0.reset()
    }
}
