//! ONNX models against PyTorch's float64 references (fixtures/onnx/*/ref.json): loss, gradient
//! norm and every Hessian eigenvalue, through the library and the CLI; malformed ONNX input is
//! a one-line error.

use crate::util::{critpt, critpt_json, nums};
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

fn path_str(name: &str, file: &str) -> String {
    dir(name).join(file).display().to_string()
}

#[test]
fn lenet_matches_pytorch_through_the_cli() {
    let r = reference("lenet_digits");
    let v = critpt_json(&[
        "analyze",
        "--model",
        &path_str("lenet_digits", "model.onnx"),
        "--data",
        &path_str("lenet_digits", "data.safetensors"),
        "--method",
        "dense",
    ]);
    assert!((v["loss"].as_f64().unwrap() - r["loss"].as_f64().unwrap()).abs() <= 1e-10);
    let gn = r["gradient_norm"].as_f64().unwrap();
    assert!((v["gradient_norm"].as_f64().unwrap() - gn).abs() <= 1e-7 * gn);
    let ev = nums(&v["eigenvalues"]);
    let want = nums(&r["eigenvalues"]);
    let lmax = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert_eq!(ev.len(), want.len());
    for (a, b) in ev.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-8 * lmax, "{a} vs {b}");
    }
    let t = r["trace"].as_f64().unwrap();
    assert!((v["trace"].as_f64().unwrap() - t).abs() <= 1e-8 * t.abs());
    let names: Vec<&str> = v["parameter_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "conv1.weight");
    assert_eq!(
        v["parameter_names"][4]["shape"],
        serde_json::json!([10, 32])
    );
}

#[test]
fn resblock_extremes_match_pytorch_through_cli_lanczos() {
    let r = reference("resblock_digits");
    let v = critpt_json(&[
        "analyze",
        "--model",
        &path_str("resblock_digits", "model.onnx"),
        "--data",
        &path_str("resblock_digits", "data.safetensors"),
        "--method",
        "lanczos",
        "--top",
        "3",
        "--lanczos-tol",
        "1e-10",
        "--trace",
        "--hvps",
        "30",
        "--density",
        "--density-runs",
        "2",
        "--density-steps",
        "20",
    ]);
    assert!((v["loss"].as_f64().unwrap() - r["loss"].as_f64().unwrap()).abs() <= 1e-10);
    let want = nums(&r["eigenvalues"]);
    let lmax = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let ev = nums(&v["eigenvalues"]);
    let expected: Vec<f64> = want[..3]
        .iter()
        .chain(&want[want.len() - 3..])
        .copied()
        .collect();
    for (a, b) in ev.iter().zip(&expected) {
        assert!((a - b).abs() <= 1e-8 * lmax, "{a} vs {b}");
    }
    // Hutch++ with a standard error, and a density that integrates to one.
    let t = r["trace"].as_f64().unwrap();
    let est = v["trace_estimate"]["estimate"].as_f64().unwrap();
    let se = v["trace_estimate"]["std_error"].as_f64().unwrap();
    assert!(
        (est - t).abs() <= 6.0 * se + 1e-9,
        "trace {est} ± {se} vs {t}"
    );
    assert!((v["density"]["integral"].as_f64().unwrap() - 1.0).abs() < 1e-2);
}

/// Writes `bytes` to a fresh file in the target directory and returns its path.
fn scratch(name: &str, bytes: &[u8]) -> String {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("onnx_errors");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// Runs `analyze` and returns the one stderr line, asserting exit code 1.
fn one_line_error(model: &str, data: &str) -> String {
    let out = critpt(&["analyze", "--model", model, "--data", data]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn malformed_onnx_input_gives_one_line_errors() {
    let model = std::fs::read(dir("lenet_digits").join("model.onnx")).unwrap();
    let data = path_str("lenet_digits", "data.safetensors");
    for cut in [7, model.len() / 3, model.len() / 2, model.len() - 5] {
        let p = scratch(&format!("truncated_{cut}.onnx"), &model[..cut]);
        let e = one_line_error(&p, &data);
        assert!(
            e.contains("not a valid ONNX file") || e.contains("needs"),
            "{e}"
        );
    }
    let mut state = 12345u64;
    let garbage: Vec<u8> = (0..4000)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect();
    let e = one_line_error(&scratch("garbage.onnx", &garbage), &data);
    assert!(e.contains("not a valid ONNX file"), "{e}");
    let e = one_line_error(&scratch("empty.onnx", b""), &data);
    assert!(e.contains("not a valid ONNX file"), "{e}");
    let e = one_line_error(&path_str("bad", "unsupported_op.onnx"), &data);
    assert!(
        e.contains("unsupported op 'Cos'") && e.contains("supported: Add"),
        "{e}"
    );
    let e = one_line_error(
        &path_str("bad", "runtime_shape.onnx"),
        &path_str("resblock_digits", "data.safetensors"),
    );
    assert!(e.contains("unsupported op 'Shape'"), "{e}");
    let e = one_line_error(
        &path_str("bad", "shape_mismatch.onnx"),
        &path_str("resblock_digits", "data.safetensors"),
    );
    assert!(e.contains("do not multiply"), "{e}");
    let e = one_line_error(
        &path_str("bad", "huge_initializer.onnx"),
        &path_str("resblock_digits", "data.safetensors"),
    );
    assert!(
        e.contains("exceeds the limit") || e.contains("the file holds"),
        "{e}"
    );
    // Data that does not fit the model, each naming both sides.
    let e = one_line_error(
        &path_str("lenet_digits", "model.onnx"),
        &path_str("resblock_digits", "data.safetensors"),
    );
    assert!(e.contains("[N, 1, 8, 8]") && e.contains("[300, 64]"), "{e}");
    for (name, contains) in [
        (
            "labels_out_of_range.safetensors",
            "out of range for the model's 10 outputs",
        ),
        ("integer_x.safetensors", "x must be f32 or f64"),
        ("float_y_rank1.safetensors", "y must be int64 labels"),
        ("fewer_labels.safetensors", "x has 4 samples, y has 3"),
    ] {
        let e = one_line_error(
            &path_str("resblock_digits", "model.onnx"),
            &path_str("bad", name),
        );
        assert!(e.contains(contains), "{name}: {e}");
    }
    let e = one_line_error(
        &path_str("resblock_digits", "model.onnx"),
        &scratch("not_safetensors.safetensors", b"hello"),
    );
    assert!(e.contains("not a safetensors file"), "{e}");
}
