//! The colour bar of a surface: the value → colour transform (linear or log, viridis) and the
//! bar with its ticks and contour-level marks.

use super::grid::{log_shift, Grid};
use super::surface::ValueScale;
use super::ticks::{fmt_tick, nice_ticks};
use super::{draw_err, Fonts};
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The colour transform of a surface: value → t (linear or log), t range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColorScale {
    log: bool,
    shift: f64,
    lo: f64,
    t0: f64,
    t1: f64,
}

impl ColorScale {
    pub(crate) fn new(grid: &Grid, scale: ValueScale) -> ColorScale {
        let (lo, hi) = grid.finite_range().unwrap_or((0.0, 1.0));
        let log = scale == ValueScale::Log && hi > lo;
        let shift = if log { log_shift(lo, hi).0 } else { 0.0 };
        let mut s = ColorScale {
            log,
            shift,
            lo,
            t0: 0.0,
            t1: 1.0,
        };
        s.t0 = s.t(lo);
        s.t1 = s.t(hi);
        if s.t1.partial_cmp(&s.t0) != Some(std::cmp::Ordering::Greater) {
            // A constant surface: give the colour bar some height.
            s.t0 -= 0.5;
            s.t1 += 0.5;
        }
        s
    }

    pub(crate) fn t(&self, v: f64) -> f64 {
        if self.log {
            (v + self.shift).max(f64::MIN_POSITIVE).log10()
        } else {
            v
        }
    }

    pub(crate) fn color(&self, v: f64) -> RGBColor {
        let h = ((self.t(v) - self.t0) / (self.t1 - self.t0)).clamp(0.0, 1.0);
        ViridisRGB.get_color(h as f32)
    }

    /// Tick values (in value units) for the colour bar.
    pub(crate) fn ticks(&self) -> Vec<f64> {
        if self.log {
            // Decades: 10^k when no shift is needed, else lo + 10^k (and lo itself).
            let mut out = Vec::new();
            let base = if self.shift > 0.0 {
                out.push(self.lo);
                self.lo
            } else {
                0.0
            };
            let hi = 10f64.powf(self.t1) - self.shift;
            let k0 = if self.shift > 0.0 {
                (self.shift + self.lo).log10().ceil() as i32
            } else {
                self.t0.ceil() as i32
            };
            let k1 = (hi - base).log10().floor() as i32;
            // Few decades: add 2 and 5 times each power.
            let mults: &[f64] = if k1 - k0 < 3 {
                &[1.0, 2.0, 5.0]
            } else {
                &[1.0]
            };
            for k in (k0 - 1).max(-300)..=k1.min(300) {
                for m in mults {
                    let v = base + m * 10f64.powi(k);
                    let t = self.t(v);
                    if t >= self.t0 && t <= self.t1 {
                        out.push(v);
                    }
                }
            }
            // Too many decades: keep every other one.
            while out.len() > 9 {
                out = out.into_iter().step_by(2).collect();
            }
            out
        } else {
            // Widen a hair so that round values at the very ends (0 for a loss) get a tick.
            let pad = (self.t1 - self.t0) * 0.005;
            nice_ticks(self.t0 - pad, self.t1 + pad, 7)
        }
    }
}

/// Draws the vertical colour bar with tick labels into `area` (pixel coordinates); returns the
/// height used.
pub(crate) fn draw_colorbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scale: &ColorScale,
    levels: &[f64],
    label: &str,
    fonts: &Fonts,
    height: i32,
) -> Result<i32> {
    let label_font = ("sans-serif", fonts.label).into_font().color(&BLACK);
    let tick_font = ("sans-serif", fonts.tick).into_font().color(&BLACK);
    let top = (fonts.label * 2.2) as i32;
    let x0 = (fonts.tick * 0.8) as i32;
    let bar_w = (fonts.tick * 1.6) as i32;
    let bottom = top + height;
    area.draw(&Text::new(
        if label.is_empty() {
            "value".to_string()
        } else {
            label.to_string()
        },
        (x0, (fonts.label * 0.6) as i32),
        label_font,
    ))
    .map_err(draw_err)?;
    let n = (bottom - top).max(1);
    for k in 0..n {
        let t = scale.t1 - (scale.t1 - scale.t0) * (k as f64 + 0.5) / n as f64;
        let h = ((t - scale.t0) / (scale.t1 - scale.t0)).clamp(0.0, 1.0);
        let c = ViridisRGB.get_color(h as f32);
        area.draw(&Rectangle::new(
            [(x0, top + k), (x0 + bar_w, top + k + 1)],
            c.filled(),
        ))
        .map_err(draw_err)?;
    }
    area.draw(&Rectangle::new(
        [(x0, top), (x0 + bar_w, bottom)],
        BLACK.stroke_width(1),
    ))
    .map_err(draw_err)?;
    let y_of = |v: f64| -> i32 {
        let t = scale.t(v);
        bottom - ((t - scale.t0) / (scale.t1 - scale.t0) * (bottom - top) as f64).round() as i32
    };
    // Contour levels as thin marks across the bar.
    for &l in levels {
        let y = y_of(l);
        if y >= top && y <= bottom {
            area.draw(&PathElement::new(
                vec![(x0, y), (x0 + bar_w, y)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(draw_err)?;
        }
    }
    let mut last_y = i32::MAX;
    for v in scale.ticks() {
        let y = y_of(v);
        let slack = 2 + (bottom - top) / 100;
        if y < top - slack || y > bottom + slack || (last_y - y).abs() < (fonts.tick * 1.1) as i32 {
            continue;
        }
        last_y = y;
        area.draw(&PathElement::new(
            vec![(x0 + bar_w, y), (x0 + bar_w + 8, y)],
            BLACK.stroke_width(2),
        ))
        .map_err(draw_err)?;
        area.draw(&Text::new(
            fmt_tick(v),
            (x0 + bar_w + 12, y - (fonts.tick * 0.5) as i32),
            tick_font.clone(),
        ))
        .map_err(draw_err)?;
    }
    Ok(bottom + (fonts.tick * 0.8) as i32)
}
