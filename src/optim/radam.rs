//! RAdam, exactly `torch.optim.RAdam`.

use super::rmsprop::lerp;
use super::{check, check_step, Optimizer};
use crate::error::Result;

/// `torch.optim.RAdam`: Adam whose adaptive step is switched on only once the variance of
/// its denominator is tractable, and then rectified.
///
/// With step count $t$ from 1, $g_t$ the gradient (plus $\lambda\theta_{t-1}$ for L2
/// `weight_decay` $\lambda \ne 0$; with `decoupled_weight_decay` instead
/// $\theta \leftarrow \theta(1 - \eta\lambda)$ first), betas $(\beta_1, \beta_2)$, $m_t, v_t$
/// as in [`super::Adam`], $\hat m_t = m_t / (1-\beta_1^t)$ and
///
/// $$\rho_\infty = \frac{2}{1-\beta_2} - 1,\quad
///   \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t},\quad
///   r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}},$$
/// $$\theta_t = \begin{cases}
///   \theta_{t-1} - \eta\,\hat m_t\,\dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}\,r_t
///     & \rho_t > 5,\\
///   \theta_{t-1} - \eta\,\hat m_t & \text{else (SGD with the corrected momentum),}
/// \end{cases}$$
///
/// in torch's order of operations. The first steps are unscaled gradient steps, so the rate
/// must suit plain gradient descent on the objective.
///
/// Defaults (torch): lr 0.001, betas (0.9, 0.999), eps 1e-8, weight decay 0, L2 (not
/// decoupled) weight decay.
///
/// # Example
/// ```
/// # use critpt::optim::{RAdam, Optimizer};
/// let mut opt = RAdam::new();
/// let mut params = vec![1.0];
/// opt.step(&mut params, &[3.0], 0.1).unwrap();
/// // rho_1 = 1 <= 5: the first step is a gradient step with the corrected momentum (= g).
/// assert!((params[0] - 0.7).abs() < 1e-12);
/// ```
///
/// # References
/// Liu et al. (2020), "On the variance of the adaptive learning rate and beyond".
#[derive(Debug, Clone)]
pub struct RAdam {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    m: Vec<f64>,
    v: Vec<f64>,
    t: u64,
}

impl Default for RAdam {
    fn default() -> Self {
        Self::new()
    }
}

impl RAdam {
    /// torch's defaults.
    pub fn new() -> Self {
        RAdam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            m: Vec::new(),
            v: Vec::new(),
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

    /// Sets `eps` (added to $\sqrt{v_t}$).
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check::positive("eps", eps)?;
        Ok(self)
    }

    /// Sets the weight decay $\lambda$ (L2 unless [`RAdam::with_decoupled_weight_decay`]).
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self> {
        self.weight_decay = check::non_negative("weight decay", weight_decay)?;
        Ok(self)
    }

    /// Decoupled weight decay (torch's `decoupled_weight_decay`, as AdamW).
    pub fn with_decoupled_weight_decay(mut self, decoupled: bool) -> Self {
        self.decoupled = decoupled;
        self
    }
}

impl Optimizer for RAdam {
    fn name(&self) -> &str {
        "radam"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        let state = (self.t > 0).then_some(self.m.len());
        check_step(params, grad, lr, state)?;
        if self.t == 0 {
            self.m = vec![0.0; params.len()];
            self.v = vec![0.0; params.len()];
        }
        self.t += 1;
        let step = self.t as f64;
        let (beta1, beta2, wd) = (self.beta1, self.beta2, self.weight_decay);
        let bias_correction1 = 1.0 - beta1.powf(step);
        let bias_correction2 = 1.0 - beta2.powf(step);
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * step * beta2.powf(step) / bias_correction2;
        // `Some(r_t)` once the adaptive step is on; torch's `** 0.5` is `powf(0.5)`.
        let rect = (rho_t > 5.0).then(|| {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .powf(0.5)
        });
        let bc2_root = bias_correction2.powf(0.5);
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
            let corrected = *m / bias_correction1;
            *p -= match rect {
                Some(r) => corrected * lr * (bc2_root / (v.sqrt() + self.eps)) * r,
                None => corrected * lr,
            };
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.m.clear();
        self.v.clear();
        self.t = 0;
    }
}
