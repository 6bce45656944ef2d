//! The teaching figures of chapter 3: a registry of figures, each drawn from numbers
//! critpt computes, and a runner that regenerates them all.
//!
//! Every figure lives in its own file with three public functions:
//! - `compute()` returns the figure's data (the numbers the picture draws: paths, points,
//!   values), so tests can check them against the library and closed forms;
//! - `plot(&data)` turns the data into a [`Plot`](crate::plot::Plot);
//! - `render(path)` does both, writes the PNG and returns a [`FigureOutput`] (caption and key
//!   numbers).
//!
//! [`FIGURES`] lists them in the chapter's order. Adding a figure is one file plus one
//! [`FigureSpec`] line in [`FIGURES`]. [`run_all`] runs every figure (or a filtered subset) in
//! parallel and isolates failures: a figure that returns an error or panics is reported as
//! failed, the others still run; the report order is the registry's.

pub mod adagrad_explosion;
pub mod adaptive;
pub mod batch_size;
pub mod batchnorm;
pub mod critical_points;
pub mod gauss_newton;
pub mod hessian_spectrum;
pub mod loss_landscape;
pub mod minimum_ratio;
pub mod momentum;
pub mod mse_vs_ce;
pub mod nn_common;
pub mod normalization;
pub mod saddle_escape;
pub mod schedules;
pub mod sharpness;

use crate::error::{Error, Result};
use crate::plot::{LinePlot, Plot, SurfacePlot};
use plotters::coord::Shift;
use plotters::prelude::*;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `data/digits.csv` (1797 8×8 images, 10 classes), embedded in the library so that the
/// figures that train on it run from any working directory.
pub const DIGITS_CSV: &str = include_str!("../../data/digits.csv");

/// The digits set from [`DIGITS_CSV`], raw pixel values `0..=16`.
///
/// # Errors
/// None in practice (the embedded file is well formed); the CSV parser's errors otherwise.
pub fn digits_dataset() -> Result<crate::nn::Dataset> {
    crate::nn::Dataset::from_csv_str(
        DIGITS_CSV,
        "data/digits.csv",
        None,
        crate::nn::Task::Classification {
            n_classes: Some(10),
        },
    )
}

/// The size of a single-panel figure, `(width, height)` in pixels.
pub const SIZE: (u32, u32) = (1200, 900);
/// The size of a two-panel figure.
pub const WIDE_SIZE: (u32, u32) = (2400, 900);

/// What a figure reports besides its file: what it claims, and the numbers behind the claim.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureOutput {
    /// One or two sentences: what the figure shows.
    pub caption: String,
    /// The key numbers, `(name, value)`.
    pub numbers: Vec<(String, f64)>,
}

/// One registered figure.
#[derive(Debug, Clone, Copy)]
pub struct FigureSpec {
    /// Its number in the list (the file prefix `NN-`).
    pub number: u32,
    /// Its name (`critical-points`); the file is `NN-name.png`.
    pub name: &'static str,
    /// A short title.
    pub title: &'static str,
    /// Computes, draws and writes the figure to the given path.
    pub render: fn(&Path) -> Result<FigureOutput>,
}

impl FigureSpec {
    /// The file name, `NN-name.png`.
    pub fn file_name(&self) -> String {
        format!("{:02}-{}.png", self.number, self.name)
    }
}

/// Every figure, in the chapter's order. A new figure adds one line here.
pub const FIGURES: &[FigureSpec] = &[
    FigureSpec {
        number: 1,
        name: "critical-points",
        title: "Himmelblau's 9 critical points, found and classified",
        render: critical_points::render,
    },
    FigureSpec {
        number: 2,
        name: "saddle-escape",
        title: "Escaping the saddle of (1 - w1 w2)^2 along negative curvature",
        render: saddle_escape::render,
    },
    FigureSpec {
        number: 3,
        name: "minimum-ratio",
        title: "Training loss against minimum ratio of many small networks",
        render: minimum_ratio::render,
    },
    FigureSpec {
        number: 4,
        name: "batch-size",
        title: "Full batch vs mini-batch vs batch size 1; seconds per epoch",
        render: batch_size::render,
    },
    FigureSpec {
        number: 5,
        name: "momentum",
        title: "Momentum rolls past a local minimum where gradient descent stops",
        render: momentum::render,
    },
    FigureSpec {
        number: 6,
        name: "adaptive",
        title: "The long narrow valley: GD at two rates, AdaGrad, RMSProp, Adam",
        render: adaptive::render,
    },
    FigureSpec {
        number: 7,
        name: "adagrad-explosion",
        title: "adagrad-book explodes without a schedule; decay and warmup fix it",
        render: adagrad_explosion::render,
    },
    FigureSpec {
        number: 8,
        name: "schedules",
        title: "Learning-rate schedules",
        render: schedules::render,
    },
    FigureSpec {
        number: 9,
        name: "mse-vs-ce",
        title: "Softmax + MSE vs cross-entropy error surfaces",
        render: mse_vs_ce::render,
    },
    FigureSpec {
        number: 10,
        name: "normalization",
        title: "Feature normalization rounds the error surface",
        render: normalization::render,
    },
    FigureSpec {
        number: 11,
        name: "batchnorm",
        title: "Batch normalization: running statistics converge; train vs eval outputs",
        render: batchnorm::render,
    },
    FigureSpec {
        number: 12,
        name: "hessian-spectrum",
        title: "Hessian spectrum of a trained digits MLP: bulk and outliers",
        render: hessian_spectrum::render,
    },
    FigureSpec {
        number: 13,
        name: "loss-landscape",
        title: "Loss landscape of the trained digits MLP: slices, eigenvector plane, PCA path",
        render: loss_landscape::render,
    },
    FigureSpec {
        number: 14,
        name: "sharpness",
        title: "Sharpness: λmax vs batch size; λmax vs 2/η under full-batch GD",
        render: sharpness::render,
    },
    FigureSpec {
        number: 15,
        name: "hessian-vs-ggn",
        title: "Hessian vs Gauss–Newton spectra: shared outliers, negatives only in the Hessian",
        render: gauss_newton::render,
    },
];

/// The outcome of one figure.
#[derive(Debug, Clone)]
pub struct FigureReport {
    /// The figure's name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// The file it was written to (or would have been).
    pub path: PathBuf,
    /// Wall time of the figure, seconds.
    pub seconds: f64,
    /// Caption and numbers, or why it failed.
    pub outcome: std::result::Result<FigureOutput, String>,
}

impl FigureReport {
    /// Whether the figure was written.
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The file, then the caption and one `  name = value` line per number (or why it failed).
    pub fn summary(&self) -> String {
        let mut s = self.path.display().to_string();
        match &self.outcome {
            Ok(out) => {
                s.push('\n');
                s.push_str(&out.caption);
                for (k, v) in &out.numbers {
                    s.push_str(&format!("\n  {k} = {v}"));
                }
            }
            Err(e) => s.push_str(&format!("\nfailed: {e}")),
        }
        s
    }
}

/// The outcome of a gallery run, in registry order.
#[derive(Debug, Clone)]
pub struct GalleryReport {
    /// One entry per figure run.
    pub figures: Vec<FigureReport>,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
}

impl GalleryReport {
    /// The figures that failed.
    pub fn failed(&self) -> Vec<&FigureReport> {
        self.figures.iter().filter(|f| !f.ok()).collect()
    }

    /// Whether every figure was written.
    pub fn all_ok(&self) -> bool {
        self.figures.iter().all(FigureReport::ok)
    }
}

/// Runs every figure of [`FIGURES`] whose name is in `filter` (all when `filter` is empty) into
/// `out_dir` (created if missing). See [`run_figures`].
///
/// # Errors
/// As [`run_figures`].
pub fn run_all(out_dir: &Path, filter: &[String]) -> Result<GalleryReport> {
    run_figures(FIGURES, out_dir, filter)
}

/// Runs the figures of `figures` whose name is in `filter` (all when empty) into `out_dir`.
///
/// Figures run in parallel (rayon); the report keeps the order of `figures`. A figure that
/// returns an error or panics is reported as failed with the reason; the others still run. When
/// `out_dir` cannot be created, every selected figure fails with that reason.
///
/// # Errors
/// [`Error::Unknown`] when `filter` names a figure that is not in `figures` (nothing is run).
pub fn run_figures(
    figures: &[FigureSpec],
    out_dir: &Path,
    filter: &[String],
) -> Result<GalleryReport> {
    for name in filter {
        if !figures.iter().any(|f| f.name == name) {
            return Err(Error::Unknown {
                what: "figure".into(),
                name: name.clone(),
                known: figures
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let selected: Vec<&FigureSpec> = figures
        .iter()
        .filter(|f| filter.is_empty() || filter.iter().any(|n| n == f.name))
        .collect();
    let t0 = Instant::now();
    let dir_error = std::fs::create_dir_all(out_dir)
        .err()
        .map(|e| format!("cannot create output directory {}: {e}", out_dir.display()));
    let reports = selected
        .par_iter()
        .map(|spec| {
            let path = out_dir.join(spec.file_name());
            let t = Instant::now();
            let outcome = match &dir_error {
                Some(e) => Err(e.clone()),
                None => run_isolated(spec, &path),
            };
            FigureReport {
                name: spec.name.to_string(),
                title: spec.title.to_string(),
                path,
                seconds: t.elapsed().as_secs_f64(),
                outcome,
            }
        })
        .collect();
    Ok(GalleryReport {
        figures: reports,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Runs one figure, turning an error or a panic into a message.
fn run_isolated(spec: &FigureSpec, path: &Path) -> std::result::Result<FigureOutput, String> {
    let render = spec.render;
    match std::panic::catch_unwind(|| render(path)) {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            Err(format!("panicked: {msg}"))
        }
    }
}

/// Runs one registered figure by name into `out_dir` (for the examples).
///
/// # Errors
/// An unknown name, or the figure's own error (a panic is reported as an error too).
pub fn run_one(name: &str, out_dir: &Path) -> Result<FigureReport> {
    let report = run_all(out_dir, &[name.to_string()])?;
    let fig = report
        .figures
        .into_iter()
        .next()
        .ok_or_else(|| Error::Unsupported(format!("figure '{name}' did not run")))?;
    match &fig.outcome {
        Ok(_) => Ok(fig),
        Err(e) => Err(Error::Unsupported(format!("figure '{name}' failed: {e}"))),
    }
}

/// Any of the plots a gallery figure is made of, so that different kinds can share a row.
#[derive(Debug, Clone)]
pub enum AnyPlot {
    /// A surface with overlays.
    Surface(SurfacePlot),
    /// A line chart.
    Line(LinePlot),
}

impl Plot for AnyPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        match self {
            AnyPlot::Surface(p) => p.draw(area),
            AnyPlot::Line(p) => p.draw(area),
        }
    }
}

/// The points of a run's path as 2-D points (the first two coordinates).
pub fn path_2d(path: &[Vec<f64>]) -> Vec<[f64; 2]> {
    path.iter()
        .filter(|p| p.len() >= 2)
        .map(|p| [p[0], p[1]])
        .collect()
}

/// A `(name, value)` pair for [`FigureOutput::numbers`].
pub(crate) fn num(name: impl Into<String>, value: f64) -> (String, f64) {
    (name.into(), value)
}

/// Writes `plot` as a PNG of `size` to `path`.
pub(crate) fn write<P: Plot>(plot: &P, path: &Path, size: (u32, u32)) -> Result<()> {
    crate::plot::save(plot, path, size)
}
