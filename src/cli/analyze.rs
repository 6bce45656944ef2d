//! `critpt analyze`: the curvature of a trained model's loss (PyTorch or critpt weights).
//!
//! Three methods. `dense` forms the exact Hessian and all its eigenvalues (no eigenvectors:
//! only `--escape` needs one). `inertia` forms it too but counts its negative, zero and
//! positive eigenvalues exactly from two `LBLᵀ` factorizations (Sylvester's law of inertia at
//! `±τ`, τ the zero threshold) and finds only the extreme eigenpairs: the same kind, index and
//! minimum ratio as `dense`, `eigenvalues` holding the extremes and `counts` the three counts.
//! `lanczos` never forms it: the `--top K` algebraically largest and/or smallest eigenpairs
//! (`--which`) by block Lanczos with thick restarts on exact Hessian-vector products (memory
//! `O(P·m)` for a basis of m vectors). Without `--method`, models of more than [`DENSE_LIMIT`]
//! parameters use `lanczos`.
//!
//! With `lanczos`, `kind`, `index` and `minimum_ratio` come from the extreme eigenpairs only
//! ([`critpt::critical::classify_extremes`]): each is reported when it is proven, and null
//! otherwise, with `index_at_least` (a proven lower bound) and `kind_note` saying why.
//! `--trace` gives Hutch++ (`--hvps` products) with its standard error (the dense trace is
//! exact); `--density` the SLQ spectral density (grid, values, moments, and every run's nodes
//! and weights).
//!
//! `--curvature ggn|empirical-fisher` takes the Gauss–Newton matrix or the empirical Fisher
//! instead of the Hessian, `--params` its principal submatrix on some parameter tensors, and
//! `--batch-size` streams the data in chunks (the same numbers, memory bounded by a chunk).
//! The verdict (`kind`, `index`, `minimum_ratio`) is a property of the whole Hessian: for the
//! other matrices (positive semi-definite by construction) and for blocks it is null, with
//! `kind_note` saying why, and `--escape` is refused.

use super::common::{print_json, warn_default_mse_targets};
use super::out::{errln, outln, Spinner};
use super::train::targets;
use anyhow::{bail, Result};
use critpt::critical::{
    classify_extremes, classify_point_eigenvalues, classify_point_inertia, escape_saddle,
    EscapeOptions, Tolerances,
};
use critpt::curvature::{
    hutch_plus_plus, select_tensors, slq_density, tensor_indices, Curvature, CurvatureOperator,
    EigenBackend, Lanczos, ParamTensor, Restricted, Slq, Which,
};
use critpt::nn::{load_model, net_operator, Activation, BnMode, Dataset, LossKind, NetLoss, Task};
use critpt::objective::{Gradient, Hessian};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Parameter count above which `analyze` uses Lanczos instead of the dense Hessian when
/// `--method` is not given (a dense Hessian of 3000 parameters is 72 MB and its eigensolve takes
/// seconds; beyond that the cost grows as `P²` in memory and `P³` in time).
pub(super) const DENSE_LIMIT: usize = 3000;

/// How `analyze` decomposes the curvature (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnalyzeMethod {
    /// The exact dense matrix and all its eigenvalues.
    Dense,
    /// The exact dense matrix, exact counts of negative, zero and positive eigenvalues (LDLᵀ)
    /// and the extremes.
    Inertia,
    /// Extreme eigenpairs by block Lanczos, matrix-free.
    Lanczos,
}

impl AnalyzeMethod {
    /// The flag's spelling, as the JSON's `method` reports it.
    pub fn name(self) -> &'static str {
        match self {
            AnalyzeMethod::Dense => "dense",
            AnalyzeMethod::Inertia => "inertia",
            AnalyzeMethod::Lanczos => "lanczos",
        }
    }
}

/// Flags of `critpt analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The model: .safetensors (PyTorch nn.Sequential state_dict layout) or .onnx (any graph
    /// of the supported ops; then --data is a .safetensors file with x and y, or a CSV).
    #[arg(long)]
    pub model: PathBuf,
    /// A CSV file or a generator name (as `critpt train`). Default: the data the model file
    /// records (`critpt train` writes its data, seed and targets into the file).
    #[arg(long)]
    pub data: Option<String>,
    /// The activation between layers (default: the file's metadata).
    #[arg(long)]
    pub activation: Option<Activation>,
    /// cross-entropy or mse (default: the file's metadata, else cross-entropy).
    #[arg(long)]
    pub loss: Option<LossKind>,
    /// Target column(s), comma-separated (default: the last; the last k for mse).
    #[arg(long)]
    pub target: Option<String>,
    /// dense (exact Hessian, all eigenvalues), inertia (exact Hessian, exact counts of
    /// negative/zero/positive eigenvalues and the extremes) or lanczos (extreme eigenpairs,
    /// matrix-free). Default: dense up to 3000 parameters, lanczos above.
    #[arg(long)]
    pub method: Option<AnalyzeMethod>,
    /// dense: report only the K largest eigenvalues; lanczos: the K largest and the K
    /// smallest (default 5).
    #[arg(long)]
    pub top: Option<usize>,
    /// lanczos: which end of the spectrum, largest, smallest or both (ends by sign, not
    /// magnitude). Only `both` can prove a saddle and an exact index at once.
    #[arg(long, default_value = "both")]
    pub which: Which,
    /// lanczos: vectors per block (default --top): an eigenvalue repeated up to this many
    /// times is found as often as it occurs.
    #[arg(long)]
    pub block_size: Option<usize>,
    /// lanczos: the most basis vectors held at once (memory: this many parameter vectors;
    /// default as many as 256 MiB hold, 60 to 300).
    #[arg(long)]
    pub basis_size: Option<usize>,
    /// Maximum Lanczos block steps.
    #[arg(long, default_value_t = 500)]
    pub max_iters: usize,
    /// Relative residual tolerance of Lanczos.
    #[arg(long, default_value_t = 1e-8, allow_hyphen_values = true)]
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
    pub batchnorm_mode: BnMode,
    /// z-score the features with their own statistics (models saved by `critpt train
    /// --standardize` carry theirs and apply them automatically).
    #[arg(long)]
    pub standardize: bool,
    /// Take one step along the most negative curvature and report the new loss.
    #[arg(long)]
    pub escape: bool,
    /// Gradient-norm tolerance of the classification (default 1e-6).
    #[arg(long, allow_hyphen_values = true)]
    pub tol_grad: Option<f64>,
    /// Relative eigenvalue tolerance (default 1e-8).
    #[arg(long, allow_hyphen_values = true)]
    pub tol_eig: Option<f64>,
    /// Seed of generated data sets and of every random vector (Lanczos, Hutch++, SLQ).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Dense methods: the eigenvalue and LDLᵀ backend, faer or lapack (a build with
    /// `--features lapack`). Default: the fastest measured (dense: lapack in a lapack build,
    /// else faer; inertia: faer).
    #[arg(long)]
    pub backend: Option<EigenBackend>,
    /// The matrix: hessian, ggn (the Gauss–Newton matrix Jᵀ(∂²L/∂z²)J, for cross-entropy the
    /// Fisher) or empirical-fisher ((1/N) Σ ∇ℓ_n∇ℓ_nᵀ). Kind, index and minimum ratio are the
    /// Hessian's: null for the other two.
    #[arg(long, default_value = "hessian")]
    pub curvature: Curvature,
    /// Only these parameter tensors (state_dict names, comma-separated, `*` a wildcard): the
    /// principal submatrix on them.
    #[arg(long)]
    pub params: Option<String>,
    /// Stream the data in chunks of B samples for every loss, gradient and product: the same
    /// result, memory bounded by one chunk (default: the whole data set at once).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl AnalyzeArgs {
    /// `--method`, or the default for `n` parameters: dense up to [`DENSE_LIMIT`], Lanczos above.
    pub(super) fn method_for(&self, n: usize) -> AnalyzeMethod {
        match self.method {
            Some(m) => m,
            None if n > DENSE_LIMIT => AnalyzeMethod::Lanczos,
            None => AnalyzeMethod::Dense,
        }
    }

    /// The classification tolerances: exact derivatives' defaults, with `--tol-grad` and
    /// `--tol-eig` applied.
    pub(super) fn tolerances(&self) -> Result<Tolerances> {
        let mut tol = Tolerances::dual();
        if let Some(g) = self.tol_grad {
            tol = tol.with_grad(g)?;
        }
        if let Some(e) = self.tol_eig {
            tol = tol.with_eig(e)?;
        }
        Ok(tol)
    }
}

/// The `--backend` of a dense method, or the fastest in this build.
fn dense_backend(a: &AnalyzeArgs, default: EigenBackend) -> Result<EigenBackend> {
    let Some(b) = a.backend else {
        return Ok(default);
    };
    if !EigenBackend::available().contains(&b) {
        let name = b.name();
        bail!("--backend {name} needs critpt built with `--features {name}`");
    }
    Ok(b)
}

/// What `--curvature`, `--params` and `--batch-size` chose: the JSON's `curvature`,
/// `parameter_names`, `selected_parameters`, `batch_size`, and whether the verdict applies.
pub(super) struct Scope {
    pub(super) curvature: Curvature,
    tensors: Vec<ParamTensor>,
    pub(super) selected: Option<Vec<ParamTensor>>,
    batch_size: Option<usize>,
}

impl Scope {
    /// Parses the three flags against the model's tensors.
    pub(super) fn new(a: &AnalyzeArgs, tensors: Vec<ParamTensor>) -> Result<Scope> {
        let curvature = a.curvature;
        if a.batch_size == Some(0) {
            bail!("--batch-size must be at least 1, got 0");
        }
        let selected = a
            .params
            .as_deref()
            .map(|spec| select_tensors(&tensors, spec))
            .transpose()?;
        let scope = Scope {
            curvature,
            tensors,
            selected,
            batch_size: a.batch_size,
        };
        if a.escape {
            if let Some(why) = scope.no_verdict() {
                bail!("--escape needs the whole Hessian: {why}");
            }
        }
        Ok(scope)
    }

    /// The selected flat indices (all parameters without `--params`).
    pub(super) fn indices(&self) -> Option<Vec<usize>> {
        self.selected.as_deref().map(tensor_indices)
    }

    /// Why the second-order verdict does not apply, if it does not.
    pub(super) fn no_verdict(&self) -> Option<String> {
        if self.curvature != Curvature::Hessian {
            Some(format!(
                "the {} is positive semi-definite by construction; kind, index and minimum ratio are properties of the Hessian (use --curvature hessian)",
                self.curvature.name()
            ))
        } else if self.selected.is_some() {
            Some("a block's spectrum is not the Hessian's (it only bounds it by interlacing); kind, index and minimum ratio are reported for the whole Hessian (drop --params)".into())
        } else {
            None
        }
    }

    /// Adds the scope to the JSON, and nulls the verdict where it does not apply.
    pub(super) fn add_to(&self, v: &mut serde_json::Value) {
        v["curvature"] = json!(self.curvature.name());
        v["parameter_names"] = json!(self.tensors);
        v["batch_size"] = json!(self.batch_size);
        if let Some(sel) = &self.selected {
            v["selected_parameters"] = json!(sel);
            v["selected_count"] = json!(sel.iter().map(ParamTensor::len).sum::<usize>());
        }
        if let Some(why) = self.no_verdict() {
            for key in ["kind", "index", "index_at_least", "minimum_ratio"] {
                v[key] = serde_json::Value::Null;
            }
            v["kind_note"] = json!(why);
        }
    }

    /// The summary line of the scope (nothing for the default).
    pub(super) fn print(&self) -> Result<()> {
        let mut parts = vec![format!("curvature {}", self.curvature.name())];
        if let Some(sel) = &self.selected {
            let names: Vec<&str> = sel.iter().map(|t| t.name.as_str()).collect();
            parts.push(format!(
                "block {} ({} parameters)",
                names.join(","),
                sel.iter().map(ParamTensor::len).sum::<usize>()
            ));
        }
        if let Some(b) = self.batch_size {
            parts.push(format!("chunks of {b} samples"));
        }
        outln!("{}", parts.join(", "))?;
        if let Some(why) = self.no_verdict() {
            outln!("note           {why}")?;
        }
        Ok(())
    }
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
    if a.top == Some(0) {
        bail!("--top must be at least 1, got 0");
    }
    let activation = a.activation;
    let file = load_model(&a.model, activation)?;
    let model = file.model;
    let kind: LossKind = match (&a.loss, file.loss) {
        (Some(l), _) => *l,
        (None, Some(l)) => l,
        (None, None) => LossKind::CrossEntropy,
    };
    let mode = a.batchnorm_mode;
    let task = Task::for_loss(kind, model.n_outputs());
    let (spec, seed, target) = match (&a.data, &file.data) {
        (Some(d), _) => (d.clone(), a.seed, targets(&a.target)),
        (None, Some(o)) => (
            o.spec.clone(),
            o.seed.unwrap_or(a.seed),
            targets(&a.target).or_else(|| o.target.clone()),
        ),
        (None, None) => bail!(
            "give --data: {} does not record the data it was trained on",
            a.model.display()
        ),
    };
    let (mut data, origin) =
        Dataset::load_for(&spec, target.as_deref(), task, seed, Some(model.n_inputs())).map_err(
            |e| match a.data {
                None => anyhow::anyhow!("cannot load the model's training data ({e}); give --data"),
                Some(_) => e.into(),
            },
        )?;
    if let Some(trained) = &file.data {
        if let Some(why) = trained.difference(&origin) {
            errln!(
                "warning: the model was trained on {}, this is other data ({why}){}",
                trained.describe(),
                if a.data.is_some() {
                    "; omit --data to use the training data"
                } else {
                    ""
                }
            );
        }
    }
    if target.is_none() {
        warn_default_mse_targets(kind, &a.target, &data, &origin);
    }
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
    let scope = Scope::new(a, model.param_tensors())?;
    let parts = match a.batch_size {
        Some(b) => NetLoss::chunks(&model, &data, kind, mode, b)?,
        None => vec![NetLoss::new(&model, &data, kind, mode)?],
    };
    let full = net_operator(&parts, scope.curvature)?;
    let restricted;
    let (obj, point): (&dyn CurvatureOperator, Vec<f64>) = match scope.indices() {
        Some(idx) => {
            restricted = Restricted::new(&*full, &model.params, idx)?;
            let p = restricted.point();
            (&restricted, p)
        }
        None => (&*full, model.params.clone()),
    };
    let point = point.as_slice();
    let dim = point.len();
    let method = a.method_for(dim).name();
    let tol = a.tolerances()?;
    if method != "lanczos" {
        critpt::limits::check_dense_params(dim)?;
    }
    if a.density {
        critpt::limits::check_density_grid(a.density_grid)?;
    }
    let spinner = Spinner::start(format!(
        "{method} {} of {dim} parameters",
        scope.curvature.name()
    ));
    let extras = Extras::compute(a, obj, point, method != "lanczos")?;
    let net = Net {
        model: &model,
        data: &data,
        kind,
        mode,
        scope: &scope,
        full: &*full,
    };
    if method == "lanczos" {
        return run_lanczos(a, &net, obj, point, &tol, extras, spinner);
    }
    if method == "inertia" {
        return run_inertia(a, &net, obj, point, &tol, extras, spinner);
    }
    let backend = dense_backend(a, EigenBackend::fastest_eigenvalues())?;
    let start = std::time::Instant::now();
    let cp = classify_point_eigenvalues(obj, point, &tol, backend)?;
    let seconds = start.elapsed().as_secs_f64();
    let ev = &cp.eigenvalues;
    let c = cp.classification;
    let trace: f64 = ev.iter().sum();
    let reported: &[f64] = match a.top {
        Some(k) => &ev[ev.len().saturating_sub(k)..],
        None => ev,
    };
    let accuracy = match data.labels() {
        Some(l) if kind.is_classification() => Some(model.accuracy(&data.x, l, mode)?),
        _ => None,
    };
    let escape = escape_json(a, obj, point, &tol);
    drop(spinner);
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
            "zero_threshold": cp.zero_threshold,
            "kind": c.kind,
            "index": c.index,
            "minimum_ratio": c.minimum_ratio,
            "trace": trace,
            "trace_std_error": 0.0,
            "method": method,
            "backend": backend.name(),
            "loss_kind": kind.name(),
            "batchnorm_mode": mode.name(),
            "seconds": seconds,
        });
        net.add_fit(&mut v)?;
        print_report(a, v, escape, &extras)?;
    } else {
        outln!(
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
        )?;
        scope.print()?;
        print_fit(cp.value, accuracy, net.gradient_norm(cp.gradient_norm)?)?;
        outln!(
            "eigenvalues    min {:.6e}  max {:.6e}  trace {:.6e}",
            ev.first().copied().unwrap_or(0.0),
            ev.last().copied().unwrap_or(0.0),
            trace
        )?;
        let top: Vec<String> = ev
            .iter()
            .rev()
            .take(10)
            .map(|l| format!("{l:.4e}"))
            .collect();
        outln!("largest        {}", top.join(", "))?;
        if scope.no_verdict().is_none() {
            outln!(
                "kind {}   index {}   minimum ratio {:.4}   ({seconds:.2} s, dense, {})",
                c.kind,
                c.index,
                c.minimum_ratio,
                backend.name()
            )?;
        }
        print_escape(&escape)?;
        extras.print()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--escape`: one step along the most negative curvature (only that eigenpair is computed),
/// or a warning saying why not.
pub(super) fn escape_json<O: Gradient + Hessian + ?Sized>(
    a: &AnalyzeArgs,
    obj: &O,
    params: &[f64],
    tol: &Tolerances,
) -> Option<serde_json::Value> {
    if !a.escape {
        return None;
    }
    match escape_saddle(obj, params, tol, &EscapeOptions::default()) {
        Ok(e) => Some(json!({
            "eigenvalue": e.eigenvalue,
            "step": e.step,
            "loss_before": e.value_before,
            "loss_after": e.value_after,
            "predicted_change": e.predicted_change,
        })),
        Err(e) => {
            errln!("warning: no escape step: {e}");
            None
        }
    }
}

/// The end of every method's JSON report: the escape step (with `--escape`), the optional
/// estimates, then the one JSON object on stdout.
pub(super) fn print_report(
    a: &AnalyzeArgs,
    mut v: serde_json::Value,
    escape: Option<serde_json::Value>,
    extras: &Extras,
) -> Result<()> {
    if a.escape {
        v["escape"] = escape.unwrap_or(serde_json::Value::Null);
    }
    extras.add_to(&mut v);
    print_json(&v)
}

/// The lines every method's summary starts with: loss, accuracy (classification), gradient norm.
pub(super) fn print_fit(loss: f64, accuracy: Option<f64>, gradient_norm: f64) -> Result<()> {
    outln!("loss           {loss:.10}")?;
    if let Some(acc) = accuracy {
        outln!("accuracy       {acc:.4}")?;
    }
    outln!("gradient norm  {gradient_norm:.3e}")?;
    Ok(())
}

fn print_escape(escape: &Option<serde_json::Value>) -> Result<()> {
    if let Some(e) = escape {
        outln!(
            "escape: along λ = {} by {}: loss {} -> {}",
            e["eigenvalue"],
            e["step"],
            e["loss_before"],
            e["loss_after"]
        )?;
    }
    Ok(())
}

/// `--method inertia`: exact counts from two `LBLᵀ` factorizations, the extremes by block
/// Lanczos on the dense Hessian.
fn run_inertia(
    a: &AnalyzeArgs,
    net: &Net<'_>,
    obj: &dyn CurvatureOperator,
    point: &[f64],
    tol: &Tolerances,
    extras: Extras,
    spinner: Spinner,
) -> Result<ExitCode> {
    let Net {
        model,
        data,
        kind,
        mode,
        scope,
        ..
    } = *net;
    let backend = dense_backend(a, EigenBackend::fastest_factorization())?;
    let start = std::time::Instant::now();
    let p = classify_point_inertia(obj, point, tol, a.seed, backend)?;
    let seconds = start.elapsed().as_secs_f64();
    let c = p.classification;
    let ext = &p.inertia.extremes;
    let n = point.len();
    let (extremes, residuals) = if n == 1 {
        (vec![ext.smallest.value], vec![ext.smallest.residual])
    } else {
        (
            vec![ext.smallest.value, ext.largest.value],
            vec![ext.smallest.residual, ext.largest.residual],
        )
    };
    let accuracy = match data.labels() {
        Some(l) if kind.is_classification() => Some(model.accuracy(&data.x, l, mode)?),
        _ => None,
    };
    let escape = escape_json(a, obj, point, tol);
    drop(spinner);
    let counts = p.inertia.counts;
    if a.json {
        let mut v = json!({
            "parameters": model.n_params(),
            "samples": data.n_samples(),
            "loss": p.value,
            "accuracy": accuracy,
            "gradient_norm": p.gradient_norm,
            "eigenvalues": extremes,
            "residuals": residuals,
            "converged": ext.converged,
            "lambda_min": ext.smallest.value,
            "lambda_max": ext.largest.value,
            "counts": counts,
            "zero_threshold": p.inertia.tau,
            "kind": c.kind,
            "index": c.index,
            "minimum_ratio": c.minimum_ratio,
            "trace": p.inertia.trace,
            "trace_std_error": 0.0,
            "method": "inertia",
            "backend": backend.name(),
            "loss_kind": kind.name(),
            "batchnorm_mode": mode.name(),
            "seconds": seconds,
        });
        net.add_fit(&mut v)?;
        print_report(a, v, escape, &extras)?;
    } else {
        outln!(
            "model {} ({n} parameters), {} samples, loss {}, batch norm {}",
            a.model.display(),
            data.n_samples(),
            kind.name(),
            mode.name()
        )?;
        scope.print()?;
        print_fit(p.value, accuracy, net.gradient_norm(p.gradient_norm)?)?;
        outln!(
            "eigenvalues    min {:.6e} (residual {:.1e})  max {:.6e} (residual {:.1e})  trace {:.6e}",
            ext.smallest.value,
            ext.smallest.residual,
            ext.largest.value,
            ext.largest.residual,
            p.inertia.trace
        )?;
        outln!(
            "counts         {} negative, {} zero (|λ| <= {:.1e}), {} positive",
            counts.negative,
            counts.zero,
            p.inertia.tau,
            counts.positive
        )?;
        if scope.no_verdict().is_none() {
            outln!(
                "kind {}   index {}   minimum ratio {:.4}   ({seconds:.2} s, inertia, {})",
                c.kind,
                c.index,
                c.minimum_ratio,
                backend.name()
            )?;
        }
        print_escape(&escape)?;
        extras.print()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The optional estimates (`--trace`, `--density`), shared by all methods.
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
                "runs_quadrature": d.runs,
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

    pub(super) fn print(&self) -> Result<()> {
        if let Some(t) = &self.trace {
            outln!(
                "trace          {} ± {} (hutch++, {} products)",
                t["estimate"],
                t["std_error"],
                t["hvps"]
            )?;
        }
        if let Some(d) = &self.density {
            outln!(
                "density        SLQ, {} runs x {} steps, σ = {}, mean eigenvalue {} ± {}",
                d["runs"],
                d["steps"],
                d["sigma"],
                d["first_moment"]["mean"],
                d["first_moment"]["std_error"]
            )?;
        }
        Ok(())
    }
}

fn run_lanczos(
    a: &AnalyzeArgs,
    net: &Net<'_>,
    obj: &dyn CurvatureOperator,
    point: &[f64],
    tol: &Tolerances,
    extras: Extras,
    spinner: Spinner,
) -> Result<ExitCode> {
    let Net {
        model,
        data,
        kind,
        mode,
        scope,
        ..
    } = *net;
    if a.escape {
        bail!("--escape needs the dense Hessian; use --method dense");
    }
    let k = a.top.unwrap_or(5);
    let start = std::time::Instant::now();
    let mut grad = vec![0.0; point.len()];
    let loss = obj.loss_and_gradient(point, &mut grad)?;
    let gradient_norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    drop(grad);
    let which = a.which;
    let mut lanczos = Lanczos::new(k, which);
    if let Some(b) = a.block_size {
        lanczos = lanczos.with_block_size(b)?;
    }
    if let Some(m) = a.basis_size {
        lanczos = lanczos.with_basis_size(m)?;
    }
    let r = lanczos
        .with_tol(a.lanczos_tol)?
        .with_max_iters(a.max_iters)?
        .with_seed(a.seed)
        .run(obj, point)?;
    let seconds = start.elapsed().as_secs_f64();
    let ev = r.spectrum.eigenvalues();
    let n = point.len();
    let verdict = classify_extremes(&r, which, k, n, gradient_norm, loss, tol);
    let kind_name = verdict.kind.map(|k| k.name());
    let index = verdict.index;
    let note = &verdict.note;
    drop(spinner);
    let accuracy = match data.labels() {
        Some(l) if kind.is_classification() => Some(model.accuracy(&data.x, l, mode)?),
        _ => None,
    };
    if a.json {
        let mut v = json!({
            "parameters": model.n_params(),
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
            "index_at_least": verdict.index_at_least,
            "minimum_ratio": verdict.minimum_ratio,
            "zero_threshold": verdict.zero_threshold,
            "trace": serde_json::Value::Null,
            "trace_std_error": serde_json::Value::Null,
            "method": "lanczos",
            "top": k,
            "which": which.name(),
            "hvps": r.n_hvps,
            "iterations": r.iterations,
            "restarts": r.restarts,
            "block_size": r.block_size,
            "basis_size": r.basis_size,
            "seed": r.seed,
            "loss_kind": kind.name(),
            "batchnorm_mode": mode.name(),
            "seconds": seconds,
        });
        net.add_fit(&mut v)?;
        print_report(a, v, None, &extras)?;
    } else {
        outln!(
            "model {} ({n} parameters), {} samples, loss {}, batch norm {}",
            a.model.display(),
            data.n_samples(),
            kind.name(),
            mode.name()
        )?;
        scope.print()?;
        print_fit(loss, accuracy, net.gradient_norm(gradient_norm)?)?;
        for (l, res) in ev.iter().zip(&r.residuals) {
            outln!("eigenvalue     {l:>14.6e}   residual {res:.1e}")?;
        }
        outln!(
            "kind {}   index {}   ({note}; {} products, {} steps, {seconds:.2} s, lanczos)",
            kind_name.unwrap_or("undecided"),
            index.map_or("unknown".to_string(), |i| i.to_string()),
            r.n_hvps,
            r.iterations
        )?;
        extras.print()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The MLP, its data and the chosen operator, as the methods report them.
struct Net<'a> {
    model: &'a critpt::nn::Mlp,
    data: &'a Dataset,
    kind: LossKind,
    mode: BnMode,
    scope: &'a Scope,
    /// The operator over all parameters (the gradient norm of a block's report is the whole
    /// gradient's).
    full: &'a dyn CurvatureOperator,
}

impl Net<'_> {
    /// The whole gradient's norm: `block_norm` itself without `--params`, else one more
    /// gradient over all parameters.
    fn gradient_norm(&self, block_norm: f64) -> Result<f64> {
        if self.scope.selected.is_none() {
            return Ok(block_norm);
        }
        let g = critpt::objective::gradient_vec(self.full, &self.model.params)?;
        Ok(critpt::objective::norm(&g))
    }

    /// The scope's fields, the whole gradient's norm, and the null verdict where it applies.
    fn add_fit(&self, v: &mut serde_json::Value) -> Result<()> {
        if self.scope.selected.is_some() {
            v["gradient_norm"] = json!(self.gradient_norm(0.0)?);
        }
        self.scope.add_to(v);
        Ok(())
    }
}
