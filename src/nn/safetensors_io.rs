//! Models as safetensors files in PyTorch's `nn.Sequential` state_dict layout.
//!
//! Keys: `<i>.weight` (`out x in`) and `<i>.bias` for `Linear`; `<i>.weight`, `<i>.bias`,
//! `<i>.running_mean`, `<i>.running_var`, `<i>.num_batches_tracked` (int64, a scalar) for
//! `BatchNorm1d`. A gap of one index between modules with keys is an activation (its kind from
//! the caller, else the file's metadata). Floats may be f32 or f64 when reading; critpt writes
//! f64 and records `activation` and `loss` in the file's `__metadata__`, so that
//! `safetensors.torch.load_file` + `model.load_state_dict` round-trip with no `torch.save`.
//!
//! The metadata also records the training data ([`DataOrigin`]: `data`, `data_seed`,
//! `data_fingerprint`, `data_target`) and the standardization. critpt writes the header itself,
//! keys in sorted order, so the same model gives the same bytes.

use super::data::{DataOrigin, Standardization};
use super::layers::{Activation, BatchNormState, Layer, LossKind};
use super::model::Mlp;
use crate::error::{Error, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A model read from a file, with what its metadata says.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The network.
    pub model: Mlp,
    /// The activation the metadata names, if any.
    pub activation: Option<Activation>,
    /// The loss the metadata names, if any.
    pub loss: Option<LossKind>,
    /// The feature standardization the model was trained with (metadata `standardize_mean`,
    /// `standardize_std`), to apply to new data.
    pub standardization: Option<Standardization>,
    /// The data the model was trained on, when the file records it.
    pub data: Option<DataOrigin>,
    /// All `__metadata__` entries.
    pub metadata: HashMap<String, String>,
}

/// What a model file records beside the tensors.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    /// The loss it was trained with.
    pub loss: Option<LossKind>,
    /// The feature standardization it was trained with.
    pub standardization: Option<Standardization>,
    /// The data it was trained on.
    pub data: Option<DataOrigin>,
}

/// Reads a model file. `activation` overrides the metadata's; it is needed when the layers
/// have gaps (activations) and the file does not name one.
///
/// # Errors
/// [`Error::Io`]; [`Error::Data`] for a corrupt file, unexpected or missing keys, wrong shapes,
/// unsupported dtypes, index gaps wider than one module, or an unknown activation.
pub fn load_model(path: &Path, activation: Option<Activation>) -> Result<ModelFile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_model_bytes(&bytes, &path.display().to_string(), activation)
}

/// The values of a float tensor as f64.
fn floats(source: &str, key: &str, t: &TensorView<'_>) -> Result<Vec<f64>> {
    let d = t.data();
    match t.dtype() {
        Dtype::F64 => Ok(d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()),
        Dtype::F32 => Ok(d
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))))
            .collect()),
        other => Err(Error::Data(format!(
            "{source}: tensor '{key}' has dtype {other:?}; critpt reads F32 and F64"
        ))),
    }
}

/// As [`load_model`] from bytes; `source` names the file in errors.
///
/// # Errors
/// As [`load_model`].
pub fn load_model_bytes(
    bytes: &[u8],
    source: &str,
    activation: Option<Activation>,
) -> Result<ModelFile> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Data(format!("{source}: not a valid safetensors file ({e})")))?;
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::Data(format!("{source}: not a valid safetensors file ({e})")))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    // Group keys by module index.
    let mut modules: BTreeMap<usize, BTreeMap<String, TensorView<'_>>> = BTreeMap::new();
    for (key, t) in st.tensors() {
        let bad = || {
            Error::Data(format!(
                "{source}: unexpected key '{key}'; expected '<index>.<weight|bias|running_mean|running_var|num_batches_tracked>' of an nn.Sequential"
            ))
        };
        let (i, name) = key.split_once('.').ok_or_else(bad)?;
        let i: usize = i.parse().map_err(|_| bad())?;
        if ![
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked",
        ]
        .contains(&name)
        {
            return Err(bad());
        }
        modules.entry(i).or_default().insert(name.to_string(), t);
    }
    if modules.is_empty() {
        return Err(Error::Data(format!("{source}: the file holds no tensors")));
    }
    let act = match activation {
        Some(a) => Some(a),
        None => match metadata.get("activation") {
            Some(name) => Some(
                name.parse::<Activation>()
                    .map_err(|e| Error::Data(format!("{source}: metadata: {e}")))?,
            ),
            None => None,
        },
    };
    let loss = match metadata.get("loss") {
        Some(name) => Some(
            name.parse::<LossKind>()
                .map_err(|e| Error::Data(format!("{source}: metadata: {e}")))?,
        ),
        None => None,
    };
    let mut layers = Vec::new();
    let mut params = Vec::new();
    let mut prev: Option<usize> = None;
    for (&i, tensors) in &modules {
        let gap = match prev {
            None => i,
            Some(p) => i - p - 1,
        };
        if gap > 1 || prev.is_none() && gap > 0 {
            return Err(Error::Data(format!(
                "{source}: modules {}..{} have no keys; critpt expects a Linear or BatchNorm1d first and at most one activation between layers",
                i - gap,
                i - 1
            )));
        }
        if gap == 1 {
            let a = act.ok_or_else(|| {
                Error::Data(format!(
                    "{source}: module {} is an activation but the file does not name it; give the activation ({})",
                    i - 1,
                    Activation::NAMES
                ))
            })?;
            layers.push(Layer::Activation(a));
        }
        prev = Some(i);
        let get = |name: &str| -> Result<&TensorView<'_>> {
            tensors
                .get(name)
                .ok_or_else(|| Error::Data(format!("{source}: missing key '{i}.{name}'")))
        };
        let shape_err = |name: &str, want: String, got: &[usize]| {
            Error::Data(format!(
                "{source}: '{i}.{name}' has shape {got:?}, expected {want}"
            ))
        };
        let w = get("weight")?;
        let b = get("bias")?;
        if tensors.contains_key("running_mean") {
            let n = w.shape().first().copied().unwrap_or(0);
            for name in ["weight", "bias", "running_mean", "running_var"] {
                let t = get(name)?;
                if t.shape() != [n] {
                    return Err(shape_err(name, format!("[{n}]"), t.shape()));
                }
            }
            let mut state = BatchNormState::new(n);
            state.running_mean =
                floats(source, &format!("{i}.running_mean"), get("running_mean")?)?;
            state.running_var = floats(source, &format!("{i}.running_var"), get("running_var")?)?;
            crate::error::ensure_finite(
                &format!("{source}: '{i}.running_mean'"),
                &state.running_mean,
            )?;
            if let Some(k) = state
                .running_var
                .iter()
                .position(|v| !(*v >= 0.0 && v.is_finite()))
            {
                return Err(Error::Data(format!(
                    "{source}: '{i}.running_var' entry {} is {}; a running variance must be finite and non-negative",
                    k + 1,
                    state.running_var[k]
                )));
            }
            if let Some(t) = tensors.get("num_batches_tracked") {
                if t.dtype() != Dtype::I64 || t.data().len() != 8 {
                    return Err(Error::Data(format!(
                        "{source}: '{i}.num_batches_tracked' must be one int64, got {:?} {:?}",
                        t.dtype(),
                        t.shape()
                    )));
                }
                state.num_batches_tracked =
                    i64::from_le_bytes(t.data().try_into().expect("8 bytes"));
            }
            params.extend(floats(source, &format!("{i}.weight"), w)?);
            params.extend(floats(source, &format!("{i}.bias"), b)?);
            layers.push(Layer::BatchNorm { n, state });
        } else {
            if tensors.len() != 2 {
                return Err(Error::Data(format!(
                    "{source}: module {i} has keys {:?}; a Linear has weight and bias, a BatchNorm1d also running_mean and running_var",
                    tensors.keys().collect::<Vec<_>>()
                )));
            }
            let (n_out, n_in) = match w.shape() {
                [o, n] => (*o, *n),
                s => return Err(shape_err("weight", "[out, in]".into(), s)),
            };
            if b.shape() != [n_out] {
                return Err(shape_err("bias", format!("[{n_out}]"), b.shape()));
            }
            params.extend(floats(source, &format!("{i}.weight"), w)?);
            params.extend(floats(source, &format!("{i}.bias"), b)?);
            layers.push(Layer::Linear { n_in, n_out });
        }
    }
    crate::error::ensure_finite("model parameters", &params)?;
    let model =
        Mlp::from_parts(layers, params).map_err(|e| Error::Data(format!("{source}: {e}")))?;
    let standardization = match (
        metadata.get("standardize_mean"),
        metadata.get("standardize_std"),
    ) {
        (Some(m), Some(sd)) => {
            let parse = |t: &str| -> Result<Vec<f64>> {
                serde_json::from_str(t)
                    .map_err(|e| Error::Data(format!("{source}: metadata standardization: {e}")))
            };
            Some(Standardization {
                mean: parse(m)?,
                std: parse(sd)?,
            })
        }
        _ => None,
    };
    let data = match metadata.get("data") {
        None => None,
        Some(spec) => Some(DataOrigin {
            spec: spec.clone(),
            seed: match metadata.get("data_seed") {
                None => None,
                Some(t) => Some(t.parse::<u64>().map_err(|_| {
                    Error::Data(format!("{source}: metadata data_seed '{t}' is not a seed"))
                })?),
            },
            fingerprint: metadata.get("data_fingerprint").cloned(),
            target: metadata
                .get("data_target")
                .map(|t| t.split(',').map(str::to_string).collect()),
        }),
    };
    if let Some(st) = &standardization {
        if st.mean.len() != st.std.len() || st.std.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
            return Err(Error::Data(format!(
                "{source}: metadata standardization needs as many means as positive finite standard deviations"
            )));
        }
        crate::error::ensure_finite(&format!("{source}: metadata standardize_mean"), &st.mean)?;
    }
    Ok(ModelFile {
        model,
        activation: act,
        loss,
        standardization,
        data,
        metadata,
    })
}

/// The bytes of a model file: every tensor f64 (`num_batches_tracked` int64), PyTorch keys,
/// `activation`, `loss` and the standardization (JSON lists) in the metadata.
///
/// # Errors
/// [`Error::Data`] if serialization fails.
pub fn model_bytes(
    model: &Mlp,
    loss: Option<LossKind>,
    standardization: Option<&Standardization>,
) -> Result<Vec<u8>> {
    model_bytes_with(
        model,
        &ModelInfo {
            loss,
            standardization: standardization.cloned(),
            data: None,
        },
    )
}

/// The bytes of a model file with everything `info` records in the metadata. Header keys are
/// sorted and tensors laid out in key order, so the same model and info give the same bytes.
///
/// # Errors
/// [`Error::Data`] if serialization fails.
pub fn model_bytes_with(model: &Mlp, info: &ModelInfo) -> Result<Vec<u8>> {
    let f64s = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let offsets = model.offsets();
    for (i, l) in model.layers.iter().enumerate() {
        let p = &model.params[offsets[i]..offsets[i] + l.n_params()];
        match l {
            Layer::Linear { n_in, n_out } => {
                let nw = n_in * n_out;
                entries.push((
                    format!("{i}.weight"),
                    Dtype::F64,
                    vec![*n_out, *n_in],
                    f64s(&p[..nw]),
                ));
                entries.push((
                    format!("{i}.bias"),
                    Dtype::F64,
                    vec![*n_out],
                    f64s(&p[nw..]),
                ));
            }
            Layer::BatchNorm { n, state } => {
                entries.push((format!("{i}.weight"), Dtype::F64, vec![*n], f64s(&p[..*n])));
                entries.push((format!("{i}.bias"), Dtype::F64, vec![*n], f64s(&p[*n..])));
                entries.push((
                    format!("{i}.running_mean"),
                    Dtype::F64,
                    vec![*n],
                    f64s(&state.running_mean),
                ));
                entries.push((
                    format!("{i}.running_var"),
                    Dtype::F64,
                    vec![*n],
                    f64s(&state.running_var),
                ));
                entries.push((
                    format!("{i}.num_batches_tracked"),
                    Dtype::I64,
                    vec![],
                    state.num_batches_tracked.to_le_bytes().to_vec(),
                ));
            }
            Layer::Activation(_) => {}
        }
    }
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    meta.insert("producer".to_string(), "critpt".to_string());
    if let Some(a) = model.activation() {
        meta.insert("activation".to_string(), a.name().to_string());
    }
    if let Some(l) = info.loss {
        meta.insert("loss".to_string(), l.name().to_string());
    }
    if let Some(st) = &info.standardization {
        let js = |v: &[f64]| serde_json::to_string(v).unwrap_or_default();
        meta.insert("standardize_mean".to_string(), js(&st.mean));
        meta.insert("standardize_std".to_string(), js(&st.std));
    }
    if let Some(d) = &info.data {
        meta.insert("data".to_string(), d.spec.clone());
        if let Some(seed) = d.seed {
            meta.insert("data_seed".to_string(), seed.to_string());
        }
        if let Some(f) = &d.fingerprint {
            meta.insert("data_fingerprint".to_string(), f.clone());
        }
        if let Some(t) = &d.target {
            meta.insert("data_target".to_string(), t.join(","));
        }
    }
    Ok(serialize_sorted(entries, &meta))
}

/// The safetensors layout: an 8-byte little-endian header length, the JSON header (padded
/// with spaces to a multiple of 8 bytes), the tensors' bytes. Keys are written in sorted order
/// and the tensors laid out in that order, so the bytes depend only on the contents.
fn serialize_sorted(
    entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
    meta: &BTreeMap<String, String>,
) -> Vec<u8> {
    let sorted: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = entries
        .into_iter()
        .map(|(k, d, s, b)| (k, (d, s, b)))
        .collect();
    let quote = |t: &str| serde_json::to_string(t).unwrap_or_default();
    let mut header = String::from("{");
    let meta_fields: Vec<String> = meta
        .iter()
        .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
        .collect();
    header.push_str(&format!("\"__metadata__\":{{{}}}", meta_fields.join(",")));
    let mut offset = 0usize;
    for (key, (dtype, shape, bytes)) in &sorted {
        let dtype = match dtype {
            Dtype::I64 => "I64",
            _ => "F64",
        };
        let shape: Vec<String> = shape.iter().map(usize::to_string).collect();
        header.push_str(&format!(
            ",{}:{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            quote(key),
            shape.join(","),
            offset + bytes.len()
        ));
        offset += bytes.len();
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (_, _, bytes) in sorted.values() {
        out.extend_from_slice(bytes);
    }
    out
}

/// Writes `model` to `path` (see [`model_bytes`]).
///
/// # Errors
/// [`Error::Io`] when the file cannot be written.
pub fn save_model(
    path: &Path,
    model: &Mlp,
    loss: Option<LossKind>,
    standardization: Option<&Standardization>,
) -> Result<()> {
    let bytes = model_bytes(model, loss, standardization)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Writes `model` with everything `info` records (see [`model_bytes_with`]).
///
/// # Errors
/// [`Error::Io`] when the file cannot be written.
pub fn save_model_with(path: &Path, model: &Mlp, info: &ModelInfo) -> Result<()> {
    let bytes = model_bytes_with(model, info)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}
