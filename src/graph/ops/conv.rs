//! 2-D convolution (ONNX `Conv` without its bias, which the importer adds as a broadcast `Add`):
//! bilinear in the input `x` (`[..., C, H, W]`, every leading axis a batch axis) and the weight
//! `w` (`[O, C/groups, kh, kw]`).
//!
//! Every pass is one of three sums of products, each over chunks of samples: im2col of a chunk
//! into a `C·kh·kw × samples·oh·ow` matrix, then one GEMM per group for the whole chunk, the
//! chunks in parallel. The output (`y = Σ conv(xᵢ, wᵢ)`), the input adjoint
//! (`x̄ = Σ convᵀ(gᵢ, wᵢ)`) and the weight adjoint (`w̄ = Σ gᵢ ⋆ xᵢ`) each take a list of
//! terms, so an R pass pays one sweep for both of its terms (`R{y} = conv(R{x}, w) +
//! conv(x, R{w})`, and the same for the two adjoints), one sweep per direction of a block.

use super::pool::out_dim;
use crate::error::{Error, Result};
use crate::graph::tensor::{checked_len, Tensor};
use crate::nn::mat::gemm;
use faer::{MatMut, MatRef};
use rayon::prelude::*;
use std::cell::RefCell;

/// Geometry of a 2-D convolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    /// Strides.
    pub strides: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    /// Dilations.
    pub dilations: [usize; 2],
    /// Channel groups.
    pub groups: usize,
}

/// Columns (samples × output pixels) of one chunk's im2col matrix: wide enough for an
/// efficient GEMM, small enough that the chunk's matrices stay in cache.
const CHUNK_COLS: usize = 2048;

/// Parallel partial sums of a weight adjoint (a fixed count, so the result does not depend on
/// the number of threads).
const LANES: usize = 8;

/// Sizes of one convolution.
struct Dims {
    batch: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    /// Input channels per group.
    cg: usize,
    /// Output channels per group.
    og: usize,
}

impl Dims {
    fn ckk(&self) -> usize {
        self.cg * self.kh * self.kw
    }
    fn ohw(&self) -> usize {
        self.oh * self.ow
    }
    /// Elements of one sample of the input.
    fn x_len(&self) -> usize {
        self.c * self.h * self.w
    }
    /// Elements of one sample of the output.
    fn y_len(&self) -> usize {
        self.o * self.ohw()
    }
    /// Samples per chunk.
    fn chunk(&self) -> usize {
        (CHUNK_COLS / self.ohw().max(1)).clamp(1, self.batch.max(1))
    }
}

/// Per-thread scratch matrices (im2col columns and a gathered output block), reused across
/// chunks and calls: fresh pages for every chunk would cost more than the arithmetic.
struct Scratch {
    cols: Vec<f64>,
    out: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch {
            cols: Vec::new(),
            out: Vec::new(),
        })
    };
}

/// Runs `f` with the thread's scratch buffers grown to `cols` and `out` elements.
fn with_scratch<R>(cols: usize, out: usize, f: impl FnOnce(&mut [f64], &mut [f64]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let s = &mut *s;
        if s.cols.len() < cols {
            s.cols.resize(cols, 0.0);
        }
        if s.out.len() < out {
            s.out.resize(out, 0.0);
        }
        f(&mut s.cols[..cols], &mut s.out[..out])
    })
}

/// One chunk of samples, `n0 .. n0 + len`.
#[derive(Clone, Copy)]
struct Chunk {
    n0: usize,
    len: usize,
}

impl Conv2d {
    fn dims(&self, xs: &[usize], ws: &[usize]) -> Result<Dims> {
        if xs.len() < 4 || ws.len() != 4 {
            return Err(Error::Data(format!(
                "Conv: needs a rank-4 input and weight, got shapes {xs:?} and {ws:?}"
            )));
        }
        let r = xs.len();
        let (c, h, w) = (xs[r - 3], xs[r - 2], xs[r - 1]);
        let (o, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
        let g = self.groups;
        if g == 0 || !c.is_multiple_of(g) || !o.is_multiple_of(g) || cg * g != c {
            return Err(Error::Data(format!(
                "Conv: input of {c} channels, weight {ws:?} and {g} groups do not match"
            )));
        }
        let oh = out_dim(
            "Conv",
            h,
            self.pads[0] + self.pads[2],
            kh,
            self.strides[0],
            self.dilations[0],
            false,
        )?;
        let ow = out_dim(
            "Conv",
            w,
            self.pads[1] + self.pads[3],
            kw,
            self.strides[1],
            self.dilations[1],
            false,
        )?;
        let batch: usize = xs[..r - 3].iter().product();
        checked_len(&[batch, o, oh, ow])?;
        checked_len(&[cg, kh, kw, oh, ow])?;
        checked_len(&[cg, kh, kw, CHUNK_COLS.max(oh * ow)])?;
        Ok(Dims {
            batch,
            c,
            h,
            w,
            o,
            kh,
            kw,
            oh,
            ow,
            cg,
            og: o / g,
        })
    }

    fn out_shape(xs: &[usize], d: &Dims) -> Vec<usize> {
        let mut s = xs[..xs.len() - 3].to_vec();
        s.extend([d.o, d.oh, d.ow]);
        s
    }

    /// For each row `(c, ki, kj)` and column `(oi, oj)` of one group's im2col matrix of one
    /// sample, the input offset within the group's channels, or `usize::MAX` in the padding.
    fn col_index(&self, d: &Dims) -> Vec<usize> {
        let mut idx = Vec::with_capacity(d.ckk() * d.ohw());
        for c in 0..d.cg {
            for ki in 0..d.kh {
                for kj in 0..d.kw {
                    for oi in 0..d.oh {
                        let i = (oi * self.strides[0] + ki * self.dilations[0]) as isize
                            - self.pads[0] as isize;
                        for oj in 0..d.ow {
                            let j = (oj * self.strides[1] + kj * self.dilations[1]) as isize
                                - self.pads[1] as isize;
                            idx.push(
                                if i >= 0 && j >= 0 && (i as usize) < d.h && (j as usize) < d.w {
                                    c * d.h * d.w + i as usize * d.w + j as usize
                                } else {
                                    usize::MAX
                                },
                            );
                        }
                    }
                }
            }
        }
        idx
    }

    /// `y = conv(x, w)`.
    pub fn forward(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        let d = self.dims(&x.shape, &w.shape)?;
        let mut y = Tensor::zeros(&Self::out_shape(&x.shape, &d))?;
        self.conv_sum(&d, &[(&x.data, &w.data)], &mut y.data);
        Ok(y)
    }

    /// The adjoint in `x`: `x̄` of shape `x_shape` from the output adjoint `g`.
    pub fn grad_x(&self, g: &Tensor, w: &Tensor, x_shape: &[usize]) -> Result<Tensor> {
        let d = self.dims(x_shape, &w.shape)?;
        let mut dx = Tensor::zeros(x_shape)?;
        self.conv_t_sum(&d, &[(&g.data, &w.data)], &mut dx.data);
        Ok(dx)
    }

    /// The adjoint in `w`: `w̄` of shape `w_shape` from the output adjoint `g`.
    pub fn grad_w(&self, g: &Tensor, x: &Tensor, w_shape: &[usize]) -> Result<Tensor> {
        let d = self.dims(&x.shape, w_shape)?;
        let mut dw = Tensor::zeros(w_shape)?;
        self.weight_sum(&d, &[(&g.data, &x.data)], &mut dw.data);
        Ok(dw)
    }

    /// The output's tangents `[k, y...]` from the tangents of the input (`rx`, `[k, x...]`)
    /// and of the weight (`rw`, `[k, w...]`), either absent: `conv(R{x}, w) + conv(x, R{w})`.
    pub fn r_forward(
        &self,
        x: &Tensor,
        w: &Tensor,
        rx: Option<&Tensor>,
        rw: Option<&Tensor>,
        k: usize,
    ) -> Result<Tensor> {
        let d = self.dims(&x.shape, &w.shape)?;
        let (xl, wl, yl) = (x.len(), w.len(), d.batch * d.y_len());
        let mut ry = Tensor::zeros(&[k, yl])?;
        for (dir, out) in ry.data.chunks_exact_mut(yl.max(1)).enumerate() {
            let mut terms: Vec<(&[f64], &[f64])> = Vec::with_capacity(2);
            if let Some(rx) = rx {
                terms.push((&rx.data[dir * xl..][..xl], &w.data));
            }
            if let Some(rw) = rw {
                terms.push((&x.data, &rw.data[dir * wl..][..wl]));
            }
            self.conv_sum(&d, &terms, out);
        }
        Ok(ry)
    }

    /// The output's tangents `[k, y...]` when the weight's tangents are the unit vectors at
    /// the flat indices `idx` (one per direction) and the input's are `rx`: a unit weight
    /// `(o, c, ki, kj)` adds to output channel `o` the input channel `c` of its group read at
    /// the tap `(ki, kj)` of every output pixel (zero in the padding), a shifted copy rather
    /// than a convolution.
    pub fn r_forward_unit_weight(
        &self,
        x: &Tensor,
        w: &Tensor,
        rx: Option<&Tensor>,
        idx: &[usize],
        k: usize,
    ) -> Result<Tensor> {
        if idx.len() != k {
            return Err(Error::dim("unit directions", k, idx.len()));
        }
        let d = self.dims(&x.shape, &w.shape)?;
        let mut ry = self.r_forward(x, w, rx, None, k)?;
        let yl = d.batch * d.y_len();
        let taps = self.col_index(&d);
        let (p, ckk) = (d.ohw(), d.ckk());
        for (dir, &q) in idx.iter().enumerate() {
            if q >= w.len() {
                return Err(Error::Data(format!("Conv: unit index {q} out of range")));
            }
            let (o, r) = (q / ckk, q % ckk);
            let grp = o / d.og.max(1);
            let tap = &taps[r * p..(r + 1) * p];
            let out = &mut ry.data[dir * yl..(dir + 1) * yl];
            for s in 0..d.batch {
                let xs = &x.data[s * d.x_len() + grp * d.cg * d.h * d.w..];
                let ys = &mut out[s * d.y_len() + o * p..][..p];
                for (y, &i) in ys.iter_mut().zip(tap) {
                    if i != usize::MAX {
                        *y += xs[i];
                    }
                }
            }
        }
        Ok(ry)
    }

    /// The tangents of the adjoints of `x` and `w` (those flagged in `need`), each `[k, ...]`,
    /// from the output adjoint `g`, its tangents `rg` and the inputs' tangents `rx`, `rw`:
    /// `R{x̄} = convᵀ(R{ḡ}, w) + convᵀ(ḡ, R{w})`, `R{w̄} = R{ḡ} ⋆ x + ḡ ⋆ R{x}`.
    #[allow(clippy::too_many_arguments)]
    pub fn r_backward(
        &self,
        x: &Tensor,
        w: &Tensor,
        g: &Tensor,
        rg: Option<&Tensor>,
        rx: Option<&Tensor>,
        rw: Option<&Tensor>,
        need: [bool; 2],
        k: usize,
    ) -> Result<[Option<Tensor>; 2]> {
        let d = self.dims(&x.shape, &w.shape)?;
        let (xl, wl, gl) = (x.len(), w.len(), g.len());
        let mut out: [Option<Tensor>; 2] = [None, None];
        if need[0] && (rg.is_some() || rw.is_some()) {
            let mut t = Tensor::zeros(&[k, xl])?;
            for (dir, o) in t.data.chunks_exact_mut(xl.max(1)).enumerate() {
                let mut terms: Vec<(&[f64], &[f64])> = Vec::with_capacity(2);
                if let Some(rg) = rg {
                    terms.push((&rg.data[dir * gl..][..gl], &w.data));
                }
                if let Some(rw) = rw {
                    terms.push((&g.data, &rw.data[dir * wl..][..wl]));
                }
                self.conv_t_sum(&d, &terms, o);
            }
            out[0] = Some(t);
        }
        if need[1] && (rg.is_some() || rx.is_some()) {
            let mut t = Tensor::zeros(&[k, wl])?;
            for (dir, o) in t.data.chunks_exact_mut(wl.max(1)).enumerate() {
                let mut terms: Vec<(&[f64], &[f64])> = Vec::with_capacity(2);
                if let Some(rg) = rg {
                    terms.push((&rg.data[dir * gl..][..gl], &x.data));
                }
                if let Some(rx) = rx {
                    terms.push((&g.data, &rx.data[dir * xl..][..xl]));
                }
                self.weight_sum(&d, &terms, o);
            }
            out[1] = Some(t);
        }
        Ok(out)
    }

    /// The chunks of samples.
    fn chunks(d: &Dims) -> Vec<Chunk> {
        let s = d.chunk();
        (0..d.batch.div_ceil(s))
            .map(|i| Chunk {
                n0: i * s,
                len: s.min(d.batch - i * s),
            })
            .collect()
    }

    /// im2col of group `grp` of the chunk's samples of `x` (`[batch, C, H, W]`) into `cols`
    /// (`ckk × len·ohw`, row-major).
    fn im2col(d: &Dims, idx: &[usize], x: &[f64], ch: Chunk, grp: usize, cols: &mut [f64]) {
        let (p, q) = (d.ohw(), ch.len * d.ohw());
        for (r, row) in cols.chunks_exact_mut(q).enumerate() {
            let ir = &idx[r * p..(r + 1) * p];
            for (s, dst) in row.chunks_exact_mut(p).enumerate() {
                let xs = &x[(ch.n0 + s) * d.x_len() + grp * d.cg * d.h * d.w..];
                for (v, &i) in dst.iter_mut().zip(ir) {
                    *v = if i == usize::MAX { 0.0 } else { xs[i] };
                }
            }
        }
    }

    /// The transpose of [`Self::im2col`]: adds `cols` into the chunk's samples of `x`.
    fn col2im_add(d: &Dims, idx: &[usize], cols: &[f64], grp: usize, x: &mut [f64]) {
        let (p, q) = (d.ohw(), cols.len() / d.ckk().max(1));
        for (r, row) in cols.chunks_exact(q.max(1)).enumerate() {
            let ir = &idx[r * p..(r + 1) * p];
            for (s, src) in row.chunks_exact(p).enumerate() {
                let xs = &mut x[s * d.x_len() + grp * d.cg * d.h * d.w..];
                for (v, &i) in src.iter().zip(ir) {
                    if i != usize::MAX {
                        xs[i] += v;
                    }
                }
            }
        }
    }

    /// Copies group `grp` of the chunk's samples of an output-shaped `y` (`[batch, O, ohw]`)
    /// into `m` (`og × len·ohw`, row-major).
    fn gather_out(d: &Dims, y: &[f64], ch: Chunk, grp: usize, m: &mut [f64]) {
        let (p, q) = (d.ohw(), ch.len * d.ohw());
        for (o, row) in m.chunks_exact_mut(q).enumerate() {
            for (s, dst) in row.chunks_exact_mut(p).enumerate() {
                let at = (ch.n0 + s) * d.y_len() + (grp * d.og + o) * p;
                dst.copy_from_slice(&y[at..at + p]);
            }
        }
    }

    /// `y = Σᵢ conv(xᵢ, wᵢ)` over the terms `(xᵢ, wᵢ)`; `y` is overwritten.
    fn conv_sum(&self, d: &Dims, terms: &[(&[f64], &[f64])], y: &mut [f64]) {
        if d.batch == 0 || d.y_len() == 0 {
            return;
        }
        if terms.is_empty() || d.ckk() == 0 {
            y.iter_mut().for_each(|v| *v = 0.0);
            return;
        }
        let idx = self.col_index(d);
        let (p, ckk, og) = (d.ohw(), d.ckk(), d.og);
        let s = d.chunk();
        y.par_chunks_mut(s * d.y_len())
            .enumerate()
            .for_each(|(i, yc)| {
                let ch = Chunk {
                    n0: i * s,
                    len: yc.len() / d.y_len(),
                };
                let q = ch.len * p;
                with_scratch(ckk * q, og * q, |cols, tmp| {
                    for grp in 0..self.groups {
                        for (t, (x, w)) in terms.iter().enumerate() {
                            Self::im2col(d, &idx, x, ch, grp, cols);
                            gemm(
                                MatMut::from_row_major_slice_mut(tmp, og, q),
                                MatRef::from_row_major_slice(
                                    &w[grp * og * ckk..][..og * ckk],
                                    og,
                                    ckk,
                                ),
                                MatRef::from_row_major_slice(cols, ckk, q),
                                t > 0,
                            );
                        }
                        for (o, row) in tmp.chunks_exact(q).enumerate() {
                            for (sm, src) in row.chunks_exact(p).enumerate() {
                                let at = sm * d.y_len() + (grp * og + o) * p;
                                yc[at..at + p].copy_from_slice(src);
                            }
                        }
                    }
                });
            });
    }

    /// `x̄ = Σᵢ convᵀ(gᵢ, wᵢ)` over the terms `(gᵢ, wᵢ)`; `x̄` is overwritten.
    fn conv_t_sum(&self, d: &Dims, terms: &[(&[f64], &[f64])], dx: &mut [f64]) {
        dx.iter_mut().for_each(|v| *v = 0.0);
        if d.batch == 0 || d.x_len() == 0 || d.ohw() == 0 || terms.is_empty() {
            return;
        }
        let idx = self.col_index(d);
        let (p, ckk, og) = (d.ohw(), d.ckk(), d.og);
        let s = d.chunk();
        dx.par_chunks_mut(s * d.x_len())
            .enumerate()
            .for_each(|(i, xc)| {
                let ch = Chunk {
                    n0: i * s,
                    len: xc.len() / d.x_len(),
                };
                let q = ch.len * p;
                with_scratch(ckk * q, og * q, |cols, gm| {
                    for grp in 0..self.groups {
                        for (t, (g, w)) in terms.iter().enumerate() {
                            Self::gather_out(d, g, ch, grp, gm);
                            gemm(
                                MatMut::from_row_major_slice_mut(cols, ckk, q),
                                MatRef::from_row_major_slice(
                                    &w[grp * og * ckk..][..og * ckk],
                                    og,
                                    ckk,
                                )
                                .transpose(),
                                MatRef::from_row_major_slice(gm, og, q),
                                t > 0,
                            );
                        }
                        Self::col2im_add(d, &idx, cols, grp, xc);
                    }
                });
            });
    }

    /// `w̄ += Σᵢ gᵢ ⋆ xᵢ` (the weight adjoint of `conv(xᵢ, ·)` at `gᵢ`) over the terms
    /// `(gᵢ, xᵢ)`; `w̄` is overwritten.
    fn weight_sum(&self, d: &Dims, terms: &[(&[f64], &[f64])], dw: &mut [f64]) {
        dw.iter_mut().for_each(|v| *v = 0.0);
        if d.batch == 0 || d.ohw() == 0 || terms.is_empty() || dw.is_empty() {
            return;
        }
        let idx = self.col_index(d);
        let (p, ckk, og) = (d.ohw(), d.ckk(), d.og);
        // A fixed number of lanes, each summing its chunks in order, then the lanes in order:
        // the same bytes on any number of threads.
        let chunks = Self::chunks(d);
        let lanes = chunks.len().min(LANES);
        let partials: Vec<Vec<f64>> = (0..lanes)
            .into_par_iter()
            .map(|lane| {
                let mut acc = vec![0.0; dw.len()];
                for &ch in chunks.iter().skip(lane).step_by(lanes) {
                    let q = ch.len * p;
                    with_scratch(ckk * q, og * q, |cols, gm| {
                        for grp in 0..self.groups {
                            let ag = &mut acc[grp * og * ckk..][..og * ckk];
                            for (g, x) in terms {
                                Self::gather_out(d, g, ch, grp, gm);
                                Self::im2col(d, &idx, x, ch, grp, cols);
                                gemm(
                                    MatMut::from_row_major_slice_mut(ag, og, ckk),
                                    MatRef::from_row_major_slice(gm, og, q),
                                    MatRef::from_row_major_slice(cols, ckk, q).transpose(),
                                    true,
                                );
                            }
                        }
                    });
                }
                acc
            })
            .collect();
        for part in &partials {
            dw.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        }
    }
}
