//! The loss of a graph over a data set as a function of its parameters, with the exact gradient
//! (backpropagation), Hessian-vector products (the R-operator, many directions per pass) and
//! the dense Hessian (parallel blocks of unit directions, the rows of earlier tensors from
//! symmetry).

use super::data::{GraphData, GraphTargets};
use super::graph::{Forward, Graph, TensorOrder, UnitBlock};
use super::tensor::{recycle_all, zeroed, Tensor};
use crate::error::{Error, Result};
use crate::nn::LossKind;
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// Bytes of tangents one R pass may hold; wider blocks of directions are split.
const BLOCK_BYTES: usize = 64 << 20;

/// Values of one forward pass over a chunk of samples aimed at, when the graph keeps samples
/// apart: chunks large enough that their matrix products run near the GEMM's peak, small
/// enough that a chunk's values stay in cache.
const CHUNK_VALUES: usize = 1 << 18;

/// Fewest samples per chunk (unless the data has fewer): below this the per-op overhead of a
/// pass outweighs its arithmetic.
const MIN_CHUNK: usize = 64;

/// Most samples per chunk.
const MAX_CHUNK: usize = 1024;

/// Parallel partial sums over the chunks (a fixed count, so that the result has the same bytes
/// on any number of threads).
pub(crate) const LANES: usize = 8;

/// Hessian columns per block of the dense build: enough directions per pass for the GEMMs,
/// and many blocks for the threads (on the digits MLPs 16 is as fast as 32 and faster than 8).
const DENSE_BLOCK: usize = 16;

/// Most bytes of lane sums a loss keeps between calls.
const LANE_BYTES: usize = 64 << 20;

/// Entries of the products summed per task when the lanes' sums are added.
const SUM_STRIDE: usize = 1 << 14;

/// The mean loss of a graph's output over a data set.
#[derive(Debug)]
pub struct GraphLoss<'a> {
    graph: Cow<'a, Graph>,
    data: Cow<'a, GraphData>,
    kind: LossKind,
    /// The data in chunks of samples (one chunk when the graph mixes samples).
    chunks: Vec<GraphData>,
    /// Elements of all values of one forward pass over one chunk (sizes the blocks of
    /// directions).
    pass_len: usize,
    /// The primal passes at the last point of a Hessian-vector product: Lanczos, trace and
    /// density estimates then pay one R pass per product.
    cache: Mutex<Option<(Vec<f64>, Arc<Primal>)>>,
    /// The lanes' sums of products, kept between calls (fresh pages cost more than the sums).
    lanes: Mutex<Vec<Vec<f64>>>,
}

/// The forward pass, the loss head and the adjoints at one point, per chunk of samples.
#[derive(Debug)]
struct Primal {
    chunks: Vec<ChunkPrimal>,
}

/// The primal passes over one chunk.
#[derive(Debug)]
struct ChunkPrimal {
    fw: Forward,
    head: Head,
    adj: Vec<Option<Tensor>>,
}

/// A chunk's forward pass, loss head and adjoints.
pub(crate) type FirstOrder = (Forward, Head, Vec<Option<Tensor>>);

/// The loss value, the output's adjoint, and what the output's second-order term needs.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) loss: f64,
    pub(crate) grad: Tensor,
    /// Softmax probabilities (cross-entropy).
    probs: Option<Vec<f64>>,
}

impl<'a> GraphLoss<'a> {
    /// The loss of `graph` on `data`.
    ///
    /// # Errors
    /// The data do not fit the graph: input shape, output shape against the targets, labels
    /// out of range for the output width, or a loss that does not fit the targets.
    pub fn new(graph: &'a Graph, data: &'a GraphData, kind: LossKind) -> Result<Self> {
        Self::from_cow(Cow::Borrowed(graph), Cow::Borrowed(data), kind)
    }

    /// As [`GraphLoss::new`], owning the graph and the data: for objectives that keep their
    /// model and data inside (an MLP's [`NetLoss`](crate::nn::NetLoss)).
    ///
    /// # Errors
    /// As [`GraphLoss::new`].
    pub fn owned(graph: Graph, data: GraphData, kind: LossKind) -> Result<GraphLoss<'static>> {
        GraphLoss::from_cow(Cow::Owned(graph), Cow::Owned(data), kind)
    }

    /// As [`GraphLoss::new`] on a borrowed graph and owned data: one model over many batches.
    ///
    /// # Errors
    /// As [`GraphLoss::new`].
    pub fn with_data(graph: &'a Graph, data: GraphData, kind: LossKind) -> Result<Self> {
        Self::from_cow(Cow::Borrowed(graph), Cow::Owned(data), kind)
    }

    fn from_cow(graph: Cow<'a, Graph>, data: Cow<'a, GraphData>, kind: LossKind) -> Result<Self> {
        if let Some(dims) = graph.input_dims() {
            let got = &data.x.shape[1..];
            let fits = dims.len() == got.len()
                && dims.iter().zip(got).all(|(d, g)| d.is_none_or(|d| d == *g));
            if !fits {
                let want: Vec<String> = dims
                    .iter()
                    .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
                    .collect();
                return Err(Error::Data(format!(
                    "the model's input is [N, {}], the data's x is {:?}",
                    want.join(", "),
                    data.x.shape
                )));
            }
        }
        let probe = GraphData::new(
            data.x.direction(0).with_batch(),
            match &data.y {
                GraphTargets::Labels(l) => GraphTargets::Labels(l[..1].to_vec()),
                GraphTargets::Values(t) => GraphTargets::Values(t.direction(0).with_batch()),
            },
        )?;
        let fw = graph.forward(graph.initial_params(), &probe.x)?;
        let out = fw.output(&graph);
        let per_sample: usize = fw.vals.iter().map(Tensor::len).sum();
        let mut batched_per_sample = per_sample;
        let separable = data.n_samples() > 1 && {
            let two = slice_data(&data, 0, 2)?;
            let fw2 = graph.forward(graph.initial_params(), &two.x)?;
            batched_per_sample = fw
                .vals
                .iter()
                .zip(&fw2.vals)
                .filter(|(a, b)| a.shape != b.shape)
                .map(|(a, _)| a.len())
                .sum();
            graph.separable_over_samples(&fw, &fw2)
        };
        let bounds = if separable {
            chunk_bounds(data.n_samples(), batched_per_sample)
        } else {
            vec![(0, data.n_samples())]
        };
        let chunk = bounds.iter().map(|(a, b)| b - a).max().unwrap_or(0);
        let pass_len = per_sample.saturating_mul(chunk.min(data.n_samples()));
        match (&data.y, kind) {
            (GraphTargets::Labels(l), LossKind::CrossEntropy) => {
                if out.rank() != 2 {
                    return Err(Error::Data(format!(
                        "cross-entropy needs logits [N, C]; the model's output has shape {:?}",
                        out.shape
                    )));
                }
                let c = out.shape[1];
                if let Some((i, &bad)) = l.iter().enumerate().find(|(_, &v)| v >= c) {
                    return Err(Error::Data(format!(
                        "label {bad} of sample {i} is out of range for the model's {c} outputs"
                    )));
                }
            }
            (GraphTargets::Values(t), LossKind::Mse) => {
                if t.shape[1..] != out.shape[1..] {
                    return Err(Error::Data(format!(
                        "the targets y have shape {:?}, the model's output {:?}",
                        t.shape, out.shape
                    )));
                }
            }
            (GraphTargets::Labels(_), LossKind::Mse) => {
                return Err(Error::Data(
                    "mse needs float targets y [N, k]; the data has int64 labels".into(),
                ))
            }
            (GraphTargets::Values(_), LossKind::CrossEntropy) => {
                return Err(Error::Data(
                    "cross-entropy needs int64 labels y [N]; the data has float targets".into(),
                ))
            }
        }
        let chunks = if separable {
            bounds
                .iter()
                .map(|&(n0, n1)| slice_data(&data, n0, n1))
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![data.as_ref().clone()]
        };
        Ok(GraphLoss {
            graph,
            data,
            kind,
            chunks,
            pass_len,
            cache: Mutex::new(None),
            lanes: Mutex::new(Vec::new()),
        })
    }

    /// The loss applied to the output.
    pub fn kind(&self) -> LossKind {
        self.kind
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The fraction of samples whose largest logit is the label (classification only).
    pub fn accuracy(&self, params: &[f64]) -> Result<Option<f64>> {
        let GraphTargets::Labels(l) = &self.data.y else {
            return Ok(None);
        };
        check_params(self, params)?;
        let fw = self.graph.forward(params, &self.data.x)?;
        let hits = hits(fw.output(&self.graph), l);
        fw.recycle();
        Ok(Some(hits as f64 / l.len() as f64))
    }

    /// The loss and (classification only) the accuracy at `params` from one forward pass over
    /// the chunks, as a training run's evaluation needs both.
    ///
    /// # Errors
    /// As [`Loss::loss`].
    pub fn loss_and_accuracy(&self, params: &[f64]) -> Result<(f64, Option<f64>)> {
        check_params(self, params)?;
        let parts = self.over_chunks(|part| {
            let (fw, head) = self.chunk_pass(params, part)?;
            let h = match &part.y {
                GraphTargets::Labels(l) => hits(fw.output(&self.graph), l),
                GraphTargets::Values(_) => 0,
            };
            fw.recycle();
            Ok((head.loss, h))
        })?;
        let loss = Self::finite(parts.iter().map(|p| p.0).sum())?;
        let accuracy = matches!(self.data.y, GraphTargets::Labels(_)).then(|| {
            parts.iter().map(|p| p.1).sum::<usize>() as f64 / self.data.n_samples() as f64
        });
        Ok((loss, accuracy))
    }

    /// The loss head of one chunk: its output `z` against its targets `y`, scaled as a part of
    /// the mean over the whole data set.
    fn head(&self, z: &Tensor, y: &GraphTargets) -> Result<Head> {
        loss_head(z, y, self.data.n_samples())
    }

    /// `(∂²L/∂z²)·R{z}` for a block of output tangents.
    fn head_r(&self, z: &Tensor, head: &Head, rz: Option<&Tensor>, k: usize) -> Tensor {
        let mut shape = vec![k];
        shape.extend_from_slice(&z.shape);
        let Some(rz) = rz else {
            return Tensor {
                shape,
                data: vec![0.0; k * z.len()],
            };
        };
        let n = self.data.n_samples() as f64;
        let data = match &head.probs {
            Some(p) => {
                let c = z.shape[1];
                let mut out = zeroed(rz.len());
                for (o, r) in out
                    .chunks_exact_mut(z.len())
                    .zip(rz.data.chunks_exact(z.len()))
                {
                    for ((orow, rrow), prow) in o
                        .chunks_exact_mut(c)
                        .zip(r.chunks_exact(c))
                        .zip(p.chunks_exact(c))
                    {
                        let dot: f64 = rrow.iter().zip(prow).map(|(a, b)| a * b).sum();
                        for j in 0..c {
                            orow[j] = prow[j] * (rrow[j] - dot) / n;
                        }
                    }
                }
                out
            }
            None => {
                let m = output_len(z, self.data.n_samples());
                rz.data.iter().map(|r| 2.0 * r / m).collect()
            }
        };
        Tensor { shape, data }
    }

    /// The forward pass and the loss head of one chunk.
    fn chunk_pass(&self, params: &[f64], part: &GraphData) -> Result<(Forward, Head)> {
        let fw = self.graph.forward(params, &part.x)?;
        let head = self.head(fw.output(&self.graph), &part.y)?;
        Ok((fw, head))
    }

    /// `f` over the chunks in parallel, its results in chunk order.
    fn over_chunks<T: Send>(
        &self,
        f: impl Fn(&GraphData) -> Result<T> + Sync + Send,
    ) -> Result<Vec<T>> {
        self.chunks.par_iter().map(f).collect()
    }

    fn finite(loss: f64) -> Result<f64> {
        if loss.is_finite() {
            Ok(loss)
        } else {
            Err(Error::NonFinite(format!(
                "the loss is not finite ({loss}) at these parameters"
            )))
        }
    }

    /// The kept primal passes, when they are at `params`.
    fn cached_primal(&self, params: &[f64]) -> Option<Arc<Primal>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|(p, _)| p.as_slice() == params)
            .map(|(_, pr)| Arc::clone(pr))
    }

    /// The primal passes at `params`, from the cache when the point is the last one.
    fn primal(&self, params: &[f64]) -> Result<Arc<Primal>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, pr)) = cache.as_ref() {
            if p.as_slice() == params {
                return Ok(Arc::clone(pr));
            }
        }
        check_params(self, params)?;
        let chunks = self.over_chunks(|part| {
            let (mut fw, head) = self.chunk_pass(params, part)?;
            let adj = self.graph.backward(&fw, head.grad.clone())?;
            self.graph.keep_second_order_weights(&mut fw, &adj);
            Ok(ChunkPrimal { fw, head, adj })
        })?;
        Self::finite(chunks.iter().map(|c| c.head.loss).sum())?;
        let pr = Arc::new(Primal { chunks });
        *cache = Some((params.to_vec(), Arc::clone(&pr)));
        Ok(pr)
    }

    /// The widest block of directions one R pass takes.
    fn block_width(&self) -> usize {
        (BLOCK_BYTES / 8 / self.pass_len.max(1)).clamp(1, 64)
    }

    /// The `k` products (column-major `n x k`) for the directions `vs`: the R passes over
    /// every chunk, summed in a fixed order.
    fn hvp_block(&self, pr: &Primal, vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let lanes = pr.chunks.len().min(LANES);
        if lanes <= 1 {
            return match pr.chunks.first() {
                Some(c) => self.chunk_hvp(c, vs, k, out),
                None => Ok(()),
            };
        }
        let len = out.len();
        let parts = (0..lanes)
            .into_par_iter()
            .map(|lane| {
                let mut acc = self.lane_buffer(len);
                let mut part = Vec::new();
                for (i, c) in pr.chunks.iter().skip(lane).step_by(lanes).enumerate() {
                    if i == 0 {
                        self.chunk_hvp(c, vs, k, &mut acc)?;
                        continue;
                    }
                    if part.is_empty() {
                        part = self.lane_buffer(len);
                    }
                    self.chunk_hvp(c, vs, k, &mut part)?;
                    crate::kernels::add(&mut acc, &part);
                }
                self.return_lane_buffer(part);
                Ok(acc)
            })
            .collect::<Result<Vec<_>>>()?;
        // The lanes' sums added in lane order, element by element, the elements in parallel.
        out.par_chunks_mut(SUM_STRIDE)
            .enumerate()
            .for_each(|(i, o)| {
                let at = i * SUM_STRIDE;
                o.copy_from_slice(&parts[0][at..at + o.len()]);
                for p in &parts[1..] {
                    crate::kernels::add(o, &p[at..]);
                }
            });
        parts.into_iter().for_each(|p| self.return_lane_buffer(p));
        Ok(())
    }

    /// A buffer of `len` values for a lane's sum, reused across calls. Its values are those
    /// of its last use: [`Graph::collect_hvp`] writes every entry.
    fn lane_buffer(&self, len: usize) -> Vec<f64> {
        let mut pool = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = match pool.iter().position(|b| b.capacity() >= len) {
            Some(i) => pool.swap_remove(i),
            None => Vec::with_capacity(len),
        };
        crate::buffer_pool::set_len_keeping(&mut v, len);
        v
    }

    /// Keeps a lane's buffer for the next call: at most [`LANES`] + 1 of them, the largest,
    /// and [`LANE_BYTES`] in all, so that a loss kept after wide blocks holds little.
    fn return_lane_buffer(&self, v: Vec<f64>) {
        if v.capacity() == 0 {
            return;
        }
        let mut pool = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        pool.push(v);
        pool.sort_by_key(|b| std::cmp::Reverse(b.capacity()));
        pool.truncate(LANES + 1);
        while pool.iter().map(|b| b.capacity() * 8).sum::<usize>() > LANE_BYTES {
            pool.remove(0);
        }
    }

    /// The R passes over one chunk.
    fn chunk_hvp(&self, c: &ChunkPrimal, vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let rv = self.graph.r_forward(&c.fw, vs, k)?;
        let z = c.fw.output(&self.graph);
        let rz = rv[self.graph.output_id()].as_ref();
        let rg = self.head_r(z, &c.head, rz, k);
        let radj = self.graph.r_backward(&c.fw, &c.adj, &rv, rg, k)?;
        self.graph.collect_hvp(&radj, k, out);
        recycle_all(rv);
        recycle_all(radj);
        Ok(())
    }
}

/// The samples whose largest logit in `z` (`[N, classes]`) is their label.
fn hits(z: &Tensor, labels: &[usize]) -> usize {
    let c = z.shape[1];
    z.data
        .chunks_exact(c)
        .zip(labels)
        .filter(|(row, &y)| {
            let best = (0..c).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            best == y
        })
        .count()
}

/// Elements of the whole data set's output (the mean squared error's divisor), from one
/// chunk's output `z` and the data set's `n` samples.
fn output_len(z: &Tensor, n: usize) -> f64 {
    let per = z.len() / z.shape.first().copied().unwrap_or(1).max(1);
    (per * n) as f64
}

/// The loss head of an output `z` against its targets `y` (labels: cross-entropy; values: the
/// mean squared error), scaled as a part of the mean over `n` samples.
fn loss_head(z: &Tensor, y: &GraphTargets, n: usize) -> Result<Head> {
    match y {
        GraphTargets::Labels(labels) => {
            let c = z.shape[1];
            let mut loss = 0.0;
            let mut grad = vec![0.0; z.len()];
            let mut probs = vec![0.0; z.len()];
            for ((row, &y), (p, g)) in z
                .data
                .chunks_exact(c)
                .zip(labels)
                .zip(probs.chunks_exact_mut(c).zip(grad.chunks_exact_mut(c)))
            {
                let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                p.iter_mut().zip(row).for_each(|(p, v)| *p = (v - m).exp());
                let s: f64 = p.iter().sum();
                loss += m + s.ln() - row[y];
                for (j, (p, g)) in p.iter_mut().zip(g.iter_mut()).enumerate() {
                    *p /= s;
                    *g = (*p - f64::from(u8::from(j == y))) / n as f64;
                }
            }
            let loss = loss / n as f64;
            Ok(Head {
                loss,
                grad: Tensor::new(z.shape.clone(), grad)?,
                probs: Some(probs),
            })
        }
        GraphTargets::Values(t) => {
            let m = output_len(z, n);
            let loss = z
                .data
                .iter()
                .zip(&t.data)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                / m;
            let grad = z
                .data
                .iter()
                .zip(&t.data)
                .map(|(a, b)| 2.0 * (a - b) / m)
                .collect();
            Ok(Head {
                loss,
                grad: Tensor::new(z.shape.clone(), grad)?,
                probs: None,
            })
        }
    }
}

/// The loss of `graph` on one batch, its gradient written into `grad`, and the forward pass
/// (which holds the batch statistics of training-mode batch norm): one forward and one backward
/// pass, without the probe passes and chunks a [`GraphLoss`] sets up once for many evaluations.
/// For training's mini-batches, whose data the caller has checked against the graph.
pub(crate) fn batch_loss_and_gradient(
    graph: &Graph,
    data: &GraphData,
    params: &[f64],
    grad: &mut [f64],
) -> Result<(f64, Forward)> {
    if grad.len() != graph.n_params() {
        return Err(Error::dim("gradient", graph.n_params(), grad.len()));
    }
    let fw = graph.forward(params, &data.x)?;
    let Head { loss, grad: g, .. } = loss_head(fw.output(graph), &data.y, data.n_samples())?;
    let adj = graph.backward(&fw, g)?;
    graph.collect_grad(&adj, grad);
    recycle_all(adj);
    Ok((loss, fw))
}

/// The chunks of `n` samples, each of `per_sample` values in a forward pass, as consecutive
/// ranges of nearly equal length: about [`CHUNK_VALUES`] values each, within
/// [`MIN_CHUNK`]..=[`MAX_CHUNK`] samples, at least [`LANES`] chunks when the data has that many
/// minimal chunks, and a multiple of [`LANES`] beyond, so that the lanes carry equal work. A
/// function of the data's size and the graph alone, so the sums' rounding is the same on any
/// machine.
fn chunk_bounds(n: usize, per_sample: usize) -> Vec<(usize, usize)> {
    let target = (CHUNK_VALUES / per_sample.max(1)).clamp(MIN_CHUNK, MAX_CHUNK);
    let mut count = n.div_ceil(target).max(LANES.min(n.div_ceil(MIN_CHUNK)));
    if count > LANES {
        count = count.next_multiple_of(LANES);
    }
    let count = count.clamp(1, n.max(1));
    (0..count)
        .map(|i| (i * n / count, (i + 1) * n / count))
        .collect()
}

/// Samples `n0 .. n1` of `data`.
fn slice_data(data: &GraphData, n0: usize, n1: usize) -> Result<GraphData> {
    let rows = |t: &Tensor| {
        let per = t.len() / t.shape[0].max(1);
        let mut shape = t.shape.clone();
        shape[0] = n1 - n0;
        Tensor::new(shape, t.data[n0 * per..n1 * per].to_vec())
    };
    let y = match &data.y {
        GraphTargets::Labels(l) => GraphTargets::Labels(l[n0..n1].to_vec()),
        GraphTargets::Values(t) => GraphTargets::Values(rows(t)?),
    };
    GraphData::new(rows(&data.x)?, y)
}

impl Tensor {
    /// A one-sample tensor `[1, shape...]`.
    fn with_batch(mut self) -> Tensor {
        self.shape.insert(0, 1);
        self
    }
}

impl Clone for GraphLoss<'_> {
    /// The same loss; the clone's cache of primal passes starts empty.
    fn clone(&self) -> Self {
        GraphLoss {
            graph: self.graph.clone(),
            data: self.data.clone(),
            kind: self.kind,
            chunks: self.chunks.clone(),
            pass_len: self.pass_len,
            cache: Mutex::new(None),
            lanes: Mutex::new(Vec::new()),
        }
    }
}

impl Loss for GraphLoss<'_> {
    fn n_params(&self) -> usize {
        self.graph.n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        check_params(self, params)?;
        let losses = self.over_chunks(|part| {
            let (fw, head) = self.chunk_pass(params, part)?;
            fw.recycle();
            Ok(head.loss)
        })?;
        Self::finite(losses.iter().sum())
    }
    fn param_names(&self) -> Vec<String> {
        self.graph.param_names()
    }
}

impl Gradient for GraphLoss<'_> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(params, out).map(|_| ())
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        if out.len() != self.n_params() {
            return Err(Error::dim("gradient", self.n_params(), out.len()));
        }
        check_params(self, params)?;
        let n = self.n_params();
        // At the point of the last products, the kept passes hold the same adjoints.
        if let Some(pr) = self.cached_primal(params) {
            let mut loss = 0.0;
            let mut g = vec![0.0; n];
            out.iter_mut().for_each(|v| *v = 0.0);
            for c in &pr.chunks {
                loss += c.head.loss;
                self.graph.collect_grad(&c.adj, &mut g);
                out.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
            }
            return Self::finite(loss);
        }
        let parts = self.over_chunks(|part| {
            let (fw, head) = self.chunk_pass(params, part)?;
            let adj = self.graph.backward(&fw, head.grad)?;
            let mut g = vec![0.0; n];
            self.graph.collect_grad(&adj, &mut g);
            recycle_all(adj);
            fw.recycle();
            Ok((head.loss, g))
        })?;
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut loss = 0.0;
        for (l, g) in &parts {
            loss += l;
            out.iter_mut().zip(g).for_each(|(a, b)| *a += b);
        }
        Self::finite(loss)
    }
}

impl Hvp for GraphLoss<'_> {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvp_many(params, v, 1, out)
    }

    /// One primal pass (cached for the next call at the same point), then R passes over blocks of directions (at most 64 per block, and as
    /// many as fit in 64 MiB of tangents), the blocks in parallel.
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let n = self.n_params();
        if vs.len() != n * k || out.len() != n * k {
            return Err(Error::dim("directions", n * k, vs.len().min(out.len())));
        }
        crate::error::ensure_finite("direction", vs)?;
        if n == 0 || k == 0 {
            return Ok(());
        }
        let pr = self.primal(params)?;
        let w = self.block_width();
        vs.par_chunks(n * w)
            .zip(out.par_chunks_mut(n * w))
            .try_for_each(|(v, o)| self.hvp_block(&pr, v, v.len() / n, o))
    }
}

impl Hessian for GraphLoss<'_> {
    /// Blocks of unit directions, each inside one parameter tensor, the blocks in parallel
    /// (rayon) over the cached primal passes. The tensors are ranked by first use
    /// ([`TensorOrder`]); a block of tensor `p`'s columns gives tangents only to the values
    /// that depend on `p`, takes the unit term of the ops that read `p` as a copy of the other
    /// operand's entries, and runs the R-backward only over the values that depend on a tensor
    /// ranked at or after `p`, whose rows it computes. The rows of earlier tensors come from
    /// symmetry (those tensors' columns computed them), and the diagonal tensor blocks are
    /// averaged with their transposes, so the result is exactly symmetric. A block adds the
    /// chunks of samples in their order, so the bytes do not depend on the number of threads.
    ///
    /// # Cost
    /// About half of `n` Hessian-vector products on a chain of layers, `O(n²)` memory.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        let n = self.n_params();
        crate::graph::tensor::checked_len(&[n, n])?;
        let pr = self.primal(params)?;
        let order = self.graph.tensor_order();
        let specs = self.graph.params();
        let mut h = vec![0.0; n * n];
        {
            // Blocks of consecutive columns, never crossing a tensor; each writes its own.
            let mut jobs: Vec<(usize, usize, &mut [f64])> = Vec::new();
            let mut rest = h.as_mut_slice();
            for (t, p) in specs.iter().enumerate() {
                let mut start = 0;
                while start < p.len() {
                    let len = DENSE_BLOCK.min(p.len() - start);
                    let (head, tail) = std::mem::take(&mut rest).split_at_mut(n * len);
                    jobs.push((t, start, head));
                    rest = tail;
                    start += len;
                }
            }
            jobs.into_par_iter()
                .try_for_each(|(t, start, out)| self.dense_block(&pr, &order, t, start, out))?;
        }
        let rank: Vec<usize> = specs
            .iter()
            .zip(&order.rank)
            .flat_map(|(p, &r)| std::iter::repeat_n(r, p.len()))
            .collect();
        fill_by_symmetry(&mut h, n, &rank);
        crate::error::ensure_finite("hessian", &h)?;
        Ok(DMatrix::from_vec(n, n, h))
    }
}

impl GraphLoss<'_> {
    /// The columns `start..` of tensor `t` (as many as `out`, column-major `n x k`, holds):
    /// the rows of the tensors ranked at or after `t` are added into `out`, the chunks in
    /// order; the other rows are left as they are.
    fn dense_block(
        &self,
        pr: &Primal,
        order: &TensorOrder,
        t: usize,
        start: usize,
        out: &mut [f64],
    ) -> Result<()> {
        let n = self.n_params();
        let k = out.len() / n.max(1);
        // Written before the rows are added in: a fresh zeroed allocation is the kernel's
        // shared zero page until written, and a first touch that reads it makes every later
        // write a copy-on-write fault with a TLB flush on every core.
        out.fill(0.0);
        let idx: Vec<usize> = (start..start + k).collect();
        let r = order.rank[t];
        let needed = order.needed(r);
        let rows: Vec<bool> = order.rank.iter().map(|&q| q >= r).collect();
        let block = UnitBlock {
            tensor: t,
            idx: &idx,
        };
        for c in &pr.chunks {
            let rv = self.graph.r_forward_units(&c.fw, &block)?;
            let z = c.fw.output(&self.graph);
            let rz = rv[self.graph.output_id()].as_ref();
            let rg = self.head_r(z, &c.head, rz, k);
            let radj = self
                .graph
                .r_backward_masked(&c.fw, &c.adj, &rv, rg, k, &needed)?;
            self.graph.add_hvp_rows(&radj, k, &rows, out);
            recycle_all(rv);
            recycle_all(radj);
        }
        Ok(())
    }
}

/// Completes a dense Hessian (column-major `n x n`) whose column `c` holds only the rows `r`
/// with `rank[r] >= rank[c]` (`rank`: the rank of each index's tensor): each entry whose row
/// ranks below its column is taken from its transpose, which was computed, and the entries
/// of equal rank (the diagonal tensor blocks, computed in both triangles) are averaged with
/// their transposes. Every pair `(r, c)` is written once, from computed entries only, and the
/// result is exactly symmetric. Tile by tile for the cache.
fn fill_by_symmetry(s: &mut [f64], n: usize, rank: &[usize]) {
    const TILE: usize = 64;
    for ct in (0..n).step_by(TILE) {
        for rt in (0..=ct).step_by(TILE) {
            for c in ct..(ct + TILE).min(n) {
                for r in rt..(rt + TILE).min(c) {
                    // `upper`: row r of column c; `lower`: row c of column r.
                    let (upper, lower) = (s[c * n + r], s[r * n + c]);
                    let v = match rank[r].cmp(&rank[c]) {
                        std::cmp::Ordering::Equal => 0.5 * (upper + lower),
                        std::cmp::Ordering::Greater => upper,
                        std::cmp::Ordering::Less => lower,
                    };
                    s[c * n + r] = v;
                    s[r * n + c] = v;
                }
            }
        }
    }
}

/// What the Gauss–Newton operators and the chunked loss need from a [`GraphLoss`].
impl GraphLoss<'_> {
    /// The forward pass, the loss head and the adjoints at `params` of every chunk of the data
    /// (in parallel, in chunk order; not cached), each head scaled as a part of the mean over
    /// the whole data set.
    pub(crate) fn chunk_first_order_passes(&self, params: &[f64]) -> Result<Vec<FirstOrder>> {
        check_params(self, params)?;
        self.over_chunks(|part| {
            let (fw, head) = self.chunk_pass(params, part)?;
            let adj = self.graph.backward(&fw, head.grad.clone())?;
            Ok((fw, head, adj))
        })
    }

    /// `(∂²L/∂z²)·R{z}` for a block of `k` output tangents `[k, N, ...]`.
    pub(crate) fn output_curvature(
        &self,
        z: &Tensor,
        head: &Head,
        rz: &Tensor,
        k: usize,
    ) -> Tensor {
        self.head_r(z, head, Some(rz), k)
    }

    /// The data.
    pub fn data(&self) -> &GraphData {
        &self.data
    }

    /// Drops the primal passes cached for the last point of a Hessian-vector product, so the
    /// memory they held (every value of every sample) is returned.
    pub fn forget_point(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.lanes.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl crate::curvature::Chunk for GraphLoss<'_> {
    fn n_samples(&self) -> usize {
        self.data.n_samples()
    }
    fn forget_point(&self) {
        GraphLoss::forget_point(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{chunk_bounds, fill_by_symmetry, LANES, MAX_CHUNK, MIN_CHUNK};

    /// The symmetric fill reads only the entries a dense build computes (row rank at or above
    /// the column's; the others are NaN here) and gives the symmetric matrix: with tensors
    /// ranked out of their order in the flat vector, the computed triangle of each off-diagonal
    /// pair is taken, and the diagonal blocks (computed twice, with rounding that differs in
    /// the two triangles) are averaged.
    #[test]
    fn symmetric_fill_reads_only_computed_entries() {
        // Four tensors of sizes 3, 1, 4, 2, ranked 2, 0, 3, 1.
        let rank: Vec<usize> = [(2usize, 3usize), (0, 1), (3, 4), (1, 2)]
            .iter()
            .flat_map(|&(r, len)| std::iter::repeat_n(r, len))
            .collect();
        let n = rank.len();
        let want = |r: usize, c: usize| ((r * 7 + c * 7 + r * c) % 13) as f64 - 6.0;
        let skew = |r: usize, c: usize| 0.25 * (r as f64 - c as f64);
        let mut s = vec![f64::NAN; n * n];
        for c in 0..n {
            for r in 0..n {
                if rank[r] >= rank[c] {
                    s[c * n + r] = want(r, c) + if rank[r] == rank[c] { skew(r, c) } else { 0.0 };
                }
            }
        }
        fill_by_symmetry(&mut s, n, &rank);
        for c in 0..n {
            for r in 0..n {
                assert_eq!(s[c * n + r], want(r, c), "({r}, {c})");
            }
        }
    }

    /// The chunks tile the samples in order, differ in length by at most one, respect the
    /// limits, and come in a multiple of the lanes once there are more than the lanes.
    #[test]
    fn chunks_tile_the_samples_evenly() {
        for n in [1usize, 2, 63, 64, 300, 511, 1797, 5000, 100_000] {
            for per_sample in [1usize, 700, 8000, 1 << 20] {
                let b = chunk_bounds(n, per_sample);
                assert_eq!(b.first().map(|c| c.0), Some(0));
                assert_eq!(b.last().map(|c| c.1), Some(n));
                assert!(b.windows(2).all(|w| w[0].1 == w[1].0));
                let lens: Vec<usize> = b.iter().map(|(a, z)| z - a).collect();
                let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
                assert!(hi - lo <= 1, "n {n}: {lens:?}");
                assert!(*hi <= MAX_CHUNK + 1, "n {n}, per sample {per_sample}: {hi}");
                if b.len() > LANES {
                    assert_eq!(b.len() % LANES, 0, "n {n}");
                    assert!(*lo >= MIN_CHUNK / 2, "n {n}: {lo}");
                }
            }
        }
        // The digits MLP: eight chunks of 224 or 225 samples.
        assert_eq!(chunk_bounds(1797, 700).len(), 8);
    }
}
