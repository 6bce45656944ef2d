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

use super::analyze_methods::analyze_and_report;
use super::analyze_report::{ModelFormat, Subject};
use super::common::warn_default_mse_targets;
use super::out::{errln, outln};
use super::train::targets;
use anyhow::{bail, Result};
use critpt::critical::Tolerances;
use critpt::curvature::{
    select_tensors, tensor_indices, Curvature, EigenBackend, ParamTensor, Which,
};
use critpt::nn::{load_model, net_operator, Activation, BnMode, Dataset, LossKind, NetLoss, Task};
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
    #[arg(long, default_value_t = critpt::curvature::lanczos::LANCZOS_MAX_ITERS)]
    pub max_iters: usize,
    /// Relative residual tolerance of Lanczos.
    #[arg(long, default_value_t = critpt::curvature::lanczos::LANCZOS_TOL, allow_hyphen_values = true)]
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

/// What `--curvature`, `--params` and `--batch-size` chose: the JSON's `curvature`,
/// `parameter_names`, `selected_parameters`, `batch_size`, and whether the verdict applies.
pub(super) struct Scope {
    pub(super) curvature: Curvature,
    pub(super) tensors: Vec<ParamTensor>,
    pub(super) selected: Option<Vec<ParamTensor>>,
    pub(super) batch_size: Option<usize>,
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

    /// The number of parameters in the `--params` block.
    pub(super) fn selected_count(&self) -> Option<usize> {
        self.selected
            .as_ref()
            .map(|sel| sel.iter().map(ParamTensor::len).sum())
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
    if a.top == Some(0) {
        bail!("--top must be at least 1, got 0");
    }
    if let ModelSource::Onnx = ModelSource::of(&a.model) {
        return super::analyze_graph::run(a);
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
    let subject = Subject {
        path: &a.model,
        parameters: model.n_params(),
        samples: data.n_samples(),
        accuracy: match data.labels() {
            Some(l) if kind.is_classification() => Some(model.accuracy(&data.x, l, mode)?),
            _ => None,
        },
        loss_kind: kind,
        batchnorm_mode: mode,
        scope: &scope,
        format: ModelFormat::Mlp {
            sizes: model.sizes(),
        },
    };
    analyze_and_report(a, &subject, &*full, &model.params)?;
    Ok(ExitCode::SUCCESS)
}
