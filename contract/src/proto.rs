//! The subset of the ONNX protobuf schema (`onnx/onnx.proto`, IR version 8 and later) that the
//! exporter writes and its tests read back, written by hand with `prost` derives: no
//! `prost-build`, no `protoc`.
//!
//! Field numbers are the official ones, so models written here load in every ONNX consumer and
//! models written elsewhere decode here (fields not listed are skipped on decoding). `onnx.proto`
//! is proto2: repeated scalars without `[packed = true]` are written unpacked, as there.

/// `TensorProto.DataType.FLOAT`.
pub const DATA_TYPE_FLOAT: i32 = 1;
/// `TensorProto.DataType.INT64`.
pub const DATA_TYPE_INT64: i32 = 7;

/// `AttributeProto.AttributeType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum AttributeType {
    /// Not set.
    Undefined = 0,
    /// `f`.
    Float = 1,
    /// `i`.
    Int = 2,
    /// `s`.
    String = 3,
    /// `t`.
    Tensor = 4,
    /// `g`.
    Graph = 5,
    /// `floats`.
    Floats = 6,
    /// `ints`.
    Ints = 7,
    /// `strings`.
    Strings = 8,
    /// `tensors`.
    Tensors = 9,
    /// `graphs`.
    Graphs = 10,
    /// `sparse_tensor`.
    SparseTensor = 11,
    /// `sparse_tensors`.
    SparseTensors = 12,
    /// `tp`.
    TypeProto = 13,
    /// `type_protos`.
    TypeProtos = 14,
}

/// A whole model: graph, opsets, producer and metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    /// IR version of the file format.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Operator sets the graph uses.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    /// Tool that wrote the model.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Version of that tool.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// Reverse-DNS namespace of the model.
    #[prost(string, tag = "4")]
    pub domain: String,
    /// Version of the model itself.
    #[prost(int64, tag = "5")]
    pub model_version: i64,
    /// Human-readable description.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The computation.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// Free-form key/value metadata.
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// A key/value string pair.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringEntryProto {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// An operator set a model imports.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    /// Domain; empty for the default `ai.onnx` domain.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// Opset version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// A graph: nodes in topological order, initializers, inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    /// Nodes, topologically sorted.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// Graph name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors (weights).
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// Description.
    #[prost(string, tag = "10")]
    pub doc_string: String,
    /// Graph inputs.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// Graph outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    /// Types of intermediate values (optional).
    #[prost(message, repeated, tag = "13")]
    pub value_info: Vec<ValueInfoProto>,
    /// Graph-level metadata.
    #[prost(message, repeated, tag = "16")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// One operator application.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    /// Input value names.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Output value names.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// Node name (unique in the graph).
    #[prost(string, tag = "3")]
    pub name: String,
    /// Operator, e.g. `Conv`.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// Attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    /// Description.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// Operator domain; empty for `ai.onnx`.
    #[prost(string, tag = "7")]
    pub domain: String,
    /// Function overload.
    #[prost(string, tag = "8")]
    pub overload: String,
    /// Node-level metadata.
    #[prost(message, repeated, tag = "9")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// A named attribute of a node.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    /// Attribute name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Reference to a function attribute.
    #[prost(string, tag = "21")]
    pub ref_attr_name: String,
    /// Description.
    #[prost(string, tag = "13")]
    pub doc_string: String,
    /// Which value field is in use.
    #[prost(enumeration = "AttributeType", tag = "20")]
    pub r#type: i32,
    /// Float value.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// Integer value.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// String value (UTF-8 bytes).
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    /// Tensor value.
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    /// Graph value.
    #[prost(message, optional, tag = "6")]
    pub g: Option<GraphProto>,
    /// Float list.
    #[prost(float, repeated, packed = "false", tag = "7")]
    pub floats: Vec<f32>,
    /// Integer list.
    #[prost(int64, repeated, packed = "false", tag = "8")]
    pub ints: Vec<i64>,
    /// String list.
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
    /// Tensor list.
    #[prost(message, repeated, tag = "10")]
    pub tensors: Vec<TensorProto>,
    /// Graph list.
    #[prost(message, repeated, tag = "11")]
    pub graphs: Vec<GraphProto>,
}

/// A dense tensor: initializers and tensor attributes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// Shape; empty for a scalar.
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    /// Element type (`TensorProto.DataType`), e.g. [`DATA_TYPE_FLOAT`].
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// Float values (when `raw_data` is not used).
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// Int32 (and smaller) values.
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    /// String values.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_data: Vec<Vec<u8>>,
    /// Int64 values.
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    /// Value name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// Description.
    #[prost(string, tag = "12")]
    pub doc_string: String,
    /// Values as little-endian bytes, row-major.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    /// External data location entries.
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    /// 0 = in this file, 1 = external.
    #[prost(int32, tag = "14")]
    pub data_location: i32,
    /// Double values.
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// Uint64 values.
    #[prost(uint64, repeated, tag = "11")]
    pub uint64_data: Vec<u64>,
    /// Tensor-level metadata.
    #[prost(message, repeated, tag = "16")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

impl TensorProto {
    /// The f32 values, from `raw_data` or `float_data`; `None` for another element type.
    pub fn f32_values(&self) -> Option<Vec<f32>> {
        if self.data_type != DATA_TYPE_FLOAT {
            return None;
        }
        if self.raw_data.is_empty() {
            return Some(self.float_data.clone());
        }
        Some(
            self.raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
    }
}

/// A named, typed value: graph inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    /// Value name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    /// Description.
    #[prost(string, tag = "3")]
    pub doc_string: String,
    /// Value-level metadata.
    #[prost(message, repeated, tag = "4")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// A value's type; only dense tensors are modelled here (other kinds decode as `None`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    /// The kind of type.
    #[prost(oneof = "TypeValue", tags = "1")]
    pub value: Option<TypeValue>,
    /// Denotation.
    #[prost(string, tag = "6")]
    pub denotation: String,
}

/// `TypeProto.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum TypeValue {
    /// A dense tensor.
    #[prost(message, tag = "1")]
    TensorType(TypeProtoTensor),
}

/// `TypeProto.Tensor`: element type and (possibly symbolic) shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProtoTensor {
    /// Element type (`TensorProto.DataType`).
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// Shape; absent means unknown rank.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// A tensor shape whose dimensions are numbers or symbols.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// The dimensions.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    /// A fixed size or a symbol; `None` is an unknown dimension.
    #[prost(oneof = "DimensionValue", tags = "1, 2")]
    pub value: Option<DimensionValue>,
    /// Denotation.
    #[prost(string, tag = "3")]
    pub denotation: String,
}

/// `TensorShapeProto.Dimension.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum DimensionValue {
    /// A fixed size.
    #[prost(int64, tag = "1")]
    DimValue(i64),
    /// A symbolic size, e.g. `N`.
    #[prost(string, tag = "2")]
    DimParam(String),
}

impl Dimension {
    /// A fixed dimension.
    pub fn fixed(v: i64) -> Self {
        Self {
            value: Some(DimensionValue::DimValue(v)),
            denotation: String::new(),
        }
    }

    /// A symbolic dimension.
    pub fn symbol(name: &str) -> Self {
        Self {
            value: Some(DimensionValue::DimParam(name.into())),
            denotation: String::new(),
        }
    }
}

impl ValueInfoProto {
    /// An f32 tensor value with the given dimensions.
    pub fn f32_tensor(name: &str, dims: Vec<Dimension>) -> Self {
        Self {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(TypeValue::TensorType(TypeProtoTensor {
                    elem_type: DATA_TYPE_FLOAT,
                    shape: Some(TensorShapeProto { dim: dims }),
                })),
                denotation: String::new(),
            }),
            doc_string: String::new(),
            metadata_props: Vec::new(),
        }
    }

    /// The element type and dimensions, when this is a tensor with a known rank.
    pub fn tensor_dims(&self) -> Option<(i32, &[Dimension])> {
        match self.r#type.as_ref()?.value.as_ref()? {
            TypeValue::TensorType(t) => Some((t.elem_type, t.shape.as_ref()?.dim.as_slice())),
        }
    }
}

/// An INT attribute.
pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// A FLOAT attribute.
pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

/// An INTS attribute.
pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A STRING attribute.
pub fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// A node with one output, named like it (the way the tests and the exporter name nodes).
pub fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        op_type: op.into(),
        attribute,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn field_numbers_on_the_wire() {
        // OperatorSetIdProto { domain = 1: "", version = 2: 17 } -> tag (2<<3|0)=0x10, 17.
        let b = OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }
        .encode_to_vec();
        assert_eq!(b, vec![0x10, 17]);
        // Dimension dim_param = 2 (length-delimited): (2<<3|2) = 0x12.
        assert_eq!(Dimension::symbol("N").encode_to_vec(), vec![0x12, 1, b'N']);
        // An attribute of type INT: name = 1, i = 3, type = 20 (two-byte tag 0xa0 0x01).
        let a = AttributeProto {
            name: "g".into(),
            i: 1,
            r#type: AttributeType::Int as i32,
            ..Default::default()
        };
        assert_eq!(
            a.encode_to_vec(),
            vec![0x0a, 1, b'g', 0x18, 1, 0xa0, 0x01, 2]
        );
        // Unpacked repeated ints (proto2): each element carries its own tag (8<<3|0 = 0x40).
        let a = AttributeProto {
            ints: vec![3, 3],
            ..Default::default()
        };
        assert_eq!(a.encode_to_vec(), vec![0x40, 3, 0x40, 3]);
    }

    #[test]
    fn roundtrip() {
        let m = ModelProto {
            ir_version: 8,
            graph: Some(GraphProto {
                name: "g".into(),
                input: vec![ValueInfoProto::f32_tensor(
                    "x",
                    vec![Dimension::symbol("N"), Dimension::fixed(3)],
                )],
                ..Default::default()
            }),
            ..Default::default()
        };
        let back = ModelProto::decode(m.encode_to_vec().as_slice()).unwrap();
        assert_eq!(m, back);
        let g = back.graph.unwrap();
        let (et, dims) = g.input[0].tensor_dims().unwrap();
        assert_eq!(et, DATA_TYPE_FLOAT);
        assert_eq!(dims[1], Dimension::fixed(3));
    }
}
