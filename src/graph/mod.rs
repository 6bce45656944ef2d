//! Any model as a graph of ops: exact gradients, Hessian-vector products and Hessians of the
//! loss of a computation graph over shaped `f64` tensors, and models from ONNX files.
//!
//! - [`tensor`]: [`Tensor`] (shape, row-major data), broadcasting.
//! - [`ops`]: [`Op`] and its four passes (forward, backward, R-forward, R-backward).
//! - [`graph`](mod@graph): [`Graph`], [`GraphBuilder`]: values, parameters, buffers, nodes in
//!   topological order, the passes over all nodes.
//! - [`objective`]: [`GraphLoss`], the loss over a data set as a [`crate::objective`] objective.
//! - [`gauss_newton`]: [`GraphGaussNewton`], the Gauss–Newton matrix and the empirical Fisher;
//!   [`data_chunks`] for streaming the data.
//! - [`data`]: [`GraphData`], shaped inputs and targets from safetensors.
//! - [`onnx`]: [`load_onnx`], a reader of ONNX model files (prost over the official schema) into a [`Graph`].

pub mod data;
pub mod gauss_newton;
#[allow(clippy::module_inception)]
pub mod graph;
pub mod objective;
pub mod onnx;
pub mod ops;
pub mod tensor;

pub use data::{GraphData, GraphTargets};
pub use gauss_newton::{data_chunks, graph_operator, GraphGaussNewton};
pub use graph::{Graph, GraphBuilder, ParamSpec};
pub(crate) use objective::batch_loss_and_gradient;
pub use objective::GraphLoss;
pub use onnx::{
    load_onnx, load_onnx_with, onnx_from_bytes, onnx_from_bytes_with, onnx_with_params,
    ImportOptions,
};
pub use ops::Op;
pub use tensor::Tensor;

#[cfg(test)]
mod tests;
