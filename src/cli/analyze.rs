//! `critpt analyze`: the curvature of a trained model's loss (PyTorch or critpt weights).
//!
//! Two methods. `dense` forms the exact Hessian and all its eigenvalues. `lanczos` never forms
//! it: the `--top K` algebraically largest and K smallest eigenpairs by Lanczos with full
//! reorthogonalization on exact Hessian-vector products (memory `O(P·m)`, m Lanczos steps).
//! Without `--method`, models of more than [`DENSE_LIMIT`] parameters use `lanczos`.
//!
//! With `lanczos`, `kind` comes from the extreme eigenvalues only, each trusted to within its
//! residual `‖Hv − θv‖` (an eigenvalue lies within that distance of a Ritz value): `saddle`
//! when the smallest is surely negative and the largest surely positive, `minimum` (`maximum`)
//! when the smallest (largest) is surely positive (negative), `not_critical` when the gradient
//! is too large; otherwise (a smallest eigenvalue within the zero threshold, unconverged
//! pairs) `kind` is null and `kind_note` says why: it cannot be decided without the full
//! spectrum. `index` is exact only when one of the K smallest is non-negative (then every
//! negative eigenvalue is among them), else null with `index_at_least`; `minimum_ratio`
//! (positive / all) is null: it needs the sign of every eigenvalue. `--trace` gives Hutch++ (`--hvps` products) with its standard error
//! (the dense trace is exact); `--density` the SLQ spectral density (grid, values, moments).

use super::common::print_json;
use super::train::targets;
use anyhow::{bail, Result};
use critpt::critical::{classify_point, escape_saddle, EscapeOptions, Tolerances};
use critpt::curvature::{hutch_plus_plus, slq_density, Lanczos, Slq, Which};
use critpt::nn::curvature::DENSE_LIMIT;
use critpt::nn::{load_model, Activation, BnMode, Dataset, LossKind, NetLoss, Task};
use critpt::objective::Gradient;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `critpt analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The model: .safetensors (PyTorch nn.Sequential state_dict layout) or .onnx (any graph
    /// of the supported ops; then --data is a .safetensors file with x and y).
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
    /// dense (exact Hessian, all eigenvalues) or lanczos (extreme eigenpairs, matrix-free).
    /// Default: dense up to 3000 parameters, lanczos above.
    #[arg(long)]
    pub method: Option<String>,
    /// dense: report only the K largest eigenvalues; lanczos: the K largest and the K
    /// smallest (default 5).
    #[arg(long)]
    pub top: Option<usize>,
    /// Maximum Lanczos steps (stored vectors).
    #[arg(long, default_value_t = 500)]
    pub max_iters: usize,
    /// Relative residual tolerance of Lanczos.
    #[arg(long, default_value_t = 1e-8)]
    pub lanczos_tol: f64,
    /// Estimate the trace by Hutch++ (lanczos; dense gives it exactly).
    #[arg(long)]
    pub trace: bool,
    /// Hessian-vector products for Hutch++.
    #[arg(long, default_value_t = 99)]
    pub hvps: usize,
    /// The spectral density by stochastic Lanczos quadrature (grid and values in the JSON).
    #[arg(long)]
    pub density: bool,
    /// SLQ runs (random start vectors) averaged.
    #[arg(long, default_value_t = 10)]
    pub density_runs: usize,
    /// Lanczos steps per SLQ run.
    #[arg(long, default_value_t = 80)]
    pub density_steps: usize,
    /// Grid points of the density.
    #[arg(long, default_value_t = 500)]
    pub density_grid: usize,
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
    /// Seed of generated data sets and of every random vector (Lanczos, Hutch++, SLQ).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Where the model comes from: an ONNX graph, or an MLP in safetensors.
enum ModelSource {
    Onnx,
    Mlp,
}

impl ModelSource {
    fn of(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("onnx") => ModelSource::Onnx,
            _ => ModelSource::Mlp,
        }
    }
}

/// Runs `critpt analyze`.
pub fn run(a: &AnalyzeArgs) -> Result<ExitCode> {
    if let ModelSource::Onnx = ModelSource::of(&a.model) {
        return super::analyze_graph::run(a);
    }
    if let Some(m) = a.method.as_deref() {
        if m != "dense" && m != "lanczos" {
            bail!("unknown --method '{m}'; known: dense, lanczos");
        }
    }
    if a.top == Some(0) {
        bail!("--top must be at least 1, got 0");
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
    let task = Task::for_loss(kind, model.n_outputs());
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
    let method = match a.method.as_deref() {
        Some(m) => m,
        None if model.n_params() > DENSE_LIMIT => "lanczos",
        None => "dense",
    };
    let mut tol = Tolerances::dual();
    if let Some(g) = a.tol_grad {
        tol = tol.with_grad(g)?;
    }
    if let Some(e) = a.tol_eig {
        tol = tol.with_eig(e)?;
    }
    let extras = Extras::compute(a, &obj, &model.params, method == "dense")?;
    if method == "lanczos" {
        return run_lanczos(a, &model, &data, &obj, kind, mode, &tol, extras);
    }
    if model.n_params() > 20_000 {
        bail!(
            "the model has {} parameters: a dense Hessian would need {:.1} GB; use --method lanczos",
            model.n_params(),
            (model.n_params() as f64).powi(2) * 8e-9
        );
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
            "trace_std_error": 0.0,
            "method": method,
            "loss_kind": kind.name(),
            "batchnorm_mode": mode.name(),
            "seconds": seconds,
        });
        if a.escape {
            v["escape"] = escape.unwrap_or(serde_json::Value::Null);
        }
        extras.add_to(&mut v);
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
        extras.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// The optional estimates (`--trace`, `--density`), shared by both methods.
pub(super) struct Extras {
    trace: Option<serde_json::Value>,
    density: Option<serde_json::Value>,
}

impl Extras {
    pub(super) fn compute<O: critpt::objective::Hvp + ?Sized>(
        a: &AnalyzeArgs,
        obj: &O,
        params: &[f64],
        dense: bool,
    ) -> Result<Extras> {
        let trace = if a.trace && !dense {
            let start = std::time::Instant::now();
            let t = hutch_plus_plus(obj, params, a.hvps, a.seed)?;
            Some(json!({
                "estimate": t.estimate,
                "std_error": t.std_error,
                "hvps": t.n_matvecs,
                "seed": t.seed,
                "method": "hutch++",
                "seconds": start.elapsed().as_secs_f64(),
            }))
        } else {
            None
        };
        let density = if a.density {
            let start = std::time::Instant::now();
            let cfg = Slq::new()
                .with_runs(a.density_runs)?
                .with_steps(a.density_steps)?
                .with_grid_points(a.density_grid)?
                .with_seed(a.seed);
            let d = slq_density(obj, params, &cfg)?;
            Some(json!({
                "grid": d.grid,
                "values": d.density,
                "sigma": d.sigma,
                "integral": d.integral(),
                "runs": a.density_runs,
                "steps": a.density_steps,
                "first_moment": {"mean": d.first_moment.mean, "std_error": d.first_moment.std_error},
                "second_moment": {"mean": d.second_moment.mean, "std_error": d.second_moment.std_error},
                "hvps": d.n_hvps,
                "seed": d.seed,
                "seconds": start.elapsed().as_secs_f64(),
            }))
        } else {
            None
        };
        Ok(Extras { trace, density })
    }

    pub(super) fn add_to(&self, v: &mut serde_json::Value) {
        if let Some(t) = &self.trace {
            v["trace"] = t["estimate"].clone();
            v["trace_std_error"] = t["std_error"].clone();
            v["trace_estimate"] = t.clone();
        }
        if let Some(d) = &self.density {
            v["density"] = d.clone();
        }
    }

    pub(super) fn print(&self) {
        if let Some(t) = &self.trace {
            println!(
                "trace          {} ± {} (hutch++, {} products)",
                t["estimate"], t["std_error"], t["hvps"]
            );
        }
        if let Some(d) = &self.density {
            println!(
                "density        SLQ, {} runs x {} steps, σ = {}, mean eigenvalue {} ± {}",
                d["runs"],
                d["steps"],
                d["sigma"],
                d["first_moment"]["mean"],
                d["first_moment"]["std_error"]
            );
        }
    }
}

/// `kind`, `index` and a note, from the extreme Ritz values only (see the module docs).
pub(super) fn classify_extremes(
    values: &[f64],
    residuals: &[f64],
    converged: &[bool],
    k_small: usize,
    gradient_norm: f64,
    loss: f64,
    tol: &Tolerances,
) -> (Option<&'static str>, Option<usize>, String) {
    let n = values.len();
    let max_abs = values.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    let zero = tol.zero_threshold(max_abs, loss);
    let small = &values[..k_small.min(n)];
    // Every negative eigenvalue is among the k smallest once one of them is surely non-negative.
    let index = (0..small.len())
        .any(|i| converged[i] && small[i] - residuals[i] > -zero)
        .then(|| {
            (0..small.len())
                .filter(|&i| small[i] + residuals[i] < -zero)
                .count()
        });
    if gradient_norm > tol.grad {
        return (
            Some("not_critical"),
            index,
            "the gradient is not zero".into(),
        );
    }
    let lo_neg = converged[0] && values[0] + residuals[0] < -zero;
    let lo_pos = converged[0] && values[0] - residuals[0] > zero;
    let hi_pos = converged[n - 1] && values[n - 1] - residuals[n - 1] > zero;
    let hi_neg = converged[n - 1] && values[n - 1] + residuals[n - 1] < -zero;
    match (lo_neg, hi_pos, lo_pos, hi_neg) {
        (true, true, _, _) => (Some("saddle"), index, "eigenvalues of both signs".into()),
        (_, _, true, _) => (
            Some("minimum"),
            index,
            "the smallest eigenvalue is positive (assuming Lanczos found the extreme one)".into(),
        ),
        (_, _, _, true) => (
            Some("maximum"),
            index,
            "the largest eigenvalue is negative (assuming Lanczos found the extreme one)".into(),
        ),
        _ => (
            None,
            index,
            format!(
                "undecided: the extreme eigenvalues ({:.3e}, {:.3e}) are within the zero threshold \
                 {zero:.1e} or unconverged; deciding minimum vs degenerate needs the full spectrum \
                 (--method dense)",
                values[0],
                values[n - 1]
            ),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_lanczos(
    a: &AnalyzeArgs,
    model: &critpt::nn::Mlp,
    data: &Dataset,
    obj: &NetLoss,
    kind: LossKind,
    mode: BnMode,
    tol: &Tolerances,
    extras: Extras,
) -> Result<ExitCode> {
    if a.escape {
        bail!("--escape needs the dense Hessian; use --method dense");
    }
    let k = a.top.unwrap_or(5);
    let start = std::time::Instant::now();
    let mut grad = vec![0.0; model.n_params()];
    let loss = obj.loss_and_gradient(&model.params, &mut grad)?;
    let gradient_norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    drop(grad);
    let r = Lanczos::new(k, Which::Both)
        .with_tol(a.lanczos_tol)?
        .with_max_iters(a.max_iters)?
        .with_seed(a.seed)
        .run(obj, &model.params)?;
    let seconds = start.elapsed().as_secs_f64();
    let ev = &r.spectrum.eigenvalues;
    let k_small = k.min(ev.len());
    let (kind_name, index, note) = classify_extremes(
        ev,
        &r.residuals,
        &r.converged,
        k_small,
        gradient_norm,
        loss,
        tol,
    );
    let accuracy = match data.labels() {
        Some(l) if kind.is_classification() => Some(model.accuracy(&data.x, l, mode)?),
        _ => None,
    };
    let n = model.n_params();
    if a.json {
        let mut v = json!({
            "parameters": n,
            "samples": data.n_samples(),
            "loss": loss,
            "accuracy": accuracy,
            "gradient_norm": gradient_norm,
            "eigenvalues": ev,
            "residuals": r.residuals,
            "converged": r.converged,
            "lambda_min": ev.first(),
            "lambda_max": ev.last(),
            "kind": kind_name,
            "kind_note": note,
            "index": index,
            "index_at_least": index.is_none().then_some(k_small),
            // positive / all needs every eigenvalue's sign: unknown without the full spectrum.
            "minimum_ratio": serde_json::Value::Null,
            "trace": serde_json::Value::Null,
            "trace_std_error": serde_json::Value::Null,
            "method": "lanczos",
            "top": k,
            "hvps": r.n_hvps,
            "iterations": r.iterations,
            "seed": r.seed,
            "loss_kind": kind.name(),
            "batchnorm_mode": mode.name(),
            "seconds": seconds,
        });
        extras.add_to(&mut v);
        print_json(&v)?;
    } else {
        println!(
            "model {} ({n} parameters), {} samples, loss {}, batch norm {}",
            a.model.display(),
            data.n_samples(),
            kind.name(),
            mode.name()
        );
        println!("loss           {loss:.10}");
        if let Some(acc) = accuracy {
            println!("accuracy       {acc:.4}");
        }
        println!("gradient norm  {gradient_norm:.3e}");
        for (l, res) in ev.iter().zip(&r.residuals) {
            println!("eigenvalue     {l:>14.6e}   residual {res:.1e}");
        }
        println!(
            "kind {}   index {}   ({note}; {} products, {} steps, {seconds:.2} s, lanczos)",
            kind_name.unwrap_or("undecided"),
            index.map_or("unknown".to_string(), |i| i.to_string()),
            r.n_hvps,
            r.iterations
        );
        extras.print();
    }
    Ok(ExitCode::SUCCESS)
}
