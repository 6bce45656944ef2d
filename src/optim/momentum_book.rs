//! The chapter's momentum: the movement is the last movement minus the scaled gradient.

use super::{check, check_step, Optimizer};
use crate::error::Result;

/// Momentum in the chapter's form (docs/reference.md §3):
///
/// $$m^0 = 0,\qquad m^t = \lambda m^{t-1} - \eta g^{t-1},\qquad \theta^t = \theta^{t-1} + m^t.$$
///
/// For a constant learning rate this is [`super::Momentum`] with dampening 0 ($m^t = -\eta
/// b_t$); they differ when the learning rate changes, since here the rate is folded into the
/// stored movement. Default $\lambda$ 0.9.
///
/// # Example
/// ```
/// # use critpt::optim::{MomentumBook, Optimizer};
/// let mut opt = MomentumBook::try_new(0.5).unwrap();
/// let mut params = vec![0.0];
/// opt.step(&mut params, &[1.0], 0.1).unwrap(); // m = -0.1
/// opt.step(&mut params, &[1.0], 0.1).unwrap(); // m = -0.15
/// assert!((params[0] + 0.25).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct MomentumBook {
    lambda: f64,
    movement: Vec<f64>,
    n: Option<usize>,
}

impl MomentumBook {
    /// Default $\lambda$.
    pub const DEFAULT_MOMENTUM: f64 = 0.9;

    /// Momentum $\lambda$.
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn try_new(lambda: f64) -> Result<Self> {
        Ok(MomentumBook {
            lambda: check::non_negative("momentum", lambda)?,
            movement: Vec::new(),
            n: None,
        })
    }
}

impl Optimizer for MomentumBook {
    fn name(&self) -> &str {
        "momentum-book"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        check_step(params, grad, lr, self.n)?;
        if self.n.is_none() {
            self.movement = vec![0.0; params.len()];
            self.n = Some(params.len());
        }
        for ((p, &g), m) in params.iter_mut().zip(grad).zip(self.movement.iter_mut()) {
            *m = self.lambda * *m - lr * g;
            *p += *m;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.movement.clear();
        self.n = None;
    }
}
