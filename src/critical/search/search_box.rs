//! [`SearchBox`]: the axis-aligned box the search covers, validated so that every length the
//! search derives from it (widths, midpoints, starts, the diagonal) is a finite number.

use crate::error::{Error, Result};

/// An axis-aligned box `[lo₁, hi₁] × … × [loₙ, hiₙ]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchBox {
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl SearchBox {
    /// A box from `(lo, hi)` pairs, one per variable.
    ///
    /// Every quantity the search derives from the box must be a finite number: each width
    /// `hi − lo` (so `±1e308` is refused: the width overflows), hence each midpoint and each
    /// Halton start `lo + t·(hi − lo)`, and the diagonal, the search's length scale; each width must be at least `1e-12` of the bounds'
    /// magnitude, so that the starts are distinct numbers (a box `[1e20, 1e20 + 1]` holds a single
    /// float).
    ///
    /// # Errors
    /// No pairs, a bound that is not finite, `lo ≥ hi`, a width or diagonal that overflows, or a
    /// width below the resolution of the bounds.
    pub fn try_new(bounds: &[(f64, f64)]) -> Result<Self> {
        if bounds.is_empty() {
            return Err(Error::invalid(
                "box",
                "a box needs at least one (lo, hi) pair",
            ));
        }
        for (i, &(lo, hi)) in bounds.iter().enumerate() {
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "bounds of variable {} must be finite, got [{lo}, {hi}]",
                        i + 1
                    ),
                ));
            }
            if lo >= hi {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "variable {} has lo {lo} >= hi {hi}; each lower bound must be below its upper bound",
                        i + 1
                    ),
                ));
            }
            let width = hi - lo;
            if !width.is_finite() {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "variable {} has width hi - lo = {hi} - ({lo}), which overflows f64; each width must stay below {:e}",
                        i + 1,
                        f64::MAX
                    ),
                ));
            }
            let magnitude = lo.abs().max(hi.abs());
            if width < 1e-12 * magnitude {
                return Err(Error::invalid(
                    "box",
                    format!(
                        "variable {} has width {width:e} at magnitude {magnitude:e}; the width must be at least 1e-12 of the bounds' magnitude for the starts to be distinct",
                        i + 1
                    ),
                ));
            }
        }
        let bx = SearchBox {
            lo: bounds.iter().map(|b| b.0).collect(),
            hi: bounds.iter().map(|b| b.1).collect(),
        };
        let d = bx.diameter();
        if !d.is_finite() {
            return Err(Error::invalid(
                "box",
                format!(
                    "the diagonal of the box (its length scale) overflows f64 (above {:e}); shrink the widths",
                    f64::MAX
                ),
            ));
        }
        Ok(bx)
    }

    /// A box from a flat list `LO1, HI1, LO2, HI2, …` (the `--box` flag).
    ///
    /// # Errors
    /// An odd or zero count, and everything [`SearchBox::try_new`] rejects.
    pub fn from_flat(values: &[f64]) -> Result<Self> {
        if values.is_empty() || !values.len().is_multiple_of(2) {
            return Err(Error::invalid(
                "box",
                format!(
                    "expected pairs LO1,HI1,LO2,HI2,...; got {} numbers",
                    values.len()
                ),
            ));
        }
        let pairs: Vec<(f64, f64)> = values.chunks(2).map(|c| (c[0], c[1])).collect();
        Self::try_new(&pairs)
    }

    /// Number of dimensions.
    pub fn n_dims(&self) -> usize {
        self.lo.len()
    }

    /// Lower bounds.
    pub fn lo(&self) -> &[f64] {
        &self.lo
    }

    /// Upper bounds.
    pub fn hi(&self) -> &[f64] {
        &self.hi
    }

    /// `(lo, hi)` pairs.
    pub fn bounds(&self) -> Vec<(f64, f64)> {
        self.lo
            .iter()
            .copied()
            .zip(self.hi.iter().copied())
            .collect()
    }

    /// Length of the diagonal, the length scale of every tolerance in the search (computed
    /// scaled by the largest width, so it is finite whenever the widths are).
    pub fn diameter(&self) -> f64 {
        let widths: Vec<f64> = self.lo.iter().zip(&self.hi).map(|(l, h)| h - l).collect();
        let m = widths.iter().fold(0.0f64, |a, &w| a.max(w));
        if m == 0.0 {
            return 0.0;
        }
        m * widths.iter().map(|w| (w / m) * (w / m)).sum::<f64>().sqrt()
    }

    /// Whether `p` lies in the box widened by `slack` times each side's width.
    pub fn contains(&self, p: &[f64], slack: f64) -> bool {
        p.len() == self.lo.len()
            && p.iter()
                .zip(self.lo.iter().zip(&self.hi))
                .all(|(&x, (&l, &h))| {
                    let pad = slack * (h - l);
                    x >= l - pad && x <= h + pad
                })
    }

    /// Maps a point of the unit cube `[0, 1)ⁿ` into the box.
    pub fn from_unit(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(self.lo.iter().zip(&self.hi))
            .map(|(&t, (&l, &h))| l + t * (h - l))
            .collect()
    }
}
