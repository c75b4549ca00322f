//! The int8 export (`srgan-export --precision int8`, issue 13): the fp32 graph rewritten
//! into ONNX's QDQ form, which ONNX Runtime fuses into integer kernels (QLinearConv,
//! QLinearAdd).
//!
//! - **Weights**: each quantised convolution's weight is stored as int8, symmetric, one scale
//!   per output channel (`max |w| / 127`), behind a `DequantizeLinear` (axis 0); its bias as
//!   int32 with the scale `x_scale * w_scale[c]` (what the integer kernels expect).
//! - **Activations**: every tensor that a quantised convolution reads or writes gets one
//!   `QuantizeLinear` -> `DequantizeLinear` pair (uint8, asymmetric), shared by all its
//!   readers, with the range measured on calibration images ([`crate::calibrate`], feature
//!   `measure`). The ops between them (PReLU, the residual adds, the pixel shuffles) see
//!   the dequantised values; ONNX Runtime runs a residual add between quantised tensors as
//!   QLinearAdd.
//! - **What stays fp32** is chosen by measurement (BENCHMARKS.md): convolutions named in
//!   [`QdqOptions::keep_fp32`] keep their f32 weights and unquantised inputs.
//!
//! This module needs no runtime: it takes the ranges as given.

use std::collections::{BTreeMap, BTreeSet};

use crate::proto::{attr_int, node, ModelProto, NodeProto, TensorProto, DATA_TYPE_FLOAT};

/// `TensorProto.DataType.UINT8`.
pub const DATA_TYPE_UINT8: i32 = 2;
/// `TensorProto.DataType.INT8`.
pub const DATA_TYPE_INT8: i32 = 3;
/// `TensorProto.DataType.INT32`.
pub const DATA_TYPE_INT32: i32 = 6;

/// Why a graph could not be quantised.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// A tensor to quantise has no calibrated range.
    #[error("tensor `{0}` has no calibrated range")]
    NoRange(String),
    /// A range is not finite.
    #[error("tensor `{tensor}` has the range [{lo}, {hi}]: not finite")]
    BadRange {
        /// The tensor.
        tensor: String,
        /// Lower end.
        lo: f32,
        /// Upper end.
        hi: f32,
    },
    /// A convolution's weight or bias is not an f32 initializer.
    #[error("convolution `{node}`: its {what} `{name}` is not an f32 initializer")]
    NotConstant {
        /// The node.
        node: String,
        /// weight or bias.
        what: &'static str,
        /// The input's name.
        name: String,
    },
    /// The graph has no body.
    #[error("the model has no graph")]
    NoGraph,
}

/// The default upper percentile of `--calibration-method percentile`.
///
/// Measured on the shipped x4 SRResNet, calibrated on its training photos and evaluated on
/// the held-out ones (MODEL_CARD.md): 99.9 clips so much that the result is refused, 99.99
/// loses 0.11 dB of PSNR-Y, minmax 0.09 dB, 99.999 0.05 dB.
pub const DEFAULT_PERCENTILE: f64 = 99.999;
/// The default least PSNR of the int8 model against fp32 on the calibration crops, dB.
pub const DEFAULT_MIN_PSNR_DB: f64 = 40.0;

/// How activation ranges are taken from the calibration values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CalibrationMethod {
    /// The `p`-th and `(100 - p)`-th percentiles of each tensor's values.
    #[default]
    Percentile,
    /// Each tensor's extremes.
    Minmax,
}

impl CalibrationMethod {
    /// `percentile 99.99` or `minmax`, for reports and the metadata.
    pub fn describe(self, percentile: f64) -> String {
        match self {
            Self::Percentile => format!("percentile {percentile}"),
            Self::Minmax => "minmax".into(),
        }
    }
}

/// What to quantise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QdqOptions {
    /// Convolutions (by node name) left in fp32.
    pub keep_fp32: BTreeSet<String>,
}

/// The quantisation parameters of an activation: `q = round(x / scale) + zero_point`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationQuant {
    /// Step between levels.
    pub scale: f32,
    /// The level of 0.0.
    pub zero_point: u8,
}

impl ActivationQuant {
    /// uint8 parameters that cover `[lo, hi]` (widened to include 0, as ONNX requires 0 to be
    /// exact).
    pub fn for_range(lo: f32, hi: f32) -> Self {
        let (lo, hi) = (lo.min(0.0), hi.max(0.0));
        let span = (hi - lo).max(1e-8);
        let scale = span / 255.0;
        let zero_point = (-lo / scale).round().clamp(0.0, 255.0) as u8;
        Self { scale, zero_point }
    }
}

/// The convolutions that will be quantised, in graph order.
pub fn quantised_convs<'a>(model: &'a ModelProto, opts: &'a QdqOptions) -> Vec<&'a NodeProto> {
    model
        .graph
        .as_ref()
        .map(|g| {
            g.node
                .iter()
                .filter(|n| n.op_type == "Conv" && !opts.keep_fp32.contains(&n.name))
                .collect()
        })
        .unwrap_or_default()
}

/// The activation tensors to calibrate: the inputs and outputs of the quantised
/// convolutions, each once, in graph order.
pub fn activation_tensors(model: &ModelProto, opts: &QdqOptions) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for n in quantised_convs(model, opts) {
        for t in [&n.input[0], &n.output[0]] {
            if seen.insert(t.clone()) {
                out.push(t.clone());
            }
        }
    }
    out
}

fn tensor(name: &str, dims: Vec<i64>, data_type: i32, raw_data: Vec<u8>) -> TensorProto {
    TensorProto {
        dims,
        data_type,
        name: name.into(),
        raw_data,
        ..Default::default()
    }
}

/// Rewrites the f32 graph into QDQ form with the calibrated `ranges` (tensor name -> [lo,
/// hi]); returns how many convolutions were quantised.
pub fn to_qdq(
    model: &mut ModelProto,
    ranges: &BTreeMap<String, (f32, f32)>,
    opts: &QdqOptions,
) -> Result<usize, QuantizeError> {
    let acts = activation_tensors(model, opts);
    let mut quant: BTreeMap<String, ActivationQuant> = BTreeMap::new();
    for t in &acts {
        let &(lo, hi) = ranges
            .get(t)
            .ok_or_else(|| QuantizeError::NoRange(t.clone()))?;
        if !lo.is_finite() || !hi.is_finite() || !(hi - lo).is_finite() {
            return Err(QuantizeError::BadRange {
                tensor: t.clone(),
                lo,
                hi,
            });
        }
        quant.insert(t.clone(), ActivationQuant::for_range(lo, hi));
    }
    let conv_names: BTreeSet<String> = quantised_convs(model, opts)
        .iter()
        .map(|n| n.name.clone())
        .collect();
    let g = model.graph.as_mut().ok_or(QuantizeError::NoGraph)?;
    let mut inits: BTreeMap<String, TensorProto> = g
        .initializer
        .drain(..)
        .map(|t| (t.name.clone(), t))
        .collect();
    let mut new_inits: Vec<TensorProto> = Vec::new();
    let dq_name = |t: &str| format!("{t}.dq");
    // Q -> DQ for one activation.
    let qdq_nodes = |t: &str, q: ActivationQuant, new_inits: &mut Vec<TensorProto>| {
        let (s, z) = (format!("{t}.q_scale"), format!("{t}.q_zero"));
        new_inits.push(tensor(
            &s,
            vec![],
            DATA_TYPE_FLOAT,
            q.scale.to_le_bytes().to_vec(),
        ));
        new_inits.push(tensor(&z, vec![], DATA_TYPE_UINT8, vec![q.zero_point]));
        let qn = format!("{t}.q");
        vec![
            node("QuantizeLinear", &[t, &s, &z], &qn, vec![]),
            node("DequantizeLinear", &[&qn, &s, &z], &dq_name(t), vec![]),
        ]
    };
    let mut nodes: Vec<NodeProto> = Vec::with_capacity(g.node.len() * 2);
    // Graph inputs first.
    for i in &g.input {
        if let Some(q) = quant.get(&i.name) {
            nodes.extend(qdq_nodes(&i.name, *q, &mut new_inits));
        }
    }
    let mut count = 0;
    for mut n in g.node.drain(..) {
        // Every reader of a quantised tensor reads its dequantised copy.
        for i in n.input.iter_mut() {
            if quant.contains_key(i.as_str()) {
                *i = dq_name(i);
            }
        }
        if conv_names.contains(&n.name) {
            let x = n.input[0].trim_end_matches(".dq").to_string();
            let xq = quant[&x];
            let w_name = n.input[1].clone();
            let w = inits
                .remove(&w_name)
                .filter(|t| t.data_type == DATA_TYPE_FLOAT)
                .ok_or_else(|| QuantizeError::NotConstant {
                    node: n.name.clone(),
                    what: "weight",
                    name: w_name.clone(),
                })?;
            let values = w.f32_values().unwrap_or_default();
            let c_out = w.dims.first().copied().unwrap_or(1).max(1) as usize;
            let per = values.len() / c_out;
            let mut scales = Vec::with_capacity(c_out);
            let mut q = Vec::with_capacity(values.len());
            for c in 0..c_out {
                let ch = &values[c * per..(c + 1) * per];
                let m = ch.iter().fold(0f32, |a, v| a.max(v.abs()));
                let s = if m > 0.0 { m / 127.0 } else { 1.0 };
                scales.push(s);
                q.extend(
                    ch.iter()
                        .map(|v| (v / s).round().clamp(-127.0, 127.0) as i8 as u8),
                );
            }
            let (wq, ws, wz) = (
                format!("{w_name}.int8"),
                format!("{w_name}.scale"),
                format!("{w_name}.zero"),
            );
            new_inits.push(tensor(&wq, w.dims.clone(), DATA_TYPE_INT8, q));
            new_inits.push(tensor(
                &ws,
                vec![c_out as i64],
                DATA_TYPE_FLOAT,
                scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
            ));
            new_inits.push(tensor(
                &wz,
                vec![c_out as i64],
                DATA_TYPE_INT8,
                vec![0; c_out],
            ));
            let wdq = format!("{w_name}.dq");
            nodes.push(node(
                "DequantizeLinear",
                &[&wq, &ws, &wz],
                &wdq,
                vec![attr_int("axis", 0)],
            ));
            n.input[1] = wdq;
            if let Some(b_name) = n.input.get(2).cloned().filter(|b| !b.is_empty()) {
                let b = inits
                    .remove(&b_name)
                    .filter(|t| t.data_type == DATA_TYPE_FLOAT)
                    .ok_or_else(|| QuantizeError::NotConstant {
                        node: n.name.clone(),
                        what: "bias",
                        name: b_name.clone(),
                    })?;
                let bv = b.f32_values().unwrap_or_default();
                let bs: Vec<f32> = scales.iter().map(|s| s * xq.scale).collect();
                let bq: Vec<u8> = bv
                    .iter()
                    .zip(&bs)
                    .flat_map(|(v, s)| {
                        ((v / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32)
                            .to_le_bytes()
                    })
                    .collect();
                let (bqn, bsn, bzn) = (
                    format!("{b_name}.int32"),
                    format!("{b_name}.scale"),
                    format!("{b_name}.zero"),
                );
                new_inits.push(tensor(&bqn, b.dims.clone(), DATA_TYPE_INT32, bq));
                new_inits.push(tensor(
                    &bsn,
                    vec![c_out as i64],
                    DATA_TYPE_FLOAT,
                    bs.iter().flat_map(|s| s.to_le_bytes()).collect(),
                ));
                new_inits.push(tensor(
                    &bzn,
                    vec![c_out as i64],
                    DATA_TYPE_INT32,
                    vec![0; 4 * c_out],
                ));
                let bdq = format!("{b_name}.dq");
                nodes.push(node(
                    "DequantizeLinear",
                    &[&bqn, &bsn, &bzn],
                    &bdq,
                    vec![attr_int("axis", 0)],
                ));
                n.input[2] = bdq;
            }
            count += 1;
        }
        let outs = n.output.clone();
        nodes.push(n);
        for o in outs {
            if let Some(q) = quant.get(&o) {
                nodes.extend(qdq_nodes(&o, *q, &mut new_inits));
            }
        }
    }
    g.node = nodes;
    g.initializer = inits.into_values().chain(new_inits).collect();
    Ok(count)
}
