//! Matrix-free curvature at scale: Lanczos, power iteration, trace
//! estimators and the SLQ spectral density, checked against dense eigen-decompositions of
//! operators with chosen spectra and of formula Hessians.

use critpt::curvature::{
    hutch_plus_plus, hutchinson, power_extremes, slq_density, symmetric_eigen, EigenBackend,
    Lanczos, LanczosResult, PowerIteration, Slq, Spectrum, Which,
};
use critpt::expr::Formula;
use critpt::landscape::interpolation_slice;
use critpt::objective::{Counted, Hessian, Hvp};
use critpt::problems::QuadraticForm;
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Uniform values in `[lo, hi)` from a seed.
fn uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Checks Lanczos' `k` smallest and `k` largest eigenvalues against the dense decomposition of
/// the same matrix (within `rel` relative), and each eigenvector's residual, recomputed here
/// with the dense matrix.
fn check_against_dense(a: &DMatrix<f64>, r: &LanczosResult, k: usize, rel: f64) -> Spectrum {
    let dense = symmetric_eigen(a, EigenBackend::Faer).unwrap();
    let n = a.nrows();
    let want: Vec<f64> = dense.eigenvalues()[..k]
        .iter()
        .chain(&dense.eigenvalues()[n - k..])
        .copied()
        .collect();
    assert_eq!(r.spectrum.eigenvalues().len(), 2 * k);
    let norm = dense.max_abs();
    for (i, (got, want)) in r.spectrum.eigenvalues().iter().zip(&want).enumerate() {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "pair {i}: lanczos {got} vs dense {want}"
        );
        let x = DVector::from_column_slice(r.spectrum.eigenvector(i).as_slice());
        assert!((x.norm() - 1.0).abs() < 1e-12);
        let res = (a * &x - &x * *got).norm();
        assert!(res <= 1e-7 * norm, "pair {i}: residual {res:e}");
        assert!(
            (res - r.residuals[i]).abs() <= 1e-9 * norm,
            "reported residual"
        );
        assert!(r.converged[i]);
    }
    dense
}

#[test]
fn lanczos_matches_dense_with_a_dominant_negative_eigenvalue() {
    // The most negative eigenvalue (-30) is larger in magnitude than the top positive one (25):
    // it must come out as the smallest, never as the "top" eigenvalue.
    let mut eig = uniform(200, -3.0, 2.0, 1);
    eig[0] = -30.0;
    eig[1] = -12.0;
    eig[2] = 25.0;
    let q = QuadraticForm::from_spectrum(&eig, 2).unwrap();
    let r = Lanczos::new(5, Which::Both)
        .with_seed(3)
        .run(&q, &[0.0; 200])
        .unwrap();
    check_against_dense(q.matrix(), &r, 5, 1e-8);
    assert!((r.spectrum.eigenvalues()[0] + 30.0).abs() < 1e-9);
    assert!((r.spectrum.eigenvalues()[9] - 25.0).abs() < 1e-9);
    // The true residuals come from the basis' stored products: no product more.
    assert_eq!(r.n_hvps, r.iterations * r.block_size);

    // Only the top: 25 and the bulk's top four, not -30.
    let top = Lanczos::new(5, Which::Largest)
        .run(&q, &[0.0; 200])
        .unwrap();
    assert!(top.spectrum.eigenvalues().iter().all(|&l| l > 0.0));
    assert!((top.spectrum.eigenvalues()[4] - 25.0).abs() < 1e-9);
}

#[test]
fn lanczos_matches_dense_on_a_uniform_spectrum() {
    // No outliers: the hardest case for Lanczos; it needs most of the 300 steps.
    let eig: Vec<f64> = (0..300).map(|i| -7.0 + 0.05 * i as f64).collect();
    let q = QuadraticForm::from_spectrum(&eig, 4).unwrap();
    let r = Lanczos::new(5, Which::Both).run(&q, &[0.0; 300]).unwrap();
    check_against_dense(q.matrix(), &r, 5, 1e-8);
}

#[test]
fn lanczos_matches_dense_at_n_1000() {
    // A Hessian-like spectrum: a bulk near zero and outliers at both ends, the negative ones
    // larger in magnitude.
    let mut eig = uniform(1000, -1.0, 1.0, 5);
    let outliers = [
        -40.0, -25.0, -18.0, -14.0, -11.0, 20.0, 15.0, 12.0, 10.0, 8.0,
    ];
    eig[..10].copy_from_slice(&outliers);
    let q = QuadraticForm::from_spectrum(&eig, 6).unwrap();
    let r = Lanczos::new(5, Which::Both)
        .with_seed(7)
        .run(&q, &[0.0; 1000])
        .unwrap();
    check_against_dense(q.matrix(), &r, 5, 1e-8);
    let mut sorted = outliers.to_vec();
    sorted.sort_by(f64::total_cmp);
    for (got, want) in r.spectrum.eigenvalues().iter().zip(&sorted) {
        assert!((got - want).abs() < 1e-8 * want.abs(), "{got} vs {want}");
    }
    // Far fewer products than n.
    assert!(r.n_hvps < 200, "{} products", r.n_hvps);
}

#[test]
fn lanczos_matches_the_dense_hessian_of_a_formula() {
    // Σ (x_i⁴ − 2 x_i²) + 0.3 Σ x_i x_{i+1} + 0.1 Σ x_i x_{i+3}: a double well per variable,
    // coupled; at a seeded random point the Hessian has both signs.
    let n = 20;
    let mut terms: Vec<String> = (1..=n).map(|i| format!("x{i}^4 - 2*x{i}^2")).collect();
    terms.extend((1..n).map(|i| format!("0.3*x{i}*x{}", i + 1)));
    terms.extend((1..n - 2).map(|i| format!("0.1*x{i}*x{}", i + 3)));
    let f = Formula::parse(&terms.join(" + ")).unwrap();
    assert_eq!(f.variables().len(), n);
    let point = uniform(n, -1.2, 1.2, 8);
    let h = f.hessian(&point).unwrap();
    let dense = symmetric_eigen(&h, EigenBackend::Faer).unwrap();
    assert!(dense.eigenvalues()[0] < 0.0 && dense.eigenvalues()[n - 1] > 0.0);
    let r = Lanczos::new(3, Which::Both).run(&f, &point).unwrap();
    check_against_dense(&h, &r, 3, 1e-8);
}

#[test]
fn slq_density_integrates_to_one_and_matches_the_moments() {
    let n = 400;
    let mut eig = uniform(n, -2.0, 3.0, 9);
    eig[0] = 15.0;
    eig[1] = -6.0;
    let q = QuadraticForm::from_spectrum(&eig, 10).unwrap();
    let dense = symmetric_eigen(q.matrix(), EigenBackend::Faer).unwrap();
    let m1 = dense.eigenvalues().iter().sum::<f64>() / n as f64;
    let m2 = dense.eigenvalues().iter().map(|l| l * l).sum::<f64>() / n as f64;
    let cfg = Slq::new()
        .with_runs(20)
        .unwrap()
        .with_steps(60)
        .unwrap()
        .with_seed(11);
    let d = slq_density(&q, &vec![0.0; n], &cfg).unwrap();
    assert_eq!(d.n_hvps, 20 * 60);
    for run in &d.runs {
        let w: f64 = run.weights.iter().sum();
        assert!((w - 1.0).abs() < 1e-12);
    }
    assert!(
        (d.integral() - 1.0).abs() < 1e-5,
        "integral {}",
        d.integral()
    );
    let (e1, e2) = (d.first_moment, d.second_moment);
    assert!(e1.std_error > 0.0 && e2.std_error > 0.0);
    assert!((e1.mean - m1).abs() <= 3.0 * e1.std_error, "{e1:?} vs {m1}");
    assert!((e2.mean - m2).abs() <= 3.0 * e2.std_error, "{e2:?} vs {m2}");
    // The smoothed density's own moments: the kernel adds σ² to the second one.
    let s2 = d.sigma * d.sigma;
    assert!((d.grid_moment(1) - m1).abs() <= 3.0 * e1.std_error + 1e-4);
    assert!((d.grid_moment(2) - m2).abs() <= 3.0 * e2.std_error + s2 + 1e-3);
    // The outliers show up as nodes at the ends.
    let top = d
        .runs
        .iter()
        .flat_map(|r| r.nodes.iter())
        .fold(f64::MIN, |a, &b| a.max(b));
    assert!((top - 15.0).abs() < 1e-6, "{top}");
}

#[test]
fn hutch_plus_plus_beats_hutchinson_on_a_decaying_spectrum() {
    // λ_i = 100 / i²: the trace is dominated by a few large eigenvalues.
    let n = 300;
    let eig: Vec<f64> = (1..=n).map(|i| 100.0 / (i * i) as f64).collect();
    let trace: f64 = eig.iter().sum();
    let q = QuadraticForm::from_spectrum(&eig, 12).unwrap();
    let p = vec![0.0; n];
    let budget = 60;
    let seeds = 0..20u64;
    let mut err_h = 0.0;
    let mut err_hpp = 0.0;
    let mut within = 0;
    for s in seeds.clone() {
        let h = hutchinson(&q, &p, budget, s).unwrap();
        let hpp = hutch_plus_plus(&q, &p, budget, s).unwrap();
        assert_eq!(h.n_matvecs, budget);
        assert_eq!(hpp.n_matvecs, budget);
        err_h += (h.estimate - trace).abs();
        err_hpp += (hpp.estimate - trace).abs();
        within += usize::from((h.estimate - trace).abs() <= 3.0 * h.std_error);
    }
    let k = seeds.count() as f64;
    let (mae_h, mae_hpp) = (err_h / k, err_hpp / k);
    assert!(
        mae_hpp < 0.2 * mae_h,
        "hutch++ {mae_hpp} vs hutchinson {mae_h}"
    );
    // The standard error is honest: nearly every Hutchinson estimate lies within 3 SE.
    assert!(within >= 18, "{within} of 20 within 3 SE");
}

#[test]
fn same_seed_same_results() {
    let eig = uniform(120, -5.0, 5.0, 13);
    let q = QuadraticForm::from_spectrum(&eig, 14).unwrap();
    let p = vec![0.0; 120];
    let run = |s| {
        Lanczos::new(4, Which::Both)
            .with_seed(s)
            .with_max_iters(80)
            .unwrap()
            .run(&q, &p)
            .unwrap()
    };
    let (a, b, c) = (run(5), run(5), run(6));
    assert_eq!(a.spectrum.eigenvalues(), b.spectrum.eigenvalues());
    assert_eq!(a.spectrum.eigenvectors(), b.spectrum.eigenvectors());
    assert_eq!(a.residuals, b.residuals);
    assert_ne!(a.residuals, c.residuals);

    let cfg = Slq::new()
        .with_runs(3)
        .unwrap()
        .with_steps(20)
        .unwrap()
        .with_seed(4);
    let (d1, d2) = (
        slq_density(&q, &p, &cfg).unwrap(),
        slq_density(&q, &p, &cfg).unwrap(),
    );
    assert_eq!(d1.runs, d2.runs);
    assert_eq!(d1.density, d2.density);
    let d3 = slq_density(&q, &p, &cfg.clone().with_seed(5)).unwrap();
    assert_ne!(d1.runs, d3.runs);

    assert_eq!(
        hutch_plus_plus(&q, &p, 30, 2).unwrap(),
        hutch_plus_plus(&q, &p, 30, 2).unwrap()
    );
    assert_eq!(
        hutchinson(&q, &p, 30, 2).unwrap(),
        hutchinson(&q, &p, 30, 2).unwrap()
    );
    // ... and the seed is used: another seed, other probes, another estimate.
    assert_ne!(
        hutch_plus_plus(&q, &p, 30, 2).unwrap().estimate,
        hutch_plus_plus(&q, &p, 30, 3).unwrap().estimate
    );
    assert_ne!(
        hutchinson(&q, &p, 30, 2).unwrap().estimate,
        hutchinson(&q, &p, 30, 3).unwrap().estimate
    );
    let pw = PowerIteration::new().with_seed(9);
    let (x, y) = (pw.run(&q, &p), pw.run(&q, &p));
    match (x, y) {
        (Ok(x), Ok(y)) => assert_eq!(x.eigenvector, y.eigenvector),
        (Err(x), Err(y)) => assert_eq!(x.to_string(), y.to_string()),
        _ => panic!("same seed, different outcome"),
    }
}

#[test]
fn power_iteration_agrees_with_lanczos_and_costs_more() {
    let mut eig = uniform(300, -1.0, 1.0, 15);
    eig[0] = -9.0;
    eig[1] = 6.0;
    eig[2] = 5.0;
    let q = QuadraticForm::from_spectrum(&eig, 16).unwrap();
    let p = vec![0.0; 300];
    let (lo, hi) = power_extremes(&q, &p, &PowerIteration::new()).unwrap();
    assert!((lo.eigenvalue + 9.0).abs() < 1e-7, "{}", lo.eigenvalue);
    assert!((hi.eigenvalue - 6.0).abs() < 1e-7, "{}", hi.eigenvalue);
    let r = Lanczos::new(1, Which::Both).run(&q, &p).unwrap();
    assert!((r.spectrum.eigenvalues()[0] + 9.0).abs() < 1e-9);
    assert!((r.spectrum.eigenvalues()[1] - 6.0).abs() < 1e-9);
    assert!(r.n_hvps < lo.n_hvps + hi.n_hvps);
}

#[test]
fn reported_product_counts_match_an_external_counter() {
    let eig = uniform(150, -4.0, 6.0, 17);
    let q = Counted::new(QuadraticForm::from_spectrum(&eig, 18).unwrap());
    let p = vec![0.0; 150];
    let mut before = 0;
    let mut check = |reported: usize| {
        let now = q.counts().hvps;
        assert_eq!(now - before, reported);
        before = now;
    };
    check(Lanczos::new(3, Which::Both).run(&q, &p).unwrap().n_hvps);
    let cfg = Slq::new().with_runs(4).unwrap().with_steps(25).unwrap();
    check(slq_density(&q, &p, &cfg).unwrap().n_hvps);
    check(hutchinson(&q, &p, 17, 1).unwrap().n_matvecs);
    check(hutch_plus_plus(&q, &p, 31, 1).unwrap().n_matvecs);
    check(PowerIteration::new().run(&q, &p).unwrap().n_hvps);
    assert!(q.counts().hessians == 0, "no dense Hessian is ever built");
}

#[test]
fn default_hvp_many_is_one_product_per_column() {
    // A formula has no blocked product: the trait's default loops over the columns.
    let f = Formula::parse("x^2*y + sin(x*y) + y^4").unwrap();
    let p = [0.7, -1.3];
    let vs = [1.0, 0.0, 0.0, 1.0, 0.6, -0.8];
    let mut many = [0.0; 6];
    f.hvp_many(&p, &vs, 3, &mut many).unwrap();
    let h = f.hessian(&p).unwrap();
    for j in 0..3 {
        let hv = &h * DVector::from_column_slice(&vs[2 * j..2 * j + 2]);
        for i in 0..2 {
            assert!((many[2 * j + i] - hv[i]).abs() < 1e-12 * (1.0 + hv[i].abs()));
        }
    }
    let mut short = [0.0; 5];
    assert!(f.hvp_many(&p, &vs, 3, &mut short).is_err());
}

#[test]
fn interpolation_slice_is_the_quadratic_along_the_segment() {
    // L(θ) = ½θᵀAθ on the segment a + t(b − a): ½aᵀAa + t·aᵀA(b − a) + ½t²(b − a)ᵀA(b − a).
    let q = QuadraticForm::from_spectrum(&[-1.0, 0.5, 2.0, 3.0], 11).unwrap();
    let a = [0.3, -1.0, 0.7, 2.0];
    let b = [-0.4, 0.2, 1.1, -0.5];
    let ts = [-0.5, 0.0, 0.25, 1.0, 1.5];
    let got = interpolation_slice(&q, &a, &b, &ts).unwrap();
    let m = q.matrix();
    let av = DVector::from_column_slice(&a);
    let dv = DVector::from_iterator(4, b.iter().zip(&a).map(|(x, y)| x - y));
    let c0 = 0.5 * av.dot(&(m * &av));
    let c1 = av.dot(&(m * &dv));
    let c2 = 0.5 * dv.dot(&(m * &dv));
    for (t, g) in ts.iter().zip(&got) {
        let want = c0 + c1 * t + c2 * t * t;
        assert!(
            (g - want).abs() < 1e-12 * (1.0 + want.abs()),
            "t {t}: {g} vs {want}"
        );
    }
    assert!(interpolation_slice(&q, &a, &b[..3], &ts).is_err());
    assert!(interpolation_slice(&q, &a, &b, &[f64::NAN]).is_err());
}

#[test]
fn slq_error_bars_cover_the_exact_moments_on_a_spiky_spectrum() {
    // A bulk in [-0.1, 1] and one outlier 300 times larger: the first moment's estimate is
    // skewed, and the spread of ten runs alone understates its error several times.
    let n = 400;
    let mut eig = uniform(n, -0.1, 1.0, 21);
    eig[0] = 300.0;
    let q = QuadraticForm::from_spectrum(&eig, 22).unwrap();
    let exact1 = eig.iter().sum::<f64>() / n as f64;
    let exact2 = eig.iter().map(|l| l * l).sum::<f64>() / n as f64;
    // The exact standard error of the ten-run mean of vᵀHv, v = z/√n, z Rademacher:
    // Var(zᵀHz) = 2(‖H‖_F² − Σ H_ii²).
    let a = q.matrix();
    let diag2: f64 = (0..n).map(|i| a[(i, i)].powi(2)).sum();
    let runs = 10;
    let exact_se1 = (2.0 * (a.norm_squared() - diag2)).sqrt() / n as f64 / (runs as f64).sqrt();
    let (mut cover1, mut cover2, mut ratio) = (0, 0, 0.0);
    let seeds: u64 = 200;
    let mut zs = Vec::new();
    for seed in 0..seeds {
        let cfg = Slq::new()
            .with_runs(runs)
            .unwrap()
            .with_steps(20)
            .unwrap()
            .with_seed(1000 * seed);
        let d = slq_density(&q, &vec![0.0; n], &cfg).unwrap();
        let (m1, m2) = (d.first_moment, d.second_moment);
        cover1 += usize::from((m1.mean - exact1).abs() <= 2.0 * m1.std_error);
        cover2 += usize::from((m2.mean - exact2).abs() <= 2.0 * m2.std_error);
        ratio += m1.std_error / exact_se1 / seeds as f64;
        zs.push((m1.mean - exact1).abs() / m1.std_error);
    }
    zs.sort_by(f64::total_cmp);
    // Two standard errors cover a normal mean 95% of the time; the skewed estimator here about
    // as often. The runs' spread alone covers 86% (172 of 200), with a worst error of 9 of its
    // standard errors and a 95th percentile of 3.9.
    assert!(cover1 >= 182, "first moment covered {cover1} of {seeds}");
    assert!(cover2 >= 182, "second moment covered {cover2} of {seeds}");
    assert!(
        zs[189] <= 2.5,
        "95th percentile error {} standard errors",
        zs[189]
    );
    assert!(
        zs[seeds as usize - 1] <= 5.0,
        "worst error {} standard errors",
        zs[seeds as usize - 1]
    );
    // The reported error is of the right size on average, not several times too small.
    assert!(
        ratio > 0.9 && ratio < 1.5,
        "mean reported / exact standard error {ratio}"
    );
}

#[test]
fn one_end_with_soft_locking_matches_dense_and_counts_its_products() {
    // One end at a time, the block holding every wanted pair: converged pairs leave the block,
    // so fewer products than block steps times block size; values, vectors and residuals
    // against the dense decomposition of the same matrix, products against a counter.
    let mut eig = uniform(1000, -1.0, 1.0, 21);
    eig[..10].copy_from_slice(&[-40.0, -25.0, -18.0, -18.0, -9.0, 30.0, 12.0, 12.0, 9.0, 5.0]);
    let q = Counted::new(QuadraticForm::from_spectrum(&eig, 22).unwrap());
    let a = q.inner().matrix().clone();
    let dense = symmetric_eigen(&a, EigenBackend::Faer).unwrap();
    let d = dense.eigenvalues();
    let norm = dense.max_abs();
    let p = vec![0.0; 1000];
    for (which, want) in [(Which::Largest, &d[995..]), (Which::Smallest, &d[..5])] {
        let before = q.counts().hvps;
        let r = Lanczos::new(5, which).with_seed(4).run(&q, &p).unwrap();
        assert_eq!(q.counts().hvps - before, r.n_hvps);
        assert!(
            r.n_hvps < r.iterations * r.block_size,
            "{which:?}: no pair left the block"
        );
        for (i, (got, want)) in r.spectrum.eigenvalues().iter().zip(want).enumerate() {
            assert!(
                (got - want).abs() <= 1e-8 * want.abs(),
                "{which:?}: {got} vs {want}"
            );
            let x = DVector::from_column_slice(r.spectrum.eigenvector(i).as_slice());
            let res = (&a * &x - &x * *got).norm();
            assert!(res <= 1e-8 * norm, "{which:?} pair {i}: residual {res:e}");
            assert!(
                (res - r.residuals[i]).abs() <= 1e-12 * norm,
                "reported residual"
            );
            assert!(r.converged[i]);
        }
    }
}
