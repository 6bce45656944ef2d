//! `ReduceLROnPlateau` as `torch.optim.lr_scheduler` has it (mode `min`, relative threshold,
//! no cooldown, no floor): the learning rate is multiplied by a factor once a watched metric
//! has not improved for more than `patience` epochs.

use crate::error::{Error, Result};

/// torch's default relative improvement threshold.
pub const PLATEAU_THRESHOLD: f64 = 1e-4;
/// torch's `eps`: a reduction smaller than this is not applied.
const PLATEAU_EPS: f64 = 1e-8;

/// A `ReduceLROnPlateau(mode="min", factor, patience, threshold=1e-4, threshold_mode="rel",
/// cooldown=0, min_lr=0)` stepped once per epoch on a metric (the epoch's mean training loss).
///
/// The executor multiplies the schedule's rate by [`Plateau::scale`].
///
/// # Example
/// ```
/// # use critpt::optim::Plateau;
/// let mut p = Plateau::new(0.5, 1).unwrap();
/// p.step(1.0, 0.1); // best 1.0
/// p.step(1.0, 0.1); // one bad epoch: not more than the patience
/// assert_eq!(p.scale(), 1.0);
/// p.step(1.0, 0.1); // two bad epochs: halve
/// assert_eq!(p.scale(), 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plateau {
    factor: f64,
    patience: usize,
    best: f64,
    bad_epochs: usize,
    scale: f64,
}

impl Plateau {
    /// Reduce by `factor` after more than `patience` epochs without improvement.
    ///
    /// # Errors
    /// `factor` not in `(0, 1)`.
    pub fn new(factor: f64, patience: usize) -> Result<Self> {
        if !(factor > 0.0 && factor < 1.0) {
            return Err(Error::invalid(
                "plateau factor",
                format!("must be in (0, 1), got {factor}"),
            ));
        }
        Ok(Plateau {
            factor,
            patience,
            best: f64::INFINITY,
            bad_epochs: 0,
            scale: 1.0,
        })
    }

    /// Parses `FACTOR:PATIENCE` (`0.5:3`).
    ///
    /// # Errors
    /// Not two fields, a factor outside `(0, 1)`, a patience that is not a whole number.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "plateau schedule",
                format!("'{spec}' is not FACTOR:PATIENCE such as 0.5:3"),
            )
        };
        let (f, p) = spec.split_once(':').ok_or_else(bad)?;
        let factor: f64 = f.trim().parse().map_err(|_| bad())?;
        let patience: usize = p.trim().parse().map_err(|_| bad())?;
        Self::new(factor, patience)
    }

    /// The factor the schedule's rates are multiplied by now.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// One epoch's `metric`; `lr` is the rate now in use (a reduction of less than torch's
    /// `eps = 1e-8` is skipped, as torch does).
    pub fn step(&mut self, metric: f64, lr: f64) {
        if metric < self.best * (1.0 - PLATEAU_THRESHOLD) {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs > self.patience {
            if lr - lr * self.factor > PLATEAU_EPS {
                self.scale *= self.factor;
            }
            self.bad_epochs = 0;
        }
    }
}
