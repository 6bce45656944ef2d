//! The dense matrix product the graph's ops run on: faer's GEMM, in parallel only when called
//! outside rayon's pool on a large product.

use faer::{Accum, MatMut, MatRef, Par};

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
