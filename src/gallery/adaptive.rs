//! Figure 6: the chapter's long narrow valley (docs/reference.md §3): gradient descent at η = 1e-7
//! (stalls on the valley floor) and η = 1e-6 (oscillates across the valley first, then crawls),
//! AdaGrad, RMSProp and Adam, which reach the optimum (−188.43, 2.669).

use super::{num, path_2d, write, AnyPlot, FigureOutput, WIDE_SIZE};
use crate::error::Result;
use crate::objective::Loss;
use crate::optim::{optimizer_by_name, Hyper, Runner, Schedule, Trajectory};
use crate::plot::{Levels, LinePlot, Panels, PlotBox, Series, SurfacePlot, ValueScale};
use std::path::Path;

/// The start `(b, w)`.
pub const START: [f64; 2] = [-120.0, -4.0];
/// Steps of every run (docs/reference.md §3's gradient-descent runs).
pub const STEPS: usize = 100_000;
/// The runs: (label, optimizer name, learning rate).
pub const RUNS: [(&str, &str, f64); 5] = [
    ("GD η = 1e-7", "sgd", 1e-7),
    ("GD η = 1e-6", "sgd", 1e-6),
    ("AdaGrad η = 1", "adagrad", 1.0),
    ("RMSProp η = 0.003", "rmsprop", 0.003),
    ("Adam η = 0.1", "adam", 0.1),
];

/// The figure's data: one run per entry of [`RUNS`], in order.
#[derive(Debug, Clone)]
pub struct Data {
    /// The runs.
    pub runs: Vec<Trajectory>,
}

/// Runs optimizer `name` with rate `lr` on the valley from [`START`] for [`STEPS`] steps.
///
/// # Errors
/// Unknown names or run errors.
pub fn run(name: &str, lr: f64) -> Result<Trajectory> {
    let f = crate::surfaces::by_name("valley")?.formula();
    let mut opt = optimizer_by_name(name, &Hyper::default())?;
    Runner::new(Schedule::constant(lr)?, STEPS).run(&f, opt.as_mut(), &START)
}

/// Runs all of [`RUNS`] (in parallel).
///
/// # Errors
/// Run errors.
pub fn compute() -> Result<Data> {
    use rayon::prelude::*;
    let runs = RUNS
        .par_iter()
        .map(|(_, name, lr)| run(name, *lr))
        .collect::<Result<Vec<_>>>()?;
    Ok(Data { runs })
}

/// Left: the valley (log colours) with the paths; right: the excess loss `L − L*` per step.
///
/// # Errors
/// Plotting errors.
pub fn plot(data: &Data) -> Result<Panels<AnyPlot>> {
    let s = crate::surfaces::by_name("valley")?;
    let f = s.formula();
    let optimum_loss = f.loss(&s.critical_points[0].point)?;
    let mut p = SurfacePlot::from_loss(&f, PlotBox::new(-200.0, -100.0, -5.0, 5.0)?, 200)?
        .with_title("paths from (−120, −4); optimum (−188.43, 2.669)")
        .with_scale(ValueScale::Log)
        .with_levels(Levels::Log(14))
        .with_value_label("L (log colours)");
    for ((label, _, _), r) in RUNS.iter().zip(&data.runs) {
        p = p.with_trajectory(*label, path_2d(&r.path));
    }
    let series = RUNS
        .iter()
        .zip(&data.runs)
        .map(|((label, _, _), r)| {
            Series::new(
                *label,
                r.values
                    .iter()
                    .enumerate()
                    .skip(1)
                    .map(|(k, v)| [k as f64, (v - optimum_loss).max(1e-6)])
                    .collect(),
            )
        })
        .collect();
    let lines = LinePlot::new(series)
        .with_title("excess loss L − L* per step")
        .with_axis_labels("step (log)", "L − L* (log)")
        .with_log_x(true)
        .with_log_y(true);
    Ok(
        Panels::new(vec![AnyPlot::Surface(p), AnyPlot::Line(lines)])?.with_title(
            "The long narrow valley: gradient descent stalls, adaptive rates reach the optimum",
        ),
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Run, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let data = compute()?;
    write(&plot(&data)?, path, WIDE_SIZE)?;
    let mut numbers = Vec::new();
    let mut ends = Vec::new();
    for ((label, name, lr), r) in RUNS.iter().zip(&data.runs) {
        let e = r.last();
        let key = format!("{name}_{lr:e}");
        numbers.push(num(format!("{key}_b"), e[0]));
        numbers.push(num(format!("{key}_w"), e[1]));
        ends.push(format!("{label}: ({:.2}, {:.3})", e[0], e[1]));
    }
    // Adam with a constant rate keeps jumping out of the valley floor near the optimum.
    let s = crate::surfaces::by_name("valley")?;
    let optimum_loss = s.formula().loss(&s.critical_points[0].point)?;
    let adam = &data.runs[RUNS.len() - 1];
    let late_max = adam.values[adam.values.len() * 4 / 5..]
        .iter()
        .fold(f64::NEG_INFINITY, |m, v| m.max(v - optimum_loss));
    numbers.push(num("adam_max_excess_last_20pct", late_max));
    Ok(FigureOutput {
        caption: format!(
            "{STEPS} steps from (b, w) = (-120, -4) on the valley (optimum (-188.43, 2.669)); end \
             points: {}. Adam with a constant rate reaches the optimum but keeps spiking near \
             it (largest L - L* over the last 20% of steps: {late_max:.1})",
            ends.join("; ")
        ),
        numbers,
    })
}
