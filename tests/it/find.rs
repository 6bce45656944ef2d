//! `critpt find` and `critical::find_critical_points`: every critical point in a box.

use crate::util::critpt;
use critpt::critical::{find_critical_points, CriticalKind, SearchBox, SearchOptions};
use critpt::expr::Formula;
use serde_json::Value;
use std::process::Output;

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

fn coords(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A user error: exit status 1 and one line `error: ...` on stderr, nothing on stdout.
fn assert_user_error(args: &[&str], needle: &str) {
    let out = critpt(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err}");
    assert!(out.stdout.is_empty());
}

// docs/reference.md §2: Himmelblau's 4 minima, 4 saddles and 1 maximum.
#[test]
fn find_himmelblau_json_lists_the_nine_points_as_classify_objects() {
    let v = json(&critpt(&["find", "--fn", "himmelblau", "--json"]));
    assert_eq!(v["box"], serde_json::json!([[-5.0, 5.0], [-5.0, 5.0]]));
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 9);
    let known = critpt::surfaces::by_name("himmelblau")
        .unwrap()
        .critical_points;
    for k in &known {
        let hit: Vec<&Value> = points
            .iter()
            .filter(|p| {
                let c = coords(&p["point"]);
                (c[0] - k.point[0]).abs() < 1e-6 && (c[1] - k.point[1]).abs() < 1e-6
            })
            .collect();
        assert_eq!(hit.len(), 1, "{:?}", k.point);
        assert_eq!(hit[0]["kind"], k.kind.name());
    }
    assert_eq!(v["counts"]["minimum"], 4);
    assert_eq!(v["counts"]["saddle"], 4);
    assert_eq!(v["counts"]["maximum"], 1);
    let values: Vec<f64> = points
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert!(values.windows(2).all(|w| w[0] <= w[1] + 1e-9), "{values:?}");

    // Each point is the object `classify --json` prints at that point: the same fields and the
    // same verdict. (serde_json's default float parser may be off by one unit in the last place,
    // so the numbers are compared to a tolerance.)
    let p = &points[8];
    let at: Vec<String> = coords(&p["point"])
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    let c = json(&critpt(&[
        "classify",
        "--fn",
        "himmelblau",
        "--at",
        &at.join(","),
        "--json",
    ]));
    let keys = |o: &Value| {
        let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(p), keys(&c));
    for field in ["variables", "kind", "index", "minimum_ratio", "method"] {
        assert_eq!(p[field], c[field], "{field}");
    }
    assert_eq!(c["kind"], "maximum");
    for field in ["point", "eigenvalues", "eigenvectors"] {
        let flat = |v: &Value| -> Vec<f64> {
            let mut out = Vec::new();
            let mut stack = vec![v.clone()];
            while let Some(x) = stack.pop() {
                match x {
                    Value::Array(a) => stack.extend(a),
                    Value::Number(n) => out.push(n.as_f64().unwrap()),
                    other => panic!("unexpected {other}"),
                }
            }
            out
        };
        let (a, b) = (flat(&p[field]), flat(&c[field]));
        assert_eq!(a.len(), b.len());
        assert!(
            a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-9),
            "{field}"
        );
    }
    assert!(c["gradient_norm"].as_f64().unwrap() < 1e-12);
}

#[test]
fn find_is_byte_for_byte_reproducible() {
    for args in [
        ["find", "--fn", "himmelblau", "--seed", "11", "--json"],
        ["find", "--fn", "two-weight", "--seed", "3", "--json"],
    ] {
        let a = critpt(&args);
        let b = critpt(&args);
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout, "{args:?}");
        assert_eq!(a.stderr, b.stderr, "{args:?}");
    }
    // A different seed starts elsewhere: the same points, reached by different runs.
    let a = json(&critpt(&[
        "find",
        "--fn",
        "himmelblau",
        "--seed",
        "1",
        "--json",
    ]));
    let b = json(&critpt(&[
        "find",
        "--fn",
        "himmelblau",
        "--seed",
        "2",
        "--json",
    ]));
    assert_eq!(a["counts"], b["counts"]);
    assert_ne!(a["evaluations"], b["evaluations"]);
}

#[test]
fn find_with_no_critical_point_prints_an_empty_list() {
    let v = json(&critpt(&[
        "find",
        "--expr",
        "x + y",
        "--box",
        "-1,1,-1,1",
        "--json",
    ]));
    assert_eq!(v["points"], serde_json::json!([]));
    let table = critpt(&["find", "--expr", "x + y", "--box", "-1,1,-1,1"]);
    assert!(table.status.success());
    assert!(String::from_utf8_lossy(&table.stdout).contains("0 critical points"));
}

#[test]
fn find_rejects_bad_boxes() {
    assert_user_error(
        &["find", "--expr", "x^2 + y^2", "--box", "1,-1,-1,1"],
        "lo 1 >= hi -1",
    );
    assert_user_error(
        &["find", "--expr", "x^2 + y^2", "--box", "0,0,-1,1"],
        "lo 0 >= hi 0",
    );
    assert_user_error(
        &["find", "--expr", "x^2 + y^2", "--box", "-1,1,-1,1,-1,1"],
        "needs 4 bounds",
    );
    assert_user_error(
        &["find", "--expr", "x^2 + y^2", "--box", "-1,1,-1"],
        "needs 4 bounds",
    );
    assert_user_error(
        &["find", "--expr", "x^2 + y^2", "--box", "-1,1,a,1"],
        "'a' is not a number",
    );
    assert_user_error(&["find", "--expr", "x^2 + y^2"], "--box");
    assert_user_error(
        &["find", "--fn", "himmelblau", "--starts", "0"],
        "at least one start",
    );
}

#[test]
fn find_skips_a_non_finite_region_with_a_warning() {
    // x − ln(x) + y² is not finite for x ≤ 0; its one critical point is the minimum (1, 0).
    let out = critpt(&[
        "find",
        "--expr",
        "x - ln(x) + y^2",
        "--box",
        "-1,3,-1,1",
        "--json",
    ]);
    let v = json(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("warning: ") && err.contains("starts skipped"),
        "{err}"
    );
    assert!(v["runs"]["skipped"].as_u64().unwrap() > 0);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    let c = coords(&points[0]["point"]);
    assert!((c[0] - 1.0).abs() < 1e-9 && c[1].abs() < 1e-9);
    assert_eq!(points[0]["kind"], "minimum");
}

// docs/reference.md §1: the two-weight network's saddle at 0 and its hyperbola of degenerate
// minima.
#[test]
fn find_two_weight_marks_the_continuum() {
    let out = critpt(&["find", "--fn", "two-weight", "--json"]);
    let v = json(&out);
    let points = v["points"].as_array().unwrap();
    let flags = v["on_continuum"].as_array().unwrap();
    assert_eq!(flags.len(), points.len());
    assert_eq!(v["counts"]["saddle"], 1);
    assert_eq!(v["counts"]["minimum"], 0);
    for (p, on) in points.iter().zip(flags) {
        let c = coords(&p["point"]);
        if p["kind"] == "saddle" {
            assert!(c[0].abs() < 1e-9 && c[1].abs() < 1e-9);
            assert_eq!(on, false);
        } else {
            assert_eq!(p["kind"], "degenerate");
            assert!((c[0] * c[1] - 1.0).abs() < 1e-7);
            assert_eq!(on, true);
        }
    }
    assert_eq!(
        v["continuum_points"].as_u64().unwrap() as usize,
        points.len() - 1
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("continuum"));
}

/// `Σ (xᵢ⁴ − 2xᵢ²)` over `[−2, 2]^6`: `3^6 = 729` critical points `{−1, 0, 1}^6`; a point with `z`
/// zero coordinates has `z` eigenvalues −4 and `6 − z` eigenvalues 8: a minimum when `z = 0`, the
/// maximum when `z = 6`, a saddle of index `z` otherwise. The search in an unoptimized build is
/// several times slower; run it with `cargo test --release`.
#[test]
#[cfg_attr(debug_assertions, ignore = "slow unoptimized; run with --release")]
fn separable_quartic_in_six_dimensions_has_729_points() {
    let d = 6;
    let terms: Vec<String> = (1..=d).map(|i| format!("x{i}^4 - 2*x{i}^2")).collect();
    let f = Formula::parse(&terms.join(" + ")).unwrap();
    let bx = SearchBox::try_new(&vec![(-2.0, 2.0); d]).unwrap();
    let opts = SearchOptions::default()
        .with_starts(3000)
        .unwrap()
        .with_record_paths(false);
    let res = find_critical_points(&f, &bx, &opts).unwrap();
    assert_eq!(res.points.len(), 729);
    let mut seen = std::collections::BTreeSet::new();
    for p in &res.points {
        let rounded: Vec<i64> = p.point.iter().map(|c| c.round() as i64).collect();
        assert!(p
            .point
            .iter()
            .zip(&rounded)
            .all(|(c, r)| (c - *r as f64).abs() < 1e-9));
        assert!(rounded.iter().all(|r| r.abs() <= 1));
        assert!(seen.insert(rounded.clone()), "{rounded:?} twice");
        let zeros = rounded.iter().filter(|&&r| r == 0).count();
        let kind = match zeros {
            0 => CriticalKind::Minimum,
            6 => CriticalKind::Maximum,
            _ => CriticalKind::Saddle,
        };
        assert_eq!((p.kind, p.index), (kind, zeros), "{rounded:?}");
        assert!((p.value + (d - zeros) as f64).abs() < 1e-12);
    }
    assert_eq!(res.stats.skipped, 0);
}

/// The 1-D Rastrigin term `x² − 10 cos(2πx)` has `g'(x) = 2x + 20π sin(2πx)`. At the quarter
/// points `k/2 ± 1/4`, `sin(2πx) = ±1` dominates `2x` on `[−2.5, 2.5]`, so each interval
/// `[k/2 − 1/4, k/2 + 1/4]` brackets one root; bisection finds it to the last bit. Returns the
/// roots in `[−2.2, 2.2]` with `g'' > 0` (minima) or not.
fn rastrigin_1d_critical_points() -> Vec<(f64, bool)> {
    let d = |x: f64| 2.0 * x + 20.0 * std::f64::consts::PI * (2.0 * std::f64::consts::PI * x).sin();
    let dd =
        |x: f64| 2.0 + 40.0 * std::f64::consts::PI.powi(2) * (2.0 * std::f64::consts::PI * x).cos();
    let mut out = Vec::new();
    for k in -5..=5 {
        let (mut lo, mut hi) = (k as f64 / 2.0 - 0.25, k as f64 / 2.0 + 0.25);
        assert!(d(lo) * d(hi) < 0.0, "bracket around {}", k as f64 / 2.0);
        while hi - lo > 1e-15 * hi.abs().max(1.0) {
            let mid = 0.5 * (lo + hi);
            if mid == lo || mid == hi {
                break;
            }
            if d(mid) * d(lo) <= 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let x = 0.5 * (lo + hi);
        if x.abs() <= 2.2 {
            out.push((x, dd(x) > 0.0));
        }
    }
    out
}

/// The 2-D Rastrigin function on `[−2.2, 2.2]²`: 81 critical points, the products of nine 1-D
/// ones (5 minima near the integers, 4 maxima near the half-integers): 25 minima, 16 maxima, 40
/// saddles. The coverage rule must find every one with default settings, for every seed.
#[test]
fn rastrigin_has_all_81_points_for_every_seed() {
    let one = rastrigin_1d_critical_points();
    assert_eq!(one.len(), 9);
    assert_eq!(one.iter().filter(|(_, m)| *m).count(), 5);
    let mut known = Vec::new();
    for &(x, mx) in &one {
        for &(y, my) in &one {
            let kind = match (mx, my) {
                (true, true) => CriticalKind::Minimum,
                (false, false) => CriticalKind::Maximum,
                _ => CriticalKind::Saddle,
            };
            known.push(([x, y], kind));
        }
    }
    let f = Formula::parse("20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)").unwrap();
    let bx = SearchBox::try_new(&[(-2.2, 2.2), (-2.2, 2.2)]).unwrap();
    for seed in 0..=9 {
        let opts = SearchOptions::default()
            .with_seed(seed)
            .with_record_paths(false);
        let res = find_critical_points(&f, &bx, &opts).unwrap();
        assert_eq!(res.points.len(), 81, "seed {seed}: {:?}", res.stats);
        for (k, kind) in &known {
            let hits: Vec<_> = res
                .points
                .iter()
                .filter(|p| (p.point[0] - k[0]).hypot(p.point[1] - k[1]) < 1e-9)
                .collect();
            assert_eq!(hits.len(), 1, "seed {seed}: {k:?}");
            assert_eq!(hits[0].kind, *kind, "seed {seed}: {k:?}");
        }
        assert_eq!(res.stats.new_per_round.last(), Some(&0), "seed {seed}");
        assert_eq!(
            res.stats.starts,
            opts.starts << (res.stats.rounds - 1),
            "seed {seed}"
        );
        assert!(res.warnings.is_empty(), "seed {seed}: {:?}", res.warnings);
    }
}

#[test]
fn find_reports_rounds_and_starts_and_refuses_an_overflowing_box() {
    let v = json(&critpt(&["find", "--fn", "himmelblau", "--json"]));
    let rounds = v["rounds"].as_u64().unwrap();
    let first = v["first_round"].as_u64().unwrap();
    assert_eq!(first, critpt::critical::DEFAULT_STARTS as u64);
    assert_eq!(v["starts"].as_u64().unwrap(), first << (rounds - 1));
    assert_eq!(v["runs"]["rounds"], v["rounds"]);
    assert_eq!(
        v["runs"]["new_per_round"].as_array().unwrap().len() as u64,
        rounds
    );
    assert_user_error(
        &["find", "--expr", "x^2 + y^2", "--box", "-1e308,1e308,-1,1"],
        "overflows",
    );
    assert_user_error(
        &["find", "--fn", "himmelblau", "--max-rounds", "0"],
        "--max-rounds",
    );
}

/// docs/reference.md §2: the monkey saddle is degenerate at the origin. `find` and `classify`
/// give that verdict, also `classify` at the exact coordinates `find` printed.
#[test]
fn find_and_classify_agree_on_the_monkey_saddle() {
    let v = json(&critpt(&["find", "--fn", "monkey-saddle", "--json"]));
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["kind"], "degenerate");
    let at: Vec<String> = coords(&points[0]["point"])
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    let c = json(&critpt(&[
        "classify",
        "--fn",
        "monkey-saddle",
        "--at",
        &at.join(","),
        "--json",
    ]));
    assert_eq!(c["kind"], "degenerate");
    let o = json(&critpt(&[
        "classify",
        "--fn",
        "monkey-saddle",
        "--at",
        "0,0",
        "--json",
    ]));
    assert_eq!(o["kind"], "degenerate");
    // Over other boxes and seeds too.
    for (b, seed) in [
        ("-1,1,-1,1", "0"),
        ("-3,2,-0.5,4", "5"),
        ("-1e-3,1e-3,-1e-3,1e-3", "2"),
    ] {
        let v = json(&critpt(&[
            "find",
            "--expr",
            "x^3 - 3*x*y^2",
            "--box",
            b,
            "--seed",
            seed,
            "--json",
        ]));
        let points = v["points"].as_array().unwrap();
        assert_eq!(points.len(), 1, "{b}");
        assert_eq!(points[0]["kind"], "degenerate", "{b}");
    }
}
