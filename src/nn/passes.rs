//! The passes over all samples at once: forward, loss head, backward (exact gradient) and the
//! R-operator pass (Pearlmutter 1994: forward-over-reverse, exact Hessian-vector products) for a
//! block of `k` directions at a time.
//!
//! A block of directions stacks its `k` perturbations of each layer's input vertically
//! (`kN x width`), so each layer costs one GEMM for all directions, and per-direction
//! contractions over samples read the same memory as `N x (width·k)` (see [`super::mat`]).
//!
//! Unit directions (Hessian columns) are sparse: a direction in layer `l` perturbs nothing
//! before `l`, so its R-forward starts at `l`, and its R-backward stops at `l` (the rows of
//! earlier layers follow by symmetry). That halves the dense Hessian's work.
//!
//! # References
//! Pearlmutter, B. A. (1994). Fast exact multiplication by the Hessian. *Neural Computation* 6(1).

use super::data::Targets;
use super::layers::{BnMode, Layer, LossKind};
use super::mat::{
    add_col_sums, gemm, pooled_scratch, pooled_tile_mul, pooled_zeros, recycle, slice_view,
    slice_view_mut, sum, view, view_mut,
};
use crate::curvature::lanczos::dot;
use crate::error::{Error, Result};
use nalgebra::DMatrix;

/// Per-layer batch-norm values of a forward pass.
pub(crate) struct BnCache {
    /// Normalized inputs `ẑ` (`N x n`).
    xhat: DMatrix<f64>,
    /// `1/√(σ² + eps)` per feature.
    s: Vec<f64>,
    /// Mean used (batch or running).
    mean: Vec<f64>,
    /// Biased variance used (batch) or running variance.
    var: Vec<f64>,
    /// Whether batch statistics were used.
    train: bool,
}

/// Per batch-norm layer: the batch mean and biased variance of a train-mode pass.
pub(crate) type BatchStats = Vec<Option<(Vec<f64>, Vec<f64>)>>;

/// `f'` and (for second-order passes) `f''` at an activation layer's inputs.
type ActDerivs = (DMatrix<f64>, Option<DMatrix<f64>>);

/// Everything a forward pass keeps for the backward and R passes.
pub(crate) struct Forward {
    /// `acts[i]` is the input of layer `i`; the last entry is the output.
    acts: Vec<DMatrix<f64>>,
    bn: Vec<Option<BnCache>>,
    /// `(f', f'')` at each activation layer (`f''` only for second-order passes).
    dact: Vec<Option<ActDerivs>>,
}

impl Forward {
    /// The network's output.
    pub(crate) fn output(&self) -> &DMatrix<f64> {
        self.acts.last().expect("a forward pass has an input")
    }
    /// The network's output, consuming the pass.
    pub(crate) fn into_output(mut self) -> DMatrix<f64> {
        self.acts.pop().expect("a forward pass has an input")
    }
    /// The input of layer `i` (`N x width`).
    pub(crate) fn input_of(&self, i: usize) -> &DMatrix<f64> {
        &self.acts[i]
    }
    /// `f'` at activation layer `i`'s inputs (`None` for other layers).
    pub(crate) fn slope_of(&self, i: usize) -> Option<&DMatrix<f64>> {
        self.dact[i].as_ref().map(|d| &d.0)
    }
    /// Batch-norm layer `i`'s normalized inputs `x̂`, `1/√(σ² + eps)` per feature, and whether
    /// batch statistics were used (`None` for other layers).
    pub(crate) fn batch_norm_of(&self, i: usize) -> Option<(&DMatrix<f64>, &[f64], bool)> {
        self.bn[i]
            .as_ref()
            .map(|b| (&b.xhat, b.s.as_slice(), b.train))
    }
    /// Batch statistics (mean, biased variance) of each train-mode batch-norm layer.
    pub(crate) fn batch_stats(&self) -> BatchStats {
        self.bn
            .iter()
            .map(|b| match b {
                Some(c) if c.train => Some((c.mean.clone(), c.var.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Forward pass over the rows of `x`.
pub(crate) fn forward(
    layers: &[Layer],
    offsets: &[usize],
    params: &[f64],
    x: &DMatrix<f64>,
    mode: BnMode,
    second_order: bool,
) -> Result<Forward> {
    let n = x.nrows();
    let mut acts = Vec::with_capacity(layers.len() + 1);
    let mut bn = Vec::with_capacity(layers.len());
    let mut dact = Vec::with_capacity(layers.len());
    acts.push(x.clone());
    for (i, layer) in layers.iter().enumerate() {
        let a = &acts[i];
        let off = offsets[i];
        let mut bcache = None;
        let mut dcache = None;
        let y = match layer {
            Layer::Linear { n_in, n_out } => {
                let (n_in, n_out) = (*n_in, *n_out);
                let nw = n_in * n_out;
                let mut z = DMatrix::zeros(n, n_out);
                for c in 0..n_out {
                    z.column_mut(c).fill(params[off + nw + c]);
                }
                gemm(
                    view_mut(&mut z),
                    view(a),
                    slice_view(&params[off..off + nw], n_in, n_out),
                    true,
                );
                z
            }
            Layer::BatchNorm { n: w, state } => {
                let w = *w;
                let train = mode == BnMode::Train;
                if train && n < 2 {
                    return Err(Error::invalid(
                        "batch",
                        format!("batch norm in training mode needs more than 1 sample per batch, got {n}"),
                    ));
                }
                let mut xhat = DMatrix::zeros(n, w);
                let mut y = DMatrix::zeros(n, w);
                let (mut mean, mut var, mut s) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
                for c in 0..w {
                    let col = a.column(c);
                    if train {
                        let m = col.sum() / n as f64;
                        mean[c] = m;
                        var[c] = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64;
                    } else {
                        mean[c] = state.running_mean[c];
                        var[c] = state.running_var[c];
                    }
                    s[c] = 1.0 / (var[c] + state.eps).sqrt();
                    let (g, b) = (params[off + c], params[off + w + c]);
                    for r in 0..n {
                        let xh = (col[r] - mean[c]) * s[c];
                        xhat[(r, c)] = xh;
                        y[(r, c)] = g * xh + b;
                    }
                }
                bcache = Some(BnCache {
                    xhat,
                    s,
                    mean,
                    var,
                    train,
                });
                y
            }
            Layer::Activation(f) => {
                let y = a.map(|v| f.apply(v));
                let mut fp = DMatrix::zeros(n, a.ncols());
                let mut fpp = second_order.then(|| DMatrix::zeros(n, a.ncols()));
                for idx in 0..a.len() {
                    let (d1, d2) = f.derivatives(a.as_slice()[idx], y.as_slice()[idx]);
                    fp.as_mut_slice()[idx] = d1;
                    if let Some(m) = fpp.as_mut() {
                        m.as_mut_slice()[idx] = d2;
                    }
                }
                dcache = Some((fp, fpp));
                y
            }
        };
        bn.push(bcache);
        dact.push(dcache);
        acts.push(y);
    }
    Ok(Forward { acts, bn, dact })
}

/// The loss and its gradient with respect to the outputs.
pub(crate) struct Head {
    /// The loss.
    pub(crate) loss: f64,
    /// `∂loss/∂output` (`N x C`).
    pub(crate) grad: DMatrix<f64>,
    /// Softmax probabilities (cross-entropy only).
    probs: Option<DMatrix<f64>>,
    /// The weight of one sample in the loss: `1/N` of the mean the loss is part of.
    weight: f64,
}

impl Head {
    /// Makes a head computed on `n_part` samples this part's share of the mean over
    /// `n_total` samples: the loss, the output gradient and the weight of a sample in the R pass
    /// are scaled by `n_part / n_total`, so the parts' losses, gradients and products sum to the
    /// whole data's.
    pub(crate) fn share_of(&mut self, n_total: usize) {
        let n_part = self.grad.nrows();
        if n_total == 0 || n_total == n_part {
            return;
        }
        let f = n_part as f64 / n_total as f64;
        self.loss *= f;
        self.grad.scale_mut(f);
        self.weight = 1.0 / n_total as f64;
    }
}

impl Head {
    /// Softmax probabilities (cross-entropy only).
    pub(crate) fn probs(&self) -> Option<&DMatrix<f64>> {
        self.probs.as_ref()
    }
}

/// Loss and output gradient for `targets`.
pub(crate) fn head(z: &DMatrix<f64>, targets: &Targets, kind: LossKind) -> Result<Head> {
    let (n, c) = z.shape();
    let mut grad = DMatrix::zeros(n, c);
    let h = match (kind, targets) {
        (LossKind::CrossEntropy, Targets::Labels(labels)) => {
            let mut probs = DMatrix::zeros(n, c);
            let mut total = 0.0;
            for s in 0..n {
                let m = (0..c).map(|j| z[(s, j)]).fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = (0..c).map(|j| (z[(s, j)] - m).exp()).sum();
                let lse = m + sum.ln();
                let y = labels[s];
                total += lse - z[(s, y)];
                for j in 0..c {
                    let p = (z[(s, j)] - lse).exp();
                    probs[(s, j)] = p;
                    grad[(s, j)] = (p - if j == y { 1.0 } else { 0.0 }) / n as f64;
                }
            }
            Head {
                loss: total / n as f64,
                grad,
                probs: Some(probs),
                weight: 1.0 / n as f64,
            }
        }
        (LossKind::Mse, Targets::Values(t)) => {
            let m = (n * c) as f64;
            let mut total = 0.0;
            for idx in 0..n * c {
                let d = z.as_slice()[idx] - t.as_slice()[idx];
                total += d * d;
                grad.as_mut_slice()[idx] = 2.0 * d / m;
            }
            Head {
                loss: total / m,
                grad,
                probs: None,
                weight: 1.0 / n as f64,
            }
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "the {} loss needs {} targets",
                kind.name(),
                if kind.is_classification() {
                    "class-label"
                } else {
                    "numeric"
                }
            )))
        }
    };
    if !h.loss.is_finite() {
        return Err(Error::NonFinite(format!(
            "the loss is not finite: {}",
            h.loss
        )));
    }
    Ok(h)
}

/// Backward pass: writes the parameter gradient into `grad` and returns `∂loss/∂output` of
/// each layer when `keep` (empty otherwise).
pub(crate) fn backward(
    layers: &[Layer],
    offsets: &[usize],
    params: &[f64],
    fwd: &Forward,
    g_out: DMatrix<f64>,
    grad: &mut [f64],
    keep: bool,
) -> Vec<DMatrix<f64>> {
    let n = g_out.nrows();
    let mut gouts: Vec<DMatrix<f64>> = Vec::new();
    if keep {
        gouts = (0..layers.len()).map(|_| DMatrix::zeros(0, 0)).collect();
    }
    let mut g = g_out;
    let first_param = layers
        .iter()
        .position(|l| l.n_params() > 0)
        .unwrap_or(layers.len());
    for i in (0..layers.len()).rev() {
        let off = offsets[i];
        let a = &fwd.acts[i];
        let need_in = i > first_param;
        let gin = match &layers[i] {
            Layer::Linear { n_in, n_out } => {
                let (n_in, n_out) = (*n_in, *n_out);
                let nw = n_in * n_out;
                let (gw, gb) = grad[off..off + nw + n_out].split_at_mut(nw);
                gemm(
                    slice_view_mut(gw, n_in, n_out),
                    view(a).transpose(),
                    view(&g),
                    false,
                );
                gb.fill(0.0);
                add_col_sums(g.as_slice(), n, gb);
                need_in.then(|| {
                    let mut gin = DMatrix::zeros(n, n_in);
                    let wt = slice_view(&params[off..off + nw], n_in, n_out);
                    gemm(view_mut(&mut gin), view(&g), wt.transpose(), false);
                    gin
                })
            }
            Layer::BatchNorm { n: w, .. } => {
                let w = *w;
                let bc = fwd.bn[i].as_ref().expect("batch-norm cache");
                let mut gin = DMatrix::zeros(n, w);
                for c in 0..w {
                    let gy = g.column(c);
                    let xh = bc.xhat.column(c);
                    grad[off + c] = gy.dot(&xh);
                    grad[off + w + c] = gy.sum();
                    let gamma = params[off + c];
                    let s = bc.s[c];
                    if bc.train {
                        let mg = gy.sum() * gamma / n as f64;
                        let mgx = gy.dot(&xh) * gamma / n as f64;
                        for r in 0..n {
                            gin[(r, c)] = s * (gy[r] * gamma - mg - xh[r] * mgx);
                        }
                    } else {
                        for r in 0..n {
                            gin[(r, c)] = s * gamma * gy[r];
                        }
                    }
                }
                Some(gin)
            }
            Layer::Activation(_) => {
                let (fp, _) = fwd.dact[i].as_ref().expect("activation cache");
                Some(g.component_mul(fp))
            }
        };
        match gin {
            Some(x) => {
                if keep {
                    gouts[i] = std::mem::replace(&mut g, x);
                } else {
                    g = x;
                }
            }
            None => {
                if keep {
                    gouts[i] = g;
                }
                break;
            }
        }
    }
    gouts
}

/// A block of `k` directions.
pub(crate) enum Dirs<'a> {
    /// Dense directions: `v` is `n_params x k`, column-major.
    Dense { v: &'a [f64], k: usize },
    /// Unit vectors at these parameter indices.
    Unit(&'a [usize]),
}

impl Dirs<'_> {
    fn k(&self) -> usize {
        match self {
            Dirs::Dense { k, .. } => *k,
            Dirs::Unit(idx) => idx.len(),
        }
    }
    /// Whether any direction has components in `[off, off + len)`.
    fn touches(&self, off: usize, len: usize) -> bool {
        match self {
            Dirs::Dense { .. } => len > 0,
            Dirs::Unit(idx) => idx.iter().any(|&p| p >= off && p < off + len),
        }
    }
    /// The local unit index of direction `j` in `[off, off + len)`, if it is a unit direction
    /// that falls there.
    fn unit_in(&self, j: usize, off: usize, len: usize) -> Option<usize> {
        match self {
            Dirs::Unit(idx) => (idx[j] >= off && idx[j] < off + len).then(|| idx[j] - off),
            Dirs::Dense { .. } => None,
        }
    }
    /// Direction `j`'s components in `[off, off + len)` when dense.
    fn dense(&self, j: usize, np: usize, off: usize, len: usize) -> Option<&[f64]> {
        match self {
            Dirs::Dense { v, .. } => Some(&v[j * np + off..j * np + off + len]),
            Dirs::Unit(_) => None,
        }
    }
    /// The value of direction `j` at local index `q` of a layer at `off` with `len` parameters.
    fn at(&self, j: usize, np: usize, off: usize, len: usize, q: usize) -> f64 {
        match self {
            Dirs::Dense { v, .. } => v[j * np + off + q],
            Dirs::Unit(_) => {
                if self.unit_in(j, off, len) == Some(q) {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The activation's R-backward in one pass: `rg ⊙ tile(fp) + tile(gout ⊙ fpp) ⊙ ri`, where
/// `rg`, `ri` are `kN x w` and `fp`, `gout`, `fpp` are `N x w`.
fn act_back(
    rg: &DMatrix<f64>,
    fp: &DMatrix<f64>,
    gout: &DMatrix<f64>,
    fpp: &DMatrix<f64>,
    ri: &DMatrix<f64>,
) -> DMatrix<f64> {
    let n = fp.nrows();
    let kn = rg.nrows();
    let mut out = pooled_scratch(kn, rg.ncols());
    for c in 0..rg.ncols() {
        let fc = &fp.as_slice()[c * n..(c + 1) * n];
        let gc = &gout.as_slice()[c * n..(c + 1) * n];
        let pc = &fpp.as_slice()[c * n..(c + 1) * n];
        let range = c * kn..(c + 1) * kn;
        let oc = &mut out.as_mut_slice()[range.clone()];
        let rgc = &rg.as_slice()[range.clone()];
        let ric = &ri.as_slice()[range];
        for ((ob, rb), ib) in oc
            .chunks_exact_mut(n)
            .zip(rgc.chunks_exact(n))
            .zip(ric.chunks_exact(n))
        {
            for s in 0..n {
                ob[s] = rb[s] * fc[s] + (gc[s] * pc[s]) * ib[s];
            }
        }
    }
    out
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// `P(u) = u − mean(u) − x̂·mean(x̂ ⊙ u)` (the train-mode batch-norm projection), into `out`.
fn bn_project(u: &[f64], xh: &[f64], out: &mut [f64]) {
    let mu = mean(u);
    let mxu = dot(xh, u) / u.len() as f64;
    for ((o, &ui), &x) in out.iter_mut().zip(u).zip(xh) {
        *o = ui - mu - x * mxu;
    }
}

/// The weight blocks of `k` dense directions side by side as `n_in x (n_out·k)`, column
/// `c·k + j` holding column `c` of direction `j`'s `W` (`n_in x n_out`): the right-hand side
/// that computes `a · W_j` for every `j` in one GEMM on the `N x (n_out·k)` reading of a block.
fn stack_weights(
    v: &[f64],
    np: usize,
    off: usize,
    n_in: usize,
    n_out: usize,
    k: usize,
) -> DMatrix<f64> {
    let mut s = pooled_scratch(n_in, n_out * k);
    for (q, col) in s.as_mut_slice().chunks_exact_mut(n_in).enumerate() {
        let (c, j) = (q / k, q % k);
        let src = j * np + off + c * n_in;
        col.copy_from_slice(&v[src..src + n_in]);
    }
    s
}

/// The transposed weight blocks of `k` dense directions as `n_out x (n_in·k)`, column `i·k + j`
/// holding row `i` of direction `j`'s `W`: the right-hand side of `g · W_jᵀ` for every `j` in one
/// GEMM on the `N x (n_in·k)` reading of a block.
fn stack_weights_transposed(
    v: &[f64],
    np: usize,
    off: usize,
    n_in: usize,
    n_out: usize,
    k: usize,
) -> DMatrix<f64> {
    let mut s = pooled_scratch(n_out, n_in * k);
    for (q, col) in s.as_mut_slice().chunks_exact_mut(n_out).enumerate() {
        let (i, j) = (q / k, q % k);
        let w = &v[j * np + off..j * np + off + n_in * n_out];
        for (o, d) in col.iter_mut().enumerate() {
            *d = w[o * n_in + i];
        }
    }
    s
}

/// The shared inputs of an R pass.
pub(crate) struct RContext<'a> {
    pub(crate) layers: &'a [Layer],
    pub(crate) offsets: &'a [usize],
    pub(crate) params: &'a [f64],
    pub(crate) fwd: &'a Forward,
    pub(crate) head: &'a Head,
    pub(crate) gouts: &'a [DMatrix<f64>],
    pub(crate) kind: LossKind,
}

/// The R pass: `out` (`n_params x k`, column-major, zeroed by the caller) receives `H·v` for
/// each direction, for the rows of layers `first..` (rows of earlier layers are left as they
/// are). Directions must have no components before layer `first`.
pub(crate) fn r_pass(ctx: &RContext<'_>, dirs: &Dirs<'_>, first: usize, out: &mut [f64]) {
    let RContext {
        layers,
        offsets,
        params,
        fwd,
        head,
        gouts,
        kind,
    } = *ctx;
    let np = params.len();
    let k = dirs.k();
    let n = fwd.acts[0].nrows();
    let kn = k * n;
    let nl = layers.len();
    // R-forward.
    let mut rins: Vec<Option<DMatrix<f64>>> = (0..nl).map(|_| None).collect();
    let mut rxhat: Vec<Option<DMatrix<f64>>> = (0..nl).map(|_| None).collect();
    let mut rin: Option<DMatrix<f64>> = None;
    for i in first..nl {
        let off = offsets[i];
        let len = layers[i].n_params();
        let a = &fwd.acts[i];
        let touches = dirs.touches(off, len);
        let rout = match &layers[i] {
            Layer::Linear { n_in, n_out } if rin.is_some() || touches => {
                let (n_in, n_out) = (*n_in, *n_out);
                let nw = n_in * n_out;
                if let Dirs::Dense { v, .. } = dirs {
                    // `R z = R a · W + a · V + R b`: the bias first, then both products
                    // accumulate, the `k` directions' `a · V_j` as one GEMM on `N x (n_out·k)`.
                    let mut r = pooled_scratch(kn, n_out);
                    for (c, col) in r.as_mut_slice().chunks_exact_mut(kn).enumerate() {
                        for (j, cj) in col.chunks_exact_mut(n).enumerate() {
                            cj.fill(v[j * np + off + nw + c]);
                        }
                    }
                    if let Some(ri) = &rin {
                        let w = slice_view(&params[off..off + nw], n_in, n_out);
                        gemm(view_mut(&mut r), view(ri), w, true);
                    }
                    let vs = stack_weights(v, np, off, n_in, n_out, k);
                    gemm(
                        slice_view_mut(r.as_mut_slice(), n, n_out * k),
                        view(a),
                        view(&vs),
                        true,
                    );
                    recycle(vs);
                    rins[i] = rin.take();
                    rin = Some(r);
                    continue;
                }
                let mut r = if rin.is_some() {
                    pooled_scratch(kn, n_out)
                } else {
                    pooled_zeros(kn, n_out)
                };
                if let Some(ri) = &rin {
                    gemm(
                        view_mut(&mut r),
                        view(ri),
                        slice_view(&params[off..off + nw], n_in, n_out),
                        false,
                    );
                }
                for j in 0..k {
                    if let Some(vj) = dirs.dense(j, np, off, len) {
                        let rj = view_mut(&mut r).subrows_mut(j * n, n);
                        gemm(rj, view(a), slice_view(&vj[..nw], n_in, n_out), true);
                        for c in 0..n_out {
                            let b = vj[nw + c];
                            let col = &mut r.as_mut_slice()[c * kn + j * n..c * kn + j * n + n];
                            col.iter_mut().for_each(|x| *x += b);
                        }
                    } else if let Some(q) = dirs.unit_in(j, off, len) {
                        if q < nw {
                            let (o, ii) = (q / n_in, q % n_in);
                            let src = &a.as_slice()[ii * n..(ii + 1) * n];
                            let col = &mut r.as_mut_slice()[o * kn + j * n..o * kn + j * n + n];
                            col.iter_mut().zip(src).for_each(|(x, s)| *x += s);
                        } else {
                            let c = q - nw;
                            let col = &mut r.as_mut_slice()[c * kn + j * n..c * kn + j * n + n];
                            col.iter_mut().for_each(|x| *x += 1.0);
                        }
                    }
                }
                Some(r)
            }
            Layer::Linear { .. } => None,
            Layer::Activation(_) => rin
                .as_ref()
                .map(|ri| pooled_tile_mul(ri, &fwd.dact[i].as_ref().expect("activation cache").0)),
            Layer::BatchNorm { n: w, .. } if rin.is_some() || touches => {
                let w = *w;
                let bc = fwd.bn[i].as_ref().expect("batch-norm cache");
                let mut r = pooled_scratch(kn, w);
                let mut rx = pooled_zeros(kn, w);
                let mut tmp = vec![0.0; n];
                for c in 0..w {
                    let xh = &bc.xhat.as_slice()[c * n..(c + 1) * n];
                    let gamma = params[off + c];
                    let s = bc.s[c];
                    for j in 0..k {
                        let base = c * kn + j * n;
                        if let Some(ri) = &rin {
                            let rz = &ri.as_slice()[base..base + n];
                            let rxc = &mut rx.as_mut_slice()[base..base + n];
                            if bc.train {
                                bn_project(rz, xh, &mut tmp);
                                rxc.iter_mut().zip(&tmp).for_each(|(d, t)| *d = s * t);
                            } else {
                                rxc.iter_mut().zip(rz).for_each(|(d, t)| *d = s * t);
                            }
                        }
                        let rg = dirs.at(j, np, off, len, c);
                        let rb = dirs.at(j, np, off, len, w + c);
                        let rxc = &rx.as_slice()[base..base + n];
                        let rc = &mut r.as_mut_slice()[base..base + n];
                        for sidx in 0..n {
                            rc[sidx] = gamma * rxc[sidx] + xh[sidx] * rg + rb;
                        }
                    }
                }
                rxhat[i] = Some(rx);
                Some(r)
            }
            Layer::BatchNorm { .. } => None,
        };
        rins[i] = rin.take();
        rin = rout;
    }
    let Some(rz) = rin else { return };
    // R of the output gradient.
    let c_out = rz.ncols();
    let mut rg = pooled_scratch(kn, c_out);
    match kind {
        LossKind::CrossEntropy => {
            // `R g = w · p ⊙ (R z − pᵀ R z)` per sample, column by column.
            let p = head.probs.as_ref().expect("probabilities").as_slice();
            let inv = head.weight;
            let mut pr = vec![0.0; kn];
            for (pc, zc) in p.chunks_exact(n).zip(rz.as_slice().chunks_exact(kn)) {
                for (prj, zj) in pr.chunks_exact_mut(n).zip(zc.chunks_exact(n)) {
                    for ((d, &ps), &z) in prj.iter_mut().zip(pc).zip(zj) {
                        *d += ps * z;
                    }
                }
            }
            for ((gc, pc), zc) in rg
                .as_mut_slice()
                .chunks_exact_mut(kn)
                .zip(p.chunks_exact(n))
                .zip(rz.as_slice().chunks_exact(kn))
            {
                for ((gj, zj), prj) in gc
                    .chunks_exact_mut(n)
                    .zip(zc.chunks_exact(n))
                    .zip(pr.chunks_exact(n))
                {
                    for (((g, &ps), &z), &q) in gj.iter_mut().zip(pc).zip(zj).zip(prj) {
                        *g = ps * (z - q) * inv;
                    }
                }
            }
        }
        LossKind::Mse => {
            let f = 2.0 * head.weight / c_out as f64;
            rg.as_mut_slice()
                .iter_mut()
                .zip(rz.as_slice())
                .for_each(|(d, z)| *d = z * f);
        }
    }
    // R-backward.
    for i in (first..nl).rev() {
        let off = offsets[i];
        let len = layers[i].n_params();
        let a = &fwd.acts[i];
        let gout = &gouts[i];
        let rin_i = rins[i].as_ref();
        let need_in = i > first;
        let rgin = match &layers[i] {
            Layer::Linear { n_in, n_out } => {
                let (n_in, n_out) = (*n_in, *n_out);
                let nw = n_in * n_out;
                // `R ∂W = aᵀ R g + (R a)ᵀ g` and `R ∂b = Σ R g`, straight into each direction's
                // rows of `out`.
                for j in 0..k {
                    let (dw, db) = out[j * np + off..j * np + off + nw + n_out].split_at_mut(nw);
                    let rgj = view(&rg).subrows(j * n, n);
                    let mut dw = slice_view_mut(dw, n_in, n_out);
                    gemm(dw.as_mut(), view(a).transpose(), rgj, true);
                    if let Some(ri) = rin_i {
                        gemm(dw, view(ri).subrows(j * n, n).transpose(), view(gout), true);
                    }
                    for (o, d) in db.iter_mut().enumerate() {
                        *d += sum(&rg.as_slice()[o * kn + j * n..o * kn + j * n + n]);
                    }
                }
                need_in.then(|| {
                    let mut r = pooled_scratch(kn, n_in);
                    let wt = slice_view(&params[off..off + nw], n_in, n_out);
                    gemm(view_mut(&mut r), view(&rg), wt.transpose(), false);
                    if let Dirs::Dense { v, .. } = dirs {
                        // `g · V_jᵀ` for all `k` as one GEMM on `N x (n_in·k)`.
                        let vt = stack_weights_transposed(v, np, off, n_in, n_out, k);
                        gemm(
                            slice_view_mut(r.as_mut_slice(), n, n_in * k),
                            view(gout),
                            view(&vt),
                            true,
                        );
                        recycle(vt);
                        return r;
                    }
                    for j in 0..k {
                        if let Some(vj) = dirs.dense(j, np, off, len) {
                            let rj = view_mut(&mut r).subrows_mut(j * n, n);
                            gemm(
                                rj,
                                view(gout),
                                slice_view(&vj[..nw], n_in, n_out).transpose(),
                                true,
                            );
                        } else if let Some(q) = dirs.unit_in(j, off, len) {
                            if q < nw {
                                let (o, ii) = (q / n_in, q % n_in);
                                let src = &gout.as_slice()[o * n..(o + 1) * n];
                                let col =
                                    &mut r.as_mut_slice()[ii * kn + j * n..ii * kn + j * n + n];
                                col.iter_mut().zip(src).for_each(|(x, s)| *x += s);
                            }
                        }
                    }
                    r
                })
            }
            Layer::Activation(_) => need_in.then(|| {
                let (fp, fpp) = fwd.dact[i].as_ref().expect("activation cache");
                match (rin_i, fpp.as_ref()) {
                    (Some(ri), Some(fpp)) => act_back(&rg, fp, gout, fpp, ri),
                    _ => pooled_tile_mul(&rg, fp),
                }
            }),
            Layer::BatchNorm { n: w, .. } => {
                let w = *w;
                let bc = fwd.bn[i].as_ref().expect("batch-norm cache");
                let rx = rxhat[i].as_ref();
                let mut r = pooled_scratch(if need_in { kn } else { 0 }, w);
                let zeros = vec![0.0; n];
                let (mut gx, mut rgx, mut pg, mut prg) =
                    (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                for c in 0..w {
                    let xh = &bc.xhat.as_slice()[c * n..(c + 1) * n];
                    let gy = &gout.as_slice()[c * n..(c + 1) * n];
                    let gamma = params[off + c];
                    let s = bc.s[c];
                    for j in 0..k {
                        let base = c * kn + j * n;
                        let rgy = &rg.as_slice()[base..base + n];
                        let rxc = rx.map_or(&zeros[..], |m| &m.as_slice()[base..base + n]);
                        out[j * np + off + c] += dot(rgy, xh) + dot(gy, rxc);
                        out[j * np + off + w + c] += rgy.iter().sum::<f64>();
                        if !need_in {
                            continue;
                        }
                        let rgam = dirs.at(j, np, off, len, c);
                        for sidx in 0..n {
                            gx[sidx] = gy[sidx] * gamma;
                            rgx[sidx] = rgy[sidx] * gamma + gy[sidx] * rgam;
                        }
                        let dst = &mut r.as_mut_slice()[base..base + n];
                        if bc.train {
                            let rz = rin_i.map_or(&zeros[..], |m| &m.as_slice()[base..base + n]);
                            let rs = -s * s * dot(xh, rz) / n as f64;
                            let m_xg = dot(xh, &gx) / n as f64;
                            let m_rxg = dot(rxc, &gx) / n as f64;
                            bn_project(&gx, xh, &mut pg);
                            bn_project(&rgx, xh, &mut prg);
                            for sidx in 0..n {
                                dst[sidx] = rs * pg[sidx]
                                    + s * (prg[sidx] - rxc[sidx] * m_xg - xh[sidx] * m_rxg);
                            }
                        } else {
                            for sidx in 0..n {
                                dst[sidx] = s * rgx[sidx];
                            }
                        }
                    }
                }
                need_in.then_some(r)
            }
        };
        match rgin {
            Some(r) => recycle(std::mem::replace(&mut rg, r)),
            None => break,
        }
    }
    recycle(rg);
    recycle(rz);
    rins.into_iter().chain(rxhat).flatten().for_each(recycle);
}
