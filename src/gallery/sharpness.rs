//! Figure 14: sharpness, the largest eigenvalue `λmax` of the training-loss Hessian.
//!
//! Both panels use a 64-32-10 tanh MLP (2410 parameters, seed 0) with MSE against one-hot
//! labels on the first [`N_SAMPLES`] rows of `data/digits.csv` (standardized); MSE keeps the
//! Hessian from vanishing as the loss falls, which cross-entropy does not.
//!
//! - Left (Keskar et al. 2017): SGD at one learning rate with batch sizes 8 to the full
//!   [`N_SAMPLES`], each trained (with [`crate::nn::train()`] and a stopping observer) until the
//!   training loss reaches [`TARGET_LOSS`]; then `λmax` by Lanczos on the exact
//!   Hessian-vector products. Smaller batches end in flatter places.
//! - Right (Cohen et al. 2021): full-batch gradient descent at three learning rates, `λmax`
//!   every [`CHECK_EVERY`] steps; dashed lines at `2/η`. Sharpness rises (progressive
//!   sharpening); where it reaches `2/η` it stops rising and hovers there (the edge of
//!   stability), where it does not it keeps rising slowly.

use super::nn_common::{digits, NnPlot};
use super::{num, write, FigureOutput, WIDE_SIZE};
use crate::curvature::{Lanczos, Which};
use crate::error::{Error, Result};
use crate::nn::{
    train, Activation, BnMode, Dataset, LossKind, Mlp, NetLoss, TrainConfig, TrainSource,
};
use crate::objective::{Hvp, Loss};
use crate::optim::{
    Batching, EpochState, Executor, FullBatch, ObserverAction, OnEpoch, OnUpdate, Rates, Sgd, State,
};
use crate::plot::{LinePlot, Panels, Series};
use rayon::prelude::*;
use std::path::Path;

/// Samples: the first rows of the digits set.
pub const N_SAMPLES: usize = 512;
/// Widths of the network.
pub const SIZES: [usize; 3] = [64, 32, 10];
/// Seed of the initialization (and, offset by the epoch, of the batch shuffling).
pub const SEED: u64 = 0;
/// The SGD learning rate of the batch-size runs.
pub const BATCH_LR: f64 = 1.0;
/// The batch sizes of the left panel (the last is the full data set).
pub const BATCH_SIZES: [usize; 4] = [8, 32, 128, N_SAMPLES];
/// Every batch-size run trains until the training loss is at most this.
pub const TARGET_LOSS: f64 = 0.005;
/// The learning rates of the full-batch runs.
pub const GD_LRS: [f64; 3] = [1.25, 5.0 / 3.0, 2.0];
/// Steps of each full-batch run.
pub const GD_STEPS: usize = 1500;
/// `λmax` is measured every this many full-batch steps.
pub const CHECK_EVERY: usize = 25;
/// Relative residual tolerance of the Lanczos runs.
pub const LANCZOS_TOL: f64 = 1e-5;

/// Settings of the experiment (tests use a smaller network and shorter runs).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Widths of the network.
    pub sizes: Vec<usize>,
    /// Samples (first rows of digits).
    pub n_samples: usize,
    /// Batch sizes of the left panel.
    pub batch_sizes: Vec<usize>,
    /// SGD learning rate of the left panel.
    pub batch_lr: f64,
    /// Training-loss target of the left panel.
    pub target_loss: f64,
    /// Epoch cap of each left-panel run.
    pub max_epochs: usize,
    /// Learning rates of the right panel.
    pub gd_lrs: Vec<f64>,
    /// Steps of each right-panel run.
    pub gd_steps: usize,
    /// Steps between `λmax` measurements.
    pub check_every: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sizes: SIZES.to_vec(),
            n_samples: N_SAMPLES,
            batch_sizes: BATCH_SIZES.to_vec(),
            batch_lr: BATCH_LR,
            target_loss: TARGET_LOSS,
            max_epochs: 20_000,
            gd_lrs: GD_LRS.to_vec(),
            gd_steps: GD_STEPS,
            check_every: CHECK_EVERY,
        }
    }
}

/// One run of the left panel.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRun {
    /// Samples per step.
    pub batch_size: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Training loss at the end (at most the target unless the epoch cap was hit).
    pub loss: f64,
    /// `λmax` of the training-loss Hessian at the end.
    pub lambda_max: f64,
    /// The final parameters.
    pub params: Vec<f64>,
}

/// One run of the right panel.
#[derive(Debug, Clone, PartialEq)]
pub struct GdRun {
    /// The learning rate `η`.
    pub lr: f64,
    /// The steps at which `λmax` was measured (`0, k, 2k, …`).
    pub steps: Vec<usize>,
    /// Training loss at those steps.
    pub loss: Vec<f64>,
    /// `λmax` at those steps.
    pub lambda_max: Vec<f64>,
    /// The parameters at those steps.
    pub checkpoints: Vec<Vec<f64>>,
}

impl GdRun {
    /// The largest `λmax` measured.
    pub fn peak(&self) -> f64 {
        self.lambda_max
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Mean `λmax` over the last quarter of the measurements.
    pub fn late_mean(&self) -> f64 {
        let n = self.lambda_max.len();
        let tail = &self.lambda_max[n - (n / 4).max(1)..];
        tail.iter().sum::<f64>() / tail.len() as f64
    }
}

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// The settings used.
    pub options: Options,
    /// One run per batch size, in the order of `options.batch_sizes`.
    pub batch_runs: Vec<BatchRun>,
    /// One run per learning rate, in the order of `options.gd_lrs`.
    pub gd_runs: Vec<GdRun>,
}

/// The first `n` rows of the standardized digits set.
///
/// # Errors
/// The file is missing or has fewer than `n` rows.
pub fn data(n: usize) -> Result<Dataset> {
    let d = digits()?;
    if n == 0 || n > d.n_samples() {
        return Err(Error::invalid(
            "n_samples",
            format!("must be in 1..={}, got {n}", d.n_samples()),
        ));
    }
    let idx: Vec<usize> = (0..n).collect();
    let (x, targets) = d.select(&idx);
    Ok(Dataset { x, targets, ..d })
}

/// The freshly initialized model.
///
/// # Errors
/// Invalid widths.
pub fn model(opts: &Options) -> Result<Mlp> {
    Mlp::new(&opts.sizes, Activation::Tanh, false, SEED)
}

/// The training loss (MSE against one-hot labels) of `model`'s architecture on `data`.
///
/// # Errors
/// Data that does not fit the model.
pub fn objective(model: &Mlp, data: &Dataset) -> Result<NetLoss> {
    NetLoss::new(model, data, LossKind::Mse, BnMode::Eval)
}

/// `λmax` of the Hessian of `obj` at `params`: Lanczos (one pair, algebraically largest,
/// relative residual [`LANCZOS_TOL`], seed 0) on exact Hessian-vector products.
///
/// # Errors
/// Lanczos errors (no convergence).
pub fn lambda_max<O: Hvp + ?Sized>(obj: &O, params: &[f64]) -> Result<f64> {
    let r = Lanczos::new(1, Which::Largest)
        .with_tol(LANCZOS_TOL)?
        .with_true_residuals(false)
        .run(obj, params)?;
    r.spectrum
        .eigenvalues()
        .last()
        .copied()
        .ok_or_else(|| Error::invalid("lanczos", "returned no eigenvalue"))
}

/// SGD with batch size `b` from the initial model (epoch `e` shuffled with seed `SEED + e`),
/// until the training loss after an epoch is at most `opts.target_loss` or `opts.max_epochs`
/// epochs have run; then `λmax`.
///
/// # Errors
/// Training or Lanczos errors.
pub fn batch_run(opts: &Options, data: &Dataset, b: usize) -> Result<BatchRun> {
    let mut m = model(opts)?;
    let obj = objective(&m, data)?;
    let mut loss = obj.loss(&m.params)?;
    let mut steps = 0;
    if loss > opts.target_loss {
        let cfg = TrainConfig {
            batch_size: b,
            epochs: opts.max_epochs,
            seed: SEED,
            reseed_each_epoch: true,
            ..TrainConfig::default()
        };
        let target = opts.target_loss;
        let mut stop = OnEpoch(|e: &EpochState<'_, TrainSource<'_>>| {
            Ok(match e.evaluation {
                Some(ev) if ev.loss <= target => ObserverAction::Stop("target loss reached".into()),
                _ => ObserverAction::Continue,
            })
        });
        let rep = train(
            &mut m,
            data,
            LossKind::Mse,
            &mut Sgd::new(),
            &Rates::constant(opts.batch_lr)?,
            &cfg,
            &mut [&mut stop],
        )?
        .check_diverged()?;
        loss = rep.loss;
        steps = rep.steps;
    }
    Ok(BatchRun {
        batch_size: b,
        steps,
        loss,
        lambda_max: lambda_max(&obj, &m.params)?,
        params: m.params,
    })
}

/// Full-batch gradient descent at `lr` from the initial model for `opts.gd_steps` steps,
/// measuring `λmax` every `opts.check_every` steps (and at the last).
///
/// # Errors
/// Non-finite gradients or Lanczos errors.
pub fn gd_run(opts: &Options, data: &Dataset, lr: f64) -> Result<GdRun> {
    let m = model(opts)?;
    let obj = objective(&m, data)?;
    let every = opts.check_every.max(1);
    let mut run = GdRun {
        lr,
        steps: Vec::new(),
        loss: Vec::new(),
        lambda_max: Vec::new(),
        checkpoints: Vec::new(),
    };
    let mut measure = OnUpdate(|s: &State<'_, FullBatch<&NetLoss>>| {
        if s.update.is_multiple_of(every) || s.update == opts.gd_steps {
            run.steps.push(s.update);
            run.loss.push(obj.loss(s.params)?);
            run.lambda_max.push(lambda_max(&obj, s.params)?);
            run.checkpoints.push(s.params.to_vec());
        }
        Ok(ObserverAction::Continue)
    });
    Executor::new(Rates::constant(lr)?, Batching::Full, opts.gd_steps)
        .run(
            &mut FullBatch::new(&obj),
            &mut Sgd::new(),
            &m.params,
            &mut [&mut measure],
        )?
        .check_diverged()?;
    Ok(run)
}

/// Runs both experiments (the runs in parallel).
///
/// # Errors
/// As [`batch_run`] and [`gd_run`].
pub fn compute_with(opts: &Options) -> Result<Data> {
    let d = data(opts.n_samples)?;
    let batch_runs = opts
        .batch_sizes
        .par_iter()
        .map(|&b| batch_run(opts, &d, b))
        .collect::<Result<Vec<_>>>()?;
    let gd_runs = opts
        .gd_lrs
        .par_iter()
        .map(|&lr| gd_run(opts, &d, lr))
        .collect::<Result<Vec<_>>>()?;
    Ok(Data {
        options: opts.clone(),
        batch_runs,
        gd_runs,
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
    let o = &d.options;
    let bs = LinePlot::new(vec![Series::new(
        format!("SGD, η = {}, loss ≤ {}", o.batch_lr, o.target_loss),
        d.batch_runs
            .iter()
            .map(|r| [r.batch_size as f64, r.lambda_max])
            .collect(),
    )])
    .with_title(format!(
        "λmax after training to loss {} (batch {} = full)",
        o.target_loss, o.n_samples
    ))
    .with_axis_labels("batch size", "λmax of the training-loss Hessian")
    .with_log_x(true);
    let mut series: Vec<Series> = d
        .gd_runs
        .iter()
        .map(|r| {
            Series::new(
                format!("η = {:.3} (2/η = {:.2})", r.lr, 2.0 / r.lr),
                r.steps
                    .iter()
                    .zip(&r.lambda_max)
                    .map(|(&s, &l)| [s as f64, l])
                    .collect(),
            )
        })
        .collect();
    // The chart cycles through 10 colours: padding to index 10 gives each dashed 2/η line the
    // colour of its run.
    while series.len() < 10 {
        series.push(Series::new("", vec![]));
    }
    for r in &d.gd_runs {
        series.push(
            Series::new("", vec![[0.0, 2.0 / r.lr], [o.gd_steps as f64, 2.0 / r.lr]]).dashed(),
        );
    }
    let gd = LinePlot::new(series)
        .with_title("full-batch GD: λmax rises until it reaches 2/η (dashed), then hovers there")
        .with_axis_labels("step", "λmax of the training-loss Hessian");
    let n_params: usize = o.sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    Ok(
        Panels::new(vec![NnPlot::Line(bs), NnPlot::Line(gd)])?.with_title(format!(
            "Sharpness of a {} tanh MLP ({n_params} parameters), MSE on {} digits",
            o.sizes
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("-"),
            o.n_samples
        )),
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// As [`compute`], plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d)?, path, WIDE_SIZE)?;
    let mut numbers = Vec::new();
    let mut left = Vec::new();
    for r in &d.batch_runs {
        numbers.push(num(format!("lambda_max_b{}", r.batch_size), r.lambda_max));
        numbers.push(num(format!("steps_b{}", r.batch_size), r.steps as f64));
        left.push(format!(
            "{:.3} (batch {}, {} steps)",
            r.lambda_max, r.batch_size, r.steps
        ));
    }
    let mut right = Vec::new();
    for r in &d.gd_runs {
        numbers.push(num(format!("peak_eta{:.3}", r.lr), r.peak()));
        numbers.push(num(format!("late_mean_eta{:.3}", r.lr), r.late_mean()));
        let edge = 2.0 / r.lr;
        let verdict = if r.peak() >= 0.98 * edge {
            format!(
                "reaches 2/η and hovers at {:+.1}% of it",
                100.0 * (r.late_mean() / edge - 1.0)
            )
        } else {
            "never reaches 2/η: it levels off below".to_string()
        };
        right.push(format!(
            "η = {:.3} (2/η = {edge:.3}): start {:.3}, dip {:.3}, peak {:.3}, last quarter \
             {:.3}, {verdict}",
            r.lr,
            r.lambda_max.first().copied().unwrap_or(f64::NAN),
            r.lambda_max.iter().copied().fold(f64::INFINITY, f64::min),
            r.peak(),
            r.late_mean()
        ));
    }
    Ok(FigureOutput {
        caption: format!(
            "Left: SGD (η = {}) trained to loss {} ends with λmax = {}: smaller batches end \
             flatter. Right: full-batch GD, λmax every {} steps; after an early dip it rises \
             (progressive sharpening): {}",
            d.options.batch_lr,
            d.options.target_loss,
            left.join(", "),
            d.options.check_every,
            right.join("; ")
        ),
        numbers,
    })
}
