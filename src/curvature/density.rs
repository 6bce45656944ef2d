//! The spectral density of a Hessian by stochastic Lanczos quadrature (SLQ).
//!
//! For a symmetric `H` with eigenvalues $\lambda_1..\lambda_n$, the spectral density is
//! $\phi(t) = \frac1n\sum_i \delta(t-\lambda_i)$. For a random unit vector $v$,
//! $v^\top f(H) v = \sum_i (v^\top u_i)^2 f(\lambda_i)$ is an unbiased estimate of
//! $\frac1n \mathrm{tr} f(H)$, and $m$ steps of Lanczos from $v$ turn it into a Gauss quadrature
//! $\sum_{k=1}^m \tau_k f(\theta_k)$: nodes $\theta_k$ are the eigenvalues of $T_m$, weights
//! $\tau_k$ the squared first components of its eigenvectors (they sum to 1). [`slq_density`]
//! averages the quadratures of several seeded runs and smooths the nodes with a Gaussian kernel
//! on a grid; it also reports the first two spectral moments with their standard errors.

use crate::curvature::lanczos::{rademacher_vec, HvpOperator, Krylov, Step};
use crate::error::{Error, Result};
use crate::objective::Hvp;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A moment estimate with its standard error across runs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MomentEstimate {
    /// The mean over runs.
    pub mean: f64,
    /// The standard error of the mean: the larger of the sample one (standard deviation over
    /// runs / √runs) and the variance bound of the Rademacher estimator (see [`slq_density`]).
    pub std_error: f64,
}

/// The quadrature of one SLQ run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Quadrature {
    /// Nodes: eigenvalues of the run's tridiagonal matrix, ascending.
    pub nodes: Vec<f64>,
    /// Weights: squared first components of its eigenvectors; they sum to 1.
    pub weights: Vec<f64>,
}

/// A smoothed spectral density and the raw quadratures behind it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpectralDensity {
    /// Grid points, ascending, evenly spaced.
    pub grid: Vec<f64>,
    /// Density at each grid point (integrates to about 1).
    pub density: Vec<f64>,
    /// One quadrature per run.
    pub runs: Vec<Quadrature>,
    /// The Gaussian kernel's standard deviation.
    pub sigma: f64,
    /// $\sum_k \tau_k\theta_k \approx \mathrm{tr}(H)/n$, averaged over runs.
    pub first_moment: MomentEstimate,
    /// $\sum_k \tau_k\theta_k^2 \approx \mathrm{tr}(H^2)/n$, averaged over runs.
    pub second_moment: MomentEstimate,
    /// Hessian-vector products used.
    pub n_hvps: usize,
    /// The seed of the first run (run `r` uses `seed + r`).
    pub seed: u64,
}

impl SpectralDensity {
    /// Trapezoid integral of the density over the grid.
    pub fn integral(&self) -> f64 {
        trapezoid(&self.grid, &self.density, |_| 1.0)
    }

    /// Trapezoid integral of `t^p · density(t)` over the grid (a moment of the smoothed density;
    /// the kernel adds `σ²` to the second moment).
    pub fn grid_moment(&self, p: i32) -> f64 {
        trapezoid(&self.grid, &self.density, |t| t.powi(p))
    }
}

fn trapezoid(x: &[f64], y: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(xs, ys)| 0.5 * (xs[1] - xs[0]) * (ys[0] * f(xs[0]) + ys[1] * f(xs[1])))
        .sum()
}

/// Settings of [`slq_density`].
#[derive(Debug, Clone)]
pub struct Slq {
    n_runs: usize,
    n_steps: usize,
    grid_points: usize,
    sigma_fraction: f64,
    sigma: Option<f64>,
    padding: f64,
    seed: u64,
}

impl Default for Slq {
    fn default() -> Self {
        Self::new()
    }
}

impl Slq {
    /// 10 runs of 80 Lanczos steps, 1000 grid points, kernel width 1% of the node range,
    /// grid padded by 5 kernel widths on each side, seed 0.
    pub fn new() -> Self {
        Slq {
            n_runs: 10,
            n_steps: 80,
            grid_points: 1000,
            sigma_fraction: 0.01,
            sigma: None,
            padding: 5.0,
            seed: 0,
        }
    }

    /// Number of independent runs (random start vectors).
    ///
    /// # Errors
    /// Zero runs.
    pub fn with_runs(mut self, n_runs: usize) -> Result<Self> {
        if n_runs == 0 {
            return Err(Error::invalid("runs", "must be at least 1, got 0"));
        }
        self.n_runs = n_runs;
        Ok(self)
    }

    /// Lanczos steps per run (nodes per quadrature; capped at `n`).
    ///
    /// # Errors
    /// Fewer than 2 steps.
    pub fn with_steps(mut self, n_steps: usize) -> Result<Self> {
        if n_steps < 2 {
            return Err(Error::invalid(
                "lanczos steps",
                format!("must be at least 2, got {n_steps}"),
            ));
        }
        self.n_steps = n_steps;
        Ok(self)
    }

    /// Number of grid points.
    ///
    /// # Errors
    /// Fewer than 3 points.
    pub fn with_grid_points(mut self, grid_points: usize) -> Result<Self> {
        if grid_points < 3 {
            return Err(Error::invalid(
                "grid points",
                format!("must be at least 3, got {grid_points}"),
            ));
        }
        crate::limits::check_density_grid(grid_points)?;
        self.grid_points = grid_points;
        Ok(self)
    }

    /// Kernel width as a fraction of the node range `max θ − min θ` (default 0.01).
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_sigma_fraction(mut self, fraction: f64) -> Result<Self> {
        if !(fraction > 0.0 && fraction.is_finite()) {
            return Err(Error::invalid(
                "sigma fraction",
                format!("must be positive and finite, got {fraction}"),
            ));
        }
        self.sigma_fraction = fraction;
        self.sigma = None;
        Ok(self)
    }

    /// Absolute kernel width (overrides the fraction).
    ///
    /// # Errors
    /// Not positive and finite.
    pub fn with_sigma(mut self, sigma: f64) -> Result<Self> {
        if !(sigma > 0.0 && sigma.is_finite()) {
            return Err(Error::invalid(
                "sigma",
                format!("must be positive and finite, got {sigma}"),
            ));
        }
        self.sigma = Some(sigma);
        Ok(self)
    }

    /// Grid padding beyond the extreme nodes, in kernel widths (default 5).
    ///
    /// # Errors
    /// Negative or non-finite.
    pub fn with_padding(mut self, padding: f64) -> Result<Self> {
        if !(padding >= 0.0 && padding.is_finite()) {
            return Err(Error::invalid(
                "padding",
                format!("must be non-negative and finite, got {padding}"),
            ));
        }
        self.padding = padding;
        Ok(self)
    }

    /// Seed of the first run.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// One SLQ run: `m` Lanczos steps from the normalized Rademacher vector of `seed`.
fn quadrature<O: Hvp + ?Sized>(
    op: &mut HvpOperator<'_, O>,
    m: usize,
    seed: u64,
) -> Result<Quadrature> {
    let n = op.dim();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut kr = Krylov::new(rademacher_vec(n, &mut rng));
    // Stop at an invariant subspace: the quadrature is then exact for every f.
    while kr.steps() < m {
        if kr.step(op)? == Step::Breakdown {
            break;
        }
    }
    let t = kr.ritz()?;
    let weights: Vec<f64> = (0..kr.steps())
        .map(|k| t.eigenvectors()[(0, k)].powi(2))
        .collect();
    Ok(Quadrature {
        nodes: t.into_parts().0,
        weights,
    })
}

/// The `p`-th spectral moment per run, averaged, with an honest standard error.
///
/// With `v = z/√n` and `z` Rademacher, one run's estimate `vᵀHᵖv` has variance
/// `2(‖Hᵖ‖_F² − Σᵢ(Hᵖ)ᵢᵢ²)/n² ≤ 2·tr(H²ᵖ)/n²`. The sample spread of a few runs badly
/// understates that variance on spiky spectra (one outlier makes the estimate skewed: most
/// runs agree, and the rare large one has not been drawn), so the standard error is the larger
/// of the sample one and the bound `√(2·μ₂ₚ/(n·R))`, with `μ₂ₚ = tr(H²ᵖ)/n` estimated by the
/// same runs (each run's quadrature is exact for it once it has `p + 1` nodes).
fn moment(runs: &[Quadrature], p: i32, n: usize) -> MomentEstimate {
    let per_run = |q: i32| -> Vec<f64> {
        runs.iter()
            .map(|r| {
                r.nodes
                    .iter()
                    .zip(&r.weights)
                    .map(|(t, w)| w * t.powi(q))
                    .sum()
            })
            .collect()
    };
    let vals = per_run(p);
    let r = vals.len() as f64;
    let (mean, se) = super::trace::mean_and_se(&vals);
    let sample = if vals.len() < 2 { 0.0 } else { se };
    let mu_2p = per_run(2 * p).iter().sum::<f64>() / r;
    let bound = (2.0 * mu_2p.max(0.0) / (n as f64 * r)).sqrt();
    MomentEstimate {
        mean,
        std_error: sample.max(bound),
    }
}

/// Spectral density of `H(params)` by stochastic Lanczos quadrature.
///
/// Run `r` (of `R`) starts Lanczos (full reorthogonalization, `m` steps) from
/// $v = z/\sqrt n$ with $z$ the Rademacher vector of seed `seed + r`, giving nodes
/// $\theta^{(r)}_k$ and weights $\tau^{(r)}_k$. The density on the grid is
/// $$\hat\phi(t) = \frac1R\sum_{r=1}^R\sum_{k=1}^m \tau^{(r)}_k\,
/// \frac{1}{\sigma\sqrt{2\pi}} e^{-(t-\theta^{(r)}_k)^2/2\sigma^2},$$
/// with $\sigma$ = `sigma`, or by default 1% of the range of all nodes (1% of
/// $\max(|\theta|, 1)$ if all nodes coincide). The grid runs from the smallest to the largest node
/// padded by `padding`·σ (default 5σ) on each side, so it integrates to 1 up to the kernel's tail
/// mass and the trapezoid error (small once the grid step is well below σ: with the defaults,
/// σ is about 9 grid steps).
///
/// The moments are exact per run ($\sum_k\tau_k\theta_k = v^\top H v$ and
/// $\sum_k\tau_k\theta_k^2 = \|Hv\|^2$ for $m\ge2$), unbiased estimates of $\mathrm{tr}(H)/n$
/// and $\mathrm{tr}(H^2)/n$. Their standard errors are the larger of the spread across runs
/// and the estimator's own variance bound, $\mathrm{Var}(v^\top H^p v) \le
/// 2\,\mathrm{tr}(H^{2p})/n^2$ for $v = z/\sqrt n$ with Rademacher $z$, with
/// $\mathrm{tr}(H^{2p})$ estimated by the same quadratures: on a spiky spectrum a few runs
/// rarely draw the large deviation, and their spread alone understates the error several
/// times.
///
/// # Requirements
/// The objective implements [`Hvp`].
///
/// # Postconditions
/// Each run's weights sum to 1; the grid is ascending and evenly spaced.
///
/// # Cost
/// `R·m` products (fewer if a run reaches an invariant subspace), `O(n·m)` memory per run in
/// flight (runs go in parallel on rayon's threads), `O(R·m·grid)` for the smoothing.
///
/// # Errors
/// A bad point or an operator error.
///
/// # Example
/// ```
/// # use critpt::curvature::{slq_density, Slq};
/// # use critpt::problems::QuadraticForm;
/// let q = QuadraticForm::from_spectrum(&[-1.0, 0.0, 1.0, 2.0, 3.0], 4).unwrap();
/// let d = slq_density(&q, &[0.0; 5], &Slq::new()).unwrap();
/// assert!((d.integral() - 1.0).abs() < 1e-6);
/// assert!((d.first_moment.mean - 1.0).abs() < 4.0 * d.first_moment.std_error);
/// ```
///
/// # References
/// Ubaru, Chen & Saad (2017), "Fast estimation of tr(f(A)) via stochastic Lanczos quadrature",
/// *SIAM J. Matrix Anal. Appl.*; Ghorbani, Krishnan & Xiao (2019), "An investigation into neural
/// net optimization via Hessian eigenvalue density", *ICML*; Golub & Meurant (2010), *Matrices,
/// Moments and Quadrature*.
pub fn slq_density<O: Hvp + ?Sized>(obj: &O, params: &[f64], cfg: &Slq) -> Result<SpectralDensity> {
    use rayon::prelude::*;
    let n = HvpOperator::new(obj, params)?.dim();
    if n == 0 {
        return Err(Error::invalid("operator", "has no parameters"));
    }
    let m = cfg.n_steps.min(n);
    crate::limits::check_block(
        "density steps",
        m,
        n,
        "each run keeps a Lanczos basis of one vector per step; use fewer density steps",
    )?;
    crate::limits::check_block(
        "density runs",
        cfg.n_runs,
        2 * m,
        "each run keeps its quadrature nodes and weights; use fewer density runs",
    )?;
    // Runs are independent: one operator (and product count) per run, on rayon's threads;
    // results are collected in run order, so they do not depend on the thread count.
    let per_run = (0..cfg.n_runs)
        .into_par_iter()
        .map(|r| {
            let mut op = HvpOperator::new(obj, params)?;
            let q = quadrature(&mut op, m, cfg.seed.wrapping_add(r as u64))?;
            Ok((q, op.n_hvps()))
        })
        .collect::<Result<Vec<_>>>()?;
    let n_hvps = per_run.iter().map(|(_, c)| c).sum();
    let runs: Vec<Quadrature> = per_run.into_iter().map(|(q, _)| q).collect();
    let (lo, hi) = runs
        .iter()
        .flat_map(|q| q.nodes.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| {
            (a.min(t), b.max(t))
        });
    let range = hi - lo;
    let sigma = cfg.sigma.unwrap_or_else(|| {
        if range > 0.0 {
            cfg.sigma_fraction * range
        } else {
            cfg.sigma_fraction * lo.abs().max(1.0)
        }
    });
    let (g0, g1) = (lo - cfg.padding * sigma, hi + cfg.padding * sigma);
    let steps = (cfg.grid_points - 1) as f64;
    let grid: Vec<f64> = (0..cfg.grid_points)
        .map(|i| g0 + (g1 - g0) * i as f64 / steps)
        .collect();
    let norm = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt() * cfg.n_runs as f64);
    let density = grid
        .iter()
        .map(|&t| {
            runs.iter()
                .flat_map(|q| q.nodes.iter().zip(&q.weights))
                .map(|(&th, &w)| w * (-0.5 * ((t - th) / sigma).powi(2)).exp())
                .sum::<f64>()
                * norm
        })
        .collect();
    Ok(SpectralDensity {
        grid,
        density,
        first_moment: moment(&runs, 1, n),
        second_moment: moment(&runs, 2, n),
        runs,
        sigma,
        n_hvps,
        seed: cfg.seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::QuadraticForm;

    #[test]
    fn weights_sum_to_one_and_moments_are_exact_per_run() {
        let q = QuadraticForm::from_spectrum(&[-3.0, -1.0, 0.0, 0.5, 2.0, 4.0, 7.0], 8).unwrap();
        let cfg = Slq::new()
            .with_runs(1)
            .unwrap()
            .with_steps(4)
            .unwrap()
            .with_seed(3);
        let d = slq_density(&q, &[0.0; 7], &cfg).unwrap();
        let w: f64 = d.runs[0].weights.iter().sum();
        assert!((w - 1.0).abs() < 1e-12);
        // The run's v is z/√n with z the Rademacher vector of seed 3: recompute vᵀHv, ‖Hv‖².
        let mut rng = StdRng::seed_from_u64(3);
        let v: Vec<f64> = rademacher_vec(7, &mut rng)
            .iter()
            .map(|z| z / 7f64.sqrt())
            .collect();
        let hv = q.matrix() * nalgebra::DVector::from_vec(v.clone());
        let vhv: f64 = v.iter().zip(hv.iter()).map(|(a, b)| a * b).sum();
        assert!((d.first_moment.mean - vhv).abs() < 1e-12);
        assert!((d.second_moment.mean - hv.norm_squared()).abs() < 1e-11);
        // One run has no spread: the error is the estimator's variance bound √(2‖Hv‖²/n).
        let bound = (2.0 * hv.norm_squared() / 7.0).sqrt();
        assert!((d.first_moment.std_error - bound).abs() < 1e-12);
    }

    #[test]
    fn full_steps_recover_the_nodes_exactly() {
        // m = n: the nodes are the eigenvalues (where the start vector has weight).
        let eig = [-2.0, 1.0, 3.0, 5.0];
        let q = QuadraticForm::from_spectrum(&eig, 1).unwrap();
        let d = slq_density(&q, &[0.0; 4], &Slq::new().with_runs(2).unwrap()).unwrap();
        for run in &d.runs {
            assert_eq!(run.nodes.len(), 4);
            for (a, b) in run.nodes.iter().zip(eig) {
                assert!((a - b).abs() < 1e-10, "{a} vs {b}");
            }
        }
        assert_eq!(d.n_hvps, 8);
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(Slq::new().with_runs(0).is_err());
        assert!(Slq::new().with_steps(1).is_err());
        assert!(Slq::new().with_grid_points(2).is_err());
        assert!(Slq::new().with_sigma(0.0).is_err());
        assert!(Slq::new().with_sigma_fraction(f64::INFINITY).is_err());
        assert!(Slq::new().with_padding(-1.0).is_err());
    }
}
