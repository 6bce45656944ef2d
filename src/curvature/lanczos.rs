//! Matrix-free extreme eigenpairs of a Hessian by the Lanczos method.
//!
//! [`Lanczos`] finds the `k` algebraically largest and/or the `k` algebraically smallest
//! eigenpairs of `H(params)` through Hessian-vector products alone ([`Hvp`]): it never builds the
//! dense Hessian, and its memory is `O(n·m)` for `m` Lanczos vectors of length `n`. The ends are
//! chosen by sign, not by magnitude ([`Which`]): a large negative eigenvalue is reported as the
//! *smallest* one, never as the "top" one.
//!
//! This module also owns the Krylov machinery shared by the stochastic Lanczos quadrature of
//! [`super::density`], the [`HvpOperator`] wrapper that fixes the point and counts products, and
//! [`QuadraticForm`], a dense quadratic objective with a chosen spectrum (a test and teaching
//! utility).

use crate::curvature::dense::{symmetric_eigen, EigenBackend, Spectrum};
use crate::error::{ensure_finite, Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// A symmetric operator `v ↦ H(params)·v` at a fixed point, counting its products.
///
/// Wraps any [`Hvp`] objective, as faer's `LinOp` wraps a matrix-free operator: the eigensolvers
/// see only [`HvpOperator::apply`].
pub struct HvpOperator<'a, O: ?Sized> {
    obj: &'a O,
    params: &'a [f64],
    n_hvps: usize,
}

impl<'a, O: Hvp + ?Sized> HvpOperator<'a, O> {
    /// Fixes the point `params` (checked for length and finiteness).
    ///
    /// # Errors
    /// A wrong length or a non-finite entry in `params`.
    pub fn new(obj: &'a O, params: &'a [f64]) -> Result<Self> {
        check_params(obj, params)?;
        Ok(HvpOperator {
            obj,
            params,
            n_hvps: 0,
        })
    }

    /// The dimension `n`.
    pub fn dim(&self) -> usize {
        self.params.len()
    }

    /// Writes `H·v` into `out`; one Hessian-vector product.
    ///
    /// # Errors
    /// The objective's error, or a non-finite product.
    pub fn apply(&mut self, v: &[f64], out: &mut [f64]) -> Result<()> {
        self.n_hvps += 1;
        self.obj.hvp(self.params, v, out)?;
        ensure_finite("Hessian-vector product", out)
    }

    /// Writes `H·V` into `out` for the `k` directions stored column-major in `vs`; `k`
    /// products, made together through [`Hvp::hvp_many`].
    ///
    /// # Errors
    /// The objective's error, or a non-finite product.
    pub fn apply_many(&mut self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        self.n_hvps += k;
        self.obj.hvp_many(self.params, vs, k, out)?;
        ensure_finite("Hessian-vector product", out)
    }

    /// Products made so far.
    pub fn n_hvps(&self) -> usize {
        self.n_hvps
    }
}

/// Dot product (four independent accumulators, so that the compiler can vectorize; the
/// summation order is fixed, so results are reproducible).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `y += a·x`.
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// A seeded standard normal vector.
pub(crate) fn gaussian_vec(n: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

/// A seeded Rademacher (±1) vector.
pub(crate) fn rademacher_vec(n: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..n)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

/// Above this many `n·j` flops a reorthogonalization pass runs on rayon's threads.
const PARALLEL_WORK: usize = 1 << 20;

/// Rows per parallel chunk of the update `w -= V c`.
const ROW_CHUNK: usize = 1024;

/// Classical Gram-Schmidt of `w` against the orthonormal `basis`, done twice ("twice is
/// enough", Kahan-Parlett); returns the total coefficient on each basis vector. Large passes
/// run in parallel with a fixed summation order, so results do not depend on the thread count.
pub(crate) fn orthogonalize(basis: &[Vec<f64>], w: &mut [f64]) -> Vec<f64> {
    use rayon::prelude::*;
    let mut total = vec![0.0; basis.len()];
    let parallel = basis.len() * w.len() >= PARALLEL_WORK;
    for _ in 0..2 {
        let c: Vec<f64> = if parallel {
            let w_ref: &[f64] = w;
            basis.par_iter().map(|v| dot(v, w_ref)).collect()
        } else {
            basis.iter().map(|v| dot(v, w)).collect()
        };
        if parallel {
            w.par_chunks_mut(ROW_CHUNK)
                .enumerate()
                .for_each(|(chunk_idx, wc)| {
                    let start = chunk_idx * ROW_CHUNK;
                    for (v, &ci) in basis.iter().zip(&c) {
                        axpy(-ci, &v[start..start + wc.len()], wc);
                    }
                });
        } else {
            for (v, &ci) in basis.iter().zip(&c) {
                axpy(-ci, v, w);
            }
        }
        for (t, ci) in total.iter_mut().zip(c) {
            *t += ci;
        }
    }
    total
}

/// What one Lanczos step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A new basis vector was added.
    Extended,
    /// `β ≈ 0`: the Krylov space is invariant under `H`; no new vector.
    Breakdown,
}

/// The Lanczos relation `H V_j = V_j T_j + β_j v_{j+1} e_jᵀ` built with full
/// reorthogonalization: `basis` holds `v_1..v_{j+1}` (or `v_1..v_j` after a breakdown),
/// `alphas` the diagonal of `T_j`, `betas[i]` the coupling between `v_i` and `v_{i+1}`.
pub(crate) struct Krylov {
    pub basis: Vec<Vec<f64>>,
    pub alphas: Vec<f64>,
    pub betas: Vec<f64>,
    /// Largest `|α|`, `β` seen: a lower estimate of `‖H‖`.
    pub scale: f64,
}

impl Krylov {
    /// Starts from `start` (normalized here; must be non-zero).
    pub fn new(mut start: Vec<f64>) -> Self {
        let nrm = dot(&start, &start).sqrt();
        start.iter_mut().for_each(|x| *x /= nrm);
        Krylov {
            basis: vec![start],
            alphas: Vec::new(),
            betas: Vec::new(),
            scale: 0.0,
        }
    }

    /// Number of steps done (the size of `T`).
    pub fn steps(&self) -> usize {
        self.alphas.len()
    }

    /// One step from the newest basis vector.
    pub fn step<O: Hvp + ?Sized>(&mut self, op: &mut HvpOperator<'_, O>) -> Result<Step> {
        let j = self.alphas.len();
        let n = op.dim();
        let mut w = vec![0.0; n];
        op.apply(&self.basis[j], &mut w)?;
        let hv_norm = dot(&w, &w).sqrt();
        let c = orthogonalize(&self.basis, &mut w);
        let alpha = c[j];
        let beta = dot(&w, &w).sqrt();
        self.alphas.push(alpha);
        self.scale = self.scale.max(alpha.abs()).max(hv_norm);
        // β below rounding level of ‖H v‖: the space is (numerically) invariant.
        let threshold = 1e2 * f64::EPSILON * (n as f64).sqrt() * self.scale.max(f64::MIN_POSITIVE);
        if beta <= threshold || j + 1 >= n {
            self.betas.push(if j + 1 >= n { 0.0 } else { beta });
            return Ok(Step::Breakdown);
        }
        w.iter_mut().for_each(|x| *x /= beta);
        self.betas.push(beta);
        self.basis.push(w);
        Ok(Step::Extended)
    }

    /// After a breakdown, continues with a seeded random vector orthogonal to the basis, with
    /// zero coupling (`T` becomes block diagonal). Returns `false` when the basis already spans
    /// the whole space.
    pub fn restart(&mut self, rng: &mut StdRng) -> bool {
        let n = self.basis[0].len();
        if self.basis.len() >= n {
            return false;
        }
        for _ in 0..3 {
            let mut v = gaussian_vec(n, rng);
            let before = dot(&v, &v).sqrt();
            orthogonalize(&self.basis, &mut v);
            let after = dot(&v, &v).sqrt();
            if after > 1e-8 * before {
                v.iter_mut().for_each(|x| *x /= after);
                if let Some(b) = self.betas.last_mut() {
                    *b = 0.0;
                }
                self.basis.push(v);
                return true;
            }
        }
        false
    }

    /// The tridiagonal `T_j` and its eigen-decomposition (Ritz values ascending).
    pub fn ritz(&self) -> Result<Spectrum> {
        let j = self.steps();
        let mut t = DMatrix::zeros(j, j);
        for i in 0..j {
            t[(i, i)] = self.alphas[i];
            if i + 1 < j {
                t[(i, i + 1)] = self.betas[i];
                t[(i + 1, i)] = self.betas[i];
            }
        }
        symmetric_eigen(&t, EigenBackend::Faer)
    }

    /// The coupling `β_j` to the next (unused) vector: the residual of every Ritz pair is
    /// `|β_j · y_j|` for its eigenvector `y` of `T_j`.
    pub fn last_beta(&self) -> f64 {
        self.betas.last().copied().unwrap_or(0.0)
    }
}

/// Which end(s) of the spectrum to compute; ends are algebraic (by sign), never by magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Which {
    /// The `k` algebraically largest eigenvalues (the most positive).
    Largest,
    /// The `k` algebraically smallest eigenvalues (the most negative).
    Smallest,
    /// Both: the `k` smallest and the `k` largest.
    #[default]
    Both,
}

/// The result of [`Lanczos::run`].
#[derive(Debug, Clone)]
pub struct LanczosResult {
    /// The wanted Ritz pairs, eigenvalues ascending, unit eigenvectors as columns (sign fixed so
    /// that the largest-magnitude entry is positive, as [`symmetric_eigen`] does).
    pub spectrum: Spectrum,
    /// `‖H v − λ v‖` for each pair, same order as the spectrum (computed with one extra product
    /// per pair when [`Lanczos::with_true_residuals`] is on, the default; otherwise the Lanczos
    /// estimate `|β_m y_m|`).
    pub residuals: Vec<f64>,
    /// Whether each pair met the tolerance (`residual ≤ tol · ‖H‖_est`).
    pub converged: Vec<bool>,
    /// Hessian-vector products used, residual checks included.
    pub n_hvps: usize,
    /// Lanczos steps done (the size of the final tridiagonal matrix).
    pub iterations: usize,
    /// The estimate of `‖H‖` the tolerance was relative to (largest |Ritz value|).
    pub norm_estimate: f64,
    /// The seed of the start vector.
    pub seed: u64,
}

/// Lanczos with full reorthogonalization for extreme eigenpairs of a Hessian.
///
/// From a seeded Gaussian start vector `v_1`, builds an orthonormal basis `V_m` of the Krylov
/// space $\mathcal K_m(H, v_1)$ and the tridiagonal $T_m = V_m^\top H V_m$; the eigenpairs
/// $(\theta_i, y_i)$ of $T_m$ (dense, [`symmetric_eigen`]) give the Ritz pairs
/// $(\theta_i, V_m y_i)$ with residual $\|H V_m y_i - \theta_i V_m y_i\| = \beta_m |e_m^\top y_i|$.
/// Every new vector is orthogonalized against all previous ones twice (classical Gram-Schmidt,
/// "twice is enough"), so no spurious copies appear. Iteration stops when every wanted pair has
/// residual estimate $\le \mathrm{tol}\cdot\max_i|\theta_i|$, or after `max_iters` steps. If the
/// Krylov space becomes invariant before that (exact breakdown), it continues from a fresh
/// random vector orthogonal to the basis.
///
/// # Requirements
/// The objective implements [`Hvp`] (exact products: a formula, a network); the Hessian is never
/// formed.
///
/// # Postconditions
/// Eigenvalues ascending; eigenvectors orthonormal to rounding. With [`Which::Both`] and
/// `2k ≥ n` every eigenvalue appears once.
///
/// # Cost
/// One product per step plus one per wanted pair for the true residuals; `O(n·m)` memory and
/// `O(n·m²)` flops for the reorthogonalization; a dense `j×j` eigenproblem every few steps.
///
/// # Limitations
/// A single start vector sees only one copy of a repeated eigenvalue (multiplicities are
/// missed); eigenvalues in tight clusters converge slowly.
///
/// # Errors
/// Invalid settings ([`Lanczos::with_tol`] and friends), a bad point, an operator error, or
/// [`Error::NoConvergence`] when no wanted pair converged within `max_iters`.
///
/// # Example
/// ```
/// # use critpt::curvature::{Lanczos, Which, QuadraticForm};
/// let q = QuadraticForm::from_spectrum(&[-9.0, -1.0, 0.5, 2.0, 3.0, 4.0], 7).unwrap();
/// let r = Lanczos::new(1, Which::Both).run(&q, &[0.0; 6]).unwrap();
/// assert!((r.spectrum.eigenvalues[0] + 9.0).abs() < 1e-10); // the smallest, not the "top"
/// assert!((r.spectrum.eigenvalues[1] - 4.0).abs() < 1e-10);
/// ```
///
/// # References
/// Lanczos (1950); Golub & Van Loan (2013), *Matrix Computations*, §10.1; Parlett (1998), *The
/// Symmetric Eigenvalue Problem*, ch. 13.
#[derive(Debug, Clone)]
pub struct Lanczos {
    k: usize,
    which: Which,
    max_iters: usize,
    tol: f64,
    seed: u64,
    true_residuals: bool,
}

/// Default relative residual tolerance of [`Lanczos`].
pub const LANCZOS_TOL: f64 = 1e-8;
/// Default maximum number of Lanczos steps (capped at `n`).
pub const LANCZOS_MAX_ITERS: usize = 500;

impl Lanczos {
    /// `k` pairs at the `which` end(s); tolerance [`LANCZOS_TOL`], at most
    /// [`LANCZOS_MAX_ITERS`] steps, seed 0, true residuals on.
    pub fn new(k: usize, which: Which) -> Self {
        Lanczos {
            k,
            which,
            max_iters: LANCZOS_MAX_ITERS,
            tol: LANCZOS_TOL,
            seed: 0,
            true_residuals: true,
        }
    }

    /// Relative residual tolerance (`‖Hv − λv‖ ≤ tol·‖H‖`).
    ///
    /// # Errors
    /// `tol` not positive and finite.
    pub fn with_tol(mut self, tol: f64) -> Result<Self> {
        self.tol = crate::error::ensure_positive("tolerance", tol)?;
        Ok(self)
    }

    /// Maximum number of Lanczos steps (the number of stored vectors; capped at `n`).
    ///
    /// # Errors
    /// `max_iters == 0`.
    pub fn with_max_iters(mut self, max_iters: usize) -> Result<Self> {
        self.max_iters = crate::error::ensure_nonzero("max iterations", max_iters)?;
        Ok(self)
    }

    /// Seed of the start vector.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to compute `‖Hv − λv‖` explicitly at the end (one product per pair).
    pub fn with_true_residuals(mut self, on: bool) -> Self {
        self.true_residuals = on;
        self
    }

    /// Indices (into ascending Ritz values of a `j×j` `T`) of the wanted pairs, ascending.
    fn wanted(&self, j: usize) -> Vec<usize> {
        let k = self.k.min(j);
        let mut idx: Vec<usize> = match self.which {
            Which::Largest => (j - k..j).collect(),
            Which::Smallest => (0..k).collect(),
            Which::Both => (0..k).chain(j - k..j).collect(),
        };
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// Runs Lanczos on `H(params)`; see [`Lanczos`].
    ///
    /// # Errors
    /// See [`Lanczos`].
    pub fn run<O: Hvp + ?Sized>(&self, obj: &O, params: &[f64]) -> Result<LanczosResult> {
        if self.k == 0 {
            return Err(Error::invalid("k", "must be at least 1, got 0"));
        }
        let mut op = HvpOperator::new(obj, params)?;
        let n = op.dim();
        if n == 0 {
            return Err(Error::invalid("operator", "has no parameters"));
        }
        let max_iters = self.max_iters.min(n);
        crate::limits::check_block(
            "--max-iters",
            max_iters,
            n,
            "the Lanczos basis keeps one vector per step; use fewer --max-iters",
        )?;
        let n_wanted = match self.which {
            Which::Both => (2 * self.k).min(n),
            _ => self.k.min(n),
        };
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut kr = Krylov::new(gaussian_vec(n, &mut rng));
        let mut last_check = 0;
        let mut ritz;
        loop {
            let step = kr.step(&mut op)?;
            let j = kr.steps();
            let at_end = j >= max_iters;
            let due = j >= n_wanted && (j - last_check >= (j / 10).max(1));
            if !(due || at_end || step == Step::Breakdown) {
                continue;
            }
            last_check = j;
            ritz = kr.ritz()?;
            let done = j >= n_wanted && self.all_converged(&kr, &ritz);
            if done || at_end {
                break;
            }
            if step == Step::Breakdown && !kr.restart(&mut rng) {
                break;
            }
        }
        self.finish(&kr, &ritz, &mut op)
    }

    fn residual_estimates(&self, kr: &Krylov, ritz: &Spectrum, idx: &[usize]) -> Vec<f64> {
        let j = kr.steps();
        let beta = kr.last_beta();
        idx.iter()
            .map(|&i| (beta * ritz.eigenvectors[(j - 1, i)]).abs())
            .collect()
    }

    fn norm_estimate(ritz: &Spectrum) -> f64 {
        ritz.max_abs()
    }

    fn all_converged(&self, kr: &Krylov, ritz: &Spectrum) -> bool {
        let idx = self.wanted(kr.steps());
        let limit = self.tol * Self::norm_estimate(ritz);
        self.residual_estimates(kr, ritz, &idx)
            .iter()
            .all(|&r| r <= limit)
    }

    fn finish<O: Hvp + ?Sized>(
        &self,
        kr: &Krylov,
        ritz: &Spectrum,
        op: &mut HvpOperator<'_, O>,
    ) -> Result<LanczosResult> {
        let j = kr.steps();
        let n = op.dim();
        let idx = self.wanted(j);
        let norm_est = Self::norm_estimate(ritz);
        let limit = self.tol * norm_est;
        let estimates = self.residual_estimates(kr, ritz, &idx);
        let converged: Vec<bool> = estimates.iter().map(|&r| r <= limit).collect();
        if !converged.iter().any(|&c| c) {
            return Err(Error::NoConvergence {
                method: "lanczos".into(),
                iters: j,
                residual: estimates.iter().copied().fold(f64::INFINITY, f64::min) / norm_est,
            });
        }
        let mut vectors = DMatrix::zeros(n, idx.len());
        let mut values = Vec::with_capacity(idx.len());
        let mut residuals = Vec::with_capacity(idx.len());
        for (col, (&i, &est)) in idx.iter().zip(&estimates).enumerate() {
            let theta = ritz.eigenvalues[i];
            let mut x = vec![0.0; n];
            for (r, v) in kr.basis.iter().take(j).enumerate() {
                axpy(ritz.eigenvectors[(r, i)], v, &mut x);
            }
            let nrm = dot(&x, &x).sqrt();
            let big = x
                .iter()
                .fold(0.0f64, |m, &e| if e.abs() > m.abs() { e } else { m });
            let s = if big < 0.0 { -1.0 / nrm } else { 1.0 / nrm };
            x.iter_mut().for_each(|e| *e *= s);
            let res = if self.true_residuals {
                let mut hx = vec![0.0; n];
                op.apply(&x, &mut hx)?;
                axpy(-theta, &x, &mut hx);
                dot(&hx, &hx).sqrt()
            } else {
                est
            };
            vectors.set_column(col, &nalgebra::DVector::from_vec(x));
            values.push(theta);
            residuals.push(res);
        }
        Ok(LanczosResult {
            spectrum: Spectrum {
                eigenvalues: values,
                eigenvectors: vectors,
            },
            residuals,
            converged,
            n_hvps: op.n_hvps(),
            iterations: j,
            norm_estimate: norm_est,
            seed: self.seed,
        })
    }
}

/// The quadratic objective $f(\theta) = \tfrac12 \theta^\top A \theta$ of a dense symmetric
/// matrix `A`: its Hessian is `A` everywhere. A documented utility for tests, benchmarks and
/// teaching: build it from a chosen spectrum ([`QuadraticForm::from_spectrum`]) and the
/// matrix-free solvers must recover that spectrum.
///
/// # Example
/// ```
/// # use critpt::curvature::QuadraticForm;
/// # use critpt::objective::Hvp;
/// let q = QuadraticForm::from_spectrum(&[1.0, 2.0], 3).unwrap();
/// let mut out = [0.0; 2];
/// q.hvp(&[0.0, 0.0], &[1.0, 0.0], &mut out).unwrap(); // first column of A
/// ```
#[derive(Debug, Clone)]
pub struct QuadraticForm {
    a: DMatrix<f64>,
}

impl QuadraticForm {
    /// Wraps the symmetric matrix `a`.
    ///
    /// # Errors
    /// A non-square, non-finite or non-symmetric matrix (beyond `1e-12` relative).
    pub fn new(a: DMatrix<f64>) -> Result<Self> {
        if a.nrows() != a.ncols() {
            return Err(Error::invalid(
                "matrix",
                format!("must be square, got {}x{}", a.nrows(), a.ncols()),
            ));
        }
        ensure_finite("matrix", a.as_slice())?;
        let scale = a.amax().max(f64::MIN_POSITIVE);
        let asym = (&a - a.transpose()).amax();
        if asym > 1e-12 * scale {
            return Err(Error::invalid(
                "matrix",
                format!("must be symmetric, largest |a_ij - a_ji| is {asym:.3e}"),
            ));
        }
        Ok(QuadraticForm { a })
    }

    /// `A = Q diag(eigenvalues) Qᵀ` with `Q` a random orthogonal matrix (QR of a seeded Gaussian
    /// matrix, signs fixed so that `R` has a positive diagonal).
    ///
    /// # Cost
    /// `O(n³)` time and `O(n²)` memory.
    ///
    /// # Errors
    /// An empty or non-finite list of eigenvalues.
    pub fn from_spectrum(eigenvalues: &[f64], seed: u64) -> Result<Self> {
        let n = eigenvalues.len();
        if n == 0 {
            return Err(Error::invalid("eigenvalues", "the list is empty"));
        }
        ensure_finite("eigenvalues", eigenvalues)?;
        let q = random_orthogonal(n, seed);
        let mut qd = q.clone();
        for (j, &l) in eigenvalues.iter().enumerate() {
            qd.column_mut(j).scale_mut(l);
        }
        let mut a = qd * q.transpose();
        // Exact symmetry, so that every backend sees the same matrix.
        let at = a.transpose();
        a += at;
        a.scale_mut(0.5);
        Ok(QuadraticForm { a })
    }

    /// The matrix `A`.
    pub fn matrix(&self) -> &DMatrix<f64> {
        &self.a
    }
}

/// A Haar-distributed random orthogonal `n×n` matrix from a seed.
fn random_orthogonal(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = DMatrix::from_fn(n, n, |_, _| rng.sample::<f64, _>(StandardNormal));
    let qr = g.qr();
    let mut q = qr.q();
    let r = qr.r();
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

impl Loss for QuadraticForm {
    fn n_params(&self) -> usize {
        self.a.nrows()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        check_params(self, params)?;
        let mut hv = vec![0.0; params.len()];
        self.hvp(params, params, &mut hv)?;
        Ok(0.5 * dot(params, &hv))
    }
}

impl Gradient for QuadraticForm {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvp(params, params, out)
    }
}

impl Hessian for QuadraticForm {
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        Ok(self.a.clone())
    }
}

impl Hvp for QuadraticForm {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        let n = self.a.nrows();
        if params.len() != n {
            return Err(Error::dim("point", n, params.len()));
        }
        if v.len() != n {
            return Err(Error::dim("direction", n, v.len()));
        }
        if out.len() != n {
            return Err(Error::dim("output", n, out.len()));
        }
        out.fill(0.0);
        // Column-major: H v = Σ_j v_j a_j.
        let a = self.a.as_slice();
        for (j, &vj) in v.iter().enumerate() {
            axpy(vj, &a[j * n..(j + 1) * n], out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
