//! Figure 10: feature normalization. A two-feature linear regression (MSE, no bias) whose
//! features have scales 1 and 10 has an elongated error surface (Hessian `(2/N) XᵀX` with a large
//! condition number); after z-scoring the inputs the contours are nearly circles. Gradient
//! descent with `η = 1/λmax` on each shows the difference.

use super::{num, path_2d, write, AnyPlot, FigureOutput, WIDE_SIZE};
use crate::curvature::{symmetric_eigenvalues, EigenBackend};
use crate::error::Result;
use crate::objective::Hessian;
use crate::optim::{Runner, Schedule, Sgd, Trajectory};
use crate::plot::{Levels, Panels, PlotBox, SurfacePlot};
use crate::problems::LinearRegression;
use std::path::Path;

/// Samples.
pub const N: usize = 50;
/// Feature scales.
pub const SCALES: [f64; 2] = [1.0, 10.0];
/// True weights.
pub const TRUE_W: [f64; 2] = [3.0, 0.3];
/// Data seed.
pub const SEED: u64 = 7;
/// Start of both runs.
pub const START: [f64; 2] = [-1.0, -1.0];
/// Steps of both runs.
pub const STEPS: usize = 50;

/// One side of the figure.
#[derive(Debug, Clone)]
pub struct Side {
    /// The data.
    pub data: LinearRegression,
    /// `λmax / λmin` of the exact Hessian `(2/N) XᵀX`.
    pub condition_number: f64,
    /// The rate used, `1/λmax`.
    pub lr: f64,
    /// Gradient descent from [`START`].
    pub run: Trajectory,
}

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// Raw features.
    pub raw: Side,
    /// Z-scored features.
    pub normalized: Side,
}

/// The raw data set.
///
/// # Errors
/// None in practice.
pub fn raw_data() -> Result<LinearRegression> {
    LinearRegression::gaussian(N, &SCALES, &TRUE_W, 0.5, SEED)
}

fn side(data: LinearRegression) -> Result<Side> {
    let h = data.hessian(&[0.0, 0.0])?;
    let eigenvalues = symmetric_eigenvalues(&h, EigenBackend::Faer)?;
    let lmax = eigenvalues.last().copied().unwrap_or(0.0);
    let lr = 1.0 / lmax;
    let run = Runner::new(Schedule::constant(lr)?, STEPS).run(&data, &mut Sgd::new(), &START)?;
    Ok(Side {
        condition_number: condition_number(&eigenvalues),
        lr,
        run,
        data,
    })
}

/// Builds both data sets, their condition numbers and runs.
///
/// # Errors
/// Data or run errors.
pub fn compute() -> Result<Data> {
    let raw = raw_data()?;
    let z = raw.z_scored()?;
    Ok(Data {
        raw: side(raw)?,
        normalized: side(z)?,
    })
}

fn panel(s: &Side, title: &str) -> Result<SurfacePlot> {
    let opt = s.data.optimum()?;
    let half = 4.5;
    let bx = PlotBox::new(opt[0] - half, opt[0] + half, opt[1] - half, opt[1] + half)?;
    Ok(SurfacePlot::from_loss(&s.data, bx, 160)?
        .with_title(format!(
            "{title}: condition number {:.1}",
            s.condition_number
        ))
        .with_levels(Levels::Quantiles(14))
        .with_value_label("MSE")
        .with_trajectory(
            format!("GD η = 1/λmax = {:.3}, {STEPS} steps", s.lr),
            path_2d(&s.run.path),
        ))
}

/// The two surfaces (equal axis ranges on each) with the paths.
///
/// # Errors
/// Plotting errors.
pub fn plot(data: &Data) -> Result<Panels<AnyPlot>> {
    Ok(Panels::new(vec![
        AnyPlot::Surface(panel(&data.raw, "raw features (scales 1 and 10)")?),
        AnyPlot::Surface(panel(&data.normalized, "z-scored features")?),
    ])?
    .with_title("Feature normalization: the same regression before and after z-scoring"))
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Data, run, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d)?, path, WIDE_SIZE)?;
    let lr_end = |s: &Side| s.run.values.last().copied().unwrap_or(f64::NAN);
    let lr_min = |s: &Side| -> Result<f64> {
        use crate::objective::Loss;
        s.data.loss(&s.data.optimum()?)
    };
    let (raw_gap, z_gap) = (
        lr_end(&d.raw) - lr_min(&d.raw)?,
        lr_end(&d.normalized) - lr_min(&d.normalized)?,
    );
    Ok(FigureOutput {
        caption: format!(
            "{N} seeded samples, features of scale 1 and 10: the Hessian (2/N) X^T X has condition \
             number {:.1} on the raw inputs and {:.3} after z-scoring; {STEPS} GD steps with eta = \
             1/lambda_max leave a loss gap of {raw_gap:.3} on the raw surface and {z_gap:.2e} on \
             the normalized one",
            d.raw.condition_number, d.normalized.condition_number
        ),
        numbers: vec![
            num("condition_raw", d.raw.condition_number),
            num("condition_zscored", d.normalized.condition_number),
            num("gd_gap_raw", raw_gap),
            num("gd_gap_zscored", z_gap),
        ],
    })
}

/// The condition number `λmax/λmin` from ascending eigenvalues (infinite when `λmin ≤ 0` or
/// there are none).
pub fn condition_number(ascending: &[f64]) -> f64 {
    match (ascending.first(), ascending.last()) {
        (Some(&min), Some(&max)) if min > 0.0 => max / min,
        _ => f64::INFINITY,
    }
}
