//! Decoding an ONNX file: prost's decoder over the types generated from the official
//! `onnx.proto` (`schema.rs`), behind the checks a hostile file needs, and the few readings of
//! those types the importer shares (attributes by name, declared dimensions, the opset).
//!
//! prost checks every length against the bytes left, accepts repeated numbers packed or not,
//! skips unknown fields and refuses nesting deeper than 100 messages, so a truncated or garbage
//! file is an error. What it cannot bound is the memory of many tiny messages (two bytes of
//! file can become a struct of over a kilobyte), so [`decode_model`] first bounds it from the
//! wire format alone and refuses a file whose messages could pass [`MAX_DECODED_BYTES`].

use super::schema;
pub(crate) use schema::tensor_proto::DataLocation;
pub(crate) use schema::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto,
};

use crate::error::{Error, Result};
use prost::Message;

/// The most memory the decoded messages (not counting the bytes they copy from the file) may
/// take by the bound of `decoded_size`: about 1.3 million messages, far above the models critpt
/// analyses (the fixtures bound below 1 MiB), far below what would abort the process.
pub(crate) const MAX_DECODED_BYTES: usize = 4 << 30;

/// Protobuf's limit on one message (2 GiB − 1): ONNX's exporters move the weights of larger
/// models to external files.
pub(crate) const MAX_FILE_BYTES: usize = (1 << 31) - 1;

fn bad(what: &str) -> Error {
    Error::Data(format!("not a valid ONNX file: {what}"))
}

/// Refuses a file longer than [`MAX_FILE_BYTES`], which no protobuf message can be.
///
/// # Errors
/// The file is too long.
pub(crate) fn check_file_size(len: u64) -> Result<()> {
    if len > MAX_FILE_BYTES as u64 {
        return Err(bad(&format!(
            "{len} bytes, more than protobuf's limit of 2 GiB (larger models keep their weights in external files, which critpt does not read)"
        )));
    }
    Ok(())
}

/// Parses a whole model file: a `ModelProto` with an `ir_version` and a graph.
///
/// # Errors
/// Malformed protobuf, a file that would decode to more than [`MAX_DECODED_BYTES`], or no
/// `ir_version` or graph.
pub(crate) fn decode_model(bytes: &[u8]) -> Result<ModelProto> {
    check_file_size(bytes.len() as u64)?;
    let estimate = decoded_size(bytes, 0);
    if estimate > MAX_DECODED_BYTES {
        return Err(bad(&format!(
            "its messages would take about {} MiB in memory, more than the {} MiB allowed (a file of {} bytes)",
            estimate >> 20,
            MAX_DECODED_BYTES >> 20,
            bytes.len()
        )));
    }
    let model = ModelProto::decode(bytes).map_err(|e| bad(&e.to_string()))?;
    if model.ir_version.is_none() {
        return Err(bad("no ir_version (is this an ONNX model?)"));
    }
    if model.graph.is_none() {
        return Err(bad("no graph"));
    }
    Ok(model)
}

/// The version of the default (`ai.onnx`) operator set the model imports, if it names one.
pub(crate) fn default_opset(model: &ModelProto) -> Option<i64> {
    model
        .opset_import
        .iter()
        .filter(|o| matches!(o.domain(), "" | "ai.onnx"))
        .filter_map(|o| o.version)
        .next_back()
}

/// Whether a tensor's data live in a separate file (not supported).
pub(crate) fn is_external(t: &TensorProto) -> bool {
    t.data_location() == DataLocation::External || !t.external_data.is_empty()
}

/// A graph input's or output's dimensions, when its type declares a tensor shape; `None`
/// stands for a symbolic dimension.
pub(crate) fn value_dims(v: &ValueInfoProto) -> Option<Vec<Option<i64>>> {
    use schema::type_proto::Value;
    let Some(Value::TensorType(t)) = v.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let shape = t.shape.as_ref()?;
    Some(
        shape
            .dim
            .iter()
            .map(|d| match d.value {
                Some(schema::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
                _ => None,
            })
            .collect(),
    )
}

/// Attributes by name.
pub(crate) trait Attributes {
    /// The attribute named `name`.
    fn attr(&self, name: &str) -> Option<&AttributeProto>;
}

impl Attributes for NodeProto {
    fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.attribute.iter().find(|a| a.name() == name)
    }
}

/// The largest struct any ONNX message decodes to: the size the estimate gives every
/// length-delimited field that could be a message.
fn largest_message() -> usize {
    use schema::*;
    use std::mem::size_of;
    [
        size_of::<AttributeProto>(),
        size_of::<ValueInfoProto>(),
        size_of::<NodeProto>(),
        size_of::<IntIntListEntryProto>(),
        size_of::<NodeDeviceConfigurationProto>(),
        size_of::<ShardingSpecProto>(),
        size_of::<ShardedDimProto>(),
        size_of::<SimpleShardedDimProto>(),
        size_of::<TrainingInfoProto>(),
        size_of::<ModelProto>(),
        size_of::<DeviceConfigurationProto>(),
        size_of::<StringStringEntryProto>(),
        size_of::<TensorAnnotation>(),
        size_of::<GraphProto>(),
        size_of::<TensorProto>(),
        size_of::<tensor_proto::Segment>(),
        size_of::<SparseTensorProto>(),
        size_of::<TensorShapeProto>(),
        size_of::<tensor_shape_proto::Dimension>(),
        size_of::<TypeProto>(),
        size_of::<type_proto::Tensor>(),
        size_of::<type_proto::Sequence>(),
        size_of::<type_proto::Map>(),
        size_of::<type_proto::Optional>(),
        size_of::<type_proto::SparseTensor>(),
        size_of::<type_proto::Opaque>(),
        size_of::<OperatorSetIdProto>(),
        size_of::<FunctionProto>(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

/// Past prost's own recursion limit (100), so prost reports such nesting, not this estimate.
const MAX_DEPTH: usize = 101;

/// An upper bound, read off the wire format alone, on the memory the messages decoded from
/// `buf` take beyond the bytes they copy: a length-delimited field whose payload parses as
/// fields might be a message, and counts as the largest message struct and its contents; any
/// other field counts as a string's or vector entry's header. Each is doubled for the growth
/// of the vector holding it. Wire data that does not parse ends the count there (prost will
/// refuse it).
fn decoded_size(buf: &[u8], depth: usize) -> usize {
    let message = 2 * largest_message();
    let entry = 2 * std::mem::size_of::<Vec<u8>>();
    let mut total = 0usize;
    let mut r = Wire { buf, pos: 0 };
    while let Some(field) = r.next() {
        let size = match field {
            Some(b) if depth < MAX_DEPTH && Wire::parses(b) => {
                message.saturating_add(decoded_size(b, depth + 1))
            }
            _ => entry,
        };
        total = total.saturating_add(size);
    }
    total
}

/// The fields of one message, read without decoding.
struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Wire<'a> {
    /// Whether `buf` is a sequence of well-formed fields to its end.
    fn parses(buf: &[u8]) -> bool {
        let mut r = Wire { buf, pos: 0 };
        while r.next().is_some() {}
        r.pos == buf.len()
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn skip(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len())?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Some(s)
    }

    /// The next field: `Some(payload)` for a length-delimited one, `None` for a number or a
    /// group marker; `None` outside at the end or at a malformed field (the position then
    /// stops short of the end).
    fn next(&mut self) -> Option<Option<&'a [u8]>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let field = self.field();
        if field.is_none() {
            self.pos = start;
        }
        field
    }

    fn field(&mut self) -> Option<Option<&'a [u8]>> {
        let key = self.varint()?;
        if key >> 3 == 0 {
            return None;
        }
        match key & 7 {
            0 => self.varint().map(|_| None),
            1 => self.skip(8).map(|_| None),
            2 => {
                let n = usize::try_from(self.varint()?).ok()?;
                self.skip(n).map(Some)
            }
            3 | 4 => Some(None),
            5 => self.skip(4).map(|_| None),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field `field` holding `payload`.
    fn field(field: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for mut v in [field << 3 | 2, payload.len() as u64] {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn wire_parses_only_whole_fields() {
        assert!(Wire::parses(&[]));
        assert!(Wire::parses(&[0x08, 0x96, 0x01])); // field 1 = 150
        assert!(Wire::parses(&field(7, b"abc")));
        assert!(!Wire::parses(&[0x08, 0x96])); // truncated varint
        assert!(!Wire::parses(&[0x0a, 0x05, 1, 2])); // length past the end
        assert!(!Wire::parses(&[0x0e])); // wire type 6
        assert!(!Wire::parses(&[0x00, 0x01])); // field number 0
    }

    /// The estimate counts at least the struct of every message prost will build: `k` empty
    /// nodes in a graph are `k` `NodeProto`s in a vector.
    #[test]
    fn estimate_bounds_the_structs_of_many_empty_messages() {
        for k in [1usize, 10, 1000] {
            let graph: Vec<u8> = (0..k).flat_map(|_| field(1, &[])).collect();
            let model = [vec![0x08, 0x07], field(7, &graph)].concat();
            let decoded = ModelProto::decode(model.as_slice()).unwrap();
            let nodes = &decoded.graph.as_ref().unwrap().node;
            assert_eq!(nodes.len(), k);
            let held = nodes.capacity() * std::mem::size_of::<NodeProto>();
            assert!(decoded_size(&model, 0) >= held, "{k} nodes");
        }
    }

    /// Every model in fixtures/onnx is far inside the limit.
    #[test]
    fn fixtures_are_far_below_the_decoded_size_limit() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx");
        let mut seen = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let p = entry.unwrap().path().join("model.onnx");
            if let Ok(bytes) = std::fs::read(&p) {
                let estimate = decoded_size(&bytes, 0);
                assert!(
                    estimate < MAX_DECODED_BYTES / 100,
                    "{}: {estimate}",
                    p.display()
                );
                decode_model(&bytes).unwrap();
                seen += 1;
            }
        }
        assert!(seen >= 10, "{seen} fixtures");
    }
}
