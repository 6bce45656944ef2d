//! AdamW, exactly `torch.optim.AdamW`.

use super::{Adam, Optimizer};
use crate::error::Result;

/// `torch.optim.AdamW`: Adam with decoupled weight decay. Each step first shrinks the
/// parameters, $\theta \leftarrow \theta\,(1 - \eta\lambda)$, then applies [`Adam`]'s update
/// without any L2 term.
///
/// Defaults (torch): lr 0.001, betas (0.9, 0.999), eps 1e-8, weight decay 0.01, no amsgrad.
///
/// # References
/// Loshchilov & Hutter (2019), "Decoupled weight decay regularization".
#[derive(Debug, Clone)]
pub struct AdamW(Adam);

impl Default for AdamW {
    fn default() -> Self {
        Self::new()
    }
}

impl AdamW {
    /// Default weight decay (torch's).
    pub const DEFAULT_WEIGHT_DECAY: f64 = 0.01;

    /// torch's defaults.
    pub fn new() -> Self {
        AdamW(
            Adam::new()
                .decoupled()
                .with_weight_decay(Self::DEFAULT_WEIGHT_DECAY)
                .expect("default weight decay is valid"),
        )
    }

    /// Sets the betas.
    ///
    /// # Errors
    /// Either outside `[0, 1)`.
    pub fn with_betas(self, beta1: f64, beta2: f64) -> Result<Self> {
        Ok(AdamW(self.0.with_betas(beta1, beta2)?))
    }

    /// Sets `eps`.
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_eps(self, eps: f64) -> Result<Self> {
        Ok(AdamW(self.0.with_eps(eps)?))
    }

    /// Sets the decoupled weight decay $\lambda$.
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_weight_decay(self, weight_decay: f64) -> Result<Self> {
        Ok(AdamW(self.0.with_weight_decay(weight_decay)?))
    }

    /// The AMSGrad variant.
    pub fn with_amsgrad(self, amsgrad: bool) -> Self {
        AdamW(self.0.with_amsgrad(amsgrad))
    }
}

impl Optimizer for AdamW {
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
