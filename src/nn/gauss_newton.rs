//! The Gauss–Newton matrix and the empirical Fisher of an MLP's loss as matrix-free operators
//! ([`NetGaussNewton`]), with exact, blocked products.
//!
//! Both need first-order passes only: the R-forward of `k` directions to the outputs
//! (`R{z} = J v`, the `k` perturbations stacked `kN x width`, one GEMM per layer), a per-sample
//! weighting of `R{z}` by the loss head, and the transposed pass `Jᵀ u` (a backward pass of the
//! output cotangents `u`, one per direction, again one GEMM per layer for all `k`).
//!
//! - GGN: `u = (∂²L/∂z²) R{z}`; for cross-entropy, per sample `(diag p − p pᵀ) R{z}_n / N`; for
//!   MSE `2 R{z} / (N·C)`.
//! - Empirical Fisher: with `g_n = ∇_{z_n} ℓ_n = N ∂L/∂z_n` (ℓ_n the sample's loss under the same
//!   reduction, so `L = (1/N) Σ ℓ_n`), `u_n = (g_n · R{z}_n) g_n / N`, and
//!   `Jᵀ u = (1/N) Σ_n ∇ℓ_n (∇ℓ_n · v)`.
//!
//! Training-mode batch norm couples the samples: `J` is then the Jacobian of all `N` outputs,
//! the couplings included, and both formulas hold as they stand (the R-forward projects the
//! tangents as the batch statistics do, and the transposed pass applies the adjoint projection).
//!
//! The forward pass and the head at the last point are cached, so Lanczos, trace and density
//! estimates pay one R-forward and one transposed pass per product, never a second-order term.

use super::layers::Layer;
use super::mat::{gemm, slice_view, view, view_mut};
use super::objective::NetLoss;
use super::passes::{Forward, Head};
use crate::curvature::{dense_from_products, Chunk, Curvature};
use crate::error::{Error, Result};
use crate::nn::LossKind;
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Most directions one blocked pass takes.
const BLOCK: usize = 16;
/// Largest `k·N x width` matrix, in bytes, one block may hold.
const BLOCK_BYTES: usize = 8 << 20;

/// The GGN or the empirical Fisher of a [`NetLoss`], as an operator: [`Hvp`] multiplies by the
/// chosen matrix, [`Hessian`] forms it densely (from blocked products), [`Loss`] and
/// [`Gradient`] are the loss's own.
#[derive(Debug)]
pub struct NetGaussNewton<'a> {
    loss: &'a NetLoss,
    curvature: Curvature,
    cache: Mutex<Option<Arc<Primal>>>,
}

/// The first-order passes at one point.
struct Primal {
    params: Vec<f64>,
    fwd: Forward,
    head: Head,
}

impl std::fmt::Debug for Primal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Primal")
    }
}

impl<'a> NetGaussNewton<'a> {
    /// The `curvature` (GGN or empirical Fisher) of `loss`.
    ///
    /// # Errors
    /// [`Curvature::Hessian`]: the Hessian is [`NetLoss`]'s own product.
    pub fn new(loss: &'a NetLoss, curvature: Curvature) -> Result<Self> {
        if curvature == Curvature::Hessian {
            return Err(Error::invalid(
                "curvature",
                "the Hessian is the loss's own product; NetGaussNewton gives ggn or empirical-fisher",
            ));
        }
        Ok(NetGaussNewton {
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
        let (fwd, head) = self.loss.first_order_pass(params)?;
        let p = Arc::new(Primal {
            params: params.to_vec(),
            fwd,
            head,
        });
        *c = Some(Arc::clone(&p));
        Ok(p)
    }

    /// The products for the `k` directions `v` (column-major) into `out` (overwritten).
    fn block(&self, p: &Primal, v: &[f64], k: usize, out: &mut [f64]) {
        let params = p.params.as_slice();
        let rz = r_forward(
            self.loss.layers(),
            self.loss.layer_offsets(),
            params,
            &p.fwd,
            v,
            k,
        );
        let u = match self.curvature {
            Curvature::EmpiricalFisher => fisher_head(&p.head, &rz, k),
            _ => gauss_newton_head(&p.head, self.loss.kind(), &rz, k),
        };
        out.fill(0.0);
        transposed_pass(
            self.loss.layers(),
            self.loss.layer_offsets(),
            params,
            &p.fwd,
            u,
            k,
            out,
        );
    }
}

/// `m ⊙ tile(f)` for `m` (`kN x w`) and `f` (`N x w`).
fn tile_mul(m: &DMatrix<f64>, f: &DMatrix<f64>) -> DMatrix<f64> {
    let n = f.nrows().max(1);
    let kn = m.nrows().max(1);
    let mut out = m.clone();
    for (oc, fc) in out
        .as_mut_slice()
        .chunks_exact_mut(kn)
        .zip(f.as_slice().chunks_exact(n))
    {
        for ob in oc.chunks_exact_mut(n) {
            ob.iter_mut().zip(fc).for_each(|(o, x)| *o *= x);
        }
    }
    out
}

/// `P(u) = u − mean(u) − x̂·mean(x̂ ⊙ u)`: the train-mode batch-norm projection (self-adjoint).
fn project(u: &[f64], xh: &[f64], out: &mut [f64]) {
    let n = u.len() as f64;
    let mu = u.iter().sum::<f64>() / n;
    let mxu = xh.iter().zip(u).map(|(a, b)| a * b).sum::<f64>() / n;
    for ((o, &ui), &x) in out.iter_mut().zip(u).zip(xh) {
        *o = ui - mu - x * mxu;
    }
}

/// `R{z} = J v` for the `k` dense directions `v` (`n_params x k`, column-major): `kN x C`.
fn r_forward(
    layers: &[Layer],
    offsets: &[usize],
    params: &[f64],
    fwd: &Forward,
    v: &[f64],
    k: usize,
) -> DMatrix<f64> {
    let np = params.len();
    let n = fwd.input_of(0).nrows();
    let kn = k * n;
    let mut r: Option<DMatrix<f64>> = None;
    for (i, layer) in layers.iter().enumerate() {
        let off = offsets[i];
        let a = fwd.input_of(i);
        r = match layer {
            Layer::Linear { n_in, n_out } => {
                let (n_in, n_out) = (*n_in, *n_out);
                let nw = n_in * n_out;
                let mut out = DMatrix::zeros(kn, n_out);
                if let Some(ri) = &r {
                    gemm(
                        view_mut(&mut out),
                        view(ri),
                        slice_view(&params[off..off + nw], n_in, n_out),
                        false,
                    );
                }
                for j in 0..k {
                    let vj = &v[j * np + off..j * np + off + nw + n_out];
                    gemm(
                        view_mut(&mut out).subrows_mut(j * n, n),
                        view(a),
                        slice_view(&vj[..nw], n_in, n_out),
                        true,
                    );
                    for c in 0..n_out {
                        let b = vj[nw + c];
                        out.as_mut_slice()[c * kn + j * n..c * kn + j * n + n]
                            .iter_mut()
                            .for_each(|x| *x += b);
                    }
                }
                Some(out)
            }
            Layer::Activation(_) => {
                r.map(|ri| tile_mul(&ri, fwd.slope_of(i).expect("an activation keeps its slope")))
            }
            Layer::BatchNorm { n: w, .. } => {
                let w = *w;
                let (xhat, s, train) = fwd.batch_norm_of(i).expect("a batch norm keeps x̂");
                let mut out = DMatrix::zeros(kn, w);
                let mut tmp = vec![0.0; n];
                for c in 0..w {
                    let xh = &xhat.as_slice()[c * n..(c + 1) * n];
                    let gs = params[off + c] * s[c];
                    for j in 0..k {
                        let base = c * kn + j * n;
                        let (vg, vb) = (v[j * np + off + c], v[j * np + off + w + c]);
                        match &r {
                            Some(ri) => {
                                let rz = &ri.as_slice()[base..base + n];
                                if train {
                                    project(rz, xh, &mut tmp);
                                } else {
                                    tmp.copy_from_slice(rz);
                                }
                            }
                            None => tmp.fill(0.0),
                        }
                        let dst = &mut out.as_mut_slice()[base..base + n];
                        for q in 0..n {
                            dst[q] = gs * tmp[q] + xh[q] * vg + vb;
                        }
                    }
                }
                Some(out)
            }
        };
    }
    r.unwrap_or_else(|| DMatrix::zeros(kn, fwd.output().ncols()))
}

/// `(∂²L/∂z²) R{z}` per sample, for each of the `k` stacked blocks of `rz`.
fn gauss_newton_head(head: &Head, kind: LossKind, rz: &DMatrix<f64>, k: usize) -> DMatrix<f64> {
    let (kn, c) = rz.shape();
    let n = kn / k.max(1);
    let mut u = DMatrix::zeros(kn, c);
    match (kind, head.probs()) {
        (LossKind::CrossEntropy, Some(p)) => {
            let inv = 1.0 / n as f64;
            for j in 0..k {
                for s in 0..n {
                    let row = j * n + s;
                    let pr: f64 = (0..c).map(|q| p[(s, q)] * rz[(row, q)]).sum();
                    for q in 0..c {
                        u[(row, q)] = p[(s, q)] * (rz[(row, q)] - pr) * inv;
                    }
                }
            }
        }
        _ => {
            let f = 2.0 / (n * c) as f64;
            u.as_mut_slice()
                .iter_mut()
                .zip(rz.as_slice())
                .for_each(|(d, z)| *d = z * f);
        }
    }
    u
}

/// `(g_n · R{z}_n) g_n / N` with `g_n = N ∂L/∂z_n`, i.e. `N (G_n · R{z}_n) G_n` for the head's
/// gradient `G`.
fn fisher_head(head: &Head, rz: &DMatrix<f64>, k: usize) -> DMatrix<f64> {
    let (kn, c) = rz.shape();
    let n = kn / k.max(1);
    let g = &head.grad;
    let mut u = DMatrix::zeros(kn, c);
    for j in 0..k {
        for s in 0..n {
            let row = j * n + s;
            let d: f64 = (0..c).map(|q| g[(s, q)] * rz[(row, q)]).sum::<f64>() * n as f64;
            for q in 0..c {
                u[(row, q)] = d * g[(s, q)];
            }
        }
    }
    u
}

/// `Jᵀ u` for the `k` stacked output cotangents `u` (`kN x C`), added into `out`
/// (`n_params x k`, column-major).
fn transposed_pass(
    layers: &[Layer],
    offsets: &[usize],
    params: &[f64],
    fwd: &Forward,
    u: DMatrix<f64>,
    k: usize,
    out: &mut [f64],
) {
    let np = params.len();
    let n = fwd.input_of(0).nrows();
    let kn = k * n;
    let first_param = layers
        .iter()
        .position(|l| l.n_params() > 0)
        .unwrap_or(layers.len());
    let mut g = u;
    for i in (0..layers.len()).rev() {
        let off = offsets[i];
        let a = fwd.input_of(i);
        let need_in = i > first_param;
        let next = match &layers[i] {
            Layer::Linear { n_in, n_out } => {
                let (n_in, n_out) = (*n_in, *n_out);
                let nw = n_in * n_out;
                // aᵀ g over all directions at once: g read as N x (n_out·k), columns
                // output-major, so column o·k + j is direction j's output o.
                let mut t = DMatrix::zeros(n_in, n_out * k);
                gemm(
                    view_mut(&mut t),
                    view(a).transpose(),
                    slice_view(g.as_slice(), n, n_out * k),
                    false,
                );
                for j in 0..k {
                    let col = &mut out[j * np + off..j * np + off + nw + n_out];
                    for o in 0..n_out {
                        let src = &t.as_slice()[(o * k + j) * n_in..(o * k + j + 1) * n_in];
                        col[o * n_in..(o + 1) * n_in]
                            .iter_mut()
                            .zip(src)
                            .for_each(|(d, s)| *d += s);
                        col[nw + o] += g.as_slice()[o * kn + j * n..o * kn + j * n + n]
                            .iter()
                            .sum::<f64>();
                    }
                }
                need_in.then(|| {
                    let mut gin = DMatrix::zeros(kn, n_in);
                    let wt = slice_view(&params[off..off + nw], n_in, n_out);
                    gemm(view_mut(&mut gin), view(&g), wt.transpose(), false);
                    gin
                })
            }
            Layer::Activation(_) => need_in
                .then(|| tile_mul(&g, fwd.slope_of(i).expect("an activation keeps its slope"))),
            Layer::BatchNorm { n: w, .. } => {
                let w = *w;
                let (xhat, s, train) = fwd.batch_norm_of(i).expect("a batch norm keeps x̂");
                let mut gin = DMatrix::zeros(if need_in { kn } else { 0 }, w);
                let mut tmp = vec![0.0; n];
                for c in 0..w {
                    let xh = &xhat.as_slice()[c * n..(c + 1) * n];
                    let gs = params[off + c] * s[c];
                    for j in 0..k {
                        let base = c * kn + j * n;
                        let gy = &g.as_slice()[base..base + n];
                        out[j * np + off + c] += gy.iter().zip(xh).map(|(a, b)| a * b).sum::<f64>();
                        out[j * np + off + w + c] += gy.iter().sum::<f64>();
                        if !need_in {
                            continue;
                        }
                        if train {
                            project(gy, xh, &mut tmp);
                        } else {
                            tmp.copy_from_slice(gy);
                        }
                        let dst = &mut gin.as_mut_slice()[base..base + n];
                        dst.iter_mut().zip(&tmp).for_each(|(d, t)| *d = gs * t);
                    }
                }
                need_in.then_some(gin)
            }
        };
        match next {
            Some(x) => g = x,
            None => break,
        }
    }
}

impl Loss for NetGaussNewton<'_> {
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

impl Gradient for NetGaussNewton<'_> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss.gradient(params, out)
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        self.loss.loss_and_gradient(params, out)
    }
}

impl Hvp for NetGaussNewton<'_> {
    /// The product with the GGN or the empirical Fisher (the trait's name is the Hessian's,
    /// so every consumer of products takes this operator unchanged).
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvp_many(params, v, 1, out)
    }

    /// Blocks of up to 16 directions (fewer when `N x width` is large, so a block's matrices
    /// stay under 8 MiB), at least one block per thread, the blocks in parallel.
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
        let x = p.fwd.input_of(0);
        let width = self.loss.layers().iter().fold(x.ncols(), |w, l| match l {
            Layer::Linear { n_in, n_out } => w.max(*n_in).max(*n_out),
            _ => w,
        });
        let bytes_per_dir = (x.nrows() * width * std::mem::size_of::<f64>()).max(1);
        let cap = (BLOCK_BYTES / bytes_per_dir).clamp(1, BLOCK);
        let blocks = k.div_ceil(cap).max(rayon::current_num_threads()).min(k);
        let per = k.div_ceil(blocks);
        vs.par_chunks(n * per)
            .zip(out.par_chunks_mut(n * per))
            .for_each(|(v, o)| self.block(&p, v, v.len() / n, o));
        crate::error::ensure_finite("curvature product", out)
    }
}

impl Hessian for NetGaussNewton<'_> {
    /// The dense GGN or empirical Fisher from blocked products with the unit vectors.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        dense_from_products(self, params)
    }
}

impl Chunk for NetGaussNewton<'_> {
    fn n_samples(&self) -> usize {
        self.loss.n_samples()
    }
    fn forget_point(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.loss.forget_point();
    }
}

/// The `curvature` operator of an MLP's loss over `parts`: one part is the whole batch (its
/// products cache the passes at the point), several are chunks of the data summed by
/// [`crate::curvature::Chunked`].
///
/// # Errors
/// No parts.
pub fn net_operator(
    parts: &[NetLoss],
    curvature: Curvature,
) -> Result<Box<dyn crate::curvature::CurvatureOperator + '_>> {
    use crate::curvature::Chunked;
    Ok(match (parts, curvature) {
        ([], _) => return Err(Error::invalid("batch size", "no data")),
        ([one], Curvature::Hessian) => Box::new(one),
        ([one], c) => Box::new(NetGaussNewton::new(one, c)?),
        (many, Curvature::Hessian) => Box::new(Chunked::new(many.iter().collect())?),
        (many, c) => Box::new(Chunked::new(
            many.iter()
                .map(|l| NetGaussNewton::new(l, c))
                .collect::<Result<Vec<_>>>()?,
        )?),
    })
}
