//! Figure 11: batch normalization. A 64-32-10 tanh MLP with `BatchNorm1d(32)` after its first
//! `Linear` is trained on `data/digits.csv` (raw pixels `0..=16`, not standardized) with Adam and mini-batches of
//! [`BATCH`]. Left: the running mean and running variance of a few channels of the batch-norm
//! layer against the training step, converging to the statistics of that layer's input over the
//! whole data set at the final parameters (dashed). Right: the gap between train-mode outputs
//! (statistics of the batch itself) and eval-mode outputs (running statistics) for the same
//! samples: for a full-data batch it shrinks as the running statistics converge; for a
//! mini-batch it stays at the level of the batch's own sampling noise.
//!
//! The training loop is the [`Executor`] over a [`TrainSource`], as in [`crate::nn::train()`]
//! (shuffled batches, a train-mode gradient, the running statistics updated before the step),
//! with an observer that records every step.

use super::nn_common::NnPlot;
use super::{num, write, FigureOutput, WIDE_SIZE};
use crate::error::{Error, Result};
use crate::nn::{Activation, BnMode, Dataset, Layer, LossKind, Mlp, NetLoss, TrainSource};
use crate::objective::Loss;
use crate::optim::{Adam, Batching, Executor, Observer, ObserverAction, Rates, State};
use crate::plot::{LinePlot, Panels, Series};
use nalgebra::DMatrix;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::Path;

/// Widths of the network (batch norm after the first `Linear`).
pub const SIZES: [usize; 3] = [64, 32, 10];
/// Samples per training step.
pub const BATCH: usize = 32;
/// Passes over the data.
pub const EPOCHS: usize = 8;
/// Adam's initial learning rate; it decays linearly to [`LR_END_FRACTION`] of this value.
pub const LR: f64 = 0.01;
/// The learning rate of the last step, as a fraction of [`LR`].
pub const LR_END_FRACTION: f64 = 0.02;

/// Settings of the training run (tests use fewer epochs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Samples per step.
    pub batch: usize,
    /// Passes over the data.
    pub epochs: usize,
    /// Adam's initial learning rate.
    pub lr: f64,
    /// The last step's learning rate as a fraction of `lr` (linear decay).
    pub lr_end_fraction: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch: BATCH,
            epochs: EPOCHS,
            lr: LR,
            lr_end_fraction: LR_END_FRACTION,
        }
    }
}
/// Seed of the initialization, the batch shuffling and the probe batch.
pub const SEED: u64 = 0;
/// The drawn batch-norm channels.
pub const CHANNELS: [usize; 3] = [2, 12, 26];

/// One training step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The sample indices of the step's batch.
    pub batch: Vec<usize>,
    /// Mean of the batch-norm layer's input over the batch (per channel).
    pub batch_mean: Vec<f64>,
    /// Biased variance of that input over the batch (per channel).
    pub batch_var: Vec<f64>,
    /// The layer's running mean after this batch was tracked.
    pub running_mean: Vec<f64>,
    /// The layer's running (unbiased) variance after this batch was tracked.
    pub running_var: Vec<f64>,
    /// [`mode_gap`] on the probe mini-batch after the step: train-mode against eval-mode
    /// outputs, relative to the eval-mode outputs.
    pub gap_batch: f64,
    /// [`mode_gap`] on the whole data set (one batch of all samples) after the step.
    pub gap_full: f64,
}

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// The trained model (its batch-norm layer holds the final running statistics).
    pub model: Mlp,
    /// Index of the batch-norm layer in `model.layers`.
    pub bn_layer: usize,
    /// One record per step, in order.
    pub steps: Vec<StepRecord>,
    /// The fixed probe mini-batch (one batch of sample indices).
    pub probe: Vec<usize>,
    /// Mean of the batch-norm input over the whole data set at the final parameters.
    pub population_mean: Vec<f64>,
    /// Unbiased variance of the batch-norm input over the whole data set at the final
    /// parameters.
    pub population_var: Vec<f64>,
    /// Samples in the data set.
    pub n_samples: usize,
    /// Final loss over the data set (eval mode).
    pub loss: f64,
    /// Final accuracy (eval mode).
    pub accuracy: f64,
}

impl Data {
    /// Largest `|running mean − population mean| / √(population var)` over all channels at
    /// the end.
    pub fn final_mean_error(&self) -> f64 {
        let Some(last) = self.steps.last() else {
            return f64::NAN;
        };
        last.running_mean
            .iter()
            .zip(&self.population_mean)
            .zip(&self.population_var)
            .map(|((r, m), v)| (r - m).abs() / v.sqrt())
            .fold(0.0, f64::max)
    }

    /// Largest `|running var / population var − 1|` over all channels at the end.
    pub fn final_var_error(&self) -> f64 {
        let Some(last) = self.steps.last() else {
            return f64::NAN;
        };
        last.running_var
            .iter()
            .zip(&self.population_var)
            .map(|(r, v)| (r / v - 1.0).abs())
            .fold(0.0, f64::max)
    }
}

/// The learning rate of step `k` of `total`: linear decay from `opts.lr` to
/// `opts.lr_end_fraction · opts.lr`.
pub fn learning_rate(opts: &Options, k: usize, total: usize) -> f64 {
    let t = if total > 1 {
        k as f64 / (total - 1) as f64
    } else {
        0.0
    };
    opts.lr * (1.0 - (1.0 - opts.lr_end_fraction) * t)
}

/// The input of layer `layer` of `model` for the rows of `x`: the outputs of the layers before
/// it (which must hold no batch norm, so the mode does not matter).
///
/// # Errors
/// A layer index out of range, a batch norm before `layer`, or a wrong input width.
pub fn layer_input(model: &Mlp, layer: usize, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    if layer == 0 {
        return Ok(x.clone());
    }
    if layer >= model.layers.len() {
        return Err(Error::invalid(
            "layer",
            format!(
                "index {layer} is out of range for {} layers",
                model.layers.len()
            ),
        ));
    }
    let prefix = Mlp::from_parts(
        model.layers[..layer].to_vec(),
        model.params[..model.offsets()[layer]].to_vec(),
    )?;
    if prefix.has_batchnorm() {
        return Err(Error::invalid(
            "layer",
            format!("layer {layer} has a batch norm before it"),
        ));
    }
    prefix.forward(x, BnMode::Eval)
}

/// Column means and biased variances of `h`.
pub fn column_stats(h: &DMatrix<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = h.nrows() as f64;
    h.column_iter()
        .map(|c| {
            let m = c.sum() / n;
            (m, c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n)
        })
        .unzip()
}

/// Root mean square of the entries of `a − b`.
fn rms_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    ((a - b).norm_squared() / a.len().max(1) as f64).sqrt()
}

/// Train-mode against eval-mode outputs of `model` on the rows of `x`: the RMS of their
/// difference relative to the RMS of the eval-mode outputs.
///
/// # Errors
/// A wrong input width, or fewer than two rows.
pub fn mode_gap(model: &Mlp, x: &DMatrix<f64>) -> Result<f64> {
    let eval = model.forward(x, BnMode::Eval)?;
    let zero = DMatrix::zeros(eval.nrows(), eval.ncols());
    Ok(rms_diff(&model.forward(x, BnMode::Train)?, &eval) / rms_diff(&eval, &zero))
}

/// The running statistics of batch-norm layer `layer` of `model`.
fn running(model: &Mlp, layer: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    match model.layers.get(layer) {
        Some(Layer::BatchNorm { state, .. }) => {
            Ok((state.running_mean.clone(), state.running_var.clone()))
        }
        _ => Err(Error::invalid(
            "layer",
            format!("layer {layer} is not a batch norm"),
        )),
    }
}

/// `data/digits.csv` with its raw pixel values `0..=16`, **not** standardized: the batch-norm
/// layer's input then has means of about ±10 and variances of 20 to 65, far from the initial
/// running statistics `(0, 1)`.
///
/// # Errors
/// The file is missing or malformed.
pub fn raw_digits() -> Result<Dataset> {
    super::digits_dataset()
}

/// Records every step of the figure's run: the batch-norm input's statistics over the batch at
/// the parameters the step started from, the running statistics after it, and the gaps.
struct StepRecorder<'a> {
    bn_layer: usize,
    x_probe: &'a DMatrix<f64>,
    previous: Vec<f64>,
    steps: Vec<StepRecord>,
}

impl Observer<TrainSource<'_>> for StepRecorder<'_> {
    fn observe(&mut self, s: &State<'_, TrainSource<'_>>) -> Result<ObserverAction> {
        if s.update > 0 {
            let (xb, _) = s.source.data().select(s.batch);
            let before = s.source.model_at(&self.previous);
            let (batch_mean, batch_var) = column_stats(&layer_input(&before, self.bn_layer, &xb)?);
            let after = s.source.model_at(s.params);
            let (running_mean, running_var) = running(&after, self.bn_layer)?;
            self.steps.push(StepRecord {
                batch: s.batch.to_vec(),
                batch_mean,
                batch_var,
                running_mean,
                running_var,
                gap_batch: mode_gap(&after, self.x_probe)?,
                gap_full: mode_gap(&after, &s.source.data().x)?,
            });
        }
        self.previous.clear();
        self.previous.extend_from_slice(s.params);
        Ok(ObserverAction::Continue)
    }
}

/// Trains the model with `opts` and records every step.
///
/// # Errors
/// Data, training or forward-pass errors.
pub fn compute_with(opts: &Options) -> Result<Data> {
    let (batch_size, epochs) = (opts.batch, opts.epochs);
    let data = raw_digits()?;
    let kind = LossKind::CrossEntropy;
    let model = Mlp::new(&SIZES, Activation::Tanh, true, SEED)?;
    let bn_layer = model
        .layers
        .iter()
        .position(|l| matches!(l, Layer::BatchNorm { .. }))
        .ok_or_else(|| Error::invalid("model", "has no batch-norm layer"))?;
    let n = data.n_samples();
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut probe: Vec<usize> = (0..n).collect();
    probe.shuffle(&mut rng);
    probe.truncate(batch_size);
    let (x_probe, _) = data.select(&probe);
    let total = epochs * n.div_ceil(batch_size);
    let o = *opts;
    let rates = Rates::custom(move |k| learning_rate(&o, k as usize, total));
    let mut recorder = StepRecorder {
        bn_layer,
        x_probe: &x_probe,
        previous: Vec::new(),
        steps: Vec::with_capacity(total),
    };
    let mut source = TrainSource::new(&model, &data, kind)?;
    let batching = Batching::Permuted {
        size: batch_size,
        rng: Box::new(rng),
    };
    let run = Executor::new(rates, batching, epochs)
        .run(
            &mut source,
            &mut Adam::new(),
            &model.params,
            &mut [&mut recorder],
        )?
        .check_diverged()?;
    let steps = recorder.steps;
    let model = source.model_at(&run.params);
    let (population_mean, biased) = column_stats(&layer_input(&model, bn_layer, &data.x)?);
    let corr = n as f64 / (n as f64 - 1.0);
    let population_var = biased.iter().map(|v| v * corr).collect();
    let loss = NetLoss::new(&model, &data, kind, BnMode::Eval)?.loss(&model.params)?;
    let accuracy = match data.labels() {
        Some(l) => model.accuracy(&data.x, l, BnMode::Eval)?,
        None => f64::NAN,
    };
    Ok(Data {
        model,
        bn_layer,
        steps,
        probe,
        population_mean,
        population_var,
        n_samples: n,
        loss,
        accuracy,
    })
}

/// The figure's data with the default [`Options`].
///
/// # Errors
/// As [`compute_with`].
pub fn compute() -> Result<Data> {
    compute_with(&Options::default())
}

/// The two panels.
///
/// # Errors
/// Plotting errors.
pub fn plot(d: &Data) -> Result<Panels<NnPlot>> {
    let last = d.steps.len();
    let curve = |f: &dyn Fn(&StepRecord) -> f64| -> Vec<[f64; 2]> {
        d.steps
            .iter()
            .enumerate()
            .map(|(k, s)| [(k + 1) as f64, f(s)])
            .collect()
    };
    let mut series = Vec::new();
    for &c in &CHANNELS {
        series.push(Series::new(
            format!("running mean, channel {c}"),
            curve(&|s| s.running_mean[c]),
        ));
    }
    for &c in &CHANNELS {
        series.push(Series::new(
            format!("running var, channel {c}"),
            curve(&|s| s.running_var[c]),
        ));
    }
    // The chart cycles through 10 colours: padding to index 10 gives each dashed target the
    // colour of its curve.
    while series.len() < 10 {
        series.push(Series::new("", vec![]));
    }
    // The full-data targets, means then variances, each a dashed level across the run.
    for target in [&d.population_mean, &d.population_var] {
        for &c in &CHANNELS {
            let level = vec![[1.0, target[c]], [last as f64, target[c]]];
            series.push(Series::new("", level).dashed());
        }
    }
    let stats = LinePlot::new(series)
        .with_title("running statistics → full-data statistics at the end (dashed)")
        .with_axis_labels("training step", "running mean / running variance")
        .with_log_x(true);
    let gaps = LinePlot::new(vec![
        Series::new(
            format!("one mini-batch of {} (fixed)", d.probe.len()),
            curve(&|s| s.gap_batch),
        ),
        Series::new(
            format!("whole data set ({} samples)", d.n_samples),
            curve(&|s| s.gap_full),
        ),
    ])
    .with_title("train mode (batch statistics) vs eval mode (running statistics)")
    .with_axis_labels("training step", "RMS(train − eval) / RMS(eval outputs)")
    .with_log_x(true)
    .with_log_y(true);
    Ok(Panels::new(vec![NnPlot::Line(stats), NnPlot::Line(gaps)])?.with_title(format!(
        "BatchNorm1d(32) in a 64-32-10 tanh MLP on raw digits pixels: Adam, batches of {}, momentum 0.1",
        d.probe.len()
    )))
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// As [`compute`], plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d)?, path, WIDE_SIZE)?;
    let (first, last) = match (d.steps.first(), d.steps.last()) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(Error::invalid("steps", "no training step was recorded")),
    };
    Ok(FigureOutput {
        caption: format!(
            "A 64-32-10 tanh MLP with BatchNorm1d trained on raw digits pixels ({} steps of {BATCH}, \
             accuracy {:.3}): the running statistics (momentum 0.1, unbiased variance), which start \
             at 0 and 1, end within {:.3} standard deviations (mean) and {:.1}% (variance) of \
             the full-data statistics of the layer's input at the final parameters (worst of 32 \
             channels); the relative train/eval output gap on the whole data set falls from \
             {:.3} to {:.4}, while on a mini-batch of {BATCH} it stays near {:.3} (the batch's \
             own sampling noise)",
            d.steps.len(),
            d.accuracy,
            d.final_mean_error(),
            100.0 * d.final_var_error(),
            first.gap_full,
            last.gap_full,
            last.gap_batch
        ),
        numbers: vec![
            num("steps", d.steps.len() as f64),
            num("accuracy", d.accuracy),
            num("final_mean_error_sd", d.final_mean_error()),
            num("final_var_rel_error", d.final_var_error()),
            num("gap_full_first", first.gap_full),
            num("gap_full_last", last.gap_full),
            num("gap_batch_last", last.gap_batch),
        ],
    })
}
