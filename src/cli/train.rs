//! `critpt train`: train an MLP on a data set and save it as safetensors.

use super::common::{print_json, warn_default_mse_targets};
use super::hyper::HyperArgs;
use super::out::outln;
use anyhow::{Context, Result};
use critpt::nn::{self, Activation, Dataset, LossKind, Mlp, Task, TrainConfig};
use critpt::optim::Schedule;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `critpt train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// A CSV file (header; target last) or a generator: moons, circles, blobs, spirals, xor,
    /// sine (`moons:500` for 500 samples).
    #[arg(long)]
    pub data: String,
    /// Widths, input first and output last, e.g. 4,16,3.
    #[arg(long)]
    pub layers: String,
    /// tanh, relu, sigmoid, identity.
    #[arg(long, default_value = "tanh")]
    pub activation: String,
    /// cross-entropy or mse.
    #[arg(long, default_value = "cross-entropy")]
    pub loss: String,
    /// BatchNorm1d after every hidden Linear (Linear-BN-activation).
    #[arg(long)]
    pub batchnorm: bool,
    /// Target column(s) of a CSV file, comma-separated (default: the last).
    #[arg(long)]
    pub target: Option<String>,
    /// z-score the features (the statistics are saved in the model file).
    #[arg(long)]
    pub standardize: bool,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, or the chapter's forms.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Base learning rate (default: the optimizer's torch default; required for sgd family).
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Learning-rate schedule, per step (see `critpt optimize --help`).
    #[arg(long, default_value = "constant")]
    pub schedule: String,
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Samples per step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Passes over the data.
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Seed of the initialization, the generators and the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output model file (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Parses `--target a,b`.
pub fn targets(t: &Option<String>) -> Option<Vec<String>> {
    t.as_ref()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
}

/// Runs `critpt train`.
pub fn run(a: &TrainArgs) -> Result<ExitCode> {
    let sizes: Vec<usize> = a
        .layers
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| {
            format!(
                "--layers: '{}' is not a comma list of widths such as 4,16,3",
                a.layers
            )
        })?;
    let activation: Activation = a.activation.parse()?;
    let kind: LossKind = a.loss.parse()?;
    critpt::limits::check_epochs(a.epochs)?;
    let model = Mlp::new(&sizes, activation, a.batchnorm, a.seed)?;
    let task = Task::for_loss(kind, model.n_outputs());
    let (mut data, origin) = Dataset::load_for(
        &a.data,
        targets(&a.target).as_deref(),
        task,
        a.seed,
        Some(model.n_inputs()),
    )?;
    warn_default_mse_targets(kind, &a.target, &data, &origin);
    if a.standardize {
        data.standardize();
    }
    let (mut opt, lr) = a.hyper.build(&a.optimizer, a.lr)?;
    let schedule = Schedule::parse(&a.schedule, lr)?;
    let cfg = TrainConfig {
        batch_size: a.batch_size,
        epochs: a.epochs,
        seed: a.seed,
    };

    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(a.epochs as u64), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg} [{elapsed} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut model = model;
    let start = std::time::Instant::now();
    let report = nn::train(
        &mut model,
        &data,
        kind,
        opt.as_mut(),
        &|k| schedule.lr(k as u64),
        &cfg,
        &mut |r, _| {
            bar.set_position(r.epoch as u64);
            match r.accuracy {
                Some(acc) => bar.set_message(format!("loss {:.4} accuracy {:.3}", r.loss, acc)),
                None => bar.set_message(format!("loss {:.4}", r.loss)),
            }
        },
    )?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let info = nn::ModelInfo {
        loss: Some(kind),
        standardization: data.standardization.clone(),
        data: Some(origin),
    };
    nn::save_model_with(&a.out, &model, &info)?;
    if a.json {
        print_json(&json!({
            "loss": report.loss,
            "accuracy": report.accuracy,
            "epochs": report.epochs,
            "steps": report.steps,
            "parameters": model.n_params(),
            "samples": data.n_samples(),
            "layers": sizes,
            "activation": activation.name(),
            "loss_kind": kind.name(),
            "batchnorm": a.batchnorm,
            "optimizer": a.optimizer,
            "lr": lr,
            "seconds": seconds,
            "out": a.out.display().to_string(),
            "data": info.data.as_ref().map(|d| json!({
                "spec": d.spec,
                "seed": d.seed,
                "fingerprint": d.fingerprint,
            })),
        }))?;
    } else {
        outln!(
            "trained {} ({} parameters) on {} samples: {} epochs, {} steps of {} in {seconds:.2} s",
            sizes
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("-"),
            model.n_params(),
            data.n_samples(),
            a.epochs,
            report.steps,
            a.optimizer
        )?;
        match report.accuracy {
            Some(acc) => outln!("loss {:.6}   accuracy {:.4}", report.loss, acc)?,
            None => outln!("loss {:.6}", report.loss)?,
        }
        outln!("saved {}", a.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
