//! ONNX models as graphs: [`load_onnx`] reads a `.onnx` file (prost's decoder over the
//! types generated from ONNX's own `onnx.proto`, in [`proto`]) and maps its nodes onto [`crate::graph::Op`]s.
//!
//! The parameters are the float initializers the graph trains, in the file's order (for a
//! PyTorch export, `named_parameters()` order, named by their state_dict names); batch-norm
//! running statistics are buffers (used in evaluation mode; [`ImportOptions`] selects training
//! mode, the statistics of the data the graph runs on); integer initializers and `Constant` nodes are constants.
//! Composite ops (`Gemm`, `LayerNormalization`, `BatchNormalization`, `Div`, `Conv` with bias)
//! become several primitive ops computing the same function, so their derivatives are exact.
//! Shapes a model computes from its tensors (`Shape`→`Gather`→`Unsqueeze`→`Concat`→`Reshape`,
//! as `torch.onnx.export` writes `x.view(x.size(0), -1)`) are folded at import when the
//! input's dimensions after the batch are fixed, the batch size kept symbolic.

mod export;
mod import;
pub(crate) mod proto;
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod schema;

pub use export::onnx_with_params;
pub use import::{
    load_onnx, load_onnx_with, onnx_from_bytes, onnx_from_bytes_with, ImportOptions, SUPPORTED_OPS,
};
