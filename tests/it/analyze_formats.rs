//! `analyze` on one model in both formats: the 64-128-128-10 digits MLP as an ONNX graph and as
//! nn.Sequential safetensors with the same weights (`fixtures/onnx/mlp_digits`). The two loss
//! engines are independent (the op graph and `NetLoss`), so agreement checks both, and the two
//! reports must carry the same fields: the ONNX one adds only `buffers` and `model_format`.

use crate::util::{assert_all_close, critpt_json, nums};
use std::collections::BTreeSet;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/onnx/mlp_digits");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv");

fn both(extra: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let onnx = format!("{DIR}/model.onnx");
    let mlp = format!("{DIR}/model.safetensors");
    let mut a = vec!["analyze", "--model", &onnx, "--data", DATA];
    a.extend_from_slice(extra);
    let mut b = vec![
        "analyze",
        "--model",
        &mlp,
        "--activation",
        "tanh",
        "--data",
        DATA,
    ];
    b.extend_from_slice(extra);
    (critpt_json(&a), critpt_json(&b))
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn assert_same_report(onnx: &serde_json::Value, mlp: &serde_json::Value, what: &str) {
    let mut expected = keys(mlp);
    expected.extend(["buffers".to_string(), "model_format".to_string()]);
    assert_eq!(keys(onnx), expected, "{what}: the ONNX report's fields");
    assert_eq!(onnx["model_format"], "onnx");
    for key in [
        "parameters",
        "samples",
        "method",
        "curvature",
        "kind",
        "index",
        "index_at_least",
        "kind_note",
        "selected_count",
        "parameter_names",
        "selected_parameters",
        "loss_kind",
        "backend",
    ] {
        assert_eq!(onnx.get(key), mlp.get(key), "{what}: {key}");
    }
    for key in ["loss", "gradient_norm", "accuracy", "zero_threshold"] {
        let (g, w) = (onnx[key].as_f64().unwrap(), mlp[key].as_f64().unwrap());
        assert_all_close(&format!("{what}: {key}"), &[g], &[w], 1e-12);
    }
    assert_all_close(
        &format!("{what}: eigenvalues"),
        &nums(&onnx["eigenvalues"]),
        &nums(&mlp["eigenvalues"]),
        1e-11,
    );
}

/// Lanczos over all 26 122 parameters: the same extremes, verdict and fields.
#[test]
fn lanczos_reports_of_the_two_formats_agree() {
    let (onnx, mlp) = both(&["--method", "lanczos", "--which", "largest", "--top", "2"]);
    assert_same_report(&onnx, &mlp, "lanczos");
    assert_eq!(onnx["hvps"], mlp["hvps"]);
}

/// The dense Hessian of the output layer's bias block: the same spectrum and fields, the
/// block's verdict withheld in both.
#[test]
fn dense_block_reports_of_the_two_formats_agree() {
    let (onnx, mlp) = both(&["--method", "dense", "--params", "4.bias"]);
    assert_same_report(&onnx, &mlp, "dense block");
    assert_eq!(mlp["selected_count"], 10);
    assert!(onnx["kind"].is_null() && onnx["index_at_least"].is_null());
    // The eigenvalues-only backend analyze picks: LAPACK's two-stage route when built in.
    let fastest = if cfg!(feature = "lapack") {
        "lapack"
    } else {
        "faer"
    };
    assert_eq!(onnx["backend"], fastest);
    assert_eq!(mlp["backend"], fastest);
}

/// `--escape` on an ONNX graph: the summary prints the step as the MLP summary does, along the
/// smallest eigenvalue of the dense spectrum (found again by Lanczos for the step).
#[test]
fn onnx_escape_is_in_both_reports() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/onnx/convbn_mse");
    let model = format!("{dir}/model.onnx");
    let data = format!("{dir}/data.safetensors");
    let args = [
        "analyze", "--model", &model, "--data", &data, "--loss", "mse", "--escape",
    ];
    let v = critpt_json(&args);
    let lambda_min = v["lambda_min"].as_f64().unwrap();
    let e = &v["escape"];
    let lambda = e["eigenvalue"].as_f64().unwrap();
    assert_all_close("escape eigenvalue", &[lambda], &[lambda_min], 1e-10);
    assert!(e["loss_after"].as_f64().unwrap() < e["loss_before"].as_f64().unwrap());
    let out = crate::util::critpt(&args);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("escape: along λ = "))
        .unwrap_or_else(|| panic!("no escape line in:\n{text}"));
    assert!(line.contains(&format!("-> {}", e["loss_after"])), "{line}");
}
