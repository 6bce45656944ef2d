//! Gradient descent with momentum, as `torch.optim.SGD(momentum=μ, dampening=τ)`.

use super::{Optimizer, Sgd};
use crate::error::{Error, Result};

/// SGD with (heavy-ball) momentum and dampening, exactly `torch.optim.SGD(momentum, dampening)`:
///
/// $$b_1 = g_1,\quad b_t = \mu b_{t-1} + (1-\tau) g_t,\quad \theta_t = \theta_{t-1} - \eta b_t.$$
///
/// Default momentum 0.9 (torch has none: its default 0 is plain SGD), dampening 0. See
/// [`super::MomentumBook`] for the chapter's form $m_t = \lambda m_{t-1} - \eta g_{t-1}$, which
/// equals this one (dampening 0) for a constant learning rate.
///
/// # Example
/// ```
/// # use critpt::optim::{Momentum, Optimizer};
/// let mut opt = Momentum::try_new(0.5, 0.0, 0.0).unwrap();
/// let mut params = vec![0.0];
/// opt.step(&mut params, &[1.0], 0.1).unwrap(); // b = 1
/// opt.step(&mut params, &[1.0], 0.1).unwrap(); // b = 1.5
/// assert!((params[0] + 0.25).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct Momentum(Sgd);

impl Momentum {
    /// Default momentum.
    pub const DEFAULT_MOMENTUM: f64 = 0.9;

    /// Momentum `momentum`, dampening `dampening`, L2 weight decay `weight_decay`.
    ///
    /// # Errors
    /// `momentum` not positive and finite, `dampening` outside `[0, 1]`, `weight_decay` negative.
    pub fn try_new(momentum: f64, dampening: f64, weight_decay: f64) -> Result<Self> {
        if !(momentum.is_finite() && momentum > 0.0) {
            return Err(Error::invalid(
                "momentum",
                format!("must be positive and finite for the momentum optimizer, got {momentum}"),
            ));
        }
        Ok(Momentum(
            Sgd::try_new(momentum, dampening, weight_decay, false)?.named("momentum"),
        ))
    }
}

impl Optimizer for Momentum {
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
