//! Figure 4: batch size. Left: full batch, mini-batches of 5 and batch size 1 on the same
//! two-parameter linear regression (20 seeded points), the same number of epochs, over the loss
//! contours: full batch moves smoothly with few updates, batch size 1 is noisy with many.
//! Right: seconds per epoch against batch size, measured on this machine.

use super::{num, path_2d, write, AnyPlot, FigureOutput, WIDE_SIZE};
use crate::error::Result;
use crate::optim::{BatchSize, MiniBatchRun, MiniBatchRunner, Schedule, Sgd};
use crate::plot::{Levels, LinePlot, Panels, PlotBox, Series, SurfacePlot};
use crate::problems::LinearRegression;
use std::path::Path;
use std::time::Instant;

/// Samples of the drawn regression.
pub const N: usize = 20;
/// Epochs of every run.
pub const EPOCHS: usize = 20;
/// The learning rate.
pub const LR: f64 = 0.2;
/// The start `(w, b)`.
pub const START: [f64; 2] = [-2.0, -2.0];
/// The drawn batch sizes (`N` = full batch).
pub const BATCHES: [usize; 3] = [N, 5, 1];
/// Shuffling seed.
pub const SEED: u64 = 1;
/// The timed workload: samples and features.
pub const TIMED: (usize, usize) = (20_000, 8);
/// The timed batch sizes.
pub const TIMED_BATCHES: [usize; 6] = [1, 10, 100, 1000, 10_000, 20_000];

/// One-epoch runs per timed batch size (the best is kept).
pub const REPEATS: usize = 9;

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// The 20-point regression.
    pub data: LinearRegression,
    /// One run per entry of [`BATCHES`].
    pub runs: Vec<MiniBatchRun>,
    /// Seconds per epoch for each of [`TIMED_BATCHES`] (best of [`REPEATS`]).
    pub seconds_per_epoch: Vec<f64>,
}

/// The 20-point data set: `y = 2x + 1 + noise`, `x` uniform in `[−1, 1]`.
///
/// # Errors
/// None in practice.
pub fn data() -> Result<LinearRegression> {
    LinearRegression::uniform_1d(N, -1.0, 1.0, 2.0, 1.0, 0.5, 3)
}

/// One SGD run with batch size `b` on `data`.
///
/// # Errors
/// Run errors.
pub fn run(data: &LinearRegression, b: usize) -> Result<MiniBatchRun> {
    MiniBatchRunner::new(Schedule::constant(LR)?, BatchSize::Fixed(b), EPOCHS)?
        .with_seed(SEED)
        .run(data, &mut Sgd::new(), &START)
}

/// Seconds per epoch of plain SGD on a `TIMED.0 × TIMED.1` regression with batch size `b`
/// (best of [`REPEATS`] one-epoch runs, so that preemption by other processes is
/// filtered out; the path is not recorded).
///
/// # Errors
/// Run errors.
pub fn time_epoch(big: &LinearRegression, b: usize) -> Result<f64> {
    let runner = MiniBatchRunner::new(Schedule::constant(1e-3)?, BatchSize::Fixed(b), 1)?
        .with_record_params(false);
    let start = vec![0.0; TIMED.1];
    let mut best = f64::INFINITY;
    for _ in 0..REPEATS {
        let t = Instant::now();
        runner.run(big, &mut Sgd::new(), &start)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Runs the three batch sizes and times the epochs.
///
/// # Errors
/// Run errors.
pub fn compute() -> Result<Data> {
    let d = data()?;
    let runs = BATCHES
        .iter()
        .map(|&b| run(&d, b))
        .collect::<Result<Vec<_>>>()?;
    let big =
        LinearRegression::gaussian(TIMED.0, &vec![1.0; TIMED.1], &vec![0.1; TIMED.1], 0.1, 11)?;
    let seconds_per_epoch = TIMED_BATCHES
        .iter()
        .map(|&b| time_epoch(&big, b))
        .collect::<Result<Vec<_>>>()?;
    Ok(Data {
        data: d,
        runs,
        seconds_per_epoch,
    })
}

fn label(b: usize, r: &MiniBatchRun) -> String {
    let kind = if b >= N {
        "full batch".to_string()
    } else if b == 1 {
        "batch size 1".to_string()
    } else {
        format!("batch size {b}")
    };
    format!("{kind}: {} updates", r.updates)
}

/// Paths on the contours and the timing curve.
///
/// # Errors
/// Plotting errors.
pub fn plot(d: &Data) -> Result<Panels<AnyPlot>> {
    let mut surf = SurfacePlot::from_loss(&d.data, PlotBox::new(-3.0, 4.0, -3.0, 3.0)?, 160)?
        .with_title(format!("{N} points, {EPOCHS} epochs, η = {LR}"))
        .with_levels(Levels::Quantiles(14))
        .with_value_label("MSE");
    for (&b, r) in BATCHES.iter().zip(&d.runs) {
        surf = surf.with_trajectory(label(b, r), path_2d(&r.path));
    }
    let timing = LinePlot::new(vec![Series::new(
        format!("SGD, {} samples x {} features", TIMED.0, TIMED.1),
        TIMED_BATCHES
            .iter()
            .zip(&d.seconds_per_epoch)
            .map(|(&b, &s)| [b as f64, s])
            .collect(),
    )])
    .with_title("seconds per epoch on this machine (1 thread)")
    .with_axis_labels("batch size", "seconds per epoch")
    .with_log_x(true)
    .with_log_y(true);
    Ok(
        Panels::new(vec![AnyPlot::Surface(surf), AnyPlot::Line(timing)])?
            .with_title("Batch size: noisy small batches, cheap large epochs"),
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Run, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d)?, path, WIDE_SIZE)?;
    let mut numbers = Vec::new();
    for (&b, r) in BATCHES.iter().zip(&d.runs) {
        numbers.push(num(format!("updates_b{b}"), r.updates as f64));
    }
    for (&b, s) in TIMED_BATCHES.iter().zip(&d.seconds_per_epoch) {
        numbers.push(num(format!("sec_per_epoch_b{b}"), *s));
    }
    Ok(FigureOutput {
        caption: format!(
            "Left: SGD with eta = {LR} for {EPOCHS} epochs on y = 2x + 1 + noise ({N} points): \
             full batch makes {} smooth updates, batch 5 {} and batch 1 {} noisy ones. Right: \
             wall time of one epoch of SGD (gradient of the mean squared error plus one update \
             per batch, one thread) on a {} x {} linear regression, best of {REPEATS}, against batch size; \
             batches smaller than the data set are shuffled each epoch",
            d.runs[0].updates, d.runs[1].updates, d.runs[2].updates, TIMED.0, TIMED.1
        ),
        numbers,
    })
}
