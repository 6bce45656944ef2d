//! Figure 3: the chapter's empirical figure, training loss against minimum ratio. Many tiny
//! 2-6-1 tanh networks (different seeds, trained for different numbers of Adam steps on a
//! seeded 2-D regression) are driven to `‖∇L‖ ≈ 0` by minimizing `½‖∇L‖²`, then classified with
//! the dense Hessian. Only the runs that really reached the gradient tolerance are plotted.

use super::{num, write, FigureOutput, SIZE};
use crate::critical::minimize_gradient_norm;
use crate::critical::{classify_point, CriticalPoint, Tolerances};
use crate::error::Result;
use crate::nn::{Activation, BnMode, Dataset, LossKind, Mlp, NetLoss, Targets};
use crate::optim::{Adam, Batching, Executor, FullBatch, Rates};
use crate::plot::{ScatterPlot, Series};
use crate::problems::Ridge;
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::path::Path;

/// Widths of every network.
pub const SIZES: [usize; 3] = [2, 6, 1];
/// Samples of the regression.
pub const N: usize = 40;
/// Seed of the data.
pub const DATA_SEED: u64 = 7;
/// The gradient tolerance a run must reach to be plotted.
pub const GRAD_TOL: f64 = 1e-8;
/// Adam learning rate of the training phase.
pub const LR: f64 = 0.02;

/// Settings of the experiment (tests use fewer runs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Number of runs (seeds `1..=runs`).
    pub runs: usize,
    /// Iteration cap of the gradient-norm minimization.
    pub max_iters: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs: 40,
            max_iters: 300,
        }
    }
}

/// One run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The network's seed.
    pub seed: u64,
    /// Adam steps before the gradient-norm phase.
    pub train_steps: usize,
    /// The classified end point.
    pub point: CriticalPoint,
}

impl Run {
    /// Whether the run reached [`GRAD_TOL`].
    pub fn reached(&self) -> bool {
        self.point.gradient_norm <= GRAD_TOL
    }
}

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// Every run, reached or not.
    pub runs: Vec<Run>,
}

impl Data {
    /// The runs that reached the tolerance.
    pub fn reached(&self) -> Vec<&Run> {
        self.runs.iter().filter(|r| r.reached()).collect()
    }
}

/// The data set: `y = sin(2 x₁)·cos(x₂) + 0.1·noise`, `x` uniform in `[−2, 2]²`, seeded.
pub fn data() -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(DATA_SEED);
    let nz = Normal::new(0.0, 0.1).expect("positive standard deviation");
    let mut x = Vec::with_capacity(2 * N);
    let mut y = Vec::with_capacity(N);
    for _ in 0..N {
        let a: f64 = rng.random_range(-2.0..2.0);
        let b: f64 = rng.random_range(-2.0..2.0);
        x.push(a);
        x.push(b);
        y.push((2.0 * a).sin() * b.cos() + nz.sample(&mut rng));
    }
    Dataset {
        x: DMatrix::from_row_slice(N, 2, &x),
        targets: Targets::Values(DMatrix::from_column_slice(N, 1, &y)),
        feature_names: vec!["x1".into(), "x2".into()],
        target_names: vec!["y".into()],
        standardization: None,
    }
}

/// Weight decay of the objective.
pub const WEIGHT_DECAY: f64 = 1e-3;

/// The objective every run uses: MSE plus `½·WEIGHT_DECAY·‖θ‖²`.
///
/// # Errors
/// None in practice.
pub fn objective() -> Result<Ridge<NetLoss>> {
    let m = Mlp::new(&SIZES, Activation::Tanh, false, 0)?;
    Ok(Ridge {
        inner: NetLoss::new(&m, &data(), LossKind::Mse, BnMode::Eval)?,
        alpha: WEIGHT_DECAY,
    })
}

/// The classifier's tolerances: exact derivatives, gradient tolerance [`GRAD_TOL`].
pub fn tolerances() -> Tolerances {
    Tolerances {
        grad: GRAD_TOL,
        ..Tolerances::dual()
    }
}

/// One run: seed `seed`, `train_steps` full-batch Adam steps, then the gradient-norm phase.
///
/// # Errors
/// Non-finite derivatives.
pub fn run(obj: &Ridge<NetLoss>, seed: u64, train_steps: usize, max_iters: usize) -> Result<Run> {
    let mut m = Mlp::new(&SIZES, Activation::Tanh, false, seed)?;
    m.params = Executor::new(Rates::constant(LR)?, Batching::Full, train_steps)
        .run(
            &mut FullBatch::new(obj),
            &mut Adam::new(),
            &m.params,
            &mut [],
        )?
        .check_diverged()?
        .params;
    let end = minimize_gradient_norm(obj, &m.params, GRAD_TOL * 0.01, max_iters)?;
    let point = classify_point(obj, &end.params, &tolerances())?;
    Ok(Run {
        seed,
        train_steps,
        point,
    })
}

/// Runs the experiment.
///
/// # Errors
/// As [`run`].
pub fn compute_with(opts: &Options) -> Result<Data> {
    use rayon::prelude::*;
    let obj = objective()?;
    let runs = (1..=opts.runs as u64)
        .into_par_iter()
        .map(|s| run(&obj, s, 20 * (s as usize % 8), opts.max_iters))
        .collect::<Result<Vec<_>>>()?;
    Ok(Data { runs })
}

/// Runs the experiment with the default [`Options`].
///
/// # Errors
/// As [`run`].
pub fn compute() -> Result<Data> {
    compute_with(&Options::default())
}

/// Training loss against minimum ratio for the runs that reached the tolerance.
pub fn plot(d: &Data) -> ScatterPlot {
    let reached = d.reached();
    let pts = |f: &dyn Fn(&Run) -> bool| -> Vec<[f64; 2]> {
        reached
            .iter()
            .filter(|r| f(r))
            .map(|r| [r.point.minimum_ratio, r.point.value])
            .collect()
    };
    let n_pos = SIZES.windows(2).map(|w| w[0] * w[1] + w[1]).sum::<usize>();
    ScatterPlot::new(vec![
        Series::new(
            "saddle points / degenerate",
            pts(&|r| r.point.minimum_ratio < 1.0),
        ),
        Series::new("minima (ratio 1)", pts(&|r| r.point.minimum_ratio >= 1.0)),
    ])
    .with_title(format!(
        "{} of {} runs reached ‖∇L‖ ≤ {GRAD_TOL:e} ({n_pos} parameters)",
        reached.len(),
        d.runs.len()
    ))
    .with_axis_labels(
        "minimum ratio (positive eigenvalues / all)",
        "training loss (MSE + weight decay)",
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Run, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d), path, SIZE)?;
    let r = d.reached();
    let lo = r
        .iter()
        .map(|r| r.point.minimum_ratio)
        .fold(f64::INFINITY, f64::min);
    let hi = r
        .iter()
        .map(|r| r.point.minimum_ratio)
        .fold(f64::NEG_INFINITY, f64::max);
    let minima = r.iter().filter(|r| r.point.minimum_ratio >= 1.0).count();
    Ok(FigureOutput {
        caption: format!(
            "{} 2-6-1 tanh networks on a {N}-point regression (MSE + ½·{WEIGHT_DECAY}·‖θ‖²), trained by Adam then driven to \
             ‖∇L‖ ≈ 0 by minimizing ½‖∇L‖² (Gauss–Newton on ∇L): {} reached ‖∇L‖ ≤ {GRAD_TOL:e} \
             and are plotted; their minimum ratios span {lo:.3}–{hi:.3}, {minima} are minima",
            d.runs.len(),
            r.len()
        ),
        numbers: vec![
            num("runs", d.runs.len() as f64),
            num("runs_reached", r.len() as f64),
            num("ratio_min", lo),
            num("ratio_max", hi),
            num("minima", minima as f64),
        ],
    })
}
