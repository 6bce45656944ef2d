//! The training loss of an MLP over a data set as an objective over its flat parameter vector.
//!
//! [`NetLoss`] implements [`Loss`], [`Gradient`] (backpropagation), [`Hvp`] (the exact
//! R-operator pass) and [`Hessian`] (dense, from blocks of exact Hessian-vector products in
//! parallel). Batch norm runs in the mode given at construction: evaluation (running
//! statistics, samples independent) or training (batch statistics of the whole data set).

use super::data::{Dataset, Targets};
use super::layers::{BnMode, Layer, LossKind};
use super::mat::{pooled_zeros, recycle};
use super::model::Mlp;
use super::passes::{self, Dirs, RContext};
use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Directions per block in the dense Hessian.
const BLOCK: usize = 16;

/// Largest `k·N x width` matrix, in bytes, a block of [`Hvp::hvp_many`] may allocate: the R pass
/// holds a few such matrices per layer and per thread, so this bounds its memory whatever `k`.
const BLOCK_BYTES: usize = 8 << 20;

/// Fewest samples in a part: below twice this the products run on the whole data at once (a
/// part must keep the GEMMs large enough to be efficient).
const MIN_PART_ROWS: usize = 512;

/// Samples per part at most: products split the data into an even number of parts of at most
/// this many samples, whose R passes run in parallel and are summed.
const PART_ROWS: usize = 4096;

/// The mean training loss of a fixed architecture on fixed data, as a function of the
/// parameters (state_dict order, row-major).
///
/// The architecture's own parameters are ignored: every call takes `params`. Batch-norm
/// running statistics are read (evaluation mode), never updated.
#[derive(Debug, Clone)]
pub struct NetLoss {
    layers: Vec<Layer>,
    offsets: Vec<usize>,
    n_params: usize,
    names: Vec<String>,
    x: DMatrix<f64>,
    targets: Targets,
    kind: LossKind,
    mode: BnMode,
    point: PointCache,
}

/// The forward and backward passes at one point, kept for the R passes that follow there: of
/// the whole data, or of consecutive parts of it, each weighted as its share of the mean, so
/// that the parts' products sum to the whole data's.
struct Prepared {
    params: Vec<f64>,
    parts: Vec<Part>,
}

/// The passes over one part of the samples.
struct Part {
    fwd: passes::Forward,
    head: passes::Head,
    gouts: Vec<DMatrix<f64>>,
}

/// The passes at the last point a Hessian-vector product was asked for. Lanczos, power
/// iteration, trace and density estimates ask for hundreds of products at one point: each then
/// costs one R pass instead of a forward, a backward and an R pass. A clone starts empty.
#[derive(Default)]
struct PointCache(Mutex<Option<Arc<Prepared>>>);

impl Clone for PointCache {
    fn clone(&self) -> Self {
        PointCache::default()
    }
}

impl std::fmt::Debug for PointCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PointCache")
    }
}

impl NetLoss {
    /// The loss of `model`'s architecture on `data`.
    ///
    /// # Errors
    /// Features that do not match the input width, labels out of range for the output width,
    /// target columns that do not match it, a loss that does not fit the targets, no samples,
    /// or training-mode batch norm with fewer than two samples.
    pub fn new(model: &Mlp, data: &Dataset, kind: LossKind, mode: BnMode) -> Result<NetLoss> {
        NetLoss::from_parts(model, data.x.clone(), data.targets.clone(), kind, mode)
    }

    /// As [`NetLoss::new`] from a feature matrix and targets.
    ///
    /// # Errors
    /// As [`NetLoss::new`].
    pub fn from_parts(
        model: &Mlp,
        x: DMatrix<f64>,
        targets: Targets,
        kind: LossKind,
        mode: BnMode,
    ) -> Result<NetLoss> {
        let n_out = model.n_outputs();
        if x.nrows() == 0 {
            return Err(Error::Data("the data set has no samples".into()));
        }
        if x.ncols() != model.n_inputs() {
            return Err(Error::Data(format!(
                "the data has {} feature columns but the model takes {} inputs",
                x.ncols(),
                model.n_inputs()
            )));
        }
        if targets.len() != x.nrows() {
            return Err(Error::dim("targets", x.nrows(), targets.len()));
        }
        match (&targets, kind) {
            (Targets::Labels(l), LossKind::CrossEntropy) => {
                if let Some((s, &y)) = l.iter().enumerate().find(|(_, &y)| y >= n_out) {
                    return Err(Error::Data(format!(
                        "sample {}: class label {y} is out of range for a model with {n_out} outputs",
                        s + 1
                    )));
                }
            }
            (Targets::Values(v), LossKind::Mse) => {
                if v.ncols() != n_out {
                    return Err(Error::Data(format!(
                        "the data has {} target columns but the model has {n_out} outputs",
                        v.ncols()
                    )));
                }
            }
            (Targets::Labels(l), LossKind::Mse) => {
                // MSELoss against one-hot labels is the chapter's comparison with cross-entropy.
                let mut t = DMatrix::zeros(l.len(), n_out);
                for (s, &y) in l.iter().enumerate() {
                    if y >= n_out {
                        return Err(Error::Data(format!(
                            "sample {}: class label {y} is out of range for a model with {n_out} outputs",
                            s + 1
                        )));
                    }
                    t[(s, y)] = 1.0;
                }
                return NetLoss::from_parts(model, x, Targets::Values(t), kind, mode);
            }
            (Targets::Values(_), LossKind::CrossEntropy) => {
                return Err(Error::Data(
                    "cross-entropy needs class labels, the data has numeric targets".into(),
                ));
            }
        }
        if mode == BnMode::Train && model.has_batchnorm() && x.nrows() < 2 {
            return Err(Error::invalid(
                "batch",
                "batch norm in training mode needs at least 2 samples",
            ));
        }
        Ok(NetLoss {
            layers: model.layers.clone(),
            offsets: model.offsets(),
            n_params: model.n_params(),
            names: model.param_names(),
            x,
            targets,
            kind,
            mode,
            point: PointCache::default(),
        })
    }

    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// The loss kind.
    pub fn kind(&self) -> LossKind {
        self.kind
    }

    /// The batch-norm mode.
    pub fn mode(&self) -> BnMode {
        self.mode
    }

    fn forward(&self, params: &[f64], second_order: bool) -> Result<passes::Forward> {
        passes::forward(
            &self.layers,
            &self.offsets,
            params,
            &self.x,
            self.mode,
            second_order,
        )
    }

    /// Loss, gradient and the train-mode batch statistics (mean, biased variance) of each
    /// batch-norm layer, for a training step.
    pub(crate) fn loss_grad_stats(
        &self,
        params: &[f64],
        grad: &mut [f64],
    ) -> Result<(f64, passes::BatchStats)> {
        check_params(self, params)?;
        if grad.len() != self.n_params {
            return Err(Error::dim("gradient buffer", self.n_params, grad.len()));
        }
        let fwd = self.forward(params, false)?;
        let h = passes::head(fwd.output(), &self.targets, self.kind)?;
        passes::backward(
            &self.layers,
            &self.offsets,
            params,
            &fwd,
            h.grad,
            grad,
            false,
        );
        Ok((h.loss, fwd.batch_stats()))
    }

    /// `H·V` for the `k` columns of `v` (`n_params x k`) in one blocked R pass.
    ///
    /// # Errors
    /// A wrong point or block size; a non-finite loss.
    pub fn hvp_block(&self, params: &[f64], v: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        if v.nrows() != self.n_params {
            return Err(Error::dim("directions", self.n_params, v.nrows()));
        }
        let mut out = DMatrix::zeros(self.n_params, v.ncols());
        self.hvp_many(params, v.as_slice(), v.ncols(), out.as_mut_slice())?;
        Ok(out)
    }

    /// How many parts the products split the samples into: one when the data is small or
    /// train-mode batch norm couples the samples; otherwise an even number (two threads share
    /// them evenly) of at most [`PART_ROWS`] samples each. A function of the data alone, so the
    /// products' rounding does not depend on the machine.
    fn n_parts(&self) -> usize {
        let n = self.x.nrows();
        let coupled = self.mode == BnMode::Train
            && self
                .layers
                .iter()
                .any(|l| matches!(l, Layer::BatchNorm { .. }));
        if coupled || n < 2 * MIN_PART_ROWS {
            1
        } else {
            2 * n.div_ceil(2 * PART_ROWS)
        }
    }

    /// The passes over the samples `rows`, weighted as their share of the whole data's mean.
    fn prepare_part(&self, params: &[f64], rows: std::ops::Range<usize>) -> Result<Part> {
        let n = self.x.nrows();
        let whole = rows.len() == n;
        let part_x;
        let part_t;
        let (x, targets) = if whole {
            (&self.x, &self.targets)
        } else {
            part_x = self.x.rows(rows.start, rows.len()).into_owned();
            part_t = self.targets.select(&rows.collect::<Vec<_>>());
            (&part_x, &part_t)
        };
        let fwd = passes::forward(&self.layers, &self.offsets, params, x, self.mode, true)?;
        let mut head = passes::head(fwd.output(), targets, self.kind)?;
        head.share_of(n);
        let mut g = vec![0.0; self.n_params];
        let gouts = passes::backward(
            &self.layers,
            &self.offsets,
            params,
            &fwd,
            head.grad.clone(),
            &mut g,
            true,
        );
        Ok(Part { fwd, head, gouts })
    }

    /// The forward and backward passes at `params`, in `parts` parts (see
    /// [`NetLoss::n_parts`]), from the cache when it holds that point so split.
    fn prepared(&self, params: &[f64], parts: usize) -> Result<Arc<Prepared>> {
        let cached = self.point.0.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|p| p.parts.len() == parts && p.params == params)
                .cloned()
        });
        if let Some(p) = cached {
            return Ok(p);
        }
        let n = self.x.nrows();
        let parts = (0..parts)
            .into_par_iter()
            .map(|i| self.prepare_part(params, i * n / parts..(i + 1) * n / parts))
            .collect::<Result<Vec<_>>>()?;
        let p = Arc::new(Prepared {
            params: params.to_vec(),
            parts,
        });
        if let Ok(mut c) = self.point.0.lock() {
            *c = Some(Arc::clone(&p));
        }
        Ok(p)
    }

    /// What the R pass reads: the architecture and the passes of one part at `params`.
    fn r_context<'a>(&'a self, params: &'a [f64], p: &'a Part) -> RContext<'a> {
        RContext {
            layers: &self.layers,
            offsets: &self.offsets,
            params,
            fwd: &p.fwd,
            head: &p.head,
            gouts: &p.gouts,
            kind: self.kind,
        }
    }

    /// `H·V` for `k` directions stored column-major in `v`, written into `out` (zeroed first):
    /// the R-operator pass over all `k` at once on each part, the parts in parallel and
    /// summed in order.
    fn r_pass_dense(&self, params: &[f64], p: &Prepared, v: &[f64], k: usize, out: &mut [f64]) {
        let dirs = Dirs::Dense { v, k };
        out.fill(0.0);
        let (first, rest) = p.parts.split_first().expect("at least one part");
        if rest.is_empty() {
            passes::r_pass(&self.r_context(params, first), &dirs, 0, out);
            return;
        }
        let (_, others) = rayon::join(
            || passes::r_pass(&self.r_context(params, first), &dirs, 0, out),
            || {
                rest.par_iter()
                    .map(|part| {
                        let mut o = pooled_zeros(v.len(), 1);
                        passes::r_pass(&self.r_context(params, part), &dirs, 0, o.as_mut_slice());
                        o
                    })
                    .collect::<Vec<_>>()
            },
        );
        for o in others {
            out.iter_mut().zip(o.as_slice()).for_each(|(d, s)| *d += s);
            recycle(o);
        }
    }
}

impl Loss for NetLoss {
    fn n_params(&self) -> usize {
        self.n_params
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        check_params(self, params)?;
        let fwd = self.forward(params, false)?;
        Ok(passes::head(fwd.output(), &self.targets, self.kind)?.loss)
    }
    fn param_names(&self) -> Vec<String> {
        self.names.clone()
    }
}

impl Gradient for NetLoss {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(params, out).map(|_| ())
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        self.loss_grad_stats(params, out).map(|(l, _)| l)
    }
}

impl Hvp for NetLoss {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        check_params(self, params)?;
        if v.len() != self.n_params || out.len() != self.n_params {
            return Err(Error::dim(
                "direction",
                self.n_params,
                v.len().min(out.len()),
            ));
        }
        crate::error::ensure_finite("direction", v)?;
        let p = self.prepared(params, self.n_parts())?;
        self.r_pass_dense(params, &p, v, 1, out);
        Ok(())
    }

    /// Blocked R passes of up to 16 directions each (fewer when `N x width` is large, so a
    /// block's matrices stay under 8 MiB), on each part of the samples, at least one job per
    /// thread, the jobs in parallel (rayon).
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        check_params(self, params)?;
        let n = self.n_params;
        if vs.len() != n * k || out.len() != n * k {
            return Err(Error::dim("directions", n * k, vs.len().min(out.len())));
        }
        crate::error::ensure_finite("direction", vs)?;
        if n == 0 || k == 0 {
            return Ok(());
        }
        // Prepare once, outside the pool, so the blocks share the cached passes.
        let parts = self.n_parts();
        let p = self.prepared(params, parts)?;
        // At least one job (block × part) per thread; at most BLOCK directions, and BLOCK_BYTES
        // per matrix, per block.
        let width = self.layers.iter().fold(self.x.ncols(), |w, l| match l {
            Layer::Linear { n_in, n_out } => w.max(*n_in).max(*n_out),
            _ => w,
        });
        let rows = self.x.nrows().div_ceil(parts);
        let bytes_per_dir = (rows * width * std::mem::size_of::<f64>()).max(1);
        let cap = (BLOCK_BYTES / bytes_per_dir).clamp(1, BLOCK);
        let threads = rayon::current_num_threads().div_ceil(parts);
        let blocks = k.div_ceil(cap).max(threads).min(k);
        let per = k.div_ceil(blocks);
        vs.par_chunks(n * per)
            .zip(out.par_chunks_mut(n * per))
            .for_each(|(v, o)| self.r_pass_dense(params, &p, v, v.len() / n, o));
        Ok(())
    }
}

impl Hessian for NetLoss {
    /// The dense Hessian from blocks of unit-direction R passes, blocks in parallel (rayon).
    ///
    /// A column for a parameter of layer `l` is computed only in the rows of layers `l..`
    /// (its R pass starts and ends at `l`); the rows of earlier layers come from symmetry, and
    /// the diagonal blocks are averaged with their transposes, so the result is exactly
    /// symmetric.
    ///
    /// # Cost
    /// About `n/2` Hessian-vector products' worth of GEMMs, `O(n²)` memory.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        let n = self.n_params;
        let p = self.prepared(params, 1)?;
        let ctx = self.r_context(params, &p.parts[0]);
        // Blocks of consecutive columns, never crossing a layer; each writes its own columns.
        let mut hm = DMatrix::<f64>::zeros(n, n);
        let mut layer_off = vec![0usize; n];
        {
            let mut jobs: Vec<(usize, usize, &mut [f64])> = Vec::new();
            let mut rest = hm.as_mut_slice();
            for (i, l) in self.layers.iter().enumerate() {
                let off = self.offsets[i];
                layer_off[off..off + l.n_params()].fill(off);
                let mut start = off;
                while start < off + l.n_params() {
                    let len = BLOCK.min(off + l.n_params() - start);
                    let (head, tail) = std::mem::take(&mut rest).split_at_mut(n * len);
                    jobs.push((i, start, head));
                    rest = tail;
                    start += len;
                }
            }
            jobs.into_par_iter().for_each(|(layer, start, out)| {
                let idx: Vec<usize> = (start..start + out.len() / n).collect();
                passes::r_pass(&ctx, &Dirs::Unit(&idx), layer, out);
            });
        }
        // Column p holds the rows from its layer's offset on; fill the rest by symmetry and
        // average the diagonal blocks, tile by tile for the cache.
        const TILE: usize = 64;
        let s = hm.as_mut_slice();
        for pt in (0..n).step_by(TILE) {
            for rt in (0..=pt).step_by(TILE) {
                for p in pt..(pt + TILE).min(n) {
                    let off = layer_off[p];
                    for r in rt..(rt + TILE).min(p) {
                        let lower = s[r * n + p];
                        if r < off {
                            s[p * n + r] = lower;
                        } else {
                            let a = 0.5 * (s[p * n + r] + lower);
                            s[p * n + r] = a;
                            s[r * n + p] = a;
                        }
                    }
                }
            }
        }
        crate::error::ensure_finite("hessian", hm.as_slice())?;
        Ok(hm)
    }
}

/// What the Gauss–Newton operators and the chunked loss need from a [`NetLoss`].
impl NetLoss {
    /// The layers.
    pub(crate) fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Offsets of each layer's parameters in the flat vector.
    pub(crate) fn layer_offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The first-order forward pass and the loss head at `params` (no `f''`, no backward).
    pub(crate) fn first_order_pass(
        &self,
        params: &[f64],
    ) -> Result<(passes::Forward, passes::Head)> {
        check_params(self, params)?;
        let fwd = self.forward(params, false)?;
        let head = passes::head(fwd.output(), &self.targets, self.kind)?;
        Ok((fwd, head))
    }

    /// Drops the passes cached for the last point of a Hessian-vector product, so the memory
    /// they held (activations of every sample) is returned.
    pub fn forget_point(&self) {
        if let Ok(mut c) = self.point.0.lock() {
            *c = None;
        }
    }

    /// The loss of `model` on `data` as consecutive chunks of at most `batch_size` samples,
    /// for [`crate::curvature::Chunked`], which sums them to the whole batch's loss.
    ///
    /// # Errors
    /// A zero batch size; training-mode batch norm (its statistics couple all samples, so a
    /// chunk's loss is not a part of the whole batch's); otherwise as [`NetLoss::new`].
    pub fn chunks(
        model: &Mlp,
        data: &Dataset,
        kind: LossKind,
        mode: BnMode,
        batch_size: usize,
    ) -> Result<Vec<NetLoss>> {
        if batch_size == 0 {
            return Err(Error::invalid("batch size", "must be at least 1, got 0"));
        }
        if mode == BnMode::Train && model.has_batchnorm() {
            return Err(Error::Unsupported(
                "data in chunks with batch norm in train mode: the batch statistics couple every sample, so the loss does not split into chunks; use evaluation-mode batch norm or the whole batch".into(),
            ));
        }
        let n = data.n_samples();
        (0..n)
            .step_by(batch_size)
            .map(|start| {
                let idx: Vec<usize> = (start..(start + batch_size).min(n)).collect();
                let (x, t) = data.select(&idx);
                NetLoss::from_parts(model, x, t, kind, mode)
            })
            .collect()
    }
}

impl crate::curvature::Chunk for NetLoss {
    fn n_samples(&self) -> usize {
        self.x.nrows()
    }
    fn forget_point(&self) {
        NetLoss::forget_point(self)
    }
}
