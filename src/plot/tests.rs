use super::grid::{contour_lines, log_levels, quantile_levels, Grid, PlotBox};
use super::ticks::nice_ticks;
use super::*;

fn paraboloid(n: usize, half: f64) -> Grid {
    let bx = PlotBox::new(-half, half, -half, half).unwrap();
    Grid::sample(bx, n, n, |p| p[0] * p[0] + p[1] * p[1]).unwrap()
}

fn polyline_length(pl: &[[f64; 2]]) -> f64 {
    pl.windows(2)
        .map(|w| ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt())
        .sum()
}

#[test]
fn grid_points_and_indexing() {
    let bx = PlotBox::new(-1.0, 3.0, 10.0, 12.0).unwrap();
    let g = Grid::sample(bx, 5, 3, |p| 100.0 * p[0] + p[1]).unwrap();
    assert_eq!(g.values.len(), 15);
    assert_eq!(g.x(0), -1.0);
    assert_eq!(g.x(4), 3.0);
    assert_eq!(g.y(2), 12.0);
    // values[j*nx + i] = f(x_i, y_j)
    assert!((g.at(3, 1) - (100.0 * 2.0 + 11.0)).abs() < 1e-12);
    assert!((g.values[5 + 3] - g.at(3, 1)).abs() < 1e-12);
    assert_eq!(g.spacing(), (1.0, 1.0));
}

#[test]
fn grid_and_box_reject_bad_input() {
    assert!(PlotBox::new(1.0, 0.0, 0.0, 1.0).is_err());
    assert!(PlotBox::new(0.0, f64::NAN, 0.0, 1.0).is_err());
    assert!(PlotBox::from_flat(&[0.0, 1.0, 0.0]).is_err());
    assert!(PlotBox::from_pairs(&[(0.0, 1.0)]).is_err());
    let bx = PlotBox::new(0.0, 1.0, 0.0, 1.0).unwrap();
    assert!(Grid::new(bx, 1, 5, vec![0.0; 5]).is_err());
    assert!(Grid::new(bx, 2, 2, vec![0.0; 3]).is_err());
    assert!(Grid::sample(bx, 0, 5, |_| 0.0).is_err());
}

#[test]
fn contour_of_paraboloid_is_a_circle() {
    // f = x² + y² at level r² is the circle of radius r.
    let g = paraboloid(201, 2.0);
    let (h, _) = g.spacing();
    for r in [0.5, 1.0, 1.5] {
        let lines = contour_lines(&g, &[r * r]).unwrap();
        assert_eq!(lines.len(), 1);
        assert!((lines[0].level - r * r).abs() < 1e-15);
        let pls = &lines[0].polylines;
        assert!(!pls.is_empty());
        let mut n_points = 0;
        for pl in pls {
            for p in pl {
                let rad = (p[0] * p[0] + p[1] * p[1]).sqrt();
                assert!((rad - r).abs() < h, "r = {r}: point {p:?} at radius {rad}");
                n_points += 1;
            }
        }
        assert!(n_points > 20);
        // The whole circle is there: its length is 2πr (to 1%).
        let len: f64 = pls.iter().map(|pl| polyline_length(pl)).sum();
        let circ = 2.0 * std::f64::consts::PI * r;
        assert!((len - circ).abs() < 0.01 * circ, "length {len} vs {circ}");
    }
}

#[test]
fn contour_leaving_the_box_is_cut_not_closed_along_the_edge() {
    // Radius 2.5 > 2: only four arcs near the corners lie in the box [-2, 2]².
    let g = paraboloid(201, 2.0);
    let (h, _) = g.spacing();
    let lines = contour_lines(&g, &[6.25]).unwrap();
    let pls = &lines[0].polylines;
    assert_eq!(pls.len(), 4, "four corner arcs");
    for pl in pls {
        for p in pl {
            let rad = (p[0] * p[0] + p[1] * p[1]).sqrt();
            assert!(
                (rad - 2.5).abs() < h,
                "point {p:?} off the circle (radius {rad})"
            );
            assert!(p[0].abs() <= 2.0 + 1e-12 && p[1].abs() <= 2.0 + 1e-12);
        }
    }
}

#[test]
fn contour_avoids_undefined_values() {
    // NaN for x < 0: the circle's right half only, no lines around the hole.
    let bx = PlotBox::new(-2.0, 2.0, -2.0, 2.0).unwrap();
    let g = Grid::sample(bx, 161, 161, |p| {
        if p[0] < 0.0 {
            f64::NAN
        } else {
            p[0] * p[0] + p[1] * p[1]
        }
    })
    .unwrap();
    let (h, _) = g.spacing();
    let lines = contour_lines(&g, &[1.0]).unwrap();
    let pts: Vec<[f64; 2]> = lines[0].polylines.iter().flatten().copied().collect();
    assert!(!pts.is_empty());
    for p in &pts {
        assert!(p[0] > 0.0, "{p:?} in the undefined half");
        let rad = (p[0] * p[0] + p[1] * p[1]).sqrt();
        assert!((rad - 1.0).abs() < h, "{p:?}");
    }
    let len: f64 = lines[0]
        .polylines
        .iter()
        .map(|pl| polyline_length(pl))
        .sum();
    assert!(len > 0.9 * std::f64::consts::PI && len < 1.01 * std::f64::consts::PI);
}

#[test]
fn contour_rejects_non_finite_level() {
    let g = paraboloid(11, 1.0);
    assert!(contour_lines(&g, &[f64::NAN]).is_err());
}

#[test]
fn quantile_levels_split_the_values_evenly() {
    // Values 0..=99 on a 10×10 grid: the quartiles are 24.75, 49.5, 74.25.
    let bx = PlotBox::new(0.0, 1.0, 0.0, 1.0).unwrap();
    let g = Grid::new(bx, 10, 10, (0..100).map(f64::from).collect()).unwrap();
    let l = quantile_levels(&g, 3);
    assert_eq!(l.len(), 3);
    for (a, b) in l.iter().zip([24.75, 49.5, 74.25]) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // Ignore non-finite values; a constant grid gives one level.
    let mut v = vec![5.0; 100];
    v[3] = f64::NAN;
    let g = Grid::new(bx, 10, 10, v).unwrap();
    assert_eq!(quantile_levels(&g, 4), vec![5.0]);
}

#[test]
fn log_levels_are_evenly_spaced_in_log() {
    // Values from 1 to 1e4 (positive: no shift): 3 levels at 10, 100, 1000.
    let bx = PlotBox::new(0.0, 1.0, 0.0, 1.0).unwrap();
    let g = Grid::new(bx, 2, 2, vec![1.0, 10.0, 100.0, 1e4]).unwrap();
    let l = log_levels(&g, 3);
    for (a, b) in l.iter().zip([10.0, 100.0, 1000.0]) {
        assert!((a / b - 1.0).abs() < 1e-12, "{a} vs {b}");
    }
    // Rosenbrock-like values from 0: all levels inside the range, increasing ratios.
    let g = Grid::new(bx, 2, 2, vec![0.0, 1.0, 100.0, 2500.0]).unwrap();
    let l = log_levels(&g, 6);
    assert_eq!(l.len(), 6);
    assert!(l.windows(2).all(|w| w[0] < w[1]));
    assert!(l[0] > 0.0 && l[5] < 2500.0);
}

#[test]
fn histogram_counts_every_value_once() {
    let vals = [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, f64::NAN, 7.0];
    let h = charts::Histogram::new(&vals, 4, -1.0, 1.0).unwrap();
    assert_eq!(h.edges, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    // -1 → bin 0; -0.5 → bin 1; 0, 0.25 → bin 2; 0.5 and 1 (the top edge) → bin 3; NaN and 7 out.
    assert_eq!(h.counts, vec![1, 1, 2, 2]);
    assert!(charts::Histogram::new(&vals, 0, -1.0, 1.0).is_err());
    assert!(charts::Histogram::new(&vals, 3, 1.0, 1.0).is_err());
}

#[test]
fn ticks_and_labels() {
    assert_eq!(
        nice_ticks(0.0, 10.0, 5),
        vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    );
    let t = nice_ticks(-0.3, 0.3, 6);
    assert_eq!(t.len(), 7);
    assert!(t.contains(&0.0));
    assert!(t.windows(2).all(|w| (w[1] - w[0] - 0.1).abs() < 1e-12));
    assert!((t[0] + 0.3).abs() < 1e-12 && (t[6] - 0.3).abs() < 1e-12);
    assert_eq!(fmt_tick(0.0), "0");
    assert_eq!(fmt_tick(2.5), "2.5");
    assert_eq!(fmt_tick(-188.4332), "-188.4");
    assert_eq!(fmt_tick(1e-5), "1e-5");
    assert_eq!(fmt_tick(2.5e6), "2.5e6");
    assert_eq!(fmt_tick(100.0), "100");
    // Rounding residue of a padded range is zero on its axis, a real small value is not.
    assert_eq!(fmt_axis_tick(-1.3877787807814457e-17, -0.1, 0.1), "0");
    assert_eq!(fmt_axis_tick(1e-5, -1e-5, 1e-5), "1e-5");
    // A log axis never crosses zero: its small ticks keep their values.
    assert_eq!(fmt_axis_tick(0.1, 0.1, 1e8), "0.1");
}

#[test]
fn format_from_extension() {
    use std::path::Path;
    assert_eq!(
        Format::from_path(Path::new("a/b.png")).unwrap(),
        Format::Png
    );
    assert_eq!(Format::from_path(Path::new("B.SVG")).unwrap(), Format::Svg);
    for bad in ["a.jpg", "a", "a.png.gz"] {
        let e = Format::from_path(Path::new(bad)).unwrap_err();
        assert!(e.to_string().contains(".png or .svg"), "{e}");
    }
}

#[test]
fn sharp_turns_split_thick_lines() {
    // Straight, then a hairpin at index 2, then straight: two runs sharing the turn point.
    let px = [(0, 0), (10, 0), (20, 0), (10, 1), (0, 2)];
    assert_eq!(smooth_runs(&px), vec![(0, 2), (2, 4)]);
    // Gentle turns and repeated points do not split.
    let px = [(0, 0), (10, 0), (10, 0), (20, 5), (25, 15)];
    assert_eq!(smooth_runs(&px), vec![(0, 4)]);
}

#[test]
fn svg_of_every_kind_has_its_text() {
    let bx = PlotBox::new(-1.0, 1.0, -1.0, 1.0).unwrap();
    let svg = SurfacePlot::from_fn(|p| p[0] * p[1], bx, 20)
        .unwrap()
        .with_title("the title")
        .with_axis_labels("w1", "w2")
        .with_trajectory("adam", vec![[0.5, 0.5], [0.1, 0.2]])
        .with_curve("hyperbola", vec![vec![[0.5, 1.0], [1.0, 0.5]]])
        .to_svg_string((600, 450))
        .unwrap();
    for t in ["the title", "w1", "w2", "adam", "hyperbola", "start", "end"] {
        assert!(svg.contains(t), "missing {t}");
    }
    let svg = SpectrumPlot::new(&[-1.0, 1.0, 2.0])
        .to_svg_string((500, 400))
        .unwrap();
    assert!(
        svg.contains("λ &lt; 0 (1)") || svg.contains("λ < 0 (1)"),
        "{}",
        &svg[..200]
    );
}
