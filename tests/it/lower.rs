//! The MLP lowered to an op graph: every kind of MLP (each activation, batch norm absent, in
//! evaluation and in training mode, cross-entropy and MSE) against float64 PyTorch
//! (fixtures/torch_mlp_kinds.json, written by fixtures/generate_torch_mlp_kinds.py), through
//! the graph and through `NetLoss`; and the digits MLP's lowered graph against the same model's
//! ONNX export imported (fixtures/onnx/mlp_digits): the same ops, parameters and numbers.

use crate::util::{nums, repo};
use critpt::graph::{load_onnx, GraphData, GraphLoss, GraphTargets, Tensor};
use critpt::nn::lower::{graph_data, mlp_graph};
use critpt::nn::{
    load_model, Activation, BatchNormState, BnMode, Layer, LossKind, Mlp, NetLoss, Targets,
};
use critpt::objective::{Gradient, Hessian, Hvp};
use nalgebra::DMatrix;

fn matrix(v: &serde_json::Value) -> DMatrix<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(nums).collect();
    DMatrix::from_fn(rows.len(), rows[0].len(), |r, c| rows[r][c])
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// `max |got − want| ≤ tol · max |want|`: agreement to rounding, relative to the vector's scale.
fn assert_rel(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = max_abs(want).max(f64::MIN_POSITIVE);
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
    assert!(
        err <= tol * scale,
        "{what}: max error {err:e} against scale {scale:e} (tolerance {tol:e} relative)"
    );
}

/// One case of the PyTorch fixture: its model, data, loss and batch-norm mode.
struct Case {
    label: String,
    model: Mlp,
    x: DMatrix<f64>,
    targets: Targets,
    kind: LossKind,
    mode: BnMode,
    fx: serde_json::Value,
}

/// `Linear(3,4), [BatchNorm1d(4)], act, Linear(4,3), [BatchNorm1d(3)], act, Linear(3,2)`.
fn case(fx: &serde_json::Value) -> Case {
    let act: Activation = fx["activation"].as_str().unwrap().parse().unwrap();
    let bn = fx["batchnorm"].as_str().unwrap();
    let kind: LossKind = fx["loss_kind"].as_str().unwrap().parse().unwrap();
    let mut layers = Vec::new();
    let bn_layer = |i: usize, n: usize| {
        let key = format!("{i}.running_mean");
        let mut state = BatchNormState::new(n);
        state.running_mean = nums(&fx["running_mean"][&key]);
        state.running_var = nums(&fx["running_var"][&format!("{i}.running_var")]);
        Layer::BatchNorm { n, state }
    };
    for (n_in, n_out) in [(3, 4), (4, 3)] {
        layers.push(Layer::Linear { n_in, n_out });
        if bn != "none" {
            layers.push(bn_layer(layers.len(), n_out));
        }
        layers.push(Layer::Activation(act));
    }
    layers.push(Layer::Linear { n_in: 3, n_out: 2 });
    let model = Mlp::from_parts(layers, nums(&fx["parameters"])).unwrap();
    let x = matrix(&fx["x"]);
    let targets = match kind {
        LossKind::CrossEntropy => Targets::Labels(
            fx["y"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect(),
        ),
        LossKind::Mse => Targets::Values(matrix(&fx["y"])),
    };
    Case {
        label: format!("{act} / batch norm {bn} / {kind}"),
        model,
        x,
        targets,
        kind,
        mode: if bn == "train" {
            BnMode::Train
        } else {
            BnMode::Eval
        },
        fx: fx.clone(),
    }
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(repo("fixtures/torch_mlp_kinds.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases: Vec<Case> = all["cases"].as_array().unwrap().iter().map(case).collect();
    assert_eq!(
        cases.len(),
        24,
        "4 activations x 3 batch-norm settings x 2 losses"
    );
    cases
}

/// Loss, gradient, two products, and the dense Hessian (its products with the same
/// directions, trace, Frobenius norm, exact symmetry) against torch's, to rounding.
fn check_against_torch(what: &str, obj: &(impl Gradient + Hvp + Hessian), c: &Case) {
    let p = &c.model.params;
    let n = p.len();
    let mut g = vec![0.0; n];
    let loss = obj.loss_and_gradient(p, &mut g).unwrap();
    let want = c.fx["loss"].as_f64().unwrap();
    assert!(
        ((loss - want) / want).abs() <= 1e-13,
        "{what} {}: loss {loss} vs {want}",
        c.label
    );
    assert_rel(
        &format!("{what} {}: gradient", c.label),
        &g,
        &nums(&c.fx["gradient"]),
        1e-12,
    );
    let h = obj.hessian(p).unwrap();
    assert_eq!(h, h.transpose(), "{what} {}: symmetric", c.label);
    for (d, want) in c.fx["directions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(c.fx["hvps"].as_array().unwrap())
    {
        let v = nums(d);
        let want = nums(want);
        let mut hv = vec![0.0; n];
        obj.hvp(p, &v, &mut hv).unwrap();
        assert_rel(&format!("{what} {}: hvp", c.label), &hv, &want, 1e-12);
        let dense = &h * DMatrix::from_column_slice(n, 1, &v);
        assert_rel(
            &format!("{what} {}: dense Hessian times v", c.label),
            dense.as_slice(),
            &want,
            1e-12,
        );
    }
    let tr = c.fx["hessian_trace"].as_f64().unwrap();
    let fro = c.fx["hessian_frobenius"].as_f64().unwrap();
    assert!(
        (h.trace() - tr).abs() <= 1e-12 * fro,
        "{what} {}: trace {} vs {tr}",
        c.label,
        h.trace()
    );
    assert!(
        (h.norm() - fro).abs() <= 1e-12 * fro,
        "{what} {}: Frobenius norm {} vs {fro}",
        c.label,
        h.norm()
    );
}

#[test]
fn every_mlp_kind_lowered_to_a_graph_matches_torch() {
    for c in cases() {
        let graph = mlp_graph(&c.model, c.mode).unwrap();
        assert_eq!(graph.initial_params(), c.model.params.as_slice());
        assert_eq!(graph.param_names(), c.model.param_names());
        let data = graph_data(&c.x, &c.targets).unwrap();
        let obj = GraphLoss::new(&graph, &data, c.kind).unwrap();
        check_against_torch("graph", &obj, &c);
    }
}

#[test]
fn every_mlp_kind_through_netloss_matches_torch() {
    for c in cases() {
        let obj =
            NetLoss::from_parts(&c.model, c.x.clone(), c.targets.clone(), c.kind, c.mode).unwrap();
        check_against_torch("netloss", &obj, &c);
    }
}

/// The digits MLP from its nn.Sequential file, lowered, is the graph of its ONNX export: the
/// same ops in the same order, the same parameter tensors, and the same numbers.
#[test]
fn lowered_digits_mlp_is_its_onnx_import() {
    let dir = repo("fixtures/onnx/mlp_digits");
    let imported = load_onnx(&dir.join("model.onnx")).unwrap();
    let model = load_model(&dir.join("model.safetensors"), None)
        .unwrap()
        .model;
    let lowered = mlp_graph(&model, BnMode::Eval).unwrap();
    let ops = |g: &critpt::graph::Graph| g.nodes().iter().map(|n| n.op.clone()).collect::<Vec<_>>();
    assert_eq!(ops(&lowered), ops(&imported));
    assert_eq!(lowered.params(), imported.params());
    assert_eq!(lowered.initial_params(), imported.initial_params());
    assert_eq!(lowered.input_dims(), imported.input_dims());
    let images = GraphData::load(&repo("fixtures/onnx/cnn20k_digits/data.safetensors")).unwrap();
    let n = images.n_samples();
    let x = Tensor::new(vec![n, 64], images.x.data.clone()).unwrap();
    let GraphTargets::Labels(labels) = images.y.clone() else {
        panic!("labels")
    };
    let data = GraphData::new(x, GraphTargets::Labels(labels.clone())).unwrap();
    let from_matrix = graph_data(
        &DMatrix::from_row_slice(n, 64, &images.x.data),
        &Targets::Labels(labels),
    )
    .unwrap();
    assert_eq!(from_matrix, data);
    let a = GraphLoss::new(&lowered, &data, LossKind::CrossEntropy).unwrap();
    let b = GraphLoss::new(&imported, &data, LossKind::CrossEntropy).unwrap();
    let p = &model.params;
    let np = p.len();
    let (mut ga, mut gb) = (vec![0.0; np], vec![0.0; np]);
    let (la, lb) = (
        a.loss_and_gradient(p, &mut ga).unwrap(),
        b.loss_and_gradient(p, &mut gb).unwrap(),
    );
    assert!(((la - lb) / lb).abs() <= 1e-13, "loss {la} vs {lb}");
    assert_rel("gradient", &ga, &gb, 1e-12);
    let v: Vec<f64> = (0..np)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect();
    let (mut ha, mut hb) = (vec![0.0; np], vec![0.0; np]);
    a.hvp(p, &v, &mut ha).unwrap();
    b.hvp(p, &v, &mut hb).unwrap();
    assert_rel("hvp", &ha, &hb, 1e-12);
}

/// Every result of the MLP through the graph as bits: loss and gradient, a block of
/// Hessian-vector products and of GGN products (eight chunks of the digits summed in lanes, and
/// training-mode batch norm, one chunk), the forward pass over the whole set (a product large
/// enough to split over the threads when called outside a pool), and a few shuffled mini-batch
/// epochs of Adam.
fn mlp_results_as_bits() -> Vec<u64> {
    use critpt::curvature::Curvature;
    use critpt::nn::{train, Dataset, NetGaussNewton, Task, TrainConfig};
    use critpt::optim::{optimizer_by_name, Hyper, Rates};
    let data = Dataset::from_csv(
        &repo("data/digits.csv"),
        None,
        Task::Classification { n_classes: None },
    )
    .unwrap();
    let mut out = Vec::new();
    let mut bits = |v: &[f64]| out.extend(v.iter().map(|x| x.to_bits()));
    for (bn, mode) in [(false, BnMode::Eval), (true, BnMode::Train)] {
        let model = Mlp::new(&[64, 64, 64, 10], Activation::Tanh, bn, 3).unwrap();
        let obj = NetLoss::new(&model, &data, LossKind::CrossEntropy, mode).unwrap();
        let p = &model.params;
        let n = p.len();
        let mut g = vec![0.0; n];
        let l = obj.loss_and_gradient(p, &mut g).unwrap();
        bits(&[l, critpt::objective::Loss::loss(&obj, p).unwrap()]);
        bits(&g);
        let k = 3;
        let v: Vec<f64> = (0..n * k)
            .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
            .collect();
        let mut hv = vec![0.0; n * k];
        obj.hvp_many(p, &v, k, &mut hv).unwrap();
        bits(&hv);
        let ggn = NetGaussNewton::new(&obj, Curvature::GaussNewton).unwrap();
        ggn.hvp_many(p, &v, k, &mut hv).unwrap();
        bits(&hv);
        bits(model.forward(&data.x, mode).unwrap().as_slice());
    }
    let mut model = Mlp::new(&[64, 32, 10], Activation::Tanh, true, 4).unwrap();
    let mut opt = optimizer_by_name("adam", &Hyper::default()).unwrap();
    let cfg = TrainConfig {
        batch_size: 100,
        epochs: 2,
        ..TrainConfig::default()
    };
    let rates = Rates::constant(1e-2).unwrap();
    let rep = train(
        &mut model,
        &data,
        LossKind::CrossEntropy,
        opt.as_mut(),
        &rates,
        &cfg,
        &mut [],
    )
    .unwrap();
    bits(&rep.batch_losses);
    bits(&model.params);
    out
}

/// The same inputs give the same bits on one thread and on two, and called from outside any
/// pool (where a large matrix product may use every thread of the global pool): chunks, lanes
/// and their sums are fixed by the data and the graph alone.
#[test]
fn mlp_results_have_the_same_bits_on_one_and_two_threads() {
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(mlp_results_as_bits)
    };
    let one = on(1);
    assert_eq!(one, on(2), "1 thread against 2");
    let outside = std::thread::spawn(mlp_results_as_bits).join().unwrap();
    assert_eq!(
        one, outside,
        "inside a 1-thread pool against outside any pool"
    );
}

/// The gradient at the point of the last products comes from the passes kept for them: the
/// same bits as a fresh loss's gradient, with and without batch norm in training mode.
#[test]
fn gradient_from_the_kept_passes_is_the_fresh_gradient() {
    use critpt::nn::{Dataset, Task};
    let data = Dataset::from_csv(
        &repo("data/iris.csv"),
        None,
        Task::Classification { n_classes: None },
    )
    .unwrap();
    for (bn, mode) in [(false, BnMode::Eval), (true, BnMode::Train)] {
        let model = Mlp::new(&[4, 8, 3], Activation::Tanh, bn, 5).unwrap();
        let p = &model.params;
        let n = p.len();
        let fresh = NetLoss::new(&model, &data, LossKind::CrossEntropy, mode).unwrap();
        let mut want = vec![0.0; n];
        let lw = fresh.loss_and_gradient(p, &mut want).unwrap();
        let kept = NetLoss::new(&model, &data, LossKind::CrossEntropy, mode).unwrap();
        let (v, mut hv) = (vec![0.5; n], vec![0.0; n]);
        kept.hvp(p, &v, &mut hv).unwrap();
        let mut got = vec![0.0; n];
        let lg = kept.loss_and_gradient(p, &mut got).unwrap();
        assert_eq!(lg.to_bits(), lw.to_bits(), "loss, batch norm {bn}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.to_bits(), w.to_bits(), "gradient, batch norm {bn}");
        }
        // Elsewhere the kept passes do not answer.
        let q: Vec<f64> = p.iter().map(|x| x + 1e-3).collect();
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        kept.loss_and_gradient(&q, &mut a).unwrap();
        fresh.loss_and_gradient(&q, &mut b).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, got);
    }
}
