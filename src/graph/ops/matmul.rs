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

impl Plan {
    /// Whether a product with a nonzero inner dimension writes each output matrix of `A`'s
    /// adjoint exactly once: every batch of `A` is read by exactly one output matrix, so the
    /// first term of an adjoint may overwrite rather than add into zeros.
    fn writes_a_once(&self, batches_a: usize) -> bool {
        self.n > 0 && writes_each_once(&self.ia, batches_a)
    }

    /// As [`Plan::writes_a_once`], for `B`'s adjoint.
    fn writes_b_once(&self, batches_b: usize) -> bool {
        self.m > 0 && writes_each_once(&self.ib, batches_b)
    }
}

/// Whether `idx` lists every index `0..count` exactly once.
fn writes_each_once(idx: &[usize], count: usize) -> bool {
    let mut seen = vec![false; count];
    idx.len() == count
        && idx
            .iter()
            .all(|&i| i < count && !std::mem::replace(&mut seen[i], true))
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

    /// The plan of a block of `k` tangents of `A` taken as one product, when `A` and `B` have
    /// no batch axes and `A` is not transposed: the block `[k, m, K]` is then the matrix
    /// `(k·m) x K`, and its `k` products are one GEMM.
    fn stacked(&self, p: &Plan, k: usize) -> Option<Plan> {
        (p.ia.len() == 1 && p.out_shape.len() == 2 && !self.trans_a).then(|| Plan {
            m: k * p.m,
            k: p.k,
            n: p.n,
            out_shape: vec![k * p.m, p.n],
            ia: vec![0],
            ib: vec![0],
        })
    }

    /// `C = A'·B'` into `c` (`add`: `C += A'·B'`).
    fn product_into(&self, p: &Plan, c: &mut [f64], a: &[f64], b: &[f64], add: bool) {
        let (m, k, n) = (p.m, p.k, p.n);
        for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
            gemm(
                MatMut::from_row_major_slice_mut(&mut c[t * m * n..][..m * n], m, n),
                Self::view(&a[ia * m * k..][..m * k], m, k, self.trans_a),
                Self::view(&b[ib * k * n..][..k * n], k, n, self.trans_b),
                add,
            );
        }
    }

    /// `Ā += ∂_A(G, B)`: the adjoint in `A` from the output adjoint `g`, added into `da`
    /// (`add`), or written over it (valid when [`Plan::writes_a_once`]).
    fn grad_a_into(&self, p: &Plan, da: &mut [f64], g: &[f64], b: &[f64], add: bool) {
        let (m, k, n) = (p.m, p.k, p.n);
        for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
            gemm(
                Self::view_mut(&mut da[ia * m * k..][..m * k], m, k, self.trans_a),
                MatRef::from_row_major_slice(&g[t * m * n..][..m * n], m, n),
                Self::view(&b[ib * k * n..][..k * n], k, n, self.trans_b).transpose(),
                add,
            );
        }
    }

    /// `B̄ += ∂_B(G, A)`: the adjoint in `B` from the output adjoint `g`, added into `db`
    /// (`add`), or written over it (valid when [`Plan::writes_b_once`]).
    fn grad_b_into(&self, p: &Plan, db: &mut [f64], g: &[f64], a: &[f64], add: bool) {
        let (m, k, n) = (p.m, p.k, p.n);
        for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
            gemm(
                Self::view_mut(&mut db[ib * k * n..][..k * n], k, n, self.trans_b),
                Self::view(&a[ia * m * k..][..m * k], m, k, self.trans_a).transpose(),
                MatRef::from_row_major_slice(&g[t * m * n..][..m * n], m, n),
                add,
            );
        }
    }

    /// The output's tangents `[k, out...]` for a block of `k` directions:
    /// `R{C} = R{A}'·B' + A'·R{B}'`, read straight from the blocks `ra` (`[k, A...]`) and `rb`
    /// (`[k, B...]`); a block of `A` tangents of an unbatched product is one GEMM.
    pub fn r_forward(
        &self,
        a: &Tensor,
        b: &Tensor,
        ra: Option<&[f64]>,
        rb: Option<&[f64]>,
        k: usize,
    ) -> Result<Tensor> {
        let p = self.plan(&a.shape, &b.shape)?;
        let (la, lb) = (a.len(), b.len());
        let lc: usize = p.out_shape.iter().product();
        let mut shape = vec![k];
        shape.extend_from_slice(&p.out_shape);
        // The first product overwrites every output entry (unless the inner dimension is 0).
        let mut c = if (ra.is_some() || rb.is_some()) && p.k > 0 {
            Tensor::for_overwrite(&shape)?
        } else {
            Tensor::zeros(&shape)?
        };
        if let Some(ra) = ra {
            match self.stacked(&p, k) {
                Some(sp) => self.product_into(&sp, &mut c.data, ra, &b.data, false),
                None => {
                    for (cd, rad) in c.data.chunks_exact_mut(lc).zip(ra.chunks_exact(la)) {
                        self.product_into(&p, cd, rad, &b.data, false);
                    }
                }
            }
        }
        if let Some(rb) = rb {
            for (cd, rbd) in c.data.chunks_exact_mut(lc).zip(rb.chunks_exact(lb)) {
                self.product_into(&p, cd, &a.data, rbd, ra.is_some());
            }
        }
        Ok(c)
    }

    /// The output's tangents `[k, out...]` when operand `unit`'s tangents (0: `A`, 1: `B`) are
    /// the unit vectors at the flat indices `idx`, one per direction, and the other operand's
    /// are `other`: a unit entry `(kk, nn)` of `B'` adds column `kk` of `A'` to column `nn` of
    /// the output, a unit entry `(mm, kk)` of `A'` row `kk` of `B'` to row `mm`, in every
    /// output matrix whose batch reads that matrix of the operand. No product is formed.
    pub fn r_forward_unit(
        &self,
        a: &Tensor,
        b: &Tensor,
        unit: usize,
        idx: &[usize],
        other: Option<&[f64]>,
        k: usize,
    ) -> Result<Tensor> {
        if idx.len() != k {
            return Err(Error::dim("unit directions", k, idx.len()));
        }
        if unit > 1 {
            return Err(Error::Data(format!(
                "MatMul: operand {unit} does not exist"
            )));
        }
        let (ra, rb) = if unit == 0 {
            (None, other)
        } else {
            (other, None)
        };
        let mut c = self.r_forward(a, b, ra, rb, k)?;
        let p = self.plan(&a.shape, &b.shape)?;
        let (m, kk, n) = (p.m, p.k, p.n);
        let lc = p.out_shape.iter().product::<usize>();
        for (d, &q) in idx.iter().enumerate() {
            let cd = &mut c.data[d * lc..(d + 1) * lc];
            if q >= [a.len(), b.len()][unit] {
                return Err(Error::Data(format!("MatMul: unit index {q} out of range")));
            }
            if unit == 1 {
                let (tb, rem) = (q / (kk * n), q % (kk * n));
                // Storage `[K, n]`, or `[n, K]` transposed.
                let (ki, ni) = if self.trans_b {
                    (rem % kk, rem / kk)
                } else {
                    (rem / n, rem % n)
                };
                for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
                    if ib != tb {
                        continue;
                    }
                    let am = &a.data[ia * m * kk..(ia + 1) * m * kk];
                    let ct = &mut cd[t * m * n..(t + 1) * m * n];
                    for row in 0..m {
                        // `A'[row, ki]`: storage `[m, K]`, or `[K, m]` transposed.
                        let v = if self.trans_a {
                            am[ki * m + row]
                        } else {
                            am[row * kk + ki]
                        };
                        ct[row * n + ni] += v;
                    }
                }
            } else {
                let (ta, rem) = (q / (m * kk), q % (m * kk));
                let (mi, ki) = if self.trans_a {
                    (rem % m, rem / m)
                } else {
                    (rem / kk, rem % kk)
                };
                for (t, (&ia, &ib)) in p.ia.iter().zip(&p.ib).enumerate() {
                    if ia != ta {
                        continue;
                    }
                    let bm = &b.data[ib * kk * n..(ib + 1) * kk * n];
                    let ct = &mut cd[t * m * n..(t + 1) * m * n];
                    let crow = &mut ct[mi * n..(mi + 1) * n];
                    if self.trans_b {
                        // `B'[ki, col] = B[col, ki]`, storage `[n, K]`.
                        for (col, x) in crow.iter_mut().enumerate() {
                            *x += bm[col * kk + ki];
                        }
                    } else {
                        crow.iter_mut()
                            .zip(&bm[ki * n..(ki + 1) * n])
                            .for_each(|(x, v)| *x += v);
                    }
                }
            }
        }
        Ok(c)
    }

    /// The tangents `[k, A...]` and `[k, B...]` of the inputs' adjoints flagged in `need`:
    /// `R{Ā} = ∂_A(R{G}, B) + ∂_A(G, R{B})` and `R{B̄} = ∂_B(R{G}, A) + ∂_B(G, R{A})`, from
    /// the output adjoint `g`, its tangents `rg` and the inputs' tangents `ra`, `rb`.
    #[allow(clippy::too_many_arguments)]
    pub fn r_backward(
        &self,
        a: &Tensor,
        b: &Tensor,
        g: &Tensor,
        rg: Option<&[f64]>,
        ra: Option<&[f64]>,
        rb: Option<&[f64]>,
        need: [bool; 2],
        k: usize,
    ) -> Result<[Option<Tensor>; 2]> {
        let p = self.plan(&a.shape, &b.shape)?;
        let (la, lb) = (a.len(), b.len());
        let lc: usize = p.out_shape.iter().product();
        // A block the first term writes whole is not zeroed first; the first term then
        // overwrites it and the second adds.
        let block = |s: &[usize], overwrite: bool| {
            let mut shape = vec![k];
            shape.extend_from_slice(s);
            if overwrite {
                Tensor::for_overwrite(&shape)
            } else {
                Tensor::zeros(&shape)
            }
        };
        let batches = |s: &[usize]| s[..s.len() - 2].iter().product::<usize>();
        let mut da = None;
        if need[0] && (rg.is_some() || rb.is_some()) {
            let once = p.writes_a_once(batches(&a.shape));
            let mut t = block(&a.shape, once)?;
            let mut add = !once;
            if let Some(rg) = rg {
                match self.stacked(&p, k) {
                    Some(sp) => self.grad_a_into(&sp, &mut t.data, rg, &b.data, add),
                    None => {
                        for (td, rgd) in t.data.chunks_exact_mut(la).zip(rg.chunks_exact(lc)) {
                            self.grad_a_into(&p, td, rgd, &b.data, add);
                        }
                    }
                }
                add = true;
            }
            if let Some(rb) = rb {
                for (td, rbd) in t.data.chunks_exact_mut(la).zip(rb.chunks_exact(lb)) {
                    self.grad_a_into(&p, td, &g.data, rbd, add);
                }
            }
            da = Some(t);
        }
        let mut db = None;
        if need[1] && (rg.is_some() || ra.is_some()) {
            let once = p.writes_b_once(batches(&b.shape));
            let mut t = block(&b.shape, once)?;
            let mut add = !once;
            if let Some(rg) = rg {
                for (td, rgd) in t.data.chunks_exact_mut(lb).zip(rg.chunks_exact(lc)) {
                    self.grad_b_into(&p, td, rgd, &a.data, add);
                }
                add = true;
            }
            if let Some(ra) = ra {
                for (td, rad) in t.data.chunks_exact_mut(lb).zip(ra.chunks_exact(la)) {
                    self.grad_b_into(&p, td, &g.data, rad, add);
                }
            }
            db = Some(t);
        }
        Ok([da, db])
    }

    /// `C = A'·B'`.
    pub fn forward(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let p = self.plan(&a.shape, &b.shape)?;
        let mut c = Tensor::zeros(&p.out_shape)?;
        self.product_into(&p, &mut c.data, &a.data, &b.data, false);
        Ok(c)
    }

    /// The adjoint in `A` (shape `a_shape`) from the output adjoint `g`.
    pub fn grad_a(&self, g: &Tensor, b: &Tensor, a_shape: &[usize]) -> Result<Tensor> {
        let p = self.plan(a_shape, &b.shape)?;
        let mut da = Tensor::zeros(a_shape)?;
        self.grad_a_into(&p, &mut da.data, &g.data, &b.data, true);
        Ok(da)
    }

    /// The adjoint in `B` (shape `b_shape`) from the output adjoint `g`.
    pub fn grad_b(&self, g: &Tensor, a: &Tensor, b_shape: &[usize]) -> Result<Tensor> {
        let p = self.plan(&a.shape, b_shape)?;
        let mut db = Tensor::zeros(b_shape)?;
        self.grad_b_into(&p, &mut db.data, &g.data, &a.data, true);
        Ok(db)
    }
}
