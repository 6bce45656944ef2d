//! An [`Mlp`] as an op [`Graph`], and its data as [`GraphData`]: the MLP runs on the same
//! engine as any imported model.
//!
//! The graph has the nodes an ONNX export of the `nn.Sequential` gives once imported: each
//! `Linear` a Gemm with `transB` (a [`MatMul`] with `trans_b`, then the bias added), each
//! `BatchNorm1d` the composite of `BatchNormalization` (the running statistics as buffers in
//! evaluation mode, the batch's own mean and biased variance in training mode), each activation
//! its element-wise op. Parameters carry the state_dict names (`0.weight`, `0.bias`, ...) in the
//! state_dict order, so the graph's flat vector is the model's.
//!
//! The lowering lives in `nn` rather than `graph`: it is the MLP's description of itself in
//! the graph's terms, and the graph stays free of layers.

use super::data::Targets;
use super::layers::{Activation, BnMode, Layer};
use super::model::Mlp;
use crate::error::{Error, Result};
use crate::graph::graph::Forward;
use crate::graph::ops::{Axes, MatMul, Op, Reduce, Reshape, Unary};
use crate::graph::{Graph, GraphBuilder, GraphData, GraphTargets, Tensor};
use nalgebra::DMatrix;

/// The graph of `model` with batch norm in `mode`; its initial parameters are the model's.
///
/// # Errors
/// A model whose parameter count does not match its layers.
///
/// # Example
/// ```
/// # use critpt::nn::{lower::mlp_graph, Activation, BnMode, Mlp};
/// let m = Mlp::new(&[2, 3, 1], Activation::Tanh, false, 0).unwrap();
/// let g = mlp_graph(&m, BnMode::Eval).unwrap();
/// assert_eq!(g.initial_params(), m.params.as_slice());
/// assert_eq!(g.params()[0].name, "0.weight");
/// ```
pub fn mlp_graph(model: &Mlp, mode: BnMode) -> Result<Graph> {
    lower(model, mode).map(|l| l.graph)
}

/// A lowered MLP: its graph, and for each layer the value ids of the batch mean and biased
/// variance a training-mode batch norm computes (what its running statistics track).
#[derive(Debug, Clone)]
pub(crate) struct Lowered {
    /// The graph.
    pub graph: Graph,
    /// Per layer, `(mean, variance)` value ids of a training-mode batch norm.
    pub batch_stats: Vec<Option<(usize, usize)>>,
}

impl Lowered {
    /// Per layer, the batch mean and biased variance of a training-mode batch norm in the
    /// forward pass `fw`.
    pub fn batch_stats_of(&self, fw: &Forward) -> Vec<Option<(Vec<f64>, Vec<f64>)>> {
        self.batch_stats
            .iter()
            .map(|s| s.map(|(m, v)| (fw.vals[m].data.clone(), fw.vals[v].data.clone())))
            .collect()
    }
}

/// The graph of `model` and where its training-mode batch statistics are.
pub(crate) fn lower(model: &Mlp, mode: BnMode) -> Result<Lowered> {
    let offsets = model.offsets();
    let total: usize = model.layers.iter().map(Layer::n_params).sum();
    if total != model.params.len() {
        return Err(Error::dim("model parameters", total, model.params.len()));
    }
    let mut b = GraphBuilder::new();
    let mut h = b.input("x", Some(vec![Some(model.n_inputs())]));
    let mut batch_stats = vec![None; model.layers.len()];
    let last = model.layers.len().saturating_sub(1);
    for (i, layer) in model.layers.iter().enumerate() {
        let off = offsets[i];
        let p = &model.params[off..off + layer.n_params()];
        // The layer's output value: `logits` for the last, as the exports name it.
        let out = if i == last {
            "logits".to_string()
        } else {
            format!("/{i}/{}_output_0", onnx_op(layer))
        };
        let node = format!("/{i}/{}", onnx_op(layer));
        h = match layer {
            Layer::Linear { n_in, n_out } => {
                let nw = n_in * n_out;
                let w = b.param(
                    &format!("{i}.weight"),
                    Tensor::new(vec![*n_out, *n_in], p[..nw].to_vec())?,
                );
                let bias = b.param(
                    &format!("{i}.bias"),
                    Tensor::new(vec![*n_out], p[nw..].to_vec())?,
                );
                let mm = MatMul {
                    trans_a: false,
                    trans_b: true,
                };
                let y = b.node(&node, Op::MatMul(mm), &[h, w], &format!("{node}_matmul"))?;
                b.node(&node, Op::Add, &[y, bias], &out)?
            }
            Layer::BatchNorm { n, state } => {
                let gamma = b.param(
                    &format!("{i}.weight"),
                    Tensor::new(vec![*n], p[..*n].to_vec())?,
                );
                let beta = b.param(
                    &format!("{i}.bias"),
                    Tensor::new(vec![*n], p[*n..].to_vec())?,
                );
                let pow = Op::Unary(Unary::Pow {
                    p: -0.5,
                    shift: state.eps,
                });
                let channel = Op::Reshape(Reshape::Channel { rank: 0 });
                let tmp = |s: &str| format!("{node}_{s}");
                match mode {
                    BnMode::Train => {
                        let stat = Op::Reduce(Reduce {
                            axes: Axes::Except(1),
                            keepdims: true,
                            mean: true,
                        });
                        let mu = b.node(&node, stat.clone(), &[h], &tmp("mean"))?;
                        let d = b.node(&node, Op::Sub, &[h, mu], &tmp("centered"))?;
                        let sq = b.node(&node, Op::Mul, &[d, d], &tmp("squared"))?;
                        let var = b.node(&node, stat, &[sq], &tmp("var"))?;
                        let inv = b.node(&node, pow, &[var], &tmp("inv_std"))?;
                        let sc = b.node(&node, channel.clone(), &[gamma, h], &tmp("scale"))?;
                        let bc = b.node(&node, channel, &[beta, h], &tmp("shift"))?;
                        let xn = b.node(&node, Op::Mul, &[d, inv], &tmp("normalized"))?;
                        let y = b.node(&node, Op::Mul, &[xn, sc], &tmp("scaled"))?;
                        batch_stats[i] = Some((mu, var));
                        b.node(&node, Op::Add, &[y, bc], &out)?
                    }
                    BnMode::Eval => {
                        let mean = b.constant(
                            &format!("{i}.running_mean"),
                            Tensor::new(vec![*n], state.running_mean.clone())?,
                            true,
                        );
                        let var = b.constant(
                            &format!("{i}.running_var"),
                            Tensor::new(vec![*n], state.running_var.clone())?,
                            true,
                        );
                        let inv = b.node(&node, pow, &[var], &tmp("inv_std"))?;
                        let mc = b.node(&node, channel.clone(), &[mean, h], &tmp("mean"))?;
                        let ic = b.node(&node, channel.clone(), &[inv, h], &tmp("inv"))?;
                        let sc = b.node(&node, channel.clone(), &[gamma, h], &tmp("scale"))?;
                        let bc = b.node(&node, channel, &[beta, h], &tmp("shift"))?;
                        let d = b.node(&node, Op::Sub, &[h, mc], &tmp("centered"))?;
                        let xn = b.node(&node, Op::Mul, &[d, ic], &tmp("normalized"))?;
                        let y = b.node(&node, Op::Mul, &[xn, sc], &tmp("scaled"))?;
                        b.node(&node, Op::Add, &[y, bc], &out)?
                    }
                }
            }
            Layer::Activation(a) => b.node(&node, activation_op(*a), &[h], &out)?,
        };
    }
    Ok(Lowered {
        graph: b.finish(h)?,
        batch_stats,
    })
}

/// The ONNX op a layer exports as (names the graph's nodes as torch's exporter does).
fn onnx_op(layer: &Layer) -> &'static str {
    match layer {
        Layer::Linear { .. } => "Gemm",
        Layer::BatchNorm { .. } => "BatchNormalization",
        Layer::Activation(Activation::Tanh) => "Tanh",
        Layer::Activation(Activation::Relu) => "Relu",
        Layer::Activation(Activation::Sigmoid) => "Sigmoid",
        Layer::Activation(Activation::Identity) => "Identity",
    }
}

/// The graph op of an activation (`nn.Identity` exports as ONNX `Identity`, a reshape that
/// changes nothing).
fn activation_op(a: Activation) -> Op {
    match a {
        Activation::Tanh => Op::Unary(Unary::Tanh),
        Activation::Relu => Op::Unary(Unary::Relu),
        Activation::Sigmoid => Op::Unary(Unary::Sigmoid),
        Activation::Identity => Op::Reshape(Reshape::Identity),
    }
}

/// A feature matrix `N x d` as the graph input `[N, d]` (row-major).
pub(crate) fn input_tensor(x: &DMatrix<f64>) -> Result<Tensor> {
    // Row-major from column-major: each output row gathers one entry per column; the columns
    // of a data set stay in cache, where a generic transpose's strided writes do not.
    let (n, c) = (x.nrows(), x.ncols());
    let cols = x.as_slice();
    let mut data = Vec::with_capacity(n * c);
    for i in 0..n {
        data.extend((0..c).map(|j| cols[j * n + i]));
    }
    Tensor::new(vec![n, c], data)
}

/// A graph output `[N, C]` as an `N x C` matrix.
pub(crate) fn output_matrix(z: &Tensor) -> DMatrix<f64> {
    let n = z.shape.first().copied().unwrap_or(0);
    let c = z.len().checked_div(n).unwrap_or(0);
    DMatrix::from_row_slice(n, c, &z.data)
}

/// Features and targets as [`GraphData`]: `x` `[N, d]`, labels as labels, numeric targets as
/// `[N, k]`.
///
/// # Errors
/// No samples, or targets for another number of samples.
pub fn graph_data(x: &DMatrix<f64>, targets: &Targets) -> Result<GraphData> {
    let y = match targets {
        Targets::Labels(l) => GraphTargets::Labels(l.clone()),
        Targets::Values(v) => GraphTargets::Values(input_tensor(v)?),
    };
    GraphData::new(input_tensor(x)?, y)
}
