//! The network figures: the numbers they plot, recomputed independently.

use critpt::gallery::{hessian_spectrum as hs, minimum_ratio as mr};
use critpt::nn::{BnMode, LossKind, NetLoss};
use critpt::objective::{gradient_vec, norm, Gradient, Hessian, Loss};
use nalgebra::DMatrix;

#[test]
fn minimum_ratio_runs_are_critical_and_ratios_match_a_recomputed_spectrum() {
    let d = mr::compute_with(&mr::Options {
        runs: 6,
        max_iters: 300,
    })
    .unwrap();
    assert_eq!(d.runs.len(), 6);
    let obj = mr::objective().unwrap();
    let reached = d.reached();
    assert!(!reached.is_empty(), "no run reached the tolerance");
    for r in &reached {
        // Recompute ‖∇L‖ = ‖∇MSE + α θ‖ from the unregularized network loss.
        let g = gradient_vec(&obj.inner, &r.point.point).unwrap();
        let full: Vec<f64> = g
            .iter()
            .zip(&r.point.point)
            .map(|(g, p)| g + mr::WEIGHT_DECAY * p)
            .collect();
        assert!(norm(&full) <= mr::GRAD_TOL, "{}", norm(&full));
    }
    // One run: the ratio is positives / all of an independent eigen-decomposition (nalgebra)
    // of the network Hessian plus α I.
    let r = reached[0];
    let mut h = obj.inner.hessian(&r.point.point).unwrap();
    for i in 0..h.nrows() {
        h[(i, i)] += mr::WEIGHT_DECAY;
    }
    let ev = nalgebra::SymmetricEigen::new(h).eigenvalues;
    let scale = ev.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    let pos = ev.iter().filter(|&&l| l > 1e-8 * scale).count();
    assert!((r.point.minimum_ratio - pos as f64 / ev.len() as f64).abs() < 1e-12);
}

#[test]
fn spectrum_matches_an_independent_finite_difference_hessian() {
    // A small case: 64-3-10 after one epoch.
    let d = hs::compute_with(&[64, 3, 10], 1).unwrap();
    let data = critpt::gallery::nn_common::digits().unwrap();
    let obj = NetLoss::new(&d.model, &data, LossKind::CrossEntropy, BnMode::Eval).unwrap();
    let p = d.model.params.clone();
    let n = p.len();
    // Central differences of the exact gradient, symmetrized.
    let eps = 1e-5;
    let mut h = DMatrix::zeros(n, n);
    let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
    for j in 0..n {
        let mut q = p.clone();
        q[j] += eps;
        obj.gradient(&q, &mut gp).unwrap();
        q[j] -= 2.0 * eps;
        obj.gradient(&q, &mut gm).unwrap();
        for i in 0..n {
            h[(i, j)] = (gp[i] - gm[i]) / (2.0 * eps);
        }
    }
    let h = (&h + h.transpose()) * 0.5;
    let mut ev: Vec<f64> = nalgebra::SymmetricEigen::new(h)
        .eigenvalues
        .iter()
        .copied()
        .collect();
    ev.sort_by(f64::total_cmp);
    assert_eq!(ev.len(), d.eigenvalues.len());
    let scale = ev.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    for (a, b) in ev.iter().zip(&d.eigenvalues) {
        assert!((a - b).abs() < 1e-5 * scale.max(1.0), "{a} vs {b}");
    }
    assert!(obj.loss(&p).unwrap().is_finite());
}

#[test]
fn network_figures_write_pngs_of_the_gallery_size() {
    let dir = std::env::temp_dir().join(format!("critpt-gallery-nn-{}", std::process::id()));
    let rep = critpt::gallery::run_all(&dir, &["minimum-ratio".to_string()]).unwrap();
    assert!(
        rep.all_ok(),
        "{:?}",
        rep.failed().first().map(|f| &f.outcome)
    );
    let b = std::fs::read(dir.join("03-minimum-ratio.png")).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    assert_eq!((w, h), critpt::gallery::SIZE);
    let _ = std::fs::remove_dir_all(&dir);
}
