//! 2-D convolution (ONNX `Conv` without its bias, which the importer adds as a broadcast `Add`):
//! bilinear in the input `x` (`[..., C, H, W]`, every leading axis a batch axis) and the weight
//! `w` (`[O, C/groups, kh, kw]`), computed by im2col and one GEMM per sample and group.

use super::pool::out_dim;
use crate::error::{Error, Result};
use crate::graph::tensor::{checked_len, Tensor};
use crate::nn::mat::gemm;
use faer::{MatMut, MatRef};

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

    /// For each row `(c, ki, kj)` and column `(oi, oj)` of one group's im2col matrix, the input
    /// offset within the group's channels, or `usize::MAX` in the padding.
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
        let idx = self.col_index(&d);
        let mut y = Tensor::zeros(&Self::out_shape(&x.shape, &d))?;
        let mut cols = vec![0.0; d.ckk() * d.ohw()];
        let groups = self.groups;
        for n in 0..d.batch {
            for g in 0..groups {
                let xg = &x.data[(n * d.c + g * d.cg) * d.h * d.w..][..d.cg * d.h * d.w];
                for (c, &i) in cols.iter_mut().zip(&idx) {
                    *c = if i == usize::MAX { 0.0 } else { xg[i] };
                }
                let wg = &w.data[g * d.og * d.ckk()..][..d.og * d.ckk()];
                let yg = &mut y.data[(n * d.o + g * d.og) * d.ohw()..][..d.og * d.ohw()];
                gemm(
                    MatMut::from_row_major_slice_mut(yg, d.og, d.ohw()),
                    MatRef::from_row_major_slice(wg, d.og, d.ckk()),
                    MatRef::from_row_major_slice(&cols, d.ckk(), d.ohw()),
                    false,
                );
            }
        }
        Ok(y)
    }

    /// The adjoint in `x`: `x̄` of shape `x_shape` from the output adjoint `g`.
    pub fn grad_x(&self, g: &Tensor, w: &Tensor, x_shape: &[usize]) -> Result<Tensor> {
        let d = self.dims(x_shape, &w.shape)?;
        let idx = self.col_index(&d);
        let mut dx = Tensor::zeros(x_shape)?;
        let mut cols = vec![0.0; d.ckk() * d.ohw()];
        for n in 0..d.batch {
            for grp in 0..self.groups {
                let wg = &w.data[grp * d.og * d.ckk()..][..d.og * d.ckk()];
                let gg = &g.data[(n * d.o + grp * d.og) * d.ohw()..][..d.og * d.ohw()];
                gemm(
                    MatMut::from_row_major_slice_mut(&mut cols, d.ckk(), d.ohw()),
                    MatRef::from_row_major_slice(wg, d.og, d.ckk()).transpose(),
                    MatRef::from_row_major_slice(gg, d.og, d.ohw()),
                    false,
                );
                let xg = &mut dx.data[(n * d.c + grp * d.cg) * d.h * d.w..][..d.cg * d.h * d.w];
                for (c, &i) in cols.iter().zip(&idx) {
                    if i != usize::MAX {
                        xg[i] += c;
                    }
                }
            }
        }
        Ok(dx)
    }

    /// The adjoint in `w`: `w̄` of shape `w_shape` from the output adjoint `g`.
    pub fn grad_w(&self, g: &Tensor, x: &Tensor, w_shape: &[usize]) -> Result<Tensor> {
        let d = self.dims(&x.shape, w_shape)?;
        let idx = self.col_index(&d);
        let mut dw = Tensor::zeros(w_shape)?;
        let mut cols = vec![0.0; d.ckk() * d.ohw()];
        for n in 0..d.batch {
            for grp in 0..self.groups {
                let xg = &x.data[(n * d.c + grp * d.cg) * d.h * d.w..][..d.cg * d.h * d.w];
                for (c, &i) in cols.iter_mut().zip(&idx) {
                    *c = if i == usize::MAX { 0.0 } else { xg[i] };
                }
                let gg = &g.data[(n * d.o + grp * d.og) * d.ohw()..][..d.og * d.ohw()];
                let wg = &mut dw.data[grp * d.og * d.ckk()..][..d.og * d.ckk()];
                gemm(
                    MatMut::from_row_major_slice_mut(wg, d.og, d.ckk()),
                    MatRef::from_row_major_slice(gg, d.og, d.ohw()),
                    MatRef::from_row_major_slice(&cols, d.ckk(), d.ohw()).transpose(),
                    true,
                );
            }
        }
        Ok(dw)
    }
}
