//! Batched matrix products `C = A'·B'` (ONNX `MatMul`, and `Gemm`'s product), with numpy
//! broadcasting of the batch axes and optional transposes of the last two axes: bilinear in
//! `(A, B)`. A block of directions of `A` is one more batch axis, so a Gemm's R pass over the
//! data runs as one product per direction block.

use crate::error::{Error, Result};
use crate::graph::tensor::{broadcast_index, broadcast_shape, Tensor};
use crate::nn::mat::gemm;
use faer::{MatMut, MatRef};

/// A batched product with optional transposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatMul {
    /// Use the transpose of `A`'s last two axes.
    pub trans_a: bool,
    /// Use the transpose of `B`'s last two axes.
    pub trans_b: bool,
}

struct Plan {
    m: usize,
    k: usize,
    n: usize,
    out_shape: Vec<usize>,
    /// Per output matrix, the batch index of `A` and of `B`.
    ia: Vec<usize>,
    ib: Vec<usize>,
}

impl MatMul {
    fn plan(&self, a: &[usize], b: &[usize]) -> Result<Plan> {
        if a.len() < 2 || b.len() < 2 {
            return Err(Error::Unsupported(format!(
                "MatMul: operands of rank 1 are not supported (shapes {a:?} and {b:?})"
            )));
        }
        let (ra, rb) = (a.len(), b.len());
        let (m, ka) = if self.trans_a {
            (a[ra - 1], a[ra - 2])
        } else {
            (a[ra - 2], a[ra - 1])
        };
        let (kb, n) = if self.trans_b {
            (b[rb - 1], b[rb - 2])
        } else {
            (b[rb - 2], b[rb - 1])
        };
        if ka != kb {
            return Err(Error::Data(format!(
                "MatMul: shapes {a:?} and {b:?} do not multiply ({ka} != {kb})"
            )));
        }
        let batch = broadcast_shape(&a[..ra - 2], &b[..rb - 2], "MatMul")?;
        let ia = broadcast_index(&a[..ra - 2], &batch);
        let ib = broadcast_index(&b[..rb - 2], &batch);
        let mut out_shape = batch;
        out_shape.extend([m, n]);
        crate::graph::tensor::checked_len(&out_shape)?;
        Ok(Plan {
            m,
            k: ka,
            n,
            out_shape,
            ia,
            ib,
        })
    }

    fn view<'a>(s: &'a [f64], r: usize, c: usize, t: bool) -> MatRef<'a, f64> {
        if t {
            MatRef::from_row_major_slice(s, c, r).transpose()
        } else {
            MatRef::from_row_major_slice(s, r, c)
        }
    }

    fn view_mut<'a>(s: &'a mut [f64], r: usize, c: usize, t: bool) -> MatMut<'a, f64> {
        if t {
            MatMut::from_row_major_slice_mut(s, c, r).transpose_mut()
        } else {
            MatMut::from_row_major_slice_mut(s, r, c)
        }
    }

    /// `C = A'·B'`.
    pub fn forward(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let p = self.plan(&a.shape, &b.shape)?;
        let (m, k, n) = (p.m, p.k, p.n);
        let mut c = Tensor::zeros(&p.out_shape)?;
        for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
            gemm(
                MatMut::from_row_major_slice_mut(&mut c.data[t * m * n..][..m * n], m, n),
                Self::view(&a.data[ia * m * k..][..m * k], m, k, self.trans_a),
                Self::view(&b.data[ib * k * n..][..k * n], k, n, self.trans_b),
                false,
            );
        }
        Ok(c)
    }

    /// The adjoint in `A` (shape `a_shape`) from the output adjoint `g`.
    pub fn grad_a(&self, g: &Tensor, b: &Tensor, a_shape: &[usize]) -> Result<Tensor> {
        let p = self.plan(a_shape, &b.shape)?;
        let (m, k, n) = (p.m, p.k, p.n);
        let mut da = Tensor::zeros(a_shape)?;
        for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
            gemm(
                Self::view_mut(&mut da.data[ia * m * k..][..m * k], m, k, self.trans_a),
                MatRef::from_row_major_slice(&g.data[t * m * n..][..m * n], m, n),
                Self::view(&b.data[ib * k * n..][..k * n], k, n, self.trans_b).transpose(),
                true,
            );
        }
        Ok(da)
    }

    /// The adjoint in `B` (shape `b_shape`) from the output adjoint `g`.
    pub fn grad_b(&self, g: &Tensor, a: &Tensor, b_shape: &[usize]) -> Result<Tensor> {
        let p = self.plan(&a.shape, b_shape)?;
        let (m, k, n) = (p.m, p.k, p.n);
        let mut db = Tensor::zeros(b_shape)?;
        for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
            gemm(
                Self::view_mut(&mut db.data[ib * k * n..][..k * n], k, n, self.trans_b),
                Self::view(&a.data[ia * m * k..][..m * k], m, k, self.trans_a).transpose(),
                MatRef::from_row_major_slice(&g.data[t * m * n..][..m * n], m, n),
                true,
            );
        }
        Ok(db)
    }
}
