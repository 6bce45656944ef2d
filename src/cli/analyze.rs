//! `critpt analyze`: the curvature of a trained model's loss (PyTorch or critpt weights).

use super::common::print_json;
use super::train::targets;
use anyhow::{bail, Result};
use critpt::critical::{classify_point, escape_saddle, EscapeOptions, Tolerances};
use critpt::nn::{load_model, Activation, BnMode, Dataset, LossKind, NetLoss, Task};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `critpt analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The model (.safetensors, PyTorch nn.Sequential state_dict layout).
    #[arg(long)]
    pub model: PathBuf,
    /// A CSV file or a generator name (as `critpt train`).
    #[arg(long)]
    pub data: String,
    /// The activation between layers (default: the file's metadata).
    #[arg(long)]
    pub activation: Option<String>,
    /// cross-entropy or mse (default: the file's metadata, else cross-entropy).
    #[arg(long)]
    pub loss: Option<String>,
    /// Target column(s), comma-separated (default: the last; the last k for mse).
    #[arg(long)]
    pub target: Option<String>,
    /// dense (exact Hessian, all eigenvalues) or lanczos.
    #[arg(long, default_value = "dense")]
    pub method: String,
    /// Report only the K largest eigenvalues.
    #[arg(long)]
    pub top: Option<usize>,
    /// Batch norm with running statistics (eval, default) or the data's own (train).
    #[arg(long, default_value = "eval")]
    pub batchnorm_mode: String,
    /// z-score the features with their own statistics (models saved by `critpt train
    /// --standardize` carry theirs and apply them automatically).
    #[arg(long)]
    pub standardize: bool,
    /// Take one step along the most negative curvature and report the new loss.
    #[arg(long)]
    pub escape: bool,
    /// Gradient-norm tolerance of the classification (default 1e-6).
    #[arg(long)]
    pub tol_grad: Option<f64>,
    /// Relative eigenvalue tolerance (default 1e-8).
    #[arg(long)]
    pub tol_eig: Option<f64>,
    /// Seed of generated data sets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `critpt analyze`.
pub fn run(a: &AnalyzeArgs) -> Result<ExitCode> {
    if a.method == "lanczos" {
        bail!("--method lanczos is not yet available for analyze; use --method dense");
    }
    if a.method != "dense" {
        bail!("unknown --method '{}'; known: dense, lanczos", a.method);
    }
    let activation: Option<Activation> = a.activation.as_deref().map(str::parse).transpose()?;
    let file = load_model(&a.model, activation)?;
    let model = file.model;
    let kind: LossKind = match (&a.loss, file.loss) {
        (Some(l), _) => l.parse()?,
        (None, Some(l)) => l,
        (None, None) => LossKind::CrossEntropy,
    };
    let mode: BnMode = a.batchnorm_mode.parse()?;
    let task = match kind {
        LossKind::CrossEntropy => Task::Classification {
            n_classes: Some(model.n_outputs()),
        },
        LossKind::Mse => Task::Regression {
            n_outputs: model.n_outputs(),
        },
    };
    let mut data = Dataset::load(&a.data, targets(&a.target).as_deref(), task, a.seed)?;
    if a.standardize {
        data.standardize();
    } else if let Some(st) = &file.standardization {
        if st.mean.len() != data.n_features() {
            bail!(
                "the model's standardization has {} features, the data {}",
                st.mean.len(),
                data.n_features()
            );
        }
        data.apply_standardization(st);
    }
    let obj = NetLoss::new(&model, &data, kind, mode)?;
    if model.n_params() > 20_000 {
        bail!(
            "the model has {} parameters: a dense Hessian would need {:.1} GB; use --method lanczos",
            model.n_params(),
            (model.n_params() as f64).powi(2) * 8e-9
        );
    }
    let mut tol = Tolerances::dual();
    if let Some(g) = a.tol_grad {
        tol = tol.with_grad(g)?;
    }
    if let Some(e) = a.tol_eig {
        tol = tol.with_eig(e)?;
    }
    let start = std::time::Instant::now();
    let cp = classify_point(&obj, &model.params, &tol)?;
    let seconds = start.elapsed().as_secs_f64();
    let ev = &cp.spectrum.eigenvalues;
    let trace: f64 = ev.iter().sum();
    let reported: &[f64] = match a.top {
        Some(k) => &ev[ev.len().saturating_sub(k)..],
        None => ev,
    };
    let accuracy = match data.labels() {
        Some(l) if kind.is_classification() => Some(model.accuracy(&data.x, l, mode)?),
        _ => None,
    };
    let escape = if a.escape {
        match escape_saddle(&obj, &model.params, &tol, &EscapeOptions::default()) {
            Ok(e) => Some(json!({
                "eigenvalue": e.eigenvalue,
                "step": e.step,
                "loss_before": e.value_before,
                "loss_after": e.value_after,
                "predicted_change": e.predicted_change,
            })),
            Err(e) => {
                eprintln!("warning: no escape step: {e}");
                None
            }
        }
    } else {
        None
    };
    if a.json {
        let mut v = json!({
            "parameters": model.n_params(),
            "samples": data.n_samples(),
            "loss": cp.value,
            "accuracy": accuracy,
            "gradient_norm": cp.gradient_norm,
            "eigenvalues": reported,
            "lambda_min": ev.first(),
            "lambda_max": ev.last(),
            "kind": cp.kind,
            "index": cp.index,
            "minimum_ratio": cp.minimum_ratio,
            "trace": trace,
            "method": a.method,
            "loss_kind": kind.name(),
            "batchnorm_mode": mode.name(),
            "seconds": seconds,
        });
        if a.escape {
            v["escape"] = escape.unwrap_or(serde_json::Value::Null);
        }
        print_json(&v)?;
    } else {
        println!(
            "model {} ({} parameters, {}), {} samples, loss {}, batch norm {}",
            a.model.display(),
            model.n_params(),
            model
                .sizes()
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("-"),
            data.n_samples(),
            kind.name(),
            mode.name()
        );
        println!("loss           {:.10}", cp.value);
        if let Some(acc) = accuracy {
            println!("accuracy       {acc:.4}");
        }
        println!("gradient norm  {:.3e}", cp.gradient_norm);
        println!(
            "eigenvalues    min {:.6e}  max {:.6e}  trace {:.6e}",
            ev.first().copied().unwrap_or(0.0),
            ev.last().copied().unwrap_or(0.0),
            trace
        );
        let top: Vec<String> = ev
            .iter()
            .rev()
            .take(10)
            .map(|l| format!("{l:.4e}"))
            .collect();
        println!("largest        {}", top.join(", "));
        println!(
            "kind {}   index {}   minimum ratio {:.4}   ({seconds:.2} s, dense)",
            cp.kind, cp.index, cp.minimum_ratio
        );
        if let Some(e) = escape {
            println!(
                "escape: along λ = {} by {}: loss {} -> {}",
                e["eigenvalue"], e["step"], e["loss_before"], e["loss_after"]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
