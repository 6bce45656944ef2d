//! Linear maps of one tensor that move or sum entries: reshapes (`Reshape`, `Flatten`,
//! `Identity`, `Dropout` at inference, `Squeeze`, `Unsqueeze`, per-channel views), `Transpose`,
//! and the reductions `ReduceSum` / `ReduceMean`.

use crate::error::{Error, Result};
use crate::graph::tensor::{broadcast_index, checked_len, strides, Tensor};

/// How a reshape computes its output shape from the input's.
#[derive(Debug, Clone, PartialEq)]
pub enum Reshape {
    /// The same shape.
    Identity,
    /// ONNX `Flatten`: `[prod(d[..axis]), prod(d[axis..])]` (negative axes from the end).
    Flatten(i64),
    /// ONNX `Reshape`: `0` copies the input's dimension, `-1` is inferred.
    To(Vec<i64>),
    /// Insert axes of size 1 (ONNX `Unsqueeze`), positions in the output.
    Unsqueeze(Vec<i64>),
    /// Remove the given axes of size 1 (all of them when empty).
    Squeeze(Vec<i64>),
    /// A per-channel vector `[C]` viewed as `[C, 1, ..., 1]` to broadcast over an input of rank
    /// `r` (`r − 2` trailing ones): batch normalization's statistics against `[N, C, H, W]`.
    Channel {
        /// Rank of the tensor the vector broadcasts against.
        rank: usize,
    },
}

/// An axis index that may be negative, resolved against `rank`.
pub(crate) fn axis(op: &str, a: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(Error::Data(format!(
            "{op}: axis {a} is out of range for rank {rank}"
        )))
    }
}

impl Reshape {
    /// The output shape for input shape `s`.
    pub fn out_shape(&self, s: &[usize]) -> Result<Vec<usize>> {
        let n: usize = s.iter().product();
        let out = match self {
            Reshape::Identity => s.to_vec(),
            Reshape::Flatten(a) => {
                let r = s.len() as i64;
                let a = if *a < 0 { a + r } else { *a };
                if !(0..=r).contains(&a) {
                    return Err(Error::Data(format!(
                        "Flatten: axis {a} is out of range for rank {r}"
                    )));
                }
                let lead: usize = s[..a as usize].iter().product();
                vec![lead, s[a as usize..].iter().product()]
            }
            Reshape::To(spec) => {
                let mut out = Vec::with_capacity(spec.len());
                let mut infer = None;
                for (i, &d) in spec.iter().enumerate() {
                    match d {
                        0 => out.push(*s.get(i).ok_or_else(|| {
                            Error::Data(format!(
                                "Reshape: target {spec:?} copies axis {i} of an input of shape {s:?}"
                            ))
                        })?),
                        -1 if infer.is_none() => {
                            infer = Some(i);
                            out.push(1);
                        }
                        d if d > 0 => out.push(d as usize),
                        _ => {
                            return Err(Error::Data(format!(
                                "Reshape: invalid target shape {spec:?}"
                            )))
                        }
                    }
                }
                let known = checked_len(&out)?;
                if let Some(i) = infer {
                    if known == 0 || !n.is_multiple_of(known) {
                        return Err(Error::Data(format!(
                            "Reshape: cannot reshape {s:?} into {spec:?}"
                        )));
                    }
                    out[i] = n / known;
                }
                out
            }
            Reshape::Unsqueeze(axes) => {
                let r = s.len() + axes.len();
                let mut at: Vec<usize> = axes
                    .iter()
                    .map(|&a| axis("Unsqueeze", a, r))
                    .collect::<Result<_>>()?;
                at.sort_unstable();
                let mut it = s.iter();
                (0..r)
                    .map(|i| {
                        if at.binary_search(&i).is_ok() {
                            1
                        } else {
                            it.next().copied().unwrap_or(1)
                        }
                    })
                    .collect()
            }
            Reshape::Squeeze(axes) => {
                let at: Vec<usize> = axes
                    .iter()
                    .map(|&a| axis("Squeeze", a, s.len()))
                    .collect::<Result<_>>()?;
                s.iter()
                    .enumerate()
                    .filter(|&(i, &d)| !(d == 1 && (at.is_empty() || at.contains(&i))))
                    .map(|(_, &d)| d)
                    .collect()
            }
            Reshape::Channel { rank } => {
                let mut out = s.to_vec();
                out.extend(std::iter::repeat_n(1, rank.saturating_sub(2)));
                out
            }
        };
        if checked_len(&out)? != n {
            return Err(Error::Data(format!(
                "Reshape: cannot reshape {s:?} into {out:?}"
            )));
        }
        Ok(out)
    }
}

/// `x` with its axes permuted (`out.shape[i] = x.shape[perm[i]]`).
pub fn transpose(x: &Tensor, perm: &[usize]) -> Result<Tensor> {
    let r = x.rank();
    let mut seen = vec![false; r];
    if perm.len() != r
        || perm
            .iter()
            .any(|&p| p >= r || std::mem::replace(&mut seen[p], true))
    {
        return Err(Error::Data(format!(
            "Transpose: permutation {perm:?} does not fit an input of shape {:?}",
            x.shape
        )));
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let is = strides(&x.shape);
    let src: Vec<usize> = perm.iter().map(|&p| is[p]).collect();
    let mut data = Vec::with_capacity(x.len());
    let mut counter = vec![0usize; r];
    let mut cur = 0usize;
    for _ in 0..x.len() {
        data.push(x.data[cur]);
        for ax in (0..r).rev() {
            counter[ax] += 1;
            cur += src[ax];
            if counter[ax] < out_shape[ax] {
                break;
            }
            cur -= src[ax] * counter[ax];
            counter[ax] = 0;
        }
    }
    Tensor::new(out_shape, data)
}

/// The inverse of a permutation.
pub fn inverse_perm(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        if p < inv.len() {
            inv[p] = i;
        }
    }
    inv
}

/// Which axes a reduction sums over.
#[derive(Debug, Clone, PartialEq)]
pub enum Axes {
    /// These axes (negative from the end); all when empty.
    List(Vec<i64>),
    /// From this axis to the last (layer normalization).
    From(i64),
    /// Every axis but this one (batch normalization's statistics over all but the channel).
    Except(i64),
}

/// `ReduceSum` or `ReduceMean`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reduce {
    /// The axes reduced.
    pub axes: Axes,
    /// Keep reduced axes with size 1.
    pub keepdims: bool,
    /// Divide by the number of summed entries.
    pub mean: bool,
}

impl Reduce {
    /// The input shape with reduced axes set to 1, the output shape, and the divisor.
    fn shapes(&self, s: &[usize]) -> Result<(Vec<usize>, Vec<usize>, f64)> {
        let r = s.len();
        let mut red = vec![false; r];
        match &self.axes {
            Axes::List(a) if a.is_empty() => red.iter_mut().for_each(|v| *v = true),
            Axes::List(a) => {
                for &ax in a {
                    red[axis("Reduce", ax, r)?] = true;
                }
            }
            Axes::From(a) => {
                for v in red.iter_mut().skip(axis("Reduce", *a, r)?) {
                    *v = true;
                }
            }
            Axes::Except(a) => {
                let keep = axis("Reduce", *a, r)?;
                for (i, v) in red.iter_mut().enumerate() {
                    *v = i != keep;
                }
            }
        }
        let kept: Vec<usize> = (0..r).map(|i| if red[i] { 1 } else { s[i] }).collect();
        let count: usize = (0..r).filter(|&i| red[i]).map(|i| s[i]).product();
        let out = if self.keepdims {
            kept.clone()
        } else {
            (0..r).filter(|&i| !red[i]).map(|i| s[i]).collect()
        };
        let div = if self.mean { count.max(1) as f64 } else { 1.0 };
        Ok((kept, out, div))
    }

    /// The reduction of `x`.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let (kept, out, div) = self.shapes(&x.shape)?;
        let idx = broadcast_index(&kept, &x.shape);
        let mut data = vec![0.0; kept.iter().product()];
        for (v, &i) in x.data.iter().zip(&idx) {
            data[i] += v;
        }
        data.iter_mut().for_each(|v| *v /= div);
        Tensor::new(out, data)
    }

    /// The adjoint: `g` spread back over the input shape `in_shape`.
    pub fn apply_t(&self, g: &Tensor, in_shape: &[usize]) -> Result<Tensor> {
        let (kept, _, div) = self.shapes(in_shape)?;
        let idx = broadcast_index(&kept, in_shape);
        Tensor::new(
            in_shape.to_vec(),
            idx.iter().map(|&i| g.data[i] / div).collect(),
        )
    }
}
