//! Adam, exactly `torch.optim.Adam`.

use super::rmsprop::lerp;
use super::{check, check_step, Optimizer};
use crate::error::Result;
use rayon::prelude::*;

/// Parameter counts from which a step is split over rayon's threads.
const PARALLEL_FROM: usize = 1 << 18;
/// Chunk length of a parallel step.
const CHUNK: usize = 1 << 15;

/// `torch.optim.Adam`: RMSProp plus momentum, both bias-corrected (docs/reference.md §3).
///
/// With step count $t$ from 1, $g_t$ the gradient (plus $\lambda\theta_{t-1}$ for L2
/// `weight_decay` $\lambda \ne 0$), betas $(\beta_1, \beta_2)$:
///
/// $$m_t = m_{t-1} + (1-\beta_1)(g_t - m_{t-1}),\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,$$
/// $$\theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
///   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon},$$
///
/// in torch's order of operations (the bias corrections are applied to the step size and to
/// $\sqrt{v_t}$, not to $m_t, v_t$; `eps` is added after the correction). With `amsgrad`,
/// $\hat v_t = \max(\hat v_{t-1}, v_t)$ replaces $v_t$ in the denominator.
///
/// Defaults (torch): lr 0.001, betas (0.9, 0.999), eps 1e-8, weight decay 0, no amsgrad.
/// [`super::AdamW`] decouples the weight decay.
///
/// Cost: O(n) per step, reading params, grad, m, v and writing params, m, v; from 2^18
/// parameters the step runs in parallel chunks (element-wise, so the result does not depend on
/// the number of threads).
///
/// # Example
/// ```
/// # use critpt::optim::{Adam, Optimizer};
/// let mut opt = Adam::new();
/// let mut params = vec![1.0];
/// opt.step(&mut params, &[3.0], 0.1).unwrap();
/// // The first step moves every coordinate by about lr, whatever the gradient's scale.
/// assert!((params[0] - 0.9).abs() < 1e-8);
/// ```
///
/// # References
/// Kingma & Ba (2015), "Adam: a method for stochastic optimization".
#[derive(Debug, Clone)]
pub struct Adam {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    amsgrad: bool,
    m: Vec<f64>,
    v: Vec<f64>,
    v_max: Vec<f64>,
    t: u64,
}

impl Default for Adam {
    fn default() -> Self {
        Self::new()
    }
}

/// The per-step constants of the element-wise update.
#[derive(Clone, Copy)]
struct Coeffs {
    w1: f64,
    beta2: f64,
    one_minus_beta2: f64,
    neg_step_size: f64,
    bc2_sqrt: f64,
    eps: f64,
    l2: f64,
    decay: f64,
}

impl Adam {
    /// torch's defaults.
    pub fn new() -> Self {
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            m: Vec::new(),
            v: Vec::new(),
            v_max: Vec::new(),
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

    /// Sets `eps`.
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check::positive("eps", eps)?;
        Ok(self)
    }

    /// Sets the L2 weight decay (added to the gradient; see [`super::AdamW`] for the decoupled
    /// form).
    ///
    /// # Errors
    /// Negative or not finite.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self> {
        self.weight_decay = check::non_negative("weight decay", weight_decay)?;
        Ok(self)
    }

    /// The AMSGrad variant.
    pub fn with_amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// Decoupled weight decay (AdamW): $\theta \leftarrow \theta(1 - \eta\lambda)$ before the
    /// Adam update instead of adding $\lambda\theta$ to the gradient.
    pub(crate) fn decoupled(mut self) -> Self {
        self.decoupled = true;
        self
    }

    /// The step count $t$ (0 before the first step).
    pub fn steps_taken(&self) -> u64 {
        self.t
    }
}

impl Optimizer for Adam {
    fn name(&self) -> &str {
        if self.decoupled {
            "adamw"
        } else {
            "adam"
        }
    }

    fn step(&mut self, params: &mut [f64], grad: &[f64], lr: f64) -> Result<()> {
        let state = (self.t > 0).then_some(self.m.len());
        check_step(params, grad, lr, state)?;
        let n = params.len();
        if self.t == 0 {
            self.m = vec![0.0; n];
            self.v = vec![0.0; n];
            self.v_max = if self.amsgrad {
                vec![0.0; n]
            } else {
                Vec::new()
            };
        }
        self.t += 1;
        let t = self.t as f64;
        let bc1 = 1.0 - self.beta1.powf(t);
        let bc2 = 1.0 - self.beta2.powf(t);
        let c = Coeffs {
            w1: 1.0 - self.beta1,
            beta2: self.beta2,
            one_minus_beta2: 1.0 - self.beta2,
            neg_step_size: -(lr / bc1),
            bc2_sqrt: bc2.sqrt(),
            eps: self.eps,
            l2: if self.decoupled {
                0.0
            } else {
                self.weight_decay
            },
            decay: if self.decoupled {
                1.0 - lr * self.weight_decay
            } else {
                1.0
            },
        };
        let (m, v) = (&mut self.m[..], &mut self.v[..]);
        if self.amsgrad {
            update_amsgrad(params, grad, m, v, &mut self.v_max, c);
        } else if n >= PARALLEL_FROM {
            params
                .par_chunks_mut(CHUNK)
                .zip(grad.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .for_each(|(((p, g), m), v)| update(p, g, m, v, c));
        } else {
            update(params, grad, m, v, c);
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.m.clear();
        self.v.clear();
        self.v_max.clear();
        self.t = 0;
    }
}

/// One element of the update, in torch's order of operations.
#[inline(always)]
fn element(p: &mut f64, g: f64, m: &mut f64, v: &mut f64, v_max: Option<&mut f64>, c: Coeffs) {
    if c.decay != 1.0 {
        *p *= c.decay;
    }
    let g = if c.l2 != 0.0 { g + c.l2 * *p } else { g };
    *m = lerp(*m, g, c.w1);
    *v = *v * c.beta2 + c.one_minus_beta2 * g * g;
    let v_used = match v_max {
        Some(vm) => {
            *vm = vm.max(*v);
            *vm
        }
        None => *v,
    };
    let denom = v_used.sqrt() / c.bc2_sqrt + c.eps;
    *p += c.neg_step_size * *m / denom;
}

/// The update over equal-length slices: one loop over zipped slices, no bounds checks.
fn update(params: &mut [f64], grad: &[f64], m: &mut [f64], v: &mut [f64], c: Coeffs) {
    for (((p, &g), m), v) in params
        .iter_mut()
        .zip(grad)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        element(p, g, m, v, None, c);
    }
}

/// The AMSGrad update.
fn update_amsgrad(
    params: &mut [f64],
    grad: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    v_max: &mut [f64],
    c: Coeffs,
) {
    let it = params
        .iter_mut()
        .zip(grad)
        .zip(m.iter_mut())
        .zip(v.iter_mut());
    for ((((p, &g), m), v), vm) in it.zip(v_max.iter_mut()) {
        element(p, g, m, v, Some(vm), c);
    }
}
