//! Data for graphs with shaped inputs: `x` `[N, ...]` and `y` (int64 labels `[N]`, or float
//! targets `[N, k]`), from a safetensors file, or from a CSV file (or a generator) whose feature
//! columns are reshaped row-major into the model's input shape, its targets read as for MLPs.

use super::graph::Graph;
use super::tensor::{checked_len, Tensor};
use crate::error::{Error, Result};
use crate::nn::{Dataset, LossKind, Targets, Task};
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

    /// The samples `idx`, in that order (a mini-batch).
    ///
    /// # Errors
    /// No index, or one out of range.
    pub fn select(&self, idx: &[usize]) -> Result<GraphData> {
        let n = self.n_samples();
        if let Some(&i) = idx.iter().find(|&&i| i >= n) {
            return Err(Error::invalid(
                "sample index",
                format!("{i} is out of range for {n} samples"),
            ));
        }
        let rows = |t: &Tensor| {
            let per = t.len() / n;
            let mut shape = t.shape.clone();
            shape[0] = idx.len();
            let mut data = Vec::with_capacity(idx.len() * per);
            for &i in idx {
                data.extend_from_slice(&t.data[i * per..(i + 1) * per]);
            }
            Tensor::new(shape, data)
        };
        let y = match &self.y {
            GraphTargets::Labels(l) => GraphTargets::Labels(idx.iter().map(|&i| l[i]).collect()),
            GraphTargets::Values(t) => GraphTargets::Values(rows(t)?),
        };
        GraphData::new(rows(&self.x)?, y)
    }

    /// The data `spec` names, for `graph` under the loss `kind`: a `.safetensors` file
    /// ([`GraphData::load`]), else a CSV file or a generator (`moons:200`, seeded by `seed`)
    /// whose feature columns are reshaped row-major into the model's input shape; the target is
    /// the last column unless `target` names it, or for MSE the last `k` columns, `k` the
    /// model's output size (docs/reference.md §7).
    ///
    /// # Errors
    /// As [`GraphData::load`] and [`Dataset::load_for`]; for a CSV, a model whose input shape is
    /// not fixed, a feature count other than the input's size, labels out of range for the
    /// output width; `target` with a safetensors file.
    pub fn load_for(
        graph: &Graph,
        spec: &str,
        target: Option<&[String]>,
        kind: LossKind,
        seed: u64,
    ) -> Result<GraphData> {
        let path = Path::new(spec);
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
        {
            if target.is_some() {
                return Err(Error::invalid(
                    "target columns",
                    format!("{spec} is a safetensors file, whose targets are its y"),
                ));
            }
            return GraphData::load(path);
        }
        let dims = graph.input_dims().unwrap_or(&[]);
        let fixed: Option<Vec<usize>> = dims.iter().copied().collect();
        let shown = |d: &[Option<usize>]| {
            let v: Vec<String> = d
                .iter()
                .map(|x| x.map_or("?".into(), |x| x.to_string()))
                .collect();
            format!("[N, {}]", v.join(", "))
        };
        let fixed = match fixed {
            Some(f) if !f.is_empty() => f,
            _ => {
                return Err(Error::Data(format!(
                    "{spec}: a CSV's features are reshaped into the model's input shape, but the model's input is {} (not fixed); give a .safetensors file with x [N, ...]",
                    if dims.is_empty() {
                        "[N, ...]".to_string()
                    } else {
                        shown(dims)
                    }
                )))
            }
        };
        let n_inputs = checked_len(&fixed)?;
        let mut probe_shape = vec![1];
        probe_shape.extend_from_slice(&fixed);
        let fw = graph.forward(graph.initial_params(), &Tensor::zeros(&probe_shape)?)?;
        let out_shape = fw.output(graph).shape.clone();
        let width: usize = out_shape[1.min(out_shape.len())..].iter().product();
        let (d, _) = Dataset::load_for(
            spec,
            target,
            Task::for_loss(kind, width),
            seed,
            Some(n_inputs),
        )
        .map_err(|e| match e {
            Error::Data(m) if m.contains("inputs") => Error::Data(format!(
                "{m}; the model's input is {} ({n_inputs} values per sample)",
                shown(dims)
            )),
            e => e,
        })?;
        let n = d.n_samples();
        let mut xs = Vec::with_capacity(checked_len(&[n, n_inputs])?);
        for r in 0..n {
            xs.extend(d.x.row(r).iter());
        }
        let mut x_shape = vec![n];
        x_shape.extend_from_slice(&fixed);
        let x = Tensor::new(x_shape, xs)?;
        let y = match d.targets {
            Targets::Labels(l) => GraphTargets::Labels(l),
            Targets::Values(v) => {
                let mut shape = vec![n];
                shape.extend_from_slice(&out_shape[1.min(out_shape.len())..]);
                let mut data = Vec::with_capacity(v.len());
                for r in 0..n {
                    data.extend(v.row(r).iter());
                }
                GraphTargets::Values(Tensor::new(shape, data)?)
            }
        };
        GraphData::new(x, y).map_err(|e| Error::Data(format!("{spec}: {e}")))
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
