//! The Gauss–Newton matrix, the empirical Fisher, parameter blocks and chunked data against
//! PyTorch's float64 references: fixtures/onnx/*/ref.json (`ggn_eigenvalues`,
//! `empirical_fisher_eigenvalues`, `block`, `eigenvalues`) for graphs, and
//! fixtures/torch_curvature.json (fixtures/generate_torch_curvature.py) for MLPs, through the
//! library and the CLI.

use crate::util::{critpt, critpt_json, nums};
use critpt::curvature::{
    select_tensors, symmetric_eigenvalues, tensor_indices, Chunked, Curvature, EigenBackend,
    Restricted,
};
use critpt::graph::{data_chunks, load_onnx, GraphData, GraphGaussNewton, GraphLoss};
use critpt::nn::{load_model, BnMode, Dataset, LossKind, NetGaussNewton, NetLoss, Task};
use critpt::objective::{Hessian, Hvp, Loss};
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn onnx_dir(name: &str) -> PathBuf {
    repo("fixtures/onnx").join(name)
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn eigenvalues<O: Hessian + ?Sized>(obj: &O, p: &[f64]) -> Vec<f64> {
    let h = obj.hessian(p).unwrap();
    symmetric_eigenvalues(&h, EigenBackend::default()).unwrap()
}

/// Every eigenvalue within `1e-8 · |λmax|` of the reference (both ascending).
fn assert_spectrum(got: &[f64], want: &[f64], what: &str) {
    assert_spectrum_to(got, want, 1e-8, what);
}

/// Every eigenvalue within `rel · |λmax|` of the reference (both ascending).
fn assert_spectrum_to(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: eigenvalue count");
    let lmax = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= rel * lmax,
        "{what}: worst eigenvalue error {worst:e} (|λmax| {lmax})"
    );
}

fn graph_case(name: &str) -> (critpt::graph::Graph, GraphData, serde_json::Value) {
    let r = json_file(&onnx_dir(name).join("ref.json"));
    let g = load_onnx(&onnx_dir(name).join("model.onnx")).unwrap();
    let d = GraphData::load(&onnx_dir(name).join("data.safetensors")).unwrap();
    (g, d, r)
}

fn check_graph_operators(name: &str) {
    let (g, data, r) = graph_case(name);
    let kind: LossKind = r["loss_kind"].as_str().unwrap().parse().unwrap();
    let obj = GraphLoss::new(&g, &data, kind).unwrap();
    let p = g.initial_params().to_vec();
    let ggn = GraphGaussNewton::new(&obj, Curvature::GaussNewton).unwrap();
    assert_spectrum(
        &eigenvalues(&ggn, &p),
        &nums(&r["ggn_eigenvalues"]),
        &format!("{name} ggn"),
    );
    let ef = eigenvalues(
        &GraphGaussNewton::new(&obj, Curvature::EmpiricalFisher).unwrap(),
        &p,
    );
    let want = nums(&r["empirical_fisher_eigenvalues"]);
    if name == "resblock_digits" {
        // ref.json is torch's model, whose GELU divides by √2 and whose LayerNorm adds 1e-5;
        // the ONNX file stores both in float32 (relative changes of 1.7e-8 and 2.5e-8), and the
        // empirical Fisher, a square of per-sample gradients, moves by 2e-8·|λmax|. Against
        // torch on the file's own constants the match is to rounding.
        let own = json_file(&repo("fixtures/torch_curvature.json"));
        let own = nums(&own["resblock_onnx_constants"]["empirical_fisher_eigenvalues"]);
        assert_spectrum_to(&ef, &own, 1e-12, "resblock ef, the file's constants");
        assert_spectrum_to(&ef, &want, 3e-8, "resblock ef, torch's constants");
    } else {
        assert_spectrum(&ef, &want, &format!("{name} empirical fisher"));
    }
    let names: Vec<&str> = r["block"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let sel = select_tensors(&g.param_tensors(), &names.join(",")).unwrap();
    let block = Restricted::new(&obj, &p, tensor_indices(&sel)).unwrap();
    let got = eigenvalues(&block, &block.point());
    let want = nums(&r["block"]["eigenvalues"]);
    if name == "resblock_digits" {
        // As for the empirical Fisher: the file's float32 √2 and ε move the last layer's
        // features, and this block, by 1.3e-8·|λmax|.
        let own = json_file(&repo("fixtures/torch_curvature.json"));
        let own = nums(&own["resblock_onnx_constants"]["block_eigenvalues"]);
        assert_spectrum_to(&got, &own, 1e-12, "resblock block, the file's constants");
        assert_spectrum_to(&got, &want, 3e-8, "resblock block, torch's constants");
    } else {
        assert_spectrum(&got, &want, &format!("{name} block"));
    }
}

#[test]
fn lenet_ggn_fisher_and_block_match_pytorch() {
    check_graph_operators("lenet_digits");
}

#[test]
fn resblock_ggn_fisher_and_block_match_pytorch() {
    check_graph_operators("resblock_digits");
}

/// The Hessian of the data in chunks of 37 (300 samples: eight of 37 and one of 4) is the
/// whole batch's, and so are the loss and the GGN.
#[test]
fn lenet_in_chunks_of_37_matches_pytorch() {
    let (g, data, r) = graph_case("lenet_digits");
    let chunks = data_chunks(&data, 37).unwrap();
    assert_eq!(chunks.len(), 9);
    let losses: Vec<GraphLoss> = chunks
        .iter()
        .map(|d| GraphLoss::new(&g, d, LossKind::CrossEntropy).unwrap())
        .collect();
    let p = g.initial_params().to_vec();
    let sum = Chunked::new(losses.iter().collect()).unwrap();
    let loss = sum.loss(&p).unwrap();
    let want = r["loss"].as_f64().unwrap();
    assert!((loss - want).abs() <= 1e-12, "loss {loss} vs {want}");
    assert_spectrum(
        &eigenvalues(&sum, &p),
        &nums(&r["eigenvalues"]),
        "chunked hessian",
    );
    let ggn: Vec<GraphGaussNewton> = losses
        .iter()
        .map(|l| GraphGaussNewton::new(l, Curvature::GaussNewton).unwrap())
        .collect();
    let sum = Chunked::new(ggn).unwrap();
    assert_spectrum(
        &eigenvalues(&sum, &p),
        &nums(&r["ggn_eigenvalues"]),
        "chunked ggn",
    );
}

fn iris() -> Dataset {
    Dataset::from_csv(
        &repo("data/iris.csv"),
        None,
        Task::Classification { n_classes: Some(3) },
    )
    .unwrap()
}

fn mlp_case(key: &str) -> (critpt::nn::Mlp, NetLoss, serde_json::Value) {
    let fx = json_file(&repo("fixtures/torch_curvature.json"))[key].clone();
    let model = load_model(
        &repo(fx["model"].as_str().unwrap()),
        Some(critpt::nn::Activation::Tanh),
    )
    .unwrap()
    .model;
    let kind: LossKind = fx["loss_kind"].as_str().unwrap().parse().unwrap();
    let mode: BnMode = fx["batchnorm_mode"].as_str().unwrap().parse().unwrap();
    let obj = NetLoss::new(&model, &iris(), kind, mode).unwrap();
    (model, obj, fx)
}

/// GGN, empirical Fisher, a Hessian block and a GGN block of an MLP against torch (float64).
fn check_mlp(key: &str) {
    let (model, obj, fx) = mlp_case(key);
    let p = &model.params;
    let loss = obj.loss(p).unwrap();
    let want = fx["loss"].as_f64().unwrap();
    assert!(
        (loss - want).abs() <= 1e-12 * want,
        "{key} loss {loss} vs {want}"
    );
    for (c, field) in [
        (Curvature::GaussNewton, "ggn_eigenvalues"),
        (Curvature::EmpiricalFisher, "empirical_fisher_eigenvalues"),
    ] {
        let op = NetGaussNewton::new(&obj, c).unwrap();
        assert_spectrum(
            &eigenvalues(&op, p),
            &nums(&fx[field]),
            &format!("{key} {field}"),
        );
    }
    let spec: Vec<&str> = fx["block"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let sel = select_tensors(&model.param_tensors(), &spec.join(",")).unwrap();
    let idx = tensor_indices(&sel);
    let block = Restricted::new(&obj, p, idx.clone()).unwrap();
    assert_spectrum(
        &eigenvalues(&block, &block.point()),
        &nums(&fx["block_eigenvalues"]),
        &format!("{key} hessian block"),
    );
    let ggn = NetGaussNewton::new(&obj, Curvature::GaussNewton).unwrap();
    let block = Restricted::new(&ggn, p, idx).unwrap();
    assert_spectrum(
        &eigenvalues(&block, &block.point()),
        &nums(&fx["ggn_block_eigenvalues"]),
        &format!("{key} ggn block"),
    );
}

#[test]
fn mlp_cross_entropy_operators_match_pytorch() {
    check_mlp("iris_tanh_ce");
}

#[test]
fn mlp_mse_operators_match_pytorch() {
    check_mlp("iris_tanh_mse");
}

#[test]
fn mlp_batchnorm_eval_operators_match_pytorch() {
    check_mlp("iris_bn_eval");
}

/// Training-mode batch norm couples the samples through the batch statistics; the GGN's `J`
/// and the per-sample gradients of the empirical Fisher include the coupling.
#[test]
fn mlp_batchnorm_train_operators_match_pytorch() {
    check_mlp("iris_bn_train");
}

/// Chunks of 37 samples (150 = 4·37 + 2) give the whole batch's loss, gradient, Hessian, GGN and
/// empirical Fisher; train-mode batch norm refuses to be chunked.
#[test]
fn mlp_in_chunks_of_37_matches_pytorch() {
    let (model, obj, fx) = mlp_case("iris_bn_eval");
    let p = &model.params;
    let parts = NetLoss::chunks(&model, &iris(), LossKind::CrossEntropy, BnMode::Eval, 37).unwrap();
    assert_eq!(parts.len(), 5);
    let sum = Chunked::new(parts.iter().collect()).unwrap();
    let want = fx["loss"].as_f64().unwrap();
    assert!((sum.loss(p).unwrap() - want).abs() <= 1e-12 * want);
    let g = critpt::objective::gradient_vec(&sum, p).unwrap();
    let g0 = critpt::objective::gradient_vec(&obj, p).unwrap();
    let gmax = g0.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(g
        .iter()
        .zip(&g0)
        .all(|(a, b)| (a - b).abs() <= 1e-13 * gmax));
    assert_spectrum(
        &eigenvalues(&sum, p),
        &nums(&fx["eigenvalues"]),
        "chunked hessian",
    );
    for (c, field) in [
        (Curvature::GaussNewton, "ggn_eigenvalues"),
        (Curvature::EmpiricalFisher, "empirical_fisher_eigenvalues"),
    ] {
        let ops: Vec<NetGaussNewton> = parts
            .iter()
            .map(|l| NetGaussNewton::new(l, c).unwrap())
            .collect();
        let sum = Chunked::new(ops).unwrap();
        assert_spectrum(&eigenvalues(&sum, p), &nums(&fx[field]), field);
    }
    let err = NetLoss::chunks(&model, &iris(), LossKind::CrossEntropy, BnMode::Train, 37)
        .unwrap_err()
        .to_string();
    assert!(err.contains("batch statistics"), "{err}");
}

/// Blocked products equal one-at-a-time products, and the GGN is symmetric positive
/// semi-definite with `vᵀ G v = |J v|²_{∂²L/∂z²}` ≥ 0 (an invariant, for any direction).
#[test]
fn blocked_products_equal_single_products() {
    let (model, obj, _) = mlp_case("iris_bn_train");
    let p = &model.params;
    let n = p.len();
    let k = 7;
    let vs: Vec<f64> = (0..n * k)
        .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
        .collect();
    for c in [Curvature::GaussNewton, Curvature::EmpiricalFisher] {
        let op = NetGaussNewton::new(&obj, c).unwrap();
        let mut many = vec![0.0; n * k];
        op.hvp_many(p, &vs, k, &mut many).unwrap();
        for j in 0..k {
            let mut one = vec![0.0; n];
            op.hvp(p, &vs[j * n..(j + 1) * n], &mut one).unwrap();
            let scale = one.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (a, b) in one.iter().zip(&many[j * n..(j + 1) * n]) {
                assert!((a - b).abs() <= 1e-13 * scale, "{a} vs {b}");
            }
            let quad: f64 = one
                .iter()
                .zip(&vs[j * n..(j + 1) * n])
                .map(|(a, b)| a * b)
                .sum();
            assert!(quad >= -1e-14 * scale, "vᵀAv = {quad}");
        }
    }
}

/// An unknown tensor name is an error listing the model's names; `*` matches runs.
#[test]
fn parameter_selection_names_and_wildcards() {
    let (model, _, _) = mlp_case("iris_tanh_ce");
    let t = model.param_tensors();
    let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_eq!(t[0].shape, [6, 4]);
    let sel = select_tensors(&t, "*.bias").unwrap();
    assert_eq!(
        tensor_indices(&sel),
        (24..30).chain(48..51).collect::<Vec<_>>()
    );
    let sel = select_tensors(&t, "2.*,0.weight").unwrap();
    assert_eq!(sel.len(), 3);
    let err = select_tensors(&t, "fc.weight").unwrap_err().to_string();
    assert!(
        err.contains("fc.weight") && err.contains("0.weight, 0.bias, 2.weight, 2.bias"),
        "{err}"
    );
}

fn onnx_args(name: &str) -> [String; 4] {
    [
        "--model".into(),
        onnx_dir(name).join("model.onnx").display().to_string(),
        "--data".into(),
        onnx_dir(name)
            .join("data.safetensors")
            .display()
            .to_string(),
    ]
}

fn analyze(base: &[String], extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&str> = vec!["analyze"];
    args.extend(base.iter().map(String::as_str));
    args.extend_from_slice(extra);
    critpt_json(&args)
}

/// The CLI's GGN, empirical Fisher, Hessian block and chunked Hessian of the LeNet fixture.
#[test]
fn lenet_operators_match_pytorch_through_the_cli() {
    let r = json_file(&onnx_dir("lenet_digits").join("ref.json"));
    let base = onnx_args("lenet_digits");
    for (c, key) in [
        ("ggn", "ggn_eigenvalues"),
        ("empirical-fisher", "empirical_fisher_eigenvalues"),
    ] {
        let v = analyze(&base, &["--method", "dense", "--curvature", c]);
        assert_eq!(v["curvature"], c);
        assert!(v["kind"].is_null() && v["index"].is_null() && v["minimum_ratio"].is_null());
        assert!(v["kind_note"].as_str().unwrap().contains("semi-definite"));
        assert_spectrum(&nums(&v["eigenvalues"]), &nums(&r[key]), key);
    }
    let v = analyze(&base, &["--method", "dense", "--params", "fc.*"]);
    assert_eq!(v["selected_count"], 330);
    assert_eq!(v["selected_parameters"][0]["name"], "fc.weight");
    assert_eq!(
        v["selected_parameters"][0]["shape"],
        serde_json::json!([10, 32])
    );
    assert_eq!(v["parameter_names"].as_array().unwrap().len(), 6);
    let gn = r["gradient_norm"].as_f64().unwrap();
    assert!((v["gradient_norm"].as_f64().unwrap() - gn).abs() <= 1e-7 * gn);
    assert_spectrum(
        &nums(&v["eigenvalues"]),
        &nums(&r["block"]["eigenvalues"]),
        "block",
    );
    let v = analyze(&base, &["--method", "dense", "--batch-size", "37"]);
    assert_eq!(v["batch_size"], 37);
    assert_eq!(v["curvature"], "hessian");
    assert!(v["kind"].is_string());
    assert!((v["loss"].as_f64().unwrap() - r["loss"].as_f64().unwrap()).abs() <= 1e-12);
    assert_spectrum(
        &nums(&v["eigenvalues"]),
        &nums(&r["eigenvalues"]),
        "chunked",
    );
}

/// Lanczos on the chunked GGN finds the reference's largest GGN eigenvalues.
#[test]
fn resblock_chunked_ggn_lanczos_matches_pytorch_through_the_cli() {
    let r = json_file(&onnx_dir("resblock_digits").join("ref.json"));
    let v = analyze(
        &onnx_args("resblock_digits"),
        &[
            "--method",
            "lanczos",
            "--curvature",
            "ggn",
            "--which",
            "largest",
            "--top",
            "3",
            "--batch-size",
            "37",
            "--lanczos-tol",
            "1e-10",
        ],
    );
    let want = nums(&r["ggn_eigenvalues"]);
    let got = nums(&v["eigenvalues"]);
    let lmax = want[want.len() - 1];
    for (a, b) in got.iter().rev().zip(want.iter().rev()) {
        assert!((a - b).abs() <= 1e-8 * lmax, "{a} vs {b}");
    }
}

fn mlp_args(key: &str) -> Vec<String> {
    let fx = json_file(&repo("fixtures/torch_curvature.json"))[key].clone();
    vec![
        "--model".into(),
        repo(fx["model"].as_str().unwrap()).display().to_string(),
        "--data".into(),
        repo("data/iris.csv").display().to_string(),
        "--activation".into(),
        "tanh".into(),
        "--loss".into(),
        fx["loss_kind"].as_str().unwrap().into(),
    ]
}

/// The CLI's GGN, empirical Fisher, block and chunks of an MLP against torch.
#[test]
fn mlp_operators_match_pytorch_through_the_cli() {
    let fx = json_file(&repo("fixtures/torch_curvature.json"))["iris_tanh_ce"].clone();
    let base = mlp_args("iris_tanh_ce");
    for (c, key) in [
        ("ggn", "ggn_eigenvalues"),
        ("empirical-fisher", "empirical_fisher_eigenvalues"),
    ] {
        let v = analyze(&base, &["--curvature", c, "--batch-size", "37"]);
        assert!(v["kind"].is_null());
        assert_spectrum(&nums(&v["eigenvalues"]), &nums(&fx[key]), key);
    }
    let v = analyze(&base, &["--params", "0.bias,2.*"]);
    assert_eq!(v["selected_count"], 27);
    let names: Vec<&str> = v["parameter_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_spectrum(
        &nums(&v["eigenvalues"]),
        &nums(&fx["block_eigenvalues"]),
        "block",
    );
    let v = analyze(
        &base,
        &["--method", "lanczos", "--top", "3", "--batch-size", "37"],
    );
    let want = nums(&fx["eigenvalues"]);
    let got = nums(&v["eigenvalues"]);
    let lmax = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for (a, b) in got[..3].iter().zip(&want[..3]) {
        assert!((a - b).abs() <= 1e-8 * lmax, "{a} vs {b}");
    }
    assert!(v["kind"].is_string(), "the Hessian has a verdict");
}

fn fails_with(args: &[&str], needle: &str) {
    let out = critpt(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.trim_end().lines().count() == 1,
        "{err}"
    );
    assert!(err.contains(needle), "{err}");
}

/// Unknown tensors, curvatures, a zero batch size, `--escape` without the Hessian and chunked
/// train-mode batch norm are one-line errors.
#[test]
fn operator_flags_reject_bad_input() {
    let base = mlp_args("iris_bn_eval");
    let with = |extra: &[&str], needle: &str| {
        let mut args: Vec<&str> = vec!["analyze"];
        args.extend(base.iter().map(String::as_str));
        args.extend_from_slice(extra);
        fails_with(&args, needle);
    };
    with(
        &["--params", "fc.weight"],
        "known: 0.weight, 0.bias, 1.weight, 1.bias, 3.weight, 3.bias",
    );
    with(&["--params", ","], "no tensor named");
    // An unknown name is a malformed command line: clap's usage error, status 2.
    let mut args: Vec<&str> = vec!["analyze"];
    args.extend(base.iter().map(String::as_str));
    args.extend_from_slice(&["--curvature", "fisher"]);
    let out = critpt(&args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("unknown curvature 'fisher'"),
        "{err}"
    );
    with(&["--batch-size", "0"], "at least 1");
    with(
        &["--curvature", "ggn", "--escape"],
        "--escape needs the whole Hessian",
    );
    with(
        &["--params", "3.*", "--escape"],
        "--escape needs the whole Hessian",
    );
    with(
        &["--batchnorm-mode", "train", "--batch-size", "50"],
        "batch statistics",
    );
    let onnx = onnx_args("lenet_digits");
    let mut args: Vec<&str> = vec!["analyze"];
    args.extend(onnx.iter().map(String::as_str));
    args.extend_from_slice(&["--params", "conv3.*"]);
    fails_with(&args, "known: conv1.weight, conv1.bias");
}

/// Figure 15: the GGN is positive semi-definite (no eigenvalue below −1e-8·λmax), the Hessian
/// of the same trained model has negative eigenvalues, the ten outliers agree within 20%, the Hessian's
/// spectrum is figure 12's, and the file is the same bytes as the plot of the computed data.
#[test]
fn figure_15_hessian_vs_ggn() {
    use critpt::gallery::{gauss_newton as fig, hessian_spectrum as hs};
    let d = fig::compute().unwrap();
    assert_eq!(d.hessian.len(), 1210);
    assert_eq!(d.ggn_negatives(), 0);
    let gmax = d.ggn[d.ggn.len() - 1];
    assert!(d.ggn[0] >= -1e-8 * gmax, "ggn λmin {}", d.ggn[0]);
    assert!(d.hessian_negatives() > 0);
    assert!(d.outlier_gap() < 0.2, "outlier gap {}", d.outlier_gap());
    let h12 = hs::compute().unwrap().eigenvalues;
    let hmax = h12[h12.len() - 1];
    assert!(h12
        .iter()
        .zip(&d.hessian)
        .all(|(a, b)| (a - b).abs() <= 1e-10 * hmax));
    let dir = std::env::temp_dir().join(format!("critpt-fig15-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.png"), dir.join("b.png"));
    let out = fig::render(&a).unwrap();
    critpt::plot::save(&fig::plot(&d).unwrap(), &b, critpt::gallery::WIDE_SIZE).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(out
        .caption
        .contains(&format!("{} negative", d.hessian_negatives())));
    let _ = std::fs::remove_dir_all(&dir);
}
