//! The core pipeline against docs/reference.md: the chapter's saddle, Himmelblau's nine points,
//! degenerate origins, finite differences against dual numbers, and escape.

use crate::util::{assert_close, critpt, critpt_json, nums};
use critpt::critical::{classify_point, escape_saddle, CriticalKind, EscapeOptions, Tolerances};
use critpt::derivatives::FiniteDiff;
use critpt::expr::Formula;
use critpt::objective::{gradient_vec, Gradient, Hessian, Loss};
use critpt::surfaces::{self, VALLEY_X, VALLEY_Y};
use rand::{rngs::StdRng, Rng, SeedableRng};

const S: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// docs/reference.md §1 through the CLI, with both derivative methods.
#[test]
fn chapter_saddle_classify_cli() {
    // Tolerances: dual numbers are exact up to the eigensolver's rounding; central differences
    // of this quartic carry their O(h²) error.
    for (method, tol, utol) in [("dual", 1e-14, 1e-15), ("fd", 1e-6, 1e-9)] {
        let v = critpt_json(&[
            "classify",
            "--expr",
            "(1-w1*w2)^2",
            "--at",
            "0,0",
            "--method",
            method,
        ]);
        assert_eq!(v["kind"], "saddle", "{method}");
        assert_eq!(v["index"], 1);
        assert_eq!(v["method"], method);
        assert_close(v["minimum_ratio"].as_f64().unwrap(), 0.5, 0.0, "ratio");
        assert_close(v["value"].as_f64().unwrap(), 1.0, 1e-15, "value");
        let ev = nums(&v["eigenvalues"]);
        assert_close(ev[0], -2.0, tol, "lambda_min");
        assert_close(ev[1], 2.0, tol, "lambda_max");
        let u = nums(&v["eigenvectors"][0]);
        // ±(1, 1)/√2: same sign, both of magnitude 1/√2.
        assert_close(u[0].abs(), S, utol, "u0");
        assert_close(u[1].abs(), S, utol, "u1");
        assert!(
            u[0] * u[1] > 0.0,
            "eigenvector of -2 is ±(1,1)/√2, got {u:?}"
        );
        assert_eq!(v["variables"], serde_json::json!(["w1", "w2"]));
    }
}

#[test]
fn chapter_saddle_escape_lowers_the_loss() {
    let v = critpt_json(&["escape", "--expr", "(1-w1*w2)^2", "--at", "0,0"]);
    let d = nums(&v["direction"]);
    assert_close(d[0].abs(), S, 1e-12, "d0");
    assert!(d[0] * d[1] > 0.0);
    let step = v["step"].as_f64().unwrap();
    let to = nums(&v["to"]);
    assert_close(to[0], step * d[0], 1e-15, "to = step·direction");
    assert_close(to[1], step * d[1], 1e-15, "to = step·direction");
    let before = v["value_before"].as_f64().unwrap();
    let after = v["value_after"].as_f64().unwrap();
    assert!(
        after < before,
        "escape must lower the loss: {before} -> {after}"
    );
    // Closed form along u: L(α u) = (1 − α²/2)².
    assert_close(after, (1.0 - step * step / 2.0).powi(2), 1e-14, "L(αu)");
    assert_close(v["eigenvalue"].as_f64().unwrap(), -2.0, 1e-12, "eigenvalue");
    assert_close(
        v["predicted_change"].as_f64().unwrap(),
        -step * step,
        1e-14,
        "½λα²",
    );
}

#[test]
fn escape_matches_second_order_prediction_for_small_steps() {
    let f = Formula::parse("(1-w1*w2)^2").unwrap();
    let opts = EscapeOptions::with_step(1e-2).unwrap();
    let e = escape_saddle(&f, &[0.0, 0.0], &Tolerances::dual(), &opts).unwrap();
    assert_close(e.step, 1e-2, 0.0, "fixed step is kept");
    let actual = e.value_after - e.value_before;
    // L(αu) − 1 = −α² + α⁴/4: relative gap α²/4.
    assert_close(actual / e.predicted_change, 1.0, 3e-5, "ratio to ½λα²");
}

#[test]
fn escape_from_a_minimum_is_refused() {
    let out = critpt(&["escape", "--fn", "himmelblau", "--at", "3,2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no direction of negative curvature"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
}

#[test]
fn hyperbola_minima_are_degenerate() {
    let f = Formula::parse("(1-w1*w2)^2").unwrap();
    for (at, big) in [([1.0, 1.0], 4.0), ([0.5, 2.0], 8.5), ([-1.0, -1.0], 4.0)] {
        for method in ["dual", "fd"] {
            let p = match method {
                "dual" => classify_point(&f, &at, &Tolerances::dual()).unwrap(),
                _ => classify_point(&FiniteDiff::new(&f), &at, &Tolerances::fd()).unwrap(),
            };
            assert_eq!(p.kind, CriticalKind::Degenerate, "{at:?} {method}");
            assert_eq!(p.index, 0);
            // Exact entries (H(1, 1) = [[2, 2], [2, 2]], H(0.5, 2) = [[8, 2], [2, 0.5]]): the
            // eigensolver's rounding for dual numbers, the O(h²) error for differences.
            let tol = if method == "dual" { 1e-13 } else { 1e-6 };
            assert_close(p.spectrum.eigenvalues()[1], big, tol, "nonzero eigenvalue");
            assert_close(p.spectrum.eigenvalues()[0], 0.0, tol, "zero eigenvalue");
        }
    }
    let v = critpt_json(&["classify", "--fn", "two-weight", "--at", "1,1"]);
    assert_eq!(v["kind"], "degenerate");
}

/// A few Newton steps on ∇f = 0 from a rounded published point.
fn polish(f: &Formula, start: &[f64]) -> Vec<f64> {
    let mut x = start.to_vec();
    for _ in 0..20 {
        let g = gradient_vec(f, &x).unwrap();
        let h = f.hessian(&x).unwrap();
        let step = h.lu().solve(&nalgebra::DVector::from_vec(g)).unwrap();
        for i in 0..x.len() {
            x[i] -= step[i];
        }
    }
    x
}

#[test]
fn himmelblau_nine_points() {
    let s = surfaces::by_name("himmelblau").unwrap();
    let f = s.formula();
    assert_eq!(s.critical_points.len(), 9);
    let mut counts: std::collections::HashMap<CriticalKind, usize> = Default::default();
    for known in &s.critical_points {
        // The published coordinates (6 decimals) through the CLI with a tolerance to match.
        let at = known
            .point
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let v = critpt_json(&[
            "classify",
            "--fn",
            "himmelblau",
            "--at",
            &at,
            "--tol-grad",
            "1e-3",
        ]);
        assert_eq!(v["kind"], known.kind.name(), "at {at}");
        // Polished to machine precision: within 1e-6 of the published point, default tolerances.
        let x = polish(&f, &known.point);
        for (a, b) in x.iter().zip(&known.point) {
            assert_close(*a, *b, 1e-6, "published coordinate");
        }
        let p = classify_point(&f, &x, &Tolerances::dual()).unwrap();
        assert_eq!(p.kind, known.kind, "polished {x:?}");
        *counts.entry(p.kind).or_insert(0) += 1;
        let fd = classify_point(&FiniteDiff::new(&f), &x, &Tolerances::fd()).unwrap();
        assert_eq!(fd.kind, known.kind, "fd at {x:?}");
    }
    assert_eq!(counts[&CriticalKind::Minimum], 4);
    assert_eq!(counts[&CriticalKind::Saddle], 4);
    assert_eq!(counts[&CriticalKind::Maximum], 1);
    // Morse: #min − #saddle + #max = 1 (Euler characteristic of the plane).
    let euler = counts[&CriticalKind::Minimum] as i64 - counts[&CriticalKind::Saddle] as i64
        + counts[&CriticalKind::Maximum] as i64;
    assert_eq!(euler, 1);
    // At (3, 2) the Hessian is [[12x² + 4y − 42, 4x + 4y], [4x + 4y, 4x + 12y² − 26]] =
    // [[74, 20], [20, 34]] exactly (docs/reference.md §2 publishes {25.72, 82.28}), so the
    // eigenvalues are 54 ± √800: to the eigensolver's rounding, a few ε·‖H‖.
    let h = f.hessian(&[3.0, 2.0]).unwrap();
    assert_eq!(
        (h[(0, 0)], h[(0, 1)], h[(1, 0)], h[(1, 1)]),
        (74.0, 20.0, 20.0, 34.0)
    );
    let p = classify_point(&f, &[3.0, 2.0], &Tolerances::dual()).unwrap();
    assert_close(
        p.spectrum.eigenvalues()[0],
        54.0 - 800f64.sqrt(),
        1e-13,
        "λ1 at (3,2)",
    );
    assert_close(
        p.spectrum.eigenvalues()[1],
        54.0 + 800f64.sqrt(),
        1e-13,
        "λ2 at (3,2)",
    );
    assert_close(
        p.spectrum.eigenvalues()[0],
        25.72,
        0.005,
        "published λ1 at (3,2)",
    );
    assert_close(
        p.spectrum.eigenvalues()[1],
        82.28,
        0.005,
        "published λ2 at (3,2)",
    );
    // The maximum's spectrum is published to four digits only.
    let m = polish(&f, &[-0.270845, -0.923039]);
    let p = classify_point(&f, &m, &Tolerances::dual()).unwrap();
    assert_close(
        p.spectrum.eigenvalues()[0],
        -45.61,
        0.005,
        "λ1 at the maximum",
    );
    assert_close(
        p.spectrum.eigenvalues()[1],
        -16.07,
        0.005,
        "λ2 at the maximum",
    );
    assert_close(p.value, 181.6165, 5e-5, "f at the maximum");
}

#[test]
fn published_spectra_of_other_surfaces() {
    // Rosenbrock at (1, 1): H = [[802, −400], [−400, 200]] exactly, eigenvalues
    // 501 ± √(301² + 400²) (the small one as det/λ₂ = 400/λ₂); docs/reference.md §2: 0.39936,
    // 1001.6006.
    let f = surfaces::by_name("rosenbrock").unwrap().formula();
    let p = classify_point(&f, &[1.0, 1.0], &Tolerances::dual()).unwrap();
    assert_eq!(p.kind, CriticalKind::Minimum);
    let l2 = 501.0 + (301f64 * 301.0 + 400.0 * 400.0).sqrt();
    assert_close(
        p.spectrum.eigenvalues()[0],
        400.0 / l2,
        1e-11,
        "rosenbrock λ1 closed form",
    );
    assert_close(
        p.spectrum.eigenvalues()[1],
        l2,
        1e-11,
        "rosenbrock λ2 closed form",
    );
    assert_close(p.spectrum.eigenvalues()[0], 0.39936, 5e-6, "rosenbrock λ1");
    assert_close(
        p.spectrum.eigenvalues()[1],
        1001.6006,
        5e-5,
        "rosenbrock λ2",
    );
    // Double well: minima (±1, 0) {2, 8}; saddle (0, 0) {−4, 2}.
    let f = surfaces::by_name("double-well").unwrap().formula();
    let p = classify_point(&f, &[0.0, 0.0], &Tolerances::dual()).unwrap();
    assert_eq!((p.kind, p.index), (CriticalKind::Saddle, 1));
    assert_close(p.spectrum.eigenvalues()[0], -4.0, 1e-13, "dw saddle λ1");
    let p = classify_point(&f, &[-1.0, 0.0], &Tolerances::dual()).unwrap();
    assert_eq!(p.kind, CriticalKind::Minimum);
    assert_close(p.spectrum.eigenvalues()[1], 8.0, 1e-13, "dw min λ2");
    // 5x² − y²: saddle {−2, 10}, ratio 0.5.
    let v = critpt_json(&["classify", "--expr", "5*x^2 - y^2", "--at", "0,0"]);
    assert_eq!(v["kind"], "saddle");
    assert_eq!(nums(&v["eigenvalues"]), vec![-2.0, 10.0]);
    // Three-hump camel and Beale at their published points.
    for (name, tol_grad) in [
        ("three-hump-camel", 1e-4),
        ("beale", 1e-4),
        ("valley", 1e-4),
    ] {
        let s = surfaces::by_name(name).unwrap();
        let f = s.formula();
        for k in &s.critical_points {
            let x = polish(&f, &k.point);
            for (a, b) in x.iter().zip(&k.point) {
                assert_close(*a, *b, 1e-5, name);
            }
            let t = Tolerances::dual().with_grad(tol_grad).unwrap();
            assert_eq!(
                classify_point(&f, &x, &t).unwrap().kind,
                k.kind,
                "{name} {x:?}"
            );
        }
    }
}

#[test]
fn degenerate_origins() {
    for src in ["x^3 - 3*x*y^2", "x^2 + y^4", "x^2 + y^3", "x^4 + y^4"] {
        for method in ["dual", "fd"] {
            let v = critpt_json(&["classify", "--expr", src, "--at", "0,0", "--method", method]);
            assert_eq!(v["kind"], "degenerate", "{src} with {method}");
        }
    }
    let v = critpt_json(&["classify", "--fn", "monkey-saddle", "--at", "0,0"]);
    assert_eq!(v["kind"], "degenerate");
}

#[test]
fn non_critical_point_reports_its_gradient_norm() {
    // Himmelblau at the origin: ∇f = (−14, −22).
    let v = critpt_json(&["classify", "--fn", "himmelblau", "--at", "0,0"]);
    assert_eq!(v["kind"], "not_critical");
    assert_close(
        v["gradient_norm"].as_f64().unwrap(),
        680f64.sqrt(),
        1e-12,
        "‖∇f‖",
    );
    assert_eq!(nums(&v["gradient"]), vec![-14.0, -22.0]);
    assert_eq!(
        nums(&v["eigenvalues"]).len(),
        2,
        "eigenvalues are still reported"
    );
}

/// Every built-in surface, 20 seeded random points in its box: central differences against dual
/// numbers (gradient 1e-7, Hessian 1e-5, relative in norm).
#[test]
fn finite_differences_agree_with_dual_numbers() {
    let mut rng = StdRng::seed_from_u64(20261126);
    for s in surfaces::all() {
        let f = s.formula();
        let fd = FiniteDiff::new(&f);
        for _ in 0..20 {
            let x: Vec<f64> = s
                .plot_box
                .iter()
                .map(|&(lo, hi)| rng.random_range(lo..hi))
                .collect();
            let g = gradient_vec(&f, &x).unwrap();
            let gf = gradient_vec(&fd, &x).unwrap();
            let gn = critpt::objective::norm(&g);
            let diff: Vec<f64> = g.iter().zip(&gf).map(|(a, b)| a - b).collect();
            let err = critpt::objective::norm(&diff);
            assert!(
                err <= 1e-7 * gn,
                "{}: gradient at {x:?}: error {err:e}, norm {gn:e}",
                s.name
            );
            let h = f.hessian(&x).unwrap();
            let hf = fd.hessian(&x).unwrap();
            let err = (&h - &hf).norm();
            assert!(
                err <= 1e-5 * h.norm(),
                "{}: Hessian at {x:?}: error {err:e}, norm {:e}",
                s.name,
                h.norm()
            );
        }
    }
}

#[test]
fn surfaces_parse_and_hold_their_documented_points() {
    for s in surfaces::all() {
        let f = s.formula();
        assert_eq!(f.n_params(), s.plot_box.len(), "{}", s.name);
        for k in &s.critical_points {
            let g = gradient_vec(&f, &k.point).unwrap();
            // Published to ~6 digits: the gradient is small relative to the surface's scale.
            let scale = f.hessian(&k.point).unwrap().norm().max(1.0);
            assert!(
                critpt::objective::norm(&g) < 1e-4 * scale,
                "{} at {:?}: {g:?}",
                s.name,
                k.point
            );
        }
    }
    assert!(surfaces::by_name("nope").is_err());
}

#[test]
fn valley_matches_reference_hessian() {
    // Σ (y − b − w x)² is quadratic: H = 2 [[N, Σx], [Σx, Σx²]] everywhere, which
    // docs/reference.md §3 gives as [[20, 5020], [5020, 1746816]]. Integer data: the entries are
    // exact.
    let (n, sx, sxx) = VALLEY_X
        .iter()
        .fold((0.0, 0.0, 0.0), |(n, s, q), x| (n + 1.0, s + x, q + x * x));
    let (a, b, d) = (2.0 * n, 2.0 * sx, 2.0 * sxx);
    assert_eq!((a, b, d), (20.0, 5020.0, 1746816.0));
    let f = surfaces::by_name("valley").unwrap().formula();
    for at in [
        [-120.0, -4.0],
        [-188.433, 2.66945],
        [0.0, 0.0],
        [-150.5, 4.25],
    ] {
        let h = f.hessian(&at).unwrap();
        assert_eq!(
            (h[(0, 0)], h[(0, 1)], h[(1, 0)], h[(1, 1)]),
            (a, b, b, d),
            "H at {at:?}"
        );
    }
    // Eigenvalues in closed form: λ₂ = m + √(((a − d)/2)² + b²), λ₁ = det / λ₂ (no cancellation);
    // docs/reference.md: 5.573 and 1.7468e6.
    let l2 = (a + d) / 2.0 + (((a - d) / 2.0).powi(2) + b * b).sqrt();
    let l1 = (a * d - b * b) / l2;
    let p = classify_point(
        &f,
        &[-188.433, 2.66945],
        &Tolerances::dual().with_grad(1.0).unwrap(),
    )
    .unwrap();
    // The eigensolver's rounding is a few ε·‖H‖ ≈ 4e-10 absolute, on both eigenvalues.
    assert_close(p.spectrum.eigenvalues()[0], l1, 4e-9, "valley λ1");
    assert_close(p.spectrum.eigenvalues()[1], l2, 4e-9, "valley λ2");
    assert_close(l1, 5.573, 5e-4, "published λ1");
    assert_close(l2 / 1.7468e6, 1.0, 1e-4, "published λ2");
    // The least-squares optimum solves the normal equations H θ = 2 [Σy, Σxy].
    let (sy, sxy) = VALLEY_X
        .iter()
        .zip(VALLEY_Y)
        .fold((0.0, 0.0), |(s, q), (x, y)| (s + y, q + x * y));
    let det = a * d - b * b;
    let opt = [
        (d * 2.0 * sy - b * 2.0 * sxy) / det,
        (a * 2.0 * sxy - b * 2.0 * sy) / det,
    ];
    let known = &surfaces::by_name("valley").unwrap().critical_points[0].point;
    assert_close(known[0], opt[0], 1e-9, "optimum b");
    assert_close(known[1], opt[1], 1e-12, "optimum w");
    let mut g = [0.0; 2];
    f.gradient(known, &mut g).unwrap();
    assert!(
        critpt::objective::norm(&g) < 1e-6,
        "least-squares optimum: {g:?}"
    );
}

/// Verdicts do not depend on the function's scale: `c·q` has the verdict of `q` for every
/// `c > 0` (exact derivatives: the zero threshold is relative to the spectrum and the value).
#[test]
fn verdicts_do_not_depend_on_the_scale_of_the_function() {
    for c in ["1e-13", "1e-100", "1e-300", "1", "1e100", "1e250"] {
        for (q, kind) in [
            ("(x^2 + y^2)", CriticalKind::Minimum),
            ("(x^2 - 3*y^2)", CriticalKind::Saddle),
            ("(-x^2 - y^2 + x*y)", CriticalKind::Maximum),
            ("(x^2 + y^4)", CriticalKind::Degenerate),
            ("(x^2 + 1e-6*y^2)", CriticalKind::Minimum),
        ] {
            let f = Formula::parse(&format!("{c}*{q}")).unwrap();
            let p = classify_point(&f, &[0.0, 0.0], &Tolerances::dual()).unwrap();
            assert_eq!(p.kind, kind, "{c}*{q}: {:?}", p.spectrum.eigenvalues());
        }
    }
    // The CLI case: 1e-13·(x² + y²) at the origin is a minimum.
    let v = critpt_json(&["classify", "--expr", "1e-13*(x^2+y^2)", "--at", "0,0"]);
    assert_eq!(v["kind"], "minimum");
    assert_eq!(nums(&v["eigenvalues"]), vec![2e-13, 2e-13]);
    // A constant added does not change it either.
    let f = Formula::parse("1e-13*(x^2 + y^2) + 1").unwrap();
    let p = classify_point(&f, &[0.0, 0.0], &Tolerances::dual()).unwrap();
    assert_eq!(p.kind, CriticalKind::Minimum);
}

/// Near the monkey saddle's origin the Hessian is `6·[[x, −y], [−y, −x]]`, a clean sign pair
/// `±6r`; the critical point those points approximate is the degenerate origin
/// (docs/reference.md §2), and a true saddle of the same size is still a saddle.
#[test]
fn points_near_a_degenerate_critical_point_are_degenerate() {
    let f = surfaces::by_name("monkey-saddle").unwrap().formula();
    for r in [1e-4, 1e-7, 1e-10, 1e-13, 1e-150] {
        for t in [0.0, 0.4, 1.3, 2.9, 4.4] {
            let at = [r * f64::cos(t), r * f64::sin(t)];
            let p = classify_point(&f, &at, &Tolerances::dual()).unwrap();
            assert!(p.spectrum.eigenvalues()[0] < 0.0 && p.spectrum.eigenvalues()[1] > 0.0);
            assert_eq!(p.kind, CriticalKind::Degenerate, "at {at:?}");
        }
    }
    // x² + y⁴ near the origin: eigenvalues {2, 12y²}, the critical point is degenerate.
    let f = Formula::parse("x^2 + y^4").unwrap();
    for y in [1e-3, 1e-6, 1e-40] {
        let p = classify_point(&f, &[1e-9, y], &Tolerances::dual()).unwrap();
        assert_eq!(p.kind, CriticalKind::Degenerate, "y = {y}");
    }
    // 1e-12·(x² − y²) at a point as close to its saddle: the Hessian does not change on the
    // way there, so the sign pair stands.
    let f = Formula::parse("1e-12*(x^2 - y^2)").unwrap();
    let p = classify_point(&f, &[1e-13, -2e-13], &Tolerances::dual()).unwrap();
    assert_eq!(p.kind, CriticalKind::Saddle);
    // And the reference saddles stay saddles one Newton step from convergence.
    let f = Formula::parse("x^4 - 2*x^2 + y^2").unwrap();
    let p = classify_point(&f, &[1e-7, -1e-7], &Tolerances::dual()).unwrap();
    assert_eq!((p.kind, p.index), (CriticalKind::Saddle, 1));
}

/// docs/reference.md §1 near the chapter's saddle, where the gradient does not vanish: the
/// direction must not point uphill, whichever sign the eigensolver returned.
#[test]
fn escape_direction_never_points_uphill() {
    let f = Formula::parse("(1-w1*w2)^2").unwrap();
    for at in [
        [0.1, 0.0],
        [-0.1, 0.0],
        [0.0, 0.1],
        [0.0, -0.1],
        [0.05, -0.02],
    ] {
        let e = escape_saddle(&f, &at, &Tolerances::dual(), &EscapeOptions::default()).unwrap();
        // ∇L = (−2 w2 (1 − w1 w2), −2 w1 (1 − w1 w2)), docs/reference.md §1.
        let r = 1.0 - at[0] * at[1];
        let g = [-2.0 * at[1] * r, -2.0 * at[0] * r];
        let slope = g[0] * e.direction[0] + g[1] * e.direction[1];
        assert!(
            slope < 0.0,
            "at {at:?}: direction {:?} has slope {slope}",
            e.direction
        );
        // H = [[2w2², −2 + 4w1w2], [−2 + 4w1w2, 2w1²]]: the direction is its eigenvector of the
        // smallest eigenvalue, (H − λI) u = 0.
        let (h00, h01, h11) = (
            2.0 * at[1] * at[1],
            -2.0 + 4.0 * at[0] * at[1],
            2.0 * at[0] * at[0],
        );
        let lambda = (h00 + h11) / 2.0 - (((h00 - h11) / 2.0).powi(2) + h01 * h01).sqrt();
        assert_close(e.eigenvalue, lambda, 1e-13, "λ_min");
        let u = &e.direction;
        assert_close((h00 - lambda) * u[0] + h01 * u[1], 0.0, 1e-13, "(H − λI)u");
        assert_close(u[0].hypot(u[1]), 1.0, 1e-15, "unit");
        assert!(e.value_after < e.value_before);
        assert!(e
            .warnings
            .iter()
            .any(|w| w.contains("not a critical point")));
    }
}

#[test]
fn escape_warns_along_an_unbounded_direction_and_at_a_non_critical_point() {
    // x² − y² from its saddle: the loss −α² falls for every α; the doubling stops at its cap.
    let f = Formula::parse("x^2 - y^2").unwrap();
    let e = escape_saddle(
        &f,
        &[0.0, 0.0],
        &Tolerances::dual(),
        &EscapeOptions::default(),
    )
    .unwrap();
    assert_close(
        e.step,
        2f64.powi(critpt::critical::MAX_DOUBLINGS as i32),
        0.0,
        "step",
    );
    assert_close(e.value_after / (e.step * e.step), -1.0, 1e-15, "value −α²");
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert!(
        e.warnings[0].contains("unbounded below"),
        "{:?}",
        e.warnings
    );
    // A bounded saddle escape has no warning (docs/reference.md §1).
    let f = Formula::parse("(1-w1*w2)^2").unwrap();
    let e = escape_saddle(
        &f,
        &[0.0, 0.0],
        &Tolerances::dual(),
        &EscapeOptions::default(),
    )
    .unwrap();
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    // Through the CLI: warnings on stderr, one line each, exit 0, and in the JSON.
    let out = critpt(&["escape", "--expr", "x^2 - y^2", "--at", "0,0", "--json"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("warning: ") && err.contains("unbounded"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
    let out = critpt(&["escape", "--fn", "himmelblau", "--at", "0,0"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a critical point"), "{err}");
}
