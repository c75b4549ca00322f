//! The arithmetic precision of an exported graph (`srgan-export --precision`, issue 13).
//!
//! - `fp32` (the default): the graph as built.
//! - `fp16`: every f32 initializer is stored as f16 (round to nearest even) except the `scales`
//!   of `Resize`, which the operator takes as f32; the first node casts the f32 input `lr` to
//!   f16 and the last casts the f16 result back to f32 as `sr`, so a runtime sees the same f32
//!   interface and `srgan-run`, `srgan-eval` and `srgan-bench` work unchanged. Meant for GPUs
//!   (CUDA, TensorRT), where f16 arithmetic is fast; ONNX Runtime's CPU provider and tract run
//!   it too. The metadata key `srgan.precision` records the choice.
//!
//! - `int8`: QDQ form with calibrated activation ranges ([`crate::quantize`],
//!   [`crate::calibrate`]); `srgan-export --precision int8 --calibration DIR`.
//!
//! Nothing changes precision unless asked: the default stays fp32.

use half::f16;

use crate::proto::{attr_int, ModelProto, NodeProto, StringStringEntryProto, DATA_TYPE_FLOAT};
use srgan_contract::metadata::{keys, INPUT_NAME, OUTPUT_NAME};

/// `TensorProto.DataType.FLOAT16`.
pub const DATA_TYPE_FLOAT16: i32 = 10;

/// The arithmetic precision of the exported graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Precision {
    /// 32-bit floats throughout (the default).
    #[default]
    Fp32,
    /// 16-bit float weights and activations, f32 input and output.
    Fp16,
    /// int8 weights (per channel) and uint8 activations in QDQ form, f32 input and output;
    /// for CPUs. Needs calibration photos ([`crate::quantize`]).
    Int8,
}

impl Precision {
    /// `fp32` or `fp16`, as in the metadata and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }
}

/// Rewrites an f32 graph built by the exporter into fp16 (see the module docs); returns how
/// many initializers were converted. The input and output keep their names and f32 type.
pub fn to_fp16(model: &mut ModelProto) -> usize {
    let Some(g) = model.graph.as_mut() else {
        return 0;
    };
    // Initializers read as Resize `scales` (input 2) stay f32.
    let keep: std::collections::BTreeSet<String> = g
        .node
        .iter()
        .filter(|n| n.op_type == "Resize")
        .filter_map(|n| n.input.get(2).cloned())
        .collect();
    let mut converted = 0;
    for t in &mut g.initializer {
        if t.data_type != DATA_TYPE_FLOAT || keep.contains(&t.name) {
            continue;
        }
        let Some(values) = t.f32_values() else {
            continue;
        };
        t.raw_data = values
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect();
        t.float_data.clear();
        t.data_type = DATA_TYPE_FLOAT16;
        converted += 1;
    }
    let (lr16, sr16) = (format!("{INPUT_NAME}.fp16"), format!("{OUTPUT_NAME}.fp16"));
    for n in &mut g.node {
        for i in &mut n.input {
            if i == INPUT_NAME {
                i.clone_from(&lr16);
            }
        }
        for o in &mut n.output {
            if o == OUTPUT_NAME {
                o.clone_from(&sr16);
            }
        }
    }
    let cast = |name: &str, from: &str, to: &str, ty: i32| NodeProto {
        input: vec![from.into()],
        output: vec![to.into()],
        name: name.into(),
        op_type: "Cast".into(),
        attribute: vec![attr_int("to", i64::from(ty))],
        ..Default::default()
    };
    g.node.insert(
        0,
        cast("input.cast_fp16", INPUT_NAME, &lr16, DATA_TYPE_FLOAT16),
    );
    g.node.push(cast(
        "output.cast_fp32",
        &sr16,
        OUTPUT_NAME,
        DATA_TYPE_FLOAT,
    ));
    model.metadata_props.retain(|p| p.key != keys::PRECISION);
    model.metadata_props.push(StringStringEntryProto {
        key: keys::PRECISION.into(),
        value: Precision::Fp16.name().into(),
    });
    converted
}
