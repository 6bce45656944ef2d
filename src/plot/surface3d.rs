//! [`Surface3d`]: a function of two variables as a shaded 3-D surface (plotters' 3-D
//! coordinates), coloured by value like the heat map.

use super::grid::{log_shift, Grid, PlotBox};
use super::surface::ValueScale;
use super::{draw_err, ensure_font, fmt_tick, Fonts, Plot};
use crate::error::{Error, Result};
use crate::objective::Loss;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A cell to draw: projected depth, corners `(x, height, y)`, height of the colour.
type Cell = (i32, Vec<(f64, f64, f64)>, f64);

/// A 3-D view of a surface: one coloured quadrilateral per grid cell, drawn back to front.
///
/// Cells with a non-finite corner are left out. With [`ValueScale::Log`] the height is
/// `log10(f − min + δ)` and the vertical axis is labelled in values of `f`.
#[derive(Debug, Clone)]
pub struct Surface3d {
    grid: Grid,
    title: String,
    x_label: String,
    y_label: String,
    scale: ValueScale,
    yaw: f64,
    pitch: f64,
}

impl Surface3d {
    /// A 3-D view of precomputed values (40 × 40 to 80 × 80 points look best).
    pub fn from_grid(grid: Grid) -> Surface3d {
        Surface3d {
            grid,
            title: String::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            scale: ValueScale::Linear,
            yaw: 0.6,
            pitch: 0.45,
        }
    }

    /// Samples `f` on a `resolution × resolution` grid over `bx`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `resolution` is not in `2..=400`.
    pub fn from_fn<F: Fn(&[f64]) -> f64>(f: F, bx: PlotBox, resolution: usize) -> Result<Self> {
        if !(2..=400).contains(&resolution) {
            return Err(Error::invalid(
                "resolution",
                format!("{resolution}; must be between 2 and 400 for a 3-D view"),
            ));
        }
        Ok(Surface3d::from_grid(Grid::sample(
            bx, resolution, resolution, f,
        )?))
    }

    /// Samples a loss of exactly two parameters (axis labels are its parameter names).
    ///
    /// # Errors
    /// [`Error::Unsupported`] unless the loss has exactly 2 parameters; as [`Surface3d::from_fn`].
    pub fn from_loss<L: Loss + ?Sized>(obj: &L, bx: PlotBox, resolution: usize) -> Result<Self> {
        let n = obj.n_params();
        if n != 2 {
            return Err(Error::Unsupported(format!(
                "only functions of 2 variables can be plotted; this one has {n}"
            )));
        }
        let names = obj.param_names();
        Ok(
            Surface3d::from_fn(|p| obj.loss(p).unwrap_or(f64::NAN), bx, resolution)?
                .with_axis_labels(&names[0], &names[1]),
        )
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the labels of the two horizontal axes.
    pub fn with_axis_labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.x_label = x.into();
        self.y_label = y.into();
        self
    }

    /// Sets the height scale.
    pub fn with_scale(mut self, scale: ValueScale) -> Self {
        self.scale = scale;
        self
    }

    /// Sets the view: `yaw` turns around the vertical axis, `pitch` tilts (radians; defaults
    /// 0.6 and 0.45).
    pub fn with_view(mut self, yaw: f64, pitch: f64) -> Self {
        if yaw.is_finite() && pitch.is_finite() {
            self.yaw = yaw;
            self.pitch = pitch;
        }
        self
    }
}

impl Plot for Surface3d {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        ensure_font();
        area.fill(&WHITE).map_err(draw_err)?;
        let fonts = Fonts::for_area(area);
        let g = &self.grid;
        let (lo, hi) = g.finite_range().unwrap_or((0.0, 1.0));
        let log = self.scale == ValueScale::Log && hi > lo;
        let shift = if log { log_shift(lo, hi).0 } else { 0.0 };
        let tr = |v: f64| if log { (v + shift).log10() } else { v };
        let (mut z0, mut z1) = (tr(lo), tr(hi));
        if z1.partial_cmp(&z0) != Some(std::cmp::Ordering::Greater) {
            z0 -= 0.5;
            z1 += 0.5;
        }
        let bx = g.bx;
        let area = &if self.title.is_empty() {
            area.clone()
        } else {
            super::titled(area, &self.title, fonts.title)?
        };
        let mut builder = ChartBuilder::on(area);
        builder.margin((fonts.tick * 1.5) as u32);
        // plotters' 3-D y axis is vertical: (x, height, y).
        let mut chart = builder
            .build_cartesian_3d(bx.x.0..bx.x.1, z0..z1, bx.y.0..bx.y.1)
            .map_err(draw_err)?;
        let (yaw, pitch) = (self.yaw, self.pitch);
        chart.with_projection(|mut p| {
            p.yaw = yaw;
            p.pitch = pitch;
            p.scale = 0.8;
            p.into_matrix()
        });
        let zfmt = |t: &f64| {
            if log {
                fmt_tick(10f64.powf(*t) - shift)
            } else {
                fmt_tick(*t)
            }
        };
        let xfmt = |v: &f64| fmt_tick(*v);
        chart
            .configure_axes()
            .light_grid_style(BLACK.mix(0.12))
            .max_light_lines(3)
            .label_style(("sans-serif", fonts.tick * 0.85))
            .x_formatter(&xfmt)
            .z_formatter(&xfmt)
            .y_formatter(&zfmt)
            .x_labels(6)
            .y_labels(6)
            .z_labels(6)
            .draw()
            .map_err(draw_err)?;

        // Cells with their depth, drawn far to near.
        let mut cells: Vec<Cell> = Vec::new();
        let coord = chart.as_coord_spec();
        for j in 0..g.ny - 1 {
            for i in 0..g.nx - 1 {
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let vals: Vec<f64> = corners.iter().map(|&(a, b)| g.at(a, b)).collect();
                if vals.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                let pts: Vec<(f64, f64, f64)> = corners
                    .iter()
                    .zip(&vals)
                    .map(|(&(a, b), &v)| (g.x(a), tr(v), g.y(b)))
                    .collect();
                let mean = vals.iter().sum::<f64>() / 4.0;
                let (cx, cz) = ((g.x(i) + g.x(i + 1)) / 2.0, (g.y(j) + g.y(j + 1)) / 2.0);
                // A height field has no overhangs: order by the horizontal position alone (painter's
                // algorithm on the floor), far cells first.
                let depth = coord.projected_depth(&cx, &z0, &cz);
                cells.push((depth, pts, tr(mean)));
            }
        }
        cells.sort_by_key(|c| std::cmp::Reverse(c.0));
        // Each cell with its edges, so that edges of hidden cells stay hidden.
        let edges = g.nx <= 80 && g.ny <= 80;
        let edge = BLACK.mix(0.15);
        let area = chart.plotting_area();
        for (_, pts, t) in &cells {
            let h = ((t - z0) / (z1 - z0)).clamp(0.0, 1.0);
            area.draw(&Polygon::new(
                pts.clone(),
                ViridisRGB.get_color(h as f32).filled(),
            ))
            .map_err(draw_err)?;
            if edges {
                let mut p = pts.clone();
                p.push(pts[0]);
                area.draw(&PathElement::new(p, edge)).map_err(draw_err)?;
            }
        }
        // Axis names at the ends of the horizontal axes and the top of the vertical one.
        let font = ("sans-serif", fonts.label).into_font().color(&BLACK);
        let xm = (bx.x.0 + bx.x.1) / 2.0;
        let ym = (bx.y.0 + bx.y.1) / 2.0;
        let pad_x = (bx.x.1 - bx.x.0) * 0.18;
        let pad_y = (bx.y.1 - bx.y.0) * 0.18;
        chart
            .draw_series([
                Text::new(self.x_label.clone(), (xm, z0, bx.y.1 + pad_y), font.clone()),
                Text::new(self.y_label.clone(), (bx.x.1 + pad_x, z0, ym), font.clone()),
                Text::new(
                    if log {
                        "f (log scale)".to_string()
                    } else {
                        "f".to_string()
                    },
                    (bx.x.0, z1 + (z1 - z0) * 0.08, bx.y.1),
                    font,
                ),
            ])
            .map_err(draw_err)?;
        Ok(())
    }
}
