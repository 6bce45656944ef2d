//! Stochastic gradient descent, exactly `torch.optim.SGD`.

use super::{check, check_step, Optimizer};
use crate::error::{Error, Result};

/// `torch.optim.SGD`: plain gradient descent, with optional L2 weight decay, momentum (with
/// dampening) and Nesterov momentum.
///
/// With $g_t$ the gradient (plus $\lambda\theta_{t-1}$ when `weight_decay` $= \lambda \ne 0$),
/// momentum $\mu$ and dampening $\tau$:
///
/// $$b_1 = g_1,\quad b_t = \mu b_{t-1} + (1-\tau) g_t,\qquad
///   d_t = \begin{cases} g_t + \mu b_t & \text{nesterov} \\ b_t & \text{else}\end{cases},\qquad
///   \theta_t = \theta_{t-1} - \eta\, d_t,$$
///
/// and $d_t = g_t$ when $\mu = 0$. The buffer starts as a copy of the first gradient (no
/// dampening on step 1), as torch does.
///
/// Cost: O(n) per step; one buffer of n values when $\mu > 0$.
///
/// # Example
/// ```
/// # use critpt::optim::{Optimizer, Sgd};
/// let mut opt = Sgd::new();
/// let mut params = vec![1.0, 2.0];
/// opt.step(&mut params, &[0.5, -1.0], 0.1).unwrap();
/// assert_eq!(params, vec![0.95, 2.1]);
/// ```
#[derive(Debug, Clone)]
pub struct Sgd {
    name: &'static str,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    buf: Vec<f64>,
    n: Option<usize>,
}

impl Default for Sgd {
    fn default() -> Self {
        Self::new()
    }
}

impl Sgd {
    /// Plain gradient descent: $\theta \leftarrow \theta - \eta g$ (torch's defaults).
    pub fn new() -> Self {
        Sgd {
            name: "sgd",
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            buf: Vec::new(),
            n: None,
        }
    }

    /// torch's SGD with every option.
    ///
    /// # Errors
    /// `momentum` not finite or negative, `dampening` outside `[0, 1]`, `weight_decay` not
    /// finite or negative, or `nesterov` without `momentum > 0` and `dampening = 0` (torch's rule).
    pub fn try_new(
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
    ) -> Result<Self> {
        check::non_negative("momentum", momentum)?;
        check::unit_closed("dampening", dampening)?;
        check::non_negative("weight decay", weight_decay)?;
        if nesterov && (momentum <= 0.0 || dampening != 0.0) {
            return Err(Error::invalid(
                "nesterov",
                format!(
                    "needs momentum > 0 and dampening = 0, got momentum {momentum} and dampening {dampening}"
                ),
            ));
        }
        Ok(Sgd {
            momentum,
            dampening,
            weight_decay,
            nesterov,
            ..Sgd::new()
        })
    }

    /// The same optimizer reporting another name (used by [`super::Momentum`] and
    /// [`super::Nesterov`]).
    pub(crate) fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// The momentum $\mu$.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &str {
        self.name
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        check_step(params, grad, lr, self.n)?;
        let first = self.n.is_none();
        self.n = Some(params.len());
        let (mu, wd, damp) = (self.momentum, self.weight_decay, self.dampening);
        if mu == 0.0 {
            for (p, &g) in params.iter_mut().zip(grad) {
                let g = if wd != 0.0 { g + wd * *p } else { g };
                *p += -lr * g;
            }
            return Ok(());
        }
        if first {
            self.buf = vec![0.0; params.len()];
        }
        for ((p, &g), b) in params.iter_mut().zip(grad).zip(self.buf.iter_mut()) {
            let g = if wd != 0.0 { g + wd * *p } else { g };
            *b = if first { g } else { *b * mu + (1.0 - damp) * g };
            let d = if self.nesterov { g + mu * *b } else { *b };
            *p += -lr * d;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.n = None;
    }
}
