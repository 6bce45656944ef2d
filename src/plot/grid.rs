//! Values sampled on a regular grid over a 2-D box, contour levels, and contour lines.
//!
//! Contour lines come from the `contour` crate (marching squares, linear interpolation along cell
//! edges). That crate treats the value at grid index `i` as the centre of pixel `[i, i+1]` and
//! closes every ring along the outside of the grid; [`contour_lines`] maps the pixel centres back
//! onto the box and cuts away those closing pieces, so a line stops where it leaves the box, and
//! cuts lines near non-finite values (a formula undefined in part of the box).

use crate::error::{Error, Result};

/// An axis-aligned box `[x_lo, x_hi] × [y_lo, y_hi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotBox {
    /// `(lo, hi)` of the first coordinate (horizontal axis).
    pub x: (f64, f64),
    /// `(lo, hi)` of the second coordinate (vertical axis).
    pub y: (f64, f64),
}

impl PlotBox {
    /// The box `[x_lo, x_hi] × [y_lo, y_hi]`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless every bound is finite and `lo < hi` on both axes.
    pub fn new(x_lo: f64, x_hi: f64, y_lo: f64, y_hi: f64) -> Result<PlotBox> {
        for (name, lo, hi) in [("x", x_lo, x_hi), ("y", y_lo, y_hi)] {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(Error::invalid(
                    "box",
                    format!("{name} range [{lo}, {hi}] must be finite with lo < hi"),
                ));
            }
        }
        Ok(PlotBox {
            x: (x_lo, x_hi),
            y: (y_lo, y_hi),
        })
    }

    /// The box from `(lo, hi)` pairs, one per variable (as `Surface::plot_box`).
    ///
    /// # Errors
    /// [`Error::DimMismatch`] unless there are exactly two pairs; as [`PlotBox::new`].
    pub fn from_pairs(pairs: &[(f64, f64)]) -> Result<PlotBox> {
        if pairs.len() != 2 {
            return Err(Error::dim(
                "plot box (one range per variable)",
                2,
                pairs.len(),
            ));
        }
        PlotBox::new(pairs[0].0, pairs[0].1, pairs[1].0, pairs[1].1)
    }

    /// The box from a flat list `lo1, hi1, lo2, hi2` (the `--box` flag).
    ///
    /// # Errors
    /// [`Error::DimMismatch`] unless there are exactly four numbers; as [`PlotBox::new`].
    pub fn from_flat(v: &[f64]) -> Result<PlotBox> {
        if v.len() != 4 {
            return Err(Error::dim("box LO1,HI1,LO2,HI2", 4, v.len()));
        }
        PlotBox::new(v[0], v[1], v[2], v[3])
    }

    /// Whether `p` lies in the box (bounds included).
    pub fn contains(&self, p: [f64; 2]) -> bool {
        p[0] >= self.x.0 && p[0] <= self.x.1 && p[1] >= self.y.0 && p[1] <= self.y.1
    }
}

/// Values on an `nx × ny` grid of points spanning a box, corners included.
///
/// Point `(i, j)` is `(x_lo + i·(x_hi−x_lo)/(nx−1), y_lo + j·(y_hi−y_lo)/(ny−1))`; its value is
/// `values[j·nx + i]` (rows of constant `y`). Values may be non-finite: those points are left
/// blank in heat maps and contour lines avoid them.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The box the grid spans.
    pub bx: PlotBox,
    /// Number of points along x.
    pub nx: usize,
    /// Number of points along y.
    pub ny: usize,
    /// Values, row-major in y (`values[j·nx + i]`).
    pub values: Vec<f64>,
}

impl Grid {
    /// A grid from precomputed values.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `nx` or `ny` is below 2; [`Error::DimMismatch`] when
    /// `values.len() != nx·ny`.
    pub fn new(bx: PlotBox, nx: usize, ny: usize, values: Vec<f64>) -> Result<Grid> {
        if nx < 2 || ny < 2 {
            return Err(Error::invalid(
                "grid",
                format!("{nx}x{ny} points; need at least 2 along each axis"),
            ));
        }
        if values.len() != nx * ny {
            return Err(Error::dim("grid values", nx * ny, values.len()));
        }
        Ok(Grid { bx, nx, ny, values })
    }

    /// Samples `f` (called with a 2-element slice) at every grid point. `f` may return NaN or
    /// infinity where it is undefined. Costs `nx·ny` calls.
    ///
    /// # Errors
    /// As [`Grid::new`].
    pub fn sample<F: Fn(&[f64]) -> f64>(bx: PlotBox, nx: usize, ny: usize, f: F) -> Result<Grid> {
        let mut g = Grid::new(bx, nx.max(2), ny.max(2), vec![0.0; nx.max(2) * ny.max(2)])?;
        if nx < 2 || ny < 2 {
            return Grid::new(bx, nx, ny, Vec::new());
        }
        for j in 0..ny {
            for i in 0..nx {
                let p = [g.x(i), g.y(j)];
                g.values[j * nx + i] = f(&p);
            }
        }
        Ok(g)
    }

    /// The x coordinate of column `i`.
    pub fn x(&self, i: usize) -> f64 {
        self.bx.x.0 + (self.bx.x.1 - self.bx.x.0) * i as f64 / (self.nx - 1) as f64
    }

    /// The y coordinate of row `j`.
    pub fn y(&self, j: usize) -> f64 {
        self.bx.y.0 + (self.bx.y.1 - self.bx.y.0) * j as f64 / (self.ny - 1) as f64
    }

    /// Grid spacing `(dx, dy)`.
    pub fn spacing(&self) -> (f64, f64) {
        (
            (self.bx.x.1 - self.bx.x.0) / (self.nx - 1) as f64,
            (self.bx.y.1 - self.bx.y.0) / (self.ny - 1) as f64,
        )
    }

    /// The value at `(i, j)`.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.values[j * self.nx + i]
    }

    /// `(min, max)` of the finite values, or `None` when no value is finite.
    pub fn finite_range(&self) -> Option<(f64, f64)> {
        let mut it = self.values.iter().copied().filter(|v| v.is_finite());
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }

    /// The finite values, sorted ascending.
    pub fn sorted_finite(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// `n` contour levels at the quantiles `k/(n+1)`, `k = 1..n`, of the grid's finite values
/// (so each band between levels covers about the same area), without duplicates.
pub fn quantile_levels(grid: &Grid, n: usize) -> Vec<f64> {
    let v = grid.sorted_finite();
    if v.is_empty() || n == 0 {
        return Vec::new();
    }
    let mut out: Vec<f64> = (1..=n)
        .map(|k| {
            let q = k as f64 / (n + 1) as f64;
            let pos = q * (v.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(v.len() - 1);
            let t = pos - lo as f64;
            v[lo] * (1.0 - t) + v[hi] * t
        })
        .collect();
    out.dedup_by(|a, b| (*a - *b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300));
    out
}

/// `n` contour levels spaced evenly in `log10(f − min + δ)`, for surfaces spanning orders of
/// magnitude (Rosenbrock, the valley). `δ` is `1e-4 · (max − min)` (or the minimum itself when
/// it is positive, then levels are plain powers).
pub fn log_levels(grid: &Grid, n: usize) -> Vec<f64> {
    let Some((lo, hi)) = grid.finite_range() else {
        return Vec::new();
    };
    if n == 0 || hi <= lo {
        return Vec::new();
    }
    let (shift, _) = log_shift(lo, hi);
    let (a, b) = ((lo + shift).log10(), (hi + shift).log10());
    (1..=n)
        .map(|k| 10f64.powf(a + (b - a) * k as f64 / (n + 1) as f64) - shift)
        .collect()
}

/// The shift that makes `v + shift > 0` for the log colour scale and log levels:
/// 0 when `lo > 0`, else `δ − lo` with `δ = 1e-4 · (hi − lo)`. Returns `(shift, δ)`.
pub(crate) fn log_shift(lo: f64, hi: f64) -> (f64, f64) {
    if lo > 0.0 {
        (0.0, lo)
    } else {
        let delta = 1e-4 * (hi - lo).max(f64::MIN_POSITIVE);
        (delta - lo, delta)
    }
}

/// The contour line(s) of one level: polylines in box coordinates (a closed ring repeats its
/// first point at the end).
#[derive(Debug, Clone, PartialEq)]
pub struct ContourLine {
    /// The level `c` of `f = c`.
    pub level: f64,
    /// Polylines, each at least two points.
    pub polylines: Vec<Vec<[f64; 2]>>,
}

/// Contour lines of `grid` at each level (marching squares with linear interpolation), in box
/// coordinates. Lines are cut where they would run along the outside of the grid and within one
/// cell of a non-finite value. Cost: `O(nx·ny)` per level.
///
/// # Errors
/// [`Error::NonFinite`] for a non-finite level.
pub fn contour_lines(grid: &Grid, levels: &[f64]) -> Result<Vec<ContourLine>> {
    crate::error::ensure_finite("contour levels", levels)?;
    let (nx, ny) = (grid.nx, grid.ny);
    // Non-finite values get a finite stand-in far below every level, so marching squares runs;
    // lines near them are cut afterwards.
    let bad: Vec<bool> = grid.values.iter().map(|v| !v.is_finite()).collect();
    let any_bad = bad.iter().any(|&b| b);
    let stand_in = grid
        .finite_range()
        .map(|(lo, hi)| lo - (hi - lo).max(1.0) * 10.0)
        .unwrap_or(0.0);
    let values: Vec<f64> = grid
        .values
        .iter()
        .map(|&v| if v.is_finite() { v } else { stand_in })
        .collect();
    let builder = contour::ContourBuilder::new(nx, ny, true);
    let lines = builder
        .lines(&values, levels)
        .map_err(|e| Error::Unsupported(format!("contour lines: {e:?}")))?;
    let (dx, dy) = grid.spacing();
    let near_bad = |px: f64, py: f64| -> bool {
        if !any_bad {
            return false;
        }
        // Pixel coordinates: value (i, j) sits at (i + 0.5, j + 0.5).
        let (ci, cj) = (px - 0.5, py - 0.5);
        let i0 = (ci.floor() as i64 - 1).max(0) as usize;
        let j0 = (cj.floor() as i64 - 1).max(0) as usize;
        let i1 = ((ci.ceil() as i64 + 1).max(0) as usize).min(nx - 1);
        let j1 = ((cj.ceil() as i64 + 1).max(0) as usize).min(ny - 1);
        (j0..=j1).any(|j| (i0..=i1).any(|i| bad[j * nx + i]))
    };
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let level = line.threshold();
        let mut polylines = Vec::new();
        for ls in line.geometry().0.iter() {
            let mut pieces: Vec<Vec<[f64; 2]>> = Vec::new();
            let mut current: Vec<[f64; 2]> = Vec::new();
            let (mut first_kept, mut last_kept) = (false, false);
            let n_pts = ls.0.len();
            for (k, c) in ls.0.iter().enumerate() {
                let (px, py) = (c.x, c.y);
                // Frame points sit exactly on 0 or n; data points lie in [0.5, n − 0.5].
                let on_frame =
                    px < 0.25 || py < 0.25 || px > nx as f64 - 0.25 || py > ny as f64 - 0.25;
                let keep = !on_frame && px.is_finite() && py.is_finite() && !near_bad(px, py);
                if k == 0 {
                    first_kept = keep;
                }
                if k + 1 == n_pts {
                    last_kept = keep;
                }
                if keep {
                    current.push([grid.bx.x.0 + (px - 0.5) * dx, grid.bx.y.0 + (py - 0.5) * dy]);
                } else if !current.is_empty() {
                    pieces.push(std::mem::take(&mut current));
                }
            }
            if !current.is_empty() {
                pieces.push(current);
            }
            // A cut ring that starts and ends inside a kept stretch: join its last piece to its
            // first, so that one arc stays one polyline.
            let closed = n_pts > 2 && ls.0.first() == ls.0.last();
            if closed && first_kept && last_kept && pieces.len() > 1 {
                let last = pieces.pop().unwrap_or_default();
                let first = std::mem::take(&mut pieces[0]);
                pieces[0] = last.into_iter().chain(first.into_iter().skip(1)).collect();
            }
            polylines.extend(pieces.into_iter().filter(|p| p.len() >= 2));
        }
        out.push(ContourLine { level, polylines });
    }
    Ok(out)
}
