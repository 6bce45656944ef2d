//! [`SurfacePlot`]: a function of two variables as a heat map with contour lines and a colour
//! bar, with critical points marked by kind, eigenvector arrows, escape steps, optimizer
//! trajectories and labelled curves on top. The legend and colour bar sit in a strip to the right
//! of the plot, so they never hide data.

use super::clip::{clip_polyline, clip_segment};
use super::colorbar::{draw_colorbar, ColorScale};
use super::grid::{contour_lines, log_levels, quantile_levels, Grid, PlotBox};
use super::legend::{draw_legend, legend_width, Glyph};
use super::markers::{draw_end_marker, draw_kind_marker, draw_start_marker};
use super::{begin_figure, draw_err, draw_polyline, fmt_axis_tick, fmt_tick, Plot};
use crate::critical::CriticalKind;
use crate::error::{Error, Result};
use crate::objective::Loss;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How values map to colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueScale {
    /// Colour linear in the value.
    #[default]
    Linear,
    /// Colour linear in `log10(f − min + δ)` (δ = 1e-4·range; no shift when `min > 0`): for
    /// surfaces spanning orders of magnitude (Rosenbrock, the valley).
    Log,
}

/// Which contour levels to draw.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Levels {
    /// 12 levels: quantiles for a linear scale, log-spaced for a log scale.
    #[default]
    Auto,
    /// `n` levels at quantiles of the values ([`quantile_levels`]).
    Quantiles(usize),
    /// `n` log-spaced levels ([`log_levels`]).
    Log(usize),
    /// These levels.
    Values(Vec<f64>),
    /// No contour lines.
    None,
}

/// A point marked with its critical-point kind.
#[derive(Debug, Clone, PartialEq)]
pub struct PointMarker {
    /// Where.
    pub point: [f64; 2],
    /// Its kind (sets shape and colour).
    pub kind: CriticalKind,
}

/// An arrow from one point to another, in box coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    /// Tail.
    pub from: [f64; 2],
    /// Head.
    pub to: [f64; 2],
    /// Colour `(r, g, b)`.
    pub color: (u8, u8, u8),
    /// Legend text (arrows with the same label share one legend entry; empty: none).
    pub label: String,
}

/// A named path (an optimizer's iterates), drawn as a polyline with start and end markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Legend name (e.g. "adam").
    pub name: String,
    /// The iterates, start first. Non-finite points (divergence) end the drawn path.
    pub points: Vec<[f64; 2]>,
}

/// A labelled curve overlay (e.g. the hyperbola `w1·w2 = 1`), drawn dashed.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend text.
    pub label: String,
    /// Its pieces (a hyperbola has two branches).
    pub polylines: Vec<Vec<[f64; 2]>>,
}

/// Heat map + contour lines + colour bar + overlays of a function over a 2-D box.
///
/// # Example
/// ```
/// use critpt::critical::CriticalKind;
/// use critpt::plot::{Plot, PlotBox, SurfacePlot};
/// let fig = SurfacePlot::from_fn(|p| p[0] * p[0] - p[1] * p[1], PlotBox::new(-2.0, 2.0, -2.0, 2.0)?, 60)?
///     .with_title("x² − y²")
///     .with_critical_point([0.0, 0.0], CriticalKind::Saddle);
/// let svg = fig.to_svg_string((600, 450))?;
/// assert!(svg.starts_with("<svg"));
/// # Ok::<(), critpt::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SurfacePlot {
    grid: Grid,
    title: String,
    x_label: String,
    y_label: String,
    value_label: String,
    scale: ValueScale,
    levels: Levels,
    colorbar: bool,
    markers: Vec<PointMarker>,
    arrows: Vec<Arrow>,
    trajectories: Vec<Trajectory>,
    curves: Vec<Curve>,
}

/// Colours of trajectories, in order; bright enough for the dark and the light end of viridis
/// (each path also gets a dark outline).
const PATH_COLORS: [(u8, u8, u8); 8] = [
    (255, 50, 50),
    (255, 160, 0),
    (255, 255, 255),
    (0, 230, 255),
    (255, 80, 255),
    (140, 255, 120),
    (255, 210, 160),
    (120, 160, 255),
];

/// Colour of the escape-step arrow.
pub const ESCAPE_COLOR: (u8, u8, u8) = (255, 60, 220);
/// Colour of an eigenvector arrow of a negative eigenvalue.
pub const NEGATIVE_CURVATURE_COLOR: (u8, u8, u8) = (255, 70, 40);
/// Colour of an eigenvector arrow of a non-negative eigenvalue.
pub const POSITIVE_CURVATURE_COLOR: (u8, u8, u8) = (40, 220, 255);
/// Colour of curve overlays.
const CURVE_COLOR: RGBColor = RGBColor(255, 255, 255);

fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

impl SurfacePlot {
    /// A plot of precomputed values.
    pub fn from_grid(grid: Grid) -> SurfacePlot {
        SurfacePlot {
            grid,
            title: String::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            value_label: "f".into(),
            scale: ValueScale::Linear,
            levels: Levels::Auto,
            colorbar: true,
            markers: Vec::new(),
            arrows: Vec::new(),
            trajectories: Vec::new(),
            curves: Vec::new(),
        }
    }

    /// Samples `f` on a `resolution × resolution` grid over `bx` (`f` may return NaN where it is
    /// undefined: left blank). Costs `resolution²` calls.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `resolution` is not in `2..=2000`.
    pub fn from_fn<F: Fn(&[f64]) -> f64>(f: F, bx: PlotBox, resolution: usize) -> Result<Self> {
        if !(2..=2000).contains(&resolution) {
            return Err(Error::invalid(
                "resolution",
                format!("{resolution}; must be between 2 and 2000"),
            ));
        }
        Ok(SurfacePlot::from_grid(Grid::sample(
            bx, resolution, resolution, f,
        )?))
    }

    /// Samples a loss of exactly two parameters; points where it fails are left blank. Axis
    /// labels are the parameter names.
    ///
    /// # Errors
    /// [`Error::Unsupported`] unless the loss has exactly 2 parameters, or when it has no finite
    /// value anywhere on the grid (a blank figure); as [`SurfacePlot::from_fn`].
    pub fn from_loss<L: Loss + ?Sized>(obj: &L, bx: PlotBox, resolution: usize) -> Result<Self> {
        let n = obj.n_params();
        if n != 2 {
            let names = obj.param_names().join(", ");
            return Err(Error::Unsupported(format!(
                "only functions of 2 variables can be plotted; this one has {n} ({names})"
            )));
        }
        let names = obj.param_names();
        let plot = SurfacePlot::from_fn(|p| obj.loss(p).unwrap_or(f64::NAN), bx, resolution)?;
        if !plot.grid.values.iter().any(|v| v.is_finite()) {
            return Err(Error::Unsupported(format!(
                "the function has no finite value on the {resolution}x{resolution} grid of the box [{}, {}] x [{}, {}]: nothing to draw; choose a box inside its domain",
                bx.x.0, bx.x.1, bx.y.0, bx.y.1
            )));
        }
        Ok(plot.with_axis_labels(&names[0], &names[1]))
    }

    /// The sampled grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the axis labels (default `x`, `y`).
    pub fn with_axis_labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.x_label = x.into();
        self.y_label = y.into();
        self
    }

    /// Sets the colour bar's label (default `f`).
    pub fn with_value_label(mut self, label: impl Into<String>) -> Self {
        self.value_label = label.into();
        self
    }

    /// Sets the colour scale.
    pub fn with_scale(mut self, scale: ValueScale) -> Self {
        self.scale = scale;
        self
    }

    /// Sets the contour levels.
    pub fn with_levels(mut self, levels: Levels) -> Self {
        self.levels = levels;
        self
    }

    /// Shows or hides the colour bar (default shown).
    pub fn with_colorbar(mut self, show: bool) -> Self {
        self.colorbar = show;
        self
    }

    /// Marks a point by its kind.
    pub fn with_critical_point(mut self, point: [f64; 2], kind: CriticalKind) -> Self {
        self.markers.push(PointMarker { point, kind });
        self
    }

    /// Marks several points.
    pub fn with_critical_points(mut self, points: impl IntoIterator<Item = PointMarker>) -> Self {
        self.markers.extend(points);
        self
    }

    /// Adds an arrow.
    pub fn with_arrow(mut self, arrow: Arrow) -> Self {
        self.arrows.push(arrow);
        self
    }

    /// Eigenvector arrows at `at`: for each eigenpair `(λ, v)`, a double arrow `at ± length·v/‖v‖`,
    /// red for negative curvature and blue for positive, labelled `λ = ...`.
    pub fn with_eigen_arrows(
        mut self,
        at: [f64; 2],
        pairs: &[(f64, [f64; 2])],
        length: f64,
    ) -> Self {
        for &(lambda, v) in pairs {
            let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
            if !(n > 0.0 && n.is_finite() && lambda.is_finite()) {
                continue;
            }
            let u = [v[0] / n * length, v[1] / n * length];
            let color = if lambda < 0.0 {
                NEGATIVE_CURVATURE_COLOR
            } else {
                POSITIVE_CURVATURE_COLOR
            };
            let label = format!("eigenvector λ = {}", fmt_tick(lambda));
            for s in [1.0, -1.0] {
                self.arrows.push(Arrow {
                    from: at,
                    to: [at[0] + s * u[0], at[1] + s * u[1]],
                    color,
                    label: label.clone(),
                });
            }
        }
        self
    }

    /// An escape step: an arrow `from → to`, labelled "escape step".
    pub fn with_escape_step(self, from: [f64; 2], to: [f64; 2]) -> Self {
        self.with_arrow(Arrow {
            from,
            to,
            color: ESCAPE_COLOR,
            label: "escape step".into(),
        })
    }

    /// Adds an optimizer's path.
    pub fn with_trajectory(mut self, name: impl Into<String>, points: Vec<[f64; 2]>) -> Self {
        self.trajectories.push(Trajectory {
            name: name.into(),
            points,
        });
        self
    }

    /// Adds a labelled curve overlay.
    pub fn with_curve(mut self, label: impl Into<String>, polylines: Vec<Vec<[f64; 2]>>) -> Self {
        self.curves.push(Curve {
            label: label.into(),
            polylines,
        });
        self
    }

    /// The contour levels that will be drawn.
    pub fn contour_levels(&self) -> Vec<f64> {
        match &self.levels {
            Levels::Auto => match self.scale {
                ValueScale::Linear => quantile_levels(&self.grid, 12),
                ValueScale::Log => log_levels(&self.grid, 12),
            },
            Levels::Quantiles(n) => quantile_levels(&self.grid, *n),
            Levels::Log(n) => log_levels(&self.grid, *n),
            Levels::Values(v) => v.iter().copied().filter(|x| x.is_finite()).collect(),
            Levels::None => Vec::new(),
        }
    }

    fn legend_entries(&self) -> Vec<(Glyph, String)> {
        let mut out: Vec<(Glyph, String)> = Vec::new();
        for kind in [
            CriticalKind::Minimum,
            CriticalKind::Maximum,
            CriticalKind::Saddle,
            CriticalKind::Degenerate,
            CriticalKind::NotCritical,
        ] {
            if self.markers.iter().any(|m| m.kind == kind) {
                out.push((Glyph::Marker(kind), kind.name().replace('_', " ")));
            }
        }
        for a in &self.arrows {
            if !a.label.is_empty() && !out.iter().any(|(_, l)| l == &a.label) {
                out.push((Glyph::Arrow(rgb(a.color)), a.label.clone()));
            }
        }
        for c in &self.curves {
            out.push((Glyph::Dashed(CURVE_COLOR), c.label.clone()));
        }
        for (k, t) in self.trajectories.iter().enumerate() {
            out.push((
                Glyph::Line(rgb(PATH_COLORS[k % PATH_COLORS.len()])),
                t.name.clone(),
            ));
        }
        if !self.trajectories.is_empty() {
            out.push((Glyph::Start, "start".into()));
            out.push((Glyph::End, "end".into()));
        }
        out
    }
}

impl Plot for SurfacePlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let (inner, fonts) = begin_figure(area, &self.title)?;
        let (w, _) = inner.dim_in_pixel();
        let legend = self.legend_entries();
        let strip_w = if self.colorbar || !legend.is_empty() {
            let legend_w = legend_width(&inner, &legend, fonts.legend);
            legend_w.max((fonts.tick * 9.0) as u32).min(w * 2 / 5)
        } else {
            0
        };
        let (main, strip) = inner.split_horizontally(w - strip_w);
        let bx = self.grid.bx;
        let mut chart = ChartBuilder::on(&main)
            .margin((fonts.tick * 0.8) as u32)
            .x_label_area_size((fonts.label * 2.6) as u32)
            .y_label_area_size((fonts.tick * 5.0) as u32)
            .build_cartesian_2d(bx.x.0..bx.x.1, bx.y.0..bx.y.1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(8)
            .y_labels(8)
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| fmt_axis_tick(*v, bx.x.0, bx.x.1))
            .y_label_formatter(&|v| fmt_axis_tick(*v, bx.y.0, bx.y.1))
            .label_style(("sans-serif", fonts.tick))
            .axis_desc_style(("sans-serif", fonts.label))
            .draw()
            .map_err(draw_err)?;

        // Heat map: one rectangle per grid point, spanning half a cell each way.
        let scale = ColorScale::new(&self.grid, self.scale);
        let (dx, dy) = self.grid.spacing();
        let g = &self.grid;
        let cells = (0..g.ny).flat_map(|j| (0..g.nx).map(move |i| (i, j)));
        chart
            .draw_series(cells.filter_map(|(i, j)| {
                let v = g.at(i, j);
                if !v.is_finite() {
                    return None;
                }
                let (x, y) = (g.x(i), g.y(j));
                let x0 = (x - dx / 2.0).max(bx.x.0);
                let x1 = (x + dx / 2.0).min(bx.x.1);
                let y0 = (y - dy / 2.0).max(bx.y.0);
                let y1 = (y + dy / 2.0).min(bx.y.1);
                Some(Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    scale.color(v).filled(),
                ))
            }))
            .map_err(draw_err)?;

        // Contour lines.
        let levels = self.contour_levels();
        let contour_style = RGBColor(20, 20, 20).mix(0.55).stroke_width(1);
        for line in contour_lines(&self.grid, &levels)? {
            for pl in &line.polylines {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        pl.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>(),
                        contour_style,
                    )))
                    .map_err(draw_err)?;
            }
        }

        let px = fonts.tick; // Base size of overlays.
        let outline = BLACK.stroke_width((px * 0.35) as u32 + 2);
        // Curves.
        for c in &self.curves {
            for pl in &c.polylines {
                for piece in clip_polyline(&bx, pl) {
                    chart
                        .draw_series(DashedLineSeries::new(
                            piece.clone(),
                            (px * 0.8) as u32,
                            (px * 0.5) as u32,
                            outline,
                        ))
                        .map_err(draw_err)?;
                    chart
                        .draw_series(DashedLineSeries::new(
                            piece,
                            (px * 0.8) as u32,
                            (px * 0.5) as u32,
                            CURVE_COLOR.stroke_width((px * 0.15) as u32 + 1),
                        ))
                        .map_err(draw_err)?;
                }
            }
        }

        // Trajectories.
        let r = (px * 0.45) as i32;
        for (k, t) in self.trajectories.iter().enumerate() {
            let color = rgb(PATH_COLORS[k % PATH_COLORS.len()]);
            for piece in clip_polyline(&bx, &t.points) {
                draw_polyline(&chart, &piece, outline)?;
                draw_polyline(&chart, &piece, color.stroke_width((px * 0.15) as u32 + 1))?;
            }
            let finite: Vec<[f64; 2]> = t
                .points
                .iter()
                .copied()
                .take_while(|p| p[0].is_finite() && p[1].is_finite())
                .collect();
            if let Some(s) = finite.first().filter(|p| bx.contains(**p)) {
                draw_start_marker(chart.plotting_area(), (s[0], s[1]), r)?;
            }
            if let Some(e) = finite.last().filter(|p| bx.contains(**p)) {
                draw_end_marker(chart.plotting_area(), (e[0], e[1]), r, color)?;
            }
        }

        // Arrows: shaft, then a head built in pixel space so it looks the same on any box.
        for a in &self.arrows {
            let Some((p, q)) = clip_segment(&bx, a.from, a.to) else {
                continue;
            };
            let color = rgb(a.color);
            let (pp, qp) = (
                chart.backend_coord(&(p[0], p[1])),
                chart.backend_coord(&(q[0], q[1])),
            );
            let (ddx, ddy) = ((qp.0 - pp.0) as f64, (qp.1 - pp.1) as f64);
            let len = (ddx * ddx + ddy * ddy).sqrt();
            if len < 1.0 {
                continue;
            }
            let (ux, uy) = (ddx / len, ddy / len);
            let head_len = (px * 1.1).min(len * 0.5);
            let head_w = head_len * 0.55;
            let base = (-ux * head_len, -uy * head_len);
            let left = ((base.0 - uy * head_w) as i32, (base.1 + ux * head_w) as i32);
            let right = ((base.0 + uy * head_w) as i32, (base.1 - ux * head_w) as i32);
            let shaft: Vec<(f64, f64)> = vec![(p[0], p[1]), (q[0], q[1])];
            chart
                .draw_series(std::iter::once(PathElement::new(shaft.clone(), outline)))
                .map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    shaft,
                    color.stroke_width((px * 0.2) as u32 + 1),
                )))
                .map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((q[0], q[1]))
                        + Polygon::new(vec![(0, 0), left, right], color.filled())
                        + PathElement::new(
                            vec![(0, 0), left, right, (0, 0)],
                            BLACK.stroke_width(2),
                        ),
                ))
                .map_err(draw_err)?;
        }

        // Critical points last, so nothing hides them.
        let mr = (px * 0.55) as i32;
        for m in &self.markers {
            if !(m.point[0].is_finite() && m.point[1].is_finite() && bx.contains(m.point)) {
                continue;
            }
            draw_kind_marker(chart.plotting_area(), (m.point[0], m.point[1]), m.kind, mr)?;
        }

        // The strip: colour bar on top, legend below.
        if strip_w > 0 {
            let (_, sh) = strip.dim_in_pixel();
            let mut y = 0;
            if self.colorbar {
                let bar_h = if legend.is_empty() {
                    (sh as f64 * 0.8) as i32
                } else {
                    (sh as f64 * 0.45) as i32
                };
                y = draw_colorbar(&strip, &scale, &levels, &self.value_label, &fonts, bar_h)?;
                y += (fonts.legend * 1.5) as i32;
            }
            draw_legend(&strip, &legend, y, fonts.legend)?;
        }
        Ok(())
    }
}
