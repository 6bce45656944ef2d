//! 2-D pooling windows (ONNX `MaxPool`, `AveragePool`, `GlobalAveragePool`) on `[..., H, W]`
//! tensors, built as a [`SparseMap`]: max pooling is linear once its argmax is fixed, so the
//! map built at the forward pass serves every derivative pass.

use super::sparse::SparseMap;
use crate::error::{Error, Result};
use crate::graph::tensor::{checked_len, Tensor};

/// Window geometry of a 2-D pooling.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool2d {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Strides.
    pub strides: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    /// Dilations.
    pub dilations: [usize; 2],
    /// Round the output size up (ONNX `ceil_mode`).
    pub ceil_mode: bool,
    /// Average pooling: count padded cells in the divisor.
    pub count_include_pad: bool,
}

/// Output size of one pooled or convolved axis, or an error naming the op.
pub(crate) fn out_dim(
    op: &str,
    size: usize,
    pad: usize,
    kernel: usize,
    stride: usize,
    dil: usize,
    ceil: bool,
) -> Result<usize> {
    let span = dil
        .checked_mul(kernel.saturating_sub(1))
        .and_then(|s| s.checked_add(1));
    let total = size.checked_add(pad);
    match (span, total) {
        (Some(span), Some(total)) if kernel > 0 && stride > 0 && dil > 0 && total >= span => {
            let num = total - span;
            let q = if ceil { num.div_ceil(stride) } else { num / stride };
            Ok(q + 1)
        }
        _ => Err(Error::Data(format!(
            "{op}: a window of {kernel} (dilation {dil}, stride {stride}) does not fit an axis of {size} with padding {pad}"
        ))),
    }
}

impl Pool2d {
    fn geometry(&self, op: &str, shape: &[usize]) -> Result<(usize, usize, usize, usize, usize)> {
        if shape.len() < 3 {
            return Err(Error::Data(format!(
                "{op}: needs an input of rank 4 ([N, C, H, W]), got shape {shape:?}"
            )));
        }
        let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let planes: usize = shape[..shape.len() - 2].iter().product();
        let oh = out_dim(
            op,
            h,
            self.pads[0] + self.pads[2],
            self.kernel[0],
            self.strides[0],
            self.dilations[0],
            self.ceil_mode,
        )?;
        let ow = out_dim(
            op,
            w,
            self.pads[1] + self.pads[3],
            self.kernel[1],
            self.strides[1],
            self.dilations[1],
            self.ceil_mode,
        )?;
        checked_len(&[planes, oh, ow, self.kernel[0], self.kernel[1]])?;
        Ok((planes, h, w, oh, ow))
    }

    /// The output shape for an input of shape `shape`.
    fn out_shape(&self, shape: &[usize], oh: usize, ow: usize) -> Vec<usize> {
        let mut s = shape[..shape.len() - 2].to_vec();
        s.extend([oh, ow]);
        s
    }

    /// Visits every window: `f(output index, cells)` with the in-range input indices, and
    /// the number of cells counting padding (within the padded extent).
    fn windows(
        &self,
        dims: (usize, usize, usize, usize, usize),
        mut f: impl FnMut(&[usize], usize),
    ) {
        let (planes, h, w, oh, ow) = dims;
        let mut cells = Vec::with_capacity(self.kernel[0] * self.kernel[1]);
        for p in 0..planes {
            for oi in 0..oh {
                for oj in 0..ow {
                    cells.clear();
                    let mut padded = 0;
                    for ki in 0..self.kernel[0] {
                        let i = (oi * self.strides[0] + ki * self.dilations[0]) as isize
                            - self.pads[0] as isize;
                        for kj in 0..self.kernel[1] {
                            let j = (oj * self.strides[1] + kj * self.dilations[1]) as isize
                                - self.pads[1] as isize;
                            let inside_padded =
                                i < (h + self.pads[2]) as isize && j < (w + self.pads[3]) as isize;
                            if inside_padded {
                                padded += 1;
                            }
                            if i >= 0 && j >= 0 && (i as usize) < h && (j as usize) < w {
                                cells.push(p * h * w + i as usize * w + j as usize);
                            }
                        }
                    }
                    f(&cells, padded);
                }
            }
        }
    }

    /// Max pooling of `x`: the output and the map selecting each window's first maximum.
    pub fn max(&self, x: &Tensor) -> Result<(Tensor, SparseMap)> {
        let dims = self.geometry("MaxPool", &x.shape)?;
        let mut map = SparseMap {
            offsets: vec![0],
            entries: Vec::new(),
            in_len: x.len(),
        };
        let mut empty = false;
        self.windows(dims, |cells, _| {
            match cells
                .iter()
                .copied()
                .reduce(|a, b| if x.data[b] > x.data[a] { b } else { a })
            {
                Some(i) => map.entries.push((i, 1.0)),
                None => empty = true,
            }
            map.offsets.push(map.entries.len());
        });
        if empty {
            return Err(Error::Data(
                "MaxPool: a window lies entirely in the padding".into(),
            ));
        }
        let y = Tensor::new(self.out_shape(&x.shape, dims.3, dims.4), map.apply(&x.data))?;
        Ok((y, map))
    }

    /// Average pooling of `x`: the output and the averaging map.
    pub fn average(&self, x: &Tensor) -> Result<(Tensor, SparseMap)> {
        let dims = self.geometry("AveragePool", &x.shape)?;
        let mut map = SparseMap {
            offsets: vec![0],
            entries: Vec::new(),
            in_len: x.len(),
        };
        let include = self.count_include_pad;
        self.windows(dims, |cells, padded| {
            let count = if include { padded } else { cells.len() };
            for &i in cells {
                map.entries.push((i, 1.0 / count.max(1) as f64));
            }
            map.offsets.push(map.entries.len());
        });
        let y = Tensor::new(self.out_shape(&x.shape, dims.3, dims.4), map.apply(&x.data))?;
        Ok((y, map))
    }
}
