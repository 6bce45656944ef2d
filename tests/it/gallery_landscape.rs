//! Figure 13 (loss landscape): its slices, eigenpairs and PCA plane, recomputed independently.

use critpt::gallery::{hessian_spectrum as hs, loss_landscape as ll};
use critpt::landscape::random_direction;
use critpt::nn::{Activation, BnMode, LossKind, Mlp, NetLoss};
use critpt::objective::{Hessian, Loss};
use std::sync::OnceLock;

/// Coarse grids: everything but the resolution is the figure's.
const SMALL: ll::Options = ll::Options {
    line_points: 9,
    grid_points: 5,
    seed: ll::SEED,
};

fn small() -> &'static ll::Data {
    static DATA: OnceLock<ll::Data> = OnceLock::new();
    DATA.get_or_init(|| ll::compute_with(&SMALL).unwrap())
}

fn objective(d: &ll::Data) -> NetLoss {
    let data = critpt::gallery::nn_common::digits().unwrap();
    NetLoss::new(&d.model, &data, LossKind::CrossEntropy, BnMode::Eval).unwrap()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `center + Σ t_k · dir_k`.
fn along(center: &[f64], steps: &[(f64, &[f64])]) -> Vec<f64> {
    let mut p = center.to_vec();
    for (t, dir) in steps {
        for (pi, di) in p.iter_mut().zip(dir.iter()) {
            *pi += t * di;
        }
    }
    p
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn checkpoints_run_from_the_initialization_to_figure_12s_model() {
    let d = small();
    assert_eq!(d.checkpoints.len(), ll::EPOCHS + 1);
    let init = Mlp::new(&hs::SIZES, Activation::Tanh, false, 0).unwrap();
    assert_eq!(d.checkpoints[0], init.params);
    // Figure 12 trains with nn::train; the figure's own loop must land on the same point.
    let (m12, _, loss12, _) = hs::trained(&hs::SIZES, ll::EPOCHS).unwrap();
    let last = d.checkpoints.last().unwrap();
    assert_eq!(last, &d.model.params);
    let gap = m12
        .params
        .iter()
        .zip(last)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(gap < 1e-10, "max |θ_fig12 − θ_T| = {gap}");
    assert!(rel_close(d.loss, loss12, 1e-10), "{} vs {loss12}", d.loss);
    // Consecutive checkpoints differ: training moved every epoch.
    for w in d.checkpoints.windows(2) {
        assert!(w[0] != w[1]);
    }
}

#[test]
fn top_eigenpairs_are_eigenpairs_of_the_dense_hessian() {
    let d = small();
    let obj = objective(d);
    let h = obj.hessian(&d.model.params).unwrap();
    // The two largest eigenvalues of an independent decomposition (nalgebra, implicit QR).
    let mut ev: Vec<f64> = nalgebra::SymmetricEigen::new(h.clone())
        .eigenvalues
        .iter()
        .copied()
        .collect();
    ev.sort_by(f64::total_cmp);
    let n = ev.len();
    let scale = ev[0].abs().max(ev[n - 1].abs());
    for k in 0..2 {
        let (lambda, v) = (d.eigenvalues[k], &d.eigenvectors[k]);
        assert!(
            (lambda - ev[n - 1 - k]).abs() < 1e-8 * scale,
            "λ{} = {lambda} vs {}",
            k + 1,
            ev[n - 1 - k]
        );
        assert!((dot(v, v).sqrt() - 1.0).abs() < 1e-10);
        let hv = &h * nalgebra::DVector::from_column_slice(v);
        let res = hv
            .iter()
            .zip(v)
            .map(|(a, b)| (a - lambda * b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(res < 1e-6 * scale, "‖Hv − λv‖ = {res}");
    }
    assert!(dot(&d.eigenvectors[0], &d.eigenvectors[1]).abs() < 1e-8);
    assert!(d.eigenvalues[0] >= d.eigenvalues[1]);
}

#[test]
fn eigenvector_slice_matches_half_lambda_alpha_squared_near_zero() {
    let d = small();
    let obj = objective(d);
    let center = &d.model.params;
    let v = &d.eigenvectors[0];
    let l0 = obj.loss(center).unwrap();
    let lambda = d.eigenvalues[0];
    // Unit-length steps: the even part ½(L(h) + L(−h)) − L(0) drops the linear term of a point
    // that is not exactly critical and equals ½λh² + O(h⁴).
    for h in [1e-3, 3e-3, 1e-2] {
        let lp = obj.loss(&along(center, &[(h, v)])).unwrap();
        let lm = obj.loss(&along(center, &[(-h, v)])).unwrap();
        let even = 0.5 * (lp + lm) - l0;
        let model = 0.5 * lambda * h * h;
        assert!(
            rel_close(even, model, 1e-2),
            "h = {h}: even part {even} vs ½λh² = {model}"
        );
    }
    // The figure's eigenvector slice is the loss along ‖d₁‖·v₁ with ‖d₁‖ the random direction's
    // norm; its curvature at 0 (caption) is λ₁ to a few percent at the figure's spacing.
    assert!(rel_close(
        d.scale,
        dot(&d.random_directions[0], &d.random_directions[0]).sqrt(),
        1e-12
    ));
    for (a, got) in d.alphas.iter().zip(&d.eigen_line).step_by(5) {
        let want = obj.loss(&along(center, &[(a * d.scale, v)])).unwrap();
        assert!(rel_close(*got, want, 1e-12), "α = {a}: {got} vs {want}");
    }
    assert!(rel_close(d.measured_curvature(), lambda, 5e-2));
    assert!(d.quadratic_range(0.1) > 0.0);
}

#[test]
fn random_slices_are_the_loss_along_independently_built_directions() {
    let d = small();
    let obj = objective(d);
    let center = &d.model.params;
    let n = center.len();
    // 64-16-10: W1 (16 rows of 64) at 0, b1 at 1024, W2 (10 rows of 16) at 1040, b2 at 1200.
    assert_eq!(n, 1210);
    let rows: Vec<(usize, usize)> = (0..16)
        .map(|r| (r * 64, 64))
        .chain((0..10).map(|r| (1040 + r * 16, 16)))
        .collect();
    let normalized = |seed: u64| -> Vec<f64> {
        let g = random_direction(n, seed).values;
        let mut out = vec![0.0; n];
        for &(o, l) in &rows {
            let gn = dot(&g[o..o + l], &g[o..o + l]).sqrt();
            let pn = dot(&center[o..o + l], &center[o..o + l]).sqrt();
            for k in o..o + l {
                out[k] = g[k] / gn * pn;
            }
        }
        out
    };
    assert_eq!(d.seeds, [ll::SEED, ll::SEED + 1]);
    let (d1, d2) = (normalized(d.seeds[0]), normalized(d.seeds[1]));
    for (want, got) in [
        (&d1, &d.random_directions[0]),
        (&d2, &d.random_directions[1]),
    ] {
        for (a, b) in want.iter().zip(got) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0));
        }
    }
    // The 1-D slice at a few α, the planes at their corners and centre.
    for i in [0, d.alphas.len() / 3, d.alphas.len() - 1] {
        let a = d.alphas[i];
        let want = obj.loss(&along(center, &[(a, &d1)])).unwrap();
        assert!(rel_close(d.random_line[i], want, 1e-12), "α = {a}");
    }
    let e1: Vec<f64> = d.eigenvectors[0].iter().map(|x| x * d.scale).collect();
    let e2: Vec<f64> = d.eigenvectors[1].iter().map(|x| x * d.scale).collect();
    let m = SMALL.grid_points - 1;
    for (i, j) in [(0, 0), (m, 0), (m / 2, m / 2), (0, m)] {
        let s = &d.random_plane;
        let p = along(center, &[(s.alphas[i], &d1), (s.betas[j], &d2)]);
        assert!(rel_close(s.values[i][j], obj.loss(&p).unwrap(), 1e-12));
        let s = &d.eigen_plane;
        let p = along(center, &[(s.alphas[i], &e1), (s.betas[j], &e2)]);
        assert!(rel_close(s.values[i][j], obj.loss(&p).unwrap(), 1e-12));
    }
    // The centre of each plane is θ* itself.
    assert!(rel_close(
        d.random_plane.values[m / 2][m / 2],
        d.loss,
        1e-12
    ));
}

#[test]
fn pca_plane_is_a_valid_projection_of_the_checkpoints() {
    let d = small();
    let pca = &d.pca;
    let [ev1, ev2] = pca.explained_variance;
    assert!((0.0..=1.0).contains(&ev1) && (0.0..=1.0).contains(&ev2));
    assert!(ev1 >= ev2 && ev1 + ev2 <= 1.0 + 1e-12);
    let [u1, u2] = &pca.directions;
    assert!((dot(u1, u1) - 1.0).abs() < 1e-10 && (dot(u2, u2) - 1.0).abs() < 1e-10);
    assert!(dot(u1, u2).abs() < 1e-10);
    let last = d.checkpoints.last().unwrap();
    let diffs: Vec<Vec<f64>> = d
        .checkpoints
        .iter()
        .map(|c| c.iter().zip(last).map(|(a, b)| a - b).collect())
        .collect();
    for (dif, xy) in diffs.iter().zip(&pca.coordinates) {
        assert!((dot(dif, u1) - xy[0]).abs() < 1e-9 * (1.0 + xy[0].abs()));
        assert!((dot(dif, u2) - xy[1]).abs() < 1e-9 * (1.0 + xy[1].abs()));
    }
    // Reconstruction: the centred differences (i < T) lose exactly the unexplained share of
    // their squared norm when projected on the plane.
    let t = diffs.len() - 1;
    let n = last.len();
    let mean: Vec<f64> = (0..n)
        .map(|k| diffs[..t].iter().map(|v| v[k]).sum::<f64>() / t as f64)
        .collect();
    let (mut total, mut lost) = (0.0, 0.0);
    for v in &diffs[..t] {
        let c: Vec<f64> = v.iter().zip(&mean).map(|(a, b)| a - b).collect();
        let (a, b) = (dot(&c, u1), dot(&c, u2));
        total += dot(&c, &c);
        lost += c
            .iter()
            .zip(u1.iter().zip(u2.iter()))
            .map(|(ci, (x, y))| (ci - a * x - b * y).powi(2))
            .sum::<f64>();
    }
    let bound = (1.0 - ev1 - ev2) * total;
    assert!(lost <= bound * (1.0 + 1e-8) + 1e-12, "{lost} > {bound}");
    assert!(rel_close(lost, bound, 1e-6), "{lost} vs {bound}");
    // The plane's grid is the loss at θ_T + x u₁ + y u₂.
    let obj = objective(d);
    let s = &d.pca_plane;
    let p = along(last, &[(s.alphas[1], u1), (s.betas[3], u2)]);
    assert!(rel_close(s.values[1][3], obj.loss(&p).unwrap(), 1e-12));
}

#[test]
fn same_seed_same_data_other_seed_other_directions() {
    let again = ll::compute_with(&SMALL).unwrap();
    assert_eq!(&again, small());
    let other = ll::compute_with(&ll::Options {
        seed: ll::SEED + 7,
        ..SMALL
    })
    .unwrap();
    assert_ne!(other.random_directions[0], small().random_directions[0]);
    assert_eq!(other.eigenvalues, small().eigenvalues);
    assert!(ll::compute_with(&ll::Options {
        grid_points: 2,
        ..SMALL
    })
    .is_err());
}

#[test]
fn figure_writes_a_png_of_the_requested_size() {
    let dir = std::env::temp_dir().join(format!("critpt-gallery-landscape-{}", std::process::id()));
    let rep = critpt::gallery::run_all(&dir, &["loss-landscape".to_string()]).unwrap();
    assert!(
        rep.all_ok(),
        "{:?}",
        rep.failed().first().map(|f| &f.outcome)
    );
    let b = std::fs::read(dir.join("13-loss-landscape.png")).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    assert_eq!((w, h), ll::GRID_SIZE);
    let out = rep.figures[0].outcome.as_ref().unwrap();
    let get = |k: &str| out.numbers.iter().find(|(n, _)| n == k).unwrap().1;
    assert!(rel_close(get("lambda_1"), small().eigenvalues[0], 1e-9));
    assert!(out.caption.contains(&format!("seed {}", ll::SEED)));
    let _ = std::fs::remove_dir_all(&dir);
}
