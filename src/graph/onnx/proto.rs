//! A reader of the protobuf wire format for the parts of ONNX's `ModelProto` a graph needs:
//! opsets, nodes, attributes, initializers and the input/output value infos. Unknown fields
//! are skipped; every length and offset is checked against the buffer, so a truncated or
//! garbage file is an error.

use crate::error::{Error, Result};

fn bad(what: &str) -> Error {
    Error::Data(format!("not a valid ONNX file: {what}"))
}

/// A field's payload.
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the fields of one message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| bad("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| bad("a field runs past the end of the file (truncated?)"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| bad("field number out of range"))?;
        let w = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| bad("length out of range"))?;
                Wire::Bytes(self.take(n)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            )),
            t => return Err(bad(&format!("unsupported wire type {t}"))),
        };
        if field == 0 {
            return Err(bad("field number 0"));
        }
        Ok(Some((field, w)))
    }
}

fn bytes<'a>(w: Wire<'a>, what: &str) -> Result<&'a [u8]> {
    match w {
        Wire::Bytes(b) => Ok(b),
        _ => Err(bad(&format!("{what} has the wrong wire type"))),
    }
}

fn string(w: Wire<'_>, what: &str) -> Result<String> {
    String::from_utf8(bytes(w, what)?.to_vec()).map_err(|_| bad(&format!("{what} is not UTF-8")))
}

fn int(w: Wire<'_>, what: &str) -> Result<i64> {
    match w {
        Wire::Varint(v) => Ok(v as i64),
        _ => Err(bad(&format!("{what} has the wrong wire type"))),
    }
}

/// Repeated varints, packed or not.
fn ints(w: Wire<'_>, out: &mut Vec<i64>, what: &str) -> Result<()> {
    match w {
        Wire::Varint(v) => out.push(v as i64),
        Wire::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.pos < b.len() {
                out.push(r.varint()? as i64);
            }
        }
        _ => return Err(bad(&format!("{what} has the wrong wire type"))),
    }
    Ok(())
}

/// Repeated 32-bit floats, packed or not.
fn floats32(w: Wire<'_>, out: &mut Vec<f32>, what: &str) -> Result<()> {
    match w {
        Wire::Fixed32(v) => out.push(f32::from_bits(v)),
        Wire::Bytes(b) if b.len() % 4 == 0 => out.extend(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
        ),
        _ => return Err(bad(&format!("{what} has the wrong wire type"))),
    }
    Ok(())
}

/// Repeated 64-bit floats, packed or not.
fn floats64(w: Wire<'_>, out: &mut Vec<f64>, what: &str) -> Result<()> {
    match w {
        Wire::Fixed64(v) => out.push(f64::from_bits(v)),
        Wire::Bytes(b) if b.len() % 8 == 0 => out.extend(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
        ),
        _ => return Err(bad(&format!("{what} has the wrong wire type"))),
    }
    Ok(())
}

/// `TensorProto`: the fields of a dense tensor.
#[derive(Debug, Default, Clone)]
pub struct TensorProto {
    pub dims: Vec<i64>,
    pub data_type: i64,
    pub name: String,
    pub float_data: Vec<f32>,
    pub int32_data: Vec<i64>,
    pub int64_data: Vec<i64>,
    pub double_data: Vec<f64>,
    pub raw_data: Vec<u8>,
    /// Data stored in a separate file (not supported).
    pub external: bool,
}

impl TensorProto {
    fn parse(b: &[u8]) -> Result<TensorProto> {
        let mut t = TensorProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => ints(w, &mut t.dims, "tensor dims")?,
                2 => t.data_type = int(w, "tensor data_type")?,
                4 => floats32(w, &mut t.float_data, "float_data")?,
                5 => ints(w, &mut t.int32_data, "int32_data")?,
                7 => ints(w, &mut t.int64_data, "int64_data")?,
                8 => t.name = string(w, "tensor name")?,
                9 => t.raw_data = bytes(w, "raw_data")?.to_vec(),
                10 => floats64(w, &mut t.double_data, "double_data")?,
                14 => t.external = int(w, "data_location")? == 1,
                _ => {}
            }
        }
        Ok(t)
    }
}

/// `AttributeProto`.
#[derive(Debug, Default, Clone)]
pub struct AttributeProto {
    pub name: String,
    pub f: Option<f32>,
    pub i: Option<i64>,
    pub s: Option<Vec<u8>>,
    pub t: Option<TensorProto>,
    pub floats: Vec<f32>,
    pub ints: Vec<i64>,
}

impl AttributeProto {
    fn parse(b: &[u8]) -> Result<AttributeProto> {
        let mut a = AttributeProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => a.name = string(w, "attribute name")?,
                2 => {
                    let mut v = Vec::new();
                    floats32(w, &mut v, "attribute f")?;
                    a.f = v.first().copied();
                }
                3 => a.i = Some(int(w, "attribute i")?),
                4 => a.s = Some(bytes(w, "attribute s")?.to_vec()),
                5 => a.t = Some(TensorProto::parse(bytes(w, "attribute t")?)?),
                7 => floats32(w, &mut a.floats, "attribute floats")?,
                8 => ints(w, &mut a.ints, "attribute ints")?,
                _ => {}
            }
        }
        Ok(a)
    }
}

/// `NodeProto`.
#[derive(Debug, Default, Clone)]
pub struct NodeProto {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub attributes: Vec<AttributeProto>,
}

impl NodeProto {
    fn parse(b: &[u8]) -> Result<NodeProto> {
        let mut n = NodeProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => n.inputs.push(string(w, "node input")?),
                2 => n.outputs.push(string(w, "node output")?),
                3 => n.name = string(w, "node name")?,
                4 => n.op_type = string(w, "op_type")?,
                5 => n
                    .attributes
                    .push(AttributeProto::parse(bytes(w, "attribute")?)?),
                7 => n.domain = string(w, "node domain")?,
                _ => {}
            }
        }
        Ok(n)
    }

    /// The attribute named `name`.
    pub fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// A graph input or output: its name and, when declared, its dimensions (`None`: symbolic).
#[derive(Debug, Default, Clone)]
pub struct ValueInfo {
    pub name: String,
    pub dims: Option<Vec<Option<i64>>>,
}

impl ValueInfo {
    fn parse(b: &[u8]) -> Result<ValueInfo> {
        let mut v = ValueInfo::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => v.name = string(w, "value name")?,
                2 => v.dims = Self::type_dims(bytes(w, "value type")?)?,
                _ => {}
            }
        }
        Ok(v)
    }

    /// TypeProto → tensor_type (1) → shape (2) → dim (1) → dim_value (1) | dim_param (2).
    fn type_dims(b: &[u8]) -> Result<Option<Vec<Option<i64>>>> {
        let mut dims = None;
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            if f != 1 {
                continue;
            }
            let mut tt = Reader::new(bytes(w, "tensor type")?);
            while let Some((f, w)) = tt.next_field()? {
                if f != 2 {
                    continue;
                }
                let mut list = Vec::new();
                let mut sh = Reader::new(bytes(w, "shape")?);
                while let Some((f, w)) = sh.next_field()? {
                    if f != 1 {
                        continue;
                    }
                    let mut value = None;
                    let mut d = Reader::new(bytes(w, "dimension")?);
                    while let Some((f, w)) = d.next_field()? {
                        if f == 1 {
                            value = Some(int(w, "dim_value")?);
                        }
                    }
                    list.push(value);
                }
                dims = Some(list);
            }
        }
        Ok(dims)
    }
}

/// `GraphProto`.
#[derive(Debug, Default, Clone)]
pub struct GraphProto {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

impl GraphProto {
    fn parse(b: &[u8]) -> Result<GraphProto> {
        let mut g = GraphProto::default();
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => g.nodes.push(NodeProto::parse(bytes(w, "node")?)?),
                5 => g
                    .initializers
                    .push(TensorProto::parse(bytes(w, "initializer")?)?),
                11 => g.inputs.push(ValueInfo::parse(bytes(w, "graph input")?)?),
                12 => g.outputs.push(ValueInfo::parse(bytes(w, "graph output")?)?),
                _ => {}
            }
        }
        Ok(g)
    }
}

/// `ModelProto`: the default-domain opset and the graph.
#[derive(Debug, Default, Clone)]
pub struct ModelProto {
    pub opset: Option<i64>,
    pub graph: GraphProto,
}

impl ModelProto {
    /// Parses a whole model file.
    ///
    /// # Errors
    /// Malformed protobuf, or no graph.
    pub fn parse(b: &[u8]) -> Result<ModelProto> {
        let mut m = ModelProto::default();
        let mut graph = None;
        let mut ir_version = None;
        let mut r = Reader::new(b);
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => ir_version = Some(int(w, "ir_version")?),
                7 => graph = Some(GraphProto::parse(bytes(w, "graph")?)?),
                8 => {
                    let mut domain = String::new();
                    let mut version = None;
                    let mut o = Reader::new(bytes(w, "opset_import")?);
                    while let Some((f, w)) = o.next_field()? {
                        match f {
                            1 => domain = string(w, "opset domain")?,
                            2 => version = Some(int(w, "opset version")?),
                            _ => {}
                        }
                    }
                    if domain.is_empty() || domain == "ai.onnx" {
                        m.opset = version;
                    }
                }
                _ => {}
            }
        }
        if ir_version.is_none() {
            return Err(bad("no ir_version (is this an ONNX model?)"));
        }
        m.graph = graph.ok_or_else(|| bad("no graph"))?;
        Ok(m)
    }
}
