//! Figure 8: the learning rate against the step for every schedule of the `--schedule` grammar,
//! each divided by its own largest value so that all are readable on one axis.

use super::{num, write, FigureOutput, SIZE};
use crate::error::Result;
use crate::optim::Schedule;
use crate::plot::{LinePlot, Series};
use std::path::Path;

/// The schedules drawn, one of each kind, with base rate 1.
pub const SPECS: [&str; 8] = [
    "constant",
    "step:25:0.5",
    "exponential:0.97",
    "cosine:100",
    "linear-warmup:30",
    "warmup-cosine:10:100",
    "transformer:64:20",
    "inverse-time:0.05",
];
/// Steps drawn: `0..STEPS`.
pub const STEPS: usize = 121;

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// Per spec, the rates of steps `0..STEPS` (base rate 1, not normalized).
    pub rates: Vec<Vec<f64>>,
    /// Per spec, the largest rate (what the drawn curve is divided by).
    pub peaks: Vec<f64>,
}

/// The rates of every schedule.
///
/// # Errors
/// A spec that does not parse (a bug).
pub fn compute() -> Result<Data> {
    let mut rates = Vec::new();
    let mut peaks = Vec::new();
    for spec in SPECS {
        let r = Schedule::parse(spec, 1.0)?.rates(STEPS);
        peaks.push(r.iter().cloned().fold(0.0, f64::max));
        rates.push(r);
    }
    Ok(Data { rates, peaks })
}

/// The normalized curves.
///
/// # Errors
/// None in practice.
pub fn plot(data: &Data) -> Result<LinePlot> {
    let series = SPECS
        .iter()
        .zip(&data.rates)
        .zip(&data.peaks)
        .map(|((spec, r), peak)| {
            Series::new(
                *spec,
                r.iter()
                    .enumerate()
                    .map(|(k, v)| [k as f64, v / peak])
                    .collect(),
            )
        })
        .collect();
    Ok(LinePlot::new(series)
        .with_title("Learning-rate schedules (each divided by its peak)")
        .with_axis_labels("step k", "η(k) / max η"))
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let data = compute()?;
    write(&plot(&data)?, path, SIZE)?;
    let mut numbers = Vec::new();
    for (spec, r) in SPECS.iter().zip(&data.rates) {
        let key = spec.split(':').next().unwrap_or(spec);
        numbers.push(num(format!("{key}_lr_100"), r[100]));
    }
    Ok(FigureOutput {
        caption: format!(
            "The rate of steps 0..{} for each of the 8 schedule kinds (base rate 1, every curve \
             divided by its own peak); the numbers are the un-normalized rates at step 100",
            STEPS - 1
        ),
        numbers,
    })
}
