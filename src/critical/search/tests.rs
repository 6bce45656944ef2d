use super::*;
use crate::expr::Formula;
use crate::objective::{gradient_vec, norm, Loss};
use crate::surfaces;

fn square(lo: f64, hi: f64, d: usize) -> SearchBox {
    SearchBox::try_new(&vec![(lo, hi); d]).unwrap()
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Every found point matches exactly one known point (within `tol`) and vice versa, with the
/// same kind.
fn assert_same_set(found: &[CriticalPoint], known: &[(Vec<f64>, CriticalKind)], tol: f64) {
    assert_eq!(
        found.len(),
        known.len(),
        "found {:?}",
        found.iter().map(|p| (&p.point, p.kind)).collect::<Vec<_>>()
    );
    for (k, kind) in known {
        let hits: Vec<&CriticalPoint> = found.iter().filter(|p| dist(&p.point, k) < tol).collect();
        assert_eq!(
            hits.len(),
            1,
            "known point {k:?} matched {} found points",
            hits.len()
        );
        assert_eq!(hits[0].kind, *kind, "kind at {k:?}");
    }
}

fn surface_set(name: &str) -> (Formula, SearchBox, Vec<(Vec<f64>, CriticalKind)>) {
    let s = surfaces::by_name(name).unwrap();
    let bx = SearchBox::try_new(&s.plot_box).unwrap();
    let known = s
        .critical_points
        .iter()
        .map(|k| (k.point.clone(), k.kind))
        .collect();
    (s.formula(), bx, known)
}

#[test]
fn box_rejects_bad_bounds() {
    let e = SearchBox::try_new(&[(1.0, 1.0)]).unwrap_err().to_string();
    assert!(e.contains("lo 1 >= hi 1"), "{e}");
    assert!(SearchBox::try_new(&[(0.0, 1.0), (2.0, -2.0)]).is_err());
    assert!(SearchBox::try_new(&[(f64::NAN, 1.0)]).is_err());
    assert!(SearchBox::try_new(&[]).is_err());
    let e = SearchBox::from_flat(&[0.0, 1.0, 2.0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("got 3 numbers"), "{e}");
    let b = SearchBox::from_flat(&[-1.0, 1.0, 0.0, 4.0]).unwrap();
    assert_eq!(b.bounds(), [(-1.0, 1.0), (0.0, 4.0)]);
    assert!((b.diameter() - 20f64.sqrt()).abs() < 1e-15);
    assert!(b.contains(&[1.0, 0.0], 0.0));
    assert!(!b.contains(&[1.01, 0.0], 0.0));
}

#[test]
fn box_rejects_overflowing_and_unresolvable_widths() {
    // ±1e308: each bound is finite, the width 2e308 is not.
    let e = SearchBox::try_new(&[(-1e308, 1e308)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("overflows"), "{e}");
    let e = SearchBox::from_flat(&[0.0, 1.0, -1e308, 1e308])
        .unwrap_err()
        .to_string();
    assert!(e.contains("variable 2"), "{e}");
    // [1e20, 1e20 + 1e7]: floats there are 16384 apart, the width is below 1e-12 of 1e20.
    let e = SearchBox::try_new(&[(1e20, 1e20 + 1e7)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 1e-12"), "{e}");
    // Widths of 1.6e308 are finite, but the diagonal √2 · 1.6e308 is not.
    let e = SearchBox::try_new(&[(-8e307, 8e307), (-8e307, 8e307)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("diagonal"), "{e}");
    // 1e308-wide squares are accepted; the diagonal is computed without overflowing its squares.
    let b = SearchBox::try_new(&[(-5e307, 5e307), (-5e307, 5e307)]).unwrap();
    let d = b.diameter();
    assert!((d / 1e308 - 2f64.sqrt()).abs() < 1e-15, "{d}");
    assert_eq!(b.from_unit(&[0.5, 0.5]), [0.0, 0.0]);
}

#[test]
fn a_search_over_a_huge_box_ends_with_a_warning_not_a_crash() {
    // x² overflows for |x| > 1.3e154: nearly every start is skipped.
    let f = Formula::parse("x^2 + y^2").unwrap();
    let bx = square(-5e307, 5e307, 2);
    let opts = SearchOptions::default().with_record_paths(false);
    let res = find_critical_points(&f, &bx, &opts).unwrap();
    assert!(res.stats.skipped > 0);
    assert!(res.warnings.iter().any(|w| w.contains("starts skipped")));
}

#[test]
fn rounds_continue_one_halton_sequence_and_double_the_total() {
    let all = halton_points(96, 3, 4);
    assert_eq!(halton_range(32, 64, 3, 4), all[32..]);
    assert_eq!(halton_range(0, 32, 3, 4), all[..32]);
    // Three minima and a saddle of the double well need one round of 16 and a quiet second.
    let (f, bx, _) = surface_set("double-well");
    let opts = SearchOptions::default().with_starts(16).unwrap();
    let res = find_critical_points(&f, &bx, &opts).unwrap();
    let r = res.stats.rounds;
    assert_eq!(res.stats.starts, 16 << (r - 1));
    assert_eq!(res.stats.new_per_round.len(), r);
    assert_eq!(res.stats.new_per_round.last(), Some(&0));
    assert_eq!(res.stats.new_per_round.iter().sum::<usize>(), 3);
    // The starts are the first `starts` Halton points in the box, round after round.
    let want = halton_points(res.stats.starts, 2, 0);
    for (p, u) in res.paths.iter().zip(&want) {
        assert_eq!(p.start, bx.from_unit(u));
    }
    // One fixed round: exactly `starts`, and no warning although the round found points.
    let one = SearchOptions::default()
        .with_starts(16)
        .unwrap()
        .with_max_rounds(1)
        .unwrap();
    let res = find_critical_points(&f, &bx, &one).unwrap();
    assert_eq!((res.stats.rounds, res.stats.starts), (1, 16));
    assert!(res.warnings.is_empty(), "{:?}", res.warnings);
    // A round limit reached while points are still new says so.
    let f = Formula::parse("20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)").unwrap();
    let two = SearchOptions::default()
        .with_starts(8)
        .unwrap()
        .with_max_rounds(2)
        .unwrap();
    let res = find_critical_points(&f, &square(-2.2, 2.2, 2), &two).unwrap();
    assert!(res.stats.new_per_round[1] > 0);
    assert!(
        res.warnings.iter().any(|w| w.contains("may be more")),
        "{:?}",
        res.warnings
    );
    assert!(SearchOptions::default().with_max_rounds(0).is_err());
}

#[test]
fn dimension_mismatch_and_zero_starts_are_errors() {
    let f = Formula::parse("x^2 + y^2").unwrap();
    let e = find_critical_points(&f, &square(-1.0, 1.0, 3), &SearchOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::DimMismatch {
                expected: 2,
                got: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(SearchOptions::default().with_starts(0).is_err());
}

#[test]
fn halton_is_stratified_seeded_and_in_the_unit_cube() {
    let a = halton_points(81, 3, 1);
    assert_eq!(a, halton_points(81, 3, 1));
    assert_ne!(a, halton_points(81, 3, 2));
    assert!(a.iter().flatten().all(|&u| (0.0..1.0).contains(&u)));
    // Digit scrambling keeps the van der Corput strata: 81 = 3^4 points fill each of the 27
    // intervals [k/27, (k+1)/27) of the base-3 coordinate exactly three times.
    let mut counts = [0usize; 27];
    for p in &a {
        counts[(p[1] * 27.0) as usize] += 1;
    }
    assert!(counts.iter().all(|&c| c == 3), "{counts:?}");
    // And 64 points fill each of the 64 cells [k/64, (k+1)/64) of the base-2 coordinate once.
    let mut cells = [0usize; 64];
    for p in halton_points(64, 1, 9) {
        cells[(p[0] * 64.0) as usize] += 1;
    }
    assert!(cells.iter().all(|&c| c == 1));
}

// docs/reference.md §2: Himmelblau has 4 minima, 4 saddles and 1 maximum, all inside [-5, 5]².
#[test]
fn himmelblau_has_exactly_its_nine_points() {
    let (f, bx, known) = surface_set("himmelblau");
    let res = find_critical_points(&f, &bx, &SearchOptions::default()).unwrap();
    assert_same_set(&res.points, &known, 1e-6);
    let count = |k| res.points.iter().filter(|p| p.kind == k).count();
    assert_eq!(count(CriticalKind::Minimum), 4);
    assert_eq!(count(CriticalKind::Saddle), 4);
    assert_eq!(count(CriticalKind::Maximum), 1);
    // Morse: #min − #saddle + #max = 1 (Euler characteristic of the plane).
    let euler = count(CriticalKind::Minimum) as i64 - count(CriticalKind::Saddle) as i64
        + count(CriticalKind::Maximum) as i64;
    assert_eq!(euler, 1);
    // Sorted by value: the four minima (f = 0) first, the maximum (f = 181.6165) last.
    assert!(res
        .points
        .windows(2)
        .all(|w| w[0].value <= w[1].value + 1e-9));
    assert!((res.points[8].value - 181.6165).abs() < 1e-4);
    assert_eq!(res.points[8].kind, CriticalKind::Maximum);
    // The values of docs/reference.md §2 for the saddles.
    for (i, v) in [13.3119, 67.7192, 104.0152, 178.3372].iter().enumerate() {
        assert!(
            (res.points[4 + i].value - v).abs() < 1e-4,
            "{}",
            res.points[4 + i].value
        );
    }
    assert!(res.warnings.is_empty());
    assert_eq!(res.continuum_points, 0);
    // The coverage rule: a first round finds all nine, the second (as many starts) none.
    assert_eq!(res.stats.rounds, 2);
    assert_eq!(res.stats.new_per_round, [9, 0]);
    assert_eq!(res.stats.starts, 2 * DEFAULT_STARTS);
    assert_eq!(res.paths.len(), res.stats.starts);
    assert!(res.points.iter().all(|p| p.gradient_norm <= 1e-6));
}

#[test]
fn himmelblau_is_found_for_other_seeds_too() {
    let (f, bx, known) = surface_set("himmelblau");
    for seed in [1, 2, 3] {
        let opts = SearchOptions::default().with_seed(seed);
        let res = find_critical_points(&f, &bx, &opts).unwrap();
        assert_same_set(&res.points, &known, 1e-6);
    }
}

#[test]
fn three_hump_camel_matches_its_closed_form() {
    // ∂f/∂y = x + 2y = 0 and ∂f/∂x = x (x⁴ − 4.2 x² + 3.5) + y = 0 give y = −x/2 and
    // x = 0 or x² = (4.2 ± sqrt(4.2² − 14)) / 2.
    let d = (4.2f64 * 4.2 - 14.0).sqrt();
    let (xs, xm) = (((4.2 - d) / 2.0).sqrt(), ((4.2 + d) / 2.0).sqrt());
    let known = vec![
        (vec![0.0, 0.0], CriticalKind::Minimum),
        (vec![xm, -xm / 2.0], CriticalKind::Minimum),
        (vec![-xm, xm / 2.0], CriticalKind::Minimum),
        (vec![xs, -xs / 2.0], CriticalKind::Saddle),
        (vec![-xs, xs / 2.0], CriticalKind::Saddle),
    ];
    let (f, bx, documented) = surface_set("three-hump-camel");
    let res = find_critical_points(&f, &bx, &SearchOptions::default()).unwrap();
    assert_same_set(&res.points, &known, 1e-9);
    assert_same_set(&res.points, &documented, 1e-6);
}

#[test]
fn beale_has_three_points_in_its_box() {
    let (f, bx, known) = surface_set("beale");
    let opts = SearchOptions::default().with_starts(1024).unwrap();
    let res = find_critical_points(&f, &bx, &opts).unwrap();
    assert_same_set(&res.points, &known, 1e-6);
    assert!((res.points[0].value).abs() < 1e-12);
    let values: Vec<f64> = res.points.iter().map(|p| p.value).collect();
    assert!((values[1] - 9.8645).abs() < 1e-4 && (values[2] - 14.203125).abs() < 1e-9);
}

#[test]
fn double_well_has_two_minima_and_a_saddle() {
    let (f, bx, known) = surface_set("double-well");
    let res = find_critical_points(&f, &bx, &SearchOptions::default()).unwrap();
    assert_same_set(&res.points, &known, 1e-9);
    // docs/reference.md §2: eigenvalues {2, 8} at the minima, {−4, 2} at the saddle.
    let s = &res.points[2].spectrum.eigenvalues();
    assert!((s[0] + 4.0).abs() < 1e-9 && (s[1] - 2.0).abs() < 1e-9);
    let m = &res.points[0].spectrum.eigenvalues();
    assert!((m[0] - 2.0).abs() < 1e-9 && (m[1] - 8.0).abs() < 1e-9);
}

/// `Σ (xᵢ⁴ − 2xᵢ²)`: critical points are `{−1, 0, 1}^d`; a zero coordinate is a direction of
/// negative curvature (f'' = −4), a ±1 coordinate a positive one (f'' = 8).
pub(crate) fn separable(d: usize) -> Formula {
    let terms: Vec<String> = (1..=d).map(|i| format!("x{i}^4 - 2*x{i}^2")).collect();
    Formula::parse(&terms.join(" + ")).unwrap()
}

#[test]
fn separable_quartic_in_three_dimensions_has_27_points() {
    let f = separable(3);
    let res = find_critical_points(&f, &square(-2.0, 2.0, 3), &SearchOptions::default()).unwrap();
    assert_eq!(res.points.len(), 27);
    for p in &res.points {
        let zeros = p.point.iter().filter(|c| c.abs() < 1e-9).count();
        assert!(p
            .point
            .iter()
            .all(|c| c.abs() < 1e-9 || (c.abs() - 1.0).abs() < 1e-9));
        let kind = match zeros {
            0 => CriticalKind::Minimum,
            3 => CriticalKind::Maximum,
            _ => CriticalKind::Saddle,
        };
        assert_eq!(p.kind, kind, "{:?}", p.point);
        assert_eq!(p.index, zeros);
        assert!((p.value + (3 - zeros) as f64).abs() < 1e-12);
    }
}

// docs/reference.md §1: the saddle at the origin and a hyperbola of degenerate minima.
#[test]
fn two_weight_reports_the_saddle_and_a_continuum_of_degenerate_minima() {
    let (f, bx, _) = surface_set("two-weight");
    let res = find_critical_points(&f, &bx, &SearchOptions::default()).unwrap();
    let saddles: Vec<&CriticalPoint> = res
        .points
        .iter()
        .filter(|p| p.kind == CriticalKind::Saddle)
        .collect();
    assert_eq!(saddles.len(), 1);
    assert!(norm(&saddles[0].point) < 1e-9);
    assert!((saddles[0].value - 1.0).abs() < 1e-12);
    let rest: Vec<(usize, &CriticalPoint)> = res
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind != CriticalKind::Saddle)
        .collect();
    assert!(rest.len() >= 10, "only {} points on the curve", rest.len());
    for (i, p) in &rest {
        assert_eq!(p.kind, CriticalKind::Degenerate, "{:?}", p.point);
        assert!(
            (p.point[0] * p.point[1] - 1.0).abs() < 1e-7,
            "{:?}",
            p.point
        );
        assert!(res.on_continuum[*i]);
    }
    // Both branches of the hyperbola (w1, w2 > 0 and < 0) are reached.
    assert!(rest.iter().any(|(_, p)| p.point[0] > 0.0));
    assert!(rest.iter().any(|(_, p)| p.point[0] < 0.0));
    assert_eq!(res.continuum_points, rest.len());
    assert!(
        !res.on_continuum[res
            .points
            .iter()
            .position(|p| p.kind == CriticalKind::Saddle)
            .unwrap()]
    );
    assert!(res.warnings.iter().any(|w| w.contains("continuum")));
}

#[test]
fn isolated_degenerate_points_are_not_a_continuum() {
    for src in ["x^2 + y^4", "x^3 - 3*x*y^2", "x^4 + y^4"] {
        let f = Formula::parse(src).unwrap();
        let res =
            find_critical_points(&f, &square(-1.0, 1.0, 2), &SearchOptions::default()).unwrap();
        assert_eq!(
            res.points.len(),
            1,
            "{src}: {:?}",
            res.points.iter().map(|p| &p.point).collect::<Vec<_>>()
        );
        assert!(norm(&res.points[0].point) < 1e-6, "{src}");
        assert_eq!(res.points[0].kind, CriticalKind::Degenerate, "{src}");
        assert_eq!(res.continuum_points, 0, "{src}");
    }
}

#[test]
fn a_plane_has_no_critical_points() {
    let f = Formula::parse("x + y").unwrap();
    let res = find_critical_points(&f, &square(-3.0, 3.0, 2), &SearchOptions::default()).unwrap();
    assert!(res.points.is_empty());
    assert_eq!(res.stats.not_critical, res.stats.runs);
    assert!(res.warnings.is_empty());
}

#[test]
fn non_finite_starts_are_skipped_with_a_warning() {
    // x − ln(x) + y² has its one critical point, a minimum, at (1, 0); ln is not finite at x ≤ 0.
    let f = Formula::parse("x - ln(x) + y^2").unwrap();
    let bx = SearchBox::try_new(&[(-1.0, 3.0), (-1.0, 1.0)]).unwrap();
    let res = find_critical_points(&f, &bx, &SearchOptions::default()).unwrap();
    assert_eq!(res.points.len(), 1);
    assert!(dist(&res.points[0].point, &[1.0, 0.0]) < 1e-9);
    assert_eq!(res.points[0].kind, CriticalKind::Minimum);
    let skipped = res.paths.iter().filter(|p| p.skipped).count();
    assert_eq!(res.stats.skipped, skipped);
    // About a quarter of the box has x ≤ 0; the Halton starts are evenly spread.
    let starts = res.stats.starts;
    assert_eq!(res.paths.len(), starts);
    assert!(
        (skipped as f64 / starts as f64 - 0.25).abs() < 0.02,
        "{skipped} of {starts}"
    );
    assert!(res
        .paths
        .iter()
        .filter(|p| p.skipped)
        .all(|p| p.start[0] <= 0.0));
    assert!(res.warnings[0].contains(&format!("{skipped} of {starts} starts skipped")));
}

#[test]
fn outside_points_are_dropped() {
    // The double well's minimum (1, 0) and saddle (0, 0) lie outside [-2, -0.5] × [-1, 1].
    let (f, _, _) = surface_set("double-well");
    let bx = SearchBox::try_new(&[(-2.0, -0.5), (-1.0, 1.0)]).unwrap();
    let res = find_critical_points(&f, &bx, &SearchOptions::default()).unwrap();
    assert_eq!(res.points.len(), 1);
    assert!(dist(&res.points[0].point, &[-1.0, 0.0]) < 1e-9);
}

#[test]
fn same_seed_same_result_and_paths_lead_to_their_points() {
    let (f, bx, _) = surface_set("himmelblau");
    let opts = SearchOptions::default()
        .with_starts(64)
        .unwrap()
        .with_seed(5);
    let a = find_critical_points(&f, &bx, &opts).unwrap();
    let b = find_critical_points(&f, &bx, &opts).unwrap();
    assert_eq!(a.paths, b.paths);
    assert_eq!(a.evals, b.evals);
    let bits = |r: &SearchResult| -> Vec<u64> {
        r.points
            .iter()
            .flat_map(|p| p.point.iter().chain([&p.value]).map(|v| v.to_bits()))
            .collect()
    };
    assert_eq!(bits(&a), bits(&b));
    for p in &a.paths {
        assert_eq!(p.newton[0], p.start);
        assert_eq!(p.grad_norm[0], p.start);
        if let Some(i) = p.newton_point {
            assert!(dist(p.newton.last().unwrap(), &a.points[i].point) < 1e-5);
        }
        if let Some(i) = p.grad_norm_point {
            assert!(dist(p.grad_norm.last().unwrap(), &a.points[i].point) < 1e-5);
            assert!(p.grad_norm.len() > 2, "the L-BFGS path is recorded");
        }
    }
    // The found points really are critical (checked afresh, outside the search).
    for p in &a.points {
        assert!(norm(&gradient_vec(&f, &p.point).unwrap()) <= 1e-6);
        assert!((f.loss(&p.point).unwrap() - p.value).abs() < 1e-12);
    }
}

// docs/reference.md §6: minimizing ½‖∇f‖² can stop in a gradient-flat region, where H ∇f = 0 but
// ∇f ≠ 0. For f = x³ + x + y², ∇f = (3x² + 1, 2y) never vanishes, and ½‖∇f‖² has a local
// minimum at the origin (H ∇f = (6x (3x² + 1), 4y) = 0 there) with ‖∇f‖ = 1.
#[test]
fn gradient_flat_stalls_are_not_reported_as_critical_points() {
    let f = Formula::parse("x^3 + x + y^2").unwrap();
    let res = find_critical_points(&f, &square(-1.0, 1.0, 2), &SearchOptions::default()).unwrap();
    assert!(res.points.is_empty());
    assert_eq!(res.stats.not_critical, res.stats.runs);
    // The gradient-norm runs really did stall at the gradient-flat point.
    let stalled = res
        .paths
        .iter()
        .filter(|p| norm(p.grad_norm.last().unwrap()) < 1e-4)
        .count();
    assert!(stalled > res.stats.starts / 2, "{stalled}");
}
