//! Clipping polylines to the plotting box (Liang–Barsky), so that overlays never draw outside
//! the axes.

use super::grid::PlotBox;

/// Clips the segment `a–b` to the box (Liang–Barsky); `None` when it misses the box.
pub(crate) fn clip_segment(bx: &PlotBox, a: [f64; 2], b: [f64; 2]) -> Option<([f64; 2], [f64; 2])> {
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let d = [b[0] - a[0], b[1] - a[1]];
    let checks = [
        (-d[0], a[0] - bx.x.0),
        (d[0], bx.x.1 - a[0]),
        (-d[1], a[1] - bx.y.0),
        (d[1], bx.y.1 - a[1]),
    ];
    for (p, q) in checks {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    Some((
        [a[0] + t0 * d[0], a[1] + t0 * d[1]],
        [a[0] + t1 * d[0], a[1] + t1 * d[1]],
    ))
}

/// Clips a polyline to the box, splitting it where it leaves; stops at the first non-finite point.
pub(crate) fn clip_polyline(bx: &PlotBox, pts: &[[f64; 2]]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let finite: Vec<[f64; 2]> = pts
        .iter()
        .copied()
        .take_while(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    if finite.len() == 1 && bx.contains(finite[0]) {
        return vec![vec![(finite[0][0], finite[0][1])]];
    }
    for w in finite.windows(2) {
        match clip_segment(bx, w[0], w[1]) {
            Some((a, b)) => {
                let a = (a[0], a[1]);
                if cur.last() != Some(&a) {
                    if cur.len() >= 2 {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                    cur.push(a);
                }
                cur.push((b[0], b[1]));
            }
            None => {
                if cur.len() >= 2 {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    if cur.len() >= 2 {
        out.push(cur);
    }
    out
}
