//! Adadelta, exactly `torch.optim.Adadelta`.

use super::{check, check_step, Optimizer};
use crate::error::Result;

/// `torch.optim.Adadelta`: steps whose units come from a running average of past steps, so
/// the rate is a plain multiplier (default 1).
///
/// With $g_t$ the gradient (plus $\lambda\theta_{t-1}$ for `weight_decay` $\lambda \ne 0$),
/// decay $\rho$:
///
/// $$v_t = \rho v_{t-1} + (1-\rho) g_t^2,\quad
///   \Delta_t = \frac{\sqrt{a_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t,\quad
///   a_t = \rho a_{t-1} + (1-\rho)\Delta_t^2,\quad \theta_t = \theta_{t-1} - \eta\Delta_t,$$
///
/// with $v_0 = a_0 = 0$, in torch's order of operations (`eps` inside both roots).
///
/// Defaults (torch): lr 1.0, rho 0.9, eps 1e-6, weight decay 0.
///
/// # Example
/// ```
/// # use critpt::optim::{Adadelta, Optimizer};
/// let mut opt = Adadelta::new();
/// let mut params = vec![1.0];
/// opt.step(&mut params, &[3.0], 1.0).unwrap();
/// // The first step is sqrt(eps) / sqrt(0.1 g² + eps) g, about sqrt(10 eps).
/// assert!((1.0 - params[0] - (1e-6f64 / (0.9 + 1e-6)).sqrt() * 3.0).abs() < 1e-12);
/// ```
///
/// # References
/// Zeiler (2012), "ADADELTA: an adaptive learning rate method".
#[derive(Debug, Clone)]
pub struct Adadelta {
    rho: f64,
    eps: f64,
    weight_decay: f64,
    square_avg: Vec<f64>,
    acc_delta: Vec<f64>,
    n: Option<usize>,
}

impl Default for Adadelta {
    fn default() -> Self {
        Self::new()
    }
}

impl Adadelta {
    /// torch's defaults.
    pub fn new() -> Self {
        Adadelta {
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            square_avg: Vec::new(),
            acc_delta: Vec::new(),
            n: None,
        }
    }

    /// Sets the decay $\rho$ of both running averages.
    ///
    /// # Errors
    /// Outside `[0, 1]` (torch's range).
    pub fn with_rho(mut self, rho: f64) -> Result<Self> {
        self.rho = check::unit_closed("rho", rho)?;
        Ok(self)
    }

    /// Sets `eps` (inside both roots).
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check::positive("eps", eps)?;
        Ok(self)
    }

    /// Sets the L2 weight decay $\lambda$ (added to the gradient).
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self> {
        self.weight_decay = check::non_negative("weight decay", weight_decay)?;
        Ok(self)
    }
}

impl Optimizer for Adadelta {
    fn name(&self) -> &str {
        "adadelta"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        check_step(params, grad, lr, self.n)?;
        if self.n.is_none() {
            self.square_avg = vec![0.0; params.len()];
            self.acc_delta = vec![0.0; params.len()];
            self.n = Some(params.len());
        }
        let (rho, eps, wd) = (self.rho, self.eps, self.weight_decay);
        for (((p, &g), v), a) in params
            .iter_mut()
            .zip(grad)
            .zip(self.square_avg.iter_mut())
            .zip(self.acc_delta.iter_mut())
        {
            let g = if wd != 0.0 { g + wd * *p } else { g };
            *v = *v * rho + (1.0 - rho) * g * g;
            let std = (*v + eps).sqrt();
            let delta = (*a + eps).sqrt() / std * g;
            *a = *a * rho + (1.0 - rho) * delta * delta;
            *p += -lr * delta;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.square_avg.clear();
        self.acc_delta.clear();
        self.n = None;
    }
}
