//! Data for graphs with shaped inputs: `x` `[N, ...]` and `y` (int64 labels `[N]`, or float
//! targets `[N, k]`), from a safetensors file.

use super::tensor::{checked_len, Tensor};
use crate::error::{Error, Result};
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use std::path::Path;

/// What the graph's output is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphTargets {
    /// Class labels, one per sample.
    Labels(Vec<usize>),
    /// Regression targets, shaped as the output.
    Values(Tensor),
}

/// Inputs and targets.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphData {
    /// The inputs, `[N, ...]`.
    pub x: Tensor,
    /// The targets.
    pub y: GraphTargets,
}

impl GraphData {
    /// Checks that `x` and `y` describe the same samples.
    ///
    /// # Errors
    /// No samples, or a different number of samples in `x` and `y`.
    pub fn new(x: Tensor, y: GraphTargets) -> Result<GraphData> {
        let n = x.shape.first().copied().unwrap_or(0);
        if x.rank() < 2 || n == 0 {
            return Err(Error::Data(format!(
                "data: x must have shape [N, ...] with N >= 1, got {:?}",
                x.shape
            )));
        }
        let ny = match &y {
            GraphTargets::Labels(l) => l.len(),
            GraphTargets::Values(t) => t.shape.first().copied().unwrap_or(0),
        };
        if ny != n {
            return Err(Error::Data(format!("data: x has {n} samples, y has {ny}")));
        }
        Ok(GraphData { x, y })
    }

    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.x.shape[0]
    }

    /// Reads `x` and `y` from a safetensors file.
    ///
    /// # Errors
    /// An unreadable file, a missing tensor, integer `x`, or `y` of a dtype or rank that is
    /// neither labels nor targets.
    pub fn load(path: &Path) -> Result<GraphData> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// [`GraphData::load`] from the file's bytes; `source` names it in errors.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<GraphData> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Data(format!("{source}: not a safetensors file ({e})")))?;
        let get = |k: &str| {
            st.tensor(k).map_err(|_| {
                Error::Data(format!(
                    "{source}: no tensor '{k}' (expected x [N, ...] and y [N] or [N, k])"
                ))
            })
        };
        let xv = get("x")?;
        let x = Tensor::new(
            xv.shape().to_vec(),
            floats(source, "x", xv.dtype(), xv.data())?,
        )?;
        let yv = get("y")?;
        let y = match (yv.dtype(), yv.shape().len()) {
            (Dtype::I64, 1) => {
                let mut labels = Vec::with_capacity(yv.shape()[0]);
                for c in yv.data().chunks_exact(8) {
                    let v = i64::from_le_bytes(c.try_into().expect("8 bytes"));
                    if v < 0 {
                        return Err(Error::Data(format!(
                            "{source}: label {v} is negative"
                        )));
                    }
                    labels.push(v as usize);
                }
                GraphTargets::Labels(labels)
            }
            (Dtype::F32 | Dtype::F64, 2) => GraphTargets::Values(Tensor::new(
                yv.shape().to_vec(),
                floats(source, "y", yv.dtype(), yv.data())?,
            )?),
            (dt, r) => {
                return Err(Error::Data(format!(
                    "{source}: y must be int64 labels [N] or float targets [N, k], got {dt:?} of rank {r}"
                )))
            }
        };
        GraphData::new(x, y).map_err(|e| Error::Data(format!("{source}: {e}")))
    }
}

/// f32 or f64 little-endian bytes as `f64`.
fn floats(source: &str, key: &str, dtype: Dtype, data: &[u8]) -> Result<Vec<f64>> {
    let v: Vec<f64> = match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        other => {
            return Err(Error::Data(format!(
                "{source}: {key} must be f32 or f64, got {other:?}"
            )))
        }
    };
    checked_len(&[v.len()])?;
    crate::error::ensure_finite(&format!("{source}: {key}"), &v)?;
    Ok(v)
}
