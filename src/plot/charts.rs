//! Plain charts: [`SpectrumPlot`] (eigenvalue histogram and density), [`LinePlot`] (loss curves,
//! learning-rate schedules) and [`ScatterPlot`] (e.g. training loss vs minimum ratio).
//!
//! Legends sit in a strip to the right of the plot, so they never hide data.

use super::legend::{draw_legend, legend_width, Glyph};
use super::{
    begin_figure, draw_err, draw_polyline, ensure_font, fmt_axis_tick, fmt_tick, titled, Fonts,
    Plot,
};
use crate::error::{Error, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Series colours, in order (colour-blind friendly "tab10").
const COLORS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn color(k: usize) -> RGBColor {
    let c = COLORS[k % COLORS.len()];
    RGBColor(c.0, c.1, c.2)
}

/// A named series of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// The points; non-finite ones are skipped (and break a line).
    pub points: Vec<[f64; 2]>,
    /// Drawn dashed (a reference level, a target) rather than solid, in a [`LinePlot`].
    pub dashed: bool,
}

impl Series {
    /// A series from its name and points.
    pub fn new(name: impl Into<String>, points: Vec<[f64; 2]>) -> Series {
        Series {
            name: name.into(),
            points,
            dashed: false,
        }
    }

    /// The same series drawn dashed: each segment is cut into [`DASHES_PER_SEGMENT`] dashes
    /// evenly spaced in the axis scale (linear or log), each covering 55% of its stretch.
    pub fn dashed(mut self) -> Series {
        self.dashed = true;
        self
    }

    /// A series of `values` against their index `0, 1, 2, …` (a loss curve per step).
    pub fn from_values(name: impl Into<String>, values: &[f64]) -> Series {
        Series::new(
            name,
            values
                .iter()
                .enumerate()
                .map(|(k, &v)| [k as f64, v])
                .collect(),
        )
    }
}

/// How many dashes a segment of a dashed [`Series`] is cut into.
pub const DASHES_PER_SEGMENT: usize = 40;

/// The dashes of the segment `a–b`: point pairs, each pair followed by a non-finite point that
/// breaks the line. Positions are interpolated in the axis scale (`ln` on a log axis); a
/// coordinate equal at both ends is kept as it is.
fn dash_points(a: [f64; 2], b: [f64; 2], log: [bool; 2]) -> Vec<[f64; 2]> {
    let fwd = |v: f64, l: bool| if l { v.ln() } else { v };
    let inv = |v: f64, l: bool| if l { v.exp() } else { v };
    let n = DASHES_PER_SEGMENT as f64;
    // The point a fraction `k / n` of the way (k need not be whole).
    let at = |k: f64| -> [f64; 2] {
        let mut p = [0.0; 2];
        for d in 0..2 {
            p[d] = if a[d] == b[d] {
                a[d]
            } else {
                let (lo, hi) = (fwd(a[d], log[d]), fwd(b[d], log[d]));
                inv(lo + (hi - lo) * k / n, log[d])
            };
        }
        p
    };
    let mut pts = Vec::with_capacity(3 * DASHES_PER_SEGMENT);
    for k in 0..DASHES_PER_SEGMENT {
        pts.push(at(k as f64));
        pts.push(at(k as f64 + 0.55));
        pts.push([f64::NAN, f64::NAN]);
    }
    pts
}

/// Titles and axis options shared by the x–y charts.
#[derive(Debug, Clone, Default)]
struct Axes {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    log_y: bool,
}

/// The finite `(lo, hi)` of some values, padded by 5% (or ±0.5 for a single value); for a log
/// axis only positive values count and the padding is multiplicative.
fn padded_range(vals: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let mut it = vals.filter(|v| v.is_finite() && (!log || *v > 0.0));
    let first = it.next()?;
    let (lo, hi) = it.fold((first, first), |(a, b), v| (a.min(v), b.max(v)));
    Some(if log {
        if hi > lo {
            let r = (hi / lo).powf(0.05);
            (lo / r, hi * r)
        } else {
            (lo / 2.0, hi * 2.0)
        }
    } else if hi > lo {
        let p = (hi - lo) * 0.05;
        (lo - p, hi + p)
    } else {
        (lo - 0.5, hi + 0.5)
    })
}

/// What an x–y chart draws inside its axes.
enum Marks<'a> {
    Lines(&'a [Series]),
    Points(&'a [Series]),
}

/// Draws title, legend strip, axes and the series of an x–y chart.
fn draw_xy<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axes: &Axes,
    marks: Marks<'_>,
) -> Result<()> {
    ensure_font();
    area.fill(&WHITE).map_err(draw_err)?;
    let fonts = Fonts::for_area(area);
    let inner = if axes.title.is_empty() {
        area.clone()
    } else {
        titled(area, &axes.title, fonts.title).map_err(draw_err)?
    };
    let series = match marks {
        Marks::Lines(s) | Marks::Points(s) => s,
    };
    let points = || series.iter().flat_map(|s| s.points.iter());
    // A log axis over less than about 1.5 decades is nearly linear and gets too few labels:
    // draw it linear.
    let wide = |log: bool, f: &dyn Fn(&[f64; 2]) -> f64| {
        log && padded_range(points().map(f), true).is_some_and(|(lo, hi)| hi / lo > 30.0)
    };
    let mut axes = axes.clone();
    axes.log_x = wide(axes.log_x, &|p| p[0]);
    axes.log_y = wide(axes.log_y, &|p| p[1]);
    let axes = &axes;
    let xr = padded_range(points().map(|p| p[0]), axes.log_x);
    let yr = padded_range(points().map(|p| p[1]), axes.log_y);
    let (Some(xr), Some(yr)) = (xr, yr) else {
        return Err(Error::invalid(
            "chart data",
            if axes.log_x || axes.log_y {
                "no finite positive values to draw on a log axis"
            } else {
                "no finite values to draw"
            },
        ));
    };
    let legend: Vec<(Glyph, String)> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.name.is_empty())
        .map(|(k, s)| (Glyph::Line(color(k)), s.name.clone()))
        .collect();
    let (w, _) = inner.dim_in_pixel();
    let strip_w = if legend.is_empty() {
        0
    } else {
        legend_width(&inner, &legend, fonts.legend).min(w * 2 / 5)
    };
    let (main, strip) = inner.split_horizontally(w - strip_w);
    let lin = |r: (f64, f64)| -> RangedCoordf64 { (r.0..r.1).into() };
    let log = |r: (f64, f64)| -> LogCoord<f64> { (r.0..r.1).log_scale().into() };
    match (axes.log_x, axes.log_y) {
        (false, false) => draw_xy_in(&main, axes, &fonts, lin(xr), lin(yr), &marks)?,
        (false, true) => draw_xy_in(&main, axes, &fonts, lin(xr), log(yr), &marks)?,
        (true, false) => draw_xy_in(&main, axes, &fonts, log(xr), lin(yr), &marks)?,
        (true, true) => draw_xy_in(&main, axes, &fonts, log(xr), log(yr), &marks)?,
    }
    if strip_w > 0 {
        let glyphs: Vec<(Glyph, String)> = match marks {
            Marks::Lines(_) => legend,
            Marks::Points(_) => legend
                .into_iter()
                .map(|(g, t)| match g {
                    Glyph::Line(c) => (Glyph::Dot(c), t),
                    other => (other, t),
                })
                .collect(),
        };
        draw_legend(&strip, &glyphs, (fonts.title * 1.5) as i32, fonts.legend)?;
    }
    Ok(())
}

fn draw_xy_in<DB, X, Y>(
    main: &DrawingArea<DB, Shift>,
    axes: &Axes,
    fonts: &Fonts,
    xr: X,
    yr: Y,
    marks: &Marks<'_>,
) -> Result<()>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let (x_lo, x_hi, y_lo, y_hi) = (
        xr.range().start,
        xr.range().end,
        yr.range().start,
        yr.range().end,
    );
    let mut chart = ChartBuilder::on(main)
        .margin((fonts.tick * 1.0) as u32)
        .x_label_area_size((fonts.label * 2.6) as u32)
        .y_label_area_size((fonts.tick * 5.0) as u32)
        .build_cartesian_2d(xr, yr)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.15))
        .x_labels(8)
        .y_labels(8)
        .x_desc(&axes.x_label)
        .y_desc(&axes.y_label)
        .x_label_formatter(&|v| fmt_axis_tick(*v, x_lo, x_hi))
        .y_label_formatter(&|v| fmt_axis_tick(*v, y_lo, y_hi))
        .label_style(("sans-serif", fonts.tick))
        .axis_desc_style(("sans-serif", fonts.label))
        .draw()
        .map_err(draw_err)?;
    let ok = |p: &[f64; 2]| {
        p[0].is_finite()
            && p[1].is_finite()
            && (!axes.log_x || p[0] > 0.0)
            && (!axes.log_y || p[1] > 0.0)
    };
    let width = (fonts.tick * 0.15) as u32 + 2;
    match marks {
        Marks::Lines(series) => {
            for (k, s) in series.iter().enumerate() {
                let dashes: Vec<[f64; 2]>;
                let points = if s.dashed {
                    dashes = s
                        .points
                        .windows(2)
                        .flat_map(|w| dash_points(w[0], w[1], [axes.log_x, axes.log_y]))
                        .collect();
                    &dashes
                } else {
                    &s.points
                };
                // Split at points that cannot be drawn.
                let mut piece: Vec<(f64, f64)> = Vec::new();
                let mut pieces = Vec::new();
                for p in points {
                    if ok(p) {
                        piece.push((p[0], p[1]));
                    } else if !piece.is_empty() {
                        pieces.push(std::mem::take(&mut piece));
                    }
                }
                pieces.push(piece);
                for pc in pieces.into_iter().filter(|p| !p.is_empty()) {
                    if pc.len() == 1 {
                        chart
                            .draw_series(std::iter::once(Circle::new(pc[0], 3, color(k).filled())))
                            .map_err(draw_err)?;
                    } else {
                        draw_polyline(&chart, &pc, color(k).stroke_width(width))?;
                    }
                }
            }
        }
        Marks::Points(series) => {
            let r = (fonts.tick * 0.35) as i32 + 2;
            for (k, s) in series.iter().enumerate() {
                chart
                    .draw_series(s.points.iter().filter(|p| ok(p)).map(|p| {
                        EmptyElement::at((p[0], p[1]))
                            + Circle::new((0, 0), r, color(k).mix(0.8).filled())
                            + Circle::new((0, 0), r, BLACK.mix(0.6).stroke_width(1))
                    }))
                    .map_err(draw_err)?;
            }
        }
    }
    Ok(())
}

/// Several named curves against a common x (loss per step, learning rate per step).
///
/// # Example
/// ```
/// use critpt::plot::{LinePlot, Plot, Series};
/// let fig = LinePlot::new(vec![Series::from_values("sgd", &[1.0, 0.5, 0.25])])
///     .with_title("loss").with_axis_labels("step", "loss").with_log_y(true);
/// assert!(fig.to_svg_string((600, 400))?.contains("sgd"));
/// # Ok::<(), critpt::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LinePlot {
    series: Vec<Series>,
    axes: Axes,
}

impl LinePlot {
    /// A line plot of `series`.
    pub fn new(series: Vec<Series>) -> LinePlot {
        LinePlot {
            series,
            axes: Axes {
                x_label: "step".into(),
                y_label: "value".into(),
                ..Axes::default()
            },
        }
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.axes.title = title.into();
        self
    }

    /// Sets the axis labels.
    pub fn with_axis_labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.axes.x_label = x.into();
        self.axes.y_label = y.into();
        self
    }

    /// A logarithmic y axis (non-positive values are not drawn; data spanning less than a factor
    /// 30 is drawn on a linear axis, where a log axis would get too few labels).
    pub fn with_log_y(mut self, log: bool) -> Self {
        self.axes.log_y = log;
        self
    }

    /// A logarithmic x axis (as [`LinePlot::with_log_y`]).
    pub fn with_log_x(mut self, log: bool) -> Self {
        self.axes.log_x = log;
        self
    }
}

impl Plot for LinePlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        draw_xy(area, &self.axes, Marks::Lines(&self.series))
    }
}

/// Points in the plane, one colour per named group (e.g. training loss vs minimum ratio).
#[derive(Debug, Clone)]
pub struct ScatterPlot {
    groups: Vec<Series>,
    axes: Axes,
}

impl ScatterPlot {
    /// A scatter plot of `groups`.
    pub fn new(groups: Vec<Series>) -> ScatterPlot {
        ScatterPlot {
            groups,
            axes: Axes {
                x_label: "x".into(),
                y_label: "y".into(),
                ..Axes::default()
            },
        }
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.axes.title = title.into();
        self
    }

    /// Sets the axis labels.
    pub fn with_axis_labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.axes.x_label = x.into();
        self.axes.y_label = y.into();
        self
    }

    /// A logarithmic y axis (as [`LinePlot::with_log_y`]).
    pub fn with_log_y(mut self, log: bool) -> Self {
        self.axes.log_y = log;
        self
    }

    /// A logarithmic x axis (as [`LinePlot::with_log_y`]).
    pub fn with_log_x(mut self, log: bool) -> Self {
        self.axes.log_x = log;
        self
    }
}

impl Plot for ScatterPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        draw_xy(area, &self.axes, Marks::Points(&self.groups))
    }
}

/// The horizontal scale of a spectrum plot.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SpectrumScale {
    /// λ itself.
    #[default]
    Linear,
    /// Linear for `|λ| ≤ c` (`t = λ/c`), logarithmic beyond (`t = sign(λ)·(1 + log10(|λ|/c))`),
    /// continuous at `±c`: shows a few large outliers and the bulk near zero together.
    SymLog {
        /// The linear width `c > 0`.
        linthresh: f64,
    },
    /// `log10 |λ|` (zero eigenvalues are left out and counted in the legend); negative and
    /// positive eigenvalues get separate colours.
    LogAbs,
}

impl SpectrumScale {
    fn fwd(self, l: f64) -> f64 {
        match self {
            SpectrumScale::Linear => l,
            SpectrumScale::SymLog { linthresh: c } => {
                if l.abs() <= c {
                    l / c
                } else {
                    l.signum() * (1.0 + (l.abs() / c).log10())
                }
            }
            SpectrumScale::LogAbs => l.abs().log10(),
        }
    }

    fn inv(self, t: f64) -> f64 {
        match self {
            SpectrumScale::Linear => t,
            SpectrumScale::SymLog { linthresh: c } => {
                if t.abs() <= 1.0 {
                    t * c
                } else {
                    t.signum() * c * 10f64.powf(t.abs() - 1.0)
                }
            }
            SpectrumScale::LogAbs => 10f64.powf(t),
        }
    }

    /// `|dλ/dt|` at λ, to turn a density in λ into one in t.
    fn jacobian(self, l: f64) -> f64 {
        match self {
            SpectrumScale::Linear => 1.0,
            SpectrumScale::SymLog { linthresh: c } => {
                if l.abs() <= c {
                    c
                } else {
                    std::f64::consts::LN_10 * l.abs()
                }
            }
            SpectrumScale::LogAbs => std::f64::consts::LN_10 * l.abs(),
        }
    }

    fn axis_label(self) -> &'static str {
        match self {
            SpectrumScale::Linear => "eigenvalue λ",
            SpectrumScale::SymLog { .. } => "eigenvalue λ (symmetric log scale)",
            SpectrumScale::LogAbs => "|λ| (log scale)",
        }
    }
}

/// Counts of values in equal-width bins over `[lo, hi]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// `bins + 1` edges, ascending.
    pub edges: Vec<f64>,
    /// Count per bin; the last bin includes `hi`.
    pub counts: Vec<usize>,
}

impl Histogram {
    /// Bins the finite values inside `[lo, hi]` into `bins` equal bins.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `bins` is 0 or `[lo, hi]` is not a finite, non-empty range.
    pub fn new(values: &[f64], bins: usize, lo: f64, hi: f64) -> Result<Histogram> {
        if bins == 0 || !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::invalid(
                "histogram",
                format!("{bins} bins over [{lo}, {hi}]; need bins >= 1 and a finite lo < hi"),
            ));
        }
        let width = (hi - lo) / bins as f64;
        let edges = (0..=bins).map(|k| lo + width * k as f64).collect();
        let mut counts = vec![0; bins];
        for &v in values {
            if v.is_finite() && v >= lo && v <= hi {
                let k = (((v - lo) / width) as usize).min(bins - 1);
                counts[k] += 1;
            }
        }
        Ok(Histogram { edges, counts })
    }
}

/// A Hessian spectrum: a histogram of eigenvalues (negative ones red, positive blue) and/or a
/// spectral density curve.
///
/// When both are given the density `ρ(λ)` (integrating to 1) is drawn in the histogram's units,
/// `ρ(λ) · N · Δt · |dλ/dt|`, so the curve follows the bars.
#[derive(Debug, Clone)]
pub struct SpectrumPlot {
    eigenvalues: Vec<f64>,
    density: Vec<[f64; 2]>,
    bins: usize,
    scale: SpectrumScale,
    title: String,
    log_counts: bool,
}

impl SpectrumPlot {
    /// A histogram of `eigenvalues` (non-finite ones are ignored).
    pub fn new(eigenvalues: &[f64]) -> SpectrumPlot {
        SpectrumPlot {
            eigenvalues: eigenvalues
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect(),
            density: Vec::new(),
            bins: 40,
            scale: SpectrumScale::Linear,
            title: String::new(),
            log_counts: false,
        }
    }

    /// Adds a density curve, points `(λ, ρ(λ))`.
    pub fn with_density(mut self, density: Vec<[f64; 2]>) -> Self {
        self.density = density;
        self
    }

    /// Sets the number of bins (at least 1; default 40).
    pub fn with_bins(mut self, bins: usize) -> Self {
        self.bins = bins.max(1);
        self
    }

    /// Sets the horizontal scale.
    pub fn with_scale(mut self, scale: SpectrumScale) -> Self {
        self.scale = match scale {
            SpectrumScale::SymLog { linthresh } if !(linthresh > 0.0 && linthresh.is_finite()) => {
                SpectrumScale::SymLog { linthresh: 1e-3 }
            }
            s => s,
        };
        self
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// A logarithmic count axis (bars start at 1).
    pub fn with_log_counts(mut self, log: bool) -> Self {
        self.log_counts = log;
        self
    }
}

impl Plot for SpectrumPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let (inner, fonts) = begin_figure(area, &self.title)?;
        let sc = self.scale;
        let usable = |l: f64| sc != SpectrumScale::LogAbs || l != 0.0;
        let ts: Vec<(f64, bool)> = self
            .eigenvalues
            .iter()
            .filter(|l| usable(**l))
            .map(|&l| (sc.fwd(l), l < 0.0))
            .collect();
        let n_zero = self.eigenvalues.len() - ts.len();
        let dens: Vec<(f64, f64)> = self
            .density
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite() && usable(p[0]))
            .map(|p| (sc.fwd(p[0]), p[1]))
            .collect();
        let Some((t_lo, t_hi)) = padded_range(
            ts.iter().map(|p| p.0).chain(dens.iter().map(|p| p.0)),
            false,
        ) else {
            return Err(Error::invalid(
                "spectrum",
                "no finite eigenvalues or density points to draw",
            ));
        };
        let (neg_h, pos_h) = if ts.is_empty() {
            (None, None)
        } else {
            let neg: Vec<f64> = ts.iter().filter(|p| p.1).map(|p| p.0).collect();
            let pos: Vec<f64> = ts.iter().filter(|p| !p.1).map(|p| p.0).collect();
            (
                Some(Histogram::new(&neg, self.bins, t_lo, t_hi)?),
                Some(Histogram::new(&pos, self.bins, t_lo, t_hi)?),
            )
        };
        let n = ts.len() as f64;
        let dt = (t_hi - t_lo) / self.bins as f64;
        let curve: Vec<(f64, f64)> = dens
            .iter()
            .zip(
                self.density
                    .iter()
                    .filter(|p| p[0].is_finite() && p[1].is_finite() && usable(p[0])),
            )
            .map(|(&(t, rho), p)| {
                if ts.is_empty() {
                    (t, rho)
                } else {
                    (t, rho * n * dt * sc.jacobian(p[0]))
                }
            })
            .collect();
        let max_count = match (&neg_h, &pos_h) {
            (Some(a), Some(b)) => a
                .counts
                .iter()
                .zip(&b.counts)
                .map(|(x, y)| x + y)
                .max()
                .unwrap_or(0) as f64,
            _ => 0.0,
        };
        let y_hi = curve
            .iter()
            .map(|p| p.1)
            .fold(max_count, f64::max)
            .max(1e-300)
            * 1.08;
        let y_label = if ts.is_empty() { "density" } else { "count" };

        let mut legend: Vec<(Glyph, String)> = Vec::new();
        let n_neg = ts.iter().filter(|p| p.1).count();
        if let (Some(_), Some(_)) = (&neg_h, &pos_h) {
            if n_neg > 0 {
                legend.push((Glyph::Bar(RED_BAR), format!("λ < 0 ({n_neg})")));
            }
            legend.push((
                Glyph::Bar(BLUE_BAR),
                format!("λ ≥ 0 ({})", ts.len() - n_neg),
            ));
        }
        if n_zero > 0 {
            legend.push((
                Glyph::Bar(RGBColor(200, 200, 200)),
                format!("λ = 0, not shown ({n_zero})"),
            ));
        }
        if !curve.is_empty() {
            legend.push((Glyph::Line(RGBColor(20, 20, 20)), "density".into()));
        }
        let (w, _) = inner.dim_in_pixel();
        let strip_w = legend_width(&inner, &legend, fonts.legend).min(w * 2 / 5);
        let (main, strip) = inner.split_horizontally(w - strip_w);

        let y_range: (f64, f64) = if self.log_counts && !ts.is_empty() {
            (0.5, y_hi.max(2.0))
        } else {
            (0.0, y_hi)
        };
        let bars = |chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<RangedCoordf64, RangedCoordf64>,
        >,
                    base: f64|
         -> Result<()> {
            if let (Some(neg), Some(pos)) = (&neg_h, &pos_h) {
                for k in 0..self.bins {
                    let (x0, x1) = (neg.edges[k], neg.edges[k + 1]);
                    let (a, b) = (neg.counts[k] as f64, pos.counts[k] as f64);
                    let tf = |v: f64| {
                        if self.log_counts {
                            v.max(base).log10()
                        } else {
                            v
                        }
                    };
                    if a > 0.0 {
                        chart
                            .draw_series([
                                Rectangle::new([(x0, tf(base)), (x1, tf(a))], RED_BAR.filled()),
                                Rectangle::new(
                                    [(x0, tf(base)), (x1, tf(a))],
                                    BLACK.mix(0.5).stroke_width(1),
                                ),
                            ])
                            .map_err(draw_err)?;
                    }
                    if b > 0.0 {
                        let lo = if a > 0.0 { a } else { base };
                        chart
                            .draw_series([
                                Rectangle::new([(x0, tf(lo)), (x1, tf(a + b))], BLUE_BAR.filled()),
                                Rectangle::new(
                                    [(x0, tf(lo)), (x1, tf(a + b))],
                                    BLACK.mix(0.5).stroke_width(1),
                                ),
                            ])
                            .map_err(draw_err)?;
                    }
                }
            }
            if curve.len() >= 2 {
                let pts: Vec<(f64, f64)> = curve
                    .iter()
                    .map(|&(t, v)| {
                        (
                            t,
                            if self.log_counts {
                                v.max(base).log10()
                            } else {
                                v
                            },
                        )
                    })
                    .collect();
                draw_polyline(chart, &pts, RGBColor(20, 20, 20).stroke_width(3))?;
            }
            Ok(())
        };
        // Counts are drawn on a linear coordinate; with log counts the coordinate is log10(count).
        let (ylo, yhi) = if self.log_counts {
            (y_range.0.log10(), y_range.1.log10())
        } else {
            y_range
        };
        let mut chart = ChartBuilder::on(&main)
            .margin((fonts.tick * 1.0) as u32)
            .x_label_area_size((fonts.label * 2.6) as u32)
            .y_label_area_size((fonts.tick * 5.0) as u32)
            .build_cartesian_2d(t_lo..t_hi, ylo..yhi)
            .map_err(draw_err)?;
        let log_counts = self.log_counts;
        chart
            .configure_mesh()
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .x_labels(9)
            .y_labels(8)
            .x_desc(sc.axis_label())
            .y_desc(if log_counts {
                "count (log scale)"
            } else {
                y_label
            })
            .x_label_formatter(&|t| {
                // On a log scale only whole decades get a label.
                if sc == SpectrumScale::Linear {
                    fmt_tick(*t)
                } else if (t - t.round()).abs() < 1e-9 {
                    fmt_tick(sc.inv(t.round()))
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| {
                if !log_counts {
                    fmt_tick(*v)
                } else if (v - v.round()).abs() < 1e-9 {
                    fmt_tick(10f64.powf(v.round()))
                } else {
                    String::new()
                }
            })
            .label_style(("sans-serif", fonts.tick))
            .axis_desc_style(("sans-serif", fonts.label))
            .draw()
            .map_err(draw_err)?;
        bars(&mut chart, if log_counts { 0.5 } else { 0.0 })?;
        // The zero line.
        if sc != SpectrumScale::LogAbs && t_lo < 0.0 && t_hi > 0.0 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, ylo), (0.0, yhi)],
                    BLACK.mix(0.6).stroke_width(1),
                )))
                .map_err(draw_err)?;
        }
        draw_legend(&strip, &legend, (fonts.title * 1.5) as i32, fonts.legend)?;
        Ok(())
    }
}

const RED_BAR: RGBColor = RGBColor(214, 39, 40);
const BLUE_BAR: RGBColor = RGBColor(31, 119, 180);
