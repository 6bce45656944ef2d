//! The dense path that pays for what it uses: eigenvalues without eigenvectors, the extreme
//! eigenpairs alone, and the inertia (exact counts of negative, zero and positive eigenvalues
//! from two LBLᵀ factorizations). Expected values are the chosen spectra of
//! `QuadraticForm::from_spectrum`, the full eigen-decomposition, and recomputed residuals.

use crate::util::repo;
use critpt::critical::{
    classify_counts, classify_point, classify_point_eigenvalues, classify_point_inertia,
    classify_spectrum, Tolerances,
};
use critpt::curvature::{
    extreme_eigenpairs, extreme_eigenpairs_within, inertia, inertia_at, inertia_at_with,
    inertia_with, symmetric_eigen, symmetric_eigenvalues, EigenBackend, EigenPair, Inertia,
};
use critpt::nn::{Activation, BnMode, LossKind, Mlp, NetLoss, Targets};
use critpt::problems::QuadraticForm;
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use std::process::Command;

fn counts_of(spectrum: &[f64], tau: f64) -> Inertia {
    let negative = spectrum.iter().filter(|&&l| l < -tau).count();
    let positive = spectrum.iter().filter(|&&l| l > tau).count();
    Inertia {
        negative,
        zero: spectrum.len() - negative - positive,
        positive,
    }
}

/// A spectrum with exact zeros, a cluster just inside and just outside `±tau`, and a spread of
/// magnitudes up to `big`.
fn spectrum_near_tau(n: usize, tau: f64, big: f64, seed: u64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut s = vec![
        0.0,
        0.0,
        0.0,
        tau * 0.999,
        -tau * 0.999,
        tau * 1.001,
        -tau * 1.001,
        tau * 0.5,
        -tau * 1.01,
        big,
        -0.3 * big,
    ];
    while s.len() < n {
        let mag = big * 10f64.powf(-rng.random_range(0.0..9.0));
        let sign = if rng.random_bool(0.4) { -1.0 } else { 1.0 };
        s.push(sign * mag);
    }
    s
}

#[test]
fn inertia_counts_the_chosen_spectrum_exactly() {
    // 40 and 120 rows: faer's unblocked and blocked factorizations; 260: also block Lanczos
    // in the verdict below.
    for (n, seed) in [(40usize, 1u64), (120, 2), (260, 3)] {
        let tau = 1e-6;
        let s = spectrum_near_tau(n, tau, 10.0, seed);
        let q = QuadraticForm::from_spectrum(&s, seed).unwrap();
        let got = inertia(q.matrix(), tau).unwrap();
        assert_eq!(got, counts_of(&s, tau), "n = {n}");
        assert_eq!(got.total(), n);
        // At a shift between eigenvalues: the counts below and above it.
        for shift in [-5.0, -2e-6, 0.5, 3.0] {
            let i = inertia_at(q.matrix(), shift).unwrap();
            let below = s.iter().filter(|&&l| l < shift).count();
            assert_eq!((i.negative, i.zero, i.positive), (below, 0, n - below));
        }
    }
    // Clusters: many equal eigenvalues on each side of the interval.
    let mut s = vec![2.0; 30];
    s.extend(vec![-1.0; 25]);
    s.extend(vec![1e-9; 15]);
    let q = QuadraticForm::from_spectrum(&s, 9).unwrap();
    assert_eq!(
        inertia(q.matrix(), 1e-7).unwrap(),
        Inertia {
            negative: 25,
            zero: 15,
            positive: 30
        }
    );
    // τ = 0: one factorization, no eigenvalue at zero.
    let s: Vec<f64> = (0..90).map(|i| i as f64 - 30.5).collect();
    let q = QuadraticForm::from_spectrum(&s, 4).unwrap();
    assert_eq!(inertia(q.matrix(), 0.0).unwrap(), counts_of(&s, 0.0));
}

#[test]
fn inertia_of_singular_and_tiny_matrices() {
    // The zero matrix: every eigenvalue inside any interval, and exactly at shift 0.
    let z = DMatrix::<f64>::zeros(70, 70);
    assert_eq!(
        inertia(&z, 1e-12).unwrap(),
        Inertia {
            negative: 0,
            zero: 70,
            positive: 0
        }
    );
    assert_eq!(inertia_at(&z, 0.0).unwrap().zero, 70);
    // Rank one: u uᵀ has eigenvalues |u|², 0, …, 0.
    let u = DVector::from_fn(80, |i, _| (i as f64 * 0.37).sin());
    let r1 = &u * u.transpose();
    assert_eq!(
        inertia(&r1, 1e-10 * u.norm_squared()).unwrap(),
        Inertia {
            negative: 0,
            zero: 79,
            positive: 1
        }
    );
    let empty = DMatrix::<f64>::zeros(0, 0);
    assert_eq!(inertia(&empty, 1.0).unwrap(), Inertia::default());
    assert!(inertia(&DMatrix::<f64>::zeros(2, 3), 0.0).is_err());
    assert!(inertia(&z, -1.0).is_err());
    assert!(inertia(&z, f64::NAN).is_err());
    let mut bad = DMatrix::<f64>::identity(3, 3);
    bad[(1, 1)] = f64::INFINITY;
    assert!(inertia(&bad, 0.0).is_err());
}

#[test]
fn eigenvalues_only_equal_the_full_decomposition_and_the_chosen_spectrum() {
    for (n, seed) in [(30usize, 1u64), (150, 2), (400, 3)] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let s: Vec<f64> = (0..n).map(|_| rng.random_range(-4.0..9.0)).collect();
        let q = QuadraticForm::from_spectrum(&s, seed).unwrap();
        let mut want = s.clone();
        want.sort_by(f64::total_cmp);
        // Backward stability: each eigenvalue within a small multiple of n·ε·‖A‖.
        let tol = 4.0 * n as f64 * f64::EPSILON * 9.0;
        for backend in EigenBackend::available() {
            if backend == EigenBackend::Nalgebra && n > 150 {
                continue;
            }
            let only = symmetric_eigenvalues(q.matrix(), backend).unwrap();
            let full = symmetric_eigen(q.matrix(), backend).unwrap().into_parts().0;
            assert_eq!(only.len(), n);
            for k in 0..n {
                assert!(
                    (only[k] - full[k]).abs() <= tol,
                    "{} n={n} k={k}: {} vs full {}",
                    backend.name(),
                    only[k],
                    full[k]
                );
                assert!(
                    (only[k] - want[k]).abs() <= tol,
                    "{} n={n} k={k}: {} vs chosen {}",
                    backend.name(),
                    only[k],
                    want[k]
                );
            }
        }
    }
    assert!(
        symmetric_eigenvalues(&DMatrix::zeros(0, 0), EigenBackend::Faer)
            .unwrap()
            .is_empty()
    );
    assert!(symmetric_eigenvalues(&DMatrix::zeros(2, 3), EigenBackend::Faer).is_err());
    if !cfg!(feature = "lapack") {
        assert!(symmetric_eigenvalues(&DMatrix::identity(2, 2), EigenBackend::Lapack).is_err());
    }
}

/// A unit vector, signed by the convention, whose reported residual is the true one.
fn check_pair(a: &DMatrix<f64>, pair: &EigenPair, scale: f64, what: &str) {
    let v = DVector::from_column_slice(&pair.vector);
    assert!(
        (v.norm() - 1.0).abs() < 1e-12,
        "{what}: not unit: {}",
        v.norm()
    );
    let r = (a * &v - &v * pair.value).norm();
    assert!(
        (r - pair.residual).abs() <= 1e-12 * scale,
        "{what}: reported {}, true {r}",
        pair.residual
    );
    let big = pair
        .vector
        .iter()
        .copied()
        .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    assert!(big > 0.0, "{what}: sign convention: largest entry positive");
}

#[test]
fn extreme_eigenpairs_match_the_chosen_extremes_with_tiny_residuals() {
    // 120 rows: the full decomposition; 300 and 700: block Lanczos. A Hessian-like spectrum
    // (outliers, a bulk near zero, a small negative tail whose end is separated) and evenly
    // spaced eigenvalues (relative gap 1/n at both ends, more vectors than the basis holds,
    // so thick restarts must carry it) both converge to the tolerance.
    for (n, seed) in [(120usize, 5u64), (300, 6), (700, 7)] {
        let hessian_like: Vec<f64> = (0..n)
            .map(|i| match i {
                0..=4 => 20.0 + 3.0 * i as f64,
                5 => -2.0,
                6..=24 => -0.05 * (i - 5) as f64,
                _ => 0.01 * ((i * 7919) % 997) as f64 / 997.0,
            })
            .collect();
        let even: Vec<f64> = (0..n).map(|i| i as f64 / n as f64 * 6.0 - 1.0).collect();
        for (name, s) in [("hessian-like", hessian_like), ("even", even)] {
            let q = QuadraticForm::from_spectrum(&s, seed).unwrap();
            let (lo, hi) = s
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &l| (a.min(l), b.max(l)));
            let scale = lo.abs().max(hi.abs());
            let e = extreme_eigenpairs(q.matrix(), 1e-10, 0).unwrap();
            let what = format!("{name} n={n}");
            for pair in [&e.smallest, &e.largest] {
                check_pair(q.matrix(), pair, scale, &what);
            }
            assert!(e.converged, "{what}");
            for pair in [&e.smallest, &e.largest] {
                assert!(pair.residual <= 1e-10 * scale, "{what}");
            }
            // Each Ritz value inside [λ_min, λ_max] and within residual²/gap of its extreme.
            assert!(e.smallest.value >= lo - 1e-12 * scale, "{what}");
            assert!(e.largest.value <= hi + 1e-12 * scale, "{what}");
            assert!((e.smallest.value - lo).abs() <= 1e-10 * scale, "{what}");
            assert!((e.largest.value - hi).abs() <= 1e-10 * scale, "{what}");
            assert!((e.max_abs() - scale).abs() <= 1e-10 * scale, "{what}");
        }
    }
    let q = QuadraticForm::from_spectrum(&[1.0, 2.0], 1).unwrap();
    assert!(extreme_eigenpairs(q.matrix(), 0.0, 0).is_err());
    assert!(extreme_eigenpairs(q.matrix(), f64::NAN, 0).is_err());
    assert!(extreme_eigenpairs(&DMatrix::zeros(0, 0), 1e-8, 0).is_err());
}

#[test]
fn extreme_eigenpairs_cut_short_report_their_true_residuals() {
    // Evenly spaced eigenvalues at n = 700 need many restarts at 1e-12; two block steps (32
    // vectors) leave both ends unresolved: either no pair converged (an error that says so)
    // or the result says which did not, with residuals that are the true ones and Ritz
    // values inside the spectrum within their residuals of the extremes.
    let n = 700;
    let s: Vec<f64> = (0..n).map(|i| i as f64 / n as f64 * 6.0 - 1.0).collect();
    let q = QuadraticForm::from_spectrum(&s, 7).unwrap();
    let (lo, hi) = (s[0], s[n - 1]);
    let scale = lo.abs().max(hi.abs());
    for max_iters in [2usize, 4] {
        match extreme_eigenpairs_within(q.matrix(), 1e-12, 0, max_iters) {
            Err(critpt::error::Error::NoConvergence { .. }) => {}
            Err(e) => panic!("max_iters {max_iters}: unexpected error {e}"),
            Ok(e) => {
                let what = format!("max_iters {max_iters}");
                assert!(!e.converged, "{what}");
                for pair in [&e.smallest, &e.largest] {
                    check_pair(q.matrix(), pair, scale, &what);
                }
                assert!(e.smallest.residual.max(e.largest.residual) > 1e-12 * scale);
                assert!(e.smallest.value >= lo - 1e-12 && e.largest.value <= hi + 1e-12);
                assert!(
                    e.smallest.value - lo <= e.smallest.residual + 1e-12,
                    "{what}"
                );
                assert!(hi - e.largest.value <= e.largest.residual + 1e-12, "{what}");
            }
        }
    }
    assert!(extreme_eigenpairs_within(q.matrix(), 1e-8, 0, 0).is_err());
}

#[test]
fn counts_classify_by_the_second_order_test() {
    use critpt::critical::CriticalKind::*;
    let tol = Tolerances::dual();
    // (negative, zero, positive, gradient norm) -> kind, index, minimum ratio (the rules of
    // `critical::classify`).
    let cases = [
        ((1, 0, 3, 0.0), Saddle, 1, 0.75),
        ((1, 2, 1, 0.0), Saddle, 1, 0.25),
        ((0, 0, 4, 0.0), Minimum, 0, 1.0),
        ((3, 0, 0, 0.0), Maximum, 3, 0.0),
        ((0, 1, 3, 0.0), Degenerate, 0, 0.75),
        ((2, 1, 0, 0.0), Degenerate, 2, 0.0),
        ((0, 0, 0, 0.0), Degenerate, 0, 0.0),
        ((0, 0, 4, 1.0), NotCritical, 0, 1.0),
        ((0, 0, 4, f64::NAN), NotCritical, 0, 1.0),
    ];
    for ((negative, zero, positive, g), kind, index, ratio) in cases {
        let c = classify_counts(
            Inertia {
                negative,
                zero,
                positive,
            },
            g,
            &tol,
        );
        assert_eq!(
            (c.kind, c.index, c.zero, c.positive),
            (kind, index, zero, positive)
        );
        assert_eq!(c.minimum_ratio, ratio);
    }
    // The spectrum path counts at the threshold, then applies the same rules.
    let c = classify_spectrum(&[-1.0, 0.0, 1e-20, 2.0], 0.0, 0.0, &tol);
    assert_eq!((c.kind, c.index, c.zero, c.positive), (Saddle, 1, 2, 1));
}

/// Same kind, index, counts, minimum ratio and zero threshold from the inertia and from the
/// eigenvalues alone as from the full spectrum ([`classify_point`], location term included).
fn assert_same_verdict<O>(obj: &O, p: &[f64], tol: &Tolerances, what: &str)
where
    O: critpt::objective::Gradient + critpt::objective::Hessian,
{
    let full = classify_point(obj, p, tol).unwrap();
    let max_abs = full.spectrum.max_abs();
    let ev = full.spectrum.eigenvalues();
    let dense =
        critpt::critical::classify_with_threshold(ev, full.gradient_norm, full.zero_threshold, tol);
    assert_eq!(
        (dense.kind, dense.index, dense.minimum_ratio),
        (full.kind, full.index, full.minimum_ratio)
    );
    let by_inertia =
        classify_point_inertia(obj, p, tol, 0, EigenBackend::fastest_factorization()).unwrap();
    assert_eq!(by_inertia.classification, dense, "{what}");
    // The end of larger magnitude converged; each Ritz value lies inside the spectrum and
    // within its residual of the extreme.
    let ext = &by_inertia.inertia.extremes;
    let (lo, hi) = (ev[0], ev[ev.len() - 1]);
    let big = if hi.abs() >= lo.abs() {
        (ext.largest.value, hi)
    } else {
        (ext.smallest.value, lo)
    };
    assert!((big.0 - big.1).abs() <= 1e-10 * max_abs, "{what}");
    assert!(ext.smallest.value >= lo - 1e-12 * max_abs, "{what}");
    assert!(ext.largest.value <= hi + 1e-12 * max_abs, "{what}");
    assert!(
        ext.smallest.value - lo <= ext.smallest.residual + 1e-12 * max_abs,
        "{what}"
    );
    assert!(
        hi - ext.largest.value <= ext.largest.residual + 1e-12 * max_abs,
        "{what}"
    );
    // τ from the Ritz values: within the documented relative 1e-6 (Lanczos' tolerance).
    let tau = full.zero_threshold;
    assert!(
        (by_inertia.inertia.tau - tau).abs() <= 1e-6 * tau,
        "{what}: τ {} vs dense {tau}",
        by_inertia.inertia.tau
    );
    let values_only = classify_point_eigenvalues(obj, p, tol, EigenBackend::default()).unwrap();
    assert_eq!(values_only.classification, dense, "{what}");
    assert!(
        (values_only.zero_threshold - tau).abs() <= 1e-12 * tau,
        "{what}"
    );
}

#[test]
fn inertia_verdict_equals_the_dense_verdict_near_the_relative_threshold() {
    // max|λ| = 10 and tol_eig = 1e-8: τ = 1e-7 relative to the spectrum, which the inertia
    // path must find through the extreme eigenpairs. Eigenvalues 0.1 % inside and outside.
    let tol = Tolerances::dual();
    for (n, seed) in [(50usize, 1u64), (260, 2)] {
        for variant in 0..3 {
            let mut s = spectrum_near_tau(n, 1e-7, 10.0, seed + variant);
            if variant == 1 {
                // No negative eigenvalue beyond τ: a degenerate minimum.
                s.iter_mut().for_each(|l| *l = l.abs().max(0.999e-7));
                s[0] = 0.0;
            } else if variant == 2 {
                // Nothing inside [−τ, τ]: a saddle of exact index.
                s.iter_mut()
                    .for_each(|l| *l = l.signum() * l.abs().max(1.001e-7));
                s[0] = 1.0;
            }
            let q = QuadraticForm::from_spectrum(&s, seed).unwrap();
            let p = vec![0.0; n];
            let by_inertia =
                classify_point_inertia(&q, &p, &tol, 3, EigenBackend::fastest_factorization())
                    .unwrap();
            assert_eq!(
                by_inertia.inertia.counts,
                counts_of(&s, 1e-7),
                "n={n} variant {variant}"
            );
            assert_same_verdict(&q, &p, &tol, &format!("quadratic n={n} variant {variant}"));
        }
    }
}

#[test]
fn inertia_verdict_equals_the_dense_verdict_on_networks() {
    let cases: Vec<(Vec<usize>, Activation, bool, LossKind, BnMode)> = vec![
        (
            vec![3, 4, 2],
            Activation::Tanh,
            false,
            LossKind::CrossEntropy,
            BnMode::Eval,
        ),
        (
            vec![4, 6, 3, 2],
            Activation::Tanh,
            false,
            LossKind::Mse,
            BnMode::Eval,
        ),
        (
            vec![3, 5, 3],
            Activation::Tanh,
            true,
            LossKind::CrossEntropy,
            BnMode::Train,
        ),
        (
            vec![2, 8, 3],
            Activation::Identity,
            false,
            LossKind::Mse,
            BnMode::Eval,
        ),
        (
            vec![6, 16, 8, 3],
            Activation::Sigmoid,
            false,
            LossKind::CrossEntropy,
            BnMode::Eval,
        ),
    ];
    for (ci, (sizes, act, bn, kind, mode)) in cases.into_iter().enumerate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(40 + ci as u64);
        let model = Mlp::new(&sizes, act, bn, ci as u64).unwrap();
        let n = 23;
        let x = DMatrix::from_fn(n, sizes[0], |_, _| rng.random_range(-2.0..2.0));
        let c = *sizes.last().unwrap();
        let t = match kind {
            LossKind::CrossEntropy => {
                Targets::Labels((0..n).map(|_| rng.random_range(0..c)).collect())
            }
            LossKind::Mse => {
                Targets::Values(DMatrix::from_fn(n, c, |_, _| rng.random_range(-1.0..1.0)))
            }
        };
        let obj = NetLoss::from_parts(&model, x, t, kind, mode).unwrap();
        // The default gradient tolerance (not critical) and a permissive one, so that the
        // spectrum decides the kind.
        for tol in [
            Tolerances::dual(),
            Tolerances::dual().with_grad(1e6).unwrap(),
        ] {
            assert_same_verdict(
                &obj,
                &model.params,
                &tol,
                &format!("network {ci} {sizes:?}"),
            );
        }
    }
}

fn analyze(stem: &str, method: &str, extra: &[&str]) -> serde_json::Value {
    let model = repo(&format!("fixtures/{stem}.safetensors"));
    let data = repo("data/iris.csv");
    let mut args = vec![
        "analyze",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--activation",
        "tanh",
        "--method",
        method,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_critpt"))
        .args(&args)
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
fn analyze_inertia_gives_the_dense_verdict_on_the_fixture_models() {
    for stem in ["iris_tanh_random", "iris_batchnorm_eval"] {
        for extra in [&[][..], &["--tol-grad", "1e6"][..]] {
            let d = analyze(stem, "dense", extra);
            let i = analyze(stem, "inertia", extra);
            assert_eq!(i["method"], "inertia");
            for key in ["kind", "index", "minimum_ratio", "parameters", "samples"] {
                assert_eq!(i[key], d[key], "{stem} {extra:?}: {key}");
            }
            let ev: Vec<f64> = d["eigenvalues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let scale = ev.iter().fold(0.0f64, |m, l| m.max(l.abs()));
            // Not critical at the default tol_grad: the relative threshold alone. With
            // --tol-grad 1e6 the location term widens it, the same in both methods.
            let tau = d["zero_threshold"].as_f64().unwrap();
            if extra.is_empty() {
                assert!((tau - 1e-8 * scale).abs() <= 1e-15 * scale, "{stem}");
            }
            let ti = i["zero_threshold"].as_f64().unwrap();
            assert!(
                (ti - tau).abs() <= 1e-6 * tau,
                "{stem} {extra:?}: τ {ti} vs {tau}"
            );
            let counts = &i["counts"];
            let want = counts_of(&ev, tau);
            assert_eq!(counts["negative"], want.negative, "{stem}");
            assert_eq!(counts["zero"], want.zero, "{stem}");
            assert_eq!(counts["positive"], want.positive, "{stem}");
            let ie: Vec<f64> = i["eigenvalues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(ie.len(), 2);
            assert!((ie[0] - ev[0]).abs() <= 1e-10 * scale, "{stem}");
            assert!((ie[1] - ev[ev.len() - 1]).abs() <= 1e-10 * scale, "{stem}");
            let (t, td) = (i["trace"].as_f64().unwrap(), d["trace"].as_f64().unwrap());
            assert!((t - td).abs() <= 1e-12 * scale * ev.len() as f64, "{stem}");
        }
        // --escape with inertia: the step of the dense path.
        let d = analyze(stem, "dense", &["--escape"]);
        let i = analyze(stem, "inertia", &["--escape"]);
        assert_eq!(i["escape"], d["escape"], "{stem}");
    }
}

#[test]
fn every_factorization_backend_counts_the_chosen_spectrum() {
    // faer's LBLᵀ and, with the feature, LAPACK's dsytrf: the same exact counts, each from
    // one reused buffer for both shifts (the second factorization must not see the first).
    for (n, seed) in [(40usize, 11u64), (300, 12)] {
        let tau = 1e-6;
        let s = spectrum_near_tau(n, tau, 10.0, seed);
        let q = QuadraticForm::from_spectrum(&s, seed).unwrap();
        for backend in EigenBackend::available() {
            if backend == EigenBackend::Nalgebra {
                assert!(inertia_with(q.matrix(), tau, backend).is_err());
                continue;
            }
            let what = format!("{} n={n}", backend.name());
            assert_eq!(
                inertia_with(q.matrix(), tau, backend).unwrap(),
                counts_of(&s, tau),
                "{what}"
            );
            for shift in [-5.0, 0.5, 3.0] {
                let below = s.iter().filter(|&&l| l < shift).count();
                let i = inertia_at_with(q.matrix(), shift, backend).unwrap();
                assert_eq!(
                    (i.negative, i.zero, i.positive),
                    (below, 0, n - below),
                    "{what}"
                );
            }
        }
    }
    // A singular 2×2 pivot structure: [[0, 1], [1, 0]] ⊕ 0 ⊕ diag(−3, 5).
    let mut a = DMatrix::<f64>::zeros(5, 5);
    a[(0, 1)] = 1.0;
    a[(1, 0)] = 1.0;
    a[(3, 3)] = -3.0;
    a[(4, 4)] = 5.0;
    for backend in EigenBackend::available() {
        if backend != EigenBackend::Nalgebra {
            let i = inertia_at_with(&a, 0.0, backend).unwrap();
            assert_eq!(
                (i.negative, i.zero, i.positive),
                (2, 1, 2),
                "{}",
                backend.name()
            );
        }
    }
    if !cfg!(feature = "lapack") {
        assert!(inertia_with(&a, 0.0, EigenBackend::Lapack).is_err());
    }
}

#[test]
fn every_verdict_uses_the_location_term_of_the_threshold() {
    use critpt::critical::CriticalKind;
    // x³ − 3xy² near its degenerate critical point: at (r, 0) the spectrum is ±6r, the Newton
    // step is (−r/2, 0) and ‖ΔH‖_F = 3√2·r, so the threshold is at least 9√2·r > 6r and the
    // point is degenerate, as the origin is (classify.rs's module docs). The gradient 3r² is
    // below tol_grad, so the point counts as critical.
    let f = critpt::expr::Formula::parse("x^3 - 3*x*y^2").unwrap();
    let tol = Tolerances::dual();
    for r in [1e-4, 3e-5] {
        let p = [r, 0.0];
        let full = classify_point(&f, &p, &tol).unwrap();
        assert_eq!(full.kind, CriticalKind::Degenerate, "r = {r}");
        let want_tau = 3.0 * 3.0 * 2f64.sqrt() * r;
        assert!(
            (full.zero_threshold - want_tau).abs() <= 1e-9 * want_tau,
            "r = {r}"
        );
        for backend in EigenBackend::available() {
            let only = classify_point_eigenvalues(&f, &p, &tol, backend).unwrap();
            assert!(only.eigenvectors_computed);
            assert_eq!(
                only.classification.kind,
                CriticalKind::Degenerate,
                "r = {r}"
            );
            assert_eq!(only.classification.index, full.index);
            assert_eq!(only.classification.minimum_ratio, full.minimum_ratio);
            assert!((only.zero_threshold - full.zero_threshold).abs() <= 1e-12 * want_tau);
        }
        let by_inertia =
            classify_point_inertia(&f, &p, &tol, 0, EigenBackend::fastest_factorization()).unwrap();
        assert!(by_inertia.eigenvectors_computed);
        assert_eq!(by_inertia.classification.kind, CriticalKind::Degenerate);
        assert_eq!(by_inertia.classification.index, full.index);
        assert_eq!(by_inertia.classification.minimum_ratio, full.minimum_ratio);
        assert!((by_inertia.inertia.tau - full.zero_threshold).abs() <= 1e-12 * want_tau);
        assert_eq!(
            (
                by_inertia.inertia.counts.negative,
                by_inertia.inertia.counts.zero
            ),
            (0, 2)
        );
    }
    // At an exact critical point (zero gradient) the term does not apply: no eigenvectors.
    let q = QuadraticForm::from_spectrum(&[-1.0, 2.0, 3.0], 2).unwrap();
    let only = classify_point_eigenvalues(&q, &[0.0; 3], &tol, EigenBackend::Faer).unwrap();
    assert!(!only.eigenvectors_computed);
    assert_eq!(only.classification.index, 1);
}

#[test]
fn analyze_inertia_on_repeated_extremes_gives_the_dense_index() {
    // The symmetric tanh MLP on iris (zero weights, then weights 1e-9 times a normal draw):
    // repeated extreme eigenvalues, and an exact index from the counts whatever their
    // multiplicity; the JSON names the backend that produced them.
    use critpt::nn::save_model;
    use rand_distr::{Distribution, StandardNormal};
    let dir = std::env::temp_dir().join(format!("critpt-inertia-sym-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = repo("data/iris.csv");
    for scale in [0.0, 1e-9] {
        let mut model = Mlp::new(&[4, 16, 3], Activation::Tanh, false, 0).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for p in model.params.iter_mut() {
            let g: f64 = StandardNormal.sample(&mut rng);
            *p = scale * g;
        }
        let path = dir.join(format!("sym-{scale}.safetensors"));
        save_model(&path, &model, Some(LossKind::CrossEntropy), None).unwrap();
        let run = |method: &str| -> serde_json::Value {
            let out = Command::new(env!("CARGO_BIN_EXE_critpt"))
                .args(["analyze", "--model"])
                .arg(&path)
                .arg("--data")
                .arg(&data)
                .args(["--method", method, "--json"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        };
        let d = run("dense");
        let i = run("inertia");
        let ev: Vec<f64> = d["eigenvalues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let n = ev.len();
        let norm = ev[0].abs().max(ev[n - 1].abs());
        // Repeated extremes really are there.
        assert!((ev[1] - ev[0]).abs() < 1e-8 * norm && (ev[n - 1] - ev[n - 2]).abs() < 1e-8 * norm);
        let want = counts_of(&ev, 1e-8 * norm);
        assert_eq!(i["index"], want.negative, "scale {scale}");
        assert_eq!(i["index"], d["index"], "scale {scale}");
        assert_eq!(i["kind"], d["kind"], "scale {scale}");
        assert_eq!(i["minimum_ratio"], d["minimum_ratio"], "scale {scale}");
        assert_eq!(i["counts"]["zero"], want.zero, "scale {scale}");
        let fastest = EigenBackend::fastest_eigenvalues().name();
        assert_eq!(d["backend"], fastest);
        assert_eq!(i["backend"], EigenBackend::fastest_factorization().name());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn escape_needs_only_the_smallest_eigenpair() {
    use critpt::critical::{escape_saddle, smallest_curvature, EscapeOptions};
    // 400 rows (block Lanczos, not the full decomposition): the smallest eigenpair of the
    // chosen spectrum, its vector the dense one up to sign, the classifier's threshold.
    let n = 400;
    let s: Vec<f64> = (0..n)
        .map(|i| match i {
            0 => -3.0,
            1 => -1.0,
            2..=5 => 25.0 + i as f64,
            _ => 0.02 * ((i * 7919) % 997) as f64 / 997.0,
        })
        .collect();
    let q = QuadraticForm::from_spectrum(&s, 21).unwrap();
    let p = vec![0.0; n];
    let tol = Tolerances::dual();
    let full = classify_point(&q, &p, &tol).unwrap();
    let c = smallest_curvature(&q, &p, &tol).unwrap();
    let scale = full.spectrum.max_abs();
    assert!(
        (c.eigenvalue + 3.0).abs() <= 1e-10 * scale,
        "{}",
        c.eigenvalue
    );
    assert!(c.residual <= 1e-10 * scale);
    let u = full.spectrum.eigenvector(0);
    let cos: f64 = u.iter().zip(&c.eigenvector).map(|(a, b)| a * b).sum();
    assert!((cos.abs() - 1.0).abs() <= 1e-10, "cos {cos}");
    assert!((c.zero_threshold - full.zero_threshold).abs() <= 1e-10 * full.zero_threshold);
    let step = escape_saddle(&q, &p, &tol, &EscapeOptions::with_step(0.5).unwrap()).unwrap();
    assert!((step.eigenvalue + 3.0).abs() <= 1e-10 * scale);
    // f(αu) = ½·λ·α² exactly for a quadratic at its critical point.
    assert!((step.value_after - 0.5 * -3.0 * 0.25).abs() <= 1e-9);
}
