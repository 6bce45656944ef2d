//! The Gauss–Newton matrix and the empirical Fisher of a graph's loss as matrix-free operators
//! ([`GraphGaussNewton`]), with exact, blocked products.
//!
//! A product is the graph's R-forward of `k` directions to the output (`R{z} = J v`), a
//! per-sample weighting of `R{z}` by the loss head, and the transposed pass `Jᵀ u`: the graph's
//! R-backward fed the cotangents `u` with every input tangent absent. Each op's R-backward is
//! `J_opᵀ R{ḡ} + (R{J_op})ᵀ ḡ`, and `R{J_op}` is linear in the input tangents, so with none
//! the second-order terms vanish and what is left is the backward pass of `u`.
//!
//! - GGN: `u = (∂²L/∂z²) R{z}` (the Hessian's own output term).
//! - Empirical Fisher: with `g_n = N ∂L/∂z_n` (the gradient of sample n's loss under the same
//!   reduction), `u_n = (g_n · R{z}_n) g_n / N`, so `Jᵀ u = (1/N) Σ_n ∇ℓ_n (∇ℓ_n · v)`.

use super::graph::Forward;
use super::objective::{GraphLoss, Head, LANES};
use super::tensor::{recycle_all, Tensor};
use crate::curvature::{dense_from_products, Chunk, Curvature};
use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Most directions one blocked pass takes.
const BLOCK: usize = 64;
/// Bytes of tangents one block may hold.
const BLOCK_BYTES: usize = 64 << 20;

/// The GGN or the empirical Fisher of a [`GraphLoss`], as an operator: [`Hvp`] multiplies by
/// the chosen matrix, [`Hessian`] forms it densely (from blocked products), [`Loss`] and
/// [`Gradient`] are the loss's own.
#[derive(Debug)]
pub struct GraphGaussNewton<'l, 'g> {
    loss: &'l GraphLoss<'g>,
    curvature: Curvature,
    cache: Mutex<Option<Arc<Primal>>>,
}

/// The passes at one point, per chunk of the loss's data.
#[derive(Debug)]
struct Primal {
    params: Vec<f64>,
    chunks: Vec<ChunkPrimal>,
    /// Elements of all values of the largest chunk's forward pass (sizes the blocks).
    len: usize,
}

/// The first-order passes over one chunk.
#[derive(Debug)]
struct ChunkPrimal {
    fw: Forward,
    head: Head,
    adj: Vec<Option<Tensor>>,
}

impl<'l, 'g> GraphGaussNewton<'l, 'g> {
    /// The `curvature` (GGN or empirical Fisher) of `loss`.
    ///
    /// # Errors
    /// [`Curvature::Hessian`]: the Hessian is [`GraphLoss`]'s own product.
    pub fn new(loss: &'l GraphLoss<'g>, curvature: Curvature) -> Result<Self> {
        if curvature == Curvature::Hessian {
            return Err(Error::invalid(
                "curvature",
                "the Hessian is the loss's own product; GraphGaussNewton gives ggn or empirical-fisher",
            ));
        }
        Ok(GraphGaussNewton {
            loss,
            curvature,
            cache: Mutex::new(None),
        })
    }

    /// Which matrix the products are with.
    pub fn curvature(&self) -> Curvature {
        self.curvature
    }

    fn primal(&self, params: &[f64]) -> Result<Arc<Primal>> {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = c.as_ref().filter(|p| p.params == params) {
            return Ok(Arc::clone(p));
        }
        let chunks: Vec<ChunkPrimal> = self
            .loss
            .chunk_first_order_passes(params)?
            .into_iter()
            .map(|(fw, head, adj)| ChunkPrimal { fw, head, adj })
            .collect();
        let len = chunks
            .iter()
            .map(|c| c.fw.vals.iter().map(Tensor::len).sum::<usize>())
            .max()
            .unwrap_or(0);
        let p = Arc::new(Primal {
            params: params.to_vec(),
            chunks,
            len,
        });
        *c = Some(Arc::clone(&p));
        Ok(p)
    }

    /// The `k` products (column-major `n x k`) for the directions `vs`: every chunk's passes,
    /// the chunks dealt to [`LANES`] lanes in turn, each lane's sum in chunk order, the lanes
    /// added in lane order: a function of the data and the graph, not of the threads.
    fn block(&self, p: &Primal, vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let lanes = p.chunks.len().clamp(1, LANES);
        let len = out.len();
        let parts = (0..lanes)
            .into_par_iter()
            .map(|lane| {
                let mut acc = vec![0.0; len];
                let mut part = Vec::new();
                for (i, c) in p.chunks.iter().skip(lane).step_by(lanes).enumerate() {
                    if i == 0 {
                        self.chunk_block(c, vs, k, &mut acc)?;
                        continue;
                    }
                    part.resize(len, 0.0);
                    self.chunk_block(c, vs, k, &mut part)?;
                    acc.iter_mut().zip(&part).for_each(|(a, b)| *a += b);
                }
                Ok(acc)
            })
            .collect::<Result<Vec<_>>>()?;
        out.copy_from_slice(&parts[0]);
        for q in &parts[1..] {
            out.iter_mut().zip(q).for_each(|(a, b)| *a += b);
        }
        Ok(())
    }

    /// One chunk's part of the `k` products, written into `out`.
    fn chunk_block(&self, c: &ChunkPrimal, vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let graph = self.loss.graph();
        let rv = graph.r_forward(&c.fw, vs, k)?;
        let z = c.fw.output(graph);
        let Some(rz) = rv[graph.output_id()].as_ref() else {
            out.fill(0.0);
            return Ok(());
        };
        let u = match self.curvature {
            Curvature::EmpiricalFisher => fisher_head(&c.head, rz, k, self.loss.data().n_samples()),
            _ => self.loss.output_curvature(z, &c.head, rz, k),
        };
        let none: Vec<Option<Tensor>> = vec![None; rv.len()];
        let radj = graph.r_backward(&c.fw, &c.adj, &none, u, k)?;
        graph.collect_hvp(&radj, k, out);
        recycle_all(rv);
        recycle_all(radj);
        Ok(())
    }
}

/// `N (G_n · R{z}_n) G_n` per sample for the head's gradient `G` (`[M, ...]`, a chunk of `M` of
/// the data set's `N` samples, each row `∇ℓ_n / N`), for each of the `k` blocks of `rz`
/// (`[k, M, ...]`).
fn fisher_head(head: &Head, rz: &Tensor, k: usize, n: usize) -> Tensor {
    let g = &head.grad;
    let rows = g.shape.first().copied().unwrap_or(1).max(1);
    let per = g.len() / rows;
    let mut data = vec![0.0; rz.len()];
    if per > 0 {
        for (o, r) in data
            .chunks_exact_mut(g.len())
            .zip(rz.data.chunks_exact(g.len()))
            .take(k)
        {
            for ((orow, rrow), grow) in o
                .chunks_exact_mut(per)
                .zip(r.chunks_exact(per))
                .zip(g.data.chunks_exact(per))
            {
                let d: f64 = rrow.iter().zip(grow).map(|(a, b)| a * b).sum::<f64>() * n as f64;
                orow.iter_mut().zip(grow).for_each(|(o, x)| *o = d * x);
            }
        }
    }
    Tensor {
        shape: rz.shape.clone(),
        data,
    }
}

impl Loss for GraphGaussNewton<'_, '_> {
    fn n_params(&self) -> usize {
        self.loss.n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        self.loss.loss(params)
    }
    fn param_names(&self) -> Vec<String> {
        self.loss.param_names()
    }
}

impl Gradient for GraphGaussNewton<'_, '_> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss.gradient(params, out)
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        self.loss.loss_and_gradient(params, out)
    }
}

impl Hvp for GraphGaussNewton<'_, '_> {
    /// The product with the GGN or the empirical Fisher.
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvp_many(params, v, 1, out)
    }

    /// One cached primal pass, then blocks of at most 64 directions (and as many as fit in
    /// 64 MiB of tangents), the blocks in parallel.
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        check_params(self, params)?;
        let n = self.n_params();
        if vs.len() != n * k || out.len() != n * k {
            return Err(Error::dim("directions", n * k, vs.len().min(out.len())));
        }
        crate::error::ensure_finite("direction", vs)?;
        if n == 0 || k == 0 {
            return Ok(());
        }
        let p = self.primal(params)?;
        let w = (BLOCK_BYTES / 8 / p.len.max(1)).clamp(1, BLOCK);
        vs.par_chunks(n * w)
            .zip(out.par_chunks_mut(n * w))
            .try_for_each(|(v, o)| self.block(&p, v, v.len() / n, o))?;
        crate::error::ensure_finite("curvature product", out)
    }
}

impl Hessian for GraphGaussNewton<'_, '_> {
    /// The dense GGN or empirical Fisher from blocked products with the unit vectors.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        dense_from_products(self, params)
    }
}

impl Chunk for GraphGaussNewton<'_, '_> {
    fn n_samples(&self) -> usize {
        self.loss.data().n_samples()
    }
    fn forget_point(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.loss.forget_point();
    }
}

/// The data in consecutive chunks of at most `batch_size` samples, for a
/// [`crate::curvature::Chunked`] sum of [`GraphLoss`]es.
///
/// # Errors
/// A zero batch size.
pub fn data_chunks(data: &super::GraphData, batch_size: usize) -> Result<Vec<super::GraphData>> {
    if batch_size == 0 {
        return Err(Error::invalid("batch size", "must be at least 1, got 0"));
    }
    let n = data.n_samples();
    let rows = |t: &Tensor, a: usize, b: usize| -> Result<Tensor> {
        let per = t.len() / t.shape[0].max(1);
        let mut shape = t.shape.clone();
        shape[0] = b - a;
        Tensor::new(shape, t.data[a * per..b * per].to_vec())
    };
    (0..n)
        .step_by(batch_size)
        .map(|a| {
            let b = (a + batch_size).min(n);
            let y = match &data.y {
                super::GraphTargets::Labels(l) => super::GraphTargets::Labels(l[a..b].to_vec()),
                super::GraphTargets::Values(t) => super::GraphTargets::Values(rows(t, a, b)?),
            };
            super::GraphData::new(rows(&data.x, a, b)?, y)
        })
        .collect()
}

/// The `curvature` operator of a graph's loss over `parts`: one part is the whole batch (its
/// products cache the passes at the point), several are chunks of the data summed by
/// [`crate::curvature::Chunked`].
///
/// # Errors
/// No parts.
pub fn graph_operator<'l, 'g>(
    parts: &'l [GraphLoss<'g>],
    curvature: Curvature,
) -> Result<Box<dyn crate::curvature::CurvatureOperator + 'l>> {
    use crate::curvature::Chunked;
    Ok(match (parts, curvature) {
        ([], _) => return Err(Error::invalid("batch size", "no data")),
        ([one], Curvature::Hessian) => Box::new(one),
        ([one], c) => Box::new(GraphGaussNewton::new(one, c)?),
        (many, Curvature::Hessian) => Box::new(Chunked::new(many.iter().collect())?),
        (many, c) => Box::new(Chunked::new(
            many.iter()
                .map(|l| GraphGaussNewton::new(l, c))
                .collect::<Result<Vec<_>>>()?,
        )?),
    })
}
