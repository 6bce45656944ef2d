//! ONNX models as graphs: [`load_onnx`] reads a `.onnx` file (the protobuf reader in
//! [`proto`], no dependency) and maps its nodes onto [`crate::graph::Op`]s.
//!
//! The parameters are the float initializers the graph trains, in the file's order (for a
//! PyTorch export, `named_parameters()` order, named by their state_dict names); batch-norm
//! running statistics are buffers; integer initializers and `Constant` nodes are constants.
//! Composite ops (`Gemm`, `LayerNormalization`, `BatchNormalization`, `Div`, `Conv` with bias)
//! become several primitive ops computing the same function, so their derivatives are exact.

mod import;
pub(crate) mod proto;

pub use import::{load_onnx, onnx_from_bytes, SUPPORTED_OPS};
