//! The chapter's AdaGrad: steps divided by the root *mean* square of the past gradients.

use super::{check, check_step, Optimizer};
use crate::error::Result;

/// AdaGrad in the chapter's form (docs/reference.md §3):
///
/// $$\theta^{t+1} = \theta^t - \frac{\eta}{\sigma^t + \epsilon} g^t,\qquad
///   \sigma^t = \sqrt{\frac{1}{t+1}\sum_{j=0}^{t} (g^j)^2},$$
///
/// with $t$ counted from 0. The *mean* (not the sum, as in [`super::Adagrad`]) and no
/// $1/\sqrt{t+1}$ decay of $\eta$: the effective step grows like $\sqrt{t}$ once the gradient
/// becomes small, which is why the chapter's figure on the long narrow valley "explodes"
/// in spikes before settling again. `eps` (default 1e-10, as torch's Adagrad) only guards a
/// zero gradient at the start.
#[derive(Debug, Clone)]
pub struct AdagradBook {
    eps: f64,
    sum: Vec<f64>,
    t: u64,
}

impl Default for AdagradBook {
    fn default() -> Self {
        Self::new()
    }
}

impl AdagradBook {
    /// `eps` 1e-10.
    pub fn new() -> Self {
        AdagradBook {
            eps: 1e-10,
            sum: Vec::new(),
            t: 0,
        }
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

impl Optimizer for AdagradBook {
    fn name(&self) -> &str {
        "adagrad-book"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        let state = (self.t > 0).then_some(self.sum.len());
        check_step(params, grad, lr, state)?;
        if self.t == 0 {
            self.sum = vec![0.0; params.len()];
        }
        self.t += 1;
        let count = self.t as f64;
        for ((p, &g), s) in params.iter_mut().zip(grad).zip(self.sum.iter_mut()) {
            *s += g * g;
            let sigma = (*s / count).sqrt();
            *p -= lr / (sigma + self.eps) * g;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.sum.clear();
        self.t = 0;
    }
}
