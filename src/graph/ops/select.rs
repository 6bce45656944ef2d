//! Ops that move entries between tensors without arithmetic: `Slice` and `Gather` (a fixed
//! selection of input entries, linear, its adjoint a scatter-add) and `Concat` (several inputs
//! side by side along one axis, its adjoint the split).

use super::shape::axis;
use crate::error::{Error, Result};
use crate::graph::tensor::{checked_len, strides, Tensor};

/// ONNX `Slice` with constant `starts`, `ends`, `axes` and `steps` (ONNX clamping rules:
/// negative positions count from the end, out-of-range positions are clamped).
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// First position per sliced axis.
    pub starts: Vec<i64>,
    /// One past the last position per sliced axis (exclusive).
    pub ends: Vec<i64>,
    /// The sliced axes (negative from the end).
    pub axes: Vec<i64>,
    /// Steps per sliced axis (non-zero; negative walks backwards).
    pub steps: Vec<i64>,
}

/// The positions `start, start + step, ...` of one axis of size `d` that ONNX's `Slice` keeps.
fn slice_positions(d: usize, start: i64, end: i64, step: i64) -> Vec<usize> {
    if d == 0 || step == 0 {
        return Vec::new();
    }
    let d = d as i128;
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let fix = |v: i128| if v < 0 { v + d } else { v };
    let (s, e) = if step > 0 {
        (fix(start).clamp(0, d), fix(end).clamp(0, d))
    } else {
        (fix(start).clamp(0, d - 1), fix(end).clamp(-1, d - 1))
    };
    let mut out = Vec::new();
    let mut i = s;
    while (step > 0 && i < e) || (step < 0 && i > e) {
        out.push(i as usize);
        i += step;
    }
    out
}

/// For every element of the output (row-major), the flat input index it reads, when axis `a`
/// of an input of shape `shape` keeps the positions `keep[a]`.
fn selection(shape: &[usize], keep: &[Vec<usize>]) -> Result<Vec<usize>> {
    let n = checked_len(&keep.iter().map(Vec::len).collect::<Vec<_>>())?;
    let st = strides(shape);
    let mut idx = Vec::with_capacity(n);
    idx.push(0usize);
    for (list, &s) in keep.iter().zip(&st) {
        let mut next = Vec::with_capacity(idx.len() * list.len());
        for &base in &idx {
            next.extend(list.iter().map(|&p| base + p * s));
        }
        idx = next;
    }
    Ok(idx)
}

impl Slice {
    /// The output shape and, per output element, the flat input index it reads.
    ///
    /// # Errors
    /// Lists of different lengths, an axis out of range or repeated, a zero step.
    pub fn index(&self, shape: &[usize]) -> Result<(Vec<usize>, Vec<usize>)> {
        let m = self.starts.len();
        if self.ends.len() != m || self.axes.len() != m || self.steps.len() != m {
            return Err(Error::Data(format!(
                "Slice: starts {:?}, ends {:?}, axes {:?} and steps {:?} differ in length",
                self.starts, self.ends, self.axes, self.steps
            )));
        }
        let mut keep: Vec<Option<Vec<usize>>> = vec![None; shape.len()];
        for i in 0..m {
            let a = axis("Slice", self.axes[i], shape.len())?;
            if self.steps[i] == 0 {
                return Err(Error::Data("Slice: a step of 0".into()));
            }
            if keep[a].is_some() {
                return Err(Error::Data(format!(
                    "Slice: axis {} appears twice in {:?}",
                    self.axes[i], self.axes
                )));
            }
            keep[a] = Some(slice_positions(
                shape[a],
                self.starts[i],
                self.ends[i],
                self.steps[i],
            ));
        }
        let keep: Vec<Vec<usize>> = keep
            .into_iter()
            .zip(shape)
            .map(|(k, &d)| k.unwrap_or_else(|| (0..d).collect()))
            .collect();
        let out: Vec<usize> = keep.iter().map(Vec::len).collect();
        Ok((out, selection(shape, &keep)?))
    }
}

/// ONNX `Gather` with constant indices: `out[..., j..., ...] = x[..., indices[j...], ...]` along
/// `axis` (negative indices count from the end).
#[derive(Debug, Clone, PartialEq)]
pub struct Gather {
    /// The axis indexed (negative from the end).
    pub axis: i64,
    /// The indices, row-major.
    pub indices: Vec<i64>,
    /// Their shape (empty for one scalar index, which removes the axis).
    pub index_shape: Vec<usize>,
}

impl Gather {
    /// The output shape and, per output element, the flat input index it reads.
    ///
    /// # Errors
    /// The axis out of range, an index out of range for its axis.
    pub fn index(&self, shape: &[usize]) -> Result<(Vec<usize>, Vec<usize>)> {
        let a = axis("Gather", self.axis, shape.len())?;
        let d = shape[a];
        let pos = self
            .indices
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + d as i64 } else { i };
                usize::try_from(j).ok().filter(|&j| j < d).ok_or_else(|| {
                    Error::Data(format!(
                        "Gather: index {i} is out of range for axis {a} of size {d} (shape {shape:?})"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut keep: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
        keep[a] = pos;
        let mut out = shape[..a].to_vec();
        out.extend_from_slice(&self.index_shape);
        out.extend_from_slice(&shape[a + 1..]);
        Ok((out, selection(shape, &keep)?))
    }
}

/// The entries of `x` at `idx`, shaped `shape`.
pub(crate) fn gather(x: &[f64], idx: &[usize], shape: &[usize]) -> Result<Tensor> {
    Tensor::new(shape.to_vec(), idx.iter().map(|&i| x[i]).collect())
}

/// The adjoint of [`gather`]: `g` added back at `idx` into a zero tensor of shape `in_shape`.
pub(crate) fn scatter(g: &[f64], idx: &[usize], in_shape: &[usize]) -> Result<Tensor> {
    let mut t = Tensor::zeros(in_shape)?;
    for (&i, v) in idx.iter().zip(g) {
        t.data[i] += v;
    }
    Ok(t)
}

/// The shape of the concatenation of `shapes` along `axis` (already resolved).
pub(crate) fn concat_shape(shapes: &[&[usize]], axis: usize) -> Result<Vec<usize>> {
    let first = shapes
        .first()
        .ok_or_else(|| Error::Data("Concat: no inputs".into()))?;
    let mut out = first.to_vec();
    out[axis] = 0;
    for s in shapes {
        let fits = s.len() == first.len()
            && s.iter()
                .zip(first.iter())
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        if !fits {
            return Err(Error::Data(format!(
                "Concat: shapes {first:?} and {s:?} differ outside axis {axis}"
            )));
        }
        out[axis] += s[axis];
    }
    checked_len(&out)?;
    Ok(out)
}

/// The concatenation of `parts` (data and shape) along `axis`.
pub(crate) fn concat(parts: &[(&[f64], &[usize])], axis: usize) -> Result<Tensor> {
    let shapes: Vec<&[usize]> = parts.iter().map(|p| p.1).collect();
    let out = concat_shape(&shapes, axis)?;
    let outer: usize = out[..axis].iter().product();
    let inner: usize = out[axis + 1..].iter().product();
    let mut data = Vec::with_capacity(checked_len(&out)?);
    for o in 0..outer {
        for (d, s) in parts {
            let w = s[axis] * inner;
            data.extend_from_slice(&d[o * w..(o + 1) * w]);
        }
    }
    Tensor::new(out, data)
}

/// The part of `g` (the concatenation along `axis` of inputs shaped `shapes`) that belongs to
/// input `i`: the adjoint of [`concat`] for that input.
pub(crate) fn split(g: &[f64], shapes: &[&[usize]], axis: usize, i: usize) -> Result<Tensor> {
    let out = concat_shape(shapes, axis)?;
    let outer: usize = out[..axis].iter().product();
    let inner: usize = out[axis + 1..].iter().product();
    let before: usize = shapes[..i].iter().map(|s| s[axis]).sum::<usize>() * inner;
    let w = shapes[i][axis] * inner;
    let total = out[axis] * inner;
    let mut data = Vec::with_capacity(outer * w);
    for o in 0..outer {
        data.extend_from_slice(&g[o * total + before..o * total + before + w]);
    }
    Tensor::new(shapes[i].to_vec(), data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_positions_follow_onnx_clamping() {
        assert_eq!(slice_positions(5, 1, 4, 1), [1, 2, 3]);
        assert_eq!(slice_positions(5, 0, i64::MAX, 2), [0, 2, 4]);
        assert_eq!(slice_positions(5, -2, i64::MAX, 1), [3, 4]);
        assert_eq!(slice_positions(5, -1, i64::MIN, -1), [4, 3, 2, 1, 0]);
        assert_eq!(slice_positions(5, 10, 2, -2), [4]);
        assert_eq!(slice_positions(5, 3, 1, 1), Vec::<usize>::new());
        assert_eq!(slice_positions(0, -1, i64::MIN, -1), Vec::<usize>::new());
    }

    #[test]
    fn gather_and_slice_read_the_documented_entries() {
        // x[2, 3] = 10 i + j.
        let s = Slice {
            starts: vec![1],
            ends: vec![3],
            axes: vec![1],
            steps: vec![1],
        };
        let (shape, idx) = s.index(&[2, 3]).unwrap();
        assert_eq!(shape, [2, 2]);
        assert_eq!(idx, [1, 2, 4, 5]);
        let g = Gather {
            axis: 0,
            indices: vec![-1],
            index_shape: vec![],
        };
        let (shape, idx) = g.index(&[2, 3]).unwrap();
        assert_eq!(shape, [3]);
        assert_eq!(idx, [3, 4, 5]);
        assert!(Gather {
            axis: 1,
            indices: vec![3],
            index_shape: vec![1],
        }
        .index(&[2, 3])
        .is_err());
    }

    #[test]
    fn concat_and_split_are_inverse() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0];
        let t = concat(&[(&a, &[2, 2]), (&b, &[2, 1])], 1).unwrap();
        assert_eq!(t.shape, [2, 3]);
        assert_eq!(t.data, [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
        let shapes: [&[usize]; 2] = [&[2, 2], &[2, 1]];
        assert_eq!(split(&t.data, &shapes, 1, 0).unwrap().data, a);
        assert_eq!(split(&t.data, &shapes, 1, 1).unwrap().data, b);
        assert!(concat(&[(&a, &[2, 2]), (&b, &[1, 2])], 1).is_err());
    }
}
