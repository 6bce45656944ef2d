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

/// `dst = a · b` (or `dst += a · b` when `add`), sequential (callers parallelise above).
pub(crate) fn gemm(dst: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, add: bool) {
    let acc = if add { Accum::Add } else { Accum::Replace };
    faer::linalg::matmul::matmul(dst, acc, a, b, 1.0, Par::Seq);
}

/// Column sums of an `r x c` column-major slice, added into `out` (length `c`).
pub(crate) fn add_col_sums(s: &[f64], r: usize, out: &mut [f64]) {
    for (o, col) in out.iter_mut().zip(s.chunks_exact(r.max(1))) {
        *o += col.iter().sum::<f64>();
    }
}
