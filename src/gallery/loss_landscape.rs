//! Figure 13: the loss landscape around the trained digits MLP of figure 12 (64-16-10 tanh,
//! Adam, 20 epochs), in five panels (Li et al. 2018):
//! (a) 1-D slices along a filter-normalized random direction and along the top Hessian
//! eigenvector; (b) their zoom on `α = 0` with the quadratic model `L* + ½λ₁‖d‖²α²`;
//! (c) a 2-D slice over two filter-normalized random directions;
//! (d) a 2-D slice over the top two Hessian eigenvectors;
//! (e) the training path (one checkpoint per epoch) projected on the PCA plane of its
//! checkpoints, over the loss on that plane.
//!
//! The eigenvectors come from Lanczos on exact Hessian-vector products (the dense Hessian is
//! never formed here) and are scaled to the norm of the filter-normalized random direction, so
//! that `α = 1` is a step of the same length in panels (a)–(d).

use super::hessian_spectrum::SIZES;
use super::nn_common::{digits, NnPlot};
use super::{num, write, FigureOutput};
use crate::curvature::{Lanczos, Which};
use crate::error::{Error, Result};
use crate::landscape::{checkpoint_pca, slice_1d, slice_2d, CheckpointPca, Slice2d};
use crate::nn::curvature::filter_normalized_direction;
use crate::nn::{train, Activation, BnMode, LossKind, Mlp, NetLoss, TrainConfig, TrainSource};
use crate::objective::{norm, Gradient};
use crate::optim::{Adam, EpochState, ObserverAction, OnEpoch, Rates};
use crate::plot::{
    Grid, Levels, LinePlot, PanelRows, Panels, PlotBox, Series, SurfacePlot, ValueScale,
};
use std::path::Path;

/// The figure's size: a 2×2 grid of panels.
pub const GRID_SIZE: (u32, u32) = (2400, 1800);
/// Seed of the first random direction; the second uses `SEED + 1`.
pub const SEED: u64 = 1;
/// Training epochs (one checkpoint after each, plus the initialization), as figure 12.
pub const EPOCHS: usize = 20;
/// Mini-batch size and Adam's learning rate, as figure 12.
const BATCH_SIZE: usize = 64;
const LEARNING_RATE: f64 = 0.01;
/// Half-width of the zoom on `α = 0` (panel b), where the quadratic model `½λ₁‖d‖²α²` is
/// drawn; the 1-D slices get [`ZOOM_POINTS`] extra points there.
pub const ZOOM: f64 = 0.08;
/// Evenly spaced points of the 1-D slices over `[−ZOOM, ZOOM]`.
pub const ZOOM_POINTS: usize = 33;

/// Resolutions of the figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Evenly spaced points of each 1-D slice over `α ∈ [−1, 1]` (plus [`ZOOM_POINTS`] over `[−ZOOM, ZOOM]`).
    pub line_points: usize,
    /// Points per axis of each 2-D slice.
    pub grid_points: usize,
    /// Seed of the first random direction (the second uses `seed + 1`).
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            line_points: 81,
            grid_points: 51,
            seed: SEED,
        }
    }
}

/// The figure's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// The trained model `θ*` (the last checkpoint).
    pub model: Mlp,
    /// Training loss `L(θ*)` (whole set, evaluation mode).
    pub loss: f64,
    /// Training accuracy.
    pub accuracy: f64,
    /// `‖∇L(θ*)‖`: the trained point is close to, not at, a critical point.
    pub gradient_norm: f64,
    /// `θ_0` (initialization) then the parameters after each epoch; the last is `θ*`.
    pub checkpoints: Vec<Vec<f64>>,
    /// Seeds of the two random directions.
    pub seeds: [u64; 2],
    /// The two filter-normalized random directions.
    pub random_directions: [Vec<f64>; 2],
    /// `‖d₁‖`, the length every direction of panels (a)–(d) is scaled to.
    pub scale: f64,
    /// The two largest Hessian eigenvalues at `θ*`, `λ₁ ≥ λ₂`.
    pub eigenvalues: [f64; 2],
    /// Their unit eigenvectors `v₁`, `v₂`.
    pub eigenvectors: [Vec<f64>; 2],
    /// Lanczos residuals `‖H v − λ v‖` of the two pairs.
    pub residuals: [f64; 2],
    /// `α` of the 1-D slices, ascending: an even grid over `[−1, 1]` and a finer one over
    /// `[−ZOOM, ZOOM]`.
    pub alphas: Vec<f64>,
    /// `L(θ* + α d₁)`.
    pub random_line: Vec<f64>,
    /// `L(θ* + α ‖d₁‖ v₁)`.
    pub eigen_line: Vec<f64>,
    /// `L(θ* + α d₁ + β d₂)` on `[−1, 1]²`.
    pub random_plane: Slice2d,
    /// `L(θ* + ‖d₁‖(α v₁ + β v₂))` on `[−1, 1]²`.
    pub eigen_plane: Slice2d,
    /// The PCA plane of the checkpoints (through `θ*`).
    pub pca: CheckpointPca,
    /// `L(θ* + x u₁ + y u₂)` over a box around the projected path.
    pub pca_plane: Slice2d,
}

impl Data {
    /// Curvature of the eigenvector slice at `α = 0` from its central second difference over
    /// the nearest points on each side, divided by `‖d₁‖²` (so it estimates `λ₁`); NaN without
    /// points around 0.
    pub fn measured_curvature(&self) -> f64 {
        let Some(i0) = self.alphas.iter().position(|a| a.abs() < 1e-12) else {
            return f64::NAN;
        };
        if i0 == 0 || i0 + 1 >= self.alphas.len() {
            return f64::NAN;
        }
        let (hp, hm) = (
            self.alphas[i0 + 1] - self.alphas[i0],
            self.alphas[i0] - self.alphas[i0 - 1],
        );
        let l = &self.eigen_line;
        // The second derivative of the parabola through the three points (any spacing).
        let second = 2.0 * ((l[i0 + 1] - l[i0]) / hp - (l[i0] - l[i0 - 1]) / hm) / (hp + hm);
        second / (self.scale * self.scale)
    }

    /// The lowest loss on the PCA plane's grid and where, `(L, [PC1, PC2])`.
    pub fn pca_plane_min(&self) -> (f64, [f64; 2]) {
        let mut best = (f64::INFINITY, [f64::NAN; 2]);
        for (i, row) in self.pca_plane.values.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if v < best.0 {
                    best = (v, [self.pca_plane.alphas[i], self.pca_plane.betas[j]]);
                }
            }
        }
        best
    }

    /// The largest `α > 0` up to which the even part of the eigenvector slice stays within
    /// relative `tol` of the quadratic model: `|½(L(α) + L(−α)) − L* − ½λ₁‖d‖²α²| ≤
    /// tol·½λ₁‖d‖²α²`, scanning outwards from 0 (0 when the nearest pair already misses). The
    /// even part drops the linear term `α‖d‖ ∇L·v₁` of a point that is not exactly critical.
    pub fn quadratic_range(&self, tol: f64) -> f64 {
        let q = 0.5 * self.eigenvalues[0] * self.scale * self.scale;
        let mut reach = 0.0;
        for (i, &a) in self.alphas.iter().enumerate().filter(|(_, a)| **a > 0.0) {
            let Some(j) = self.alphas.iter().position(|b| (a + b).abs() < 1e-12) else {
                continue;
            };
            let even = 0.5 * (self.eigen_line[i] + self.eigen_line[j]) - self.loss;
            let model = q * a * a;
            if (even - model).abs() > tol * model {
                break;
            }
            reach = a;
        }
        reach
    }
}

/// Trains figure 12's network (64-16-10 tanh on standardized digits, Adam η = 0.01, batches of
/// 64, seed 0) for `epochs` epochs and keeps a checkpoint per epoch.
///
/// The same [`crate::nn::train()`] run as
/// [`hessian_spectrum::trained`](super::hessian_spectrum::trained), so the last checkpoint is
/// that model.
///
/// # Postconditions
/// `epochs + 1` checkpoints: the initialization, then the parameters after each epoch.
///
/// # Errors
/// Data errors, a zero epoch count, a diverging run.
pub fn trained_with_checkpoints(
    sizes: &[usize],
    epochs: usize,
) -> Result<(Mlp, crate::nn::Dataset, Vec<Vec<f64>>)> {
    if epochs == 0 {
        return Err(Error::invalid("epochs", "must be at least 1, got 0"));
    }
    let data = digits()?;
    let mut model = Mlp::new(sizes, Activation::Tanh, false, 0)?;
    let mut checkpoints = vec![model.params.clone()];
    let cfg = TrainConfig {
        batch_size: BATCH_SIZE,
        epochs,
        ..TrainConfig::default()
    };
    let mut keep = OnEpoch(|e: &EpochState<'_, TrainSource<'_>>| {
        checkpoints.push(e.params.to_vec());
        Ok(ObserverAction::Continue)
    });
    train(
        &mut model,
        &data,
        LossKind::CrossEntropy,
        &mut Adam::new(),
        &Rates::constant(LEARNING_RATE)?,
        &cfg,
        &mut [&mut keep],
    )?
    .check_diverged()?;
    Ok((model, data, checkpoints))
}

/// `n` points evenly spaced over `[lo, hi]`.
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| lo + (hi - lo) * k as f64 / (n - 1) as f64)
        .collect()
}

/// The figure's data at the resolutions of `opts`.
///
/// # Errors
/// Fewer than 3 points per slice; data, training, Lanczos or evaluation errors.
pub fn compute_with(opts: &Options) -> Result<Data> {
    if opts.line_points < 3 || opts.grid_points < 3 {
        return Err(Error::invalid(
            "resolution",
            format!(
                "{} line points, {} grid points; need at least 3 of each",
                opts.line_points, opts.grid_points
            ),
        ));
    }
    let (model, data, checkpoints) = trained_with_checkpoints(&SIZES, EPOCHS)?;
    let obj = NetLoss::new(&model, &data, LossKind::CrossEntropy, BnMode::Eval)?;
    let center = model.params.clone();
    let mut g = vec![0.0; center.len()];
    let loss = obj.loss_and_gradient(&center, &mut g)?;
    let labels = data.labels().unwrap_or(&[]);
    let accuracy = model.accuracy(&data.x, labels, BnMode::Eval)?;

    // Directions: two filter-normalized random ones, the top two eigenvectors scaled to ‖d₁‖.
    let seeds = [opts.seed, opts.seed.wrapping_add(1)];
    let d1 = filter_normalized_direction(&model, seeds[0])?;
    let d2 = filter_normalized_direction(&model, seeds[1])?;
    let scale = norm(&d1);
    let top = Lanczos::new(2, Which::Largest).run(&obj, &center)?;
    let k = top.spectrum.eigenvalues().len();
    if k < 2 {
        return Err(Error::Unsupported(format!(
            "lanczos returned {k} eigenpairs, need 2"
        )));
    }
    let eigenvalues = [
        top.spectrum.eigenvalues()[k - 1],
        top.spectrum.eigenvalues()[k - 2],
    ];
    let eigenvectors = [
        top.spectrum.eigenvector(k - 1),
        top.spectrum.eigenvector(k - 2),
    ];
    let residuals = [top.residuals[k - 1], top.residuals[k - 2]];
    let scaled = |v: &[f64]| v.iter().map(|x| x * scale).collect::<Vec<f64>>();
    let (e1, e2) = (scaled(&eigenvectors[0]), scaled(&eigenvectors[1]));

    let mut alphas = linspace(-1.0, 1.0, opts.line_points);
    alphas.extend(linspace(-ZOOM, ZOOM, ZOOM_POINTS));
    alphas.sort_by(f64::total_cmp);
    alphas.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    let random_line = slice_1d(&obj, &center, &d1, &alphas)?;
    let eigen_line = slice_1d(&obj, &center, &e1, &alphas)?;
    let axis = linspace(-1.0, 1.0, opts.grid_points);
    let random_plane = slice_2d(&obj, &center, &d1, &d2, &axis, &axis)?;
    let eigen_plane = slice_2d(&obj, &center, &e1, &e2, &axis, &axis)?;

    // The PCA plane through θ*, over the projected path with a margin.
    let pca = checkpoint_pca(&checkpoints)?;
    let range = |k: usize| {
        let (lo, hi) = pca
            .coordinates
            .iter()
            .fold((0.0f64, 0.0f64), |(lo, hi), c| (lo.min(c[k]), hi.max(c[k])));
        let pad = 0.15 * (hi - lo);
        linspace(lo - pad, hi + pad, opts.grid_points)
    };
    let pca_plane = slice_2d(
        &obj,
        &center,
        &pca.directions[0],
        &pca.directions[1],
        &range(0),
        &range(1),
    )?;
    Ok(Data {
        model,
        loss,
        accuracy,
        gradient_norm: norm(&g),
        checkpoints,
        seeds,
        random_directions: [d1, d2],
        scale,
        eigenvalues,
        eigenvectors,
        residuals,
        alphas,
        random_line,
        eigen_line,
        random_plane,
        eigen_plane,
        pca,
        pca_plane,
    })
}

/// The figure's data at the default resolutions (81-point lines, 41×41 planes, seed [`SEED`]).
///
/// # Errors
/// As [`compute_with`].
pub fn compute() -> Result<Data> {
    compute_with(&Options::default())
}

/// A 2-D slice as a grid over its box (`values[j·nx + i]` with `i` along the first axis).
fn slice_grid(s: &Slice2d) -> Result<Grid> {
    let (nx, ny) = (s.alphas.len(), s.betas.len());
    let bx = PlotBox::new(s.alphas[0], s.alphas[nx - 1], s.betas[0], s.betas[ny - 1])?;
    let mut values = vec![0.0; nx * ny];
    for (i, row) in s.values.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            values[j * nx + i] = *v;
        }
    }
    Grid::new(bx, nx, ny, values)
}

/// A small white cross at the origin, the mark of `θ*` on the slices.
fn origin_cross(arm: f64) -> Vec<Vec<[f64; 2]>> {
    vec![vec![[-arm, 0.0], [arm, 0.0]], vec![[0.0, -arm], [0.0, arm]]]
}

fn surface(s: &Slice2d) -> Result<SurfacePlot> {
    Ok(SurfacePlot::from_grid(slice_grid(s)?)
        .with_scale(ValueScale::Log)
        .with_levels(Levels::Log(14))
        .with_value_label("L (log colours)"))
}

/// The five panels: the 1-D slices and their zoom on `α = 0` on top; the random plane, the
/// eigenvector plane and the PCA path below.
///
/// # Errors
/// A degenerate slice box (cannot happen for data from [`compute_with`]).
pub fn plot(d: &Data) -> Result<PanelRows<NnPlot>> {
    let (l1, l2) = (d.eigenvalues[0], d.eigenvalues[1]);
    let s2 = d.scale * d.scale;
    let line = |v: &[f64], lim: f64| -> Vec<[f64; 2]> {
        d.alphas
            .iter()
            .zip(v)
            .filter(|(a, _)| a.abs() <= lim + 1e-12)
            .map(|(&a, &l)| [a, l])
            .collect()
    };
    let random_name = format!("random d (filter-normalized, seed {})", d.seeds[0]);
    let eigen_name = format!("top eigenvector v₁ × ‖d‖ (λ₁ = {l1:.4})");
    let full = LinePlot::new(vec![
        Series::new(random_name.clone(), line(&d.random_line, 1.0)),
        Series::new(eigen_name.clone(), line(&d.eigen_line, 1.0)),
    ])
    .with_title(format!(
        "(a) 1-D slices L(θ* + α·dir), ‖dir‖ = ‖d‖ = {:.2}",
        d.scale
    ))
    .with_axis_labels("α", "training loss L (log)")
    .with_log_y(true);
    let quad: Vec<[f64; 2]> = linspace(-ZOOM, ZOOM, 81)
        .into_iter()
        .map(|a| [a, d.loss + 0.5 * l1 * s2 * a * a])
        .collect();
    let zoom = LinePlot::new(vec![
        Series::new(random_name, line(&d.random_line, ZOOM)),
        Series::new(eigen_name, line(&d.eigen_line, ZOOM)),
        Series::new("L* + ½λ₁‖d‖²α² (quadratic model)", quad),
    ])
    .with_title(format!(
        "(b) zoom: the eigenvector slice's even part is ½λ₁‖d‖²α² (±10%) up to |α| = {:.3}",
        d.quadratic_range(0.1)
    ))
    .with_axis_labels("α", "training loss L");
    let random = surface(&d.random_plane)?
        .with_title(format!(
            "(c) random plane θ* + α d₁ + β d₂ (seeds {}, {})",
            d.seeds[0], d.seeds[1]
        ))
        .with_axis_labels("α (along d₁)", "β (along d₂)")
        .with_curve("θ* (trained)", origin_cross(0.07));
    let eigen = surface(&d.eigen_plane)?
        .with_title(format!(
            "(d) θ* + ‖d‖(α v₁ + β v₂), λ₁ = {l1:.4}, λ₂ = {l2:.4}"
        ))
        .with_axis_labels("α (along v₁)", "β (along v₂)")
        .with_curve("θ* (trained)", origin_cross(0.07));
    let pca = surface(&d.pca_plane)?
        .with_title(format!(
            "(e) Adam's path, epochs 0–{}, on its PCA plane",
            d.checkpoints.len() - 1
        ))
        .with_axis_labels(
            format!(
                "PC1 ({:.1}% of variance)",
                100.0 * d.pca.explained_variance[0]
            ),
            format!(
                "PC2 ({:.1}% of variance)",
                100.0 * d.pca.explained_variance[1]
            ),
        )
        .with_trajectory("Adam, one point per epoch", d.pca.coordinates.clone());
    Ok(PanelRows {
        rows: vec![
            Panels::new(vec![NnPlot::Line(full), NnPlot::Line(zoom)])?,
            Panels::new(vec![
                NnPlot::Surface(random),
                NnPlot::Surface(eigen),
                NnPlot::Surface(pca),
            ])?,
        ],
        title: format!(
            "Loss landscape of the trained 64-16-10 tanh MLP on digits ({} parameters, L* = {:.4})",
            d.model.n_params(),
            d.loss
        ),
    })
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// As [`compute`], plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d)?, path, GRID_SIZE)?;
    let last = d.alphas.len() - 1;
    let edge = |v: &[f64]| 0.5 * (v[0] + v[last]);
    let curv = d.measured_curvature();
    let reach = d.quadratic_range(0.1);
    let (plane_min, at) = d.pca_plane_min();
    Ok(FigureOutput {
        caption: format!(
            "Around the trained digits MLP of figure 12 (L* = {:.4}, accuracy {:.3}, ‖∇L‖ = \
             {:.1e}) the loss rises along every slice through θ* (panels a–d), far faster along the top Hessian \
             eigenvector (λ₁ = {:.4}, Lanczos) than along a filter-normalized random direction \
             (seed {}, ‖d‖ = {:.2}; the eigenvector is scaled to the same length): at α = ±1 the \
             mean loss is {:.3} against {:.3}. Near α = 0 the eigenvector slice is \
             L* + ½λ₁‖d‖²α² (second difference {:.4} vs λ₁; even part within 10% up to |α| = \
             {:.3}), beyond that it grows faster than the quadratic. The planes over random \
             directions (seeds {}, {}) and over the top two eigenvectors (λ₂ = {:.4}) show a \
             single basin around θ*. Adam's 20 epochs lie close to a plane (PC1 and PC2 explain \
             {:.1}% and {:.1}% of the checkpoints' variance); on that plane the loss keeps \
             falling past θ* along the direction of travel (minimum {:.4} at PC1 = {:.2}{}), as \
             cross-entropy does once every sample is classified correctly",
            d.loss,
            d.accuracy,
            d.gradient_norm,
            d.eigenvalues[0],
            d.seeds[0],
            d.scale,
            edge(&d.eigen_line),
            edge(&d.random_line),
            curv,
            reach,
            d.seeds[0],
            d.seeds[1],
            d.eigenvalues[1],
            100.0 * d.pca.explained_variance[0],
            100.0 * d.pca.explained_variance[1],
            plane_min,
            at[0],
            if (at[0] - d.pca_plane.alphas[0]).abs() < 1e-12 {
                ", the grid's edge"
            } else {
                ""
            },
        ),
        numbers: vec![
            num("loss", d.loss),
            num("accuracy", d.accuracy),
            num("gradient_norm", d.gradient_norm),
            num("seed", d.seeds[0] as f64),
            num("direction_norm", d.scale),
            num("lambda_1", d.eigenvalues[0]),
            num("lambda_2", d.eigenvalues[1]),
            num("measured_curvature", curv),
            num("quadratic_range", reach),
            num("random_edge_loss", edge(&d.random_line)),
            num("eigen_edge_loss", edge(&d.eigen_line)),
            num("pc1_variance", d.pca.explained_variance[0]),
            num("pc2_variance", d.pca.explained_variance[1]),
            num("pca_plane_min", plane_min),
        ],
    })
}
