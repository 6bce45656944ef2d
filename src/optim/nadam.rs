//! NAdam, exactly `torch.optim.NAdam`.

use super::rmsprop::lerp;
use super::{check, check_step, Optimizer};
use crate::error::Result;

/// `torch.optim.NAdam`: Adam with Nesterov momentum and a momentum schedule.
///
/// With step count $t$ from 1, $g_t$ the gradient (plus $\lambda\theta_{t-1}$ for L2
/// `weight_decay` $\lambda \ne 0$; with `decoupled_weight_decay` instead
/// $\theta \leftarrow \theta(1 - \eta\lambda)$ first), betas $(\beta_1, \beta_2)$ and
/// `momentum_decay` $\psi$:
///
/// $$\mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{t\psi}\right),\quad
///   \Pi_t = \prod_{i \le t} \mu_i,$$
/// $$m_t = m_{t-1} + (1-\beta_1)(g_t - m_{t-1}),\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
///   \quad d_t = \sqrt{v_t / (1-\beta_2^t)} + \epsilon,$$
/// $$\theta_t = \theta_{t-1} - \frac{\eta(1-\mu_t)}{1-\Pi_t}\frac{g_t}{d_t}
///   - \frac{\eta\,\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\frac{m_t}{d_t},$$
///
/// in torch's order of operations (the bias correction is inside the root, unlike Adam's).
///
/// Defaults (torch): lr 0.002, betas (0.9, 0.999), eps 1e-8, weight decay 0, momentum decay
/// 0.004, L2 (not decoupled) weight decay.
///
/// # Example
/// ```
/// # use critpt::optim::{NAdam, Optimizer};
/// let mut opt = NAdam::new();
/// let mut params = vec![1.0];
/// opt.step(&mut params, &[3.0], 0.1).unwrap();
/// assert!(params[0] < 1.0);
/// ```
///
/// # References
/// Dozat (2016), "Incorporating Nesterov momentum into Adam".
#[derive(Debug, Clone)]
pub struct NAdam {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled: bool,
    m: Vec<f64>,
    v: Vec<f64>,
    mu_product: f64,
    t: u64,
}

impl Default for NAdam {
    fn default() -> Self {
        Self::new()
    }
}

impl NAdam {
    /// torch's default `momentum_decay` $\psi$.
    pub const DEFAULT_MOMENTUM_DECAY: f64 = 4e-3;

    /// torch's defaults.
    pub fn new() -> Self {
        NAdam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: Self::DEFAULT_MOMENTUM_DECAY,
            decoupled: false,
            m: Vec::new(),
            v: Vec::new(),
            mu_product: 1.0,
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

    /// Sets `eps` (added after the root).
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check::positive("eps", eps)?;
        Ok(self)
    }

    /// Sets the weight decay $\lambda$ (L2 unless [`NAdam::with_decoupled_weight_decay`]).
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self> {
        self.weight_decay = check::non_negative("weight decay", weight_decay)?;
        Ok(self)
    }

    /// Sets `momentum_decay` $\psi$, how fast $\mu_t$ approaches $\beta_1$.
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_momentum_decay(mut self, momentum_decay: f64) -> Result<Self> {
        self.momentum_decay = check::non_negative("momentum decay", momentum_decay)?;
        Ok(self)
    }

    /// Decoupled weight decay (torch's `decoupled_weight_decay`, as AdamW): the parameters
    /// shrink by $1 - \eta\lambda$ before the update instead of $\lambda\theta$ joining the
    /// gradient.
    pub fn with_decoupled_weight_decay(mut self, decoupled: bool) -> Self {
        self.decoupled = decoupled;
        self
    }
}

impl Optimizer for NAdam {
    fn name(&self) -> &str {
        "nadam"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        let state = (self.t > 0).then_some(self.m.len());
        check_step(params, grad, lr, state)?;
        if self.t == 0 {
            self.m = vec![0.0; params.len()];
            self.v = vec![0.0; params.len()];
            self.mu_product = 1.0;
        }
        self.t += 1;
        let step = self.t as f64;
        let (beta1, beta2, wd) = (self.beta1, self.beta2, self.weight_decay);
        let bias_correction2 = 1.0 - beta2.powf(step);
        let mu = beta1 * (1.0 - 0.5 * 0.96f64.powf(step * self.momentum_decay));
        let mu_next = beta1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * self.momentum_decay));
        self.mu_product *= mu;
        let mu_product_next = self.mu_product * mu_next;
        let grad_coeff = -lr * (1.0 - mu) / (1.0 - self.mu_product);
        let avg_coeff = (-lr * mu_next) / (1.0 - mu_product_next);
        let decay = 1.0 - lr * wd;
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            let g = if wd == 0.0 {
                g
            } else if self.decoupled {
                *p *= decay;
                g
            } else {
                g + wd * *p
            };
            *m = lerp(*m, g, 1.0 - beta1);
            *v = *v * beta2 + (1.0 - beta2) * g * g;
            let denom = (*v / bias_correction2).sqrt() + self.eps;
            *p += grad_coeff * g / denom;
            *p += avg_coeff * *m / denom;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.m.clear();
        self.v.clear();
        self.mu_product = 1.0;
        self.t = 0;
    }
}
