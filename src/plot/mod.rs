//! Figures: surfaces with contours, critical points and trajectories; 3-D views; spectra; line and
//! scatter plots; side-by-side panels.
//!
//! This module (with the gallery) is the only user of plotters, and with the command line the only
//! code that writes figure files. It works on plain data: a grid of values or a function over a
//! 2-D box, points with a [`CriticalKind`](crate::critical::CriticalKind), polylines, eigenvalue
//! lists. It knows nothing of optimizers or the critical-point search: callers record what they
//! want drawn and hand it over.
//!
//! - [`grid`]: [`Grid`] (values sampled over a [`PlotBox`]), contour levels and contour lines
//!   (marching squares from the `contour` crate);
//! - [`surface`]: [`SurfacePlot`], the heat map + contours + colour bar + overlays figure;
//! - [`surface3d`]: [`Surface3d`], a shaded 3-D view;
//! - [`charts`]: [`SpectrumPlot`], [`LinePlot`], [`ScatterPlot`];
//! - [`Panels`], [`PanelRows`]: several figures side by side, rows of them stacked;
//! - the pieces the figures share: ticks and tick labels, legends, point markers, the colour bar,
//!   clipping to the plotting box (private modules).
//!
//! Every figure implements [`Plot`]: [`Plot::save`] writes a PNG or SVG chosen by the file's
//! extension, [`Plot::to_svg_string`] returns the SVG text.
//!
//! # Notebooks (evcxr)
//! In an evcxr (Jupyter) notebook, show a figure inline with [`Plot::notebook`]:
//! ```no_run
//! # use critpt::plot::{Plot, PlotBox, SurfacePlot};
//! let fig = SurfacePlot::from_fn(|p| p[0] * p[0] - p[1] * p[1], PlotBox::new(-2.0, 2.0, -2.0, 2.0)?, 120)?
//!     .with_title("x² − y²");
//! fig.notebook((800, 600))? // the last expression of a cell: evcxr calls its evcxr_display
//! # ; Ok::<(), critpt::Error>(())
//! ```
//! or draw into plotters' own notebook figure, since [`Plot::draw`] takes any backend:
//! `plotters::evcxr::evcxr_figure((800, 600), |root| { fig.draw(&root)?; Ok(()) })`.
//!
//! # Fonts
//! plotters is built without its system-font feature; the bundled DejaVu Sans
//! (`assets/DejaVuSans.ttf`) is registered as `sans-serif` on first use, so text renders on
//! machines without fontconfig.

pub mod charts;
mod clip;
mod colorbar;
pub mod grid;
mod legend;
mod markers;
mod panels;
pub mod surface;
pub mod surface3d;
mod ticks;

#[cfg(test)]
mod tests;

pub use charts::{Histogram, LinePlot, ScatterPlot, Series, SpectrumPlot, SpectrumScale};
pub use grid::{contour_lines, log_levels, quantile_levels, ContourLine, Grid, PlotBox};
pub use panels::{PanelRows, Panels};
pub use surface::{Arrow, Curve, Levels, PointMarker, SurfacePlot, Trajectory, ValueScale};
pub use surface3d::Surface3d;
pub use ticks::{fmt_axis_tick, fmt_tick};

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The default figure size in pixels, `(width, height)`.
pub const DEFAULT_SIZE: (u32, u32) = (1200, 900);

/// The file formats a figure can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Portable Network Graphics (`.png`), a bitmap.
    Png,
    /// Scalable Vector Graphics (`.svg`), text.
    Svg,
}

impl Format {
    /// The format named by a path's extension (`.png` or `.svg`, any case).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for any other or a missing extension.
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            Some(other) => Err(Error::invalid(
                "output file",
                format!(
                    "{}: unknown extension '.{other}'; use .png or .svg",
                    path.display()
                ),
            )),
            None => Err(Error::invalid(
                "output file",
                format!("{}: no extension; use .png or .svg", path.display()),
            )),
        }
    }
}

static FONT: Once = Once::new();

/// Registers the bundled DejaVu Sans as `sans-serif` (once per process).
pub fn ensure_font() {
    FONT.call_once(|| {
        // The font is compiled in and known to parse; registering can fail only on a corrupt
        // asset, which the tests would catch; then text falls back to nothing rather than panic.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans.ttf"),
        );
    });
}

/// Turns a plotters drawing error into the library's error.
pub(crate) fn draw_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Unsupported(format!("drawing failed: {e}"))
}

/// Text sizes scaled to the drawing area, readable at the default 1200x900.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fonts {
    pub title: f64,
    pub label: f64,
    pub tick: f64,
    pub legend: f64,
}

impl Fonts {
    pub fn for_area<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Fonts {
        let (w, h) = area.dim_in_pixel();
        // Sub-linear in the size, so small figures keep readable text.
        let s = (w.min(h) as f64 / 900.0).powf(0.7).clamp(0.5, 3.0);
        Fonts {
            title: 34.0 * s,
            label: 26.0 * s,
            tick: 20.0 * s,
            legend: 20.0 * s,
        }
    }
}

/// A figure that can be drawn on any plotters backend.
pub trait Plot {
    /// Draws the figure on `area` (it fills the whole area).
    ///
    /// # Errors
    /// [`Error::Unsupported`] when plotters fails to draw (e.g. a degenerate range).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>;

    /// Writes the figure to `path`, PNG or SVG by the file's extension, `size` = (width, height).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown extension or a zero size; [`Error::Io`] when the
    /// file cannot be created (missing directory, permission); drawing errors as [`Plot::draw`].
    fn save(&self, path: impl AsRef<Path>, size: (u32, u32)) -> Result<()>
    where
        Self: Sized,
    {
        save(self, path.as_ref(), size)
    }

    /// The figure as SVG text, `size` = (width, height).
    ///
    /// # Errors
    /// As [`Plot::draw`]; [`Error::InvalidParameter`] for a zero size.
    fn to_svg_string(&self, size: (u32, u32)) -> Result<String>
    where
        Self: Sized,
    {
        check_size(size)?;
        ensure_font();
        let mut buf = String::new();
        {
            let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_err)?;
        }
        Ok(buf)
    }

    /// The figure as an inline SVG for evcxr notebooks (see the module docs).
    ///
    /// # Errors
    /// As [`Plot::to_svg_string`].
    fn notebook(&self, size: (u32, u32)) -> Result<NotebookSvg>
    where
        Self: Sized,
    {
        Ok(NotebookSvg(self.to_svg_string(size)?))
    }
}

/// SVG text that evcxr shows inline: evcxr calls [`NotebookSvg::evcxr_display`] on the value of
/// a cell's last expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotebookSvg(pub String);

impl NotebookSvg {
    /// Prints the SVG wrapped in evcxr's HTML content markers (the evcxr display protocol).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n<div>{}</div>\nEVCXR_END_CONTENT",
            self.0
        );
    }
}

fn check_size((w, h): (u32, u32)) -> Result<()> {
    if w < 100 || h < 100 || w > 20_000 || h > 20_000 {
        return Err(Error::invalid(
            "figure size",
            format!("{w}x{h}; width and height must be between 100 and 20000 pixels"),
        ));
    }
    Ok(())
}

/// Writes `plot` to `path` (see [`Plot::save`]).
pub fn save<P: Plot + ?Sized>(plot: &P, path: &Path, size: (u32, u32)) -> Result<()> {
    let format = Format::from_path(path)?;
    check_size(size)?;
    ensure_font();
    match format {
        Format::Svg => {
            let mut buf = String::new();
            {
                let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
                plot.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            std::fs::write(path, buf).map_err(|e| Error::io(path, e))
        }
        Format::Png => {
            // Create the file first, so that a missing directory or a permission problem is a
            // plain I/O error before any drawing.
            std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
            let root = BitMapBackend::new(path, size).into_drawing_area();
            plot.draw(&root)?;
            root.present()
                .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
        }
    }
}

/// Starts a figure on `area`: registers the bundled font, paints the background white and
/// draws `title` (none when empty). Returns the area below the title and the font sizes.
pub(crate) fn begin_figure<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(DrawingArea<DB, Shift>, Fonts)> {
    ensure_font();
    area.fill(&WHITE).map_err(draw_err)?;
    let fonts = Fonts::for_area(area);
    let inner = if title.is_empty() {
        area.clone()
    } else {
        titled(area, title, fonts.title).map_err(draw_err)?
    };
    Ok((inner, fonts))
}

/// The area below a title: the title shrinks (down to 60%) to fit the width, then is cut with
/// an ellipsis.
pub(crate) fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    size: f64,
) -> Result<DrawingArea<DB, Shift>> {
    let (w, _) = area.dim_in_pixel();
    let avail = (w as f64 * 0.96) as u32;
    let width = |t: &str, s: f64| -> u32 {
        let style: TextStyle = ("sans-serif", s).into_font().into();
        area.estimate_text_size(t, &style)
            .map(|(w, _)| w)
            .unwrap_or((t.chars().count() as f64 * s * 0.6) as u32)
    };
    let mut s = size;
    while s > size * 0.6 && width(title, s) > avail {
        s *= 0.9;
    }
    let mut text = title.to_string();
    if width(&text, s) > avail {
        let chars: Vec<char> = title.chars().collect();
        let mut n = chars.len();
        while n > 1 && width(&text, s) > avail {
            n -= 1;
            text = chars[..n].iter().collect::<String>() + "…";
        }
    }
    area.titled(&text, ("sans-serif", s).into_font())
        .map_err(draw_err)
}

/// Index ranges `[a, b]` of a pixel polyline between turns sharper than 90 degrees.
///
/// plotters draws a thick polyline with mitred joins, which spike far out at sharp turns (a
/// zig-zagging optimizer); such lines are drawn as separate runs with round dots at the turns.
pub(crate) fn smooth_runs(px: &[(i32, i32)]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    if px.len() < 2 {
        return runs;
    }
    let mut start = 0;
    let mut prev: Option<(i64, i64)> = None;
    for i in 1..px.len() {
        let d = (
            (px[i].0 - px[i - 1].0) as i64,
            (px[i].1 - px[i - 1].1) as i64,
        );
        if d == (0, 0) {
            continue;
        }
        if let Some(p) = prev {
            if p.0 * d.0 + p.1 * d.1 < 0 {
                runs.push((start, i - 1));
                start = i - 1;
            }
        }
        prev = Some(d);
    }
    runs.push((start, px.len() - 1));
    runs
}

/// Draws a polyline in data coordinates without mitre spikes (see [`smooth_runs`]).
pub(crate) fn draw_polyline<DB, X, Y>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    pts: &[(f64, f64)],
    style: ShapeStyle,
) -> Result<()>
where
    DB: DrawingBackend,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    if pts.len() < 2 {
        return Ok(());
    }
    let area = chart.plotting_area();
    if style.stroke_width <= 1 {
        return area
            .draw(&PathElement::new(pts.to_vec(), style))
            .map_err(draw_err);
    }
    let px: Vec<(i32, i32)> = pts.iter().map(|p| chart.backend_coord(p)).collect();
    let runs = smooth_runs(&px);
    for (k, &(a, b)) in runs.iter().enumerate() {
        area.draw(&PathElement::new(pts[a..=b].to_vec(), style))
            .map_err(draw_err)?;
        if k > 0 {
            area.draw(&Circle::new(
                pts[a],
                (style.stroke_width / 2).max(1),
                style.color.filled(),
            ))
            .map_err(draw_err)?;
        }
    }
    Ok(())
}
