//! tract adapter: pure Rust, CPU only.
//!
//! The model is loaded and decluttered once with symbolic `N`, `H`, `W`; each concrete input
//! shape then gets its own optimized plan, built on first use and cached (symbolic shapes ran
//! about 4.7x slower here). Matrix products run on a private rayon pool of
//! [`RuntimeOptions::threads`] threads (tract-linalg's `multithread-mm`).
//!
//! Plans are built with tract's direct spatial convolution turned off (knob
//! `TRACT_DISABLE_DIRECT_SPATIAL`; set that variable to `0` to turn it back on): tract picks it
//! for every 3x3 64-channel convolution of this model, and it made the paper model 1.3x (64x64)
//! to 1.8x (128x128) slower than im2col and a matrix product (BENCHMARKS.md).
//!
//! `PRelu` nodes are rewritten before tract sees them ([`prelu_as_max`]): tract runs `PRelu` as
//! three element-wise passes (a comparison, a per-channel multiply and a select), a quarter of
//! the paper model's time (280 of 1150 ms single-threaded at 128x128). With every slope
//! `s <= 1`, `PRelu(x) = max(x, s * x)` exactly, two passes; laid out `[1, C, 1, 1]` rather than
//! `[C, 1, 1]` the slope also takes tract's fast per-channel multiply (tract gives a `[C, 1, 1]`
//! constant its leading axis with non-contiguous strides, which sends the multiply to the
//! generic broadcast: 195 ms instead of 38 ms). All `PRelu`s together went from 280 to 53 ms;
//! srgan-bench, paper model, 2 threads, p50: 64x64 0.15 s to 0.11 s, 128x128 0.65 s to 0.50 s.
//!
//! An fp16 model with an f32 interface (`srgan-export --precision fp16`) is computed in f32
//! ([`f16_as_f32`]): its f16 weights widened exactly, its casts to f16 made casts to f32.
//! tract's f16 arithmetic has no SIMD kernels on x86: the shipped x4 model in fp16 took 41 s
//! on a 448x300 photo against 0.35 s in f32 (118x).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use ndarray::{Array4, ArrayView4, Ix4};
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::knobs::KnobScope;
use tract_onnx::tract_hir::infer::Factoid;

use crate::{
    check_input, check_output, Device, ModelInfo, Result, RuntimeError, RuntimeOptions, Upscaler,
};

const RUNTIME: &str = "tract";

type Plan = Arc<TypedRunnableModel>;

/// A model running in tract.
pub struct TractUpscaler {
    decluttered: TypedModel,
    symbols: [Symbol; 3],
    plans: HashMap<[usize; 4], Plan>,
    executor: Executor,
    info: ModelInfo,
    scale: usize,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for TractUpscaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractUpscaler")
            .field("path", &self.path)
            .field("scale", &self.scale)
            .field("plans", &self.plans.len())
            .finish()
    }
}

/// The most elements a tensor of the model file may declare, or a `ConstantOfShape` node may
/// ask for from a constant shape: 2^28 (1 GiB of f32). tract builds such tensors while it
/// optimises the model, and an allocation it cannot get aborts the process, so a crafted model
/// is refused before tract sees it.
pub const MAX_CONSTANT_ELEMENTS: u128 = 1 << 28;

/// The values of an INT64 tensor stored in the file.
fn int64_values(t: &pb::TensorProto) -> Option<Vec<i64>> {
    const INT64: i32 = 7;
    if !t.int64_data.is_empty() {
        return Some(t.int64_data.clone());
    }
    (t.data_type == INT64 && t.raw_data.len().is_multiple_of(8)).then(|| {
        t.raw_data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect()
    })
}

/// The element count of a shape, saturating; a negative dimension counts as 0.
fn elements(dims: &[i64]) -> u128 {
    dims.iter()
        .map(|&d| u128::try_from(d).unwrap_or(0))
        .fold(1u128, |a, d| a.saturating_mul(d))
}

/// The first tensor of `model` over [`MAX_CONSTANT_ELEMENTS`]: an initializer's declared
/// shape, or the constant shape a `ConstantOfShape` node asks for. `(what, elements)`.
pub fn oversized_constant(model: &pb::ModelProto) -> Option<(String, u128)> {
    let graph = model.graph.as_ref()?;
    for t in &graph.initializer {
        let n = elements(&t.dims);
        if n > MAX_CONSTANT_ELEMENTS {
            return Some((format!("initializer `{}`", t.name), n));
        }
    }
    let constant_shape = |name: &str| -> Option<Vec<i64>> {
        if let Some(t) = graph.initializer.iter().find(|t| t.name == name) {
            return int64_values(t);
        }
        let node = graph
            .node
            .iter()
            .find(|n| n.op_type == "Constant" && n.output.iter().any(|o| o == name))?;
        node.attribute
            .iter()
            .find(|a| a.name == "value")
            .and_then(|a| a.t.as_ref())
            .and_then(int64_values)
    };
    for node in &graph.node {
        if node.op_type != "ConstantOfShape" {
            continue;
        }
        let Some(shape) = node.input.first().and_then(|i| constant_shape(i)) else {
            continue;
        };
        let n = elements(&shape);
        if n > MAX_CONSTANT_ELEMENTS {
            return Some((format!("ConstantOfShape node `{}`", node.name), n));
        }
    }
    None
}

/// The knobs plans are built under: [`DIRECT_SPATIAL_KNOB`] on (direct spatial convolution
/// off) unless the environment sets it.
fn knobs() -> TractResult<KnobScope> {
    if std::env::var_os(DIRECT_SPATIAL_KNOB).is_some() {
        return KnobScope::new([]);
    }
    KnobScope::new([(DIRECT_SPATIAL_KNOB, "true")])
}

/// tract's knob that turns its direct spatial convolution off.
const DIRECT_SPATIAL_KNOB: &str = "TRACT_DISABLE_DIRECT_SPATIAL";

/// Makes an fp16 graph with an f32 input and output compute in f32: every f16 initializer
/// (`raw_data`, or `int32_data` holding the bits) becomes f32, exactly, and every `Cast` to
/// f16 a `Cast` to f32. Returns how many initializers were widened; a graph whose input or
/// output is not f32, or that has no f16 initializer, is left as it is.
pub fn f16_as_f32(model: &mut pb::ModelProto) -> usize {
    const F16: i32 = pb::tensor_proto::DataType::Float16 as i32;
    const F32: i32 = pb::tensor_proto::DataType::Float as i32;
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let elem = |v: &pb::ValueInfoProto| match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t.elem_type,
        _ => 0,
    };
    let f32_interface = graph
        .input
        .iter()
        .chain(&graph.output)
        .all(|v| elem(v) == F32);
    if !f32_interface || !graph.initializer.iter().any(|t| t.data_type == F16) {
        return 0;
    }
    let mut widened = 0;
    for t in &mut graph.initializer {
        if t.data_type != F16
            || t.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
        {
            continue;
        }
        let bits: Vec<u16> = if t.raw_data.is_empty() {
            t.int32_data.iter().map(|v| *v as u16).collect()
        } else {
            t.raw_data
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect()
        };
        t.raw_data = bits
            .iter()
            .flat_map(|b| half::f16::from_bits(*b).to_f32().to_le_bytes())
            .collect();
        t.int32_data.clear();
        t.data_type = F32;
        widened += 1;
    }
    for n in &mut graph.node {
        if n.op_type == "Cast" {
            for a in &mut n.attribute {
                if a.name == "to" && a.i == i64::from(F16) {
                    a.i = i64::from(F32);
                }
            }
        }
    }
    widened
}

/// Rewrites each `PRelu(x, s)` of `model`'s main graph whose slope `s` is an f32 initializer with
/// every value `<= 1` into `Max(x, Mul(x, s'))`, which is the same function (`x >= 0`: `s * x <=
/// x`; `x < 0`: `s * x >= x`) and runs faster in tract. `s'` is `s` laid out `[1, C, 1, 1]`, a
/// new initializer: a `[C, 1, 1]` slope is taken to be per channel of a rank-4 NCHW activation,
/// as in the image models opened here (their input must be `[N, 3, H, W]`). Returns how many
/// nodes were rewritten.
///
/// Left alone: a slope with a value `> 1` (or NaN), one that is not an initializer, is not f32,
/// is stored outside the file or is not shaped `[C, 1, 1]`, `[1, C, 1, 1]` or all ones; every
/// node of a model before opset 8 (no broadcasting `Max`).
pub fn prelu_as_max(model: &mut pb::ModelProto) -> usize {
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version);
    let Some(graph) = model.graph.as_mut().filter(|_| opset >= 8) else {
        return 0;
    };
    let mut names: std::collections::HashSet<String> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().chain(&n.output))
        .chain(graph.initializer.iter().map(|t| &t.name))
        .chain(graph.input.iter().chain(&graph.output).map(|v| &v.name))
        .cloned()
        .collect();
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut rewritten = 0;
    for node in std::mem::take(&mut graph.node) {
        let is_prelu = node.op_type == "PRelu"
            && (node.domain.is_empty() || node.domain == "ai.onnx")
            && node.input.len() == 2
            && node.output.len() == 1;
        let slope = is_prelu
            .then(|| graph.initializer.iter().find(|t| t.name == node.input[1]))
            .flatten()
            .and_then(slope_as_nchw);
        let y = node.output.first().cloned().unwrap_or_default();
        let (s, m) = (format!("{y}.prelu_slope"), format!("{y}.prelu_mul"));
        let Some(mut slope) = slope.filter(|_| !names.contains(&s) && !names.contains(&m)) else {
            nodes.push(node);
            continue;
        };
        slope.name = s.clone();
        graph.initializer.push(slope);
        let x = node.input[0].clone();
        nodes.push(pb::NodeProto {
            input: vec![x.clone(), s.clone()],
            output: vec![m.clone()],
            name: m.clone(),
            op_type: "Mul".into(),
            ..Default::default()
        });
        // The `PRelu` node becomes the `Max`: same name, same output.
        nodes.push(pb::NodeProto {
            input: vec![x, m.clone()],
            op_type: "Max".into(),
            ..node
        });
        names.extend([s, m]);
        rewritten += 1;
    }
    graph.node = nodes;
    rewritten
}

/// `t` laid out `[1, C, 1, 1]` (all-ones shapes kept as they are) when it is an f32 slope held
/// in the file with every value `<= 1` and a per-channel or scalar shape; else `None`.
fn slope_as_nchw(t: &pb::TensorProto) -> Option<pb::TensorProto> {
    const EXTERNAL: i32 = pb::tensor_proto::DataLocation::External as i32;
    if t.data_type != pb::tensor_proto::DataType::Float as i32 || t.data_location == Some(EXTERNAL)
    {
        return None;
    }
    let values: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let count = t.dims.iter().product::<i64>();
    if values.len() as i64 != count || !values.iter().all(|v| *v <= 1.0) {
        return None;
    }
    let dims = match t.dims[..] {
        [c, 1, 1] | [1, c, 1, 1] => vec![1, c, 1, 1],
        _ if t.dims.iter().all(|d| *d == 1) => t.dims.clone(),
        _ => return None,
    };
    Some(pb::TensorProto { dims, ..t.clone() })
}

impl TractUpscaler {
    /// Loads and declutters `model`. Only [`Device::Cpu`] is supported.
    pub fn open(model: &Path, opts: &RuntimeOptions) -> Result<Self> {
        if opts.device != Device::Cpu {
            return Err(RuntimeError::UnsupportedDevice {
                runtime: RUNTIME,
                device: opts.device.to_string(),
                supported: "cpu",
            });
        }
        let info = crate::read_model_info(model)?;
        let load = |e: anyhow::Error| RuntimeError::ModelLoad {
            path: model.into(),
            source: e.into(),
        };
        let onnx = tract_onnx::onnx();
        let mut proto = onnx.proto_model_for_path(model).map_err(load)?;
        if let Some((what, n)) = oversized_constant(&proto) {
            return Err(RuntimeError::InvalidModel {
                path: model.into(),
                reason: format!(
                    "its {what} holds {n} elements, over the {MAX_CONSTANT_ELEMENTS} this \
                     runtime builds"
                ),
            });
        }
        f16_as_f32(&mut proto);
        prelu_as_max(&mut proto);
        // As `model_for_path`: external data is looked up next to the model.
        let parsed = onnx
            .parse(&proto, model.parent().and_then(Path::to_str))
            .map_err(load)?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(load(anyhow::anyhow!(
                "could not resolve inputs at top-level: {:?}",
                parsed.unresolved_inputs
            )));
        }
        let inference = parsed.model;
        let inputs = inference.input_outlets().map_err(load)?.len();
        if inputs != 1 {
            return Err(RuntimeError::InvalidModel {
                path: model.into(),
                reason: format!("it has {inputs} inputs, expected 1 image input"),
            });
        }
        let declared = inference.input_fact(0).map_err(load)?.clone();
        if let Some(rank) = declared.shape.rank().concretize() {
            if rank != 4 {
                return Err(RuntimeError::InvalidModel {
                    path: model.into(),
                    reason: format!(
                        "input has {rank} dimensions ({:?}), expected 4 [N, 3, H, W]",
                        declared.shape
                    ),
                });
            }
        }
        if let Some(c) = declared.shape.dim(1).and_then(|d| d.concretize()) {
            if c != 3.to_dim() {
                return Err(RuntimeError::InvalidModel {
                    path: model.into(),
                    reason: format!("input has {c} channels, expected 3 (RGB)"),
                });
            }
        }
        let n = inference.symbols.sym("N");
        let h = inference.symbols.sym("H");
        let w = inference.symbols.sym("W");
        let fact = InferenceFact::dt_shape(
            f32::datum_type(),
            tvec![n.to_dim(), 3.to_dim(), h.to_dim(), w.to_dim()],
        );
        let decluttered = inference
            .with_input_fact(0, fact)
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_decluttered())
            .map_err(load)?;
        let threads = opts.resolved_threads();
        let executor = if threads > 1 {
            Executor::multithread(threads)
        } else {
            Executor::SingleThread
        };
        let mut me = Self {
            decluttered,
            symbols: [n, h, w],
            plans: HashMap::new(),
            executor,
            scale: info.scale.unwrap_or(0),
            info,
            path: model.into(),
        };
        if me.scale == 0 {
            me.scale = crate::infer_scale(&mut me, model)?;
            // The probe's plan is of no further use.
            me.plans.clear();
        }
        Ok(me)
    }

    fn plan(&mut self, shape: [usize; 4]) -> Result<Plan> {
        if let Some(p) = self.plans.get(&shape) {
            return Ok(p.clone());
        }
        let [n, h, w] = &self.symbols;
        let subs: HashMap<Symbol, TDim> = [
            (n.clone(), (shape[0] as i64).to_dim()),
            (h.clone(), (shape[2] as i64).to_dim()),
            (w.clone(), (shape[3] as i64).to_dim()),
        ]
        .into_iter()
        .collect();
        let plan = knobs()
            .and_then(|k| {
                k.enter(|| {
                    self.decluttered
                        .set_symbols(&subs)
                        .and_then(|m| m.into_optimized())
                        .and_then(|m| m.into_runnable())
                })
            })
            .map_err(|e| RuntimeError::Inference {
                runtime: RUNTIME,
                shape: shape.to_vec(),
                source: e.context("cannot plan this shape").into(),
            })?;
        self.plans.insert(shape, plan.clone());
        Ok(plan)
    }

    /// Number of cached per-shape plans.
    pub fn cached_plans(&self) -> usize {
        self.plans.len()
    }
}

impl Upscaler for TractUpscaler {
    fn name(&self) -> &str {
        "tract-cpu"
    }

    fn scale(&self) -> usize {
        self.scale
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        check_input(&input)?;
        if input.shape()[0] > 1 {
            // tract's batched convolution path is several times slower than N single-sample
            // runs (4 x batch 1: 0.99 s, batch 4: 4.94 s here; BENCHMARKS.md), so a batch runs
            // one sample at a time through the batch-1 plan.
            let outs = input
                .outer_iter()
                .map(|x| self.upscale(x.insert_axis(ndarray::Axis(0))))
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<_> = outs.iter().map(|o| o.view()).collect();
            return ndarray::concatenate(ndarray::Axis(0), &views).map_err(|e| {
                RuntimeError::Inference {
                    runtime: RUNTIME,
                    shape: input.shape().to_vec(),
                    source: e.into(),
                }
            });
        }
        let s = input.shape();
        let shape = [s[0], s[1], s[2], s[3]];
        let plan = self.plan(shape)?;
        let fail = |e: anyhow::Error| RuntimeError::Inference {
            runtime: RUNTIME,
            shape: shape.to_vec(),
            source: e.into(),
        };
        let tensor: Tensor = input.as_standard_layout().into_owned().into_dyn().into();
        let outputs = multithread_tract_scope(self.executor.clone(), || {
            plan.run(tvec![tensor.into_tvalue()])
        })
        .map_err(fail)?;
        let out = outputs
            .into_iter()
            .next()
            .ok_or_else(|| fail(anyhow::anyhow!("the model produced no output")))?;
        let out = out.into_tensor().into_plain_array::<f32>().map_err(fail)?;
        check_output(
            RUNTIME,
            &shape,
            out.shape(),
            Some(self.scale).filter(|s| *s > 0),
        )?;
        out.into_dimensionality::<Ix4>()
            .map_err(|e| fail(anyhow::anyhow!(e)))
    }
}
