//! A graph of ops over named values, kept in topological order, and its four passes over all
//! nodes: forward, backward, R-forward and R-backward.
//!
//! Values are the data input, parameter tensors (ranges of the flat parameter vector),
//! constants (shapes, scalars, and buffers such as batch-norm running statistics, which are
//! not parameters) and node outputs. A value that no parameter reaches needs no adjoint, so the
//! backward passes stop where the data enters.

use super::ops::{Aux, Op};
use super::tensor::{checked_len, Tensor};
use crate::error::{Error, Result};

/// Where a value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The data input (`[N, ...]`).
    Input,
    /// The `i`-th parameter tensor.
    Param(usize),
    /// A constant; `buffer` marks statistics a framework tracks but does not train.
    Const {
        /// The value.
        value: Tensor,
        /// A buffer (running statistics) rather than a literal.
        buffer: bool,
    },
    /// The output of the `i`-th node.
    Node(usize),
}

/// A named value.
#[derive(Debug, Clone)]
pub struct Value {
    /// The name (the ONNX value name).
    pub name: String,
    /// Where it comes from.
    pub source: Source,
}

/// A trainable tensor: a slice of the flat parameter vector, flattened row-major.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParamSpec {
    /// Its name (the state_dict name for PyTorch exports).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its first index in the flat vector.
    #[serde(skip)]
    pub offset: usize,
}

impl ParamSpec {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One operation applied to earlier values.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's name (for errors).
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Value ids of its inputs.
    pub inputs: Vec<usize>,
    /// Value id of its output.
    pub output: usize,
}

/// A differentiable computation from one data input to one output.
#[derive(Debug, Clone)]
pub struct Graph {
    values: Vec<Value>,
    nodes: Vec<Node>,
    params: Vec<ParamSpec>,
    n_params: usize,
    output: usize,
    /// The input's declared dimensions after the batch axis (`None`: not fixed).
    input_dims: Option<Vec<Option<usize>>>,
    needs_grad: Vec<bool>,
    /// The parameter values the graph came with (a model file's weights).
    initial: Vec<f64>,
}

/// Builds a [`Graph`] node by node; values must exist before they are used, so the order of
/// construction is a topological order.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    values: Vec<Value>,
    nodes: Vec<Node>,
    params: Vec<ParamSpec>,
    initial: Vec<f64>,
    input: Option<usize>,
    input_dims: Option<Vec<Option<usize>>>,
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, name: &str, source: Source) -> usize {
        self.values.push(Value {
            name: name.to_string(),
            source,
        });
        self.values.len() - 1
    }

    /// The data input; `dims` are its declared dimensions after the batch axis, if known.
    pub fn input(&mut self, name: &str, dims: Option<Vec<Option<usize>>>) -> usize {
        let id = self.push(name, Source::Input);
        self.input = Some(id);
        self.input_dims = dims;
        id
    }

    /// A parameter tensor with its initial value.
    pub fn param(&mut self, name: &str, value: Tensor) -> usize {
        let offset = self.initial.len();
        self.params.push(ParamSpec {
            name: name.to_string(),
            shape: value.shape.clone(),
            offset,
        });
        self.initial.extend_from_slice(&value.data);
        let i = self.params.len() - 1;
        self.push(name, Source::Param(i))
    }

    /// A constant (`buffer`: running statistics, reported apart from literals).
    pub fn constant(&mut self, name: &str, value: Tensor, buffer: bool) -> usize {
        self.push(name, Source::Const { value, buffer })
    }

    /// A node applying `op` to the values `inputs`; returns its output's id.
    ///
    /// # Errors
    /// An input id that does not exist yet, or the wrong number of inputs.
    pub fn node(&mut self, name: &str, op: Op, inputs: &[usize], output: &str) -> Result<usize> {
        if inputs.len() != op.arity() {
            return Err(Error::Data(format!(
                "node '{name}' ({}): expected {} inputs, got {}",
                op.name(),
                op.arity(),
                inputs.len()
            )));
        }
        if let Some(&bad) = inputs.iter().find(|&&i| i >= self.values.len()) {
            return Err(Error::Data(format!(
                "node '{name}': input {bad} is not defined before it"
            )));
        }
        let id = self.values.len();
        self.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs: inputs.to_vec(),
            output: id,
        });
        let n = self.nodes.len() - 1;
        self.push(output, Source::Node(n));
        Ok(id)
    }

    /// The input's declared dimensions after the batch axis, as given to [`GraphBuilder::input`].
    pub(crate) fn input_dims_so_far(&self) -> Option<Vec<Option<usize>>> {
        self.input_dims.clone()
    }

    /// The shape of value `id` when the graph built so far runs on the data `x`: shape
    /// inference for importers, whose models compute shapes from tensors.
    ///
    /// # Errors
    /// An op that fails on `x`'s shape.
    pub(crate) fn shape_of(&self, id: usize, x: &Tensor) -> Result<Vec<usize>> {
        let g = Graph {
            n_params: self.initial.len(),
            values: self.values.clone(),
            nodes: self.nodes.clone(),
            params: self.params.clone(),
            output: id,
            input_dims: None,
            needs_grad: vec![false; self.values.len()],
            initial: self.initial.clone(),
        };
        let fw = g.forward(&g.initial, x)?;
        fw.vals
            .get(id)
            .map(|t| t.shape.clone())
            .ok_or_else(|| Error::Data(format!("value {id} is not defined")))
    }

    /// The graph with `output` as its result.
    ///
    /// # Errors
    /// No data input, or `output` is not a node's output.
    pub fn finish(self, output: usize) -> Result<Graph> {
        self.input
            .ok_or_else(|| Error::Data("the graph has no data input".into()))?;
        if !matches!(
            self.values.get(output).map(|v| &v.source),
            Some(Source::Node(_))
        ) {
            return Err(Error::Data(
                "the graph's output is not computed by a node".into(),
            ));
        }
        let mut needs_grad: Vec<bool> = self
            .values
            .iter()
            .map(|v| matches!(v.source, Source::Param(_)))
            .collect();
        for node in &self.nodes {
            needs_grad[node.output] = node.inputs.iter().any(|&i| needs_grad[i]);
        }
        Ok(Graph {
            n_params: self.initial.len(),
            values: self.values,
            nodes: self.nodes,
            params: self.params,
            output,
            input_dims: self.input_dims,
            needs_grad,
            initial: self.initial,
        })
    }
}

/// The values of one forward pass, by value id, and what each node kept.
#[derive(Debug)]
pub(crate) struct Forward {
    pub vals: Vec<Tensor>,
    pub aux: Vec<Aux>,
}

impl Forward {
    /// Returns the pass' buffers to this thread's pool.
    pub fn recycle(self) {
        super::tensor::recycle_all(self.vals.into_iter().map(Some));
        for a in self.aux {
            if let Aux::Derivatives(d1, d2) | Aux::Weighted(d1, d2) = a {
                super::tensor::recycle(d1);
                super::tensor::recycle(d2);
            }
        }
    }

    /// The graph's output.
    pub fn output<'a>(&'a self, g: &Graph) -> &'a Tensor {
        &self.vals[g.output]
    }
}

impl Graph {
    /// Number of parameters (the length of the flat vector).
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// The value id of the output.
    pub(crate) fn output_id(&self) -> usize {
        self.output
    }

    /// The parameter tensors, in order.
    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// The parameter tensors as `--params` selects them and the JSON lists them.
    pub fn param_tensors(&self) -> Vec<crate::curvature::ParamTensor> {
        self.params
            .iter()
            .map(|p| crate::curvature::ParamTensor {
                name: p.name.clone(),
                shape: p.shape.clone(),
                offset: p.offset,
            })
            .collect()
    }

    /// The parameter values the graph was built with.
    pub fn initial_params(&self) -> &[f64] {
        &self.initial
    }

    /// The nodes in topological order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The names of the buffers (constants tracked but not trained).
    pub fn buffer_names(&self) -> Vec<&str> {
        self.values
            .iter()
            .filter(|v| matches!(v.source, Source::Const { buffer: true, .. }))
            .map(|v| v.name.as_str())
            .collect()
    }

    /// Whether some node computes statistics over the batch (batch norm in training mode): the
    /// samples are then coupled, and the data cannot be streamed in chunks.
    pub fn has_batch_statistics(&self) -> bool {
        self.nodes.iter().any(|n| n.op.is_batch_statistic())
    }

    /// The input's declared dimensions after the batch axis, where the model fixes them.
    pub fn input_dims(&self) -> Option<&[Option<usize>]> {
        self.input_dims.as_deref()
    }

    /// One name per scalar parameter: `conv1.weight[0,0,1,2]`.
    pub fn param_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.n_params);
        for p in &self.params {
            let st = super::tensor::strides(&p.shape);
            for i in 0..p.len() {
                let idx: Vec<String> = st
                    .iter()
                    .zip(&p.shape)
                    .map(|(s, d)| ((i / s) % d).to_string())
                    .collect();
                names.push(format!("{}[{}]", p.name, idx.join(",")));
            }
        }
        names
    }

    /// Whether every node keeps the samples apart, judged from two forward passes on one and
    /// on two samples (`one`, `two`): a value carries the batch axis when its first dimension
    /// goes from 1 to 2 and the rest stay. Then the passes over a data set are the sums of the
    /// passes over chunks of it. Ops not known to act sample by sample answer `false`.
    pub(crate) fn separable_over_samples(&self, one: &Forward, two: &Forward) -> bool {
        let mut batched = vec![false; self.values.len()];
        for (id, (a, b)) in one.vals.iter().zip(&two.vals).enumerate() {
            let (a, b) = (&a.shape, &b.shape);
            if a == b {
                continue;
            }
            if a.len() != b.len() || a.first() != Some(&1) || b[0] != 2 || a[1..] != b[1..] {
                return false;
            }
            batched[id] = true;
        }
        if !batched[self.output] {
            return false;
        }
        for node in &self.nodes {
            let b: Vec<bool> = node.inputs.iter().map(|&i| batched[i]).collect();
            if !b.iter().any(|&x| x) {
                continue;
            }
            let rank = |i: usize| one.vals[node.inputs[i]].rank();
            let out_rank = one.vals[node.output].rank();
            let aligned = |i: usize| !b[i] || rank(i) == out_rank;
            let ok = match &node.op {
                // A per-channel view reads only the rank of its reference.
                Op::Reshape(super::ops::Reshape::Channel { .. }) => !b[0] || batched[node.output],
                _ if !batched[node.output] => false,
                Op::Unary(_) | Op::MaxPool(_) | Op::AvgPool(_) | Op::Reshape(_) => true,
                Op::Add | Op::Sub | Op::Mul => (0..b.len()).all(aligned),
                Op::Conv(_) => !b[1] && aligned(0),
                Op::MatMul(m) => {
                    let batch_axis = |i: usize| rank(i) >= 3 && aligned(i);
                    (!b[0] || batch_axis(0) || (rank(0) == 2 && !m.trans_a && !b[1]))
                        && (!b[1] || batch_axis(1))
                }
                Op::Transpose(p) => p.first() == Some(&0),
                Op::Reduce(_) => true,
                Op::Softmax(ax) => {
                    let r = rank(0) as i64;
                    let a = if *ax < 0 { ax + r } else { *ax };
                    a != 0
                }
                #[allow(unreachable_patterns)]
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    fn fail(&self, node: &Node, e: Error) -> Error {
        Error::Data(format!("node '{}': {e}", node.name))
    }

    /// The forward pass on the data `x`.
    pub(crate) fn forward(&self, params: &[f64], x: &Tensor) -> Result<Forward> {
        if params.len() != self.n_params {
            return Err(Error::dim("parameters", self.n_params, params.len()));
        }
        let mut vals: Vec<Tensor> = Vec::with_capacity(self.values.len());
        let mut aux = Vec::with_capacity(self.nodes.len());
        for v in &self.values {
            let t = match &v.source {
                Source::Input => x.pooled_clone(),
                Source::Param(i) => {
                    let p = &self.params[*i];
                    Tensor::new(
                        p.shape.clone(),
                        super::tensor::copied(&params[p.offset..p.offset + p.len()]),
                    )?
                }
                Source::Const { value, .. } => value.pooled_clone(),
                Source::Node(n) => {
                    let node = &self.nodes[*n];
                    let ins: Vec<&Tensor> = node.inputs.iter().map(|&i| &vals[i]).collect();
                    let (y, a) = node.op.forward(&ins).map_err(|e| self.fail(node, e))?;
                    aux.push(a);
                    y
                }
            };
            vals.push(t);
        }
        Ok(Forward { vals, aux })
    }

    /// Adjoints of every value that needs one, from the output's adjoint.
    pub(crate) fn backward(&self, fw: &Forward, g_out: Tensor) -> Result<Vec<Option<Tensor>>> {
        let mut adj: Vec<Option<Tensor>> = vec![None; self.values.len()];
        adj[self.output] = Some(g_out);
        for (n, node) in self.nodes.iter().enumerate().rev() {
            let Some(g) = adj[node.output].take() else {
                continue;
            };
            let need: Vec<bool> = node.inputs.iter().map(|&i| self.needs_grad[i]).collect();
            if need.iter().any(|&b| b) {
                let ins: Vec<&Tensor> = node.inputs.iter().map(|&i| &fw.vals[i]).collect();
                let grads = node
                    .op
                    .backward(&ins, &fw.aux[n], &g, &need)
                    .map_err(|e| self.fail(node, e))?;
                for (&i, gi) in node.inputs.iter().zip(grads) {
                    if let Some(gi) = gi {
                        add_into(&mut adj[i], gi);
                    }
                }
            }
            adj[node.output] = Some(g);
        }
        Ok(adj)
    }

    /// Tangents `[k, ...]` of every value along the `k` parameter directions `vs`
    /// (column-major `n x k`).
    pub(crate) fn r_forward(
        &self,
        fw: &Forward,
        vs: &[f64],
        k: usize,
    ) -> Result<Vec<Option<Tensor>>> {
        let n = self.n_params;
        self.r_forward_seeded(fw, k, None, |_, p| {
            let mut data = super::tensor::take(k * p.len());
            for d in 0..k {
                data.extend_from_slice(&vs[d * n + p.offset..d * n + p.offset + p.len()]);
            }
            Some(data)
        })
    }

    /// Tangents `[k, ...]` of every value along `k` unit directions inside one parameter
    /// tensor: a block of Hessian columns. Only the values that depend on the tensor get a
    /// tangent, and the ops that read it take their unit term as a copy rather than a product.
    pub(crate) fn r_forward_units(
        &self,
        fw: &Forward,
        block: &UnitBlock<'_>,
    ) -> Result<Vec<Option<Tensor>>> {
        let k = block.idx.len();
        let value = self
            .values
            .iter()
            .position(|v| matches!(v.source, Source::Param(i) if i == block.tensor));
        self.r_forward_seeded(fw, k, value.map(|v| (v, block.idx)), |i, p| {
            (i == block.tensor).then(|| {
                let len = p.len();
                let mut data = super::tensor::zeroed(k * len);
                for (d, &q) in block.idx.iter().enumerate() {
                    data[d * len + q] = 1.0;
                }
                data
            })
        })
    }

    /// The R-forward from the parameters' tangents `seed(p)` (`None`: zero); `unit` names the
    /// value whose tangents are the unit vectors at these local indices, for the ops with a
    /// cheaper unit term.
    fn r_forward_seeded(
        &self,
        fw: &Forward,
        k: usize,
        unit: Option<(usize, &[usize])>,
        seed: impl Fn(usize, &ParamSpec) -> Option<Vec<f64>>,
    ) -> Result<Vec<Option<Tensor>>> {
        // A tangent read by one sum alone is built on in place by that sum.
        let mut consumers = vec![0usize; self.values.len()];
        for node in &self.nodes {
            node.inputs.iter().for_each(|&i| consumers[i] += 1);
        }
        consumers[self.output] += 1;
        let mut rv: Vec<Option<Tensor>> = Vec::with_capacity(self.values.len());
        for (id, v) in self.values.iter().enumerate() {
            let t = match &v.source {
                Source::Param(i) => {
                    let p = &self.params[*i];
                    seed(*i, p).map(|data| {
                        let mut shape = vec![k];
                        shape.extend_from_slice(&p.shape);
                        Tensor { shape, data }
                    })
                }
                Source::Node(ni) if self.needs_grad[id] => {
                    let node = &self.nodes[*ni];
                    let ins: Vec<&Tensor> = node.inputs.iter().map(|&i| &fw.vals[i]).collect();
                    let out_shape = &fw.vals[id].shape;
                    let rins: Vec<Option<&Tensor>> =
                        node.inputs.iter().map(|&i| rv[i].as_ref()).collect();
                    if let Some((f, idx)) = unit.and_then(|(u, idx)| {
                        let f = node.inputs.iter().position(|&i| i == u)?;
                        node.op.has_unit_term(f).then_some((f, idx))
                    }) {
                        checked_len(&[k, fw.vals[id].len()])?;
                        let r = node
                            .op
                            .r_forward_unit(&ins, &rins, f, idx, out_shape, k)
                            .map_err(|e| self.fail(node, e))?;
                        rv.push(Some(r));
                        continue;
                    }
                    let in_place = (0..node.inputs.len()).find(|&f| {
                        let i = node.inputs[f];
                        consumers[i] == 1
                            && rv[i].is_some()
                            && node.op.sums_in_place(&ins, f, out_shape)
                    });
                    if let Some(f) = in_place {
                        checked_len(&[k, fw.vals[id].len()])?;
                        drop(rins);
                        let own = rv[node.inputs[f]].take().expect("a tangent");
                        let other = rv[node.inputs[1 - f]].as_ref();
                        rv.push(Some(
                            node.op
                                .r_forward_sum_in_place(&ins, f, own, other, out_shape, k),
                        ));
                        continue;
                    }
                    checked_len(&[k, fw.vals[id].len()])?;
                    node.op
                        .r_forward(&ins, &rins, &fw.aux[*ni], &fw.vals[id].shape, k)
                        .map_err(|e| self.fail(node, e))?
                }
                _ => None,
            };
            rv.push(t);
        }
        Ok(rv)
    }

    /// Tangents `[k, ...]` of every adjoint, from the output adjoint's tangents `rg_out`.
    pub(crate) fn r_backward(
        &self,
        fw: &Forward,
        adj: &[Option<Tensor>],
        rv: &[Option<Tensor>],
        rg_out: Tensor,
        k: usize,
    ) -> Result<Vec<Option<Tensor>>> {
        self.r_backward_masked(fw, adj, rv, rg_out, k, &self.needs_grad)
    }

    /// [`Graph::r_backward`] computing the adjoints' tangents only of the values flagged in
    /// `needed`: values that depend on a parameter, flagged together with every value computed
    /// from them (as "depends on a tensor of rank `r` or later" is), so that no flagged
    /// value's tangent is formed from one that was skipped.
    pub(crate) fn r_backward_masked(
        &self,
        fw: &Forward,
        adj: &[Option<Tensor>],
        rv: &[Option<Tensor>],
        rg_out: Tensor,
        k: usize,
        needed: &[bool],
    ) -> Result<Vec<Option<Tensor>>> {
        let mut radj: Vec<Option<Tensor>> = vec![None; self.values.len()];
        radj[self.output] = Some(rg_out);
        for (n, node) in self.nodes.iter().enumerate().rev() {
            let Some(g) = adj[node.output].as_ref() else {
                continue;
            };
            let rg = radj[node.output].take();
            let need: Vec<bool> = node.inputs.iter().map(|&i| needed[i]).collect();
            let rins: Vec<Option<&Tensor>> = node.inputs.iter().map(|&i| rv[i].as_ref()).collect();
            if !need.iter().any(|&b| b) || (rg.is_none() && rins.iter().all(Option::is_none)) {
                continue;
            }
            let ins: Vec<&Tensor> = node.inputs.iter().map(|&i| &fw.vals[i]).collect();
            let grads = node
                .op
                .r_backward_owned(&ins, &rins, &fw.aux[n], g, rg, &need, k)
                .map_err(|e| self.fail(node, e))?;
            for (&i, gi) in node.inputs.iter().zip(grads) {
                if let Some(gi) = gi {
                    add_into(&mut radj[i], gi);
                }
            }
        }
        Ok(radj)
    }

    /// Keeps, for each element-wise op of the pass `fw`, the weight `f''·ḡ` of its
    /// second-order term in place of `f''`, from the adjoints `adj` of the same pass: every
    /// R-backward at this point then reads it rather than forming it (same bits).
    pub(crate) fn keep_second_order_weights(&self, fw: &mut Forward, adj: &[Option<Tensor>]) {
        for (ni, node) in self.nodes.iter().enumerate() {
            let Some(g) = adj[node.output].as_ref() else {
                continue;
            };
            fw.aux[ni] = match std::mem::take(&mut fw.aux[ni]) {
                Aux::Derivatives(d1, mut d2) if d2.len() == g.len() => {
                    d2.iter_mut().zip(&g.data).for_each(|(d, g)| *d *= g);
                    Aux::Weighted(d1, d2)
                }
                other => other,
            };
        }
    }

    /// The flat gradient from the adjoints of a backward pass.
    pub(crate) fn collect_grad(&self, adj: &[Option<Tensor>], out: &mut [f64]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        for (id, v) in self.values.iter().enumerate() {
            if let (Source::Param(i), Some(g)) = (&v.source, &adj[id]) {
                let p = &self.params[*i];
                out[p.offset..p.offset + p.len()].copy_from_slice(&g.data);
            }
        }
    }

    /// The `k` Hessian-vector products (column-major `n x k`) from the adjoints' tangents:
    /// every entry of `out` is written (zero where a parameter has no tangent).
    pub(crate) fn collect_hvp(&self, radj: &[Option<Tensor>], k: usize, out: &mut [f64]) {
        let n = self.n_params;
        let mut written = vec![false; self.params.len()];
        for (id, v) in self.values.iter().enumerate() {
            if let (Source::Param(i), Some(r)) = (&v.source, &radj[id]) {
                let p = &self.params[*i];
                let len = p.len();
                for d in 0..k {
                    out[d * n + p.offset..d * n + p.offset + len]
                        .copy_from_slice(&r.data[d * len..(d + 1) * len]);
                }
                written[*i] = true;
            }
        }
        for (p, _) in self.params.iter().zip(&written).filter(|(_, &w)| !w) {
            for d in 0..k {
                out[d * n + p.offset..d * n + p.offset + p.len()].fill(0.0);
            }
        }
    }
}

/// A block of unit directions inside one parameter tensor: the Hessian's columns
/// `offset + idx[j]` of tensor `tensor`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitBlock<'a> {
    /// The parameter tensor.
    pub tensor: usize,
    /// The directions' indices inside it (flat, row-major).
    pub idx: &'a [usize],
}

/// The order in which the dense Hessian visits the parameter tensors, and what each value
/// depends on, so that a block of columns of one tensor computes only the rows of it and of
/// the tensors after it.
#[derive(Debug, Clone)]
pub(crate) struct TensorOrder {
    /// Per parameter tensor, its rank: tensors ranked by first use in the topological node
    /// order (those no node reads come last), so that the backward pass of a late tensor's
    /// columns stops where that tensor enters.
    pub rank: Vec<usize>,
    /// Per value, the highest rank of the tensors it depends on (`None`: none).
    pub reach: Vec<Option<usize>>,
}

impl TensorOrder {
    /// Which values' adjoint tangents a block of columns of the tensor of rank `r` needs: those
    /// that depend on a tensor of rank `r` or later.
    pub fn needed(&self, r: usize) -> Vec<bool> {
        self.reach
            .iter()
            .map(|d| d.is_some_and(|d| d >= r))
            .collect()
    }
}

impl Graph {
    /// The tensors' ranks by first use and each value's dependence on them.
    pub(crate) fn tensor_order(&self) -> TensorOrder {
        let mut rank = vec![usize::MAX; self.params.len()];
        let mut next = 0;
        for node in &self.nodes {
            for &i in &node.inputs {
                if let Source::Param(p) = self.values[i].source {
                    if rank[p] == usize::MAX {
                        rank[p] = next;
                        next += 1;
                    }
                }
            }
        }
        for r in rank.iter_mut().filter(|r| **r == usize::MAX) {
            *r = next;
            next += 1;
        }
        let mut reach: Vec<Option<usize>> = self
            .values
            .iter()
            .map(|v| match v.source {
                Source::Param(p) => Some(rank[p]),
                _ => None,
            })
            .collect();
        for node in &self.nodes {
            reach[node.output] = node.inputs.iter().filter_map(|&i| reach[i]).max();
        }
        TensorOrder { rank, reach }
    }

    /// Adds the rows of the tensors flagged in `rows` of the `k` products (column-major
    /// `n x k`) from the adjoints' tangents into `out`.
    pub(crate) fn add_hvp_rows(
        &self,
        radj: &[Option<Tensor>],
        k: usize,
        rows: &[bool],
        out: &mut [f64],
    ) {
        let n = self.n_params;
        for (id, v) in self.values.iter().enumerate() {
            if let (Source::Param(i), Some(r)) = (&v.source, &radj[id]) {
                if !rows[*i] {
                    continue;
                }
                let p = &self.params[*i];
                let len = p.len();
                for d in 0..k {
                    out[d * n + p.offset..d * n + p.offset + len]
                        .iter_mut()
                        .zip(&r.data[d * len..(d + 1) * len])
                        .for_each(|(o, x)| *o += x);
                }
            }
        }
    }
}

fn add_into(slot: &mut Option<Tensor>, t: Tensor) {
    match slot {
        Some(s) => {
            s.add_assign(&t);
            t.recycle();
        }
        None => *slot = Some(t),
    }
}
