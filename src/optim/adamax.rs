//! Adamax, exactly `torch.optim.Adamax`.

use super::rmsprop::lerp;
use super::{check, check_step, Optimizer};
use crate::error::Result;

/// `torch.optim.Adamax`: Adam with the infinity norm in place of the root mean square.
///
/// With step count $t$ from 1, $g_t$ the gradient (plus $\lambda\theta_{t-1}$ for
/// `weight_decay` $\lambda \ne 0$), betas $(\beta_1, \beta_2)$:
///
/// $$m_t = m_{t-1} + (1-\beta_1)(g_t - m_{t-1}),\quad
///   u_t = \max(\beta_2 u_{t-1},\ |g_t| + \epsilon),\quad
///   \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{u_t},$$
///
/// in torch's order of operations (`eps` inside the max, so $u_t > 0$ always).
///
/// Defaults (torch): lr 0.002, betas (0.9, 0.999), eps 1e-8, weight decay 0.
///
/// # Example
/// ```
/// # use critpt::optim::{Adamax, Optimizer};
/// let mut opt = Adamax::new();
/// let mut params = vec![1.0];
/// opt.step(&mut params, &[3.0], 0.1).unwrap();
/// // The first step moves by lr times g / (|g| + eps).
/// assert!((params[0] - 0.9).abs() < 1e-8);
/// ```
///
/// # References
/// Kingma & Ba (2015), "Adam: a method for stochastic optimization", §7.1.
#[derive(Debug, Clone)]
pub struct Adamax {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    m: Vec<f64>,
    u: Vec<f64>,
    t: u64,
}

impl Default for Adamax {
    fn default() -> Self {
        Self::new()
    }
}

impl Adamax {
    /// torch's defaults.
    pub fn new() -> Self {
        Adamax {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            m: Vec::new(),
            u: Vec::new(),
            t: 0,
        }
    }

    /// Sets the betas $(\beta_1, \beta_2)$.
    ///
    /// # Errors
    /// Either outside `[0, 1)`.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Result<Self> {
        self.beta1 = check::unit_open("beta1", beta1)?;
        self.beta2 = check::unit_open("beta2", beta2)?;
        Ok(self)
    }

    /// Sets `eps` (the floor of $u_t$ above $|g_t|$).
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

/// `torch.maximum`: the larger value, NaN if either is NaN.
fn maximum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

impl Optimizer for Adamax {
    fn name(&self) -> &str {
        "adamax"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        let state = (self.t > 0).then_some(self.m.len());
        check_step(params, grad, lr, state)?;
        if self.t == 0 {
            self.m = vec![0.0; params.len()];
            self.u = vec![0.0; params.len()];
        }
        self.t += 1;
        let (beta1, beta2, wd, eps) = (self.beta1, self.beta2, self.weight_decay, self.eps);
        let clr = lr / (1.0 - beta1.powf(self.t as f64));
        for (((p, &g), m), u) in params
            .iter_mut()
            .zip(grad)
            .zip(self.m.iter_mut())
            .zip(self.u.iter_mut())
        {
            let g = if wd != 0.0 { g + wd * *p } else { g };
            *m = lerp(*m, g, 1.0 - beta1);
            *u = maximum(*u * beta2, g.abs() + eps);
            *p += -clr * *m / *u;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.m.clear();
        self.u.clear();
        self.t = 0;
    }
}
