//! ONNX nodes → graph ops.

use super::proto::{
    check_file_size, decode_model, default_opset, is_external, value_dims, Attributes, GraphProto,
    NodeProto, TensorProto,
};
use crate::error::{Error, Result};
use crate::graph::ops::{Axes, Conv2d, Gather, MatMul, Op, Pool2d, Reduce, Reshape, Slice, Unary};
use crate::graph::tensor::{checked_len, Tensor};
use crate::graph::{Graph, GraphBuilder};
use crate::nn::BnMode;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The ONNX ops the importer maps, for error messages and documentation.
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "Conv",
    "Div",
    "Dropout",
    "Elu",
    "Erf",
    "Exp",
    "Flatten",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LayerNormalization",
    "LeakyRelu",
    "Log",
    "MatMul",
    "MaxPool",
    "Mean",
    "Mul",
    "Neg",
    "Pow",
    "Reciprocal",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Selu",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Softplus",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
];

/// How a model is read: choices the file itself does not make.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Which statistics `BatchNormalization` uses: the file's running statistics (`Eval`) or
    /// those of the whole data set the graph runs on (`Train`, exact through the mean and the
    /// variance, as the MLP engine's `--batchnorm-mode train`).
    pub batchnorm: BnMode,
}

/// Reads an ONNX model file into a graph (parameters initialized from its weights), batch
/// norm in evaluation mode.
///
/// # Errors
/// An unreadable or malformed file, an unsupported op or attribute, external data, or
/// initializers whose data do not fill their shape.
pub fn load_onnx(path: &Path) -> Result<Graph> {
    load_onnx_with(path, ImportOptions::default())
}

/// [`load_onnx`] with explicit [`ImportOptions`].
///
/// # Errors
/// As [`load_onnx`].
pub fn load_onnx_with(path: &Path, options: ImportOptions) -> Result<Graph> {
    // Refused before reading: protobuf's limit bounds what is worth loading into memory.
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    check_file_size(len).map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    onnx_from_bytes_with(&bytes, options)
        .map_err(|e| Error::Data(format!("{}: {e}", path.display())))
}

/// [`load_onnx`] from the file's bytes.
pub fn onnx_from_bytes(bytes: &[u8]) -> Result<Graph> {
    onnx_from_bytes_with(bytes, ImportOptions::default())
}

/// [`load_onnx_with`] from the file's bytes.
pub fn onnx_from_bytes_with(bytes: &[u8], options: ImportOptions) -> Result<Graph> {
    let model = decode_model(bytes)?;
    let opset = default_opset(&model);
    let graph = model.graph.unwrap_or_default();
    Importer::new(graph, opset, options)?.run()
}

/// A constant known at import time.
#[derive(Debug, Clone)]
enum Known {
    Float(Tensor),
    /// Integers (shapes, axes, indices) and their dimensions; `None` stands for the batch size,
    /// which a shape computed from a tensor (`x.view(x.size(0), -1)`) carries.
    Int {
        dims: Vec<usize>,
        vals: Vec<Option<i64>>,
    },
}

impl Known {
    fn ints(dims: Vec<usize>, vals: Vec<i64>) -> Known {
        Known::Int {
            dims,
            vals: vals.into_iter().map(Some).collect(),
        }
    }
}

fn tensor_of(t: &TensorProto, what: &str) -> Result<Known> {
    if is_external(t) {
        return Err(Error::Unsupported(format!(
            "{what}: tensors stored in external files are not supported"
        )));
    }
    if t.dims.iter().any(|&d| d < 0) {
        return Err(Error::Data(format!(
            "{what}: negative dimension in {:?}",
            t.dims
        )));
    }
    let dims: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let n = checked_len(&dims)?;
    let short = |got: usize| {
        Error::Data(format!(
            "{what}: shape {dims:?} needs {n} values, the file holds {got}"
        ))
    };
    let data_type = t.data_type();
    let raw = t.raw_data();
    match data_type {
        1 | 11 => {
            let width = if data_type == 1 { 4 } else { 8 };
            let data: Vec<f64> = if !raw.is_empty() {
                if raw.len() != n * width {
                    return Err(short(raw.len() / width));
                }
                if width == 4 {
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                        .collect()
                } else {
                    raw.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect()
                }
            } else if width == 4 {
                t.float_data.iter().map(|&v| v as f64).collect()
            } else {
                t.double_data.clone()
            };
            if data.len() != n {
                return Err(short(data.len()));
            }
            crate::error::ensure_finite(what, &data)?;
            Ok(Known::Float(Tensor::new(dims, data)?))
        }
        6 | 7 => {
            let data: Vec<i64> = if !raw.is_empty() {
                let width = if data_type == 7 { 8 } else { 4 };
                if raw.len() != n * width {
                    return Err(short(raw.len() / width));
                }
                if width == 8 {
                    raw.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect()
                } else {
                    raw.chunks_exact(4)
                        .map(|c| i64::from(i32::from_le_bytes(c.try_into().expect("4 bytes"))))
                        .collect()
                }
            } else if data_type == 7 {
                t.int64_data.clone()
            } else {
                t.int32_data.iter().map(|&v| i64::from(v)).collect()
            };
            if data.len() != n {
                return Err(short(data.len()));
            }
            Ok(Known::ints(dims, data))
        }
        dt => Err(Error::Unsupported(format!(
            "{what}: tensor data type {dt} is not supported (float, double, int32, int64)"
        ))),
    }
}

struct Importer {
    graph: GraphProto,
    /// The default-domain opset the model imports.
    opset: Option<i64>,
    options: ImportOptions,
    b: GraphBuilder,
    /// Value ids by ONNX name.
    ids: HashMap<String, usize>,
    /// Constants by ONNX name, not yet (or not only) graph values.
    known: HashMap<String, Known>,
    /// Counter for names of intermediate values.
    fresh: usize,
}

impl Importer {
    fn new(graph: GraphProto, opset: Option<i64>, options: ImportOptions) -> Result<Importer> {
        Ok(Importer {
            graph,
            opset,
            options,
            b: GraphBuilder::new(),
            ids: HashMap::new(),
            known: HashMap::new(),
            fresh: 0,
        })
    }

    fn run(mut self) -> Result<Graph> {
        let g = std::mem::take(&mut self.graph);
        let init_names: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
        let data_inputs: Vec<_> = g
            .input
            .iter()
            .filter(|v| !init_names.contains(v.name()))
            .collect();
        let [input] = data_inputs[..] else {
            return Err(Error::Unsupported(format!(
                "the model must have one data input, it has {} ({})",
                data_inputs.len(),
                data_inputs
                    .iter()
                    .map(|v| v.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let dims = value_dims(input).map(|d| {
            d.iter()
                .skip(1)
                .map(|v| v.filter(|&v| v > 0).map(|v| v as usize))
                .collect()
        });
        let id = self.b.input(input.name(), dims);
        self.ids.insert(input.name().to_string(), id);
        // Batch-norm statistics are buffers; every other float initializer a node reads is a
        // parameter.
        let mut buffers = HashSet::new();
        let mut used = HashSet::new();
        for n in &g.node {
            if n.op_type() == "BatchNormalization" {
                buffers.extend(n.input.iter().skip(3).cloned());
            }
            used.extend(n.input.iter().cloned());
        }
        for t in &g.initializer {
            let name = t.name().to_string();
            let what = format!("initializer '{name}'");
            match tensor_of(t, &what)? {
                Known::Float(v) if used.contains(&name) && !buffers.contains(&name) => {
                    let id = self.b.param(&name, v);
                    self.ids.insert(name, id);
                }
                Known::Float(v) if buffers.contains(&name) => {
                    let id = self.b.constant(&name, v, true);
                    self.ids.insert(name, id);
                }
                k => {
                    self.known.insert(name, k);
                }
            }
        }
        for n in &g.node {
            self.node(n).map_err(|e| {
                let name = if n.name().is_empty() {
                    n.output.first().cloned().unwrap_or_default()
                } else {
                    n.name().to_string()
                };
                match e {
                    Error::Data(m) | Error::Unsupported(m) if !m.starts_with("node '") => {
                        Error::Data(format!("node '{name}' ({}): {m}", n.op_type()))
                    }
                    e => e,
                }
            })?;
        }
        let [out] = &g.output[..] else {
            return Err(Error::Unsupported(format!(
                "the model must have one output, it has {}",
                g.output.len()
            )));
        };
        let id = *self.ids.get(out.name()).ok_or_else(|| {
            Error::Data(format!(
                "the output '{}' is not computed by any node",
                out.name()
            ))
        })?;
        self.b.finish(id)
    }

    /// The graph value of an ONNX name (constants become graph constants on first use).
    fn value(&mut self, name: &str) -> Result<usize> {
        if let Some(&id) = self.ids.get(name) {
            return Ok(id);
        }
        match self.known.get(name) {
            Some(Known::Float(t)) => {
                let id = self.b.constant(name, t.clone(), false);
                self.ids.insert(name.to_string(), id);
                Ok(id)
            }
            Some(Known::Int { .. }) => Err(Error::Unsupported(format!(
                "integer tensor '{name}' used as data"
            ))),
            None => Err(Error::Data(format!(
                "input '{name}' is not defined before it is used"
            ))),
        }
    }

    fn ints_of(&self, name: &str) -> Result<Vec<i64>> {
        match self.known.get(name) {
            Some(Known::Int { vals, .. }) => vals
                .iter()
                .map(|v| {
                    v.ok_or_else(|| {
                        Error::Unsupported(format!(
                            "'{name}' depends on the batch size, which is not known when the model is read"
                        ))
                    })
                })
                .collect(),
            _ => Err(Error::Unsupported(format!(
                "'{name}' must be a constant integer tensor (shapes computed at run time are not supported)"
            ))),
        }
    }

    /// A constant integer tensor, possibly holding the batch size, with its dimensions.
    fn sym_of(&self, name: &str) -> Option<(Vec<usize>, Vec<Option<i64>>)> {
        match self.known.get(name) {
            Some(Known::Int { dims, vals }) => Some((dims.clone(), vals.clone())),
            _ => None,
        }
    }

    fn scalar_of(&self, name: &str) -> Result<f64> {
        match self.known.get(name) {
            Some(Known::Float(t)) if t.len() == 1 => Ok(t.data[0]),
            Some(Known::Int { vals, .. }) if vals.len() == 1 && vals[0].is_some() => {
                Ok(vals[0].unwrap_or(0) as f64)
            }
            _ => Err(Error::Unsupported(format!(
                "'{name}' must be a constant scalar"
            ))),
        }
    }

    /// The shape of the value `name` with `None` for the batch size: read off the model's
    /// input, a constant, or the graph built so far run on inputs of two batch sizes.
    fn shape_of(&mut self, name: &str) -> Result<Vec<Option<i64>>> {
        if let Some(Known::Float(t)) = self.known.get(name) {
            return Ok(t.shape.iter().map(|&d| Some(d as i64)).collect());
        }
        if let Some((dims, _)) = self.sym_of(name) {
            return Ok(dims.iter().map(|&d| Some(d as i64)).collect());
        }
        let id = self.value(name)?;
        let dims = self.b.input_dims_so_far();
        let fixed: Option<Vec<usize>> = dims.as_ref().and_then(|d| d.iter().copied().collect());
        let Some(fixed) = fixed else {
            let shown = dims.map_or("[N, ...]".to_string(), |d| {
                let v: Vec<String> = d
                    .iter()
                    .map(|x| x.map_or("?".into(), |x| x.to_string()))
                    .collect();
                format!("[N, {}]", v.join(", "))
            });
            return Err(Error::Unsupported(format!(
                "the shape of '{name}' is computed at run time and the model's input is {shown}: critpt folds such shapes only when the input's dimensions after the batch are fixed"
            )));
        };
        let at = |b: &GraphBuilder, n: usize| -> Result<Vec<usize>> {
            let mut shape = vec![n];
            shape.extend_from_slice(&fixed);
            b.shape_of(id, &Tensor::zeros(&shape)?)
        };
        let (s2, s3) = (at(&self.b, 2)?, at(&self.b, 3)?);
        if s2.len() != s3.len() {
            return Err(Error::Unsupported(format!(
                "the rank of '{name}' depends on the batch size"
            )));
        }
        s2.iter()
            .zip(&s3)
            .map(|(&a, &b)| match (a, b) {
                (a, b) if a == b => Ok(Some(a as i64)),
                (2, 3) => Ok(None),
                _ => Err(Error::Unsupported(format!(
                    "the shape of '{name}' depends on the batch size in a way that cannot be folded ({s2:?} for 2 samples, {s3:?} for 3)"
                ))),
            })
            .collect()
    }

    /// Integer ops on constants, folded at import: shape computations (`Shape`, `Gather`,
    /// `Unsqueeze`, `Squeeze`, `Concat`, `Slice`, `Cast`, `Identity` on integers). Returns
    /// whether the node was folded.
    fn fold(&mut self, n: &NodeProto, out: &str) -> Result<bool> {
        let first = n.input.first().map(String::as_str).unwrap_or("");
        let Some((dims, vals)) = self.sym_of(first) else {
            return Ok(false);
        };
        let folded = match n.op_type() {
            "Identity" => (dims, vals),
            "Cast" => match attr_i(n, "to", 0) {
                6 | 7 => (dims, vals),
                1 | 11 => {
                    let v = self.ints_of(first)?;
                    let t = Tensor::new(dims, v.iter().map(|&x| x as f64).collect())?;
                    self.known.insert(out.to_string(), Known::Float(t));
                    return Ok(true);
                }
                to => {
                    return Err(Error::Unsupported(format!(
                        "Cast of integers to data type {to}"
                    )))
                }
            },
            "Unsqueeze" | "Squeeze" => {
                let axes = match (n.attr("axes"), n.input.get(1).filter(|s| !s.is_empty())) {
                    (Some(a), _) => a.ints.clone(),
                    (None, Some(name)) => self.ints_of(name)?,
                    (None, None) => vec![],
                };
                let r = if n.op_type() == "Squeeze" {
                    Reshape::Squeeze(axes)
                } else {
                    Reshape::Unsqueeze(axes)
                };
                (r.out_shape(&dims)?, vals)
            }
            "Gather" => {
                let iname = n.input.get(1).map(String::as_str).unwrap_or("");
                let (idims, _) = self.sym_of(iname).ok_or_else(|| {
                    Error::Unsupported("Gather on integers needs constant indices".into())
                })?;
                let g = Gather {
                    axis: attr_i(n, "axis", 0),
                    indices: self.ints_of(iname)?,
                    index_shape: idims,
                };
                let (shape, idx) = g.index(&dims)?;
                (shape, idx.iter().map(|&i| vals[i]).collect())
            }
            "Slice" => {
                let s = self.slice_spec(n, dims.len())?;
                let (shape, idx) = s.index(&dims)?;
                (shape, idx.iter().map(|&i| vals[i]).collect())
            }
            "Concat" => {
                let mut all = Vec::new();
                for name in &n.input {
                    let (d, v) = self.sym_of(name).ok_or_else(|| {
                        Error::Unsupported(format!(
                            "Concat joins the integer tensor '{first}' with '{name}', which is not a constant"
                        ))
                    })?;
                    if d.len() > 1 {
                        return Err(Error::Unsupported(format!(
                            "Concat of integer tensors of rank {}",
                            d.len()
                        )));
                    }
                    all.extend(v);
                }
                (vec![all.len()], all)
            }
            _ => return Ok(false),
        };
        let (dims, vals) = folded;
        self.known
            .insert(out.to_string(), Known::Int { dims, vals });
        Ok(true)
    }

    /// `Slice`'s bounds: inputs 1–4 (opset 10 and later) or attributes (earlier).
    fn slice_spec(&self, n: &NodeProto, rank: usize) -> Result<Slice> {
        let input = |i: usize| n.input.get(i).map(String::as_str).filter(|s| !s.is_empty());
        let (starts, ends, axes, steps) = if let Some(st) = input(1) {
            let starts = self.ints_of(st)?;
            let ends = self.ints_of(
                input(2).ok_or_else(|| Error::Data("Slice: missing input 3 (ends)".into()))?,
            )?;
            let axes = input(3).map(|a| self.ints_of(a)).transpose()?;
            let steps = input(4).map(|a| self.ints_of(a)).transpose()?;
            (starts, ends, axes, steps)
        } else {
            let get = |k: &str| n.attr(k).map(|a| a.ints.clone());
            let starts = get("starts").ok_or_else(|| Error::Data("Slice: no starts".into()))?;
            let ends = get("ends").ok_or_else(|| Error::Data("Slice: no ends".into()))?;
            (starts, ends, get("axes"), None)
        };
        let m = starts.len();
        let axes = axes.unwrap_or_else(|| (0..m.min(rank) as i64).collect());
        let steps = steps.unwrap_or_else(|| vec![1; m]);
        Ok(Slice {
            starts,
            ends,
            axes,
            steps,
        })
    }

    fn tmp(&mut self, base: &str) -> String {
        self.fresh += 1;
        format!("{base}/{}", self.fresh)
    }

    /// `(x − mean x) / √(var x + eps)` over the axes `stat` reduces (kept), with the biased
    /// variance, as torch's LayerNorm and training-mode BatchNorm normalize.
    fn normalized(&mut self, n: &NodeProto, x: usize, stat: Reduce, eps: f64) -> Result<usize> {
        let mu = self.add(n, Op::Reduce(stat.clone()), &[x], None)?;
        let d = self.add(n, Op::Sub, &[x, mu], None)?;
        let sq = self.add(n, Op::Mul, &[d, d], None)?;
        let var = self.add(n, Op::Reduce(stat), &[sq], None)?;
        let pow = Unary::Pow {
            p: -0.5,
            shift: eps,
        };
        let inv = self.add(n, Op::Unary(pow), &[var], None)?;
        self.add(n, Op::Mul, &[d, inv], None)
    }

    /// Adds `op` on `inputs`; `out` names the result (a fresh name when `None`).
    fn add(&mut self, n: &NodeProto, op: Op, inputs: &[usize], out: Option<&str>) -> Result<usize> {
        let name = match out {
            Some(o) => o.to_string(),
            None => self.tmp(n.output.first().map_or("", String::as_str)),
        };
        let label = if n.name().is_empty() {
            name.clone()
        } else {
            n.name().to_string()
        };
        let id = self.b.node(&label, op, inputs, &name)?;
        if out.is_some() {
            self.ids.insert(name, id);
        }
        Ok(id)
    }

    fn node(&mut self, n: &NodeProto) -> Result<()> {
        if !(n.domain().is_empty() || n.domain() == "ai.onnx") {
            return Err(unsupported(n));
        }
        let out = n
            .output
            .first()
            .cloned()
            .ok_or_else(|| Error::Data("the node has no output".into()))?;
        let multi = matches!(n.op_type(), "Dropout" | "Split" | "BatchNormalization");
        if n.output.iter().skip(1).any(|o| !o.is_empty()) && !multi {
            return Err(Error::Unsupported(format!(
                "only the first output is supported, the model uses {}",
                n.output.len()
            )));
        }
        let arg = |i: usize| -> Result<&str> {
            n.input
                .get(i)
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| Error::Data(format!("missing input {}", i + 1)))
        };
        let opt = |i: usize| n.input.get(i).map(String::as_str).filter(|s| !s.is_empty());
        let o = Some(out.as_str());
        let unary = |u: Unary| Op::Unary(u);
        if self.fold(n, &out)? {
            return Ok(());
        }
        match n.op_type() {
            "Shape" => {
                let mut s = self.shape_of(arg(0)?)?;
                let r = s.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let start = clamp(attr_i(n, "start", 0));
                let end = clamp(attr_i(n, "end", r)).max(start);
                s = s[start..end].to_vec();
                self.known.insert(
                    out,
                    Known::Int {
                        dims: vec![s.len()],
                        vals: s,
                    },
                );
            }
            "Cast" => {
                // Floats stay f64; a cast of data to integers has no derivative.
                let to = attr_i(n, "to", 0);
                if let Some(Known::Float(t)) = self.known.get(arg(0)?) {
                    let k = match to {
                        1 | 10 | 11 | 16 => Known::Float(t.clone()),
                        6 | 7 => Known::ints(
                            t.shape.clone(),
                            t.data.iter().map(|&v| v.trunc() as i64).collect(),
                        ),
                        to => {
                            return Err(Error::Unsupported(format!(
                                "Cast of a constant to data type {to}"
                            )))
                        }
                    };
                    self.known.insert(out, k);
                    return Ok(());
                }
                match to {
                    1 | 10 | 11 | 16 => {
                        let x = self.value(arg(0)?)?;
                        self.add(n, Op::Reshape(Reshape::Identity), &[x], o)?;
                    }
                    to => {
                        return Err(Error::Unsupported(format!(
                            "Cast of float data to data type {to} (only float types are differentiable)"
                        )))
                    }
                }
            }
            "Clip" => {
                let bound = |s: &Self, i: usize, attr: &str, default: f64| -> Result<f64> {
                    match n.input.get(i).filter(|v| !v.is_empty()) {
                        Some(name) => s.scalar_of(name),
                        None => Ok(attr_f(n, attr, default)),
                    }
                };
                let lo = bound(self, 1, "min", f64::NEG_INFINITY)?;
                let hi = bound(self, 2, "max", f64::INFINITY)?;
                let x = self.value(arg(0)?)?;
                self.add(n, unary(Unary::Clip(lo, hi)), &[x], o)?;
            }
            "Concat" => {
                let axis = n
                    .attr("axis")
                    .and_then(|a| a.i)
                    .ok_or_else(|| Error::Data("Concat without axis".into()))?;
                let ins = n
                    .input
                    .iter()
                    .map(|name| self.value(name))
                    .collect::<Result<Vec<_>>>()?;
                if ins.is_empty() {
                    return Err(Error::Data("Concat without inputs".into()));
                }
                let op = Op::Concat {
                    axis,
                    inputs: ins.len(),
                };
                self.add(n, op, &ins, o)?;
            }
            "Slice" => {
                let x = self.value(arg(0)?)?;
                let spec = self.slice_spec(n, usize::MAX)?;
                self.add(n, Op::Slice(spec), &[x], o)?;
            }
            "Gather" => {
                let iname = arg(1)?;
                let (idims, _) = self.sym_of(iname).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "Gather needs constant indices, '{iname}' is computed"
                    ))
                })?;
                let g = Gather {
                    axis: attr_i(n, "axis", 0),
                    indices: self.ints_of(iname)?,
                    index_shape: idims,
                };
                let x = self.value(arg(0)?)?;
                self.add(n, Op::Gather(g), &[x], o)?;
            }
            "Split" => {
                let axis = attr_i(n, "axis", 0);
                let outs: Vec<&String> = n.output.iter().collect();
                let sizes = match (n.attr("split"), opt(1)) {
                    (Some(a), _) => Some(a.ints.clone()),
                    (None, Some(name)) => Some(self.ints_of(name)?),
                    (None, None) => None,
                };
                let sizes = match sizes {
                    Some(s) => s,
                    None => {
                        let shape = self.shape_of(arg(0)?)?;
                        let ax = crate::graph::ops::shape::axis("Split", axis, shape.len())?;
                        let d = shape[ax].ok_or_else(|| {
                            Error::Unsupported("Split along the batch axis".into())
                        })?;
                        let parts = outs.len() as i64;
                        let each = (d + parts - 1) / parts.max(1);
                        (0..parts).map(|i| each.min(d - i * each).max(0)).collect()
                    }
                };
                if sizes.len() != outs.len() || sizes.iter().any(|&v| v < 0) {
                    return Err(Error::Data(format!(
                        "Split: sizes {sizes:?} for {} outputs",
                        outs.len()
                    )));
                }
                let x = self.value(arg(0)?)?;
                let mut start = 0i64;
                for (name, &len) in outs.iter().zip(&sizes) {
                    let spec = Slice {
                        starts: vec![start],
                        ends: vec![start + len],
                        axes: vec![axis],
                        steps: vec![1],
                    };
                    start += len;
                    if !name.is_empty() {
                        self.add(n, Op::Slice(spec), &[x], Some(name.as_str()))?;
                    }
                }
            }
            "Constant" => {
                let k = if let Some(t) = n.attr("value").and_then(|a| a.t.as_ref()) {
                    tensor_of(t, "Constant value")?
                } else if let Some(f) = n.attr("value_float").and_then(|a| a.f) {
                    Known::Float(Tensor::new(vec![], vec![f as f64])?)
                } else if let Some(a) = n.attr("value_floats") {
                    Known::Float(Tensor::new(
                        vec![a.floats.len()],
                        a.floats.iter().map(|&v| v as f64).collect(),
                    )?)
                } else if let Some(i) = n.attr("value_int").and_then(|a| a.i) {
                    Known::ints(vec![], vec![i])
                } else if let Some(a) = n.attr("value_ints") {
                    Known::ints(vec![a.ints.len()], a.ints.clone())
                } else {
                    return Err(Error::Unsupported(
                        "Constant without a tensor, float(s) or int(s) value".into(),
                    ));
                };
                self.known.insert(out, k);
            }
            "Relu" | "Tanh" | "Sigmoid" | "Erf" | "Exp" | "Log" | "Sqrt" | "Reciprocal" | "Neg"
            | "LeakyRelu" | "Gelu" | "Abs" | "Softplus" | "Elu" | "Selu" | "HardSigmoid"
            | "HardSwish" => {
                let u = match n.op_type() {
                    "Abs" => Unary::Abs,
                    "Softplus" => Unary::Softplus,
                    "Elu" => Unary::Elu {
                        alpha: attr_f(n, "alpha", 1.0),
                        gamma: 1.0,
                    },
                    // Without attributes, torch's float64 constants (ONNX's defaults are their
                    // float32 roundings).
                    "Selu" => Unary::Elu {
                        alpha: n
                            .attr("alpha")
                            .and_then(|a| a.f)
                            .map_or(1.673_263_242_354_377_3, f64::from),
                        gamma: n
                            .attr("gamma")
                            .and_then(|a| a.f)
                            .map_or(1.050_700_987_355_480_5, f64::from),
                    },
                    "HardSigmoid" => Unary::HardSigmoid {
                        alpha: attr_f(n, "alpha", 0.2),
                        beta: attr_f(n, "beta", 0.5),
                    },
                    "HardSwish" => Unary::HardSwish,
                    "Relu" => Unary::Relu,
                    "Tanh" => Unary::Tanh,
                    "Sigmoid" => Unary::Sigmoid,
                    "Erf" => Unary::Erf,
                    "Exp" => Unary::Exp,
                    "Log" => Unary::Log,
                    "Sqrt" => Unary::Pow { p: 0.5, shift: 0.0 },
                    "Reciprocal" => Unary::Pow {
                        p: -1.0,
                        shift: 0.0,
                    },
                    "Neg" => Unary::Scale(-1.0),
                    "LeakyRelu" => Unary::LeakyRelu(attr_f(n, "alpha", 0.01)),
                    _ => {
                        let approx = n.attr("approximate").and_then(|a| a.s.clone());
                        if approx.is_some_and(|s| s != b"none") {
                            return Err(Error::Unsupported(
                                "Gelu with approximate = tanh is not supported".into(),
                            ));
                        }
                        Unary::Gelu
                    }
                };
                let x = self.value(arg(0)?)?;
                self.add(n, unary(u), &[x], o)?;
            }
            "Pow" => {
                let p = self.scalar_of(arg(1)?)?;
                let x = self.value(arg(0)?)?;
                self.add(n, unary(Unary::Pow { p, shift: 0.0 }), &[x], o)?;
            }
            "Sum" | "Mean" => {
                let ins = n
                    .input
                    .iter()
                    .map(|name| self.value(name))
                    .collect::<Result<Vec<_>>>()?;
                let Some((&first, rest)) = ins.split_first() else {
                    return Err(Error::Data(format!("{} without inputs", n.op_type())));
                };
                let mean = n.op_type() == "Mean" && ins.len() > 1;
                let mut acc = first;
                for (i, &v) in rest.iter().enumerate() {
                    let last = i + 1 == rest.len() && !mean;
                    acc = self.add(n, Op::Add, &[acc, v], last.then_some(out.as_str()))?;
                }
                if mean {
                    let s = Unary::Scale(1.0 / ins.len() as f64);
                    self.add(n, unary(s), &[acc], o)?;
                } else if rest.is_empty() {
                    self.add(n, Op::Reshape(Reshape::Identity), &[acc], o)?;
                }
            }
            "Add" | "Sub" | "Mul" => {
                let op = match n.op_type() {
                    "Add" => Op::Add,
                    "Sub" => Op::Sub,
                    _ => Op::Mul,
                };
                let a = self.value(arg(0)?)?;
                let b = self.value(arg(1)?)?;
                self.add(n, op, &[a, b], o)?;
            }
            "Div" => {
                let a = self.value(arg(0)?)?;
                let bname = arg(1)?;
                let r = if let Some(Known::Float(t)) = self.known.get(bname) {
                    let inv =
                        Tensor::new(t.shape.clone(), t.data.iter().map(|v| 1.0 / v).collect())?;
                    let name = self.tmp(bname);
                    self.b.constant(&name, inv, false)
                } else {
                    let b = self.value(bname)?;
                    self.add(
                        n,
                        unary(Unary::Pow {
                            p: -1.0,
                            shift: 0.0,
                        }),
                        &[b],
                        None,
                    )?
                };
                self.add(n, Op::Mul, &[a, r], o)?;
            }
            "MatMul" => {
                let a = self.value(arg(0)?)?;
                let b = self.value(arg(1)?)?;
                let mm = MatMul {
                    trans_a: false,
                    trans_b: false,
                };
                self.add(n, Op::MatMul(mm), &[a, b], o)?;
            }
            "Gemm" => {
                let a = self.value(arg(0)?)?;
                let b = self.value(arg(1)?)?;
                let mm = MatMul {
                    trans_a: attr_i(n, "transA", 0) != 0,
                    trans_b: attr_i(n, "transB", 0) != 0,
                };
                let alpha = attr_f(n, "alpha", 1.0);
                let beta = attr_f(n, "beta", 1.0);
                let c = opt(2).filter(|_| beta != 0.0);
                let last = c.is_none() && alpha == 1.0;
                let mut y = self.add(n, Op::MatMul(mm), &[a, b], last.then_some(out.as_str()))?;
                if alpha != 1.0 {
                    y = self.add(
                        n,
                        unary(Unary::Scale(alpha)),
                        &[y],
                        c.is_none().then_some(out.as_str()),
                    )?;
                }
                if let Some(c) = c {
                    let mut cv = self.value(c)?;
                    if beta != 1.0 {
                        cv = self.add(n, unary(Unary::Scale(beta)), &[cv], None)?;
                    }
                    self.add(n, Op::Add, &[y, cv], o)?;
                }
            }
            "Conv" => {
                let x = self.value(arg(0)?)?;
                let w = self.value(arg(1)?)?;
                let spec = Conv2d {
                    strides: pair(n, "strides")?,
                    pads: quad(n)?,
                    dilations: pair(n, "dilations")?,
                    groups: usize::try_from(attr_i(n, "group", 1))
                        .map_err(|_| Error::Data("negative group".into()))?,
                };
                check_auto_pad(n)?;
                if let Some(k) = n.attr("kernel_shape") {
                    if k.ints.len() != 2 {
                        return Err(Error::Unsupported(format!(
                            "only 2-D convolutions are supported, kernel_shape {:?}",
                            k.ints
                        )));
                    }
                }
                match opt(2) {
                    None => {
                        self.add(n, Op::Conv(spec), &[x, w], o)?;
                    }
                    Some(bias) => {
                        let y = self.add(n, Op::Conv(spec), &[x, w], None)?;
                        let bv = self.value(bias)?;
                        let bc =
                            self.add(n, Op::Reshape(Reshape::Channel { rank: 0 }), &[bv, y], None)?;
                        self.add(n, Op::Add, &[y, bc], o)?;
                    }
                }
            }
            "MaxPool" | "AveragePool" => {
                check_auto_pad(n)?;
                let k = n
                    .attr("kernel_shape")
                    .map(|a| a.ints.clone())
                    .unwrap_or_default();
                if k.len() != 2 || k.iter().any(|&v| v <= 0) {
                    return Err(Error::Unsupported(format!(
                        "only 2-D pooling is supported, kernel_shape {k:?}"
                    )));
                }
                let spec = Pool2d {
                    kernel: [k[0] as usize, k[1] as usize],
                    strides: pair(n, "strides")?,
                    pads: quad(n)?,
                    dilations: pair(n, "dilations")?,
                    ceil_mode: attr_i(n, "ceil_mode", 0) != 0,
                    count_include_pad: attr_i(n, "count_include_pad", 0) != 0,
                };
                let x = self.value(arg(0)?)?;
                let op = if n.op_type() == "MaxPool" {
                    Op::MaxPool(spec)
                } else {
                    Op::AvgPool(spec)
                };
                self.add(n, op, &[x], o)?;
            }
            "Softmax" => {
                let default = if self.opset.is_some_and(|v| v < 13) {
                    return Err(Error::Unsupported(
                        "Softmax before opset 13 (flattening semantics) is not supported".into(),
                    ));
                } else {
                    -1
                };
                let x = self.value(arg(0)?)?;
                self.add(n, Op::Softmax(attr_i(n, "axis", default)), &[x], o)?;
            }
            "GlobalAveragePool" => {
                let x = self.value(arg(0)?)?;
                let r = Reduce {
                    axes: Axes::List(vec![-2, -1]),
                    keepdims: true,
                    mean: true,
                };
                self.add(n, Op::Reduce(r), &[x], o)?;
            }
            "Flatten" | "Identity" | "Dropout" | "Reshape" | "Squeeze" | "Unsqueeze" => {
                if n.op_type() == "Dropout" && n.output.iter().skip(1).any(|s| !s.is_empty()) {
                    return Err(Error::Unsupported(
                        "Dropout's mask output is not supported".into(),
                    ));
                }
                let r = match n.op_type() {
                    "Flatten" => Reshape::Flatten(attr_i(n, "axis", 1)),
                    "Reshape" => {
                        if attr_i(n, "allowzero", 0) != 0 {
                            return Err(Error::Unsupported("Reshape with allowzero = 1".into()));
                        }
                        Reshape::To(self.reshape_target(arg(0)?, arg(1)?)?)
                    }
                    "Squeeze" | "Unsqueeze" => {
                        let axes = match (n.attr("axes"), opt(1)) {
                            (Some(a), _) => a.ints.clone(),
                            (None, Some(name)) => self.ints_of(name)?,
                            (None, None) => vec![],
                        };
                        if n.op_type() == "Squeeze" {
                            Reshape::Squeeze(axes)
                        } else {
                            Reshape::Unsqueeze(axes)
                        }
                    }
                    _ => Reshape::Identity,
                };
                let x = self.value(arg(0)?)?;
                self.add(n, Op::Reshape(r), &[x], o)?;
            }
            "Transpose" => {
                let perm = n
                    .attr("perm")
                    .map(|a| a.ints.clone())
                    .ok_or_else(|| Error::Unsupported("Transpose without perm".into()))?;
                if perm.iter().any(|&p| p < 0) {
                    return Err(Error::Data(format!("invalid perm {perm:?}")));
                }
                let x = self.value(arg(0)?)?;
                let perm = perm.iter().map(|&p| p as usize).collect();
                self.add(n, Op::Transpose(perm), &[x], o)?;
            }
            "ReduceMean" | "ReduceSum" => {
                let axes = match (n.attr("axes"), opt(1)) {
                    (Some(a), _) => a.ints.clone(),
                    (None, Some(name)) => self.ints_of(name)?,
                    (None, None) => vec![],
                };
                if axes.is_empty() && attr_i(n, "noop_with_empty_axes", 0) != 0 {
                    let x = self.value(arg(0)?)?;
                    self.add(n, Op::Reshape(Reshape::Identity), &[x], o)?;
                    return Ok(());
                }
                let r = Reduce {
                    axes: Axes::List(axes),
                    keepdims: attr_i(n, "keepdims", 1) != 0,
                    mean: n.op_type() == "ReduceMean",
                };
                let x = self.value(arg(0)?)?;
                self.add(n, Op::Reduce(r), &[x], o)?;
            }
            "LayerNormalization" => {
                let axis = attr_i(n, "axis", -1);
                let eps = attr_f(n, "epsilon", 1e-5);
                let x = self.value(arg(0)?)?;
                let scale = self.value(arg(1)?)?;
                let stat = Reduce {
                    axes: Axes::From(axis),
                    keepdims: true,
                    mean: true,
                };
                let xn = self.normalized(n, x, stat, eps)?;
                match opt(2) {
                    None => {
                        self.add(n, Op::Mul, &[xn, scale], o)?;
                    }
                    Some(bias) => {
                        let y = self.add(n, Op::Mul, &[xn, scale], None)?;
                        let bv = self.value(bias)?;
                        self.add(n, Op::Add, &[y, bv], o)?;
                    }
                }
            }
            "BatchNormalization" => {
                let train = self.options.batchnorm == BnMode::Train;
                if attr_i(n, "training_mode", 0) != 0 && !train {
                    return Err(Error::Unsupported(
                        "BatchNormalization in training mode (export with training=EVAL, or analyse with --batchnorm-mode train)".into(),
                    ));
                }
                let eps = attr_f(n, "epsilon", 1e-5);
                let x = self.value(arg(0)?)?;
                let ch = |s: &mut Self, v: usize| {
                    s.add(n, Op::Reshape(Reshape::Channel { rank: 0 }), &[v, x], None)
                };
                let scale = self.value(arg(1)?)?;
                let bias = self.value(arg(2)?)?;
                if train {
                    // The statistics of the batch, over every axis but the channel's.
                    let stat = Reduce {
                        axes: Axes::Except(1),
                        keepdims: true,
                        mean: true,
                    };
                    let xn = self.normalized(n, x, stat, eps)?;
                    let (scale, bias) = (ch(self, scale)?, ch(self, bias)?);
                    let y = self.add(n, Op::Mul, &[xn, scale], None)?;
                    self.add(n, Op::Add, &[y, bias], o)?;
                    return Ok(());
                }
                let mean = self.value(arg(3)?)?;
                let var = self.value(arg(4)?)?;
                let inv = self.add(
                    n,
                    unary(Unary::Pow {
                        p: -0.5,
                        shift: eps,
                    }),
                    &[var],
                    None,
                )?;
                let (mean, inv, scale, bias) = (
                    ch(self, mean)?,
                    ch(self, inv)?,
                    ch(self, scale)?,
                    ch(self, bias)?,
                );
                let d = self.add(n, Op::Sub, &[x, mean], None)?;
                let xn = self.add(n, Op::Mul, &[d, inv], None)?;
                let y = self.add(n, Op::Mul, &[xn, scale], None)?;
                self.add(n, Op::Add, &[y, bias], o)?;
            }
            _ => return Err(unsupported(n)),
        }
        Ok(())
    }
}

impl Importer {
    /// `Reshape`'s target; the batch size in a folded shape (`x.view(x.size(0), -1)`) becomes
    /// `0` (copy the input's dimension) where the input has the batch size at the same axis.
    fn reshape_target(&mut self, x: &str, target: &str) -> Result<Vec<i64>> {
        let Some((_, vals)) = self.sym_of(target) else {
            return self.ints_of(target);
        };
        if vals.iter().all(Option::is_some) {
            return self.ints_of(target);
        }
        let in_shape = self.shape_of(x)?;
        vals.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(v) => Ok(*v),
                None if in_shape.get(i) == Some(&None) => Ok(0),
                None => Err(Error::Unsupported(format!(
                    "Reshape: the target shape puts the batch size at axis {i}, the input ('{x}') does not have it there; shapes computed at run time are folded only when the batch axis stays in place"
                ))),
            })
            .collect()
    }
}

fn unsupported(n: &NodeProto) -> Error {
    let domain = if n.domain().is_empty() {
        String::new()
    } else {
        format!(" of domain '{}'", n.domain())
    };
    Error::Unsupported(format!(
        "node '{}': unsupported op '{}'{domain}; supported: {}",
        if n.name().is_empty() {
            n.output.first().map_or("", String::as_str)
        } else {
            n.name()
        },
        n.op_type(),
        SUPPORTED_OPS.join(", ")
    ))
}

fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    n.attr(name).and_then(|a| a.i).unwrap_or(default)
}

fn attr_f(n: &NodeProto, name: &str, default: f64) -> f64 {
    n.attr(name).and_then(|a| a.f).map_or(default, |v| v as f64)
}

fn check_auto_pad(n: &NodeProto) -> Result<()> {
    match n.attr("auto_pad").and_then(|a| a.s.as_deref()) {
        None | Some(b"NOTSET") | Some(b"VALID") => Ok(()),
        Some(s) => Err(Error::Unsupported(format!(
            "auto_pad = {} is not supported (use explicit pads)",
            String::from_utf8_lossy(s)
        ))),
    }
}

fn positive(v: &[i64], name: &str) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| {
            usize::try_from(x)
                .ok()
                .filter(|&x| x < (1 << 24))
                .ok_or_else(|| Error::Data(format!("invalid {name} {v:?}")))
        })
        .collect()
}

fn pair(n: &NodeProto, name: &str) -> Result<[usize; 2]> {
    match n.attr(name) {
        None => Ok([1, 1]),
        Some(a) => {
            let v = positive(&a.ints, name)?;
            match v[..] {
                [a, b] if a > 0 && b > 0 => Ok([a, b]),
                _ => Err(Error::Unsupported(format!(
                    "{name} {:?}: only 2-D windows are supported",
                    a.ints
                ))),
            }
        }
    }
}

fn quad(n: &NodeProto) -> Result<[usize; 4]> {
    match n.attr("pads") {
        None => Ok([0; 4]),
        Some(a) => {
            let v = positive(&a.ints, "pads")?;
            match v[..] {
                [t, l, b, r] => Ok([t, l, b, r]),
                _ => Err(Error::Unsupported(format!(
                    "pads {:?}: only 2-D windows are supported",
                    a.ints
                ))),
            }
        }
    }
}
