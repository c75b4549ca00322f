//! Checkpoint -> ONNX graph.
//!
//! The exported graph's contract (see DESIGN.md, "Contracts worth fixing early"):
//!
//! - input `lr`: `[N, 3, H, W]` f32, RGB in [0, 1], with symbolic `N`, `H`, `W`;
//! - output `sr`: `[N, 3, H_out, W_out]` f32, RGB in [0, 1], `H_out = scale * H`;
//! - BatchNorm folded into the preceding Conv; PixelShuffle as `DepthToSpace` mode CRD; PReLU
//!   as `x + (1 - a) * Relu(-x)` ([`ops::prelu_via_relu`]; the `PRelu` operator with
//!   [`ExportOptions::native_prelu`]), slopes `[C, 1, 1]`; skips as `Add`;
//! - the training input range is reached from [0, 1] by `Mul` + `Add` before the head conv (only
//!   when it is not [0, 1]; it cannot be folded into the conv exactly because of zero padding);
//! - the training output range is mapped to [0, 1] inside the tail conv, then `Clip` to [0, 1];
//! - by default ([`ExportOptions::subpixel_tail`]) the tail conv runs *before* the last pixel
//!   shuffle, on the coarse grid, rearranged exactly by [`crate::fold::subpixel_conv`]: the
//!   last stage is `Conv -> PReLU (slopes repeated per sub-pixel) -> tail Conv (12 outputs,
//!   5x5 for the 9x9 tail) -> DepthToSpace -> Clip`. Same function (to float rounding), about
//!   1.5x faster in ONNX Runtime for the paper model (BENCHMARKS.md);
//! - `metadata_props` under the keys in [`metadata`].

use std::path::{Path, PathBuf};

use prost::Message;

use crate::checkpoint::{
    atomic_write, Architecture, Checkpoint, CheckpointError, GeneratorConfig, Tensor, BODY_KERNEL,
    HEAD_TAIL_KERNEL,
};

mod rrdbnet;
mod srvgg;
use crate::fold::{
    fold_batch_norm, fold_output_range, repeat_per_subpixel, subpixel_conv, BatchNorm,
};
use crate::ops::{self, GraphBuilder};
use crate::proto::{
    Dimension, GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, ValueInfoProto,
};

/// The `metadata_props` keys of an exported model (their one home is the contract crate).
pub use srgan_contract::metadata::keys as metadata;
pub use srgan_contract::metadata::{format_range, INPUT_NAME, OUTPUT_NAME};
/// `producer_name` of exported models.
pub const PRODUCER_NAME: &str = "srgan-export";
/// `producer_version` of exported models.
pub const PRODUCER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Default ONNX opset.
pub const DEFAULT_OPSET: i64 = 17;
/// Lowest supported opset.
pub const MIN_OPSET: i64 = 13;
/// Highest supported opset.
pub const MAX_OPSET: i64 = 21;

/// Export settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// ONNX opset of the default domain, [`MIN_OPSET`]..=[`MAX_OPSET`]. Default: 17 (IR
    /// version 8). The IR version follows from the opset.
    pub opset: i64,
    /// Run the tail conv before the last pixel shuffle, on the coarse grid (see the module
    /// docs). Default: true. `false` exports the layers literally, in training order.
    pub subpixel_tail: bool,
    /// Write PReLU as the `PRelu` operator. Default: false: as `x + (1 - a) * Relu(-x)`
    /// ([`ops::prelu_via_relu`]), the same function, which ONNX Runtime runs without layout
    /// reorders and tract fuses (1.3-1.4x faster on SRVGGNetCompact, BENCHMARKS.md).
    pub native_prelu: bool,
    /// Arithmetic precision of the graph ([`crate::precision`]). Default: fp32.
    pub precision: crate::precision::Precision,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            opset: DEFAULT_OPSET,
            subpixel_tail: true,
            native_prelu: false,
            precision: crate::precision::Precision::Fp32,
        }
    }
}

impl ExportOptions {
    /// The default options at another opset.
    pub fn with_opset(opset: i64) -> Self {
        Self {
            opset,
            ..Self::default()
        }
    }
}

/// Errors when exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The checkpoint does not match its own architecture.
    #[error("invalid checkpoint")]
    InvalidCheckpoint {
        /// What was wrong.
        #[source]
        source: Box<CheckpointError>,
    },
    /// The opset is outside the supported range.
    #[error("unsupported ONNX opset {opset}: expected {min}..={max}")]
    UnsupportedOpset {
        /// Requested opset.
        opset: i64,
        /// Lowest supported.
        min: i64,
        /// Highest supported.
        max: i64,
    },
    /// Folding produced NaN or infinity (e.g. a huge `gamma / sqrt(var + eps)`).
    #[error("folding produced a non-finite value in `{tensor}`")]
    NonFinite {
        /// The folded initializer.
        tensor: String,
    },
    /// A checkpoint metadata entry would replace an exporter key with a different value.
    #[error(
        "checkpoint metadata `{key}` = `{checkpoint}` conflicts with the exported value `{exported}`"
    )]
    ConflictingMetadata {
        /// The key.
        key: String,
        /// The checkpoint's value.
        checkpoint: String,
        /// The exporter's value.
        exported: String,
    },
    /// The weights do not fit in one protobuf message (2 GiB); external data is not supported.
    #[error(
        "the model has {params} parameters, more than the {max_params} one ONNX file can hold"
    )]
    TooLarge {
        /// Parameters of the architecture.
        params: usize,
        /// The most that fit.
        max_params: usize,
    },
    /// int8 needs calibration photos, which only the command line (feature `measure`) runs.
    #[error(
        "int8 needs calibration: build the fp32 graph, then quantise it with \
         srgan_export::calibrate and srgan_export::quantize (srgan-export --precision int8 \
         --calibration DIR)"
    )]
    Int8NeedsCalibration,
    /// The model could not be written.
    #[error("writing the model failed")]
    Write {
        /// The destination.
        path: PathBuf,
        /// The underlying error (names the file).
        #[source]
        source: Box<CheckpointError>,
    },
}

/// The most parameters an exported model may hold: a protobuf message is limited to 2 GiB, and
/// weights are stored inline as f32 (external data is not written). Leaves room for the rest.
pub const MAX_PARAMS: usize = (i32::MAX as usize - (16 << 20)) / 4;

/// Checks that an architecture can be exported in one file, before any weights are allocated.
pub fn check_exportable(config: &Architecture) -> Result<(), ExportError> {
    let params: usize = config
        .param_specs()
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum();
    if params > MAX_PARAMS {
        return Err(ExportError::TooLarge {
            params,
            max_params: MAX_PARAMS,
        });
    }
    Ok(())
}

/// IR version for an opset (the ONNX versioning table).
pub fn ir_version_for_opset(opset: i64) -> i64 {
    match opset {
        ..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        _ => 10,
    }
}

/// Builds the ONNX model of a generator checkpoint.
pub fn build_model(ck: &Checkpoint, opts: &ExportOptions) -> Result<ModelProto, ExportError> {
    if opts.precision == crate::precision::Precision::Int8 {
        return Err(ExportError::Int8NeedsCalibration);
    }
    if !(MIN_OPSET..=MAX_OPSET).contains(&opts.opset) {
        return Err(ExportError::UnsupportedOpset {
            opset: opts.opset,
            min: MIN_OPSET,
            max: MAX_OPSET,
        });
    }
    check_exportable(&ck.config)?;
    ck.validate(Path::new("checkpoint"))
        .map_err(|e| ExportError::InvalidCheckpoint {
            source: Box::new(e),
        })?;
    let mut g = GraphBuilder::new();
    g.native_prelu = opts.native_prelu;
    let lr_range = ck.config.lr_range();
    let x = if lr_range == [0.0, 1.0] {
        INPUT_NAME.to_string()
    } else {
        input_range(&mut g, INPUT_NAME, lr_range)
    };
    let y = match &ck.config {
        Architecture::SrResNet(cfg) => srresnet(&mut g, ck, cfg, &x, opts)?,
        Architecture::RrdbNet(cfg) => rrdbnet::graph(&mut g, ck, cfg, &x)?,
        Architecture::SrVggCompact(cfg) => srvgg::graph(&mut g, ck, cfg, &x)?,
    };
    output_clip(&mut g, &y);

    let weights = ck
        .extra_metadata
        .get(metadata::WEIGHTS)
        .map(String::as_str)
        .unwrap_or("trained checkpoint");
    let s = ck.config.scale();
    let doc = match &ck.config {
        // Unchanged since the first export, so that re-exported models stay byte-identical.
        Architecture::SrResNet(cfg) => format!(
            "SRGAN generator (SRResNet, Ledig et al. arXiv 1609.04802): {} residual blocks of {} \
             channels, x{}. Input `{INPUT_NAME}` [N,3,H,W] RGB in [0,1]; output `{OUTPUT_NAME}` \
             [N,3,{s}H,{s}W] RGB in [0,1]. BatchNorm folded; weights: {weights}.",
            cfg.blocks, cfg.channels, cfg.scale,
        ),
        other => format!(
            "Super-resolution generator ({}). Input `{INPUT_NAME}` [N,3,H,W] RGB in [0,1]; \
             output `{OUTPUT_NAME}` [N,3,{s}H,{s}W] RGB in [0,1]. Weights: {weights}.",
            other.describe(),
        ),
    };
    let graph = GraphProto {
        node: g.nodes,
        name: "srgan_generator".into(),
        initializer: g.initializers,
        doc_string: doc.clone(),
        input: vec![ValueInfoProto::f32_tensor(
            INPUT_NAME,
            vec![
                Dimension::symbol("N"),
                Dimension::fixed(3),
                Dimension::symbol("H"),
                Dimension::symbol("W"),
            ],
        )],
        output: vec![ValueInfoProto::f32_tensor(
            OUTPUT_NAME,
            vec![
                Dimension::symbol("N"),
                Dimension::fixed(3),
                Dimension::symbol("H_out"),
                Dimension::symbol("W_out"),
            ],
        )],
        ..Default::default()
    };
    let mut model = ModelProto {
        ir_version: ir_version_for_opset(opts.opset),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opts.opset,
        }],
        producer_name: PRODUCER_NAME.into(),
        producer_version: PRODUCER_VERSION.into(),
        doc_string: doc,
        graph: Some(graph),
        metadata_props: metadata_props(ck)?,
        ..Default::default()
    };
    if opts.precision == crate::precision::Precision::Fp16 {
        crate::precision::to_fp16(&mut model);
    }
    Ok(model)
}

/// Exports a checkpoint to ONNX bytes.
pub fn export_onnx(ck: &Checkpoint, opts: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    Ok(build_model(ck, opts)?.encode_to_vec())
}

/// Exports a checkpoint to an ONNX file, atomically (temporary file, then rename). Replaces an
/// existing file: callers that must not overwrite check first.
pub fn write_onnx(ck: &Checkpoint, path: &Path, opts: &ExportOptions) -> Result<(), ExportError> {
    write_model(&build_model(ck, opts)?, path)
}

/// Writes a built model atomically.
pub fn write_model(model: &ModelProto, path: &Path) -> Result<(), ExportError> {
    atomic_write(path, &model.encode_to_vec()).map_err(|e| ExportError::Write {
        path: path.into(),
        source: Box::new(e),
    })
}

/// Node and parameter counts of a model, for summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSummary {
    /// Number of nodes.
    pub ops: usize,
    /// Number of initializer elements (more than the checkpoint's trainable parameters when
    /// the tail is rearranged: its coarse-grid kernel holds zeros).
    pub params: usize,
}

/// Counts the nodes and initializer elements of a model.
pub fn summarize(model: &ModelProto) -> ModelSummary {
    let g = model.graph.as_ref();
    ModelSummary {
        ops: g.map_or(0, |g| g.node.len()),
        params: g.map_or(0, |g| {
            g.initializer
                .iter()
                .map(|t| t.dims.iter().product::<i64>() as usize)
                .sum()
        }),
    }
}

/// SRResNet's graph from `x` (the input in the training range) to the value before the
/// output clip; see the module docs.
fn srresnet(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    cfg: &GeneratorConfig,
    x: &str,
    opts: &ExportOptions,
) -> Result<String, ExportError> {
    let head = head(g, ck, x)?;
    let mut y = head.clone();
    for i in 0..cfg.blocks {
        y = residual_block(g, ck, i, &y)?;
    }
    y = trunk(g, ck, &y, &head)?;
    let stages = cfg.upsample_stages();
    for j in 0..stages {
        y = if opts.subpixel_tail && j + 1 == stages {
            upsample_before_shuffle(g, ck, j, &y)
        } else {
            upsample(g, ck, j, &y)?
        };
    }
    let y = if opts.subpixel_tail {
        tail_subpixel(g, ck, &y)?
    } else {
        tail(g, ck, &y)?
    };
    Ok(y)
}

fn metadata_props(ck: &Checkpoint) -> Result<Vec<StringStringEntryProto>, ExportError> {
    let mut ours = srgan_contract::metadata::architecture_props(&ck.config);
    ours.push((
        metadata::PRODUCER,
        format!("{PRODUCER_NAME} {PRODUCER_VERSION}"),
    ));
    let mut props: Vec<StringStringEntryProto> = ours
        .iter()
        .map(|(k, v)| StringStringEntryProto {
            key: k.to_string(),
            value: v.clone(),
        })
        .collect();
    for (k, v) in &ck.extra_metadata {
        match ours.iter().find(|(ok, _)| ok == k) {
            Some((_, ov)) if ov == v => {}
            Some((_, ov)) => {
                return Err(ExportError::ConflictingMetadata {
                    key: k.clone(),
                    checkpoint: v.clone(),
                    exported: ov.clone(),
                })
            }
            None => props.push(StringStringEntryProto {
                key: k.clone(),
                value: v.clone(),
            }),
        }
    }
    Ok(props)
}

pub(crate) fn tensor<'a>(ck: &'a Checkpoint, name: &str) -> &'a Tensor {
    // The checkpoint was validated against its architecture, so every name is present.
    &ck.tensors[name]
}

pub(crate) fn finite(name: &str, t: &Tensor) -> Result<(), ExportError> {
    if t.data.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(ExportError::NonFinite {
            tensor: name.into(),
        })
    }
}

fn bn_eps(ck: &Checkpoint) -> f32 {
    ck.config.as_srresnet().map_or(1e-5, |c| c.bn_eps)
}

fn batch_norm<'a>(ck: &'a Checkpoint, prefix: &str) -> BatchNorm<'a> {
    BatchNorm {
        weight: &tensor(ck, &format!("{prefix}.weight")).data,
        bias: &tensor(ck, &format!("{prefix}.bias")).data,
        mean: &tensor(ck, &format!("{prefix}.running_mean")).data,
        var: &tensor(ck, &format!("{prefix}.running_var")).data,
        eps: bn_eps(ck),
    }
}

/// A bias-free 3x3 conv (`{conv}.weight`) followed by BatchNorm `bn`, as one Conv node named
/// `conv` with initializers `{conv}.weight` and `{conv}.bias`.
fn conv_bn(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    conv: &str,
    bn: &str,
    x: &str,
) -> Result<String, ExportError> {
    let (w, b) = fold_batch_norm(
        tensor(ck, &format!("{conv}.weight")),
        None,
        batch_norm(ck, bn),
    );
    let (wn, bnm) = (format!("{conv}.weight"), format!("{conv}.bias"));
    finite(&wn, &w)?;
    finite(&bnm, &b)?;
    let doc = format!("{conv}.weight with {bn} folded in");
    let wn = g.initializer(&wn, &w, &doc);
    let bnm = g.initializer(&bnm, &b, &format!("{bn} folded into {conv}"));
    Ok(ops::conv(g, conv, x, &wn, &bnm, BODY_KERNEL))
}

/// A conv with its own bias, exported as stored.
pub(crate) fn conv_plain(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    conv: &str,
    x: &str,
    k: usize,
) -> String {
    let w = g.initializer(
        &format!("{conv}.weight"),
        tensor(ck, &format!("{conv}.weight")),
        "",
    );
    let b = g.initializer(
        &format!("{conv}.bias"),
        tensor(ck, &format!("{conv}.bias")),
        "",
    );
    ops::conv(g, conv, x, &w, &b, k)
}

/// PReLU `{prefix}` with its `[C]` slope reshaped to `[C, 1, 1]`.
pub(crate) fn prelu(g: &mut GraphBuilder, ck: &Checkpoint, prefix: &str, x: &str) -> String {
    let name = format!("{prefix}.weight");
    let t = tensor(ck, &name);
    let slope = Tensor::new(vec![t.data.len(), 1, 1], t.data.clone());
    emit_prelu(g, prefix, x, &slope, "")
}

/// PReLU `{prefix}` of `x` with `slope` (`[C, 1, 1]`): the `PRelu` operator with initializer
/// `{prefix}.weight` when [`GraphBuilder::native_prelu`], else [`ops::prelu_via_relu`] with
/// `{prefix}.one_minus_weight` and one `prelu.minus_one.{C}` shared by every PReLU of `C`
/// channels. `doc` describes the slope.
fn emit_prelu(g: &mut GraphBuilder, prefix: &str, x: &str, slope: &Tensor, doc: &str) -> String {
    let name = format!("{prefix}.weight");
    if g.native_prelu {
        let s = g.initializer(&name, slope, doc);
        return ops::prelu(g, prefix, x, &s);
    }
    let c = slope.data.len();
    let one_minus = Tensor::new(
        slope.shape.clone(),
        slope.data.iter().map(|a| 1.0 - a).collect(),
    );
    let doc = format!("1 - {name}{}{doc}", if doc.is_empty() { "" } else { "; " });
    let s = g.initializer(&format!("{prefix}.one_minus_weight"), &one_minus, &doc);
    let m1 = format!("prelu.minus_one.{c}");
    if !g.has(&m1) {
        g.initializer(&m1, &Tensor::new(vec![c, 1, 1], vec![-1.0; c]), "");
    }
    ops::prelu_via_relu(g, prefix, x, &m1, &s)
}

/// `x * (hi - lo) + lo`: the [0, 1] input to the training LR range.
pub(crate) fn input_range(g: &mut GraphBuilder, x: &str, range: [f32; 2]) -> String {
    let scale = g.scalar("input.range.scale", range[1] - range[0]);
    let shift = g.scalar("input.range.shift", range[0]);
    let y = ops::mul(g, "input.scale", x, &scale);
    ops::add(g, "input.shift", &y, &shift)
}

fn head(g: &mut GraphBuilder, ck: &Checkpoint, x: &str) -> Result<String, ExportError> {
    let y = conv_plain(g, ck, "head.conv", x, HEAD_TAIL_KERNEL);
    Ok(prelu(g, ck, "head.prelu", &y))
}

fn residual_block(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    i: usize,
    x: &str,
) -> Result<String, ExportError> {
    let p = format!("blocks.{i}");
    let y = conv_bn(g, ck, &format!("{p}.conv1"), &format!("{p}.bn1"), x)?;
    let y = prelu(g, ck, &format!("{p}.prelu"), &y);
    let y = conv_bn(g, ck, &format!("{p}.conv2"), &format!("{p}.bn2"), &y)?;
    Ok(ops::add(g, &format!("{p}.add"), &y, x))
}

fn trunk(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    x: &str,
    head: &str,
) -> Result<String, ExportError> {
    let y = conv_bn(g, ck, "trunk.conv", "trunk.bn", x)?;
    Ok(ops::add(g, "trunk.add", &y, head))
}

fn upsample(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    j: usize,
    x: &str,
) -> Result<String, ExportError> {
    let p = format!("upsample.{j}");
    let y = conv_plain(g, ck, &format!("{p}.conv"), x, BODY_KERNEL);
    let y = ops::depth_to_space(g, &format!("{p}.pixel_shuffle"), &y, 2);
    Ok(prelu(g, ck, &format!("{p}.prelu"), &y))
}

/// The last upsampling stage when the tail runs before its pixel shuffle: the conv, then
/// PReLU with each slope repeated for the 4 sub-pixels of its channel (PReLU is per channel,
/// and the CRD shuffle sends channels `4c..4c+4` to channel `c`, so it commutes this way). The
/// shuffle itself follows the tail conv ([`tail_subpixel`]).
fn upsample_before_shuffle(g: &mut GraphBuilder, ck: &Checkpoint, j: usize, x: &str) -> String {
    let p = format!("upsample.{j}");
    let y = conv_plain(g, ck, &format!("{p}.conv"), x, BODY_KERNEL);
    let name = format!("{p}.prelu.weight");
    let slope = repeat_per_subpixel(tensor(ck, &name), 2);
    emit_prelu(
        g,
        &format!("{p}.prelu"),
        &y,
        &slope,
        &format!("{name} repeated for the 4 sub-pixels: PReLU applied before the pixel shuffle"),
    )
}

/// The tail conv with the training HR range folded in, rearranged to run on the coarse grid
/// of the last upsampling stage, then that stage's pixel shuffle.
fn tail_subpixel(g: &mut GraphBuilder, ck: &Checkpoint, x: &str) -> Result<String, ExportError> {
    let range = ck.config.hr_range();
    let (w, b) = fold_output_range(
        tensor(ck, "tail.conv.weight"),
        &tensor(ck, "tail.conv.bias").data,
        range,
    );
    let (w, b) = subpixel_conv(&w, &b.data, 2);
    finite("tail.conv.weight", &w)?;
    finite("tail.conv.bias", &b)?;
    let r = format_range(range);
    let k = w.shape[2];
    let wn = g.initializer(
        "tail.conv.weight",
        &w,
        &format!(
            "tail.conv.weight / (hi - lo), hr_range {r} -> [0,1]; rearranged to a {k}x{k} conv \
             before the last pixel shuffle (output channel 4o + 2i + j = sub-pixel (i, j) of o)"
        ),
    );
    let bn = g.initializer(
        "tail.conv.bias",
        &b,
        &format!("(tail.conv.bias - lo) / (hi - lo), hr_range {r} -> [0,1]; 4 copies each"),
    );
    let y = ops::conv(g, "tail.conv", x, &wn, &bn, k);
    Ok(ops::depth_to_space(g, "tail.pixel_shuffle", &y, 2))
}

/// The tail conv with the training HR range mapped to [0, 1] folded in.
fn tail(g: &mut GraphBuilder, ck: &Checkpoint, x: &str) -> Result<String, ExportError> {
    output_conv(g, ck, "tail.conv", x, HEAD_TAIL_KERNEL)
}

/// The network's last conv `name` (a `k`x`k` kernel) with the map from the training HR range
/// to [0, 1] folded into its weights and bias: every architecture ends this way.
pub(crate) fn output_conv(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    name: &str,
    x: &str,
    k: usize,
) -> Result<String, ExportError> {
    let range = ck.config.hr_range();
    let (wname, bname) = (format!("{name}.weight"), format!("{name}.bias"));
    let (w, b) = fold_output_range(tensor(ck, &wname), &tensor(ck, &bname).data, range);
    finite(&wname, &w)?;
    finite(&bname, &b)?;
    let r = format_range(range);
    let wn = g.initializer(
        &wname,
        &w,
        &format!("{wname} / (hi - lo), hr_range {r} -> [0,1]"),
    );
    let bn = g.initializer(
        &bname,
        &b,
        &format!("({bname} - lo) / (hi - lo), hr_range {r} -> [0,1]"),
    );
    Ok(ops::conv(g, name, x, &wn, &bn, k))
}

pub(crate) fn output_clip(g: &mut GraphBuilder, x: &str) -> String {
    let lo = g.scalar("output.clip.min", 0.0);
    let hi = g.scalar("output.clip.max", 1.0);
    ops::clip(g, "output.clip", x, &lo, &hi, OUTPUT_NAME)
}
