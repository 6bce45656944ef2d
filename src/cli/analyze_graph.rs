//! `critpt analyze --model m.onnx --data d.safetensors`: the curvature of an ONNX graph's loss,
//! by the same methods as the MLP path (`dense`, `lanczos`, `--trace`, `--density`), with the
//! same `--curvature`, `--params` and `--batch-size`; the data may also be a CSV file reshaped
//! into the model's input (`--target` as for MLPs), and batch norm may use the data's own
//! statistics (`--batchnorm-mode train`).

use super::analyze::{AnalyzeArgs, AnalyzeMethod, Scope};
use super::analyze_methods::analyze_and_report;
use super::analyze_report::{ModelFormat, Subject};
use anyhow::{bail, Result};
use critpt::graph::{
    data_chunks, graph_operator, load_onnx_with, GraphData, GraphLoss, ImportOptions,
};
use critpt::nn::{BnMode, LossKind};
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
    let subject = Subject {
        path: &a.model,
        parameters: graph.n_params(),
        samples: data.n_samples(),
        accuracy,
        loss_kind: kind,
        batchnorm_mode: batchnorm,
        scope: &scope,
        format: ModelFormat::Onnx {
            buffers: graph.buffer_names().into_iter().map(String::from).collect(),
            tensors: graph.params().len(),
        },
    };
    analyze_and_report(a, &subject, &*full, graph.initial_params())?;
    Ok(ExitCode::SUCCESS)
}
