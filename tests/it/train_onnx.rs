//! Training an imported ONNX graph (`train_graph`, `critpt train --init M.onnx`): Adam on
//! mini-batches against PyTorch's own run (fixtures/onnx/train_reference.py), full-batch SGD
//! steps against their closed form `p − η ∇L(p)` with the gradient of `GraphLoss`, the trained
//! initializers written back into the file and read again, and the refusals.

use super::util::{assert_all_close, critpt, critpt_json, nums};
use crate::util::repo;
use critpt::graph::{load_onnx, onnx_with_params, GraphData, GraphLoss};
use critpt::nn::{train_graph, LossKind, TrainConfig};
use critpt::objective::{Gradient, Loss};
use critpt::optim::{optimizer_by_name, Hyper, Rates, Sgd};

fn lenet() -> (critpt::graph::Graph, GraphData) {
    let graph = load_onnx(&repo("fixtures/onnx/lenet_digits/model.onnx")).unwrap();
    let data = GraphData::load(&repo("fixtures/onnx/lenet_digits/data.safetensors")).unwrap();
    (graph, data)
}

fn full_batch(n: usize, epochs: usize) -> TrainConfig {
    TrainConfig {
        batch_size: n,
        epochs,
        shuffle: false,
        ..TrainConfig::default()
    }
}

/// Adam on batches of 16 in file order for 3 epochs, from the attention block's float32
/// initializers: every batch loss and the final parameters are PyTorch's (float64).
#[test]
fn adam_on_an_imported_attention_block_follows_pytorch() {
    let dir = "fixtures/onnx/attention_digits";
    let graph = load_onnx(&repo(&format!("{dir}/model.onnx"))).unwrap();
    let data = GraphData::load(&repo(&format!("{dir}/data.safetensors"))).unwrap();
    let text = std::fs::read_to_string(repo(&format!("{dir}/train_ref.json"))).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<String> = graph.params().iter().map(|p| p.name.clone()).collect();
    let want_names: Vec<String> = r["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, want_names);
    let mut opt = optimizer_by_name("adam", &Hyper::default()).unwrap();
    let cfg = TrainConfig {
        batch_size: r["batch_size"].as_u64().unwrap() as usize,
        epochs: r["epochs"].as_u64().unwrap() as usize,
        shuffle: false,
        ..TrainConfig::default()
    };
    let (params, report) = train_graph(
        &graph,
        &data,
        LossKind::CrossEntropy,
        opt.as_mut(),
        &Rates::constant(r["lr"].as_f64().unwrap()).unwrap(),
        &cfg,
        &mut [],
    )
    .unwrap();
    // Adam divides each step by `√v̂ + ε`: an entry whose gradient is near zero carries the
    // last bits in which the two gradients differ into its step (up to 2e-12 relative seen).
    assert_all_close(
        "batch losses",
        &report.batch_losses,
        &nums(&r["batch_losses"]),
        1e-14,
    );
    assert_all_close("parameters", &params, &nums(&r["params"]), 1e-11);
}

/// Two full-batch SGD steps are `p₁ = p₀ − η g(p₀)`, `p₂ = p₁ − η g(p₁)`, the gradients those
/// of the graph's loss (checked against PyTorch's in tests/it/onnx.rs); the reported loss is
/// the loss at `p₂`.
#[test]
fn full_batch_sgd_steps_are_gradient_steps_of_the_graph_loss() {
    let (graph, data) = lenet();
    let eta = 0.05;
    let (params, report) = train_graph(
        &graph,
        &data,
        LossKind::CrossEntropy,
        &mut Sgd::new(),
        &Rates::constant(eta).unwrap(),
        &full_batch(data.n_samples(), 2),
        &mut [],
    )
    .unwrap();
    assert_eq!(report.steps, 2);
    let loss = GraphLoss::new(&graph, &data, LossKind::CrossEntropy).unwrap();
    let mut p = graph.initial_params().to_vec();
    let mut g = vec![0.0; p.len()];
    for _ in 0..2 {
        loss.gradient(&p, &mut g).unwrap();
        p.iter_mut().zip(&g).for_each(|(p, g)| *p -= eta * g);
    }
    let scale = p.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in params.iter().zip(&p).enumerate() {
        assert!((a - b).abs() <= 1e-13 * scale, "[{i}]: {a} vs {b}");
    }
    let want = loss.loss(&p).unwrap();
    assert!(
        (report.loss - want).abs() <= 1e-12 * want,
        "{} vs {want}",
        report.loss
    );
}

/// The evaluation of a training run is one pass: its loss has the bits of `loss`, its
/// accuracy is that of `accuracy`.
#[test]
fn loss_and_accuracy_in_one_pass_equal_each_apart() {
    let (graph, data) = lenet();
    let loss = GraphLoss::new(&graph, &data, LossKind::CrossEntropy).unwrap();
    let p: Vec<f64> = (graph.initial_params().iter().enumerate())
        .map(|(i, v)| if i % 3 == 0 { -v } else { 0.5 * v })
        .collect();
    let (l, a) = loss.loss_and_accuracy(&p).unwrap();
    assert_eq!(l.to_bits(), loss.loss(&p).unwrap().to_bits());
    assert_eq!(a, loss.accuracy(&p).unwrap());
    assert!(a.is_some_and(|a| a > 0.0 && a < 1.0), "{a:?}");
}

/// Written back, a float32 initializer holds the trained values rounded to f32, and the file
/// reads back as the same graph; the untrained values come back bit for bit.
#[test]
fn trained_initializers_are_written_back_in_their_type() {
    let (graph, _) = lenet();
    let bytes = std::fs::read(repo("fixtures/onnx/lenet_digits/model.onnx")).unwrap();
    let same = onnx_with_params(&bytes, &graph, graph.initial_params()).unwrap();
    let again = critpt::graph::onnx_from_bytes(&same).unwrap();
    assert_eq!(again.initial_params(), graph.initial_params());
    assert_eq!(again.param_names(), graph.param_names());
    let moved: Vec<f64> = graph
        .initial_params()
        .iter()
        .enumerate()
        .map(|(i, v)| v + 1e-3 * ((i % 7) as f64 - 3.0) + 1e-12)
        .collect();
    let back =
        critpt::graph::onnx_from_bytes(&onnx_with_params(&bytes, &graph, &moved).unwrap()).unwrap();
    for (a, b) in back.initial_params().iter().zip(&moved) {
        assert_eq!(*a, *b as f32 as f64);
    }
    assert!(onnx_with_params(&bytes, &graph, &moved[1..]).is_err());
}

/// The command trains, writes a .onnx file that `analyze` reads, and its JSON names the
/// parameters; the loss it reports is the written model's to the rounding of float32.
#[test]
fn the_train_command_writes_an_onnx_file_that_analyze_reads() {
    let dir = std::env::temp_dir().join(format!("critpt-train-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("lenet.onnx");
    let model = repo("fixtures/onnx/lenet_digits/model.onnx");
    let data = repo("fixtures/onnx/lenet_digits/data.safetensors");
    let (m, d, o) = (
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let args = [
        "train",
        "--init",
        m,
        "--data",
        d,
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--seed",
        "3",
        "--out",
        o,
    ];
    let j = critpt_json(&args);
    assert_eq!(j["parameters"], 666);
    assert_eq!(j["parameter_names"].as_array().unwrap().len(), 6);
    assert_eq!(j["steps"], 20);
    let a = critpt_json(&["analyze", "--model", o, "--data", d, "--method", "dense"]);
    let (trained, written) = (j["loss"].as_f64().unwrap(), a["loss"].as_f64().unwrap());
    assert!(
        (trained - written).abs() <= 1e-5 * trained,
        "{trained} vs {written}"
    );
    // The same seed gives the same bytes.
    let first = std::fs::read(&out).unwrap();
    critpt_json(&args);
    assert_eq!(std::fs::read(&out).unwrap(), first);
    // 300 samples in batches of 32: 10 steps an epoch, each with its batch's loss.
    assert_eq!(nums(&j["batch_losses"]).len(), 20);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A graph with batch norm, an output that is not ONNX and MLP-only flags are refused with one
/// line.
#[test]
fn training_an_onnx_graph_refuses_what_it_cannot_do() {
    let bn = repo("fixtures/onnx/convbn_mse/model.onnx");
    let bn_data = repo("fixtures/onnx/convbn_mse/data.safetensors");
    let lenet = repo("fixtures/onnx/lenet_digits/model.onnx");
    let data = repo("fixtures/onnx/lenet_digits/data.safetensors");
    let out = std::env::temp_dir().join(format!("critpt-refused-{}.onnx", std::process::id()));
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec![
                "--init",
                bn.to_str().unwrap(),
                "--data",
                bn_data.to_str().unwrap(),
                "--loss",
                "mse",
                "--out",
                out.to_str().unwrap(),
            ],
            "batch normalization",
        ),
        (
            vec![
                "--init",
                lenet.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--out",
                "m.safetensors",
            ],
            "--out must name a .onnx file",
        ),
        (
            vec![
                "--init",
                lenet.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--layers",
                "64,10",
                "--out",
                out.to_str().unwrap(),
            ],
            "--layers does not apply",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["train"];
        all.extend(args);
        let o = critpt(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{all:?}: {err}");
        assert!(
            err.starts_with("error:") && err.contains(want),
            "{all:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    assert!(!out.exists());
}
