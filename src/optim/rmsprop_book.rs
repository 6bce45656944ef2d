//! The chapter's RMSProp: the first σ is the first gradient's size.

use super::{check, check_step, Optimizer};
use crate::error::Result;

/// RMSProp in the chapter's form (docs/reference.md §3):
///
/// $$\sigma^0 = |g^0|,\quad \sigma^t = \sqrt{\alpha(\sigma^{t-1})^2 + (1-\alpha)(g^t)^2},\qquad
///   \theta^{t+1} = \theta^t - \frac{\eta}{\sigma^t + \epsilon} g^t.$$
///
/// Unlike torch's [`super::RmsProp`] (which starts from $v_0 = 0$, so its first step is
/// $\eta/\sqrt{1-\alpha}$ per coordinate), the first step here moves each coordinate by
/// exactly $\eta$. Defaults $\alpha$ 0.99, `eps` 1e-8 (a guard against a zero gradient).
#[derive(Debug, Clone)]
pub struct RmsPropBook {
    alpha: f64,
    eps: f64,
    sigma_sq: Vec<f64>,
    n: Option<usize>,
}

impl Default for RmsPropBook {
    fn default() -> Self {
        Self::new()
    }
}

impl RmsPropBook {
    /// $\alpha$ 0.99, `eps` 1e-8.
    pub fn new() -> Self {
        RmsPropBook {
            alpha: 0.99,
            eps: 1e-8,
            sigma_sq: Vec::new(),
            n: None,
        }
    }

    /// Sets $\alpha$.
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
}

impl Optimizer for RmsPropBook {
    fn name(&self) -> &str {
        "rmsprop-book"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        check_step(params, grad, lr, self.n)?;
        let first = self.n.is_none();
        if first {
            self.sigma_sq = vec![0.0; params.len()];
            self.n = Some(params.len());
        }
        let a = self.alpha;
        for ((p, &g), s) in params.iter_mut().zip(grad).zip(self.sigma_sq.iter_mut()) {
            *s = if first {
                g * g
            } else {
                a * *s + (1.0 - a) * g * g
            };
            *p -= lr / (s.sqrt() + self.eps) * g;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.sigma_sq.clear();
        self.n = None;
    }
}
