//! Rprop, exactly `torch.optim.Rprop`.

use super::{check_step, Optimizer};
use crate::error::{Error, Result};

/// `torch.optim.Rprop`: resilient backpropagation, per-coordinate steps from the *sign* of the
/// gradient, with a step size that grows while the sign holds and shrinks when it flips.
///
/// Each coordinate keeps a step size $s$ (initially the learning rate of the first step) and
/// the previous gradient $g^-$ (initially 0). With etas $(\eta^-, \eta^+)$ and step-size bounds
/// $[s_{\min}, s_{\max}]$, per step:
///
/// $$f = \begin{cases}\eta^+ & g\,g^- > 0\\ \eta^- & g\,g^- < 0\\ 1 & \text{else}\end{cases},
///   \quad s \leftarrow \mathrm{clamp}(s f, s_{\min}, s_{\max}),\quad
///   \tilde g = \begin{cases}0 & f = \eta^-\\ g & \text{else}\end{cases},\quad
///   \theta \leftarrow \theta - \mathrm{sign}(\tilde g)\, s,\quad g^- \leftarrow \tilde g,$$
///
/// so a flipped sign shrinks the step, skips the move and resets the memory (torch's variant).
/// As in torch, the learning rate is read only once, when the state is created: the rates of
/// later steps (a schedule's) are ignored. Rprop has no weight decay in torch.
///
/// Defaults (torch): lr 0.01, etas (0.5, 1.2), step sizes (1e-6, 50).
///
/// # Example
/// ```
/// # use critpt::optim::{Optimizer, Rprop};
/// let mut opt = Rprop::new();
/// let mut params = vec![1.0];
/// opt.step(&mut params, &[3.0], 0.1).unwrap();
/// opt.step(&mut params, &[5.0], 0.1).unwrap();
/// // Steps of 0.1, then 0.1 * 1.2, whatever the gradient's size.
/// assert!((params[0] - (1.0 - 0.1 - 0.12)).abs() < 1e-15);
/// ```
///
/// # References
/// Riedmiller & Braun (1993), "A direct adaptive method for faster backpropagation learning:
/// the RPROP algorithm".
#[derive(Debug, Clone)]
pub struct Rprop {
    eta_minus: f64,
    eta_plus: f64,
    step_size_min: f64,
    step_size_max: f64,
    prev: Vec<f64>,
    step_size: Vec<f64>,
    n: Option<usize>,
}

impl Default for Rprop {
    fn default() -> Self {
        Self::new()
    }
}

/// `torch.sign`: -1, 0 or 1 (NaN stays NaN).
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0
    }
}

impl Rprop {
    /// torch's defaults.
    pub fn new() -> Self {
        Rprop {
            eta_minus: 0.5,
            eta_plus: 1.2,
            step_size_min: 1e-6,
            step_size_max: 50.0,
            prev: Vec::new(),
            step_size: Vec::new(),
            n: None,
        }
    }

    /// Sets the etas $(\eta^-, \eta^+)$, the factors of the step size after a sign flip and
    /// after a kept sign.
    ///
    /// # Errors
    /// Unless $0 < \eta^- < 1 < \eta^+$ (torch's check) with $\eta^+$ finite.
    pub fn with_etas(mut self, eta_minus: f64, eta_plus: f64) -> Result<Self> {
        if !(0.0 < eta_minus && eta_minus < 1.0 && 1.0 < eta_plus && eta_plus.is_finite()) {
            return Err(Error::invalid(
                "etas",
                format!("must satisfy 0 < A < 1 < B, got {eta_minus},{eta_plus}"),
            ));
        }
        self.eta_minus = eta_minus;
        self.eta_plus = eta_plus;
        Ok(self)
    }

    /// Sets the bounds $[s_{\min}, s_{\max}]$ of the step sizes.
    ///
    /// # Errors
    /// Unless $0 < s_{\min} \le s_{\max}$, both finite.
    pub fn with_step_sizes(mut self, min: f64, max: f64) -> Result<Self> {
        if !(0.0 < min && min <= max && max.is_finite()) {
            return Err(Error::invalid(
                "step sizes",
                format!("must satisfy 0 < MIN <= MAX, both finite, got {min},{max}"),
            ));
        }
        self.step_size_min = min;
        self.step_size_max = max;
        Ok(self)
    }
}

impl Optimizer for Rprop {
    fn name(&self) -> &str {
        "rprop"
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        check_step(params, grad, lr, self.n)?;
        if self.n.is_none() {
            self.prev = vec![0.0; params.len()];
            self.step_size = vec![lr; params.len()];
            self.n = Some(params.len());
        }
        let (minus, plus) = (self.eta_minus, self.eta_plus);
        let (lo, hi) = (self.step_size_min, self.step_size_max);
        for (((p, &g), prev), s) in params
            .iter_mut()
            .zip(grad)
            .zip(self.prev.iter_mut())
            .zip(self.step_size.iter_mut())
        {
            let product = g * *prev;
            let factor = if product > 0.0 {
                plus
            } else if product < 0.0 {
                minus
            } else {
                1.0
            };
            *s = (*s * factor).max(lo).min(hi);
            let g = if factor == minus { 0.0 } else { g };
            *p += -sign(g) * *s;
            *prev = g;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.prev.clear();
        self.step_size.clear();
        self.n = None;
    }
}
