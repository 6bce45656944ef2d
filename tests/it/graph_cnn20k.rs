//! The 21 546-parameter digits CNN and the 64-128-128-10 digits MLP (fixtures/onnx/cnn20k_digits,
//! fixtures/onnx/mlp_digits, written by fixtures/onnx/generate_cnn20k.py) against torch's
//! float64 references: loss, gradient norm, one Hessian-vector product, and the CNN's largest
//! eigenvalues (scipy `eigsh` on torch products) through `analyze --method lanczos`. The MLP's
//! product through the graph (its ONNX export) and through `NetLoss` (its nn.Sequential file).

use crate::util::{critpt_json, nums};
use critpt::graph::{load_onnx, GraphData, GraphLoss, GraphTargets, Tensor};
use critpt::nn::{load_model, BnMode, LossKind, NetLoss, Targets};
use critpt::objective::{Gradient, Hvp};
use nalgebra::DMatrix;
use std::path::{Path, PathBuf};

fn file(name: &str, f: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/onnx")
        .join(name)
        .join(f)
}

fn reference(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(file(name, "ref.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixtures' direction `((i·7919) mod 1000)/1000 − 0.5`.
fn direction(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect()
}

/// Loss to 1e-10, gradient norm to 1e-7 relative, and the product's norm, `vᵀHv` and entries
/// to 1e-9 of `‖Hv‖`.
fn check(obj: &(impl Gradient + Hvp), p: &[f64], r: &serde_json::Value) {
    let mut g = vec![0.0; p.len()];
    let loss = obj.loss_and_gradient(p, &mut g).unwrap();
    let want = r["loss"].as_f64().unwrap();
    assert!((loss - want).abs() <= 1e-10, "loss {loss} vs {want}");
    let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let want = r["gradient_norm"].as_f64().unwrap();
    assert!(
        (gn - want).abs() <= 1e-7 * want,
        "gradient norm {gn} vs {want}"
    );
    let v = direction(p.len());
    let mut hv = vec![0.0; p.len()];
    obj.hvp(p, &v, &mut hv).unwrap();
    let h = &r["hvp"];
    let norm = h["norm"].as_f64().unwrap();
    let got = hv.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((got - norm).abs() <= 1e-9 * norm, "|Hv| {got} vs {norm}");
    let vhv: f64 = v.iter().zip(&hv).map(|(a, b)| a * b).sum();
    let want = h["vhv"].as_f64().unwrap();
    assert!((vhv - want).abs() <= 1e-9 * norm, "vHv {vhv} vs {want}");
    for e in h["entries"].as_array().unwrap() {
        let i = e["index"].as_u64().unwrap() as usize;
        let want = e["value"].as_f64().unwrap();
        assert!(
            (hv[i] - want).abs() <= 1e-9 * norm,
            "(Hv)[{i}] {} vs {want}",
            hv[i]
        );
    }
}

#[test]
fn cnn20k_loss_gradient_and_product_match_pytorch() {
    let r = reference("cnn20k_digits");
    let g = load_onnx(&file("cnn20k_digits", "model.onnx")).unwrap();
    assert_eq!(g.n_params(), 21_546);
    assert_eq!(g.n_params() as u64, r["parameters"].as_u64().unwrap());
    let data = GraphData::load(&file("cnn20k_digits", "data.safetensors")).unwrap();
    assert_eq!(data.n_samples(), 1797);
    let obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).unwrap();
    check(&obj, g.initial_params(), &r);
}

#[test]
fn cnn20k_largest_eigenvalues_match_pytorch_through_cli_lanczos() {
    let r = reference("cnn20k_digits");
    let v = critpt_json(&[
        "analyze",
        "--model",
        &file("cnn20k_digits", "model.onnx").display().to_string(),
        "--data",
        &file("cnn20k_digits", "data.safetensors")
            .display()
            .to_string(),
        "--method",
        "lanczos",
        "--top",
        "5",
        "--which",
        "largest",
    ]);
    let want = nums(&r["top_eigenvalues"]);
    let lmax = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let ev = nums(&v["eigenvalues"]);
    assert_eq!(ev.len(), 5);
    for (a, b) in ev.iter().zip(&want[want.len() - 5..]) {
        assert!((a - b).abs() <= 1e-8 * lmax, "{a} vs {b} (|λmax| {lmax})");
    }
    let loss = r["loss"].as_f64().unwrap();
    assert!((v["loss"].as_f64().unwrap() - loss).abs() <= 1e-10);
}

#[test]
fn mlp_graph_and_netloss_match_pytorch() {
    let r = reference("mlp_digits");
    let g = load_onnx(&file("mlp_digits", "model.onnx")).unwrap();
    let images = GraphData::load(&file("cnn20k_digits", "data.safetensors")).unwrap();
    let n = images.n_samples();
    let GraphTargets::Labels(labels) = images.y.clone() else {
        panic!("labels")
    };
    let flat = Tensor::new(vec![n, 64], images.x.data.clone()).unwrap();
    let data = GraphData::new(flat, GraphTargets::Labels(labels.clone())).unwrap();
    let graph_obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).unwrap();
    check(&graph_obj, g.initial_params(), &r);
    let m = load_model(&file("mlp_digits", "model.safetensors"), None).unwrap();
    assert_eq!(m.model.params, g.initial_params());
    let x = DMatrix::from_row_slice(n, 64, &images.x.data);
    let net = NetLoss::from_parts(
        &m.model,
        x,
        Targets::Labels(labels),
        LossKind::CrossEntropy,
        BnMode::Eval,
    )
    .unwrap();
    check(&net, &m.model.params, &r);
}
