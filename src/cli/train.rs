//! `critpt train`: train an MLP on a data set and save it as safetensors, or train the
//! parameters of an ONNX model and write them back into a copy of it.

use super::common::{print_json, warn_default_mse_targets};
use super::hyper::HyperArgs;
use super::out::outln;
use anyhow::{bail, Result};
use critpt::graph::{load_onnx, onnx_with_params, GraphData};
use critpt::nn::{self, Activation, Dataset, LossKind, Mlp, Standardization, Task, TrainConfig};
use critpt::optim::{
    EpochState, Evaluation, Observer, ObserverAction, Optimizer, OptimizerKind, Plateau, Rates,
    Schedule, State,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `critpt train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// A CSV file (header; target last) or a generator: moons, circles, blobs, spirals, xor,
    /// sine (`moons:500` for 500 samples).
    #[arg(long)]
    pub data: String,
    /// Widths, input first and output last, e.g. 4,16,3 (required unless --init).
    #[arg(long, value_name = "W1,W2,...", value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// Start from the weights of this model file: .safetensors (nn.Sequential layout; its
    /// layers, activation and loss are used) or .onnx (any supported graph without batch norm;
    /// --out is then a .onnx file with the trained initializers).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// tanh, relu, sigmoid, identity (default tanh, or the --init file's).
    #[arg(long)]
    pub activation: Option<Activation>,
    /// cross-entropy or mse (default cross-entropy, or the --init file's).
    #[arg(long)]
    pub loss: Option<LossKind>,
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
    pub optimizer: OptimizerKind,
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
    /// Passes over the data (0 writes the initial model).
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Keep the batches in file order (no shuffling).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Clip the total gradient norm to C after each backward pass, as
    /// torch.nn.utils.clip_grad_norm_.
    #[arg(long, allow_hyphen_values = true)]
    pub clip_grad_norm: Option<f64>,
    /// ReduceLROnPlateau on the epoch's mean training loss: multiply the rate by FACTOR after
    /// more than PATIENCE epochs without a relative improvement of 1e-4 (e.g. 0.5:3).
    #[arg(long)]
    pub lr_plateau: Option<String>,
    /// Seed of the initialization, the generators and the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output model file (.safetensors; .onnx when --init is an ONNX model).
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

/// Shows the epoch, loss and accuracy on stderr (only on a terminal).
struct Progress(ProgressBar);

impl<S: ?Sized> Observer<S> for Progress {
    fn observe(&mut self, _: &State<'_, S>) -> critpt::Result<ObserverAction> {
        Ok(ObserverAction::Continue)
    }
    fn observe_epoch(&mut self, e: &EpochState<'_, S>) -> critpt::Result<ObserverAction> {
        self.0.set_position(e.epoch as u64);
        match e.evaluation {
            Some(Evaluation {
                loss,
                accuracy: Some(acc),
            }) => self
                .0
                .set_message(format!("loss {loss:.4} accuracy {acc:.3}")),
            Some(ev) => self.0.set_message(format!("loss {:.4}", ev.loss)),
            None => {}
        }
        Ok(ObserverAction::Continue)
    }
}

/// The starting model and its loss: from `--init` (checked against the other flags) or new.
fn initial_model(a: &TrainArgs) -> Result<(Mlp, LossKind, Option<Standardization>)> {
    let (activation, loss, sizes) = (a.activation, a.loss, a.layers.clone());
    let Some(path) = &a.init else {
        let Some(sizes) = sizes else {
            bail!("give --layers (e.g. 4,16,3) or --init MODEL.safetensors");
        };
        let act = activation.unwrap_or(Activation::Tanh);
        let model = Mlp::new(&sizes, act, a.batchnorm, a.seed)?;
        return Ok((model, loss.unwrap_or(LossKind::CrossEntropy), None));
    };
    let file = nn::load_model(path, activation)?;
    let model = file.model;
    let widths = |s: &[usize]| {
        s.iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some(sizes) = &sizes {
        if *sizes != model.sizes() {
            bail!(
                "--layers {} conflicts with {}, whose layers are {}",
                widths(sizes),
                path.display(),
                widths(&model.sizes())
            );
        }
    }
    if let (Some(want), Some(have)) = (activation, file.metadata.get("activation")) {
        if have.parse::<Activation>().ok() != Some(want) {
            bail!(
                "--activation {} conflicts with {}, whose activation is {have}",
                want.name(),
                path.display()
            );
        }
    }
    if a.batchnorm && !model.has_batchnorm() {
        bail!(
            "--batchnorm conflicts with {}, which has no batch norm",
            path.display()
        );
    }
    let kind = match (loss, file.loss) {
        (Some(l), Some(f)) if l != f => bail!(
            "--loss {} conflicts with {}, whose loss is {}",
            l.name(),
            path.display(),
            f.name()
        ),
        (Some(l), _) | (None, Some(l)) => l,
        (None, None) => LossKind::CrossEntropy,
    };
    Ok((model, kind, file.standardization))
}

/// The JSON of `critpt train`: the training report (loss, accuracy, per-epoch records, steps,
/// batch losses, learning rates, counts, stop) and the model and run that produced it.
#[derive(serde::Serialize)]
struct TrainJson<'a> {
    #[serde(flatten)]
    report: &'a nn::TrainReport,
    parameters: usize,
    samples: usize,
    layers: &'a [usize],
    activation: &'a str,
    loss_kind: &'a str,
    batchnorm: bool,
    optimizer: &'a str,
    lr: f64,
    seconds: f64,
    out: String,
    /// Where the data came from (spec, seed, fingerprint).
    data: Option<&'a nn::DataOrigin>,
}

/// The optimizer, its base rate, the schedule and the run's configuration from the flags.
fn training_setup(a: &TrainArgs) -> Result<(Box<dyn Optimizer>, f64, Schedule, TrainConfig)> {
    let (opt, lr) = a.hyper.build(a.optimizer, a.lr)?;
    let schedule = Schedule::parse(&a.schedule, lr)?;
    let cfg = TrainConfig {
        batch_size: a.batch_size,
        epochs: a.epochs,
        seed: a.seed,
        shuffle: !a.no_shuffle,
        reseed_each_epoch: false,
        clip_grad_norm: a.clip_grad_norm,
        plateau: a.lr_plateau.as_deref().map(Plateau::parse).transpose()?,
    };
    Ok((opt, lr, schedule, cfg))
}

impl Progress {
    /// A bar over `epochs` epochs, drawn only on a terminal.
    fn new(epochs: usize) -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(epochs as u64), target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg} [{elapsed} < {eta}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress(bar)
    }
}

/// The three lines `train` prints without `--json`: what was trained and how, the final loss
/// (and accuracy), where it was saved.
fn summary(
    a: &TrainArgs,
    what: &str,
    parameters: usize,
    samples: usize,
    report: &nn::TrainReport,
    seconds: f64,
) -> Result<()> {
    outln!(
        "trained {what} ({parameters} parameters) on {samples} samples: {} epochs, {} steps of {} in {seconds:.2} s",
        a.epochs,
        report.steps,
        a.optimizer.name()
    )?;
    match report.accuracy {
        Some(acc) => outln!("loss {:.6}   accuracy {:.4}", report.loss, acc)?,
        None => outln!("loss {:.6}", report.loss)?,
    }
    outln!("saved {}", a.out.display())?;
    Ok(())
}

/// Whether `path` names an ONNX file.
fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// The JSON of `critpt train --init MODEL.onnx`: the training report and the graph's
/// parameters, data and run.
#[derive(serde::Serialize)]
struct GraphTrainJson<'a> {
    #[serde(flatten)]
    report: &'a nn::TrainReport,
    parameters: usize,
    parameter_names: &'a [critpt::graph::ParamSpec],
    samples: usize,
    loss_kind: &'a str,
    optimizer: &'a str,
    lr: f64,
    seconds: f64,
    init: String,
    out: String,
}

/// `critpt train --init MODEL.onnx`: trains the graph's parameters and writes them back into
/// a copy of the file.
fn run_graph(a: &TrainArgs, path: &Path) -> Result<ExitCode> {
    for (given, flag) in [
        (a.layers.is_some(), "--layers"),
        (a.activation.is_some(), "--activation"),
        (a.batchnorm, "--batchnorm"),
        (a.standardize, "--standardize"),
    ] {
        if given {
            bail!(
                "{flag} does not apply to an ONNX model ({}): its graph fixes the architecture",
                path.display()
            );
        }
    }
    if !is_onnx(&a.out) {
        bail!(
            "--out must name a .onnx file when --init is an ONNX model, got {}",
            a.out.display()
        );
    }
    let graph = load_onnx(path)?;
    let kind = a.loss.unwrap_or(LossKind::CrossEntropy);
    let data = GraphData::load_for(&graph, &a.data, targets(&a.target).as_deref(), kind, a.seed)?;
    let (mut opt, lr, schedule, cfg) = training_setup(a)?;
    let mut progress = Progress::new(a.epochs);
    let start = std::time::Instant::now();
    let (params, report) = nn::train_graph(
        &graph,
        &data,
        kind,
        opt.as_mut(),
        &Rates::Schedule(schedule),
        &cfg,
        &mut [&mut progress],
    )?;
    progress.0.finish_and_clear();
    let report = report.check_diverged()?;
    let seconds = start.elapsed().as_secs_f64();
    let original = std::fs::read(path).map_err(|e| critpt::Error::io(path, e))?;
    let bytes = onnx_with_params(&original, &graph, &params)?;
    std::fs::write(&a.out, bytes).map_err(|e| critpt::Error::io(&a.out, e))?;
    if a.json {
        print_json(&serde_json::to_value(GraphTrainJson {
            report: &report,
            parameters: graph.n_params(),
            parameter_names: graph.params(),
            samples: data.n_samples(),
            loss_kind: kind.name(),
            optimizer: a.optimizer.name(),
            lr,
            seconds,
            init: path.display().to_string(),
            out: a.out.display().to_string(),
        })?)?;
    } else {
        summary(
            a,
            &path.display().to_string(),
            graph.n_params(),
            data.n_samples(),
            &report,
            seconds,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `critpt train`.
pub fn run(a: &TrainArgs) -> Result<ExitCode> {
    if let Some(path) = a.init.as_deref().filter(|p| is_onnx(p)) {
        return run_graph(a, path);
    }
    let (mut model, kind, standardization) = initial_model(a)?;
    let sizes = model.sizes();
    let task = Task::for_loss(kind, model.n_outputs());
    let (mut data, origin) = Dataset::load_for(
        &a.data,
        targets(&a.target).as_deref(),
        task,
        a.seed,
        Some(model.n_inputs()),
    )?;
    warn_default_mse_targets(kind, &a.target, &data, &origin);
    match &standardization {
        Some(_) if a.standardize => {
            bail!("--standardize conflicts with the --init file, which carries its standardization")
        }
        Some(st) => {
            if st.mean.len() != data.n_features() {
                bail!(
                    "the model's standardization has {} features, the data {}",
                    st.mean.len(),
                    data.n_features()
                );
            }
            data.apply_standardization(st);
            data.standardization = Some(st.clone());
        }
        None if a.standardize => {
            data.standardize();
        }
        None => {}
    }
    let (mut opt, lr, schedule, cfg) = training_setup(a)?;
    let mut progress = Progress::new(a.epochs);
    let start = std::time::Instant::now();
    let report = nn::train(
        &mut model,
        &data,
        kind,
        opt.as_mut(),
        &Rates::Schedule(schedule),
        &cfg,
        &mut [&mut progress],
    )?;
    progress.0.finish_and_clear();
    let report = report.check_diverged()?;
    let seconds = start.elapsed().as_secs_f64();
    let info = nn::ModelInfo {
        loss: Some(kind),
        standardization: data.standardization.clone(),
        data: Some(origin),
    };
    nn::save_model_with(&a.out, &model, &info)?;
    let activation = model.activation().map_or("identity", |a| a.name());
    if a.json {
        print_json(&serde_json::to_value(TrainJson {
            report: &report,
            parameters: model.n_params(),
            samples: data.n_samples(),
            layers: &sizes,
            activation,
            loss_kind: kind.name(),
            batchnorm: model.has_batchnorm(),
            optimizer: a.optimizer.name(),
            lr,
            seconds,
            out: a.out.display().to_string(),
            data: info.data.as_ref(),
        })?)?;
    } else {
        let widths: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
        summary(
            a,
            &widths.join("-"),
            model.n_params(),
            data.n_samples(),
            &report,
            seconds,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
