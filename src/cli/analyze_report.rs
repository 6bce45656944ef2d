//! `critpt analyze`'s report: what a method measured ([`Analysis`]), the one JSON object both
//! model formats print (serialized from [`AnalyzeJson`], so the MLP and ONNX reports cannot
//! drift apart), and the text summaries.

use super::analyze::{AnalyzeMethod, Scope};
use super::common::print_json;
use super::out::outln;
use anyhow::Result;
use critpt::critical::{Classification, CriticalKind, EscapeStep};
use critpt::curvature::{EigenBackend, Inertia, ParamTensor, SpectralDensity, TraceEstimate};
use critpt::nn::{BnMode, LossKind};
use serde::Serialize;
use std::path::Path;

/// The model as the report names it, whatever its format.
pub(super) struct Subject<'a> {
    /// The model file.
    pub(super) path: &'a Path,
    /// Every parameter of the model (a `--params` block is a part of them).
    pub(super) parameters: usize,
    pub(super) samples: usize,
    /// Classification accuracy on the data (none for regression).
    pub(super) accuracy: Option<f64>,
    pub(super) loss_kind: LossKind,
    pub(super) batchnorm_mode: BnMode,
    pub(super) scope: &'a Scope,
    pub(super) format: ModelFormat,
}

/// What only one model format reports.
pub(super) enum ModelFormat {
    /// An MLP in safetensors: its layer widths, input first.
    Mlp { sizes: Vec<usize> },
    /// An ONNX graph: its buffer names and its number of parameter tensors.
    Onnx {
        buffers: Vec<String>,
        tensors: usize,
    },
}

/// The verdict of a method, before the scope says whether it applies.
pub(super) struct Verdict {
    pub(super) kind: Option<CriticalKind>,
    pub(super) index: Option<usize>,
    pub(super) minimum_ratio: Option<f64>,
    /// Lanczos: the proven lower bound on the index.
    pub(super) index_at_least: Option<usize>,
    /// Lanczos: why the verdict is what it is.
    pub(super) note: Option<String>,
    pub(super) zero_threshold: f64,
}

impl Verdict {
    /// The verdict of a dense method: kind, index and minimum ratio all known.
    pub(super) fn exact(c: &Classification, zero_threshold: f64) -> Self {
        Verdict {
            kind: Some(c.kind),
            index: Some(c.index),
            minimum_ratio: Some(c.minimum_ratio),
            index_at_least: None,
            note: None,
            zero_threshold,
        }
    }
}

/// Whether Lanczos converged: one flag for both ends (inertia) or one per eigenpair (lanczos).
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Converged {
    Both(bool),
    Each(Vec<bool>),
}

/// The run of `--method lanczos`, as the JSON reports it.
#[derive(Serialize)]
pub(super) struct LanczosRun {
    pub(super) top: usize,
    pub(super) which: &'static str,
    pub(super) hvps: usize,
    /// Seconds of the run spent in the products (the rest is the solver's own work).
    pub(super) product_seconds: f64,
    pub(super) iterations: usize,
    pub(super) restarts: usize,
    pub(super) block_size: usize,
    pub(super) basis_size: usize,
    pub(super) seed: u64,
}

/// The optional estimates (`--trace`, `--density`), shared by all methods.
pub(super) struct Extras {
    /// Hutch++ and its time in seconds.
    pub(super) trace: Option<(TraceEstimate, f64)>,
    /// SLQ, the runs and steps asked for, and its time in seconds.
    pub(super) density: Option<(SpectralDensity, usize, usize, f64)>,
}

/// What one method measured at the point.
pub(super) struct Analysis {
    pub(super) method: AnalyzeMethod,
    /// The number of parameters analysed (a `--params` block's size).
    pub(super) dim: usize,
    pub(super) loss: f64,
    /// The whole gradient's norm (over every parameter, even with `--params`).
    pub(super) gradient_norm: f64,
    /// Dense: every eigenvalue; inertia: the extremes; lanczos: the Ritz values; ascending.
    pub(super) eigenvalues: Vec<f64>,
    /// How many of the largest eigenvalues the JSON lists (`--top` of a dense method).
    pub(super) reported: usize,
    pub(super) residuals: Option<Vec<f64>>,
    /// Inertia: the residuals of the smallest and the largest eigenpair.
    pub(super) end_residuals: Option<(f64, f64)>,
    pub(super) converged: Option<Converged>,
    pub(super) lambda_min: Option<f64>,
    pub(super) lambda_max: Option<f64>,
    pub(super) counts: Option<Inertia>,
    /// Exact for the dense methods, unknown for lanczos (without `--trace`).
    pub(super) trace: Option<f64>,
    pub(super) verdict: Verdict,
    pub(super) lanczos: Option<LanczosRun>,
    pub(super) backend: Option<EigenBackend>,
    /// `None` without `--escape`; `Some(None)` when no step could be taken.
    pub(super) escape: Option<Option<EscapeStep>>,
    pub(super) seconds: f64,
}

/// The `--escape` step in the JSON.
#[derive(Serialize)]
struct EscapeJson {
    eigenvalue: f64,
    step: f64,
    loss_before: f64,
    loss_after: f64,
    predicted_change: f64,
}

impl EscapeJson {
    fn new(e: &EscapeStep) -> Self {
        EscapeJson {
            eigenvalue: e.eigenvalue,
            step: e.step,
            loss_before: e.value_before,
            loss_after: e.value_after,
            predicted_change: e.predicted_change,
        }
    }
}

/// `--trace` in the JSON.
#[derive(Serialize)]
struct TraceJson {
    estimate: f64,
    std_error: f64,
    hvps: usize,
    seed: u64,
    method: &'static str,
    seconds: f64,
}

/// `--density` in the JSON.
#[derive(Serialize)]
struct DensityJson<'a> {
    grid: &'a [f64],
    values: &'a [f64],
    sigma: f64,
    integral: f64,
    runs: usize,
    steps: usize,
    first_moment: critpt::curvature::MomentEstimate,
    second_moment: critpt::curvature::MomentEstimate,
    hvps: usize,
    seed: u64,
    runs_quadrature: &'a [critpt::curvature::Quadrature],
    seconds: f64,
}

/// The one JSON object of `critpt analyze`, for every method and model format. Fields that only
/// some methods or formats have are left out elsewhere; the verdict is null where the scope
/// says it does not apply.
#[derive(Serialize)]
pub(super) struct AnalyzeJson<'a> {
    parameters: usize,
    samples: usize,
    loss: f64,
    accuracy: Option<f64>,
    gradient_norm: f64,
    eigenvalues: &'a [f64],
    #[serde(skip_serializing_if = "Option::is_none")]
    residuals: Option<&'a [f64]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    converged: Option<&'a Converged>,
    lambda_min: Option<f64>,
    lambda_max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<Inertia>,
    zero_threshold: f64,
    kind: Option<CriticalKind>,
    index: Option<usize>,
    /// Absent, null or a number: present for lanczos and wherever the verdict is withheld.
    #[serde(skip_serializing_if = "Option::is_none")]
    index_at_least: Option<Option<usize>>,
    minimum_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind_note: Option<String>,
    trace: Option<f64>,
    trace_std_error: Option<f64>,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<&'static str>,
    #[serde(flatten)]
    lanczos: Option<&'a LanczosRun>,
    loss_kind: &'static str,
    batchnorm_mode: &'static str,
    seconds: f64,
    curvature: &'static str,
    parameter_names: &'a [ParamTensor],
    batch_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selected_parameters: Option<&'a [ParamTensor]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selected_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    escape: Option<Option<EscapeJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_estimate: Option<TraceJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    density: Option<DensityJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buffers: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_format: Option<&'static str>,
}

impl<'a> AnalyzeJson<'a> {
    /// The report of `analysis` of `subject`, with the estimates of `extras`.
    pub(super) fn new(
        subject: &'a Subject<'_>,
        analysis: &'a Analysis,
        extras: &'a Extras,
    ) -> Self {
        let scope = subject.scope;
        let withheld = scope.no_verdict();
        let verdict = &analysis.verdict;
        let applies = withheld.is_none();
        let trace_estimate = extras.trace.as_ref().map(|(t, seconds)| TraceJson {
            estimate: t.estimate,
            std_error: t.std_error,
            hvps: t.n_matvecs,
            seed: t.seed,
            method: "hutch++",
            seconds: *seconds,
        });
        let (trace, trace_std_error) = match (&extras.trace, analysis.trace) {
            (Some((t, _)), _) => (Some(t.estimate), Some(t.std_error)),
            (None, Some(exact)) => (Some(exact), Some(0.0)),
            (None, None) => (None, None),
        };
        let (buffers, model_format) = match &subject.format {
            ModelFormat::Onnx { buffers, .. } => (Some(buffers.as_slice()), Some("onnx")),
            ModelFormat::Mlp { .. } => (None, None),
        };
        let ev = &analysis.eigenvalues;
        AnalyzeJson {
            parameters: subject.parameters,
            samples: subject.samples,
            loss: analysis.loss,
            accuracy: subject.accuracy,
            gradient_norm: analysis.gradient_norm,
            eigenvalues: &ev[ev.len() - analysis.reported..],
            residuals: analysis.residuals.as_deref(),
            converged: analysis.converged.as_ref(),
            lambda_min: analysis.lambda_min,
            lambda_max: analysis.lambda_max,
            counts: analysis.counts,
            zero_threshold: verdict.zero_threshold,
            kind: verdict.kind.filter(|_| applies),
            index: verdict.index.filter(|_| applies),
            index_at_least: match (applies, analysis.method) {
                (false, _) => Some(None),
                (true, AnalyzeMethod::Lanczos) => Some(verdict.index_at_least),
                (true, _) => None,
            },
            minimum_ratio: verdict.minimum_ratio.filter(|_| applies),
            kind_note: withheld.or_else(|| verdict.note.clone()),
            trace,
            trace_std_error,
            method: analysis.method.name(),
            backend: analysis.backend.map(EigenBackend::name),
            lanczos: analysis.lanczos.as_ref(),
            loss_kind: subject.loss_kind.name(),
            batchnorm_mode: subject.batchnorm_mode.name(),
            seconds: analysis.seconds,
            curvature: scope.curvature.name(),
            parameter_names: &scope.tensors,
            batch_size: scope.batch_size,
            selected_parameters: scope.selected.as_deref(),
            selected_count: scope.selected_count(),
            escape: analysis
                .escape
                .as_ref()
                .map(|e| e.as_ref().map(EscapeJson::new)),
            trace_estimate,
            density: extras
                .density
                .as_ref()
                .map(|(d, runs, steps, seconds)| DensityJson {
                    grid: &d.grid,
                    values: &d.density,
                    sigma: d.sigma,
                    integral: d.integral(),
                    runs: *runs,
                    steps: *steps,
                    first_moment: d.first_moment,
                    second_moment: d.second_moment,
                    hvps: d.n_hvps,
                    seed: d.seed,
                    runs_quadrature: &d.runs,
                    seconds: *seconds,
                }),
            buffers,
            model_format,
        }
    }
}

/// Prints the report: one JSON object with `--json`, else the summary of the model's format.
pub(super) fn print(
    json: bool,
    subject: &Subject<'_>,
    analysis: &Analysis,
    extras: &Extras,
) -> Result<()> {
    if json {
        return print_json(&serde_json::to_value(AnalyzeJson::new(
            subject, analysis, extras,
        ))?);
    }
    match &subject.format {
        ModelFormat::Mlp { sizes } => print_mlp(subject, sizes, analysis)?,
        ModelFormat::Onnx { tensors, .. } => print_onnx(subject, *tensors, analysis, extras)?,
    }
    if let Some(Some(e)) = &analysis.escape {
        outln!(
            "escape: along λ = {} by {}: loss {} -> {}",
            json_number(e.eigenvalue),
            json_number(e.step),
            json_number(e.value_before),
            json_number(e.value_after)
        )?;
    }
    print_extras(extras)
}

/// A number as the JSON writes it (shortest round-trip form, `null` when not finite).
fn json_number(x: f64) -> String {
    serde_json::Value::from(x).to_string()
}

/// The lines every summary starts with: loss, accuracy (classification), gradient norm.
fn print_fit(subject: &Subject<'_>, analysis: &Analysis) -> Result<()> {
    outln!("loss           {:.10}", analysis.loss)?;
    if let Some(acc) = subject.accuracy {
        outln!("accuracy       {acc:.4}")?;
    }
    outln!("gradient norm  {:.3e}", analysis.gradient_norm)?;
    Ok(())
}

/// The MLP summary: a layout per method.
fn print_mlp(subject: &Subject<'_>, sizes: &[usize], analysis: &Analysis) -> Result<()> {
    let scope = subject.scope;
    let (model, samples) = (subject.path.display(), subject.samples);
    let (loss_kind, mode) = (subject.loss_kind.name(), subject.batchnorm_mode.name());
    let n = analysis.dim;
    let seconds = analysis.seconds;
    let v = &analysis.verdict;
    let ev = &analysis.eigenvalues;
    let verdict_line = |method: &str| -> Result<()> {
        if scope.no_verdict().is_none() {
            outln!(
                "kind {}   index {}   minimum ratio {:.4}   ({seconds:.2} s, {method}, {})",
                v.kind.map_or("undecided", CriticalKind::name),
                v.index.unwrap_or(0),
                v.minimum_ratio.unwrap_or(f64::NAN),
                analysis.backend.map_or("", EigenBackend::name)
            )?;
        }
        Ok(())
    };
    match analysis.method {
        AnalyzeMethod::Dense => {
            let widths: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
            outln!(
                "model {model} ({} parameters, {}), {samples} samples, loss {loss_kind}, batch norm {mode}",
                subject.parameters,
                widths.join("-"),
            )?;
            scope.print()?;
            print_fit(subject, analysis)?;
            outln!(
                "eigenvalues    min {:.6e}  max {:.6e}  trace {:.6e}",
                ev.first().copied().unwrap_or(0.0),
                ev.last().copied().unwrap_or(0.0),
                analysis.trace.unwrap_or(0.0)
            )?;
            let top: Vec<String> = ev
                .iter()
                .rev()
                .take(10)
                .map(|l| format!("{l:.4e}"))
                .collect();
            outln!("largest        {}", top.join(", "))?;
            verdict_line("dense")?;
        }
        AnalyzeMethod::Inertia => {
            outln!(
                "model {model} ({n} parameters), {samples} samples, loss {loss_kind}, batch norm {mode}"
            )?;
            scope.print()?;
            print_fit(subject, analysis)?;
            let (lo, hi) = (
                analysis.lambda_min.unwrap_or(f64::NAN),
                analysis.lambda_max.unwrap_or(f64::NAN),
            );
            let (r_lo, r_hi) = analysis.end_residuals.unwrap_or((f64::NAN, f64::NAN));
            // Ritz values always lie inside the spectrum; unconverged, they are bounds only.
            let (le, ge) = match analysis.converged {
                Some(Converged::Both(false)) => ("<= ", ">= "),
                _ => ("", ""),
            };
            outln!(
                "eigenvalues    min {le}{lo:.6e} (residual {r_lo:.1e})  max {ge}{hi:.6e} (residual {r_hi:.1e})  trace {:.6e}",
                analysis.trace.unwrap_or(f64::NAN)
            )?;
            let counts = analysis.counts.unwrap_or_default();
            outln!(
                "counts         {} negative, {} zero (|λ| <= {:.1e}), {} positive",
                counts.negative,
                counts.zero,
                v.zero_threshold,
                counts.positive
            )?;
            verdict_line("inertia")?;
        }
        AnalyzeMethod::Lanczos => {
            outln!(
                "model {model} ({n} parameters), {samples} samples, loss {loss_kind}, batch norm {mode}"
            )?;
            scope.print()?;
            print_fit(subject, analysis)?;
            for (l, res) in ev.iter().zip(analysis.residuals.as_deref().unwrap_or(&[])) {
                outln!("eigenvalue     {l:>14.6e}   residual {res:.1e}")?;
            }
            let (hvps, steps) = analysis
                .lanczos
                .as_ref()
                .map_or((0, 0), |r| (r.hvps, r.iterations));
            outln!(
                "kind {}   index {}   ({}; {hvps} products, {steps} steps, {seconds:.2} s, lanczos)",
                v.kind.map_or("undecided", CriticalKind::name),
                v.index.map_or("unknown".to_string(), |i| i.to_string()),
                v.note.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(())
}

/// The ONNX summary: one layout for every method, `unknown` where the JSON has null.
fn print_onnx(
    subject: &Subject<'_>,
    tensors: usize,
    analysis: &Analysis,
    extras: &Extras,
) -> Result<()> {
    let scope = subject.scope;
    outln!(
        "model {} ({} parameters in {tensors} tensors, onnx), {} samples, loss {}",
        subject.path.display(),
        analysis.dim,
        subject.samples,
        subject.loss_kind.name()
    )?;
    scope.print()?;
    print_fit(subject, analysis)?;
    let report = AnalyzeJson::new(subject, analysis, extras);
    let sci = |x: Option<f64>| match x {
        Some(f) if f.is_finite() => format!("{f:.6e}"),
        _ => "unknown".to_string(),
    };
    outln!(
        "eigenvalues    min {}  max {}  trace {}",
        sci(report.lambda_min),
        sci(report.lambda_max),
        sci(report.trace)
    )?;
    outln!(
        "kind {}   index {}   minimum ratio {}   ({:.2} s, {})",
        report.kind.map_or("unknown", CriticalKind::name),
        report
            .index
            .map_or("unknown".to_string(), |i| i.to_string()),
        sci(report.minimum_ratio),
        analysis.seconds,
        analysis.method.name()
    )?;
    if let (Some(note), None) = (&analysis.verdict.note, scope.no_verdict()) {
        outln!("note           {note}")?;
    }
    Ok(())
}

/// The lines of `--trace` and `--density`.
fn print_extras(extras: &Extras) -> Result<()> {
    if let Some((t, _)) = &extras.trace {
        outln!(
            "trace          {} ± {} (hutch++, {} products)",
            json_number(t.estimate),
            json_number(t.std_error),
            t.n_matvecs
        )?;
    }
    if let Some((d, runs, steps, _)) = &extras.density {
        outln!(
            "density        SLQ, {runs} runs x {steps} steps, σ = {}, mean eigenvalue {} ± {}",
            json_number(d.sigma),
            json_number(d.first_moment.mean),
            json_number(d.first_moment.std_error)
        )?;
    }
    Ok(())
}
