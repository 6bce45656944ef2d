//! Tick values and tick labels shared by every chart.

/// Evenly spaced "nice" tick values (steps 1, 2, 5 × 10^k) within `[lo, hi]`, about `n` of them.
pub(crate) fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// Formats a tick of a linear axis over `lo..hi`: as [`fmt_tick`], except that on an axis that
/// crosses zero a value within rounding of zero (`|v| ≤ 1e-9·(hi − lo)`, such as a padded range's
/// `-1.39e-17`) is `0`. A log axis (`lo > 0`) is left alone.
pub fn fmt_axis_tick(v: f64, lo: f64, hi: f64) -> String {
    if lo < 0.0 && hi > 0.0 && v.abs() <= 1e-9 * (hi - lo) {
        "0".into()
    } else {
        fmt_tick(v)
    }
}

/// Formats a number for tick labels: up to 4 significant digits, scientific outside 1e-3..1e5.
pub fn fmt_tick(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.2e}");
        // 1.00e3 -> 1e3, 2.50e-4 -> 2.5e-4
        if let Some((m, e)) = s.split_once('e') {
            let m = m.trim_end_matches('0').trim_end_matches('.');
            return format!("{m}e{e}");
        }
        return s;
    }
    let digits = (4 - 1 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
