//! Figure 9: docs/reference.md §4's comparison of softmax + mean squared error and cross-entropy on
//! three classes, label (1, 0, 0), logits (y1, y2, −1000): MSE is flat far from the answer
//! (gradient descent is stuck), cross-entropy has a slope everywhere.

use super::{num, path_2d, write, AnyPlot, FigureOutput, WIDE_SIZE};
use crate::error::Result;
use crate::expr::Formula;
use crate::objective::{gradient_vec, norm, Loss};
use crate::optim::{Runner, Schedule, Sgd, Trajectory};
use crate::plot::{Levels, Panels, PlotBox, SurfacePlot};
use std::path::Path;

/// Softmax then the squared error against (1, 0, 0), summed over the three outputs.
pub const MSE: &str = "(1 - exp(y1)/(exp(y1) + exp(y2) + exp(-1000)))^2 + (exp(y2)/(exp(y1) + exp(y2) + exp(-1000)))^2 + (exp(-1000)/(exp(y1) + exp(y2) + exp(-1000)))^2";
/// Cross-entropy of the softmax against (1, 0, 0): `ln Σ exp − y1`.
pub const CE: &str = "ln(exp(y1) + exp(y2) + exp(-1000)) - y1";
/// The start of training.
pub const START: [f64; 2] = [-6.5, 5.5];
/// Gradient-descent rate and steps on both surfaces.
pub const LR: f64 = 1.0;
/// Steps.
pub const STEPS: usize = 100;

/// Value and gradient norm of one loss at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct At {
    /// The loss.
    pub value: f64,
    /// Its gradient's norm.
    pub gradient_norm: f64,
}

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// MSE at the start and at (0, 0).
    pub mse: [At; 2],
    /// Cross-entropy at the start and at (0, 0).
    pub ce: [At; 2],
    /// Gradient descent on MSE from the start.
    pub mse_run: Trajectory,
    /// Gradient descent on cross-entropy from the start.
    pub ce_run: Trajectory,
}

fn at(f: &Formula, p: &[f64]) -> Result<At> {
    Ok(At {
        value: f.loss(p)?,
        gradient_norm: norm(&gradient_vec(f, p)?),
    })
}

/// Evaluates both losses and runs gradient descent on each.
///
/// # Errors
/// Formula or run errors.
pub fn compute() -> Result<Data> {
    let mse = Formula::parse(MSE)?;
    let ce = Formula::parse(CE)?;
    let runner = Runner::new(Schedule::constant(LR)?, STEPS);
    Ok(Data {
        mse: [at(&mse, &START)?, at(&mse, &[0.0, 0.0])?],
        ce: [at(&ce, &START)?, at(&ce, &[0.0, 0.0])?],
        mse_run: runner.run(&mse, &mut Sgd::new(), &START)?,
        ce_run: runner.run(&ce, &mut Sgd::new(), &START)?,
    })
}

/// The two surfaces side by side with the paths.
///
/// # Errors
/// Plotting errors.
pub fn plot(data: &Data) -> Result<Panels<AnyPlot>> {
    let bx = PlotBox::new(-10.0, 10.0, -10.0, 10.0)?;
    let mse = Formula::parse(MSE)?;
    let ce = Formula::parse(CE)?;
    let left = SurfacePlot::from_loss(&mse, bx, 200)?
        .with_title("softmax + mean squared error")
        .with_levels(Levels::Values(vec![
            0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 1.9, 1.99,
        ]))
        .with_value_label("MSE")
        .with_trajectory(
            format!("GD η = {LR}, {STEPS} steps (stuck)"),
            path_2d(&data.mse_run.path),
        );
    let right = SurfacePlot::from_loss(&ce, bx, 200)?
        .with_title("softmax + cross-entropy")
        .with_levels(Levels::Values(vec![
            0.1, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0,
        ]))
        .with_value_label("CE")
        .with_trajectory(
            format!("GD η = {LR}, {STEPS} steps"),
            path_2d(&data.ce_run.path),
        );
    Ok(
        Panels::new(vec![AnyPlot::Surface(left), AnyPlot::Surface(right)])?
            .with_title("3 classes, label (1, 0, 0), logits (y1, y2, −1000); start (−6.5, 5.5)"),
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Formula, run, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d)?, path, WIDE_SIZE)?;
    let (me, ce) = (d.mse_run.last(), d.ce_run.last());
    Ok(FigureOutput {
        caption: format!(
            "At the start (-6.5, 5.5) MSE = {:.6} with gradient norm {:.2e} (a plateau: {STEPS} \
             GD steps of eta {LR} end at ({:.3}, {:.3})), CE = {:.6} with gradient norm {:.3} (GD \
             ends at ({:.2}, {:.2})); at (0, 0) MSE = {} and CE = {:.6} = ln 2",
            d.mse[0].value,
            d.mse[0].gradient_norm,
            me[0],
            me[1],
            d.ce[0].value,
            d.ce[0].gradient_norm,
            ce[0],
            ce[1],
            d.mse[1].value,
            d.ce[1].value
        ),
        numbers: vec![
            num("mse_start", d.mse[0].value),
            num("mse_grad_norm_start", d.mse[0].gradient_norm),
            num("ce_start", d.ce[0].value),
            num("ce_grad_norm_start", d.ce[0].gradient_norm),
            num("mse_origin", d.mse[1].value),
            num("ce_origin", d.ce[1].value),
        ],
    })
}
