//! RMSProp, exactly `torch.optim.RMSprop`.

use super::{check, check_step, Optimizer};
use crate::error::Result;

/// `torch.optim.RMSprop`: steps scaled by a running root mean square of the gradient.
///
/// With $g_t$ the gradient (plus $\lambda\theta_{t-1}$ for `weight_decay` $\lambda \ne 0$),
/// smoothing $\alpha$:
///
/// $$v_t = \alpha v_{t-1} + (1-\alpha) g_t^2,\quad v_0 = 0,$$
/// and when `centered`, $\bar g_t = \bar g_{t-1} + (1-\alpha)(g_t - \bar g_{t-1})$ (torch's
/// `lerp`) and $v_t$ is replaced by $v_t - \bar g_t^2$ under the root;
/// $$a_t = \sqrt{v_t} + \epsilon,\qquad
///   \theta_t = \begin{cases}\theta_{t-1} - \eta\, b_t,\ b_t = \mu b_{t-1} + g_t / a_t & \mu > 0\\
///   \theta_{t-1} - \eta\, g_t / a_t & \text{else.}\end{cases}$$
///
/// Defaults (torch): lr 0.01, $\alpha$ 0.99, eps 1e-8, weight decay 0, momentum 0, not
/// centered. The chapter's form (with $\sigma_0 = |g_0|$) is [`super::RmsPropBook`].
///
/// # References
/// Hinton, Srivastava & Swersky (2012), lecture 6e of "Neural networks for machine learning".
#[derive(Debug, Clone)]
pub struct RmsProp {
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    square_avg: Vec<f64>,
    grad_avg: Vec<f64>,
    buf: Vec<f64>,
    n: Option<usize>,
}

impl Default for RmsProp {
    fn default() -> Self {
        Self::new()
    }
}

impl RmsProp {
    /// torch's defaults.
    pub fn new() -> Self {
        RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            square_avg: Vec::new(),
            grad_avg: Vec::new(),
            buf: Vec::new(),
            n: None,
        }
    }

    /// Sets the smoothing constant $\alpha$.
    ///
    /// # Errors
    /// Outside `[0, 1)`.
    pub fn with_alpha(mut self, alpha: f64) -> Result<Self> {
        self.alpha = check::unit_open("alpha", alpha)?;
        Ok(self)
    }

    /// Sets `eps`.
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check::positive("eps", eps)?;
        Ok(self)
    }

    /// Sets the L2 weight decay.
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self> {
        self.weight_decay = check::non_negative("weight decay", weight_decay)?;
        Ok(self)
    }

    /// Sets the momentum $\mu$.
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self> {
        self.momentum = check::non_negative("momentum", momentum)?;
        Ok(self)
    }

    /// Centered RMSProp (normalizes by an estimate of the variance).
    pub fn with_centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }
}

impl Optimizer for RmsProp {
    fn name(&self) -> &str {
        "rmsprop"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        check_step(params, grad, lr, self.n)?;
        let n = params.len();
        if self.n.is_none() {
            self.square_avg = vec![0.0; n];
            self.grad_avg = if self.centered {
                vec![0.0; n]
            } else {
                Vec::new()
            };
            self.buf = if self.momentum > 0.0 {
                vec![0.0; n]
            } else {
                Vec::new()
            };
            self.n = Some(n);
        }
        let (alpha, eps, wd, mu) = (self.alpha, self.eps, self.weight_decay, self.momentum);
        for i in 0..n {
            let g = if wd != 0.0 {
                grad[i] + wd * params[i]
            } else {
                grad[i]
            };
            let v = self.square_avg[i] * alpha + (1.0 - alpha) * g * g;
            self.square_avg[i] = v;
            let avg = if self.centered {
                let ga = lerp(self.grad_avg[i], g, 1.0 - alpha);
                self.grad_avg[i] = ga;
                (v - ga * ga).sqrt()
            } else {
                v.sqrt()
            } + eps;
            if mu > 0.0 {
                let b = self.buf[i] * mu + g / avg;
                self.buf[i] = b;
                params[i] += -lr * b;
            } else {
                params[i] += -lr * g / avg;
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.square_avg.clear();
        self.grad_avg.clear();
        self.buf.clear();
        self.n = None;
    }
}

/// torch's `lerp(start, end, weight)` as its CPU kernel computes it.
pub(crate) fn lerp(start: f64, end: f64, weight: f64) -> f64 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}
