//! Curvature at scale on networks: Lanczos, Hutch++ and SLQ against the dense Hessian of small
//! models; slices along the top eigenvector; scale invariance of filter normalization; the
//! `analyze --method lanczos` CLI.

use crate::util::{nums, repo};
use critpt::curvature::{
    hutch_plus_plus, hutchinson, slq_density, symmetric_eigen, EigenBackend, Lanczos, Slq,
    Spectrum, Which,
};
use critpt::landscape::slice_1d;
use critpt::nn::curvature::{filter_normalized_direction, filters};

/// Parameter count above which `analyze` chooses Lanczos by default (README, `analyze`).
const DENSE_LIMIT: usize = 3000;
use critpt::nn::{
    save_model, train, Activation, BnMode, Dataset, Layer, LossKind, Mlp, NetLoss, Targets, Task,
    TrainConfig,
};
use critpt::objective::{Hessian, Loss};
use critpt::optim::Adam;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::process::Command;

fn iris() -> Dataset {
    Dataset::from_csv(
        &repo("data/iris.csv"),
        None,
        Task::Classification { n_classes: Some(3) },
    )
    .unwrap()
}

/// 200 samples of 10 standard-normal features, labels the argmax of a random linear map.
fn seeded_blobs(seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (n, d, c) = (200, 10, 3);
    let mut g = || -> f64 { StandardNormal.sample(&mut rng) };
    let x = DMatrix::from_fn(n, d, |_, _| g());
    let w = DMatrix::from_fn(d, c, |_, _| g());
    let scores = &x * &w;
    let labels = (0..n)
        .map(|i| scores.row(i).transpose().argmax().0)
        .collect();
    Dataset {
        x,
        targets: Targets::Labels(labels),
        feature_names: (0..d).map(|i| format!("x{i}")).collect(),
        target_names: vec!["y".into()],
        standardization: None,
    }
}

struct Case {
    obj: NetLoss,
    params: Vec<f64>,
    dense: Spectrum,
}

fn case(sizes: &[usize], data: &Dataset, seed: u64) -> Case {
    let model = Mlp::new(sizes, Activation::Tanh, false, seed).unwrap();
    let obj = NetLoss::new(&model, data, LossKind::CrossEntropy, BnMode::Eval).unwrap();
    let h = obj.hessian(&model.params).unwrap();
    let dense = symmetric_eigen(&h, EigenBackend::Nalgebra).unwrap();
    Case {
        obj,
        params: model.params,
        dense,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(&[4, 16, 3], &iris(), 1),
        case(&[10, 20, 20, 3], &seeded_blobs(7), 2),
    ]
}

#[test]
fn lanczos_extremes_match_the_dense_spectrum() {
    for c in cases() {
        let n = c.params.len();
        assert!(n <= DENSE_LIMIT);
        let r = Lanczos::new(5, Which::Both)
            .with_tol(1e-10)
            .unwrap()
            .with_seed(3)
            .run(&c.obj, &c.params)
            .unwrap();
        let ev = r.spectrum.eigenvalues();
        assert_eq!(ev.len(), 10);
        let d = c.dense.eigenvalues();
        let scale = c.dense.max_abs();
        let want: Vec<f64> = d[..5].iter().chain(&d[n - 5..]).copied().collect();
        for (got, want) in ev.iter().zip(&want) {
            assert!(
                (got - want).abs() <= 1e-8 * scale,
                "n = {n}: lanczos {got} vs dense {want} (‖H‖ = {scale})"
            );
        }
        // Some models here have negative curvature: the ends are algebraic, not by magnitude.
        assert!(r.converged.iter().all(|&c| c));
        assert!(r.residuals.iter().all(|&res| res <= 1e-8 * scale));
    }
}

#[test]
fn slq_density_integrates_to_one_and_matches_the_dense_moments() {
    for c in cases() {
        let n = c.params.len() as f64;
        let d = c.dense.eigenvalues();
        let m1 = d.iter().sum::<f64>() / n;
        let m2 = d.iter().map(|l| l * l).sum::<f64>() / n;
        let cfg = Slq::new().with_runs(20).unwrap().with_seed(11);
        let s = slq_density(&c.obj, &c.params, &cfg).unwrap();
        assert!(
            (s.integral() - 1.0).abs() < 1e-3,
            "integral {}",
            s.integral()
        );
        assert!(s.grid.len() == s.density.len() && s.density.iter().all(|&v| v >= 0.0));
        let (e1, e2) = (s.first_moment, s.second_moment);
        assert!(e1.std_error > 0.0 && e2.std_error > 0.0);
        assert!(
            (e1.mean - m1).abs() <= 4.0 * e1.std_error,
            "tr(H)/n {m1} vs {} ± {}",
            e1.mean,
            e1.std_error
        );
        assert!(
            (e2.mean - m2).abs() <= 4.0 * e2.std_error,
            "tr(H²)/n {m2} vs {} ± {}",
            e2.mean,
            e2.std_error
        );
        // The smoothed density's own mean is the node mean (the kernel is symmetric).
        assert!((s.grid_moment(1) - e1.mean).abs() <= 1e-3 * m2.sqrt());
    }
}

#[test]
fn hutch_plus_plus_beats_hutchinson_at_the_same_budget() {
    // Hutch++ wins when the spectrum decays (iris 4-16-3: its top subspace carries the trace).
    // At the random-init 10-20-20-3, whose spectrum is flat and nearly traceless, the two tie
    // (measured: 0.50 vs 0.50 at 90 products): no assertion there.
    for c in cases().into_iter().take(1) {
        let exact: f64 = c.dense.eigenvalues().iter().sum();
        let budget = std::env::var("NC_BUDGET")
            .map(|b| b.parse().unwrap())
            .unwrap_or(90);
        let (mut e_h, mut e_pp) = (0.0, 0.0);
        let seeds = 20;
        for seed in 0..seeds {
            let h = hutchinson(&c.obj, &c.params, budget, seed).unwrap();
            let pp = hutch_plus_plus(&c.obj, &c.params, budget, seed).unwrap();
            assert_eq!((h.n_matvecs, pp.n_matvecs), (budget, budget));
            e_h += (h.estimate - exact).abs() / seeds as f64;
            e_pp += (pp.estimate - exact).abs() / seeds as f64;
        }
        assert!(
            e_pp < e_h,
            "mean |error|: hutch++ {e_pp} vs hutchinson {e_h} (trace {exact})"
        );
    }
}

#[test]
fn slice_along_the_top_eigenvector_is_half_lambda_alpha_squared() {
    let data = iris();
    let mut model = Mlp::new(&[4, 16, 3], Activation::Tanh, false, 4).unwrap();
    let mut opt = Adam::new();
    let cfg = TrainConfig {
        batch_size: 150,
        epochs: 1500,
        seed: 0,
        ..Default::default()
    };
    train(
        &mut model,
        &data,
        LossKind::CrossEntropy,
        &mut opt,
        &critpt::optim::Rates::constant(0.01).unwrap(),
        &cfg,
        &mut [],
    )
    .unwrap();
    let obj = NetLoss::new(&model, &data, LossKind::CrossEntropy, BnMode::Eval).unwrap();
    let r = Lanczos::new(1, Which::Largest)
        .with_seed(5)
        .run(&obj, &model.params)
        .unwrap();
    let lambda = r.spectrum.eigenvalues()[0];
    let v = r.spectrum.eigenvector(0);
    assert!(lambda > 0.0);
    // The even part (f(α) + f(−α))/2 − f(0) = ½λα² + O(α⁴) removes the (small) gradient term.
    let f0 = obj.loss(&model.params).unwrap();
    let mut errors = Vec::new();
    for alpha in [1e-1, 3e-2, 1e-2, 3e-3] {
        let f = slice_1d(&obj, &model.params, &v, &[-alpha, alpha]).unwrap();
        let even = 0.5 * (f[0] + f[1]) - f0;
        let quad = 0.5 * lambda * alpha * alpha;
        errors.push((even - quad).abs() / quad);
    }
    for w in errors.windows(2) {
        assert!(w[1] < w[0], "relative errors do not shrink: {errors:?}");
    }
    assert!(errors[3] < 1e-3, "relative errors {errors:?}");
}

/// Multiplies hidden layer 0 (weights and bias) by `c` and the next layer's weights by `1/c`.
fn rescale(model: &Mlp, c: f64) -> Mlp {
    let mut m = model.clone();
    let (Layer::Linear { n_in, n_out }, Layer::Linear { n_out: n2, .. }) =
        (&m.layers[0], &m.layers[2])
    else {
        panic!("expected Linear, act, Linear");
    };
    let first = n_in * n_out + n_out;
    for p in &mut m.params[..first] {
        *p *= c;
    }
    for p in &mut m.params[first..first + n2 * n_out] {
        *p /= c;
    }
    m
}

#[test]
fn filter_normalized_slices_are_scale_invariant_while_lambda_max_is_not() {
    let data = iris();
    let model = Mlp::new(&[4, 16, 3], Activation::Relu, false, 9).unwrap();
    let scaled = rescale(&model, 4.0);
    let out0 = model.forward(&data.x, BnMode::Eval).unwrap();
    let out1 = scaled.forward(&data.x, BnMode::Eval).unwrap();
    assert!((out0 - out1).amax() < 1e-12, "the function changed");
    assert_eq!(filters(&model).len(), 16 + 3);
    let alphas: Vec<f64> = (-10..=10).map(|i| i as f64 * 0.1).collect();
    let curve = |m: &Mlp| {
        let obj = NetLoss::new(m, &data, LossKind::CrossEntropy, BnMode::Eval).unwrap();
        let d = filter_normalized_direction(m, 21).unwrap();
        let lmax = Lanczos::new(1, Which::Largest)
            .run(&obj, &m.params)
            .unwrap()
            .spectrum
            .eigenvalues()[0];
        (slice_1d(&obj, &m.params, &d, &alphas).unwrap(), lmax)
    };
    let (c0, l0) = curve(&model);
    let (c1, l1) = curve(&scaled);
    for (a, b) in c0.iter().zip(&c1) {
        assert!((a - b).abs() <= 1e-10 * a.abs().max(1.0), "{a} vs {b}");
    }
    // The curve is not flat, so the comparison means something.
    assert!(c0.iter().cloned().fold(0.0, f64::max) - c0[10] > 1e-2);
    assert!(
        (l0 - l1).abs() > 0.1 * l0.abs().max(l1.abs()),
        "λmax {l0} vs {l1}"
    );
}

fn analyze(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_critpt"))
        .arg("analyze")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn analyze_lanczos_matches_dense_on_the_cli() {
    let model = repo("fixtures/iris_tanh_random.safetensors");
    let m = model.to_str().unwrap();
    let data = repo("data/iris.csv");
    let d = data.to_str().unwrap();
    let dense = analyze(&[
        "--model",
        m,
        "--data",
        d,
        "--activation",
        "tanh",
        "--method",
        "dense",
        "--density",
    ]);
    let lz = analyze(&[
        "--model",
        m,
        "--data",
        d,
        "--activation",
        "tanh",
        "--method",
        "lanczos",
        "--top",
        "3",
        "--trace",
        "--hvps",
        "60",
        "--density",
        "--seed",
        "4",
    ]);
    assert_eq!(lz["method"], "lanczos");
    assert_eq!(dense["method"], "dense");
    let all = nums(&dense["eigenvalues"]);
    let n = all.len();
    let got = nums(&lz["eigenvalues"]);
    let want: Vec<f64> = all[..3].iter().chain(&all[n - 3..]).copied().collect();
    let scale = all[0].abs().max(all[n - 1].abs());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-7 * scale, "{g} vs {w}");
    }
    assert_eq!(nums(&lz["residuals"]).len(), 6);
    assert!(lz["hvps"].as_u64().unwrap() >= 6);
    // Random weights: not critical, whatever the spectrum; the ratio needs every sign.
    assert_eq!(lz["kind"], dense["kind"]);
    assert!(lz["minimum_ratio"].is_null());
    let exact = dense["trace"].as_f64().unwrap();
    let (t, se) = (
        lz["trace"].as_f64().unwrap(),
        lz["trace_std_error"].as_f64().unwrap(),
    );
    assert!(
        (t - exact).abs() <= 4.0 * se + 1e-9 * exact.abs(),
        "{t} ± {se} vs {exact}"
    );
    let dens = &lz["density"];
    assert_eq!(nums(&dens["grid"]).len(), nums(&dens["values"]).len());
    assert!((dens["integral"].as_f64().unwrap() - 1.0).abs() < 1e-3);
    let m1 = exact / n as f64;
    let fm = &dens["first_moment"];
    assert!((fm["mean"].as_f64().unwrap() - m1).abs() <= 4.0 * fm["std_error"].as_f64().unwrap());
    assert!(dense["density"]["grid"].is_array());
}

#[test]
fn analyze_switches_to_lanczos_above_the_dense_limit() {
    let dir = std::env::temp_dir().join(format!("critpt-netcurv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wide.safetensors");
    let model = Mlp::new(&[4, 600, 3], Activation::Tanh, false, 0).unwrap();
    assert!(model.n_params() > DENSE_LIMIT);
    save_model(&path, &model, Some(LossKind::CrossEntropy), None).unwrap();
    let data = repo("data/iris.csv");
    let v = analyze(&[
        "--model",
        path.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--top",
        "1",
        "--lanczos-tol",
        "1e-6",
    ]);
    assert_eq!(v["method"], "lanczos");
    assert_eq!(v["parameters"], model.n_params());
    assert_eq!(nums(&v["eigenvalues"]).len(), 2);
    assert!(v["trace"].is_null());
    let bad = Command::new(env!("CARGO_BIN_EXE_critpt"))
        .args(["analyze", "--model", path.to_str().unwrap(), "--data"])
        .arg(&data)
        .args(["--method", "lanczos", "--top", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).ok();
}

/// A tanh MLP on iris with every weight and bias equal to `scale` times a seeded normal draw
/// (zero for `scale = 0`): its hidden units are interchangeable, so the Hessian's extreme
/// eigenvalues repeat.
fn symmetric_case(scale: f64) -> Case {
    let mut model = Mlp::new(&[4, 16, 3], Activation::Tanh, false, 0).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for p in model.params.iter_mut() {
        let g: f64 = StandardNormal.sample(&mut rng);
        *p = scale * g;
    }
    let obj = NetLoss::new(&model, &iris(), LossKind::CrossEntropy, BnMode::Eval).unwrap();
    let h = obj.hessian(&model.params).unwrap();
    let dense = symmetric_eigen(&h, EigenBackend::Faer).unwrap();
    Case {
        obj,
        params: model.params,
        dense,
    }
}

#[test]
fn block_lanczos_finds_every_copy_of_repeated_extremes_and_never_a_wrong_index() {
    use critpt::critical::{classify_extremes, classify_spectrum, Tolerances};
    let tol = Tolerances::dual();
    for scale in [0.0, 1e-9] {
        let c = symmetric_case(scale);
        let n = c.params.len();
        let d = c.dense.eigenvalues();
        let norm = c.dense.max_abs();
        let dense_verdict = classify_spectrum(d, 0.0, 0.0, &tol);
        // The spectrum really has repeated extremes (else this test shows nothing).
        assert!((d[1] - d[0]).abs() < 1e-8 * norm, "{:?}", &d[..4]);
        assert!(
            (d[n - 1] - d[n - 2]).abs() < 1e-8 * norm,
            "{:?}",
            &d[n - 4..]
        );
        for k in [3, 8] {
            let r = Lanczos::new(k, Which::Both)
                .with_seed(5)
                .run(&c.obj, &c.params)
                .unwrap();
            let ev = r.spectrum.eigenvalues();
            assert_eq!(ev.len(), 2 * k);
            let want: Vec<f64> = d[..k].iter().chain(&d[n - k..]).copied().collect();
            for (got, want) in ev.iter().zip(&want) {
                assert!(
                    (got - want).abs() <= 1e-8 * norm,
                    "scale {scale}, k {k}: lanczos {ev:?} vs dense {want:?}"
                );
            }
            let v = classify_extremes(&r, Which::Both, k, n, 0.0, 0.0, &tol);
            if let Some(i) = v.index {
                assert_eq!(i, dense_verdict.index, "scale {scale}, k {k}");
            }
            assert!(v.index_at_least <= dense_verdict.index);
            if let Some(kind) = v.kind {
                assert_eq!(kind, dense_verdict.kind, "scale {scale}, k {k}");
            }
            if let Some(ratio) = v.minimum_ratio {
                assert!((ratio - dense_verdict.minimum_ratio).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn analyze_lanczos_on_repeated_extremes_never_reports_a_wrong_index() {
    let dir = std::env::temp_dir().join(format!("critpt-repeated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = repo("data/iris.csv");
    let d = data.to_str().unwrap();
    for scale in [0.0, 1e-9] {
        let mut model = Mlp::new(&[4, 16, 3], Activation::Tanh, false, 0).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for p in model.params.iter_mut() {
            let g: f64 = StandardNormal.sample(&mut rng);
            *p = scale * g;
        }
        let path = dir.join(format!("sym-{scale}.safetensors"));
        save_model(&path, &model, Some(LossKind::CrossEntropy), None).unwrap();
        let m = path.to_str().unwrap();
        let dense = analyze(&["--model", m, "--data", d, "--method", "dense"]);
        let all = nums(&dense["eigenvalues"]);
        let n = all.len();
        let scale_h = all[0].abs().max(all[n - 1].abs());
        let dense_index = dense["index"].as_u64().unwrap();
        for top in ["3", "8"] {
            let k: usize = top.parse().unwrap();
            for which in ["both", "smallest", "largest"] {
                let lz = analyze(&[
                    "--model", m, "--data", d, "--method", "lanczos", "--top", top, "--which",
                    which,
                ]);
                let got = nums(&lz["eigenvalues"]);
                let want: Vec<f64> = match which {
                    "both" => all[..k].iter().chain(&all[n - k..]).copied().collect(),
                    "smallest" => all[..k].to_vec(),
                    _ => all[n - k..].to_vec(),
                };
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-8 * scale_h, "{which} {top}: {g} vs {w}");
                }
                if let Some(i) = lz["index"].as_u64() {
                    assert_eq!(i, dense_index, "{which} {top}");
                }
                assert!(lz["index_at_least"].as_u64().unwrap() <= dense_index);
                if !lz["kind"].is_null() {
                    assert_eq!(lz["kind"], dense["kind"], "{which} {top}");
                }
                assert_eq!(lz["which"], which);
                assert_eq!(lz["block_size"].as_u64().unwrap() as usize, k);
                // The products' share of the run: positive, and part of the whole.
                let (pt, all_t) = (lz["product_seconds"].as_f64(), lz["seconds"].as_f64());
                assert!(
                    pt.unwrap() > 0.0 && pt.unwrap() <= all_t.unwrap(),
                    "{pt:?} {all_t:?}"
                );
            }
        }
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_critpt"))
        .args(["analyze", "--model"])
        .arg(repo("fixtures/iris_tanh_random.safetensors"))
        .args([
            "--data",
            d,
            "--activation",
            "tanh",
            "--method",
            "lanczos",
            "--which",
            "top",
        ])
        .output()
        .unwrap();
    // A malformed command line: clap's usage error, status 2.
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("largest, smallest, both"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
