//! Neural networks: PyTorch parity (fixtures/), exact derivatives against finite differences
//! and closed forms, safetensors round trips, data errors, and the `train`/`analyze` CLI.

use critpt::curvature::{symmetric_eigen, EigenBackend};
use critpt::derivatives::FiniteDiffGrad;
use critpt::nn::{
    load_model, save_model, Activation, BnMode, Dataset, Layer, LossKind, Mlp, NetLoss, Targets,
    Task,
};
use critpt::objective::{gradient_vec, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo(&format!("fixtures/{name}"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn iris() -> Dataset {
    Dataset::from_csv(
        &repo("data/iris.csv"),
        None,
        Task::Classification { n_classes: Some(3) },
    )
    .unwrap()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Loss to 1e-12 relative, gradient to 1e-10, every eigenvalue within 1e-8·|λmax|, trace.
fn check_iris_fixture(stem: &str) {
    let fx = fixture(&format!("{stem}.json"));
    let file = load_model(
        &repo(&format!("fixtures/{stem}.safetensors")),
        Some(Activation::Tanh),
    )
    .unwrap();
    let model = file.model;
    assert_eq!(model.n_params() as u64, fx["parameters"].as_u64().unwrap());
    let obj = NetLoss::new(&model, &iris(), LossKind::CrossEntropy, BnMode::Eval).unwrap();
    let loss = obj.loss(&model.params).unwrap();
    let want = fx["loss"].as_f64().unwrap();
    assert!(
        ((loss - want) / want).abs() < 1e-12,
        "loss {loss} vs {want}"
    );
    let g = gradient_vec(&obj, &model.params).unwrap();
    let gw = floats(&fx["gradient"]);
    for (i, (a, b)) in g.iter().zip(&gw).enumerate() {
        assert!((a - b).abs() < 1e-10, "gradient[{i}] {a} vs {b}");
    }
    let h = obj.hessian(&model.params).unwrap();
    let trace: f64 = h.diagonal().sum();
    let tw = fx["hessian_trace"].as_f64().unwrap();
    assert!(((trace - tw) / tw).abs() < 1e-10, "trace {trace} vs {tw}");
    let ev = symmetric_eigen(&h, EigenBackend::Faer).unwrap().eigenvalues;
    let mut ew = floats(&fx["eigenvalues"]);
    ew.sort_by(f64::total_cmp);
    let scale = max_abs(&ew);
    for (i, (a, b)) in ev.iter().zip(&ew).enumerate() {
        assert!((a - b).abs() <= 1e-8 * scale, "eigenvalue {i}: {a} vs {b}");
    }
}

#[test]
fn iris_tanh_random_matches_pytorch() {
    check_iris_fixture("iris_tanh_random");
}

#[test]
fn iris_batchnorm_eval_matches_pytorch() {
    check_iris_fixture("iris_batchnorm_eval");
}

#[test]
fn batchnorm1d_outputs_and_running_statistics_match_pytorch() {
    let fx = fixture("batchnorm1d.json");
    let mut bn = Mlp::from_parts(
        vec![Layer::BatchNorm {
            n: 1,
            state: critpt::nn::BatchNormState::new(1),
        }],
        vec![1.0, 0.0],
    )
    .unwrap();
    for step in fx.as_array().unwrap() {
        let batch: Vec<f64> = step["batch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_f64().unwrap())
            .collect();
        let x = DMatrix::from_column_slice(batch.len(), 1, &batch);
        let y = bn.forward_train(&x).unwrap();
        let want: Vec<f64> = step["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_f64().unwrap())
            .collect();
        for (a, b) in y.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "output {a} vs {b}");
        }
        let Layer::BatchNorm { state, .. } = &bn.layers[0] else {
            unreachable!()
        };
        let rm = floats(&step["running_mean"])[0];
        let rv = floats(&step["running_var"])[0];
        assert!(
            (state.running_mean[0] - rm).abs() < 1e-12,
            "{} vs {rm}",
            state.running_mean[0]
        );
        assert!(
            (state.running_var[0] - rv).abs() < 1e-12,
            "{} vs {rv}",
            state.running_var[0]
        );
    }
    // REFERENCE §5: 0.15/0.95 after [1, 2], then 0.535/0.955.
    let Layer::BatchNorm { state, .. } = &bn.layers[0] else {
        unreachable!()
    };
    assert!(
        (state.running_mean[0] - 0.535).abs() < 1e-12
            && (state.running_var[0] - 0.955).abs() < 1e-12
    );
    assert_eq!(state.num_batches_tracked, 2);
}

/// A random model and data set: widths, activation, batch norm, loss.
fn random_case(
    sizes: &[usize],
    act: Activation,
    bn: bool,
    kind: LossKind,
    n: usize,
    seed: u64,
) -> (Mlp, DMatrix<f64>, Targets) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut model = Mlp::new(sizes, act, bn, seed).unwrap();
    // Perturb γ, β and the running statistics away from their initial values.
    for l in model.layers.iter_mut() {
        if let Layer::BatchNorm { state, .. } = l {
            state
                .running_mean
                .iter_mut()
                .for_each(|m| *m = rng.random_range(-0.5..0.5));
            state
                .running_var
                .iter_mut()
                .for_each(|v| *v = rng.random_range(0.5..2.0));
        }
    }
    model
        .params
        .iter_mut()
        .for_each(|p| *p += rng.random_range(-0.3..0.3));
    let d = sizes[0];
    let c = *sizes.last().unwrap();
    let x = DMatrix::from_fn(n, d, |_, _| rng.random_range(-2.0..2.0));
    let t = match kind {
        LossKind::CrossEntropy => Targets::Labels((0..n).map(|_| rng.random_range(0..c)).collect()),
        LossKind::Mse => {
            Targets::Values(DMatrix::from_fn(n, c, |_, _| rng.random_range(-1.0..1.0)))
        }
    };
    (model, x, t)
}

fn cases() -> Vec<(Vec<usize>, Activation, bool, LossKind, BnMode)> {
    use Activation::*;
    use LossKind::*;
    vec![
        (vec![3, 4, 2], Tanh, false, CrossEntropy, BnMode::Eval),
        (vec![2, 5, 4, 3], Sigmoid, false, CrossEntropy, BnMode::Eval),
        (vec![3, 4, 2], Identity, false, Mse, BnMode::Eval),
        (vec![4, 6, 3, 2], Tanh, false, Mse, BnMode::Eval),
        (vec![3, 5, 3], Tanh, true, CrossEntropy, BnMode::Eval),
        (vec![3, 5, 3], Tanh, true, CrossEntropy, BnMode::Train),
        (vec![2, 4, 3, 2], Sigmoid, true, Mse, BnMode::Train),
        (vec![3, 4, 4, 3], Tanh, true, CrossEntropy, BnMode::Train),
    ]
}

#[test]
fn hvp_matches_finite_differences_of_the_gradient_and_the_dense_hessian() {
    for (ci, (sizes, act, bn, kind, mode)) in cases().into_iter().enumerate() {
        let (model, x, t) = random_case(&sizes, act, bn, kind, 17, 100 + ci as u64);
        let obj = NetLoss::from_parts(&model, x, t, kind, mode).unwrap();
        let p = &model.params;
        let n = obj.n_params();
        let h = obj.hessian(p).unwrap();
        let hfd = FiniteDiffGrad::new(&obj).hessian(p).unwrap();
        let scale = h.amax().max(1e-3);
        let err = (&h - &hfd).amax();
        assert!(
            err < 1e-6 * scale,
            "case {ci}: dense hessian vs FD of gradient: {err} (scale {scale})"
        );
        assert!(
            (&h - h.transpose()).amax() <= 1e-14 * scale,
            "case {ci}: not symmetric"
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(7 + ci as u64);
        for _ in 0..3 {
            let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut hv = vec![0.0; n];
            obj.hvp(p, &v, &mut hv).unwrap();
            let dense = &h * nalgebra::DVector::from_column_slice(&v);
            let mut fd = vec![0.0; n];
            FiniteDiffGrad::new(&obj).hvp(p, &v, &mut fd).unwrap();
            let s = max_abs(&hv).max(1e-3);
            for i in 0..n {
                assert!(
                    (hv[i] - dense[i]).abs() < 1e-11 * s.max(scale),
                    "case {ci}: hvp vs dense at {i}"
                );
                assert!(
                    (hv[i] - fd[i]).abs() < 1e-5 * s,
                    "case {ci}: hvp vs FD at {i}: {} vs {}",
                    hv[i],
                    fd[i]
                );
            }
        }
        // A block of directions gives the same as one at a time.
        let vb = DMatrix::from_fn(n, 3, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
        let hb = obj.hvp_block(p, &vb).unwrap();
        let want = &h * &vb;
        assert!(
            (&hb - &want).amax() < 1e-11 * scale.max(1.0),
            "case {ci}: block hvp"
        );
    }
}

#[test]
fn gradient_matches_finite_differences_of_the_loss() {
    for (ci, (sizes, act, bn, kind, mode)) in cases().into_iter().enumerate() {
        let (model, x, t) = random_case(&sizes, act, bn, kind, 13, 200 + ci as u64);
        let obj = NetLoss::from_parts(&model, x, t, kind, mode).unwrap();
        let g = gradient_vec(&obj, &model.params).unwrap();
        let fd = gradient_vec(&critpt::derivatives::FiniteDiff::new(&obj), &model.params).unwrap();
        for i in 0..g.len() {
            assert!(
                (g[i] - fd[i]).abs() < 1e-7 * (1.0 + g[i].abs()),
                "case {ci} param {i}: {} vs {}",
                g[i],
                fd[i]
            );
        }
        let mut out = vec![0.0; g.len()];
        let l = obj.loss_and_gradient(&model.params, &mut out).unwrap();
        assert!((l - obj.loss(&model.params).unwrap()).abs() < 1e-15);
    }
}

/// REFERENCE §2: a single-output linear model with MSE has Hessian (2/N)·X̃ᵀX̃ (X̃ = [X, 1]).
#[test]
fn linear_mse_hessian_is_two_over_n_xtx() {
    let (model, x, t) = random_case(&[3, 1], Activation::Tanh, false, LossKind::Mse, 11, 5);
    let obj = NetLoss::from_parts(&model, x.clone(), t, LossKind::Mse, BnMode::Eval).unwrap();
    let h = obj.hessian(&model.params).unwrap();
    let xt = DMatrix::from_fn(11, 4, |s, i| if i < 3 { x[(s, i)] } else { 1.0 });
    let want = xt.transpose() * &xt * (2.0 / 11.0);
    assert!((&h - &want).amax() < 1e-13, "{h} vs {want}");
}

/// REFERENCE §2: a linear softmax classifier's Hessian is the mean over samples of
/// (diag p − ppᵀ) ⊗ x̃x̃ᵀ, in PyTorch's order (weight rows, then bias); with the second class's
/// weights at zero, its first-row block is logistic regression's (1/N)·X̃ᵀdiag(σ(1−σ))X̃.
#[test]
fn linear_softmax_hessian_is_the_kronecker_form() {
    let (d, c, n) = (3, 4, 9);
    let (model, x, t) = random_case(
        &[d, c],
        Activation::Tanh,
        false,
        LossKind::CrossEntropy,
        n,
        6,
    );
    let obj = NetLoss::from_parts(
        &model,
        x.clone(),
        t.clone(),
        LossKind::CrossEntropy,
        BnMode::Eval,
    )
    .unwrap();
    let h = obj.hessian(&model.params).unwrap();
    let w = &model.params;
    let idx = |cls: usize, i: usize| if i < d { cls * d + i } else { c * d + cls };
    let mut want = DMatrix::zeros(w.len(), w.len());
    for s in 0..n {
        let xt: Vec<f64> = (0..=d)
            .map(|i| if i < d { x[(s, i)] } else { 1.0 })
            .collect();
        let z: Vec<f64> = (0..c)
            .map(|k| (0..=d).map(|i| w[idx(k, i)] * xt[i]).sum())
            .collect();
        let m = z.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let p: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
        for a in 0..c {
            for b in 0..c {
                let m_ab = if a == b { p[a] } else { 0.0 } - p[a] * p[b];
                for i in 0..=d {
                    for j in 0..=d {
                        want[(idx(a, i), idx(b, j))] += m_ab * xt[i] * xt[j] / n as f64;
                    }
                }
            }
        }
    }
    assert!((&h - &want).amax() < 1e-13);

    // Logistic regression as a two-class softmax with the second row at zero.
    let mut m2 = Mlp::new(&[d, 2], Activation::Tanh, false, 3).unwrap();
    let nw = 2 * d;
    for k in d..nw {
        m2.params[k] = 0.0;
    }
    m2.params[nw + 1] = 0.0;
    let labels = Targets::Labels((0..n).map(|s| s % 2).collect());
    let o2 =
        NetLoss::from_parts(&m2, x.clone(), labels, LossKind::CrossEntropy, BnMode::Eval).unwrap();
    let h2 = o2.hessian(&m2.params).unwrap();
    let rows: Vec<usize> = (0..d).chain([nw]).collect();
    for (a, &ra) in rows.iter().enumerate() {
        for (b, &rb) in rows.iter().enumerate() {
            let mut v = 0.0;
            for s in 0..n {
                let xt: Vec<f64> = (0..=d)
                    .map(|i| if i < d { x[(s, i)] } else { 1.0 })
                    .collect();
                let z: f64 = (0..d).map(|i| m2.params[i] * xt[i]).sum::<f64>() + m2.params[nw];
                let sg = 1.0 / (1.0 + (-z).exp());
                v += sg * (1.0 - sg) * xt[a] * xt[b] / n as f64;
            }
            assert!((h2[(ra, rb)] - v).abs() < 1e-14, "logistic block ({a},{b})");
        }
    }
}
