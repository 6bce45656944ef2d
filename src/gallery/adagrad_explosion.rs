//! Figure 7: the chapter's AdaGrad (`adagrad-book`: σ is the root mean square of all past
//! gradients, with no decay of η) on the long narrow valley. Near the optimum the gradients along
//! the steep direction become tiny, σ shrinks with them, and η/σ grows until the iterate is
//! thrown out of the valley: the loss spikes. A decaying rate (`inverse-time`) or a warm-up
//! followed by cosine decay (`warmup-cosine`) keeps it calm.

use super::{num, path_2d, write, AnyPlot, FigureOutput, WIDE_SIZE};
use crate::error::Result;
use crate::objective::Loss;
use crate::optim::{optimizer_by_name, Hyper, Runner, Schedule, Trajectory};
use crate::plot::{Levels, LinePlot, Panels, PlotBox, Series, SurfacePlot, ValueScale};
use std::path::Path;

/// The start `(b, w)`, as figure 6.
pub const START: [f64; 2] = [-120.0, -4.0];
/// The base learning rate.
pub const LR: f64 = 2.0;
/// Steps of every run.
pub const STEPS: usize = 3000;
/// The schedules: (label, spec).
pub const SCHEDULES: [(&str, &str); 3] = [
    ("no schedule", "constant"),
    ("decay: inverse-time:0.01", "inverse-time:0.01"),
    ("warmup-cosine:200:3000", "warmup-cosine:200:3000"),
];
/// A spike: the excess loss `L − L*` jumps above this factor times its lowest value so far.
pub const SPIKE_FACTOR: f64 = 100.0;

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// One run per entry of [`SCHEDULES`].
    pub runs: Vec<Trajectory>,
    /// The loss at the least-squares optimum, `L*`.
    pub optimum_loss: f64,
    /// Per run, the first spike's step (see [`first_spike`]).
    pub first_spikes: Vec<Option<usize>>,
}

/// The first step `k` where the excess `values[k] − floor` is above [`SPIKE_FACTOR`] times the
/// lowest excess before it and above 1 (a jump of two orders of magnitude in the loss).
pub fn first_spike(values: &[f64], floor: f64) -> Option<usize> {
    let mut lowest = f64::INFINITY;
    for (k, v) in values.iter().enumerate() {
        let ex = v - floor;
        if k > 0 && ex > SPIKE_FACTOR * lowest && ex > 1.0 {
            return Some(k);
        }
        lowest = lowest.min(ex);
    }
    None
}

/// Runs `adagrad-book` with schedule `spec` on the valley.
///
/// # Errors
/// A bad spec or run errors.
pub fn run(spec: &str) -> Result<Trajectory> {
    let f = crate::surfaces::by_name("valley")?.formula();
    let mut opt = optimizer_by_name("adagrad-book", &Hyper::default())?;
    Runner::new(Schedule::parse(spec, LR)?, STEPS).run(&f, opt.as_mut(), &START)
}

/// Runs the three schedules.
///
/// # Errors
/// Run errors.
pub fn compute() -> Result<Data> {
    let s = crate::surfaces::by_name("valley")?;
    let optimum_loss = s.formula().loss(&s.critical_points[0].point)?;
    let runs = SCHEDULES
        .iter()
        .map(|(_, spec)| run(spec))
        .collect::<Result<Vec<_>>>()?;
    let first_spikes = runs
        .iter()
        .map(|r| first_spike(&r.values, optimum_loss))
        .collect();
    Ok(Data {
        runs,
        optimum_loss,
        first_spikes,
    })
}

/// Left: the excess loss per step (log scale); right: the paths on the valley.
///
/// # Errors
/// Plotting errors.
pub fn plot(data: &Data) -> Result<Panels<AnyPlot>> {
    let series = SCHEDULES
        .iter()
        .zip(&data.runs)
        .map(|((label, _), r)| {
            Series::new(
                *label,
                r.values
                    .iter()
                    .enumerate()
                    .map(|(k, v)| [k as f64, (v - data.optimum_loss).max(1e-6)])
                    .collect(),
            )
        })
        .collect();
    let lines = LinePlot::new(series)
        .with_title("adagrad-book (η = 2): excess loss per step")
        .with_axis_labels("step", "L − L* (log)")
        .with_log_y(true);
    let f = crate::surfaces::by_name("valley")?.formula();
    let mut surf = SurfacePlot::from_loss(&f, PlotBox::new(-200.0, -100.0, -5.0, 15.0)?, 160)?
        .with_title("paths on the valley")
        .with_scale(ValueScale::Log)
        .with_levels(Levels::Log(12))
        .with_value_label("L (log colours)");
    for ((label, _), r) in SCHEDULES.iter().zip(&data.runs) {
        surf = surf.with_trajectory(*label, path_2d(&r.path));
    }
    Ok(
        Panels::new(vec![AnyPlot::Line(lines), AnyPlot::Surface(surf)])?
            .with_title("The chapter's AdaGrad explodes without a schedule"),
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
    let mut parts = Vec::new();
    for (((label, spec), r), spike) in SCHEDULES.iter().zip(&data.runs).zip(&data.first_spikes) {
        let key = spec.split(':').next().unwrap_or(spec);
        numbers.push(num(
            format!("{key}_first_spike_step"),
            spike.map_or(f64::NAN, |k| k as f64),
        ));
        let excess = r.values.last().copied().unwrap_or(f64::NAN) - data.optimum_loss;
        numbers.push(num(format!("{key}_final_excess_loss"), excess));
        parts.push(format!(
            "{label}: {}, final L - L* = {excess:.3}",
            spike.map_or("no spike".to_string(), |k| format!(
                "first spike at step {k}"
            ))
        ));
    }
    Ok(FigureOutput {
        caption: format!(
            "adagrad-book with eta = {LR} on the valley for {STEPS} steps (a spike: L - L* jumps \
             {SPIKE_FACTOR}x above its lowest value so far): {}",
            parts.join("; ")
        ),
        numbers,
    })
}
