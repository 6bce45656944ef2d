//! Writing trained parameters back into the ONNX file they came from: the file's own graph,
//! nodes and metadata, each parameter's initializer replaced by its new values in the
//! initializer's own element type.

use super::proto::decode_model;
use crate::error::{Error, Result};
use crate::graph::Graph;
use prost::Message;

/// ONNX's element types for `float` and `double`.
const FLOAT: i32 = 1;
const DOUBLE: i32 = 11;

/// The bytes of the ONNX model `original` (the file `graph` was imported from) with every
/// parameter's initializer holding `params` (flat, in the graph's parameter order), stored as
/// little-endian `raw_data` of the initializer's type: a `float` initializer holds the values
/// rounded to `f32`, as PyTorch's float32 model would.
///
/// # Errors
/// A file that does not decode; a parameter with no initializer of its name, of another size,
/// or of a type other than float and double; `params` of the wrong length.
pub fn onnx_with_params(original: &[u8], graph: &Graph, params: &[f64]) -> Result<Vec<u8>> {
    if params.len() != graph.n_params() {
        return Err(Error::dim("parameters", graph.n_params(), params.len()));
    }
    let mut model = decode_model(original)?;
    let g = model
        .graph
        .as_mut()
        .ok_or_else(|| Error::Data("the ONNX file has no graph".into()))?;
    for spec in graph.params() {
        let values = &params[spec.offset..spec.offset + spec.len()];
        let init = g
            .initializer
            .iter_mut()
            .find(|t| t.name() == spec.name)
            .ok_or_else(|| {
                Error::Data(format!(
                    "the ONNX file has no initializer named '{}' for that parameter",
                    spec.name
                ))
            })?;
        let count = init
            .dims
            .iter()
            .try_fold(1i64, |a, &d| if d < 0 { None } else { a.checked_mul(d) });
        if count != i64::try_from(values.len()).ok() {
            return Err(Error::Data(format!(
                "initializer '{}' has dimensions {:?}, the parameter {} elements",
                spec.name,
                init.dims,
                values.len()
            )));
        }
        let raw: Vec<u8> = match init.data_type() {
            FLOAT => values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
            DOUBLE => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            t => {
                return Err(Error::Unsupported(format!(
                    "initializer '{}' has ONNX element type {t}; only float and double \
                     parameters are written back",
                    spec.name
                )))
            }
        };
        init.float_data.clear();
        init.double_data.clear();
        init.raw_data = Some(raw);
    }
    Ok(model.encode_to_vec())
}
