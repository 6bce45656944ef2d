//! AdaGrad, exactly `torch.optim.Adagrad`.

use super::{check, check_step, Optimizer};
use crate::error::Result;

/// `torch.optim.Adagrad`: per-parameter steps scaled by the root of the *sum* of squared
/// gradients.
///
/// With step count $t$ from 1, $g_t$ the gradient (plus $\lambda\theta_{t-1}$ when
/// `weight_decay` $=\lambda\ne 0$), `lr_decay` $\delta$ and accumulator $s_0$
/// (`initial_accumulator_value`):
///
/// $$\tilde\eta_t = \frac{\eta}{1 + (t-1)\delta},\quad s_t = s_{t-1} + g_t^2,\quad
///   \theta_t = \theta_{t-1} - \tilde\eta_t \frac{g_t}{\sqrt{s_t} + \epsilon}.$$
///
/// Defaults (torch): lr 0.01 (see [`super::default_lr`]), `lr_decay` 0, `weight_decay` 0,
/// `initial_accumulator_value` 0, `eps` 1e-10. This is the "classic" AdaGrad
/// ($\sigma = \sqrt{\sum g^2}$); the chapter's root-*mean*-square form is
/// [`super::AdagradBook`].
///
/// # References
/// Duchi, Hazan & Singer (2011), "Adaptive subgradient methods".
#[derive(Debug, Clone)]
pub struct Adagrad {
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
    sum: Vec<f64>,
    t: u64,
}

impl Default for Adagrad {
    fn default() -> Self {
        Self::new()
    }
}

impl Adagrad {
    /// torch's defaults.
    pub fn new() -> Self {
        Adagrad {
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            sum: Vec::new(),
            t: 0,
        }
    }

    /// Sets `eps` (added to $\sqrt{s_t}$).
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check::positive("eps", eps)?;
        Ok(self)
    }

    /// Sets `lr_decay` $\delta$.
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_lr_decay(mut self, lr_decay: f64) -> Result<Self> {
        self.lr_decay = check::non_negative("lr decay", lr_decay)?;
        Ok(self)
    }

    /// Sets the L2 `weight_decay` $\lambda$ (added to the gradient).
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self> {
        self.weight_decay = check::non_negative("weight decay", weight_decay)?;
        Ok(self)
    }

    /// Sets `initial_accumulator_value` $s_0$.
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_initial_accumulator_value(mut self, value: f64) -> Result<Self> {
        self.initial_accumulator_value = check::non_negative("initial accumulator value", value)?;
        Ok(self)
    }
}

impl Optimizer for Adagrad {
    fn name(&self) -> &str {
        "adagrad"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        let state = (self.t > 0).then_some(self.sum.len());
        check_step(params, grad, lr, state)?;
        if self.t == 0 {
            self.sum = vec![self.initial_accumulator_value; params.len()];
        }
        self.t += 1;
        let clr = lr / (1.0 + (self.t - 1) as f64 * self.lr_decay);
        let (wd, eps) = (self.weight_decay, self.eps);
        for ((p, &g), s) in params.iter_mut().zip(grad).zip(self.sum.iter_mut()) {
            let g = if wd != 0.0 { g + wd * *p } else { g };
            *s += g * g;
            let std = s.sqrt() + eps;
            *p += -clr * g / std;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.sum.clear();
        self.t = 0;
    }
}
