//! The operations of a graph and their four passes: forward, backward (the vector-Jacobian
//! product), R-forward (the directional derivative of the forward) and R-backward (Pearlmutter's
//! R-operator applied to the backward pass), the last two for a block of `k` directions at once.
//!
//! Every op is one of four kinds, and each kind's R passes follow from a few primitives:
//! element-wise functions ([`Unary`]: `f`, `f'`, `f''`), sums (`Add`, `Sub` with broadcasting),
//! linear maps of one tensor (reshapes, transposes, reductions, pooling: the map and its
//! transpose) and bilinear maps (`Mul`, [`MatMul`], [`Conv2d`]: the product and its two
//! adjoints, `R{ā} = ∂ₐᵀ(R{ḡ}, b) + ∂ₐᵀ(ḡ, R{b})`); `Concat` is linear in all its inputs
//! together (its adjoint splits). Inputs that carry no direction (data,
//! constants, buffers) have tangent `None` and cost nothing.

pub mod conv;
pub mod matmul;
pub mod pool;
pub mod select;
pub mod shape;
pub mod softmax;
pub mod sparse;
pub mod unary;

pub use conv::Conv2d;
pub use matmul::MatMul;
pub use pool::Pool2d;
pub use select::{Gather, Slice};
pub use shape::{Axes, Reduce, Reshape};
pub use unary::Unary;

use crate::error::{Error, Result};
use crate::graph::tensor::{
    add_broadcast, add_reduced, broadcast_index, broadcast_shape, checked_len, for_each_broadcast,
    reduce_to, take, take_for_overwrite, Tensor,
};
use sparse::SparseMap;

/// One operation of a graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// An element-wise function.
    Unary(Unary),
    /// `a + b`, broadcasting.
    Add,
    /// `a − b`, broadcasting.
    Sub,
    /// `a ⊙ b`, broadcasting.
    Mul,
    /// A batched matrix product.
    MatMul(MatMul),
    /// A 2-D convolution without bias.
    Conv(Conv2d),
    /// 2-D max pooling.
    MaxPool(Pool2d),
    /// 2-D average pooling.
    AvgPool(Pool2d),
    /// A change of shape; for [`Reshape::Channel`] the second input gives the rank.
    Reshape(Reshape),
    /// A permutation of axes.
    Transpose(Vec<usize>),
    /// A sum or mean over axes.
    Reduce(Reduce),
    /// Softmax along an axis.
    Softmax(i64),
    /// Entries of a box of the input, with steps (ONNX `Slice` with constant bounds).
    Slice(Slice),
    /// Entries at constant indices along an axis (ONNX `Gather`).
    Gather(Gather),
    /// `inputs` tensors side by side along `axis` (negative from the end).
    Concat {
        /// The axis joined.
        axis: i64,
        /// How many inputs.
        inputs: usize,
    },
}

/// What a forward pass keeps for the derivative passes of its node.
#[derive(Debug, Clone, Default)]
pub enum Aux {
    /// Nothing.
    #[default]
    None,
    /// The pooling map and the output shape.
    Map(SparseMap, Vec<usize>),
    /// The input index each output entry reads, and the output shape (`Slice`, `Gather`).
    Index(Vec<usize>, Vec<usize>),
    /// An element-wise function's first and second derivatives at its input, kept so that
    /// every R pass at a cached point skips the transcendental functions.
    Derivatives(Vec<f64>, Vec<f64>),
    /// An element-wise function's `f'` and `f''·ḡ` at a point whose output adjoint `ḡ` is
    /// known (the primal passes kept for products): each R-backward there reads the
    /// second-order weight instead of forming it.
    Weighted(Vec<f64>, Vec<f64>),
}

/// The kind of an op, which fixes how its R passes are formed.
enum Kind {
    Unary(Unary),
    Sum(f64),
    Linear,
    Bilinear,
    Softmax(i64),
    Concat(i64),
}

/// `[k, shape...]`.
fn block_shape(k: usize, shape: &[usize]) -> Vec<usize> {
    let mut s = vec![k];
    s.extend_from_slice(shape);
    s
}

/// Applies `f` to each direction of a block and stacks the results.
fn per_direction(
    block: &Tensor,
    k: usize,
    mut f: impl FnMut(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let parts = (0..k)
        .map(|d| f(&block.direction(d)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::stack(parts))
}

/// The entries of an optional tangent.
fn data(r: Option<&Tensor>) -> Option<&[f64]> {
    r.map(|t| &t.data[..])
}

/// Adds `b` into an optional accumulator.
fn accumulate(acc: &mut Option<Tensor>, b: Tensor) {
    match acc {
        Some(a) => {
            a.add_assign(&b);
            b.recycle();
        }
        None => *acc = Some(b),
    }
}

impl Op {
    /// The op's name, as ONNX spells its family.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary(_) => "Unary",
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Mul => "Mul",
            Op::MatMul(_) => "MatMul",
            Op::Conv(_) => "Conv",
            Op::MaxPool(_) => "MaxPool",
            Op::AvgPool(_) => "AveragePool",
            Op::Reshape(_) => "Reshape",
            Op::Transpose(_) => "Transpose",
            Op::Reduce(_) => "Reduce",
            Op::Softmax(_) => "Softmax",
            Op::Slice(_) => "Slice",
            Op::Gather(_) => "Gather",
            Op::Concat { .. } => "Concat",
        }
    }

    /// Whether the op reduces over every axis but one including the batch axis: batch
    /// normalization's statistics in training mode, which couple the samples, so the loss is
    /// that of the whole data set at once and cannot be summed over chunks of it.
    pub fn is_batch_statistic(&self) -> bool {
        matches!(
            self,
            Op::Reduce(Reduce {
                axes: shape::Axes::Except(a),
                ..
            }) if *a != 0
        )
    }

    /// Number of inputs the op takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::MatMul(_) | Op::Conv(_) => 2,
            Op::Reshape(Reshape::Channel { .. }) => 2,
            Op::Concat { inputs, .. } => *inputs,
            _ => 1,
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Op::Unary(u) => Kind::Unary(*u),
            Op::Add => Kind::Sum(1.0),
            Op::Sub => Kind::Sum(-1.0),
            Op::Mul | Op::MatMul(_) | Op::Conv(_) => Kind::Bilinear,
            Op::Softmax(a) => Kind::Softmax(*a),
            Op::Concat { axis, .. } => Kind::Concat(*axis),
            _ => Kind::Linear,
        }
    }

    fn check_arity(&self, n: usize) -> Result<()> {
        if n == self.arity() {
            Ok(())
        } else {
            Err(Error::Data(format!(
                "{}: expected {} inputs, got {n}",
                self.name(),
                self.arity()
            )))
        }
    }

    /// The output and what the derivative passes need from this pass.
    pub fn forward(&self, ins: &[&Tensor]) -> Result<(Tensor, Aux)> {
        self.check_arity(ins.len())?;
        let out = match self {
            Op::Unary(u) if !u.is_piecewise_linear() => {
                let n = ins[0].len();
                let (mut y, mut d1, mut d2) = (take(n), take(n), take(n));
                u.eval_into(&ins[0].data, &mut y, &mut d1, &mut d2);
                let t = Tensor {
                    shape: ins[0].shape.clone(),
                    data: y,
                };
                return Ok((t, Aux::Derivatives(d1, d2)));
            }
            Op::Unary(u) => Tensor {
                shape: ins[0].shape.clone(),
                data: ins[0].data.iter().map(|&x| u.eval(x).0).collect(),
            },
            Op::Add | Op::Sub => {
                let s = if matches!(self, Op::Add) { 1.0 } else { -1.0 };
                sum_broadcast(self.name(), ins[0], Some(ins[1]), s)?
            }
            Op::MaxPool(p) => {
                let (y, map) = p.max(ins[0])?;
                let shape = y.shape.clone();
                return Ok((y, Aux::Map(map, shape)));
            }
            Op::AvgPool(p) => {
                let (y, map) = p.average(ins[0])?;
                let shape = y.shape.clone();
                return Ok((y, Aux::Map(map, shape)));
            }
            Op::Slice(_) | Op::Gather(_) => {
                let x = ins[0];
                let (shape, idx) = match self {
                    Op::Slice(s) => s.index(&x.shape)?,
                    Op::Gather(g) => g.index(&x.shape)?,
                    _ => unreachable!("a selection"),
                };
                let y = select::gather(&x.data, &idx, &shape)?;
                return Ok((y, Aux::Index(idx, shape)));
            }
            Op::Concat { axis, .. } => {
                let a = concat_axis(*axis, ins)?;
                let parts: Vec<(&[f64], &[usize])> =
                    ins.iter().map(|t| (&t.data[..], &t.shape[..])).collect();
                select::concat(&parts, a)?
            }
            Op::Mul | Op::MatMul(_) | Op::Conv(_) => self.bil(ins[0], ins[1])?,
            Op::Softmax(a) => softmax::forward(ins[0], *a)?,
            _ => self.lin(ins[0], ins, &Aux::None)?,
        };
        Ok((out, Aux::None))
    }

    /// The adjoints of the inputs flagged in `need`, from the output's adjoint `g`.
    pub fn backward(
        &self,
        ins: &[&Tensor],
        aux: &Aux,
        g: &Tensor,
        need: &[bool],
    ) -> Result<Vec<Option<Tensor>>> {
        let mut out: Vec<Option<Tensor>> = vec![None; ins.len()];
        match self.kind() {
            Kind::Unary(u) => {
                if need[0] {
                    let (d1, _) = unary_derivatives(u, ins[0], aux);
                    out[0] = Some(Tensor {
                        shape: g.shape.clone(),
                        data: g.data.iter().zip(d1.iter()).map(|(g, d)| g * d).collect(),
                    });
                }
            }
            Kind::Sum(s) => {
                for i in 0..2 {
                    if need[i] {
                        let mut t = reduce_to(&g.data, &g.shape, &ins[i].shape);
                        if i == 1 && s != 1.0 {
                            t.data.iter_mut().for_each(|v| *v *= s);
                        }
                        out[i] = Some(t);
                    }
                }
            }
            Kind::Linear => {
                if need[0] {
                    out[0] = Some(self.lin_t(g, ins, aux)?);
                }
            }
            Kind::Concat(axis) => {
                let a = concat_axis(axis, ins)?;
                let shapes: Vec<&[usize]> = ins.iter().map(|t| &t.shape[..]).collect();
                for (i, o) in out.iter_mut().enumerate() {
                    if need[i] {
                        *o = Some(select::split(&g.data, &shapes, a, i)?);
                    }
                }
            }
            Kind::Softmax(ax) => {
                if need[0] {
                    let y = softmax::forward(ins[0], ax)?;
                    out[0] = Some(Tensor::new(
                        g.shape.clone(),
                        softmax::jacobian(&y, &g.data, ax)?,
                    )?);
                }
            }
            Kind::Bilinear => {
                if need[0] {
                    out[0] = Some(self.bil_ta(g, ins[1], &ins[0].shape)?);
                }
                if need[1] {
                    out[1] = Some(self.bil_tb(g, ins[0], &ins[1].shape)?);
                }
            }
        }
        Ok(out)
    }

    /// The output's tangents `[k, out...]` from the inputs' tangents (`None`: zero).
    pub fn r_forward(
        &self,
        ins: &[&Tensor],
        rins: &[Option<&Tensor>],
        aux: &Aux,
        out_shape: &[usize],
        k: usize,
    ) -> Result<Option<Tensor>> {
        if rins.iter().all(Option::is_none) {
            return Ok(None);
        }
        if let Op::MatMul(mm) = self {
            let mut r = mm.r_forward(ins[0], ins[1], data(rins[0]), data(rins[1]), k)?;
            r.shape = block_shape(k, out_shape);
            return Ok(Some(r));
        }
        if let Op::Conv(c) = self {
            // Both terms in one sweep over the samples per direction.
            let mut r = c.r_forward(ins[0], ins[1], rins[0], rins[1], k)?;
            r.shape = block_shape(k, out_shape);
            return Ok(Some(r));
        }
        let r = match self.kind() {
            Kind::Unary(u) => {
                let rx = rins[0].expect("a tangent");
                let (d1, _) = unary_derivatives(u, ins[0], aux);
                tile_mul(rx, &d1)
            }
            Kind::Sum(s) => {
                // A tangent of the output's shape is the start (one copy); the others are
                // broadcast into it direction by direction.
                let signs = [1.0, s];
                let full = (0..2).find(|&i| rins[i].is_some() && ins[i].shape == out_shape);
                let n: usize = out_shape.iter().product();
                let mut t = match full {
                    Some(i) => {
                        let mut t = rins[i].expect("a tangent").pooled_clone();
                        if signs[i] != 1.0 {
                            t.data.iter_mut().for_each(|v| *v *= signs[i]);
                        }
                        t
                    }
                    None => Tensor::zeros(&block_shape(k, out_shape))?,
                };
                for i in (0..2).filter(|&i| Some(i) != full) {
                    if let Some(rx) = rins[i] {
                        let len = ins[i].len();
                        for d in 0..k {
                            add_broadcast(
                                &mut t.data[d * n..(d + 1) * n],
                                out_shape,
                                &rx.data[d * len..(d + 1) * len],
                                &ins[i].shape,
                                signs[i],
                            );
                        }
                    }
                }
                t
            }
            Kind::Linear => {
                // Only the first input is mapped; the others give shapes.
                let Some(rx) = rins[0] else { return Ok(None) };
                per_direction(rx, k, |x| self.lin(x, ins, aux))?
            }
            Kind::Concat(axis) => {
                let a = concat_axis(axis, ins)?;
                let shapes: Vec<Vec<usize>> =
                    ins.iter().map(|t| block_shape(k, &t.shape)).collect();
                let zeros: Vec<Option<Vec<f64>>> = rins
                    .iter()
                    .zip(ins)
                    .map(|(r, t)| r.is_none().then(|| vec![0.0; k * t.len()]))
                    .collect();
                let parts: Vec<(&[f64], &[usize])> = rins
                    .iter()
                    .zip(&zeros)
                    .zip(&shapes)
                    .map(|((r, z), s)| match (r, z) {
                        (Some(r), _) => (&r.data[..], &s[..]),
                        (None, Some(z)) => (&z[..], &s[..]),
                        (None, None) => unreachable!("a tangent or zeros"),
                    })
                    .collect();
                select::concat(&parts, a + 1)?
            }
            Kind::Softmax(ax) => {
                let rx = rins[0].expect("a tangent");
                let y = softmax::forward(ins[0], ax)?;
                per_direction(rx, k, |x| {
                    Tensor::new(y.shape.clone(), softmax::jacobian(&y, &x.data, ax)?)
                })?
            }
            Kind::Bilinear => {
                let mut acc: Option<Tensor> = None;
                if let Some(ra) = rins[0] {
                    let t = if self.blocks_a(ins) {
                        self.bil(ra, ins[1])?
                    } else {
                        per_direction(ra, k, |a| self.bil(a, ins[1]))?
                    };
                    accumulate(&mut acc, t);
                }
                if let Some(rb) = rins[1] {
                    let t = if self.blocks_b(ins) {
                        self.bil(ins[0], rb)?
                    } else {
                        per_direction(rb, k, |b| self.bil(ins[0], b))?
                    };
                    accumulate(&mut acc, t);
                }
                acc.expect("a tangent")
            }
        };
        Ok(Some(Tensor {
            shape: block_shape(k, out_shape),
            data: r.data,
        }))
    }

    /// The tangents `[k, in...]` of the inputs' adjoints flagged in `need`, from the output's
    /// adjoint `g`, its tangents `rg` and the inputs' tangents `rins`.
    #[allow(clippy::too_many_arguments)]
    pub fn r_backward(
        &self,
        ins: &[&Tensor],
        rins: &[Option<&Tensor>],
        aux: &Aux,
        g: &Tensor,
        rg: Option<&Tensor>,
        need: &[bool],
        k: usize,
    ) -> Result<Vec<Option<Tensor>>> {
        let mut out: Vec<Option<Tensor>> = vec![None; ins.len()];
        if let Op::Conv(c) = self {
            // Both terms of each adjoint's tangent in one sweep over the samples per direction.
            let [dx, dw] = c.r_backward(
                ins[0],
                ins[1],
                g,
                rg,
                rins[0],
                rins[1],
                [need[0], need[1]],
                k,
            )?;
            out = vec![dx, dw];
        }
        if let Op::MatMul(mm) = self {
            let [da, db] = mm.r_backward(
                ins[0],
                ins[1],
                g,
                data(rg),
                data(rins[0]),
                data(rins[1]),
                [need[0], need[1]],
                k,
            )?;
            out = vec![da, db];
        }
        match self.kind() {
            _ if matches!(self, Op::Conv(_) | Op::MatMul(_)) => {}
            Kind::Unary(u) => {
                if !need[0] {
                    return Ok(out);
                }
                let (d1, d2) = unary_derivatives(u, ins[0], aux);
                let rx = rins[0].filter(|_| !u.is_piecewise_linear());
                // `f''·ḡ`, the same for every direction: kept, or formed once.
                let weight = || match aux {
                    Aux::Weighted(_, w) if w.len() == g.len() => std::borrow::Cow::Borrowed(&w[..]),
                    _ => {
                        let mut w = take(g.len());
                        w.extend(d2.iter().zip(&g.data).map(|(d, g)| d * g));
                        std::borrow::Cow::Owned(w)
                    }
                };
                out[0] = match (rg, rx) {
                    // `f'·R{ḡ} + (f''·ḡ)·R{x}` in one sweep.
                    (Some(rg), Some(rx)) => Some(unary_r_backward(rg, rx, &d1, &weight())),
                    (Some(rg), None) => Some(tile_mul(rg, &d1)),
                    (None, Some(rx)) => Some(tile_mul(rx, &weight())),
                    (None, None) => None,
                };
            }
            Kind::Sum(s) => {
                if let Some(rg) = rg {
                    for i in 0..2 {
                        if need[i] {
                            let sign = if i == 1 { s } else { 1.0 };
                            out[i] = Some(sum_r_backward(ins, i, rg, sign, k)?);
                        }
                    }
                }
            }
            Kind::Linear => {
                if let (Some(rg), true) = (rg, need[0]) {
                    out[0] = Some(per_direction(rg, k, |gd| self.lin_t(gd, ins, aux))?);
                }
            }
            Kind::Concat(axis) => {
                if let Some(rg) = rg {
                    let a = concat_axis(axis, ins)?;
                    let shapes: Vec<Vec<usize>> =
                        ins.iter().map(|t| block_shape(k, &t.shape)).collect();
                    let refs: Vec<&[usize]> = shapes.iter().map(|s| &s[..]).collect();
                    for (i, o) in out.iter_mut().enumerate() {
                        if need[i] {
                            *o = Some(select::split(&rg.data, &refs, a + 1, i)?);
                        }
                    }
                }
            }
            Kind::Softmax(ax) => {
                if need[0] {
                    let y = softmax::forward(ins[0], ax)?;
                    if let Some(rg) = rg {
                        let t = per_direction(rg, k, |gd| {
                            Tensor::new(y.shape.clone(), softmax::jacobian(&y, &gd.data, ax)?)
                        })?;
                        accumulate(&mut out[0], t);
                    }
                    if let Some(rx) = rins[0] {
                        let t = per_direction(rx, k, |xd| {
                            let ry = softmax::jacobian(&y, &xd.data, ax)?;
                            Tensor::new(
                                y.shape.clone(),
                                softmax::second_order(&y, &ry, &g.data, ax)?,
                            )
                        })?;
                        accumulate(&mut out[0], t);
                    }
                }
            }
            Kind::Bilinear => {
                let (a, b) = (ins[0], ins[1]);
                if need[0] {
                    if let Some(rg) = rg {
                        let t = if self.blocks_a(ins) {
                            let t = self.bil_ta(rg, b, &block_shape(k, &a.shape))?;
                            Tensor {
                                shape: block_shape(k, &a.shape),
                                data: t.data,
                            }
                        } else {
                            per_direction(rg, k, |gd| self.bil_ta(gd, b, &a.shape))?
                        };
                        accumulate(&mut out[0], t);
                    }
                    if let Some(rb) = rins[1] {
                        let t = per_direction(rb, k, |bd| self.bil_ta(g, bd, &a.shape))?;
                        accumulate(&mut out[0], t);
                    }
                }
                if need[1] {
                    if let Some(rg) = rg {
                        let t = per_direction(rg, k, |gd| self.bil_tb(gd, a, &b.shape))?;
                        accumulate(&mut out[1], t);
                    }
                    if let Some(ra) = rins[0] {
                        let t = per_direction(ra, k, |ad| self.bil_tb(g, ad, &b.shape))?;
                        accumulate(&mut out[1], t);
                    }
                }
            }
        }
        for (o, i) in out.iter_mut().zip(ins) {
            if let Some(t) = o {
                t.shape = block_shape(k, &i.shape);
            }
        }
        Ok(out)
    }

    /// Whether a block of tangents of the first operand can go through the bilinear map as one
    /// batch (the block axis becomes one more leading batch axis).
    fn blocks_a(&self, ins: &[&Tensor]) -> bool {
        match self {
            Op::Conv(_) => true,
            Op::MatMul(_) | Op::Mul => ins[1].rank() <= ins[0].rank(),
            _ => false,
        }
    }

    /// The same for the second operand.
    fn blocks_b(&self, ins: &[&Tensor]) -> bool {
        match self {
            Op::MatMul(_) | Op::Mul => ins[0].rank() <= ins[1].rank(),
            _ => false,
        }
    }

    fn bil(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Op::Mul => {
                let shape = broadcast_shape(&a.shape, &b.shape, "Mul")?;
                let n = checked_len(&shape)?;
                // One operand of the output's shape (a batch norm's or a layer norm's scale,
                // a mask): the other is read through the broadcast, with no index tables.
                if a.shape == shape || b.shape == shape {
                    let mut data = take(n);
                    if a.shape == shape {
                        for_each_broadcast(&b.shape, &shape, |i, j| {
                            data.push(a.data[i] * b.data[j])
                        });
                    } else {
                        for_each_broadcast(&a.shape, &shape, |i, j| {
                            data.push(a.data[j] * b.data[i])
                        });
                    }
                    return Tensor::new(shape, data);
                }
                let ia = broadcast_index(&a.shape, &shape);
                let ib = broadcast_index(&b.shape, &shape);
                let data = ia
                    .iter()
                    .zip(&ib)
                    .map(|(&i, &j)| a.data[i] * b.data[j])
                    .collect();
                Tensor::new(shape, data)
            }
            Op::MatMul(m) => m.forward(a, b),
            Op::Conv(c) => c.forward(a, b),
            _ => unreachable!("not bilinear"),
        }
    }

    fn bil_ta(&self, g: &Tensor, b: &Tensor, a_shape: &[usize]) -> Result<Tensor> {
        match self {
            Op::Mul => {
                let shape = broadcast_shape(a_shape, &b.shape, "Mul")?;
                let mut t = Tensor::zeros(a_shape)?;
                if a_shape == &shape[..] {
                    for_each_broadcast(&b.shape, &shape, |i, j| t.data[i] += g.data[i] * b.data[j]);
                } else if b.shape == shape {
                    for_each_broadcast(a_shape, &shape, |i, j| t.data[j] += g.data[i] * b.data[i]);
                } else {
                    let ia = broadcast_index(a_shape, &shape);
                    let ib = broadcast_index(&b.shape, &shape);
                    for ((gv, &i), &j) in g.data.iter().zip(&ia).zip(&ib) {
                        t.data[i] += gv * b.data[j];
                    }
                }
                Ok(t)
            }
            Op::MatMul(m) => m.grad_a(g, b, a_shape),
            Op::Conv(c) => c.grad_x(g, b, a_shape),
            _ => unreachable!("not bilinear"),
        }
    }

    fn bil_tb(&self, g: &Tensor, a: &Tensor, b_shape: &[usize]) -> Result<Tensor> {
        match self {
            Op::Mul => {
                let shape = broadcast_shape(&a.shape, b_shape, "Mul")?;
                let mut t = Tensor::zeros(b_shape)?;
                if b_shape == &shape[..] {
                    for_each_broadcast(&a.shape, &shape, |i, j| t.data[i] += g.data[i] * a.data[j]);
                } else if a.shape == shape {
                    for_each_broadcast(b_shape, &shape, |i, j| t.data[j] += g.data[i] * a.data[i]);
                } else {
                    let ia = broadcast_index(&a.shape, &shape);
                    let ib = broadcast_index(b_shape, &shape);
                    for ((gv, &i), &j) in g.data.iter().zip(&ia).zip(&ib) {
                        t.data[j] += gv * a.data[i];
                    }
                }
                Ok(t)
            }
            Op::MatMul(m) => m.grad_b(g, a, b_shape),
            Op::Conv(c) => c.grad_w(g, a, b_shape),
            _ => unreachable!("not bilinear"),
        }
    }

    fn lin(&self, x: &Tensor, ins: &[&Tensor], aux: &Aux) -> Result<Tensor> {
        match (self, aux) {
            (Op::Reshape(r), _) => {
                let shape = self.reshape_target(r, &x.shape, ins)?;
                Tensor::new(shape, x.data.clone())
            }
            (Op::Transpose(p), _) => shape::transpose(x, p),
            (Op::Reduce(r), _) => r.apply(x),
            (Op::MaxPool(_) | Op::AvgPool(_), Aux::Map(m, shape)) => {
                Tensor::new(shape.clone(), m.apply(&x.data))
            }
            (Op::Slice(_) | Op::Gather(_), Aux::Index(idx, shape)) => {
                select::gather(&x.data, idx, shape)
            }
            _ => unreachable!("not linear"),
        }
    }

    fn lin_t(&self, g: &Tensor, ins: &[&Tensor], aux: &Aux) -> Result<Tensor> {
        let in_shape = &ins[0].shape;
        match (self, aux) {
            (Op::Reshape(_), _) => Tensor::new(in_shape.clone(), g.data.clone()),
            (Op::Transpose(p), _) => shape::transpose(g, &shape::inverse_perm(p)),
            (Op::Reduce(r), _) => r.apply_t(g, in_shape),
            (Op::MaxPool(_) | Op::AvgPool(_), Aux::Map(m, _)) => {
                Tensor::new(in_shape.clone(), m.apply_t(&g.data))
            }
            (Op::Slice(_) | Op::Gather(_), Aux::Index(idx, _)) => {
                select::scatter(&g.data, idx, in_shape)
            }
            _ => unreachable!("not linear"),
        }
    }

    fn reshape_target(&self, r: &Reshape, s: &[usize], ins: &[&Tensor]) -> Result<Vec<usize>> {
        match r {
            Reshape::Channel { .. } => Reshape::Channel {
                rank: ins[1].rank(),
            }
            .out_shape(s),
            r => r.out_shape(s),
        }
    }
}

/// The tangents `[k, in...]` of input `i`'s adjoint of a broadcasting sum: the output
/// adjoint's tangents `rg` summed back onto the input's shape, times `sign`.
fn sum_r_backward(ins: &[&Tensor], i: usize, rg: &Tensor, sign: f64, k: usize) -> Result<Tensor> {
    let out_shape = broadcast_shape(&ins[0].shape, &ins[1].shape, "Add")?;
    if ins[i].shape == out_shape && sign == 1.0 {
        return Ok(rg.pooled_clone());
    }
    let n: usize = out_shape.iter().product();
    let len = ins[i].len();
    let mut t = Tensor::zeros(&block_shape(k, &ins[i].shape))?;
    for d in 0..k {
        add_reduced(
            &mut t.data[d * len..(d + 1) * len],
            &ins[i].shape,
            &rg.data[d * n..(d + 1) * n],
            &out_shape,
            sign,
        );
    }
    Ok(t)
}

impl Op {
    /// [`Op::r_backward`] taking the output adjoint's tangents `rg` by value: a sum hands
    /// them on to an input of the output's shape instead of copying them, and the buffers
    /// of what is left go back to the pool.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn r_backward_owned(
        &self,
        ins: &[&Tensor],
        rins: &[Option<&Tensor>],
        aux: &Aux,
        g: &Tensor,
        rg: Option<Tensor>,
        need: &[bool],
        k: usize,
    ) -> Result<Vec<Option<Tensor>>> {
        let rg = match (self.kind(), rg) {
            (Kind::Sum(s), Some(rg)) => {
                let out_shape = broadcast_shape(&ins[0].shape, &ins[1].shape, self.name())?;
                let signs = [1.0, s];
                let passed =
                    (0..2).find(|&i| need[i] && ins[i].shape == out_shape && signs[i] == 1.0);
                let Some(f) = passed else {
                    return self.r_backward_then_recycle(ins, rins, aux, g, Some(rg), need, k);
                };
                let mut out: Vec<Option<Tensor>> = vec![None, None];
                let o = 1 - f;
                if need[o] {
                    out[o] = Some(sum_r_backward(ins, o, &rg, signs[o], k)?);
                }
                let mut t = rg;
                t.shape = block_shape(k, &ins[f].shape);
                out[f] = Some(t);
                return Ok(out);
            }
            (_, rg) => rg,
        };
        self.r_backward_then_recycle(ins, rins, aux, g, rg, need, k)
    }

    #[allow(clippy::too_many_arguments)]
    fn r_backward_then_recycle(
        &self,
        ins: &[&Tensor],
        rins: &[Option<&Tensor>],
        aux: &Aux,
        g: &Tensor,
        rg: Option<Tensor>,
        need: &[bool],
        k: usize,
    ) -> Result<Vec<Option<Tensor>>> {
        let out = self.r_backward(ins, rins, aux, g, rg.as_ref(), need, k);
        if let Some(rg) = rg {
            rg.recycle();
        }
        out
    }
}

impl Op {
    /// Whether the op forms the term of input `f`'s tangents more cheaply when they are unit
    /// vectors (Hessian columns) than as a dense block: a matrix product, whose term for a
    /// unit weight is one column or row of the other operand, and a convolution's weight,
    /// whose term is a shifted copy of one input channel, not a product.
    pub(crate) fn has_unit_term(&self, f: usize) -> bool {
        match self {
            Op::MatMul(_) => f < 2,
            Op::Conv(_) => f == 1,
            _ => false,
        }
    }

    /// The output's tangents `[k, out...]` when input `f`'s tangents are the unit vectors at
    /// the flat indices `idx` (one per direction) and the other inputs' are `rins`; see
    /// [`Op::has_unit_term`].
    pub(crate) fn r_forward_unit(
        &self,
        ins: &[&Tensor],
        rins: &[Option<&Tensor>],
        f: usize,
        idx: &[usize],
        out_shape: &[usize],
        k: usize,
    ) -> Result<Tensor> {
        match self {
            Op::MatMul(mm) => {
                let mut r = mm.r_forward_unit(ins[0], ins[1], f, idx, data(rins[1 - f]), k)?;
                r.shape = block_shape(k, out_shape);
                Ok(r)
            }
            Op::Conv(c) if f == 1 => {
                let mut r = c.r_forward_unit_weight(ins[0], ins[1], rins[0], idx, k)?;
                r.shape = block_shape(k, out_shape);
                Ok(r)
            }
            _ => Err(Error::Data(format!(
                "{}: no unit-direction term for input {f}",
                self.name()
            ))),
        }
    }

    /// Whether this is a sum whose output tangents can be built in the buffer of input `f`'s
    /// tangents: `f` has the output's shape and enters with sign one.
    pub(crate) fn sums_in_place(&self, ins: &[&Tensor], f: usize, out_shape: &[usize]) -> bool {
        match self.kind() {
            Kind::Sum(s) => ins[f].shape == out_shape && (f == 0 || s == 1.0),
            _ => false,
        }
    }

    /// A sum's output tangents `[k, out...]` built in the buffer of input `f`'s tangents
    /// `own` (which no other node reads): the other input's tangents `other` broadcast into
    /// it, with their sign. See [`Op::sums_in_place`].
    pub(crate) fn r_forward_sum_in_place(
        &self,
        ins: &[&Tensor],
        f: usize,
        mut own: Tensor,
        other: Option<&Tensor>,
        out_shape: &[usize],
        k: usize,
    ) -> Tensor {
        let o = 1 - f;
        let sign = match self.kind() {
            Kind::Sum(s) if o == 1 => s,
            _ => 1.0,
        };
        if let Some(rx) = other {
            let n: usize = out_shape.iter().product();
            let len = ins[o].len();
            for d in 0..k {
                add_broadcast(
                    &mut own.data[d * n..(d + 1) * n],
                    out_shape,
                    &rx.data[d * len..(d + 1) * len],
                    &ins[o].shape,
                    sign,
                );
            }
        }
        own.shape = block_shape(k, out_shape);
        own
    }
}

/// `Concat`'s axis resolved against its first input's rank.
fn concat_axis(axis: i64, ins: &[&Tensor]) -> Result<usize> {
    let rank = ins.first().map_or(0, |t| t.rank());
    shape::axis("Concat", axis, rank)
}

/// `a + s·b` with broadcasting (`b` absent: `a`).
fn sum_broadcast(op: &str, a: &Tensor, b: Option<&Tensor>, s: f64) -> Result<Tensor> {
    let Some(b) = b else { return Ok(a.clone()) };
    let shape = broadcast_shape(&a.shape, &b.shape, op)?;
    let mut out = if a.shape == shape {
        a.clone()
    } else {
        let mut t = Tensor::zeros(&shape)?;
        add_broadcast(&mut t.data, &shape, &a.data, &a.shape, 1.0);
        t
    };
    add_broadcast(&mut out.data, &shape, &b.data, &b.shape, s);
    Ok(out)
}

/// `f'` and `f''` at the input `x`: those the forward pass kept, else computed.
fn unary_derivatives<'a>(
    u: Unary,
    x: &Tensor,
    aux: &'a Aux,
) -> (std::borrow::Cow<'a, [f64]>, std::borrow::Cow<'a, [f64]>) {
    use std::borrow::Cow;
    match aux {
        Aux::Derivatives(d1, d2) if d1.len() == x.len() && d2.len() == x.len() => {
            (Cow::Borrowed(d1), Cow::Borrowed(d2))
        }
        // `f''` itself is then read only where the weight is not kept.
        Aux::Weighted(d1, _) if d1.len() == x.len() => (Cow::Borrowed(d1), Cow::Borrowed(&[])),
        _ => {
            let (d1, d2): (Vec<f64>, Vec<f64>) = x
                .data
                .iter()
                .map(|&v| {
                    let (_, a, b) = u.eval(v);
                    (a, b)
                })
                .unzip();
            (Cow::Owned(d1), Cow::Owned(d2))
        }
    }
}

/// Each direction of a block multiplied element-wise by `w` (the length of one direction).
fn tile_mul(block: &Tensor, w: &[f64]) -> Tensor {
    let n = w.len();
    let mut data = take_for_overwrite(block.len());
    if n > 0 {
        for (o, c) in data.chunks_exact_mut(n).zip(block.data.chunks_exact(n)) {
            crate::kernels::mul(o, c, w);
        }
    }
    Tensor {
        shape: block.shape.clone(),
        data,
    }
}

/// An element-wise function's R-backward for a block: `f'·R{ḡ} + (f''·ḡ)·R{x}` per
/// direction, both terms in one sweep (the result equals the two terms formed apart and
/// added), from `f'` (`d1`) and the weight `f''·ḡ` (`w`).
fn unary_r_backward(rg: &Tensor, rx: &Tensor, d1: &[f64], w: &[f64]) -> Tensor {
    let n = d1.len();
    let mut data = take_for_overwrite(rg.len());
    if n > 0 {
        for ((o, r), x) in data
            .chunks_exact_mut(n)
            .zip(rg.data.chunks_exact(n))
            .zip(rx.data.chunks_exact(n))
        {
            crate::kernels::mul_add_mul(o, d1, r, w, x);
        }
    }
    Tensor {
        shape: rg.shape.clone(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::{Conv2d, MatMul, Op, Tensor, Unary};

    /// The unit-direction term of a matrix product (either operand, each transpose, batched
    /// and broadcast) and of a convolution's weight (stride, padding, dilation, groups), with
    /// the other operand's tangents added, equals the dense R-forward of the same unit
    /// vectors written out, to rounding.
    #[test]
    fn unit_terms_equal_the_dense_terms_of_unit_vectors() {
        let k = 3;
        let mm = |trans_a, trans_b| Op::MatMul(MatMul { trans_a, trans_b });
        let conv = |strides, pads, dilations, groups| {
            Op::Conv(Conv2d {
                strides,
                pads,
                dilations,
                groups,
            })
        };
        let cases: Vec<(Op, Vec<usize>, Vec<usize>)> = vec![
            (mm(false, true), vec![6, 4], vec![5, 4]),
            (mm(false, false), vec![6, 4], vec![4, 5]),
            (mm(true, false), vec![4, 6], vec![4, 5]),
            (mm(true, true), vec![4, 6], vec![5, 4]),
            (mm(false, false), vec![2, 6, 4], vec![4, 5]),
            (mm(false, true), vec![2, 6, 4], vec![2, 5, 4]),
            (mm(false, false), vec![6, 4], vec![3, 4, 5]),
            (
                conv([1, 1], [1, 1, 1, 1], [1, 1], 1),
                vec![2, 3, 5, 5],
                vec![4, 3, 3, 3],
            ),
            (
                conv([2, 1], [0, 1, 2, 0], [1, 2], 2),
                vec![2, 4, 6, 5],
                vec![6, 2, 2, 3],
            ),
        ];
        for (op, sa, sb) in cases {
            let (a, b) = (block(&sa, 1), block(&sb, 2));
            let (y, aux) = op.forward(&[&a, &b]).unwrap();
            let sides: &[usize] = if matches!(op, Op::Conv(_)) {
                &[1]
            } else {
                &[0, 1]
            };
            for &f in sides {
                assert!(op.has_unit_term(f));
                let len = [a.len(), b.len()][f];
                let idx: Vec<usize> = (0..k).map(|d| (d * 7 + 2) % len).collect();
                let mut unit = Tensor::zeros(&[k, len]).unwrap();
                for (d, &q) in idx.iter().enumerate() {
                    unit.data[d * len + q] = 1.0;
                }
                let other = block(&[k, [a.len(), b.len()][1 - f]], 3);
                for with_other in [false, true] {
                    let o = with_other.then_some(&other);
                    let rins = if f == 0 {
                        [Some(&unit), o]
                    } else {
                        [o, Some(&unit)]
                    };
                    let dense = op
                        .r_forward(&[&a, &b], &rins, &aux, &y.shape, k)
                        .unwrap()
                        .unwrap();
                    let got = op
                        .r_forward_unit(&[&a, &b], &rins, f, &idx, &y.shape, k)
                        .unwrap();
                    assert_eq!(got.shape, dense.shape);
                    for (x, w) in got.data.iter().zip(&dense.data) {
                        assert!(
                            (x - w).abs() <= 1e-14 * w.abs().max(1.0),
                            "{op:?} {f}: {x} vs {w}"
                        );
                    }
                }
            }
        }
    }

    fn block(shape: &[usize], seed: u64) -> Tensor {
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|i| ((i as u64 * 7919 + seed * 104_729) % 1000) as f64 / 500.0 - 1.0)
            .collect();
        Tensor::new(shape.to_vec(), data).unwrap()
    }

    /// The fused R-backward of an element-wise function equals its two terms formed apart
    /// (`f'·R{ḡ}` from the output's tangent alone, `f''·ḡ·R{x}` from the input's alone) and
    /// added, to the last bit.
    #[test]
    fn fused_unary_r_backward_is_the_sum_of_its_terms() {
        let (k, shape) = (3, [4usize, 5]);
        let x = block(&shape, 1);
        let g = block(&shape, 2);
        let rg = block(&[k, 4, 5], 3);
        let rx = block(&[k, 4, 5], 4);
        for u in [Unary::Tanh, Unary::Sigmoid, Unary::Gelu, Unary::Softplus] {
            let op = Op::Unary(u);
            let (_, aux) = op.forward(&[&x]).unwrap();
            let run = |rg: Option<&Tensor>, rx: Option<&Tensor>| {
                op.r_backward(&[&x], &[rx], &aux, &g, rg, &[true], k)
                    .unwrap()
                    .remove(0)
                    .unwrap()
            };
            let fused = run(Some(&rg), Some(&rx));
            let (a, b) = (run(Some(&rg), None), run(None, Some(&rx)));
            assert_eq!(fused.shape, vec![k, 4, 5]);
            for (i, f) in fused.data.iter().enumerate() {
                assert_eq!(*f, a.data[i] + b.data[i], "{u:?} [{i}]");
            }
            // The weight `f''·ḡ` kept with the point gives the same bits.
            let super::Aux::Derivatives(d1, d2) = &aux else {
                panic!("{u:?} keeps its derivatives");
            };
            let w = d2.iter().zip(&g.data).map(|(d, g)| d * g).collect();
            let weighted = super::Aux::Weighted(d1.clone(), w);
            let kept = op
                .r_backward(&[&x], &[Some(&rx)], &weighted, &g, Some(&rg), &[true], k)
                .unwrap()
                .remove(0)
                .unwrap();
            assert_eq!(kept.data, fused.data, "{u:?}");
        }
    }

    /// A block of directions through a matrix product (one GEMM for the stacked block where
    /// the shapes allow) gives each direction's result alone, to rounding.
    #[test]
    fn blocked_matmul_passes_match_one_direction_at_a_time() {
        let k = 3;
        for (ta, tb, sa, sb) in [
            (false, true, vec![6usize, 4], vec![5usize, 4]),
            (false, false, vec![6, 4], vec![4, 5]),
            (true, false, vec![4, 6], vec![4, 5]),
            (false, false, vec![2, 6, 4], vec![4, 5]),
        ] {
            let mm = MatMul {
                trans_a: ta,
                trans_b: tb,
            };
            let (a, b) = (block(&sa, 1), block(&sb, 2));
            let c = mm.forward(&a, &b).unwrap();
            let g = block(&c.shape, 3);
            let bl = |s: &[usize], seed| {
                let mut sh = vec![k];
                sh.extend_from_slice(s);
                block(&sh, seed)
            };
            let (ra, rb, rg) = (bl(&sa, 4), bl(&sb, 5), bl(&c.shape, 6));
            let rc = mm
                .r_forward(&a, &b, Some(&ra.data), Some(&rb.data), k)
                .unwrap();
            let [rda, rdb] = mm
                .r_backward(
                    &a,
                    &b,
                    &g,
                    Some(&rg.data),
                    Some(&ra.data),
                    Some(&rb.data),
                    [true, true],
                    k,
                )
                .unwrap();
            let (rda, rdb) = (rda.unwrap(), rdb.unwrap());
            for d in 0..k {
                let one = |t: &Tensor| t.direction(d).data;
                let rc1 = mm
                    .r_forward(&a, &b, Some(&one(&ra)), Some(&one(&rb)), 1)
                    .unwrap();
                let [da1, db1] = mm
                    .r_backward(
                        &a,
                        &b,
                        &g,
                        Some(&one(&rg)),
                        Some(&one(&ra)),
                        Some(&one(&rb)),
                        [true, true],
                        1,
                    )
                    .unwrap();
                for (got, want) in [
                    (one(&rc), rc1.data),
                    (one(&rda), da1.unwrap().data),
                    (one(&rdb), db1.unwrap().data),
                ] {
                    for (x, y) in got.iter().zip(&want) {
                        assert!((x - y).abs() <= 1e-14 * y.abs().max(1.0), "{x} vs {y}");
                    }
                }
            }
        }
    }
}
