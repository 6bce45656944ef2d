//! Figures 11 (batch normalization) and 14 (sharpness): the numbers they plot, recomputed
//! independently (by hand from the raw parameters, from PyTorch's fixture, from the dense
//! Hessian).

use crate::util::assert_all_close;
use critpt::gallery::{self, batchnorm as bn, sharpness as sh};
use critpt::nn::{Activation, BnMode, Layer, LossKind, Mlp, NetLoss};
use critpt::objective::{Gradient, Hessian, Loss};
use nalgebra::DMatrix;
use std::path::Path;

/// PyTorch's running-statistics update (docs/reference.md §5): `new = 0.9·old + 0.1·batch`, the
/// variance with Bessel's correction `n/(n−1)`.
fn pytorch_rule(running: &mut (Vec<f64>, Vec<f64>), mean: &[f64], biased_var: &[f64], n: usize) {
    let corr = n as f64 / (n as f64 - 1.0);
    for (r, m) in running.0.iter_mut().zip(mean) {
        *r = 0.9 * *r + 0.1 * m;
    }
    for (r, v) in running.1.iter_mut().zip(biased_var) {
        *r = 0.9 * *r + 0.1 * v * corr;
    }
}

/// Column means and biased variances, written out.
fn stats(h: &DMatrix<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = h.nrows() as f64;
    let mut mean = vec![0.0; h.ncols()];
    let mut var = vec![0.0; h.ncols()];
    for c in 0..h.ncols() {
        for r in 0..h.nrows() {
            mean[c] += h[(r, c)] / n;
        }
        for r in 0..h.nrows() {
            var[c] += (h[(r, c)] - mean[c]).powi(2) / n;
        }
    }
    (mean, var)
}

/// The parameter blocks of the 64-32-10 batch-norm MLP, in state_dict order.
struct BnNet<'a> {
    w0: &'a [f64],
    b0: &'a [f64],
    gamma: &'a [f64],
    beta: &'a [f64],
    w2: &'a [f64],
    b2: &'a [f64],
}

fn split(p: &[f64]) -> BnNet<'_> {
    let (i, h, o) = (bn::SIZES[0], bn::SIZES[1], bn::SIZES[2]);
    let mut at = 0;
    let mut take = |n: usize| {
        let s = &p[at..at + n];
        at += n;
        s
    };
    let net = BnNet {
        w0: take(h * i),
        b0: take(h),
        gamma: take(h),
        beta: take(h),
        w2: take(o * h),
        b2: take(o),
    };
    assert_eq!(at, p.len());
    net
}

/// `h = x W0ᵀ + b0`, the batch-norm layer's input.
fn first_linear(net: &BnNet<'_>, x: &DMatrix<f64>) -> DMatrix<f64> {
    let (i, h) = (bn::SIZES[0], bn::SIZES[1]);
    DMatrix::from_fn(x.nrows(), h, |s, c| {
        net.b0[c] + (0..i).map(|j| x[(s, j)] * net.w0[c * i + j]).sum::<f64>()
    })
}

/// The network's outputs with batch norm using `mean` and variance `var`.
fn outputs(net: &BnNet<'_>, x: &DMatrix<f64>, mean: &[f64], var: &[f64]) -> DMatrix<f64> {
    let (h, o) = (bn::SIZES[1], bn::SIZES[2]);
    let z = first_linear(net, x);
    let a = DMatrix::from_fn(x.nrows(), h, |s, c| {
        (net.gamma[c] * (z[(s, c)] - mean[c]) / (var[c] + 1e-5).sqrt() + net.beta[c]).tanh()
    });
    DMatrix::from_fn(x.nrows(), o, |s, k| {
        net.b2[k] + (0..h).map(|c| a[(s, c)] * net.w2[k * h + c]).sum::<f64>()
    })
}

fn running(model: &Mlp, layer: usize) -> (Vec<f64>, Vec<f64>) {
    match &model.layers[layer] {
        Layer::BatchNorm { state, .. } => (state.running_mean.clone(), state.running_var.clone()),
        other => panic!("layer {layer} is {other:?}"),
    }
}

#[test]
fn batchnorm_running_statistics_follow_the_pytorch_rule() {
    // The rule of this test reproduces PyTorch's fixture (BatchNorm1d(1), two batches).
    let text = std::fs::read_to_string(Path::new("fixtures/batchnorm1d.json")).unwrap();
    let fx: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut r = (vec![0.0], vec![1.0]);
    for case in fx.as_array().unwrap() {
        let col: Vec<f64> = case["batch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row[0].as_f64().unwrap())
            .collect();
        let (m, v) = stats(&DMatrix::from_column_slice(col.len(), 1, &col));
        pytorch_rule(&mut r, &m, &v, col.len());
        assert!((r.0[0] - case["running_mean"][0].as_f64().unwrap()).abs() < 1e-12);
        assert!((r.1[0] - case["running_var"][0].as_f64().unwrap()).abs() < 1e-12);
    }

    let d = bn::compute_with(&bn::Options {
        epochs: 1,
        ..bn::Options::default()
    })
    .unwrap();
    let data = bn::raw_digits().unwrap();
    assert_eq!(d.steps.len(), data.n_samples().div_ceil(bn::BATCH));
    // The first batch's statistics, by hand from the initial parameters.
    let init = Mlp::new(&bn::SIZES, Activation::Tanh, true, bn::SEED).unwrap();
    let (x0, _) = data.select(&d.steps[0].batch);
    let (m0, v0) = stats(&first_linear(&split(&init.params), &x0));
    assert_all_close("", &d.steps[0].batch_mean, &m0, 1e-10);
    assert_all_close("", &d.steps[0].batch_var, &v0, 1e-10);
    // Every step's running statistics are the rule applied to the recorded batch statistics.
    let mut r = (vec![0.0; bn::SIZES[1]], vec![1.0; bn::SIZES[1]]);
    for s in &d.steps {
        pytorch_rule(&mut r, &s.batch_mean, &s.batch_var, s.batch.len());
        assert_all_close("", &s.running_mean, &r.0, 1e-10);
        assert_all_close("", &s.running_var, &r.1, 1e-10);
    }
    let end = running(&d.model, d.bn_layer);
    assert_all_close("", &end.0, &r.0, 1e-10);
    assert_all_close("", &end.1, &r.1, 1e-10);
}

#[test]
fn batchnorm_eval_outputs_are_the_layer_formula_with_running_statistics() {
    let d = bn::compute_with(&bn::Options {
        epochs: 1,
        ..bn::Options::default()
    })
    .unwrap();
    let data = bn::raw_digits().unwrap();
    let net = split(&d.model.params);
    let (rm, rv) = running(&d.model, d.bn_layer);
    let scale = |m: &DMatrix<f64>| m.amax().max(1.0);
    // Eval mode: the running statistics, every sample.
    let by_hand = outputs(&net, &data.x, &rm, &rv);
    let eval = d.model.forward(&data.x, BnMode::Eval).unwrap();
    assert!((&eval - &by_hand).amax() < 1e-10 * scale(&by_hand));
    // Train mode on the probe batch: that batch's own mean and biased variance.
    let (xp, _) = data.select(&d.probe);
    let (bm, bv) = stats(&first_linear(&net, &xp));
    let by_hand = outputs(&net, &xp, &bm, &bv);
    let train = d.model.forward(&xp, BnMode::Train).unwrap();
    assert!((&train - &by_hand).amax() < 1e-10 * scale(&by_hand));
    // The recorded gap is RMS(train − eval) / RMS(eval) on that batch.
    let eval_p = outputs(&net, &xp, &rm, &rv);
    let gap = ((&train - &eval_p).norm_squared() / eval_p.norm_squared()).sqrt();
    let last = d.steps.last().unwrap();
    assert!(
        (last.gap_batch - gap).abs() < 1e-10,
        "{} vs {gap}",
        last.gap_batch
    );
}

#[test]
fn batchnorm_running_statistics_end_near_the_full_data_statistics() {
    // The figure's claim: after training (default settings), every channel's running mean is
    // within 0.15 standard deviations of the full-data mean of the layer's input at the final
    // parameters, and its running variance within 20% of the full-data (unbiased) variance.
    let d = bn::compute().unwrap();
    let data = bn::raw_digits().unwrap();
    let n = data.n_samples() as f64;
    let (pm, pv) = stats(&first_linear(&split(&d.model.params), &data.x));
    let pv: Vec<f64> = pv.iter().map(|v| v * n / (n - 1.0)).collect();
    assert_all_close("", &d.population_mean, &pm, 1e-10);
    assert_all_close("", &d.population_var, &pv, 1e-10);
    let (rm, rv) = running(&d.model, d.bn_layer);
    for c in 0..pm.len() {
        let sd = pv[c].sqrt();
        assert!((rm[c] - pm[c]).abs() < 0.15 * sd, "channel {c} mean");
        assert!((rv[c] / pv[c] - 1.0).abs() < 0.2, "channel {c} var");
    }
    // Far from the start (0, 1): the convergence is real, not the initial values.
    assert!(pv.iter().all(|&v| v > 10.0));
    // The full-data train/eval gap falls by more than 10×; a mini-batch's stays larger.
    let (first, last) = (&d.steps[0], d.steps.last().unwrap());
    assert!(last.gap_full < 0.1 * first.gap_full);
    assert!(last.gap_batch > 2.0 * last.gap_full);
}

fn small() -> sh::Options {
    sh::Options {
        sizes: vec![64, 8, 10],
        n_samples: 128,
        batch_sizes: vec![16, 128],
        batch_lr: 1.0,
        target_loss: 0.03,
        max_epochs: 2000,
        gd_lrs: vec![2.0],
        gd_steps: 60,
        check_every: 20,
    }
}

fn dense_lambda_max(obj: &NetLoss, params: &[f64]) -> f64 {
    let h = obj.hessian(params).unwrap();
    nalgebra::SymmetricEigen::new(h).eigenvalues.max()
}

#[test]
fn sharpness_lambda_max_is_the_dense_hessians_largest_eigenvalue() {
    let o = small();
    let d = sh::compute_with(&o).unwrap();
    let data = sh::data(o.n_samples).unwrap();
    let m = Mlp::new(&o.sizes, Activation::Tanh, false, sh::SEED).unwrap();
    assert!(m.n_params() <= 3000);
    let obj = NetLoss::new(&m, &data, LossKind::Mse, BnMode::Eval).unwrap();
    let mut points: Vec<(&[f64], f64)> = d
        .batch_runs
        .iter()
        .map(|r| (r.params.as_slice(), r.lambda_max))
        .collect();
    for r in &d.gd_runs {
        assert_eq!(r.checkpoints.len(), o.gd_steps / o.check_every + 1);
        points.extend(
            r.checkpoints
                .iter()
                .map(Vec::as_slice)
                .zip(r.lambda_max.iter().copied()),
        );
    }
    for (p, lanczos) in points {
        let dense = dense_lambda_max(&obj, p);
        assert!(
            (lanczos - dense).abs() <= 1e-6 * dense.abs(),
            "{lanczos} vs {dense}"
        );
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn sharpness_runs_are_the_optimizers_own_and_reproducible() {
    let o = small();
    let (a, b) = (sh::compute_with(&o).unwrap(), sh::compute_with(&o).unwrap());
    for (x, y) in a.batch_runs.iter().zip(&b.batch_runs) {
        assert_eq!(x.steps, y.steps);
        assert_eq!(bits(&x.params), bits(&y.params));
        assert_eq!(x.lambda_max.to_bits(), y.lambda_max.to_bits());
    }
    for (x, y) in a.gd_runs.iter().zip(&b.gd_runs) {
        assert_eq!(bits(&x.lambda_max), bits(&y.lambda_max));
        assert_eq!(bits(&x.loss), bits(&y.loss));
    }
    let data = sh::data(o.n_samples).unwrap();
    let m = Mlp::new(&o.sizes, Activation::Tanh, false, sh::SEED).unwrap();
    let obj = NetLoss::new(&m, &data, LossKind::Mse, BnMode::Eval).unwrap();
    // Batch runs stop at the target, and report the loss of their parameters.
    for r in &a.batch_runs {
        let loss = obj.loss(&r.params).unwrap();
        assert!((loss - r.loss).abs() < 1e-12 && loss <= o.target_loss);
        assert!(r.steps >= 1);
    }
    // The full-batch checkpoints are plain gradient descent from the initial model.
    let run = &a.gd_runs[0];
    assert_eq!(bits(&run.checkpoints[0]), bits(&m.params));
    let mut g = vec![0.0; m.n_params()];
    for k in 1..run.checkpoints.len() {
        let mut p = run.checkpoints[k - 1].clone();
        for _ in 0..o.check_every {
            obj.gradient(&p, &mut g).unwrap();
            for (pi, gi) in p.iter_mut().zip(&g) {
                *pi -= run.lr * gi;
            }
        }
        assert_all_close("", &p, &run.checkpoints[k], 1e-12);
        let loss = obj.loss(&run.checkpoints[k]).unwrap();
        assert!((loss - run.loss[k]).abs() < 1e-12);
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    (w, h)
}

#[test]
fn batchnorm_and_sharpness_write_pngs_and_show_their_claims() {
    let dir = std::env::temp_dir().join(format!("critpt-gallery-bn-sharp-{}", std::process::id()));
    let rep = gallery::run_all(&dir, &["batchnorm".to_string(), "sharpness".to_string()]).unwrap();
    assert!(
        rep.all_ok(),
        "{:?}",
        rep.failed().first().map(|f| &f.outcome)
    );
    assert_eq!(png_size(&dir.join("11-batchnorm.png")), gallery::WIDE_SIZE);
    assert_eq!(png_size(&dir.join("14-sharpness.png")), gallery::WIDE_SIZE);
    let out = rep.figures[1].outcome.as_ref().unwrap();
    let get = |k: &str| {
        out.numbers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no number {k}"))
    };
    // Left: λmax grows with the batch size (smaller batches end flatter).
    let lam: Vec<f64> = sh::BATCH_SIZES
        .iter()
        .map(|b| get(&format!("lambda_max_b{b}")))
        .collect();
    assert!(lam.windows(2).all(|w| w[0] < w[1]), "{lam:?}");
    // Right: the runs whose sharpness reaches 2/η hover within 5% of it; the smallest η never
    // reaches its 2/η.
    for &lr in &sh::GD_LRS[1..] {
        let late = get(&format!("late_mean_eta{lr:.3}"));
        assert!((late * lr / 2.0 - 1.0).abs() < 0.05, "η = {lr}: {late}");
    }
    let lr = sh::GD_LRS[0];
    assert!(get(&format!("peak_eta{lr:.3}")) < 2.0 / lr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sharpness_lambda_max_at_the_edge_of_stability_matches_the_dense_hessian() {
    // The figure's own model (2410 parameters) at η = 2 just past the step where λmax first
    // crosses 2/η: the top of the spectrum is crowded there, the hardest case for Lanczos.
    let o = sh::Options {
        gd_lrs: vec![2.0],
        gd_steps: 400,
        batch_sizes: vec![],
        ..sh::Options::default()
    };
    let d = sh::compute_with(&o).unwrap();
    let data = sh::data(o.n_samples).unwrap();
    let m = sh::model(&o).unwrap();
    assert!(m.n_params() <= 3000);
    let obj = sh::objective(&m, &data).unwrap();
    let run = &d.gd_runs[0];
    let (p, lanczos) = (
        run.checkpoints.last().unwrap(),
        *run.lambda_max.last().unwrap(),
    );
    let h = obj.hessian(p).unwrap();
    let dense = critpt::curvature::symmetric_eigen(&h, critpt::curvature::EigenBackend::Faer)
        .unwrap()
        .eigenvalues()
        .last()
        .copied()
        .unwrap();
    assert!(
        (lanczos - dense).abs() <= 1e-6 * dense.abs(),
        "{lanczos} vs {dense}"
    );
    assert!(run.peak() > 1.0, "λmax reached 2/η = 1 by step 400");
}
