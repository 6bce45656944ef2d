//! `critpt analyze --model m.onnx --data d.safetensors`: the curvature of an ONNX graph's loss,
//! by the same methods as the MLP path (`dense`, `lanczos`, `--trace`, `--density`), with the
//! same `--curvature`, `--params` and `--batch-size`; the data may also be a CSV file reshaped
//! into the model's input (`--target` as for MLPs), and batch norm may use the data's own
//! statistics (`--batchnorm-mode train`).

use super::analyze::{escape_json, print_fit, AnalyzeArgs, AnalyzeMethod, Extras, Scope};
use super::common::print_json;
use super::out::outln;
use anyhow::{bail, Result};
use critpt::critical::{classify_extremes, classify_point};
use critpt::curvature::{CurvatureOperator, Lanczos, Restricted};
use critpt::graph::{
    data_chunks, graph_operator, load_onnx_with, GraphData, GraphLoss, ImportOptions,
};
use critpt::nn::{BnMode, LossKind};
use serde_json::json;
use std::process::ExitCode;

/// Runs `critpt analyze` on an ONNX model.
pub fn run(a: &AnalyzeArgs) -> Result<ExitCode> {
    for (given, flag) in [
        (a.activation.is_some(), "--activation"),
        (a.standardize, "--standardize"),
    ] {
        if given {
            bail!(
                "{flag} does not apply to ONNX models (the graph fixes its activations and inputs)"
            );
        }
    }
    let batchnorm = a.batchnorm_mode;
    if a.method == Some(AnalyzeMethod::Inertia) {
        bail!("--method inertia is not available for ONNX models; use dense or lanczos");
    }
    if a.top == Some(0) {
        bail!("--top must be at least 1, got 0");
    }
    let kind: LossKind = match &a.loss {
        Some(l) => *l,
        None => LossKind::CrossEntropy,
    };
    let graph = load_onnx_with(&a.model, ImportOptions { batchnorm })?;
    let Some(data_arg) = a.data.as_deref() else {
        bail!(
            "ONNX models record no training data: give --data D.safetensors with x [N, ...] and y, or a CSV file"
        );
    };
    let target = super::train::targets(&a.target);
    let data = GraphData::load_for(&graph, data_arg, target.as_deref(), kind, a.seed)?;
    if batchnorm == BnMode::Train && data.n_samples() < 2 {
        bail!(
            "--batchnorm-mode train needs at least 2 samples (the batch statistics of {data_arg} are those of 1 sample)"
        );
    }
    let scope = Scope::new(a, graph.param_tensors())?;
    if a.batch_size.is_some() && graph.has_batch_statistics() {
        bail!(
            "--batch-size cannot be used with --batchnorm-mode train: batch statistics couple every sample, so the loss does not split into chunks"
        );
    }
    let whole =
        GraphLoss::new(&graph, &data, kind).map_err(|e| anyhow::anyhow!("{data_arg}: {e}"))?;
    let chunk_data = match a.batch_size {
        Some(b) => data_chunks(&data, b)?,
        None => Vec::new(),
    };
    let mut parts = Vec::with_capacity(chunk_data.len());
    for d in &chunk_data {
        parts.push(GraphLoss::new(&graph, d, kind)?);
    }
    let full = graph_operator(
        if parts.is_empty() {
            std::slice::from_ref(&whole)
        } else {
            &parts
        },
        scope.curvature,
    )?;
    let restricted;
    let (obj, point): (&dyn CurvatureOperator, Vec<f64>) = match scope.indices() {
        Some(idx) => {
            restricted = Restricted::new(&*full, graph.initial_params(), idx)?;
            let p = restricted.point();
            (&restricted, p)
        }
        None => (&*full, graph.initial_params().to_vec()),
    };
    let params = point.as_slice();
    let n = params.len();
    let method = a.method_for(n).name();
    let tol = a.tolerances()?;
    if method == "dense" {
        critpt::limits::check_dense_params(n)?;
    }
    if method == "lanczos" && a.escape {
        bail!("--escape needs the dense Hessian; use --method dense");
    }
    let extras = Extras::compute(a, obj, params, method == "dense")?;
    // Chunk by chunk with --batch-size, so no pass holds every sample.
    let accuracy = if parts.is_empty() {
        whole.accuracy(graph.initial_params())?
    } else {
        let mut hits = Some(0.0);
        for p in &parts {
            let acc = p.accuracy(graph.initial_params())?;
            hits = hits
                .zip(acc)
                .map(|(h, a)| h + a * p.data().n_samples() as f64);
        }
        hits.map(|h| h / data.n_samples() as f64)
    };
    let start = std::time::Instant::now();
    let mut v = json!({
        "parameters": graph.n_params(),
        "buffers": graph.buffer_names(),
        "samples": data.n_samples(),
        "accuracy": accuracy,
        "loss_kind": kind.name(),
        "batchnorm_mode": batchnorm.name(),
        "method": method,
        "model_format": "onnx",
    });
    if method == "dense" {
        let cp = classify_point(obj, params, &tol)?;
        let ev = cp.spectrum.eigenvalues();
        let reported: &[f64] = match a.top {
            Some(k) => &ev[ev.len().saturating_sub(k)..],
            None => ev,
        };
        v["loss"] = json!(cp.value);
        v["gradient_norm"] = json!(cp.gradient_norm);
        v["eigenvalues"] = json!(reported);
        v["lambda_min"] = json!(ev.first());
        v["lambda_max"] = json!(ev.last());
        v["kind"] = json!(cp.kind);
        v["index"] = json!(cp.index);
        v["minimum_ratio"] = json!(cp.minimum_ratio);
        v["trace"] = json!(ev.iter().sum::<f64>());
        v["trace_std_error"] = json!(0.0);
        if a.escape {
            v["escape"] = escape_json(a, obj, params, &tol).unwrap_or(serde_json::Value::Null);
        }
    } else {
        let k = a.top.unwrap_or(5);
        let mut grad = vec![0.0; n];
        let loss = obj.loss_and_gradient(params, &mut grad)?;
        let gradient_norm = critpt::objective::norm(&grad);
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
            .run(obj, params)?;
        let ev = r.spectrum.eigenvalues();
        let verdict = classify_extremes(&r, which, k, n, gradient_norm, loss, &tol);
        v["loss"] = json!(loss);
        v["gradient_norm"] = json!(gradient_norm);
        v["eigenvalues"] = json!(ev);
        v["residuals"] = json!(r.residuals);
        v["converged"] = json!(r.converged);
        v["lambda_min"] = json!(ev.first());
        v["lambda_max"] = json!(ev.last());
        v["kind"] = json!(verdict.kind);
        v["kind_note"] = json!(verdict.note);
        v["index"] = json!(verdict.index);
        v["index_at_least"] = json!(verdict.index_at_least);
        v["minimum_ratio"] = json!(verdict.minimum_ratio);
        v["zero_threshold"] = json!(verdict.zero_threshold);
        v["which"] = json!(which.name());
        v["restarts"] = json!(r.restarts);
        v["block_size"] = json!(r.block_size);
        v["basis_size"] = json!(r.basis_size);
        v["trace"] = serde_json::Value::Null;
        v["trace_std_error"] = serde_json::Value::Null;
        v["top"] = json!(k);
        v["hvps"] = json!(r.n_hvps);
        v["iterations"] = json!(r.iterations);
        v["seed"] = json!(r.seed);
    }
    v["seconds"] = json!(start.elapsed().as_secs_f64());
    if scope.selected.is_some() {
        let g = critpt::objective::gradient_vec(&*full, graph.initial_params())?;
        v["gradient_norm"] = json!(critpt::objective::norm(&g));
    }
    scope.add_to(&mut v);
    extras.add_to(&mut v);
    if a.json {
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "model {} ({n} parameters in {} tensors, onnx), {} samples, loss {}",
        a.model.display(),
        graph.params().len(),
        data.n_samples(),
        kind.name()
    )?;
    scope.print()?;
    print_fit(
        v["loss"].as_f64().unwrap_or(f64::NAN),
        accuracy,
        v["gradient_norm"].as_f64().unwrap_or(f64::NAN),
    )?;
    let show = |key: &str| match &v[key] {
        serde_json::Value::Null => "unknown".to_string(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(x) => match x.as_f64() {
            Some(f) if x.is_f64() => format!("{f:.6e}"),
            _ => x.to_string(),
        },
        other => other.to_string(),
    };
    outln!(
        "eigenvalues    min {}  max {}  trace {}",
        show("lambda_min"),
        show("lambda_max"),
        show("trace")
    )?;
    outln!(
        "kind {}   index {}   minimum ratio {}   ({:.2} s, {method})",
        show("kind"),
        show("index"),
        show("minimum_ratio"),
        v["seconds"].as_f64().unwrap_or(0.0)
    )?;
    if let (Some(note), None) = (v.get("kind_note"), scope.no_verdict()) {
        outln!("note           {}", note.as_str().unwrap_or(""))?;
    }
    extras.print()?;
    Ok(ExitCode::SUCCESS)
}
