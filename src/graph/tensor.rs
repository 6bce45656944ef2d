//! Shaped `f64` tensors (row-major, contiguous) and the broadcasting rules the ops share.
//!
//! A block of `k` directional derivatives of a tensor of shape `s` is one tensor of shape
//! `[k, s...]`: direction `d` is the contiguous slice `d·len .. (d+1)·len`.

use crate::error::{Error, Result};

/// Most elements one tensor may hold (2 GiB of `f64`): sizes are checked against it before
/// anything is allocated, so an absurd dimension in a model file is an error, not an abort.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// A row-major `f64` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The entries, row-major; `data.len()` is the product of `shape`.
    pub data: Vec<f64>,
}

/// The number of elements of `shape`, checked against overflow and [`MAX_ELEMENTS`]. The
/// product of the non-zero dimensions is bounded too, so that no partial product of an empty
/// tensor's dimensions (strides, reshapes) can overflow.
pub fn checked_len(shape: &[usize]) -> Result<usize> {
    let mut n: usize = 1;
    for &d in shape {
        n = n
            .checked_mul(d.max(1))
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                Error::Data(format!(
                    "a tensor of shape {shape:?} exceeds the limit of {MAX_ELEMENTS} elements"
                ))
            })?;
    }
    Ok(if shape.contains(&0) { 0 } else { n })
}

pub(crate) use crate::buffer_pool::{recycle, take, take_for_overwrite};

/// `len` zeros in a pooled buffer.
pub(crate) fn zeroed(len: usize) -> Vec<f64> {
    let mut v = take(len);
    v.resize(len, 0.0);
    v
}

/// A copy of `src` in a pooled buffer.
pub(crate) fn copied(src: &[f64]) -> Vec<f64> {
    let mut v = take(src.len());
    v.extend_from_slice(src);
    v
}

/// Returns the buffers of every tensor in `ts` to the pool.
pub(crate) fn recycle_all(ts: impl IntoIterator<Item = Option<Tensor>>) {
    ts.into_iter().flatten().for_each(Tensor::recycle);
}

impl Tensor {
    /// A zero tensor, its size checked first.
    pub fn zeros(shape: &[usize]) -> Result<Tensor> {
        let n = checked_len(shape)?;
        Ok(Tensor {
            shape: shape.to_vec(),
            data: zeroed(n),
        })
    }

    /// A tensor whose every entry the caller writes before reading any (a GEMM's output that
    /// overwrites): its values are unspecified, its size checked first.
    pub(crate) fn for_overwrite(shape: &[usize]) -> Result<Tensor> {
        let n = checked_len(shape)?;
        Ok(Tensor {
            shape: shape.to_vec(),
            data: take_for_overwrite(n),
        })
    }

    /// Returns the tensor's buffer to this thread's pool.
    pub(crate) fn recycle(self) {
        recycle(self.data);
    }

    /// A copy whose buffer comes from the pool.
    pub(crate) fn pooled_clone(&self) -> Tensor {
        Tensor {
            shape: self.shape.clone(),
            data: copied(&self.data),
        }
    }

    /// A tensor from its shape and entries.
    ///
    /// # Errors
    /// The entries do not fill the shape exactly.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Tensor> {
        let n = checked_len(&shape)?;
        if n != data.len() {
            return Err(Error::Data(format!(
                "a tensor of shape {shape:?} needs {n} values, got {}",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The `d`-th of a block of directions (`self` of shape `[k, s...]`) as a tensor of shape `s`.
    pub(crate) fn direction(&self, d: usize) -> Tensor {
        let inner = &self.shape[1..];
        let len: usize = inner.iter().product();
        Tensor {
            shape: inner.to_vec(),
            data: self.data[d * len..(d + 1) * len].to_vec(),
        }
    }

    /// Stacks `k` tensors of one shape `s` into a block `[k, s...]`.
    pub(crate) fn stack(parts: Vec<Tensor>) -> Tensor {
        let mut shape = vec![parts.len()];
        shape.extend_from_slice(parts.first().map_or(&[][..], |p| &p.shape[..]));
        let mut data = Vec::with_capacity(parts.iter().map(Tensor::len).sum());
        for p in parts {
            data.extend_from_slice(&p.data);
        }
        Tensor { shape, data }
    }

    /// `self += other` (same length).
    pub(crate) fn add_assign(&mut self, other: &Tensor) {
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }
}

/// Row-major strides of a shape. Saturating: a shape with a zero dimension holds no element
/// (its strides are never used) and may have other dimensions whose product overflows.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// The numpy broadcast of two shapes.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize], op: &str) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::Data(format!(
                    "{op}: shapes {a:?} and {b:?} do not broadcast"
                )))
            }
        };
    }
    checked_len(&out)?;
    Ok(out)
}

/// For every element of `out` (row-major), the flat index of the element of an input of shape
/// `inp` it reads under broadcasting.
pub(crate) fn broadcast_index(inp: &[usize], out: &[usize]) -> Vec<usize> {
    let n: usize = out.iter().product();
    let r = out.len();
    let off = r - inp.len();
    let is = strides(inp);
    // Stride of each output axis in the input (0 where broadcast).
    let st: Vec<usize> = (0..r)
        .map(|i| {
            if i < off || inp[i - off] == 1 {
                0
            } else {
                is[i - off]
            }
        })
        .collect();
    let mut idx = vec![0usize; n];
    let mut counter = vec![0usize; r];
    let mut cur = 0usize;
    for slot in idx.iter_mut() {
        *slot = cur;
        for ax in (0..r).rev() {
            counter[ax] += 1;
            cur += st[ax];
            if counter[ax] < out[ax] {
                break;
            }
            cur -= st[ax] * counter[ax];
            counter[ax] = 0;
        }
    }
    idx
}

/// How an input of shape `inp` repeats over the broadcast shape `out`, when it does so in the
/// common way: `out` read as `[outer, mid, inner]`, the input's `mid` entries each repeated
/// `inner` times, the whole `outer` times (a bias `[C]` over `[N, C]`, a channel bias
/// `[C, 1, 1]` over `[N, C, H, W]`, equal shapes). `None` for other broadcasts (several
/// separated broadcast axes), which go through [`broadcast_index`].
pub(crate) fn broadcast_pattern(inp: &[usize], out: &[usize]) -> Option<(usize, usize, usize)> {
    let r = out.len();
    let off = r.checked_sub(inp.len())?;
    let dim = |i: usize| if i < off { 1 } else { inp[i - off] };
    if (0..r).any(|i| dim(i) != out[i] && dim(i) != 1) {
        return None;
    }
    let mut kept = (0..r).filter(|&i| out[i] != 1 && dim(i) != 1);
    let Some(first) = kept.next() else {
        return Some((out.iter().product(), 1, 1));
    };
    let last = kept.next_back().unwrap_or(first);
    if (first..=last).any(|i| out[i] != 1 && dim(i) == 1) {
        return None;
    }
    Some((
        out[..first].iter().product(),
        out[first..=last].iter().product(),
        out[last + 1..].iter().product(),
    ))
}

/// Calls `f(i, j)` for every entry `i` of the broadcast shape `out` in order, `j` being the
/// entry of `inp` (broadcast to `out`) that it reads: block loops when the broadcast has the
/// common form ([`broadcast_pattern`]), the index table otherwise.
pub(crate) fn for_each_broadcast(inp: &[usize], out: &[usize], mut f: impl FnMut(usize, usize)) {
    match broadcast_pattern(inp, out) {
        Some((outer, mid, inner)) => {
            let mut i = 0;
            for _ in 0..outer {
                for j in 0..mid {
                    for _ in 0..inner {
                        f(i, j);
                        i += 1;
                    }
                }
            }
        }
        None => broadcast_index(inp, out)
            .iter()
            .enumerate()
            .for_each(|(i, &j)| f(i, j)),
    }
}

/// `dst += s · src` with `src` (shape `inp`) broadcast to `dst` (shape `out`).
pub(crate) fn add_broadcast(dst: &mut [f64], out: &[usize], src: &[f64], inp: &[usize], s: f64) {
    if dst.is_empty() {
        return;
    }
    match broadcast_pattern(inp, out) {
        Some((_, mid, 1)) => {
            for row in dst.chunks_exact_mut(mid.max(1)) {
                crate::kernels::add_scaled(row, s, src);
            }
        }
        Some((_, mid, inner)) => {
            for block in dst.chunks_exact_mut((mid * inner).max(1)) {
                for (lane, &v) in block.chunks_exact_mut(inner).zip(src) {
                    let sv = s * v;
                    lane.iter_mut().for_each(|d| *d += sv);
                }
            }
        }
        None => {
            for (d, &i) in dst.iter_mut().zip(&broadcast_index(inp, out)) {
                *d += s * src[i];
            }
        }
    }
}

/// `dst += s · Σ g` with `g` (the broadcast shape `out`) summed back onto `dst` (shape `inp`):
/// the adjoint of [`add_broadcast`].
pub(crate) fn add_reduced(dst: &mut [f64], inp: &[usize], g: &[f64], out: &[usize], s: f64) {
    if g.is_empty() {
        return;
    }
    match broadcast_pattern(inp, out) {
        Some((1, _, 1)) => crate::kernels::add_scaled(dst, s, g),
        Some((_, mid, 1)) => {
            let mut acc = vec![0.0; mid];
            for row in g.chunks_exact(mid.max(1)) {
                crate::kernels::add(&mut acc, row);
            }
            dst.iter_mut().zip(&acc).for_each(|(d, a)| *d += s * a);
        }
        Some((_, mid, inner)) => {
            let mut acc = vec![0.0; mid];
            for block in g.chunks_exact((mid * inner).max(1)) {
                for (a, lane) in acc.iter_mut().zip(block.chunks_exact(inner)) {
                    *a += lane.iter().sum::<f64>();
                }
            }
            dst.iter_mut().zip(&acc).for_each(|(d, a)| *d += s * a);
        }
        None => {
            for (v, &i) in g.iter().zip(&broadcast_index(inp, out)) {
                dst[i] += s * v;
            }
        }
    }
}

/// Sums `g` (of the broadcast shape `out`) back onto an input of shape `inp`: the adjoint of
/// broadcasting.
pub(crate) fn reduce_to(g: &[f64], out: &[usize], inp: &[usize]) -> Tensor {
    let n: usize = inp.iter().product();
    let data = if inp == out {
        g.to_vec()
    } else {
        let mut data = vec![0.0; n];
        add_reduced(&mut data, inp, g, out, 1.0);
        data
    };
    Tensor {
        shape: inp.to_vec(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_index_matches_explicit_loops() {
        // [2,1,3] against out [4,2,5,3]: index = i1*3 + i3.
        let out = [4, 2, 5, 3];
        let idx = broadcast_index(&[2, 1, 3], &out);
        let mut flat = 0;
        for _ in 0..4 {
            for i1 in 0..2 {
                for _ in 0..5 {
                    for i3 in 0..3 {
                        assert_eq!(idx[flat], i1 * 3 + i3);
                        flat += 1;
                    }
                }
            }
        }
    }

    /// Broadcasts to `[2, 3, 4, 5]` of every kind of pattern, and one the pattern does not
    /// cover.
    const CASES: [&[usize]; 8] = [
        &[5],
        &[4, 5],
        &[3, 1, 1],
        &[1, 3, 4, 1],
        &[2, 3, 4, 5],
        &[1],
        &[],
        &[3, 1, 5],
    ];

    /// The block loops visit the pairs of the index table, in its order.
    #[test]
    fn each_broadcast_pair_is_that_of_the_index_table() {
        let out = [2, 3, 4, 5];
        for inp in CASES {
            let idx = broadcast_index(inp, &out);
            let mut seen = Vec::new();
            for_each_broadcast(inp, &out, |i, j| seen.push((i, j)));
            let want: Vec<(usize, usize)> = idx.iter().copied().enumerate().collect();
            assert_eq!(seen, want, "{inp:?}");
        }
    }

    /// The fast broadcast and its adjoint against the index table.
    #[test]
    fn broadcast_patterns_match_the_index_table() {
        let out = [2, 3, 4, 5];
        assert_eq!(broadcast_pattern(&[5], &out), Some((24, 5, 1)));
        assert_eq!(broadcast_pattern(&[3, 1, 1], &out), Some((2, 3, 20)));
        assert_eq!(broadcast_pattern(&[3, 1, 5], &out), None);
        let n: usize = out.iter().product();
        let g: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        for inp in CASES {
            let m: usize = inp.iter().product();
            let src: Vec<f64> = (0..m).map(|i| 1.0 + i as f64).collect();
            let idx = broadcast_index(inp, &out);
            let mut dst = vec![0.5; n];
            add_broadcast(&mut dst, &out, &src, inp, -2.0);
            for (d, &i) in dst.iter().zip(&idx) {
                assert_eq!(*d, 0.5 - 2.0 * src[i], "{inp:?}");
            }
            let mut red = vec![0.0; m];
            add_reduced(&mut red, inp, &g, &out, 3.0);
            let mut want = vec![0.0; m];
            for (v, &i) in g.iter().zip(&idx) {
                want[i] += v;
            }
            for (r, w) in red.iter().zip(&want) {
                assert!((r - 3.0 * w).abs() <= 1e-13 * w.abs().max(1.0), "{inp:?}");
            }
        }
    }

    #[test]
    fn absurd_shapes_are_errors() {
        assert!(Tensor::zeros(&[1 << 20, 1 << 20]).is_err());
        assert!(checked_len(&[usize::MAX, 2]).is_err());
        assert!(broadcast_shape(&[2, 3], &[4, 3], "add").is_err());
    }
}
