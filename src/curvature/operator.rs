//! Curvature matrices beyond the Hessian, as objects every consumer takes unchanged.
//!
//! [`Curvature`] names the three matrices `critpt analyze --curvature` offers. With
//! `L = (1/N) Σ_n ℓ_n` and `z` the model's outputs (logits): the Hessian `∇²L`; the generalized
//! Gauss–Newton matrix `GGN = Jᵀ (∂²L/∂z²) J` (`J = ∂z/∂θ`); the empirical Fisher
//! `EF = (1/N) Σ_n ∇ℓ_n ∇ℓ_nᵀ`. The GGN and the EF are positive semi-definite, and for
//! cross-entropy the GGN is the true Fisher. The networks' operators live with their engines
//! (`nn::gauss_newton`, `graph::gauss_newton`); they implement [`Hvp`] (the product is the
//! chosen matrix's), so dense spectra, Lanczos, Hutch++, SLQ and slices take them as they take a
//! Hessian.
//!
//! Two wrappers work over any of them: [`Restricted`] (the principal submatrix of some
//! parameters, `--params`) and [`Chunked`] (the data streamed in chunks, `--batch-size`).

use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Which curvature matrix an operator multiplies by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curvature {
    /// The Hessian `∇²L`.
    Hessian,
    /// The generalized Gauss–Newton matrix `Jᵀ (∂²L/∂z²) J`.
    GaussNewton,
    /// The empirical Fisher `(1/N) Σ_n ∇ℓ_n ∇ℓ_nᵀ`.
    EmpiricalFisher,
}

impl Curvature {
    /// The name the command line and the JSON use: `hessian`, `ggn`, `empirical-fisher`.
    pub fn name(self) -> &'static str {
        match self {
            Curvature::Hessian => "hessian",
            Curvature::GaussNewton => "ggn",
            Curvature::EmpiricalFisher => "empirical-fisher",
        }
    }

    /// Whether the matrix is positive semi-definite by construction (then the verdicts of the
    /// second-order test, which are Hessian notions, do not apply to it).
    pub fn is_psd(self) -> bool {
        !matches!(self, Curvature::Hessian)
    }
}

impl std::str::FromStr for Curvature {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hessian" => Ok(Curvature::Hessian),
            "ggn" | "gauss-newton" => Ok(Curvature::GaussNewton),
            "empirical-fisher" | "ef" => Ok(Curvature::EmpiricalFisher),
            _ => Err(Error::Unknown {
                what: "curvature".into(),
                name: s.into(),
                known: "hessian, ggn, empirical-fisher".into(),
            }),
        }
    }
}

/// One parameter tensor of a model: its state_dict name, shape and place in the flat vector.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParamTensor {
    /// The state_dict name (`0.weight`, `conv1.bias`).
    pub name: String,
    /// The tensor's shape (PyTorch's).
    pub shape: Vec<usize>,
    /// Offset of its first entry in the flat parameter vector.
    #[serde(skip)]
    pub offset: usize,
}

impl ParamTensor {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters (none included).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The tensors of `tensors` that the comma list `spec` names (state_dict names, `*` as a
/// wildcard), in the model's order, each once.
///
/// # Errors
/// An empty list, or a name or pattern that matches no tensor (the message lists the model's
/// names).
pub fn select_tensors(tensors: &[ParamTensor], spec: &str) -> Result<Vec<ParamTensor>> {
    let known = || {
        tensors
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut keep = vec![false; tensors.len()];
    let mut any = false;
    for pat in spec.split(',').map(str::trim) {
        if pat.is_empty() {
            continue;
        }
        any = true;
        let mut hit = false;
        for (k, t) in keep.iter_mut().zip(tensors) {
            if wildcard_match(pat, &t.name) {
                *k = true;
                hit = true;
            }
        }
        if !hit {
            return Err(Error::Unknown {
                what: "parameter tensor".into(),
                name: pat.into(),
                known: known(),
            });
        }
    }
    if !any {
        return Err(Error::invalid(
            "parameter names",
            format!("no tensor named; the model's tensors: {}", known()),
        ));
    }
    Ok(tensors
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(t, _)| t.clone())
        .collect())
}

/// The flat indices of `tensors`, in order.
pub fn tensor_indices(tensors: &[ParamTensor]) -> Vec<usize> {
    tensors
        .iter()
        .flat_map(|t| t.offset..t.offset + t.len())
        .collect()
}

/// An operator restricted to some parameters: the principal submatrix `A[S, S]` of the inner
/// operator's matrix, the loss and gradient as functions of those parameters with the others
/// held at a base point. A product embeds the direction (zeros elsewhere), multiplies, and
/// keeps the selected rows.
#[derive(Debug)]
pub struct Restricted<O> {
    inner: O,
    base: Vec<f64>,
    idx: Vec<usize>,
}

impl<O: Loss> Restricted<O> {
    /// `inner` restricted to the parameters `idx` (strictly increasing), the rest at `base`.
    ///
    /// # Errors
    /// `base` of the wrong length or not finite; indices out of range or not increasing.
    pub fn new(inner: O, base: &[f64], idx: Vec<usize>) -> Result<Self> {
        check_params(&inner, base)?;
        if idx.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "parameter block",
                "indices must be strictly increasing",
            ));
        }
        if let Some(&last) = idx.last() {
            if last >= base.len() {
                return Err(Error::dim("parameter block", base.len(), last + 1));
            }
        }
        Ok(Restricted {
            inner,
            base: base.to_vec(),
            idx,
        })
    }

    /// The selected parameters' values at the base point (the point to analyse).
    pub fn point(&self) -> Vec<f64> {
        self.idx.iter().map(|&i| self.base[i]).collect()
    }

    /// The selected flat indices.
    pub fn indices(&self) -> &[usize] {
        &self.idx
    }

    fn embed(&self, params: &[f64]) -> Result<Vec<f64>> {
        check_params(self, params)?;
        let mut full = self.base.clone();
        for (&i, &p) in self.idx.iter().zip(params) {
            full[i] = p;
        }
        Ok(full)
    }
}

impl<O: Loss> Loss for Restricted<O> {
    fn n_params(&self) -> usize {
        self.idx.len()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        self.inner.loss(&self.embed(params)?)
    }
    fn param_names(&self) -> Vec<String> {
        let names = self.inner.param_names();
        self.idx.iter().map(|&i| names[i].clone()).collect()
    }
}

impl<O: Gradient> Gradient for Restricted<O> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(params, out).map(|_| ())
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        if out.len() != self.idx.len() {
            return Err(Error::dim("gradient", self.idx.len(), out.len()));
        }
        let full = self.embed(params)?;
        let mut g = vec![0.0; full.len()];
        let l = self.inner.loss_and_gradient(&full, &mut g)?;
        for (o, &i) in out.iter_mut().zip(&self.idx) {
            *o = g[i];
        }
        Ok(l)
    }
}

impl<O: Hvp> Hvp for Restricted<O> {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvp_many(params, v, 1, out)
    }
    /// One blocked product of the inner operator on the embedded directions.
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let m = self.idx.len();
        if vs.len() != m * k || out.len() != m * k {
            return Err(Error::dim("directions", m * k, vs.len().min(out.len())));
        }
        let full = self.embed(params)?;
        let n = full.len();
        crate::limits::check_block("parameter block", k, n, "use fewer directions")?;
        let mut big = vec![0.0; n * k];
        for j in 0..k {
            for (q, &i) in self.idx.iter().enumerate() {
                big[j * n + i] = vs[j * m + q];
            }
        }
        let mut res = vec![0.0; n * k];
        self.inner.hvp_many(&full, &big, k, &mut res)?;
        for j in 0..k {
            for (q, &i) in self.idx.iter().enumerate() {
                out[j * m + q] = res[j * n + i];
            }
        }
        Ok(())
    }
}

impl<O: Hvp> Hessian for Restricted<O> {
    /// The principal submatrix from products with the selected unit vectors only (`|S|`
    /// products, never the full matrix), symmetrized.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        dense_from_products(self, params)
    }
}

/// Directions per call when a dense matrix is built from blocked products.
const DENSE_BLOCK: usize = 32;

/// The dense matrix of an operator from blocks of products with unit vectors (one
/// [`Hvp::hvp_many`] call per block of 32 columns), symmetrized; the matrix of an exact
/// operator is exact.
///
/// # Errors
/// A wrong point, a dense matrix beyond [`crate::limits`], or the operator's error.
pub fn dense_from_products<O: Hvp + ?Sized>(obj: &O, params: &[f64]) -> Result<DMatrix<f64>> {
    check_params(obj, params)?;
    let n = obj.n_params();
    crate::limits::check_dense_params(n)?;
    let mut m = DMatrix::<f64>::zeros(n, n);
    for (b, cols) in m.as_mut_slice().chunks_mut(n * DENSE_BLOCK).enumerate() {
        let k = cols.len() / n.max(1);
        let mut e = vec![0.0; n * k];
        for j in 0..k {
            e[j * n + b * DENSE_BLOCK + j] = 1.0;
        }
        obj.hvp_many(params, &e, k, cols)?;
    }
    let t = m.transpose();
    m += t;
    m *= 0.5;
    crate::error::ensure_finite("curvature matrix", m.as_slice())?;
    Ok(m)
}

/// An objective over one chunk of a data set, as [`Chunked`] sums them.
pub trait Chunk: Gradient + Hvp {
    /// Samples in the chunk (its weight in the sum is `samples / total`).
    fn n_samples(&self) -> usize;
    /// Drops whatever passes the objective keeps for its last point, so that only one chunk's
    /// passes are held at a time.
    fn forget_point(&self);
}

impl<C: Chunk + ?Sized> Chunk for &C {
    fn n_samples(&self) -> usize {
        (**self).n_samples()
    }
    fn forget_point(&self) {
        (**self).forget_point()
    }
}

/// A mean loss over a data set streamed in chunks: every value, gradient and product is the
/// sum over the chunks, chunk `c` weighted by `n_c / N` (each chunk's loss is its own mean),
/// which is what the whole batch gives, beyond rounding. The chunks run one after the other
/// and each drops its passes when done, so memory is one chunk's passes, not the data set's;
/// the price is one forward (and, for Hessian products, one backward) pass per chunk per
/// blocked product, which a whole-batch objective caches.
#[derive(Debug)]
pub struct Chunked<C> {
    chunks: Vec<C>,
    weights: Vec<f64>,
}

impl<C: Chunk> Chunked<C> {
    /// The sum of `chunks` (at least one, all of the same parameter count).
    ///
    /// # Errors
    /// No chunks, an empty chunk, or chunks of different parameter counts.
    pub fn new(chunks: Vec<C>) -> Result<Self> {
        let Some(first) = chunks.first() else {
            return Err(Error::invalid("batch size", "no chunks of data"));
        };
        let n = first.n_params();
        if let Some(c) = chunks.iter().find(|c| c.n_params() != n) {
            return Err(Error::dim("chunk parameters", n, c.n_params()));
        }
        if chunks.iter().any(|c| c.n_samples() == 0) {
            return Err(Error::invalid("batch size", "a chunk has no samples"));
        }
        let total: usize = chunks.iter().map(Chunk::n_samples).sum();
        let weights = chunks
            .iter()
            .map(|c| c.n_samples() as f64 / total as f64)
            .collect();
        Ok(Chunked { chunks, weights })
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> &[C] {
        &self.chunks
    }

    /// Total samples.
    pub fn n_samples(&self) -> usize {
        self.chunks.iter().map(Chunk::n_samples).sum()
    }
}

impl<C: Chunk> Loss for Chunked<C> {
    fn n_params(&self) -> usize {
        self.chunks[0].n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        let mut total = 0.0;
        for (c, w) in self.chunks.iter().zip(&self.weights) {
            total += w * c.loss(params)?;
        }
        Ok(total)
    }
    fn param_names(&self) -> Vec<String> {
        self.chunks[0].param_names()
    }
}

impl<C: Chunk> Gradient for Chunked<C> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(params, out).map(|_| ())
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        if out.len() != self.n_params() {
            return Err(Error::dim("gradient", self.n_params(), out.len()));
        }
        out.fill(0.0);
        let mut g = vec![0.0; out.len()];
        let mut total = 0.0;
        for (c, w) in self.chunks.iter().zip(&self.weights) {
            total += w * c.loss_and_gradient(params, &mut g)?;
            out.iter_mut().zip(&g).for_each(|(o, x)| *o += w * x);
        }
        Ok(total)
    }
}

impl<C: Chunk> Hvp for Chunked<C> {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvp_many(params, v, 1, out)
    }
    /// Each chunk's blocked product in turn, its passes dropped afterwards.
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let n = self.n_params();
        if vs.len() != n * k || out.len() != n * k {
            return Err(Error::dim("directions", n * k, vs.len().min(out.len())));
        }
        out.fill(0.0);
        let mut part = vec![0.0; n * k];
        for (c, w) in self.chunks.iter().zip(&self.weights) {
            let r = c.hvp_many(params, vs, k, &mut part);
            c.forget_point();
            r?;
            out.par_iter_mut().zip(&part).for_each(|(o, x)| *o += w * x);
        }
        Ok(())
    }
}

impl<C: Chunk + Hessian> Hessian for Chunked<C> {
    /// The sum of the chunks' dense matrices (two `n x n` matrices held at once).
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        let n = self.n_params();
        let mut m = DMatrix::<f64>::zeros(n, n);
        for (c, w) in self.chunks.iter().zip(&self.weights) {
            let h = c.hessian(params);
            c.forget_point();
            m += h? * *w;
        }
        Ok(m)
    }
}

/// What `analyze` needs of an operator: the loss and gradient at the point, products for the
/// matrix-free methods, and the dense matrix for the dense ones. Every objective with a
/// gradient, a dense matrix and products is one, so a boxed `dyn CurvatureOperator` carries any
/// of the Hessian, the GGN and the empirical Fisher, whole or in chunks.
pub trait CurvatureOperator: Gradient + Hessian + Hvp {}

impl<T: Gradient + Hessian + Hvp + ?Sized> CurvatureOperator for T {}
