//! Figure 5: a tilted double well `x⁴ − 2x² + 0.5x + y²`: gradient descent from `(2, 1)` stops in
//! the shallow local minimum near `x ≈ 0.93`; the chapter's momentum (`momentum-book`, λ = 0.9)
//! from the same start and with the same rate rolls over the barrier into the deeper minimum near
//! `x ≈ −1.06`.

use super::{num, path_2d, write, FigureOutput, SIZE};
use crate::error::Result;
use crate::expr::Formula;
use crate::optim::{optimizer_by_name, Hyper, Runner, Schedule, Trajectory};
use crate::plot::{Levels, PlotBox, SurfacePlot, ValueScale};
use std::path::Path;

/// The surface.
pub const FORMULA: &str = "x^4 - 2*x^2 + 0.5*x + y^2";
/// The start.
pub const START: [f64; 2] = [2.0, 1.0];
/// The learning rate of both runs.
pub const LR: f64 = 0.01;
/// Steps of both runs.
pub const STEPS: usize = 300;
/// The momentum coefficient λ of `momentum-book`.
pub const LAMBDA: f64 = 0.9;

/// The figure's data: the two runs.
#[derive(Debug, Clone)]
pub struct Data {
    /// Plain gradient descent (`sgd`).
    pub gd: Trajectory,
    /// `momentum-book` with λ = [`LAMBDA`].
    pub momentum: Trajectory,
}

/// Runs one optimizer on the surface from [`START`].
///
/// # Errors
/// Unknown optimizer names or run errors.
pub fn run(name: &str, hyper: &Hyper) -> Result<Trajectory> {
    let f = Formula::parse(FORMULA)?;
    let mut opt = optimizer_by_name(name, hyper)?;
    Runner::new(Schedule::constant(LR)?, STEPS).run(&f, opt.as_mut(), &START)
}

/// Runs gradient descent and momentum.
///
/// # Errors
/// Run errors.
pub fn compute() -> Result<Data> {
    let hyper = Hyper {
        momentum: Some(LAMBDA),
        ..Hyper::default()
    };
    Ok(Data {
        gd: run("sgd", &Hyper::default())?,
        momentum: run("momentum-book", &hyper)?,
    })
}

/// The surface with both paths.
///
/// # Errors
/// Plotting errors.
pub fn plot(data: &Data) -> Result<SurfacePlot> {
    let f = Formula::parse(FORMULA)?;
    Ok(
        SurfacePlot::from_loss(&f, PlotBox::new(-2.0, 2.5, -1.5, 1.5)?, 200)?
            .with_title("x⁴ − 2x² + 0.5x + y²: GD stops in the local minimum, momentum rolls on")
            .with_levels(Levels::Values(vec![
                -1.4, -1.2, -1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0,
            ]))
            .with_scale(ValueScale::Log)
            .with_value_label("L (log colours)")
            .with_trajectory(
                format!("gradient descent (η = {LR})"),
                path_2d(&data.gd.path),
            )
            .with_trajectory(
                format!("momentum-book (η = {LR}, λ = {LAMBDA})"),
                path_2d(&data.momentum.path),
            ),
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Run, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let data = compute()?;
    write(&plot(&data)?, path, SIZE)?;
    let (g, m) = (data.gd.last(), data.momentum.last());
    let (lg, lm) = (
        *data.gd.values.last().unwrap_or(&f64::NAN),
        *data.momentum.values.last().unwrap_or(&f64::NAN),
    );
    Ok(FigureOutput {
        caption: format!(
            "From (2, 1) with η = {LR} for {STEPS} steps, gradient descent ends in the shallow \
             local minimum ({:.3}, {:.3}) with L = {lg:.4}; momentum-book (λ = {LAMBDA}) carries \
             its speed over the barrier to ({:.3}, {:.3}) with L = {lm:.4}",
            g[0], g[1], m[0], m[1]
        ),
        numbers: vec![
            num("gd_final_loss", lg),
            num("gd_final_x", g[0]),
            num("momentum_final_loss", lm),
            num("momentum_final_x", m[0]),
        ],
    })
}
