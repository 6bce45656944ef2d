//! Learning-rate schedules: the rate of step `k` (from 0), as `torch.optim.lr_scheduler`.
//!
//! A [`ScheduleKind`] is parsed from DESIGN.md's `--schedule` grammar and a [`Schedule`] pairs
//! it with the base rate. Every rate is a closed form in `k`, so `lr(k)` costs O(1) and does
//! not depend on earlier calls. The closed forms agree with torch's recursive updates to about
//! 1e-16 (checked against fixtures/schedules.json).

use super::check;
use crate::error::{Error, Result};
use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

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
}

/// The known schedule names with their fields, for error messages.
const GRAMMAR: &str = "constant, step:SIZE:GAMMA, exponential:GAMMA, cosine:T_MAX[:ETA_MIN], \
linear-warmup:ITERS[:START_FACTOR], warmup-cosine:WARMUP:TOTAL[:ETA_MIN], \
transformer:D_MODEL:WARMUP, inverse-time:DECAY";

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

    /// Parses DESIGN.md's `--schedule` grammar (see [`ScheduleKind`]'s variants).
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
        }
    }
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
        }
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

    /// Parses `spec` (DESIGN.md's `--schedule` grammar) with base rate `base`.
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
