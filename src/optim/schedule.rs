//! Learning-rate schedules: the rate of step `k` (from 0), as `torch.optim.lr_scheduler`.
//!
//! A [`ScheduleKind`] is parsed from the `--schedule` grammar and a [`Schedule`] pairs
//! it with the base rate. Every rate is a function of `k` alone, so `lr(k)` does not depend on
//! earlier calls and costs O(1) (O(log k) for `cosine-restarts` with a growing period, at most
//! [`MAX_MILESTONES`] products for `multistep`). Where torch's scheduler is a closed form
//! (`cosine-restarts`, `onecycle`, `cyclic`) or a product of the same factors (`multistep`),
//! the rate is computed with torch's own operations and is bit-identical; where torch
//! multiplies the previous rate by a ratio (`linear`, `polynomial`, `linear-warmup`, `cosine`),
//! the closed form agrees with torch's recursion to within a few units of the last place
//! (checked against fixtures/schedules.json and fixtures/torch_optim_extra.json).

use super::check;
use crate::error::{Error, Result};
use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// The most milestones a `multistep` schedule takes (they are stored inline, so a
/// [`ScheduleKind`] stays `Copy`).
pub const MAX_MILESTONES: usize = 16;

/// The milestones of a `multistep` schedule: strictly increasing step indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Milestones {
    steps: [u64; MAX_MILESTONES],
    len: usize,
}

impl Milestones {
    /// The milestones from a strictly increasing list of at most [`MAX_MILESTONES`] steps.
    ///
    /// # Errors
    /// An empty, too long or not strictly increasing list.
    pub fn new(steps: &[u64]) -> Result<Self> {
        if steps.is_empty() || steps.len() > MAX_MILESTONES {
            return Err(Error::invalid(
                "milestones",
                format!(
                    "expected at least 1 and at most {MAX_MILESTONES} milestones, got {}",
                    steps.len()
                ),
            ));
        }
        if let Some(w) = steps.windows(2).find(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "milestones",
                format!("must be strictly increasing, got {} then {}", w[0], w[1]),
            ));
        }
        let mut inline = [0; MAX_MILESTONES];
        inline[..steps.len()].copy_from_slice(steps);
        Ok(Milestones {
            steps: inline,
            len: steps.len(),
        })
    }

    /// The milestones in increasing order.
    pub fn as_slice(&self) -> &[u64] {
        &self.steps[..self.len]
    }
}

/// CyclicLR's amplitude policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CyclicMode {
    /// `triangular`: the same amplitude every cycle.
    Triangular,
    /// `triangular2`: the amplitude halves every cycle.
    Triangular2,
}

/// The shape of a schedule (everything but the base rate `η`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScheduleKind {
    /// `constant`: $\eta$.
    Constant,
    /// `step:SIZE:GAMMA` (StepLR): $\eta\,\gamma^{\lfloor k/\text{size}\rfloor}$.
    Step {
        /// Steps between decays.
        size: u64,
        /// Factor per decay.
        gamma: f64,
    },
    /// `exponential:GAMMA` (ExponentialLR): $\eta\,\gamma^k$.
    Exponential {
        /// Factor per step.
        gamma: f64,
    },
    /// `cosine:T_MAX[:ETA_MIN]` (CosineAnnealingLR):
    /// $\eta_{\min} + (\eta - \eta_{\min})\,\frac{1 + \cos(\pi k / T)}{2}$, periodic beyond
    /// $T$ as torch's.
    Cosine {
        /// Half period $T$.
        t_max: u64,
        /// Lowest rate.
        eta_min: f64,
    },
    /// `linear-warmup:ITERS[:START_FACTOR]` (LinearLR to 1.0):
    /// $\eta\,(s + (1 - s)\min(k, n)/n)$, start factor $s$ default 1/3 (torch's).
    LinearWarmup {
        /// Warm-up steps $n$.
        iters: u64,
        /// Starting factor $s \in (0, 1]$.
        start_factor: f64,
    },
    /// `warmup-cosine:WARMUP:TOTAL[:ETA_MIN]`: $\eta (k+1)/W$ for $k < W$, then a cosine
    /// from $\eta$ down to $\eta_{\min}$ reached at step TOTAL, and $\eta_{\min}$ after.
    WarmupCosine {
        /// Warm-up steps $W$ (0: none).
        warmup: u64,
        /// Step at which the rate reaches `eta_min`.
        total: u64,
        /// Lowest rate.
        eta_min: f64,
    },
    /// `transformer:D_MODEL:WARMUP` ("Attention is all you need"), times the base rate:
    /// $\eta\, d^{-1/2}\min(s^{-1/2}, s\,w^{-3/2})$ with $s = k + 1$.
    Transformer {
        /// Model width $d$.
        d_model: f64,
        /// Warm-up steps $w$.
        warmup: f64,
    },
    /// `inverse-time:DECAY`: $\eta / (1 + \delta k)$.
    InverseTime {
        /// Decay $\delta$.
        decay: f64,
    },
    /// `multistep:GAMMA:M1,M2,...` (MultiStepLR): $\eta\,\gamma^{n(k)}$, $n(k)$ the number of
    /// milestones $\le k$.
    MultiStep {
        /// Factor per milestone.
        gamma: f64,
        /// The steps at which the rate is multiplied by `gamma`.
        milestones: Milestones,
    },
    /// `polynomial:TOTAL_ITERS[:POWER]` (PolynomialLR):
    /// $\eta\,(1 - \min(k, T)/T)^p$, zero from step $T$ on; power $p$ default 1.
    Polynomial {
        /// Steps $T$ to reach zero.
        total_iters: u64,
        /// Power $p$.
        power: f64,
    },
    /// `cosine-restarts:T_0[:T_MULT[:ETA_MIN]]` (CosineAnnealingWarmRestarts, stepped once per
    /// step): a cosine from $\eta$ to $\eta_{\min}$ over $T_i$ steps, restarting at $\eta$;
    /// $T_0$ first, each period `T_MULT` times the last (default 1).
    CosineRestarts {
        /// First period $T_0$.
        t_0: u64,
        /// Growth of the period per restart.
        t_mult: u64,
        /// Lowest rate.
        eta_min: f64,
    },
    /// `onecycle:MAX_LR:TOTAL_STEPS[:PCT_START]` (OneCycleLR, cosine annealing, div_factor 25,
    /// final_div_factor 1e4, two phases, no momentum cycling): from `MAX_LR`/25 up to `MAX_LR`
    /// over the first `PCT_START` (default 0.3) of the steps, then down to `MAX_LR`/(25·1e4).
    /// The base rate is not used. torch defines steps 0 to `TOTAL_STEPS` and raises beyond; here
    /// the rate stays at step `TOTAL_STEPS`'s value.
    OneCycle {
        /// Peak rate.
        max_lr: f64,
        /// Length of the cycle.
        total_steps: u64,
        /// Fraction of the cycle spent increasing the rate.
        pct_start: f64,
    },
    /// `cyclic:BASE_LR:MAX_LR:STEP_SIZE_UP[:MODE]` (CyclicLR, step_size_down = step_size_up,
    /// no momentum cycling): triangles between `BASE_LR` and `MAX_LR`, `STEP_SIZE_UP` steps up
    /// and as many down; `MODE` `triangular` (default) or `triangular2` (the amplitude halves
    /// each cycle). The base rate is not used.
    Cyclic {
        /// Lowest rate.
        base_lr: f64,
        /// Highest rate of the first cycle.
        max_lr: f64,
        /// Steps from the lowest to the highest rate.
        step_size_up: u64,
        /// Amplitude policy.
        mode: CyclicMode,
    },
    /// `linear:START_FACTOR:END_FACTOR:TOTAL_ITERS` (LinearLR):
    /// $\eta\,(s + (e - s)\min(k, T)/T)$.
    Linear {
        /// Factor $s \in (0, 1]$ at step 0.
        start_factor: f64,
        /// Factor $e \in [0, 1]$ from step $T$ on.
        end_factor: f64,
        /// Steps $T$ of the change.
        total_iters: u64,
    },
}

/// The known schedule names with their fields, for error messages.
const GRAMMAR: &str = "constant, step:SIZE:GAMMA, exponential:GAMMA, cosine:T_MAX[:ETA_MIN], \
linear-warmup:ITERS[:START_FACTOR], warmup-cosine:WARMUP:TOTAL[:ETA_MIN], \
transformer:D_MODEL:WARMUP, inverse-time:DECAY, multistep:GAMMA:M1,M2,..., \
polynomial:TOTAL_ITERS[:POWER], cosine-restarts:T_0[:T_MULT[:ETA_MIN]], \
onecycle:MAX_LR:TOTAL_STEPS[:PCT_START], cyclic:BASE_LR:MAX_LR:STEP_SIZE_UP[:MODE], \
linear:START_FACTOR:END_FACTOR:TOTAL_ITERS";

/// Parses the fields of one spec, naming the spec and the field in errors.
struct Fields<'a> {
    spec: &'a str,
    parts: Vec<&'a str>,
}

impl Fields<'_> {
    fn bad(&self, reason: String) -> Error {
        Error::invalid("schedule", format!("'{}': {reason}", self.spec))
    }

    fn count(&self, min: usize, max: usize, usage: &str) -> Result<()> {
        let n = self.parts.len() - 1;
        if n < min || n > max {
            return Err(self.bad(format!("expected {usage}, got {n} field(s)")));
        }
        Ok(())
    }

    fn get(&self, idx: usize) -> Option<&str> {
        self.parts.get(idx).map(|s| s.trim())
    }

    fn int(&self, idx: usize, field: &str, min: u64) -> Result<u64> {
        let text = self.get(idx).unwrap_or("");
        match text.parse::<u64>() {
            Ok(v) if v >= min => Ok(v),
            _ => Err(self.bad(format!("{field} must be an integer >= {min}, got '{text}'"))),
        }
    }

    fn num(&self, idx: usize, field: &str) -> Result<f64> {
        let text = self.get(idx).unwrap_or("");
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.bad(format!("{field} must be a finite number, got '{text}'"))),
        }
    }

    fn positive(&self, idx: usize, field: &str) -> Result<f64> {
        let v = self.num(idx, field)?;
        if v > 0.0 {
            Ok(v)
        } else {
            Err(self.bad(format!("{field} must be positive, got {v}")))
        }
    }

    fn int_or(&self, idx: usize, field: &str, min: u64, default: u64) -> Result<u64> {
        match self.get(idx) {
            None => Ok(default),
            Some(_) => self.int(idx, field, min),
        }
    }

    fn positive_or(&self, idx: usize, field: &str, default: f64) -> Result<f64> {
        match self.get(idx) {
            None => Ok(default),
            Some(_) => self.positive(idx, field),
        }
    }

    /// A number in `[lo, hi]` (`hi_open`: `[lo, hi)`; `lo_open`: `(lo, ...`).
    fn within(
        &self,
        idx: usize,
        field: &str,
        (lo, lo_open): (f64, bool),
        (hi, hi_open): (f64, bool),
    ) -> Result<f64> {
        let v = self.num(idx, field)?;
        let above = if lo_open { v > lo } else { v >= lo };
        let below = if hi_open { v < hi } else { v <= hi };
        if above && below {
            Ok(v)
        } else {
            let (l, h) = (
                if lo_open { '(' } else { '[' },
                if hi_open { ')' } else { ']' },
            );
            Err(self.bad(format!("{field} must be in {l}{lo}, {hi}{h}, got {v}")))
        }
    }

    /// Strictly increasing milestones `M1,M2,...`.
    fn milestones(&self, idx: usize) -> Result<Milestones> {
        let text = self.get(idx).unwrap_or("");
        let mut steps = Vec::new();
        for m in text.split(',') {
            let m = m.trim();
            match m.parse::<u64>() {
                Ok(v) => steps.push(v),
                Err(_) => {
                    return Err(self.bad(format!(
                        "milestones must be integers >= 0 separated by commas, got '{m}'"
                    )))
                }
            }
            if steps.len() > MAX_MILESTONES {
                break;
            }
        }
        Milestones::new(&steps).map_err(|e| self.bad(e.to_string()))
    }

    fn non_negative_or(&self, idx: usize, field: &str, default: f64) -> Result<f64> {
        if self.get(idx).is_none() {
            return Ok(default);
        }
        let v = self.num(idx, field)?;
        if v >= 0.0 {
            Ok(v)
        } else {
            Err(self.bad(format!("{field} must not be negative, got {v}")))
        }
    }
}

impl FromStr for ScheduleKind {
    type Err = Error;

    /// Parses the `--schedule` grammar (see [`ScheduleKind`]'s variants).
    fn from_str(spec: &str) -> Result<Self> {
        let f = Fields {
            spec,
            parts: spec.split(':').collect(),
        };
        let name = f.parts[0].trim();
        Ok(match name {
            "constant" => {
                f.count(0, 0, "no fields")?;
                ScheduleKind::Constant
            }
            "step" => {
                f.count(2, 2, "step:SIZE:GAMMA")?;
                ScheduleKind::Step {
                    size: f.int(1, "SIZE", 1)?,
                    gamma: f.positive(2, "GAMMA")?,
                }
            }
            "exponential" => {
                f.count(1, 1, "exponential:GAMMA")?;
                ScheduleKind::Exponential {
                    gamma: f.positive(1, "GAMMA")?,
                }
            }
            "cosine" => {
                f.count(1, 2, "cosine:T_MAX[:ETA_MIN]")?;
                ScheduleKind::Cosine {
                    t_max: f.int(1, "T_MAX", 1)?,
                    eta_min: f.non_negative_or(2, "ETA_MIN", 0.0)?,
                }
            }
            "linear-warmup" => {
                f.count(1, 2, "linear-warmup:ITERS[:START_FACTOR]")?;
                let iters = f.int(1, "ITERS", 1)?;
                let start_factor = match f.get(2) {
                    None => 1.0 / 3.0,
                    Some(_) => {
                        let s = f.num(2, "START_FACTOR")?;
                        if !(s > 0.0 && s <= 1.0) {
                            return Err(f.bad(format!("START_FACTOR must be in (0, 1], got {s}")));
                        }
                        s
                    }
                };
                ScheduleKind::LinearWarmup {
                    iters,
                    start_factor,
                }
            }
            "warmup-cosine" => {
                f.count(2, 3, "warmup-cosine:WARMUP:TOTAL[:ETA_MIN]")?;
                let warmup = f.int(1, "WARMUP", 0)?;
                let total = f.int(2, "TOTAL", 1)?;
                if total <= warmup {
                    return Err(f.bad(format!(
                        "TOTAL must exceed WARMUP, got TOTAL {total} and WARMUP {warmup}"
                    )));
                }
                ScheduleKind::WarmupCosine {
                    warmup,
                    total,
                    eta_min: f.non_negative_or(3, "ETA_MIN", 0.0)?,
                }
            }
            "transformer" => {
                f.count(2, 2, "transformer:D_MODEL:WARMUP")?;
                ScheduleKind::Transformer {
                    d_model: f.int(1, "D_MODEL", 1)? as f64,
                    warmup: f.int(2, "WARMUP", 1)? as f64,
                }
            }
            "inverse-time" => {
                f.count(1, 1, "inverse-time:DECAY")?;
                ScheduleKind::InverseTime {
                    decay: f.non_negative_or(1, "DECAY", 0.0)?,
                }
            }
            "multistep" => {
                f.count(2, 2, "multistep:GAMMA:M1,M2,...")?;
                ScheduleKind::MultiStep {
                    gamma: f.positive(1, "GAMMA")?,
                    milestones: f.milestones(2)?,
                }
            }
            "polynomial" => {
                f.count(1, 2, "polynomial:TOTAL_ITERS[:POWER]")?;
                ScheduleKind::Polynomial {
                    total_iters: f.int(1, "TOTAL_ITERS", 1)?,
                    power: f.positive_or(2, "POWER", 1.0)?,
                }
            }
            "cosine-restarts" => {
                f.count(1, 3, "cosine-restarts:T_0[:T_MULT[:ETA_MIN]]")?;
                ScheduleKind::CosineRestarts {
                    t_0: f.int(1, "T_0", 1)?,
                    t_mult: f.int_or(2, "T_MULT", 1, 1)?,
                    eta_min: f.non_negative_or(3, "ETA_MIN", 0.0)?,
                }
            }
            "onecycle" => {
                f.count(2, 3, "onecycle:MAX_LR:TOTAL_STEPS[:PCT_START]")?;
                let max_lr = f.positive(1, "MAX_LR")?;
                let total_steps = f.int(2, "TOTAL_STEPS", 1)?;
                let pct_start = match f.get(3) {
                    None => 0.3,
                    Some(_) => f.within(3, "PCT_START", (0.0, false), (1.0, true))?,
                };
                // torch divides by the length of each phase; refuse where one would be zero.
                let (warm, cool) = one_cycle_phases(total_steps, pct_start);
                if warm == 0.0 || cool == 0.0 {
                    return Err(f.bad(format!(
                        "PCT_START * TOTAL_STEPS must not be 1 or TOTAL_STEPS (a phase of \
                         length 0), got {pct_start} * {total_steps}"
                    )));
                }
                ScheduleKind::OneCycle {
                    max_lr,
                    total_steps,
                    pct_start,
                }
            }
            "cyclic" => {
                f.count(3, 4, "cyclic:BASE_LR:MAX_LR:STEP_SIZE_UP[:MODE]")?;
                let base_lr = f.non_negative_or(1, "BASE_LR", 0.0)?;
                let max_lr = f.num(2, "MAX_LR")?;
                if max_lr <= base_lr {
                    return Err(f.bad(format!(
                        "MAX_LR must exceed BASE_LR, got MAX_LR {max_lr} and BASE_LR {base_lr}"
                    )));
                }
                let step_size_up = f.int(3, "STEP_SIZE_UP", 1)?;
                let mode = match f.get(4) {
                    None | Some("triangular") => CyclicMode::Triangular,
                    Some("triangular2") => CyclicMode::Triangular2,
                    Some(other) => {
                        return Err(f.bad(format!(
                            "MODE must be triangular or triangular2, got '{other}'"
                        )))
                    }
                };
                ScheduleKind::Cyclic {
                    base_lr,
                    max_lr,
                    step_size_up,
                    mode,
                }
            }
            "linear" => {
                f.count(3, 3, "linear:START_FACTOR:END_FACTOR:TOTAL_ITERS")?;
                ScheduleKind::Linear {
                    start_factor: f.within(1, "START_FACTOR", (0.0, true), (1.0, false))?,
                    end_factor: f.within(2, "END_FACTOR", (0.0, false), (1.0, false))?,
                    total_iters: f.int(3, "TOTAL_ITERS", 1)?,
                }
            }
            _ => {
                return Err(Error::Unknown {
                    what: "schedule".into(),
                    name: spec.into(),
                    known: GRAMMAR.into(),
                })
            }
        })
    }
}

impl fmt::Display for ScheduleKind {
    /// The spec in the `--schedule` grammar (parses back to the same kind).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ScheduleKind::Constant => write!(f, "constant"),
            ScheduleKind::Step { size, gamma } => write!(f, "step:{size}:{gamma}"),
            ScheduleKind::Exponential { gamma } => write!(f, "exponential:{gamma}"),
            ScheduleKind::Cosine { t_max, eta_min } => write!(f, "cosine:{t_max}:{eta_min}"),
            ScheduleKind::LinearWarmup {
                iters,
                start_factor,
            } => write!(f, "linear-warmup:{iters}:{start_factor}"),
            ScheduleKind::WarmupCosine {
                warmup,
                total,
                eta_min,
            } => write!(f, "warmup-cosine:{warmup}:{total}:{eta_min}"),
            ScheduleKind::Transformer { d_model, warmup } => {
                write!(f, "transformer:{d_model}:{warmup}")
            }
            ScheduleKind::InverseTime { decay } => write!(f, "inverse-time:{decay}"),
            ScheduleKind::MultiStep { gamma, milestones } => {
                let list: Vec<String> = milestones.as_slice().iter().map(u64::to_string).collect();
                write!(f, "multistep:{gamma}:{}", list.join(","))
            }
            ScheduleKind::Polynomial { total_iters, power } => {
                write!(f, "polynomial:{total_iters}:{power}")
            }
            ScheduleKind::CosineRestarts {
                t_0,
                t_mult,
                eta_min,
            } => write!(f, "cosine-restarts:{t_0}:{t_mult}:{eta_min}"),
            ScheduleKind::OneCycle {
                max_lr,
                total_steps,
                pct_start,
            } => write!(f, "onecycle:{max_lr}:{total_steps}:{pct_start}"),
            ScheduleKind::Cyclic {
                base_lr,
                max_lr,
                step_size_up,
                mode,
            } => {
                let mode = match mode {
                    CyclicMode::Triangular => "triangular",
                    CyclicMode::Triangular2 => "triangular2",
                };
                write!(f, "cyclic:{base_lr}:{max_lr}:{step_size_up}:{mode}")
            }
            ScheduleKind::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => write!(f, "linear:{start_factor}:{end_factor}:{total_iters}"),
        }
    }
}

/// OneCycleLR's phase lengths as torch computes them: the end of the warm-up
/// `pct_start * total - 1` minus its start 0, and `total - 1` minus that end.
fn one_cycle_phases(total_steps: u64, pct_start: f64) -> (f64, f64) {
    let warm_end = pct_start * total_steps as f64 - 1.0;
    (warm_end, (total_steps - 1) as f64 - warm_end)
}

/// OneCycleLR's cosine annealing from `start` to `end` as `pct` goes from 0 to 1, in torch's
/// operations.
fn anneal_cos(start: f64, end: f64, pct: f64) -> f64 {
    let cos_out = (PI * pct).cos() + 1.0;
    end + (start - end) / 2.0 * cos_out
}

impl ScheduleKind {
    /// The rate at step `k` (from 0) for base rate `base`.
    fn lr(&self, base: f64, k: u64) -> f64 {
        let kf = k as f64;
        let cosine =
            |x: f64, eta_min: f64| eta_min + (base - eta_min) * (1.0 + (PI * x).cos()) / 2.0;
        match *self {
            ScheduleKind::Constant => base,
            ScheduleKind::Step { size, gamma } => base * gamma.powf((k / size) as f64),
            ScheduleKind::Exponential { gamma } => base * gamma.powf(kf),
            ScheduleKind::Cosine { t_max, eta_min } => cosine(kf / t_max as f64, eta_min),
            ScheduleKind::LinearWarmup {
                iters,
                start_factor,
            } => {
                let done = k.min(iters) as f64 / iters as f64;
                base * (start_factor + (1.0 - start_factor) * done)
            }
            ScheduleKind::WarmupCosine {
                warmup,
                total,
                eta_min,
            } => {
                if k < warmup {
                    base * (kf + 1.0) / warmup as f64
                } else if k >= total {
                    eta_min
                } else {
                    cosine((k - warmup) as f64 / (total - warmup) as f64, eta_min)
                }
            }
            ScheduleKind::Transformer { d_model, warmup } => {
                let s = kf + 1.0;
                base * d_model.powf(-0.5) * s.powf(-0.5).min(s * warmup.powf(-1.5))
            }
            ScheduleKind::InverseTime { decay } => base / (1.0 + decay * kf),
            ScheduleKind::MultiStep { gamma, milestones } => {
                // torch multiplies by gamma at each milestone; the same products, in order.
                let passed = milestones
                    .as_slice()
                    .iter()
                    .take_while(|&&m| m <= k)
                    .count();
                (0..passed).fold(base, |lr, _| lr * gamma)
            }
            ScheduleKind::Polynomial { total_iters, power } => {
                let t = total_iters as f64;
                base * (1.0 - k.min(total_iters) as f64 / t).powf(power)
            }
            ScheduleKind::CosineRestarts {
                t_0,
                t_mult,
                eta_min,
            } => {
                let (mut t_cur, mut t_i) = (k, t_0);
                if t_mult == 1 {
                    t_cur %= t_0;
                } else {
                    while t_cur >= t_i {
                        t_cur -= t_i;
                        t_i = t_i.saturating_mul(t_mult);
                    }
                }
                eta_min + (base - eta_min) * (1.0 + (PI * t_cur as f64 / t_i as f64).cos()) / 2.0
            }
            ScheduleKind::OneCycle {
                max_lr,
                total_steps,
                pct_start,
            } => {
                let initial_lr = max_lr / 25.0;
                let min_lr = initial_lr / 1e4;
                let step = k.min(total_steps) as f64;
                let warm_end = pct_start * total_steps as f64 - 1.0;
                if step <= warm_end {
                    anneal_cos(initial_lr, max_lr, step / warm_end)
                } else {
                    let pct = (step - warm_end) / ((total_steps - 1) as f64 - warm_end);
                    anneal_cos(max_lr, min_lr, pct)
                }
            }
            ScheduleKind::Cyclic {
                base_lr,
                max_lr,
                step_size_up,
                mode,
            } => {
                let up = step_size_up as f64;
                let total_size = up + up;
                let step_ratio = up / total_size;
                let cycle = (1.0 + kf / total_size).floor();
                let x = 1.0 + kf / total_size - cycle;
                let scale_factor = if x <= step_ratio {
                    x / step_ratio
                } else {
                    (x - 1.0) / (step_ratio - 1.0)
                };
                let base_height = (max_lr - base_lr) * scale_factor;
                let scale = match mode {
                    CyclicMode::Triangular => 1.0,
                    CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
                };
                base_lr + base_height * scale
            }
            ScheduleKind::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                let done = k.min(total_iters) as f64;
                base * (start_factor + (end_factor - start_factor) * done / total_iters as f64)
            }
        }
    }

    /// Whether the schedule sets its own rates and ignores the base rate (`onecycle`,
    /// `cyclic`), so a caller need not ask for one.
    pub fn ignores_base_rate(&self) -> bool {
        matches!(
            self,
            ScheduleKind::OneCycle { .. } | ScheduleKind::Cyclic { .. }
        )
    }
}

/// A learning-rate schedule: a [`ScheduleKind`] and the base rate $\eta$.
///
/// # Example
/// ```
/// # use critpt::optim::Schedule;
/// let s = Schedule::parse("step:5:0.1", 1.0).unwrap();
/// assert_eq!(s.lr(4), 1.0);
/// assert!((s.lr(5) - 0.1).abs() < 1e-15);
/// assert!(Schedule::parse("step:0:0.1", 1.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The shape.
    pub kind: ScheduleKind,
    /// The base rate $\eta$.
    pub base: f64,
}

impl Schedule {
    /// A constant rate.
    ///
    /// # Errors
    /// `lr` not positive and finite.
    pub fn constant(lr: f64) -> Result<Self> {
        Self::new(ScheduleKind::Constant, lr)
    }

    /// Pairs a shape with a base rate.
    ///
    /// # Errors
    /// `base` not positive and finite.
    pub fn new(kind: ScheduleKind, base: f64) -> Result<Self> {
        Ok(Schedule {
            kind,
            base: check::lr(base)?,
        })
    }

    /// Parses `spec` (the `--schedule` grammar of [`ScheduleKind`]) with base rate `base`.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown name, [`Error::InvalidParameter`] naming the bad field,
    /// or a base rate that is not positive and finite.
    pub fn parse(spec: &str, base: f64) -> Result<Self> {
        Self::new(spec.parse()?, base)
    }

    /// The learning rate of step `k` (counted from 0: the step from point `k` to `k + 1`).
    pub fn lr(&self, k: u64) -> f64 {
        self.kind.lr(self.base, k)
    }

    /// The rates of steps `0..n`.
    pub fn rates(&self, n: usize) -> Vec<f64> {
        (0..n as u64).map(|k| self.lr(k)).collect()
    }
}
