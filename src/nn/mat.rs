//! Dense kernels of the network passes: matrix products through faer's GEMM on nalgebra's
//! column-major storage, and the element-wise helpers the passes share.
//!
//! Every matrix of samples is `N x width`, column-major (a column is one feature over all
//! samples). A block of `k` directions stacks `k` such matrices vertically (`kN x width`); the
//! same memory read as `N x (width·k)` has its columns ordered feature-major
//! (`column = feature·k + direction`), which turns per-direction contractions over samples into
//! one GEMM.

use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;

/// A view of a whole nalgebra matrix.
pub(crate) fn view(m: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

/// A mutable view of a whole nalgebra matrix.
pub(crate) fn view_mut(m: &mut DMatrix<f64>) -> MatMut<'_, f64> {
    let (r, c) = m.shape();
    MatMut::from_column_major_slice_mut(m.as_mut_slice(), r, c)
}

/// A column-major slice as an `r x c` view.
pub(crate) fn slice_view(s: &[f64], r: usize, c: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(s, r, c)
}

/// A column-major slice as a mutable `r x c` view.
pub(crate) fn slice_view_mut(s: &mut [f64], r: usize, c: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(s, r, c)
}

/// Multiply-adds above which a product called outside rayon's pool runs on all threads.
const PARALLEL_FLOPS: usize = 1 << 21;

/// `dst = a · b` (or `dst += a · b` when `add`).
///
/// Called from a rayon worker (the blocks of a dense Hessian already run in parallel) it stays
/// sequential; called from the main thread (one gradient or one Hessian-vector product, as in
/// Lanczos or training) a large product uses every thread.
pub(crate) fn gemm(dst: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, add: bool) {
    let acc = if add { Accum::Add } else { Accum::Replace };
    let work = a.nrows() * a.ncols() * b.ncols();
    let par = if work >= PARALLEL_FLOPS && rayon::current_thread_index().is_none() {
        Par::rayon(0)
    } else {
        Par::Seq
    };
    faer::linalg::matmul::matmul(dst, acc, a, b, 1.0, par);
}

/// Column sums of an `r x c` column-major slice, added into `out` (length `c`).
pub(crate) fn add_col_sums(s: &[f64], r: usize, out: &mut [f64]) {
    for (o, col) in out.iter_mut().zip(s.chunks_exact(r.max(1))) {
        *o += sum(col);
    }
}

/// The sum of `v` in eight interleaved partial sums, combined in a fixed order: a plain
/// left-to-right float sum is one dependent add per element (the compiler may not reorder it),
/// eight independent ones vectorize.
pub(crate) fn sum(v: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

use crate::buffer_pool::take_pooled;

/// A fresh zero `r x c` matrix whose buffer has room for 1/16 more: the parts of a data set
/// differ by a row, and their matrices then share the pooled buffers.
fn fresh(r: usize, c: usize) -> DMatrix<f64> {
    let len = r * c;
    let mut v = Vec::with_capacity(len + len / 16);
    v.resize(len, 0.0);
    DMatrix::from_vec(r, c, v)
}

/// A zero `r x c` matrix, reusing a pooled buffer when one is large enough.
pub(crate) fn pooled_zeros(r: usize, c: usize) -> DMatrix<f64> {
    let len = r * c;
    let buf = take_pooled(len);
    match buf {
        Some(mut v) => {
            v.clear();
            v.resize(len, 0.0);
            DMatrix::from_vec(r, c, v)
        }
        None => fresh(r, c),
    }
}

/// Returns a matrix's buffer to the pool.
pub(crate) fn recycle(m: DMatrix<f64>) {
    crate::buffer_pool::recycle(m.data.into());
}

/// An `r x c` matrix whose entries are unspecified (stale pooled values): only for outputs that
/// are overwritten entirely (a GEMM without accumulation, an element-wise map).
pub(crate) fn pooled_scratch(r: usize, c: usize) -> DMatrix<f64> {
    let len = r * c;
    let buf = take_pooled(len);
    match buf {
        Some(mut v) => {
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0.0);
            }
            DMatrix::from_vec(r, c, v)
        }
        None => fresh(r, c),
    }
}

/// `m ⊙ tile(f)` for `m` (`kN x w`) and `f` (`N x w`) into a pooled matrix.
pub(crate) fn pooled_tile_mul(m: &DMatrix<f64>, f: &DMatrix<f64>) -> DMatrix<f64> {
    let n = f.nrows();
    let mut out = pooled_scratch(m.nrows(), m.ncols());
    let kn = m.nrows();
    for ((oc, mc), fc) in out
        .as_mut_slice()
        .chunks_exact_mut(kn.max(1))
        .zip(m.as_slice().chunks_exact(kn.max(1)))
        .zip(f.as_slice().chunks_exact(n.max(1)))
    {
        for (ob, mb) in oc.chunks_exact_mut(n).zip(mc.chunks_exact(n)) {
            for ((o, a), b) in ob.iter_mut().zip(mb).zip(fc) {
                *o = a * b;
            }
        }
    }
    out
}
