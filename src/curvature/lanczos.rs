//! Matrix-free extreme eigenpairs of a Hessian by the Lanczos method.
//!
//! [`Lanczos`] finds the `k` algebraically largest and/or the `k` algebraically smallest
//! eigenpairs of `H(params)` through Hessian-vector products alone ([`Hvp`]): it never builds the
//! dense Hessian, and its memory is `O(n·m)` for `m` Lanczos vectors of length `n`. The ends are
//! chosen by sign, not by magnitude ([`Which`]): a large negative eigenvalue is reported as the
//! *smallest* one, never as the "top" one.
//!
//! This module also owns the Krylov machinery shared by the stochastic Lanczos quadrature of
//! [`super::density`] and the [`HvpOperator`] wrapper that fixes the point and counts products.

use crate::curvature::dense::{symmetric_eigen, EigenBackend, Spectrum};
use crate::error::{ensure_finite, Error, Result};
use crate::objective::{check_params, Hvp};
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::time::Instant;

/// A symmetric operator `v ↦ H(params)·v` at a fixed point, counting its products.
///
/// Wraps any [`Hvp`] objective, as faer's `LinOp` wraps a matrix-free operator: the eigensolvers
/// see only [`HvpOperator::apply`].
pub struct HvpOperator<'a, O: ?Sized> {
    obj: &'a O,
    params: &'a [f64],
    n_hvps: usize,
    seconds: f64,
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
            seconds: 0.0,
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
        let start = Instant::now();
        let done = self.obj.hvp(self.params, v, out);
        self.seconds += start.elapsed().as_secs_f64();
        done?;
        ensure_finite("Hessian-vector product", out)
    }

    /// Writes `H·V` into `out` for the `k` directions stored column-major in `vs`; `k`
    /// products, made together through [`Hvp::hvp_many`].
    ///
    /// # Errors
    /// The objective's error, or a non-finite product.
    pub fn apply_many(&mut self, vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        self.n_hvps += k;
        let start = Instant::now();
        let done = self.obj.hvp_many(self.params, vs, k, out);
        self.seconds += start.elapsed().as_secs_f64();
        done?;
        ensure_finite("Hessian-vector product", out)
    }

    /// Products made so far.
    pub fn n_hvps(&self) -> usize {
        self.n_hvps
    }

    /// Wall-clock seconds spent in the products so far: with [`HvpOperator::n_hvps`], the
    /// cost of one product as the solver issues them (blocked, the objective's one-time setup
    /// at the point included), apart from the solver's own work.
    pub fn product_seconds(&self) -> f64 {
        self.seconds
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

impl Which {
    /// The spelling used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Which::Largest => "largest",
            Which::Smallest => "smallest",
            Which::Both => "both",
        }
    }
}

impl std::str::FromStr for Which {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "largest" => Ok(Which::Largest),
            "smallest" => Ok(Which::Smallest),
            "both" => Ok(Which::Both),
            _ => Err(Error::Unknown {
                what: "spectrum end".into(),
                name: s.into(),
                known: "largest, smallest, both".into(),
            }),
        }
    }
}

/// The result of [`Lanczos::run`].
#[derive(Debug, Clone)]
pub struct LanczosResult {
    /// The wanted Ritz pairs, eigenvalues ascending, unit eigenvectors as columns (sign fixed so
    /// that the largest-magnitude entry is positive, as [`symmetric_eigen`] does).
    pub spectrum: Spectrum,
    /// `‖H v − λ v‖` for each pair, same order as the spectrum: from the products `H V` of the
    /// basis, kept beside it when both fit in [`BASIS_BYTES`] (`H v = (H V) y` by linearity, so
    /// no product more); otherwise, when [`Lanczos::with_true_residuals`] is on (the default),
    /// with one extra product per pair, and off, the Lanczos estimate.
    pub residuals: Vec<f64>,
    /// Whether each pair met the tolerance (`residual ≤ tol · ‖H‖_est`), judged by the true
    /// residual when the products are kept, otherwise by the Lanczos estimate.
    pub converged: Vec<bool>,
    /// Hessian-vector products used, residual checks included.
    pub n_hvps: usize,
    /// Wall-clock seconds spent in those products (the rest of the run is the solver's own
    /// orthogonalization and Rayleigh–Ritz work).
    pub product_seconds: f64,
    /// Block steps done (each applies `H` to one block of at most `block_size` vectors;
    /// `n_hvps < iterations · block_size` when converged pairs left the block).
    pub iterations: usize,
    /// Thick restarts done.
    pub restarts: usize,
    /// The block size `b`: an eigenvalue of multiplicity up to `b` is found as often as it
    /// occurs.
    pub block_size: usize,
    /// The largest number of basis vectors held at once.
    pub basis_size: usize,
    /// Whether the Krylov space became invariant and spans every direction it can reach: the
    /// Ritz values are then eigenvalues, and with `basis_size ≥ n` the whole spectrum.
    pub exhausted: bool,
    /// The estimate of `‖H‖` the tolerance was relative to (largest |Ritz value|).
    pub norm_estimate: f64,
    /// The seed of the start block.
    pub seed: u64,
}

/// Block Lanczos with thick restarts for extreme eigenpairs of a Hessian.
///
/// From a seeded Gaussian start block of `b` vectors, builds an orthonormal basis `V` of the
/// block Krylov space $\mathcal K_j(H, V_1) = \mathrm{span}\{V_1, HV_1, \dots, H^{j-1}V_1\}$ with
/// blocked products ([`Hvp::hvp_many`]: for a network, one R pass per block), and the projection
/// $T = V^\top H V$ from the orthogonalization coefficients. The eigenpairs $(\theta_i, y_i)$ of
/// $T$ give Ritz pairs $(\theta_i, V y_i)$ with residual
/// $\|H V y_i - \theta_i V y_i\| = \|S y_i\|$, where $S$ couples the basis to the next block.
/// Every new vector is orthogonalized against all previous ones (block classical Gram-Schmidt,
/// a second pass where the first cancelled: "twice is enough"), so no spurious copies appear.
///
/// When the block holds every wanted pair (`b ≥ k`, `2k` for [`Which::Both`]) and the basis'
/// products are kept beside it, the next block is made from the true residuals
/// $H x_i - \theta_i x_i$ of the `b` Ritz pairs nearest the wanted end(s), computed from the
/// stored products. They span the same space as the block Krylov step (the residuals of a
/// block Krylov basis all lie in its next block), so until a pair converges this *is* block
/// Lanczos; a wanted pair whose residual meets the tolerance then leaves the block (soft
/// locking: it stays in the basis and is checked again at every step), so that the last steps
/// apply `H` only to the pairs still converging. Dropping a residual of norm at most
/// `tol·‖H‖` is the same as perturbing `H` by that much, so the multiplicity guarantee below
/// holds to the tolerance. On the 26k-parameter digits MLP, the five largest at 1e-8 take 62
/// products instead of 70. When the basis reaches `basis_size`
/// vectors, it is restarted thickly (Wu & Simon): it keeps the Ritz vectors nearest the wanted
/// end(s) and the next block, so memory stays $O(n\cdot m)$ however many steps are needed.
/// A block that loses rank (an invariant subspace) is filled with seeded random directions
/// orthogonal to the basis.
///
/// The block size `b` defaults to `k`: a block Krylov space from `b` generic vectors contains
/// every copy of an eigenvalue of multiplicity up to `b`, so repeated extreme eigenvalues (the
/// symmetric hidden units of a network at zero weights) are each found as often as they occur.
///
/// Iteration stops when every wanted pair has residual $\le \mathrm{tol}\cdot\max_i|\theta_i|$
/// (the true residual when the products are kept, else the estimate $\|S y_i\|$), or after
/// `max_iters` block steps.
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
/// At most `b` products per block step (in one [`Hvp::hvp_many`] call; fewer once pairs
/// converge, with residual-driven blocks); the true residuals come from
/// the basis' stored products when basis and products fit in [`BASIS_BYTES`], otherwise from one
/// product per wanted pair; `O(n·m)` memory for `m` = `basis_size` vectors (twice that with the
/// stored products); `O(n·m²)` flops per restart
/// cycle for the orthogonalization; a dense `m×m` eigenproblem per step.
///
/// # Limitations
/// An eigenvalue of multiplicity above `b` may be found fewer times than it occurs; a cluster of
/// `b` equal Ritz values is therefore a warning sign (see [`crate::critical::classify_extremes`]).
///
/// # Errors
/// Invalid settings ([`Lanczos::with_tol`] and friends), a bad point, an operator error, or
/// [`Error::NoConvergence`] when no wanted pair converged within `max_iters`.
///
/// # Example
/// ```
/// # use critpt::curvature::{Lanczos, Which};
/// # use critpt::problems::QuadraticForm;
/// let q = QuadraticForm::from_spectrum(&[-9.0, -1.0, 0.5, 2.0, 3.0, 4.0], 7).unwrap();
/// let r = Lanczos::new(1, Which::Both).run(&q, &[0.0; 6]).unwrap();
/// assert!((r.spectrum.eigenvalues()[0] + 9.0).abs() < 1e-10); // the smallest, not the "top"
/// assert!((r.spectrum.eigenvalues()[1] - 4.0).abs() < 1e-10);
/// ```
///
/// # References
/// Golub & Underwood (1977), "The block Lanczos method for computing eigenvalues"; Wu & Simon
/// (2000), "Thick-restart Lanczos method for large symmetric eigenvalue problems", *SIAM J.
/// Matrix Anal. Appl.*; Stewart (2001), "A Krylov–Schur algorithm for large eigenproblems";
/// Golub & Van Loan (2013), *Matrix Computations*, §10.3.
#[derive(Debug, Clone)]
pub struct Lanczos {
    k: usize,
    which: Which,
    block: Option<usize>,
    basis: Option<usize>,
    keep: Option<usize>,
    max_iters: usize,
    tol: f64,
    seed: u64,
    true_residuals: bool,
}

/// Default relative residual tolerance of [`Lanczos`].
pub const LANCZOS_TOL: f64 = 1e-8;
/// Memory the default basis of [`Lanczos`] may take: 256 MiB of basis vectors, between
/// [`MIN_BASIS`] and [`MAX_BASIS`] vectors.
pub const BASIS_BYTES: usize = 256 << 20;
/// The fewest basis vectors [`Lanczos`] holds by default (at least four per wanted pair).
pub const MIN_BASIS: usize = 60;
/// The most basis vectors [`Lanczos`] holds by default.
pub const MAX_BASIS: usize = 300;

/// The default basis size: as many vectors as [`BASIS_BYTES`] holds, within
/// `[max(MIN_BASIS, 4·wanted), MAX_BASIS]`. Restarts cost products on clustered ends: on the
/// 26k-parameter digits MLP the 5 smallest (a dense bulk) take 2510 products with 40 vectors,
/// 770 with 100, 400 with 300; the 5 largest take 85 with 20 vectors, 65 with 40 and 63 from
/// 60 up.
fn default_basis(n: usize, wanted: usize) -> usize {
    let by_memory = BASIS_BYTES / (8 * n.max(1));
    by_memory.clamp(MIN_BASIS.max(4 * wanted), MAX_BASIS.max(4 * wanted))
}
/// Default maximum number of block steps of [`Lanczos`].
pub const LANCZOS_MAX_ITERS: usize = 500;

impl Lanczos {
    /// `k` pairs at the `which` end(s); block size `k`, the default basis size, tolerance
    /// [`LANCZOS_TOL`], at most [`LANCZOS_MAX_ITERS`] block steps, seed 0, true residuals on.
    pub fn new(k: usize, which: Which) -> Self {
        Lanczos {
            k,
            which,
            block: None,
            basis: None,
            keep: None,
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

    /// Maximum number of block steps.
    ///
    /// # Errors
    /// `max_iters == 0`.
    pub fn with_max_iters(mut self, max_iters: usize) -> Result<Self> {
        self.max_iters = crate::error::ensure_nonzero("max iterations", max_iters)?;
        Ok(self)
    }

    /// The block size `b` (default `k`; capped at `n`).
    ///
    /// # Errors
    /// `b == 0`.
    pub fn with_block_size(mut self, b: usize) -> Result<Self> {
        self.block = Some(crate::error::ensure_nonzero("block size", b)?);
        Ok(self)
    }

    /// The largest number of basis vectors kept (default: as many as 256 MiB hold, from
    /// `max(60, 4·wanted)` to 300; raised to `wanted + 2b` when smaller, capped at `n`).
    ///
    /// # Errors
    /// `m == 0`.
    pub fn with_basis_size(mut self, m: usize) -> Result<Self> {
        self.basis = Some(crate::error::ensure_nonzero("basis size", m)?);
        Ok(self)
    }

    /// Ritz vectors kept at a thick restart (default: see [`Lanczos`]; clamped to
    /// `[wanted, basis − 2b]`).
    ///
    /// # Errors
    /// `p == 0`.
    pub fn with_restart_keep(mut self, p: usize) -> Result<Self> {
        self.keep = Some(crate::error::ensure_nonzero("restart keep", p)?);
        Ok(self)
    }

    /// Seed of the start block.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to pay one product per pair for `‖Hv − λv‖` when the basis' products are not
    /// kept (see [`LanczosResult::residuals`]; when they are, the true residuals are free and
    /// always reported).
    pub fn with_true_residuals(mut self, on: bool) -> Self {
        self.true_residuals = on;
        self
    }

    /// Number of wanted pairs for dimension `n`.
    fn n_wanted(&self, n: usize) -> usize {
        match self.which {
            Which::Both => (2 * self.k).min(n),
            _ => self.k.min(n),
        }
    }

    /// Indices (into `j` ascending Ritz values) of the wanted pairs, ascending.
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

    /// Indices (into `j` ascending Ritz values) kept at a thick restart: the `p` nearest the
    /// wanted end(s), ascending.
    fn kept(&self, j: usize, p: usize) -> Vec<usize> {
        let p = p.min(j);
        let mut idx: Vec<usize> = match self.which {
            Which::Largest => (j - p..j).collect(),
            Which::Smallest => (0..p).collect(),
            Which::Both => {
                let lo = p / 2;
                (0..lo).chain(j - (p - lo)..j).collect()
            }
        };
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// Runs block Lanczos on `H(params)`; see [`Lanczos`].
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
        let n_wanted = self.n_wanted(n);
        let b = self.block.unwrap_or(self.k).min(n);
        let m = self
            .basis
            .unwrap_or_else(|| default_basis(n, n_wanted))
            .max(n_wanted + 2 * b)
            .min(n);
        crate::limits::check_block(
            "basis size",
            m,
            n,
            "the Lanczos basis keeps this many vectors; use a smaller basis size",
        )?;
        let mut rng = StdRng::seed_from_u64(self.seed);
        // The products are kept beside the basis when both fit in BASIS_BYTES: the true
        // residuals then cost no product.
        let keep_products = 2 * (m + b) * n * std::mem::size_of::<f64>() <= BASIS_BYTES;
        let mut kr = BlockKrylov::new(n, m + b, keep_products);
        let mut start: Vec<f64> = (0..b).flat_map(|_| gaussian_vec(n, &mut rng)).collect();
        kr.extend_block(&mut start, b, None, None, &mut rng);
        let mut iterations = 0;
        let mut restarts = 0;
        let mut basis_size = 0;
        // Residual-driven blocks need the stored products (for the residuals) and a block that
        // holds every wanted pair (so that the block is the Krylov block until a pair
        // converges).
        let residual_driven = keep_products && b >= n_wanted;
        loop {
            if kr.pending() == 0 {
                // The basis spans an invariant subspace that no random direction can leave.
                let ritz = kr.ritz()?;
                return self.finish(&kr, &ritz, &mut op, iterations, restarts, basis_size, true);
            }
            if m < n && kr.len() + kr.pending() > m && kr.applied() > n_wanted {
                let ritz = kr.ritz()?;
                let p = self
                    .keep
                    .unwrap_or((n_wanted + m.saturating_sub(2 * b)) / 2)
                    .clamp(n_wanted, m.saturating_sub(2 * b).max(n_wanted));
                kr.restart(&ritz, &self.kept(kr.applied(), p));
                restarts += 1;
            }
            let from_residuals = residual_driven && kr.len() >= n_wanted;
            kr.step(&mut op, !from_residuals, &mut rng)?;
            iterations += 1;
            basis_size = basis_size.max(kr.len());
            let j = kr.applied();
            if !from_residuals && j < n_wanted && kr.pending() > 0 && iterations < self.max_iters {
                continue;
            }
            let ritz = kr.ritz()?;
            let limit = self.tol * ritz.max_abs();
            // The next block: the true residuals of the `b` pairs nearest the wanted end(s),
            // less the wanted pairs that have converged (soft locking).
            let near = self.kept(j, b);
            let residuals = from_residuals
                .then(|| kr.true_residuals(&ritz, &near))
                .flatten();
            if let Some((r, norms)) = residuals {
                let wanted = self.wanted(j);
                let active: Vec<usize> = (0..near.len())
                    .filter(|&c| !(wanted.contains(&near[c]) && norms[c] <= limit))
                    .collect();
                let done = wanted.iter().all(|i| {
                    near.iter()
                        .position(|x| x == i)
                        .is_some_and(|c| norms[c] <= limit)
                });
                if done || j >= n || iterations >= self.max_iters {
                    return self.finish(
                        &kr,
                        &ritz,
                        &mut op,
                        iterations,
                        restarts,
                        basis_size,
                        j >= n,
                    );
                }
                let mut w: Vec<f64> = active
                    .iter()
                    .flat_map(|&c| r[c * n..(c + 1) * n].iter().copied())
                    .collect();
                kr.set_pending(&mut w, active.len(), &mut rng);
                basis_size = basis_size.max(kr.len());
                continue;
            }
            let idx = self.wanted(j);
            // The estimates `‖S y‖` decide; the true residuals, when free, confirm.
            let done = kr.pending() == 0
                || (j >= n_wanted
                    && kr.residuals(&ritz, &idx).iter().all(|&r| r <= limit)
                    && kr
                        .true_residuals(&ritz, &idx)
                        .is_none_or(|(_, t)| t.iter().all(|&r| r <= limit)));
            if done || iterations >= self.max_iters {
                let exhausted = kr.pending() == 0;
                return self.finish(
                    &kr, &ritz, &mut op, iterations, restarts, basis_size, exhausted,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish<O: Hvp + ?Sized>(
        &self,
        kr: &BlockKrylov,
        ritz: &Spectrum,
        op: &mut HvpOperator<'_, O>,
        iterations: usize,
        restarts: usize,
        basis_size: usize,
        exhausted: bool,
    ) -> Result<LanczosResult> {
        let j = kr.applied();
        let n = op.dim();
        let idx = self.wanted(j);
        let norm_est = ritz.max_abs();
        let limit = self.tol * norm_est;
        let estimates = kr.residuals(ritz, &idx);
        let values: Vec<f64> = idx.iter().map(|&i| ritz.eigenvalues()[i]).collect();
        let mut vectors = DMatrix::from_vec(n, idx.len(), kr.combine(ritz, &idx));
        let mut scales = Vec::with_capacity(idx.len());
        for x in vectors.as_mut_slice().chunks_exact_mut(n) {
            let nrm = dot(x, x).sqrt();
            let s = super::largest_entry_sign(x.iter()) / nrm;
            x.iter_mut().for_each(|e| *e *= s);
            scales.push(s);
        }
        let k = idx.len();
        let true_norms = |hx: &mut [f64]| -> Vec<f64> {
            (0..k)
                .map(|c| {
                    let h = &mut hx[c * n..(c + 1) * n];
                    axpy(-values[c], &vectors.as_slice()[c * n..(c + 1) * n], h);
                    dot(h, h).sqrt()
                })
                .collect()
        };
        // `H x` from the stored products `H V` when they are kept (`(H V) y`, by linearity):
        // then the true residuals decide convergence. Otherwise the estimates decide, and the
        // true residuals cost one product per pair.
        let stored = kr.combine_products(ritz, &idx).map(|mut hx| {
            // The vectors were normalized and signed after the combination.
            for (h, &s) in hx.chunks_exact_mut(n).zip(&scales) {
                h.iter_mut().for_each(|e| *e *= s);
            }
            true_norms(&mut hx)
        });
        let converged: Vec<bool> = stored
            .as_ref()
            .unwrap_or(&estimates)
            .iter()
            .map(|&r| r <= limit)
            .collect();
        if !converged.iter().any(|&c| c) {
            return Err(Error::NoConvergence {
                method: "lanczos".into(),
                iters: iterations,
                residual: stored
                    .as_ref()
                    .unwrap_or(&estimates)
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min)
                    / norm_est.max(f64::MIN_POSITIVE),
            });
        }
        let residuals = match stored {
            Some(r) => r,
            None if self.true_residuals => {
                let mut hx = vec![0.0; n * k];
                op.apply_many(vectors.as_slice(), k, &mut hx)?;
                true_norms(&mut hx)
            }
            None => estimates,
        };
        Ok(LanczosResult {
            spectrum: Spectrum::new(values, vectors)?,
            residuals,
            converged,
            n_hvps: op.n_hvps(),
            product_seconds: op.product_seconds(),
            iterations,
            restarts,
            block_size: kr.block,
            basis_size,
            exhausted,
            norm_estimate: norm_est,
            seed: self.seed,
        })
    }
}

/// The block Krylov relation $H V_a = V_a T_{aa} + Q\,S$ with full reorthogonalization:
/// `v` holds the `applied` vectors $V_a$ (whose products are known) followed by the pending
/// block $Q$ (orthonormal to them, products not yet taken), one `n`-vector per column of a
/// column-major matrix, so that projections onto the basis are GEMMs; `t` holds
/// $T = V^\top H V$ on the applied vectors and the coupling $S = Q^\top H V_a$ in the pending
/// rows.
struct BlockKrylov {
    n: usize,
    /// The basis, column-major `n x len`.
    v: Vec<f64>,
    applied: usize,
    /// Symmetric, indexed by basis position; capacity `cap × cap`.
    t: DMatrix<f64>,
    /// The block size asked for (blocks shrink only when the space runs out).
    block: usize,
    /// Largest `|T_ij|` and `‖H q‖` seen: a lower estimate of `‖H‖`.
    scale: f64,
    /// The buffer of the block's products.
    work: Vec<f64>,
    /// The products `H V_a` of the applied vectors (column-major `n x applied`), when kept:
    /// the true residuals `‖H x − θ x‖` of the Ritz pairs then follow from `(H V_a) y` without
    /// another product.
    hv: Option<Vec<f64>>,
}

/// Multiply-adds above which a projection onto the basis runs on rayon's threads.
const PARALLEL_GEMM: usize = 1 << 18;

/// `dst = alpha·a·b` (or `dst += alpha·a·b` when `add`), on all threads when large.
fn gemm(dst: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64, add: bool) {
    let acc = if add { Accum::Add } else { Accum::Replace };
    let work = a.nrows() * a.ncols() * b.ncols();
    let par = if work >= PARALLEL_GEMM {
        Par::rayon(0)
    } else {
        Par::Seq
    };
    faer::linalg::matmul::matmul(dst, acc, a, b, alpha, par);
}

impl BlockKrylov {
    /// A basis of at most `cap` vectors of length `n`, keeping their products when
    /// `keep_products`.
    fn new(n: usize, cap: usize, keep_products: bool) -> Self {
        let cap = cap.min(n).max(1);
        BlockKrylov {
            hv: keep_products.then(Vec::new),
            n,
            v: Vec::new(),
            applied: 0,
            t: DMatrix::zeros(cap, cap),
            block: 0,
            scale: 0.0,
            work: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.v.len() / self.n.max(1)
    }

    fn applied(&self) -> usize {
        self.applied
    }

    fn pending(&self) -> usize {
        self.len() - self.applied
    }

    fn set_t(&mut self, i: usize, j: usize, v: f64) {
        self.t[(i, j)] = v;
        self.t[(j, i)] = v;
    }

    /// Block classical Gram-Schmidt: removes from the `q` columns of `w` their components
    /// along the whole basis, two GEMMs per pass, and returns the total coefficients
    /// (`len x q`). A second pass runs when some column lost more than a factor `√2` of its
    /// norm to the first ("twice is enough", Kahan-Parlett; the test is Daniel, Gragg, Kaufman
    /// & Stewart's): a column that keeps most of its norm is orthogonal to working precision
    /// after one pass.
    fn project_out(&self, w: &mut [f64], q: usize) -> DMatrix<f64> {
        let (n, len) = (self.n, self.len());
        let mut total = DMatrix::zeros(len, q);
        if len == 0 || q == 0 {
            return total;
        }
        let basis = MatRef::from_column_major_slice(&self.v, n, len);
        let mut c = DMatrix::zeros(len, q);
        let norms = |w: &[f64]| -> Vec<f64> { w.chunks_exact(n).map(|x| dot(x, x)).collect() };
        let before = norms(w);
        for pass in 0..2 {
            if pass == 1 {
                let after = norms(w);
                if after.iter().zip(&before).all(|(a, b)| 2.0 * a >= *b) {
                    break;
                }
            }
            {
                let cm = MatMut::from_column_major_slice_mut(c.as_mut_slice(), len, q);
                let wm = MatRef::from_column_major_slice(w, n, q);
                gemm(cm, basis.transpose(), wm, 1.0, false);
            }
            let cr = MatRef::from_column_major_slice(c.as_slice(), len, q);
            gemm(
                MatMut::from_column_major_slice_mut(w, n, q),
                basis,
                cr,
                -1.0,
                true,
            );
            total += &c;
        }
        total
    }

    /// Removes from the products `w` of the pending block (first column at `q0`, `q`
    /// columns) their components along the vectors they couple to in exact arithmetic: the
    /// block itself and the earlier vectors with a nonzero entry in the block's columns of `T`
    /// (the block that made it, and after a restart the kept Ritz vectors). Returns those
    /// coefficients (`len x q`, zero elsewhere).
    ///
    /// These are the large components of `H q`; taken out first, the full pass over the basis
    /// that follows ([`BlockKrylov::project_out`]) starts from a vector that is already
    /// orthogonal to the basis in exact arithmetic, loses little of its norm and so needs no
    /// second pass over the whole basis: local then global Gram–Schmidt, with the DGKS test on
    /// the global pass.
    fn project_out_coupled(&self, w: &mut [f64], q0: usize, q: usize) -> DMatrix<f64> {
        let (n, len) = (self.n, self.len());
        let mut c = DMatrix::zeros(len, q);
        let coupled: Vec<usize> = (0..q0)
            .filter(|&i| (q0..q0 + q).any(|j| self.t[(i, j)] != 0.0))
            .chain(q0..(q0 + q).min(len))
            .collect();
        for (col, wc) in w.chunks_exact_mut(n.max(1)).take(q).enumerate() {
            for &i in &coupled {
                let vi = &self.v[i * n..(i + 1) * n];
                let d = dot(vi, wc);
                axpy(-d, vi, wc);
                c[(i, col)] += d;
            }
        }
        c
    }

    /// Orthonormalizes the candidates `w` (`q` columns: the residuals of the applied block
    /// whose first column is at `from`, already projected off the basis; or the start block
    /// when `from` is `None`) into the next pending block, recording the coupling. A candidate
    /// that is (numerically) in the span of the basis is replaced by a seeded random direction
    /// with zero coupling; none is added when the basis already spans every direction.
    /// `norms` are the candidates' norms before any projection (the products' norms): a
    /// candidate that lost more than two digits to the projections is projected once more
    /// against the whole basis, so that it stays orthogonal to it however severe the
    /// cancellation (Daniel, Gragg, Kaufman & Stewart 1976).
    fn extend_block(
        &mut self,
        w: &mut [f64],
        q: usize,
        from: Option<usize>,
        norms: Option<&[f64]>,
        rng: &mut StdRng,
    ) {
        let n = self.n;
        if self.block == 0 {
            self.block = q;
        }
        if from.is_none() {
            self.project_out(w, q);
        }
        let first_new = self.len();
        let threshold = 1e2 * f64::EPSILON * (n as f64).sqrt() * self.scale.max(f64::MIN_POSITIVE);
        for (c, wc) in w.chunks_exact_mut(n.max(1)).take(q).enumerate() {
            let len = self.len();
            if len >= n || len >= self.t.nrows() {
                break;
            }
            let before = dot(wc, wc).sqrt();
            // Against the vectors of this block accepted so far, twice.
            let mut coeffs = vec![0.0; len - first_new];
            for _ in 0..2 {
                for (p, cf) in (first_new..len).zip(coeffs.iter_mut()) {
                    let vp = &self.v[p * n..(p + 1) * n];
                    let d = dot(vp, wc);
                    axpy(-d, vp, wc);
                    *cf += d;
                }
            }
            let mut r = dot(wc, wc).sqrt();
            let col = from.map(|f| f + c);
            let reference = norms.map_or(before, |h| h[c]);
            if r <= 1e-2 * reference {
                let extra = self.project_out(wc, 1);
                for (i, &e) in extra.as_slice().iter().enumerate() {
                    if i >= first_new {
                        coeffs[i - first_new] += e;
                    } else if let Some(col) = col {
                        let old = self.t[(i, col)];
                        self.set_t(i, col, old + e);
                    }
                }
                r = dot(wc, wc).sqrt();
            }
            if let Some(col) = col {
                for (p, &cf) in (first_new..len).zip(&coeffs) {
                    self.set_t(p, col, cf);
                }
            }
            let keep = match col {
                Some(_) => r > threshold,
                None => r > 1e-8 * before,
            };
            if keep {
                self.v.extend(wc.iter().map(|x| x / r));
                if let Some(col) = col {
                    self.set_t(len, col, r);
                }
                continue;
            }
            // Deflation: a random direction orthogonal to everything, coupled to nothing.
            for _ in 0..3 {
                let mut g = gaussian_vec(n, rng);
                let g0 = dot(&g, &g).sqrt();
                self.project_out(&mut g, 1);
                let g1 = dot(&g, &g).sqrt();
                if g1 > 1e-8 * g0 {
                    self.v.extend(g.iter().map(|x| x / g1));
                    if let Some(col) = col {
                        self.set_t(len, col, 0.0);
                    }
                    break;
                }
            }
        }
    }

    /// One block step: applies `H` to the pending block (one blocked call) and records its
    /// column of `T`. With `extend`, projects the products off the basis and makes the next
    /// pending block from them (the block Krylov step); without, leaves no pending block (the
    /// caller makes one from the Ritz residuals: [`BlockKrylov::set_pending`]), and one GEMM
    /// gives the column.
    fn step<O: Hvp + ?Sized>(
        &mut self,
        op: &mut HvpOperator<'_, O>,
        extend: bool,
        rng: &mut StdRng,
    ) -> Result<()> {
        let n = self.n;
        let q0 = self.applied;
        let q = self.pending();
        // The products' buffer is kept from step to step: a fresh one costs page faults.
        let mut hq = std::mem::take(&mut self.work);
        hq.resize(n * q, 0.0);
        op.apply_many(&self.v[q0 * n..], q, &mut hq)?;
        let norms: Vec<f64> = hq
            .chunks_exact(n.max(1))
            .map(|w| dot(w, w).sqrt())
            .collect();
        for &h in &norms {
            self.scale = self.scale.max(h);
        }
        if let Some(hv) = &mut self.hv {
            hv.extend_from_slice(&hq);
        }
        let coeffs = if extend {
            let local = self.project_out_coupled(&mut hq, q0, q);
            self.project_out(&mut hq, q) + local
        } else {
            let len = self.len();
            let mut c = DMatrix::zeros(len, q);
            gemm(
                MatMut::from_column_major_slice_mut(c.as_mut_slice(), len, q),
                MatRef::from_column_major_slice(&self.v, n, len).transpose(),
                MatRef::from_column_major_slice(&hq, n, q),
                1.0,
                false,
            );
            c
        };
        for c in 0..q {
            for i in 0..coeffs.nrows() {
                // Within the block, the later column's coefficient overwrites the earlier one's
                // mirror image; both estimate the same entry of the symmetric T.
                let ci = coeffs[(i, c)];
                self.set_t(i, q0 + c, ci);
                self.scale = self.scale.max(ci.abs());
            }
        }
        self.applied = self.len();
        if extend {
            self.extend_block(&mut hq, q, Some(q0), Some(&norms), rng);
        }
        self.work = hq;
        Ok(())
    }

    /// The true residuals `H x_i − θ_i x_i` of the Ritz pairs `idx` (column-major
    /// `n x idx.len()`) and their norms, from the stored products (`H x = (H V_a) y`, no
    /// product); `None` when the products are not kept.
    fn true_residuals(&self, ritz: &Spectrum, idx: &[usize]) -> Option<(Vec<f64>, Vec<f64>)> {
        let n = self.n;
        let mut r = self.combine_products(ritz, idx)?;
        let x = self.combine(ritz, idx);
        let norms = r
            .chunks_exact_mut(n)
            .zip(x.chunks_exact(n))
            .zip(idx)
            .map(|((rc, xc), &i)| {
                axpy(-ritz.eigenvalues()[i], xc, rc);
                dot(rc, rc).sqrt()
            })
            .collect();
        Some((r, norms))
    }

    /// Replaces the pending block by the orthonormalized `q` columns of `w` (the residuals of
    /// the Ritz pairs still converging), with no coupling recorded: the block's column of `T`
    /// is computed whole when it is applied, and the residuals are then taken from the stored
    /// products, not from the coupling.
    fn set_pending(&mut self, w: &mut [f64], q: usize, rng: &mut StdRng) {
        let (n, j) = (self.n, self.applied);
        self.v.truncate(n * j);
        let cap = self.t.nrows();
        for i in j..cap {
            for c in 0..cap {
                self.t[(i, c)] = 0.0;
                self.t[(c, i)] = 0.0;
            }
        }
        self.extend_block(w, q, None, None, rng);
    }

    /// Ritz values (ascending) and vectors (in basis coordinates) of the applied part.
    fn ritz(&self) -> Result<Spectrum> {
        let j = self.applied;
        let t = self.t.view((0, 0), (j, j));
        let sym = (t + t.transpose()) * 0.5;
        symmetric_eigen(&sym, EigenBackend::Faer)
    }

    /// `‖S y_i‖` for the Ritz vectors `idx`: their residual norms.
    fn residuals(&self, ritz: &Spectrum, idx: &[usize]) -> Vec<f64> {
        let (j, q) = (self.applied, self.pending());
        idx.iter()
            .map(|&i| {
                (0..q)
                    .map(|r| {
                        (0..j)
                            .map(|c| self.t[(j + r, c)] * ritz.eigenvectors()[(c, i)])
                            .sum::<f64>()
                            .powi(2)
                    })
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    }

    /// The Ritz vectors `V_a y_i` for `i` in `idx`, in the full space (column-major
    /// `n x idx.len()`): one GEMM.
    fn combine(&self, ritz: &Spectrum, idx: &[usize]) -> Vec<f64> {
        let (n, j, p) = (self.n, self.applied, idx.len());
        let y = DMatrix::from_fn(j, p, |r, c| ritz.eigenvectors()[(r, idx[c])]);
        let mut x = vec![0.0; n * p];
        gemm(
            MatMut::from_column_major_slice_mut(&mut x, n, p),
            MatRef::from_column_major_slice(&self.v[..n * j], n, j),
            MatRef::from_column_major_slice(y.as_slice(), j, p),
            1.0,
            false,
        );
        x
    }

    /// The products `H V_a y_i` for `i` in `idx` (column-major `n x idx.len()`) from the
    /// stored products, when they are kept.
    fn combine_products(&self, ritz: &Spectrum, idx: &[usize]) -> Option<Vec<f64>> {
        let hv = self.hv.as_ref()?;
        let (n, j, p) = (self.n, self.applied, idx.len());
        let y = DMatrix::from_fn(j, p, |r, c| ritz.eigenvectors()[(r, idx[c])]);
        let mut x = vec![0.0; n * p];
        gemm(
            MatMut::from_column_major_slice_mut(&mut x, n, p),
            MatRef::from_column_major_slice(&hv[..n * j], n, j),
            MatRef::from_column_major_slice(y.as_slice(), j, p),
            1.0,
            false,
        );
        Some(x)
    }

    /// Thick restart: keeps the Ritz vectors `keep` (with `T` diagonal on them) and the pending
    /// block (its coupling to them is `S y_i`).
    fn restart(&mut self, ritz: &Spectrum, keep: &[usize]) {
        let (n, j, q) = (self.n, self.applied, self.pending());
        let coupling: Vec<Vec<f64>> = (0..q)
            .map(|r| {
                keep.iter()
                    .map(|&i| {
                        (0..j)
                            .map(|c| self.t[(j + r, c)] * ritz.eigenvectors()[(c, i)])
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let mut kept = self.combine(ritz, keep);
        kept.extend_from_slice(&self.v[j * n..]);
        self.v = kept;
        if let Some(products) = self.combine_products(ritz, keep) {
            self.hv = Some(products);
        }
        let p = keep.len();
        self.t.fill(0.0);
        for (c, &i) in keep.iter().enumerate() {
            self.t[(c, c)] = ritz.eigenvalues()[i];
        }
        for (r, row) in coupling.iter().enumerate() {
            for (c, &s) in row.iter().enumerate() {
                self.set_t(p + r, c, s);
            }
        }
        self.applied = p;
    }
}

#[cfg(test)]
mod tests;
