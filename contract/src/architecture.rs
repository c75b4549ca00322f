//! The architecture description: which network a checkpoint or model holds, its
//! hyper-parameters, and what follows from them (parameter specs, receptive field, FLOPs and
//! memory per pixel).
//!
//! [`Architecture`] is a tagged type: serialised as JSON with `"arch": "srresnet"` beside the
//! hyper-parameters, so that other main modules (RRDBNet, SRVGGNetCompact, ...) become new
//! variants, not new fields. JSON written before the tag existed (no `arch` key) reads as
//! SRResNet, so every checkpoint and model exported earlier still loads.
//!
//! SRResNet (Ledig et al., arXiv 1609.04802, Fig. 4), the tensors named as in the checkpoint:
//!
//! ```text
//! head.conv (9x9, 3->C, bias) . head.prelu
//! blocks.{i}: conv1 (3x3, no bias) . bn1 . prelu . conv2 (3x3, no bias) . bn2 . (+ skip)
//! trunk.conv (3x3, no bias) . trunk.bn . (+ output of head)
//! upsample.{j}: conv (3x3, C->4C, bias) . PixelShuffle(2) . prelu      (log2(scale) times)
//! tail.conv (9x9, C->3, bias)
//! ```
//!
//! PReLU slopes are per channel, stored with shape `[C]`. Convolution weights are
//! `[O, I, kH, kW]`. The generator reads LR input in `lr_range` and produces HR output in
//! `hr_range`.

use serde::{Deserialize, Serialize};

/// Kernel size of SRResNet's head and tail convolutions.
pub const HEAD_TAIL_KERNEL: usize = 9;
/// Kernel size of every other SRResNet convolution.
pub const BODY_KERNEL: usize = 3;

/// A hyper-parameter out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid generator config: {field} = {value}: expected {expected}")]
pub struct ConfigError {
    /// The field.
    pub field: &'static str,
    /// Its value.
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

/// The architecture JSON could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchitectureError {
    /// Not JSON, an unknown `arch`, or fields that do not fit it.
    #[error("not an architecture description")]
    Json(#[source] serde_json::Error),
    /// The values are out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A generator's architecture. See the module docs for the JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch")]
pub enum Architecture {
    /// SRResNet (the SRGAN paper's generator).
    #[serde(rename = "srresnet")]
    SrResNet(GeneratorConfig),
    /// RRDBNet (ESRGAN, Real-ESRGAN), BasicSR's layout and tensor names.
    #[serde(rename = "rrdbnet")]
    RrdbNet(RrdbConfig),
    /// SRVGGNetCompact (Real-ESRGAN's `realesr-animevideov3`, `realesr-general-x4v3`).
    #[serde(rename = "srvgg_compact")]
    SrVggCompact(SrVggConfig),
}

impl Architecture {
    /// Parses the JSON of a checkpoint's or model's metadata, and validates it. JSON without
    /// an `arch` key is SRResNet (written before the tag existed).
    pub fn from_json(json: &str) -> Result<Self, ArchitectureError> {
        let mut value: serde_json::Value =
            serde_json::from_str(json).map_err(ArchitectureError::Json)?;
        if let Some(obj) = value.as_object_mut() {
            obj.entry("arch")
                .or_insert_with(|| serde_json::Value::from("srresnet"));
        }
        let arch: Self = serde_json::from_value(value).map_err(ArchitectureError::Json)?;
        arch.validate()?;
        Ok(arch)
    }

    /// The JSON stored in checkpoints and models, with its `arch` tag.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an architecture serialises")
    }

    /// The tag, e.g. `srresnet`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SrResNet(_) => "srresnet",
            Self::RrdbNet(_) => "rrdbnet",
            Self::SrVggCompact(_) => "srvgg_compact",
        }
    }

    /// The SRResNet hyper-parameters, when it is one.
    pub fn as_srresnet(&self) -> Option<&GeneratorConfig> {
        match self {
            Self::SrResNet(c) => Some(c),
            _ => None,
        }
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::SrResNet(c) => c.validate(),
            Self::RrdbNet(c) => c.validate(),
            Self::SrVggCompact(c) => c.validate(),
        }
    }

    /// The upscaling factor.
    pub fn scale(&self) -> usize {
        match self {
            Self::SrResNet(c) => c.scale,
            Self::RrdbNet(c) => c.scale,
            Self::SrVggCompact(c) => c.scale,
        }
    }

    /// Feature channels of the widest trunk layer.
    pub fn channels(&self) -> usize {
        match self {
            Self::SrResNet(c) => c.channels,
            Self::RrdbNet(c) => c.features + 4 * c.growth,
            Self::SrVggCompact(c) => c.features.max(3 * c.scale * c.scale),
        }
    }

    /// Receptive-field radius in LR pixels: a tile padded by at least this much gives the
    /// same output as the whole image.
    pub fn receptive_field_radius(&self) -> usize {
        match self {
            Self::SrResNet(c) => c.receptive_field_radius(),
            Self::RrdbNet(c) => c.receptive_field_radius(),
            Self::SrVggCompact(c) => c.receptive_field_radius(),
        }
    }

    /// Multiply-accumulates per LR pixel (batch 1); FLOPs = 2 x MACs.
    pub fn macs_per_lr_pixel(&self) -> f64 {
        match self {
            Self::SrResNet(c) => c.macs_per_lr_pixel(),
            Self::RrdbNet(c) => c.macs_per_lr_pixel(),
            Self::SrVggCompact(c) => c.macs_per_lr_pixel(),
        }
    }

    /// Estimated runtime memory per LR pixel of a window, in bytes (see
    /// [`GeneratorConfig::window_bytes_per_pixel`]).
    pub fn window_bytes_per_pixel(&self) -> Option<u64> {
        match self {
            Self::SrResNet(c) => c.window_bytes_per_pixel(),
            Self::RrdbNet(c) => c.window_bytes_per_pixel(),
            Self::SrVggCompact(c) => c.window_bytes_per_pixel(),
        }
    }

    /// The range of the LR input the network was trained on (the exported graph maps [0, 1]
    /// to it). The community's RRDBNet and SRVGGNetCompact models work in [0, 1].
    pub fn lr_range(&self) -> [f32; 2] {
        match self {
            Self::SrResNet(c) => c.lr_range,
            Self::RrdbNet(c) => c.lr_range,
            Self::SrVggCompact(c) => c.lr_range,
        }
    }

    /// The range of the HR output the network was trained to produce (the exported graph maps
    /// it to [0, 1]).
    pub fn hr_range(&self) -> [f32; 2] {
        match self {
            Self::SrResNet(c) => c.hr_range,
            Self::RrdbNet(c) => c.hr_range,
            Self::SrVggCompact(c) => c.hr_range,
        }
    }

    /// The input's height and width must be multiples of this (RRDBNet x2 / x1 fold 2x2 /
    /// 4x4 pixels into channels first); 1 for the others. Callers pad the input up to it.
    pub fn input_multiple(&self) -> usize {
        match self {
            Self::RrdbNet(c) => c.unshuffle(),
            _ => 1,
        }
    }

    /// A one-line human description, e.g. `RRDBNet 23x64 (growth 32), x4`.
    pub fn describe(&self) -> String {
        match self {
            Self::SrResNet(c) => format!("SRResNet {}x{}, x{}", c.blocks, c.channels, c.scale),
            Self::RrdbNet(c) => format!(
                "RRDBNet {}x{} (growth {}), x{}",
                c.blocks, c.features, c.growth, c.scale
            ),
            Self::SrVggCompact(c) => format!(
                "SRVGGNetCompact {}x{} ({}), x{}",
                c.convs,
                c.features,
                c.activation.name(),
                c.scale
            ),
        }
    }

    /// Every tensor of the network, in a stable order.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        match self {
            Self::SrResNet(c) => c.param_specs(),
            Self::RrdbNet(c) => c.param_specs(),
            Self::SrVggCompact(c) => c.param_specs(),
        }
    }
}

impl From<GeneratorConfig> for Architecture {
    fn from(c: GeneratorConfig) -> Self {
        Self::SrResNet(c)
    }
}

impl From<&GeneratorConfig> for Architecture {
    fn from(c: &GeneratorConfig) -> Self {
        Self::SrResNet(c.clone())
    }
}

impl From<RrdbConfig> for Architecture {
    fn from(c: RrdbConfig) -> Self {
        Self::RrdbNet(c)
    }
}

impl From<SrVggConfig> for Architecture {
    fn from(c: SrVggConfig) -> Self {
        Self::SrVggCompact(c)
    }
}

impl From<&Architecture> for Architecture {
    fn from(a: &Architecture) -> Self {
        a.clone()
    }
}

/// SRResNet's hyper-parameters and value ranges (the `srresnet` variant of
/// [`Architecture`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Residual blocks (paper: 16).
    pub blocks: usize,
    /// Feature channels (paper: 64).
    pub channels: usize,
    /// Upscaling factor: 2, 4 or 8 (paper: 4).
    pub scale: usize,
    /// BatchNorm epsilon (PyTorch's default: 1e-5).
    #[serde(default = "default_bn_eps")]
    pub bn_eps: f32,
    /// Range of the LR input the network was trained on (paper: [0, 1]).
    #[serde(default = "default_lr_range")]
    pub lr_range: [f32; 2],
    /// Range of the HR output the network was trained to produce (paper: [-1, 1]).
    #[serde(default = "default_hr_range")]
    pub hr_range: [f32; 2],
}

fn default_bn_eps() -> f32 {
    1e-5
}
fn default_lr_range() -> [f32; 2] {
    [0.0, 1.0]
}
fn default_hr_range() -> [f32; 2] {
    [-1.0, 1.0]
}

impl Default for GeneratorConfig {
    /// The paper's SRResNet: 16 blocks, 64 channels, x4.
    fn default() -> Self {
        Self::paper()
    }
}

impl GeneratorConfig {
    /// The paper's SRResNet: 16 blocks of 64 channels, x4, LR in [0,1], HR in [-1,1].
    pub fn paper() -> Self {
        Self::new(16, 64, 4)
    }

    /// A config with the paper's value ranges.
    pub fn new(blocks: usize, channels: usize, scale: usize) -> Self {
        Self {
            blocks,
            channels,
            scale,
            bn_eps: default_bn_eps(),
            lr_range: default_lr_range(),
            hr_range: default_hr_range(),
        }
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, value: String, expected| {
            Err(ConfigError {
                field,
                value,
                expected,
            })
        };
        if !matches!(self.scale, 2 | 4 | 8) {
            return err("scale", self.scale.to_string(), "2, 4 or 8");
        }
        if self.channels == 0 || self.channels > 4096 {
            return err("channels", self.channels.to_string(), "1..=4096");
        }
        if self.blocks > 1024 {
            return err("blocks", self.blocks.to_string(), "0..=1024");
        }
        if !(self.bn_eps.is_finite() && self.bn_eps > 0.0) {
            return err("bn_eps", self.bn_eps.to_string(), "a positive number");
        }
        for (field, r) in [("lr_range", self.lr_range), ("hr_range", self.hr_range)] {
            if !(r[0].is_finite() && r[1].is_finite() && r[0] < r[1]) {
                return err(field, format!("{r:?}"), "[lo, hi] with lo < hi");
            }
        }
        Ok(())
    }

    /// Number of PixelShuffle x2 stages: log2(scale).
    pub fn upsample_stages(&self) -> usize {
        self.scale.trailing_zeros() as usize
    }

    /// Radius of the receptive field in LR pixels, rounded up: how far an output pixel can
    /// see into its input. A tile padded by at least this much gives the same output as the
    /// whole image.
    pub fn receptive_field_radius(&self) -> usize {
        // Work in units of 1/scale LR pixels to stay exact.
        let s = self.scale;
        let half_head = HEAD_TAIL_KERNEL / 2;
        let half_body = BODY_KERNEL / 2;
        let mut r = half_head * s; // head
        r += self.blocks * 2 * half_body * s; // residual blocks
        r += half_body * s; // trunk conv
        let mut res = 1; // current resolution relative to LR
        for _ in 0..self.upsample_stages() {
            r += half_body * s / res; // conv at the current resolution
            res *= 2;
        }
        r += half_head; // tail conv at HR resolution: 4 HR px = 4/s LR px
        r.div_ceil(s)
    }

    /// Multiply-accumulate count per LR pixel (batch 1), for FLOP figures: FLOPs = 2 x MACs.
    pub fn macs_per_lr_pixel(&self) -> f64 {
        let c = self.channels as f64;
        let k9 = (HEAD_TAIL_KERNEL * HEAD_TAIL_KERNEL) as f64;
        let k3 = (BODY_KERNEL * BODY_KERNEL) as f64;
        let mut macs = 3.0 * c * k9; // head
        macs += self.blocks as f64 * 2.0 * c * c * k3;
        macs += c * c * k3; // trunk
        let mut area = 1.0;
        for _ in 0..self.upsample_stages() {
            macs += area * c * 4.0 * c * k3;
            area *= 4.0;
        }
        macs += area * c * 3.0 * k9; // tail
        macs
    }

    /// The runtime's memory per LR pixel of a window, estimated: `3 * channels * scale^2` f32
    /// values. The largest tensors of the exported SRResNet are the last upsampling stage's
    /// `4 * channels` channels at `scale / 2` times the LR size, `channels * scale^2` values
    /// per LR pixel each, and about three are alive at once. Measured through srgan-run (ONNX
    /// Runtime, arena on, memory pattern off) on the paper model (64 channels, x4; 12 KB
    /// here): about 10 KB per LR pixel for repeated 251x251 tiles and 11.9 KB for a whole
    /// 512x512 image (BENCHMARKS.md, "Peak RSS"). `None` when the figure overflows (values
    /// from a crafted file).
    pub fn window_bytes_per_pixel(&self) -> Option<u64> {
        window_bytes_per_pixel(self.channels, self.scale)
    }

    /// Every tensor of this architecture in a stable order, with its shape and role.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        let c = self.channels;
        let (k9, k3) = (HEAD_TAIL_KERNEL, BODY_KERNEL);
        let mut v = Vec::new();
        let mut push = |name: String, shape: Vec<usize>, role: ParamRole| {
            v.push(ParamSpec { name, shape, role })
        };
        push(
            "head.conv.weight".into(),
            vec![c, 3, k9, k9],
            ParamRole::ConvWeight,
        );
        push("head.conv.bias".into(), vec![c], ParamRole::ConvBias);
        push("head.prelu.weight".into(), vec![c], ParamRole::PreluSlope);
        let bn = |push: &mut dyn FnMut(String, Vec<usize>, ParamRole), p: &str| {
            push(format!("{p}.weight"), vec![c], ParamRole::BnWeight);
            push(format!("{p}.bias"), vec![c], ParamRole::BnBias);
            push(format!("{p}.running_mean"), vec![c], ParamRole::BnMean);
            push(format!("{p}.running_var"), vec![c], ParamRole::BnVar);
        };
        for i in 0..self.blocks {
            let p = format!("blocks.{i}");
            push(
                format!("{p}.conv1.weight"),
                vec![c, c, k3, k3],
                ParamRole::ConvWeight,
            );
            bn(&mut push, &format!("{p}.bn1"));
            push(format!("{p}.prelu.weight"), vec![c], ParamRole::PreluSlope);
            push(
                format!("{p}.conv2.weight"),
                vec![c, c, k3, k3],
                ParamRole::ConvWeight,
            );
            bn(&mut push, &format!("{p}.bn2"));
        }
        push(
            "trunk.conv.weight".into(),
            vec![c, c, k3, k3],
            ParamRole::ConvWeight,
        );
        bn(&mut push, "trunk.bn");
        for j in 0..self.upsample_stages() {
            let p = format!("upsample.{j}");
            push(
                format!("{p}.conv.weight"),
                vec![4 * c, c, k3, k3],
                ParamRole::ConvWeight,
            );
            push(format!("{p}.conv.bias"), vec![4 * c], ParamRole::ConvBias);
            push(format!("{p}.prelu.weight"), vec![c], ParamRole::PreluSlope);
        }
        push(
            "tail.conv.weight".into(),
            vec![3, c, k9, k9],
            ParamRole::ConvWeight,
        );
        push("tail.conv.bias".into(), vec![3], ParamRole::ConvBias);
        v
    }
}

fn unit_range() -> [f32; 2] {
    [0.0, 1.0]
}

fn check_ranges(lr: [f32; 2], hr: [f32; 2]) -> Result<(), ConfigError> {
    for (field, r) in [("lr_range", lr), ("hr_range", hr)] {
        if !(r[0].is_finite() && r[1].is_finite() && r[0] < r[1]) {
            return Err(ConfigError {
                field,
                value: format!("{r:?}"),
                expected: "[lo, hi] with lo < hi",
            });
        }
    }
    Ok(())
}

fn check_width(field: &'static str, v: usize) -> Result<(), ConfigError> {
    if v == 0 || v > 4096 {
        return Err(ConfigError {
            field,
            value: v.to_string(),
            expected: "1..=4096",
        });
    }
    Ok(())
}

fn check_depth(field: &'static str, v: usize) -> Result<(), ConfigError> {
    if v > 1024 {
        return Err(ConfigError {
            field,
            value: v.to_string(),
            expected: "0..=1024",
        });
    }
    Ok(())
}

/// A 3x3 convolution with bias: its two specs.
fn conv3_specs(v: &mut Vec<ParamSpec>, name: &str, cin: usize, cout: usize) {
    v.push(ParamSpec {
        name: format!("{name}.weight"),
        shape: vec![cout, cin, BODY_KERNEL, BODY_KERNEL],
        role: ParamRole::ConvWeight,
    });
    v.push(ParamSpec {
        name: format!("{name}.bias"),
        shape: vec![cout],
        role: ParamRole::ConvBias,
    });
}

/// RRDBNet's hyper-parameters (the `rrdbnet` variant of [`Architecture`]): ESRGAN (Wang et
/// al., arXiv 1809.00219) as laid out by BasicSR's `rrdbnet_arch.py`, the layout of every
/// Real-ESRGAN release. All convolutions are 3x3 with bias; LeakyReLU has slope 0.2:
///
/// ```text
/// [scale 2: PixelUnshuffle(2); scale 1: PixelUnshuffle(4)]
/// conv_first (3*u^2 -> F)
/// body.{i}: rdb1 . rdb2 . rdb3, then x * 0.2 + input              (blocks times)
///   rdb{k}: conv1 (F -> G) . lrelu, conv2 (F+G -> G) . lrelu, ... conv4 (F+3G -> G) . lrelu,
///           conv5 (F+4G -> F); each conv sees the concat of the input and every earlier
///           output; the result is conv5 * 0.2 + input
/// conv_body (F -> F), + conv_first's output
/// nearest x2 . conv_up1 . lrelu, nearest x2 . conv_up2 . lrelu
/// conv_hr . lrelu . conv_last (F -> 3)
/// ```
///
/// `u = 4 / scale` is the pixel-unshuffle factor: the trunk always upsamples x4, so x2 and x1
/// models first fold `u x u` pixels into channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RrdbConfig {
    /// RRDB blocks (RealESRGAN_x4plus: 23, x4plus_anime_6B: 6).
    pub blocks: usize,
    /// Feature channels `F` (64).
    pub features: usize,
    /// Growth channels `G` of the dense blocks (32).
    pub growth: usize,
    /// Upscaling factor: 1, 2 or 4.
    pub scale: usize,
    /// Range of the LR input (default [0, 1]).
    #[serde(default = "unit_range")]
    pub lr_range: [f32; 2],
    /// Range of the HR output (default [0, 1]).
    #[serde(default = "unit_range")]
    pub hr_range: [f32; 2],
}

impl RrdbConfig {
    /// `blocks` RRDBs of `features` channels, growth `growth`, in and out in [0, 1].
    pub fn new(blocks: usize, features: usize, growth: usize, scale: usize) -> Self {
        Self {
            blocks,
            features,
            growth,
            scale,
            lr_range: unit_range(),
            hr_range: unit_range(),
        }
    }

    /// RealESRGAN_x4plus: 23 blocks, 64 features, growth 32, x4.
    pub fn x4plus() -> Self {
        Self::new(23, 64, 32, 4)
    }

    /// The pixel-unshuffle factor of the input: 4 / scale.
    pub fn unshuffle(&self) -> usize {
        4 / self.scale.max(1)
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.scale, 1 | 2 | 4) {
            return Err(ConfigError {
                field: "scale",
                value: self.scale.to_string(),
                expected: "1, 2 or 4",
            });
        }
        check_width("features", self.features)?;
        check_width("growth", self.growth)?;
        check_depth("blocks", self.blocks)?;
        check_ranges(self.lr_range, self.hr_range)
    }

    /// Exact receptive-field radius in LR pixels, rounded up: every 3x3 conv at the feature
    /// resolution (1/u of LR) reaches `u` LR pixels, the dense blocks' longest path is 5
    /// convs, the unshuffle adds `u - 1`. RealESRGAN_x4plus: 349; far more than a practical
    /// tile pad (see the issue on effective radii).
    pub fn receptive_field_radius(&self) -> usize {
        let u = self.unshuffle();
        // In quarters of an LR pixel: conv_first + 15 convs per block + conv_body at the
        // feature grid (u each), conv_up1 at 2/u (u/2), conv_up2, conv_hr and conv_last at
        // 4/u (u/4 each), the unshuffle's offset.
        let q = 4 * u * (2 + 15 * self.blocks) + 2 * u + 3 * u + 4 * (u - 1);
        q.div_ceil(4)
    }

    /// Multiply-accumulates per LR pixel.
    pub fn macs_per_lr_pixel(&self) -> f64 {
        let (f, g) = (self.features as f64, self.growth as f64);
        let u2 = (self.unshuffle() * self.unshuffle()) as f64;
        let dense = f * g + (f + g) * g + (f + 2.0 * g) * g + (f + 3.0 * g) * g + (f + 4.0 * g) * f;
        // Per pixel of the feature grid.
        let per_feature = 9.0
            * (3.0 * u2 * f
                + self.blocks as f64 * 3.0 * dense
                + f * f
                + 4.0 * f * f
                + 16.0 * f * f * 2.0
                + 16.0 * f * 3.0);
        per_feature / u2
    }

    /// Estimated runtime memory per LR pixel of a window: as SRResNet's, three tensors of
    /// `features` channels alive at the output resolution.
    pub fn window_bytes_per_pixel(&self) -> Option<u64> {
        window_bytes_per_pixel(self.features, self.scale)
    }

    /// Every tensor, in BasicSR's names and order.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        let (f, g, u) = (self.features, self.growth, self.unshuffle());
        let mut v = Vec::new();
        conv3_specs(&mut v, "conv_first", 3 * u * u, f);
        for i in 0..self.blocks {
            for r in 1..=3 {
                for k in 0..5 {
                    let cout = if k == 4 { f } else { g };
                    conv3_specs(
                        &mut v,
                        &format!("body.{i}.rdb{r}.conv{}", k + 1),
                        f + k * g,
                        cout,
                    );
                }
            }
        }
        for name in ["conv_body", "conv_up1", "conv_up2", "conv_hr"] {
            conv3_specs(&mut v, name, f, f);
        }
        conv3_specs(&mut v, "conv_last", f, 3);
        v
    }
}

/// SRVGGNetCompact's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// PReLU with one learned slope per channel (`body.{k}.weight`, shape `[F]`).
    #[default]
    Prelu,
    /// ReLU.
    Relu,
    /// LeakyReLU with slope 0.1 (Real-ESRGAN's `leakyrelu`).
    Leakyrelu,
}

impl Activation {
    /// The name in configs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prelu => "prelu",
            Self::Relu => "relu",
            Self::Leakyrelu => "leakyrelu",
        }
    }

    /// The slope of LeakyReLU (Real-ESRGAN's `srvgg_arch.py`).
    pub const LEAKY_SLOPE: f32 = 0.1;
}

/// SRVGGNetCompact's hyper-parameters (the `srvgg_compact` variant of [`Architecture`]),
/// Real-ESRGAN's `srvgg_arch.py` with its tensor names. Every conv is 3x3 with bias and runs
/// on the LR grid:
///
/// ```text
/// body.0 conv (3 -> F) . body.1 act
/// body.{2+2i} conv (F -> F) . body.{3+2i} act                 (convs times)
/// body.{2+2*convs} conv (F -> 3*scale^2) . PixelShuffle(scale) . + nearest-upsampled input
/// ```
///
/// At scale 1 (Real-ESRGAN's `upscale=1`) the last conv has 3 outputs, PixelShuffle(1) and
/// nearest upsampling by 1 are identities: the output is the last conv plus the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrVggConfig {
    /// Body convolutions `num_conv` (realesr-animevideov3: 16; realesr-general-x4v3: 32).
    pub convs: usize,
    /// Feature channels `F` (64).
    pub features: usize,
    /// The activation (default PReLU).
    #[serde(default)]
    pub activation: Activation,
    /// Upscaling factor: 1, 2, 3 or 4 (1: restoration at the input's size, e.g. denoising;
    /// the last conv has 3 outputs, the shuffle and the upsampling are identities).
    pub scale: usize,
    /// Range of the LR input (default [0, 1]).
    #[serde(default = "unit_range")]
    pub lr_range: [f32; 2],
    /// Range of the HR output (default [0, 1]).
    #[serde(default = "unit_range")]
    pub hr_range: [f32; 2],
}

impl SrVggConfig {
    /// `convs` body convolutions of `features` channels with PReLU, in and out in [0, 1].
    pub fn new(convs: usize, features: usize, scale: usize) -> Self {
        Self {
            convs,
            features,
            activation: Activation::Prelu,
            scale,
            lr_range: unit_range(),
            hr_range: unit_range(),
        }
    }

    /// Index in `body` of the last convolution.
    pub fn last_conv(&self) -> usize {
        2 + 2 * self.convs
    }

    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.scale, 1..=4) {
            return Err(ConfigError {
                field: "scale",
                value: self.scale.to_string(),
                expected: "1, 2, 3 or 4",
            });
        }
        check_width("features", self.features)?;
        check_depth("convs", self.convs)?;
        check_ranges(self.lr_range, self.hr_range)
    }

    /// Exact receptive-field radius in LR pixels: one per conv (all on the LR grid); the
    /// skip (nearest upsampling, the identity at x1) and the shuffle add none, at every scale.
    pub fn receptive_field_radius(&self) -> usize {
        self.convs + 2
    }

    /// Multiply-accumulates per LR pixel.
    pub fn macs_per_lr_pixel(&self) -> f64 {
        let f = self.features as f64;
        let s2 = (self.scale * self.scale) as f64;
        9.0 * (3.0 * f + self.convs as f64 * f * f + f * 3.0 * s2)
    }

    /// Estimated runtime memory per LR pixel: three feature maps on the LR grid and the
    /// output, the upsampled input and the sum at the HR grid, f32.
    pub fn window_bytes_per_pixel(&self) -> Option<u64> {
        let f = u64::try_from(self.features).ok()?;
        let s = u64::try_from(self.scale).ok()?;
        12u64
            .checked_mul(f)?
            .checked_add(36u64.checked_mul(s.checked_mul(s)?)?)
    }

    /// Every tensor, in Real-ESRGAN's names and order.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        let f = self.features;
        let mut v = Vec::new();
        let act = |v: &mut Vec<ParamSpec>, k: usize| {
            if self.activation == Activation::Prelu {
                v.push(ParamSpec {
                    name: format!("body.{k}.weight"),
                    shape: vec![f],
                    role: ParamRole::PreluSlope,
                });
            }
        };
        conv3_specs(&mut v, "body.0", 3, f);
        act(&mut v, 1);
        for i in 0..self.convs {
            conv3_specs(&mut v, &format!("body.{}", 2 + 2 * i), f, f);
            act(&mut v, 3 + 2 * i);
        }
        conv3_specs(
            &mut v,
            &format!("body.{}", self.last_conv()),
            f,
            3 * self.scale * self.scale,
        );
        v
    }
}

/// `3 * 4 * channels * scale^2` bytes per LR pixel (see
/// [`GeneratorConfig::window_bytes_per_pixel`]), for a model of `channels` feature channels
/// and upscaling factor `scale`, with checked arithmetic: `None` on overflow.
pub fn window_bytes_per_pixel(channels: usize, scale: usize) -> Option<u64> {
    let c = u64::try_from(channels.max(1)).ok()?;
    let s = u64::try_from(scale.max(1)).ok()?;
    12u64.checked_mul(c)?.checked_mul(s.checked_mul(s)?)
}

/// What a tensor is for; decides its random initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamRole {
    /// Convolution weight `[O, I, kH, kW]`.
    ConvWeight,
    /// Convolution bias `[O]`.
    ConvBias,
    /// PReLU slope `[C]`.
    PreluSlope,
    /// BatchNorm scale (gamma).
    BnWeight,
    /// BatchNorm shift (beta).
    BnBias,
    /// BatchNorm running mean.
    BnMean,
    /// BatchNorm running variance.
    BnVar,
}

/// One tensor of the architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Stable name, e.g. `blocks.3.bn1.running_var`.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Role.
    pub role: ParamRole,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receptive_field_of_paper_model() {
        // 4 (head) + 32 (blocks) + 1 (trunk) + 1 + 0.5 (upsample) + 1 (tail: 4 HR px) = 39.5
        assert_eq!(GeneratorConfig::paper().receptive_field_radius(), 40);
        // x2, 0 blocks: 4 + 0 + 1 + 1 + 2 = 8
        assert_eq!(GeneratorConfig::new(0, 8, 2).receptive_field_radius(), 8);
    }

    #[test]
    fn paper_model_flops_match_measured_figure() {
        // Issue 4: a 64x64 input costs 18.2 GFLOP.
        let gflop = 2.0 * GeneratorConfig::paper().macs_per_lr_pixel() * 64.0 * 64.0 / 1e9;
        assert!((gflop - 18.2).abs() < 0.2, "{gflop}");
    }

    #[test]
    fn no_duplicate_names() {
        let specs = GeneratorConfig::new(3, 4, 8).param_specs();
        let set: std::collections::HashSet<_> = specs.iter().map(|s| &s.name).collect();
        assert_eq!(set.len(), specs.len());
        assert!(specs.iter().all(|s| !s.name.contains("__")));
    }

    #[test]
    fn tagged_json_and_untagged_legacy_json() {
        let arch = Architecture::SrResNet(GeneratorConfig::new(2, 8, 4));
        let json = arch.to_json();
        assert!(
            json.starts_with(r#"{"arch":"srresnet","blocks":2,"#),
            "{json}"
        );
        assert_eq!(Architecture::from_json(&json).unwrap(), arch);
        // What srgan-export wrote before the tag (models/x4/*.onnx, every checkpoint).
        let legacy = r#"{"blocks":2,"channels":8,"scale":4,"bn_eps":1e-5,"lr_range":[0.0,1.0],"hr_range":[-1.0,1.0]}"#;
        assert_eq!(Architecture::from_json(legacy).unwrap(), arch);
        // Unknown architectures and unknown fields are errors that say so.
        let e = Architecture::from_json(r#"{"arch":"unet","blocks":2}"#).unwrap_err();
        assert!(crate::metadata::tests::chain(&e).contains("unet"), "{e}");
        let e = Architecture::from_json(r#"{"blocks":2,"channels":8,"scale":4,"depth":3}"#)
            .unwrap_err();
        assert!(crate::metadata::tests::chain(&e).contains("depth"), "{e}");
        // Out-of-range values are caught on parse.
        let e =
            Architecture::from_json(r#"{"blocks":2,"channels":8,"scale":4294967296}"#).unwrap_err();
        assert!(matches!(
            e,
            ArchitectureError::Config(ConfigError { field: "scale", .. })
        ));
    }

    fn params(arch: &Architecture) -> usize {
        arch.param_specs()
            .iter()
            .map(|s| s.shape.iter().product::<usize>())
            .sum()
    }

    #[test]
    fn community_architectures_have_their_published_sizes() {
        // Real-ESRGAN's RealESRGAN_x4plus: 16,697,987 parameters (its .pth, as counted by
        // torch); realesr-animevideov3: 0.62 M.
        let x4plus = Architecture::from(RrdbConfig::x4plus());
        assert_eq!(params(&x4plus), 16_697_987);
        let compact = Architecture::from(SrVggConfig::new(16, 64, 4));
        assert_eq!(params(&compact), 621_424);
        // Radii: the issue's figures (349 and 94 for RRDBNet 23 and 6 blocks; 18 for the
        // compact model).
        assert_eq!(x4plus.receptive_field_radius(), 349);
        assert_eq!(
            Architecture::from(RrdbConfig::new(6, 64, 32, 4)).receptive_field_radius(),
            94
        );
        assert_eq!(compact.receptive_field_radius(), 18);
        // RRDBNet 23x64 costs about 8x SRResNet 16x64 per pixel.
        let ratio = x4plus.macs_per_lr_pixel() / GeneratorConfig::paper().macs_per_lr_pixel();
        assert!((7.0..9.5).contains(&ratio), "{ratio}");
        // x2 and x1 RRDBNet take unshuffled input.
        let x2 = RrdbConfig::new(1, 8, 4, 2);
        assert_eq!(x2.param_specs()[0].shape, vec![8, 12, 3, 3]);
        assert_eq!(
            RrdbConfig::new(1, 8, 4, 1).param_specs()[0].shape,
            vec![8, 48, 3, 3]
        );
        assert!(RrdbConfig::new(1, 8, 4, 3).validate().is_err());
        assert!(SrVggConfig::new(1, 8, 3).validate().is_ok());
        assert!(SrVggConfig::new(1, 8, 8).validate().is_err());
        // No PReLU tensors for the other activations.
        let mut relu = SrVggConfig::new(2, 8, 2);
        relu.activation = Activation::Relu;
        assert_eq!(relu.param_specs().len(), 2 * 4);
    }

    #[test]
    fn tagged_json_of_every_architecture_roundtrips() {
        for arch in [
            Architecture::from(RrdbConfig::new(2, 8, 4, 2)),
            Architecture::from(SrVggConfig::new(3, 8, 3)),
        ] {
            let json = arch.to_json();
            assert!(
                json.contains(&format!(r#""arch":"{}""#, arch.name())),
                "{json}"
            );
            assert_eq!(Architecture::from_json(&json).unwrap(), arch);
        }
        let json =
            r#"{"arch":"srvgg_compact","convs":16,"features":64,"activation":"prelu","scale":4}"#;
        let arch = Architecture::from_json(json).unwrap();
        assert_eq!(arch.lr_range(), [0.0, 1.0]);
        assert_eq!(arch.describe(), "SRVGGNetCompact 16x64 (prelu), x4");
        let e = Architecture::from_json(
            r#"{"arch":"rrdbnet","blocks":2,"features":8,"growth":4,"scale":8}"#,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            ArchitectureError::Config(ConfigError { field: "scale", .. })
        ));
    }

    #[test]
    fn srvgg_compact_takes_scale_1_to_4() {
        for s in 1..=4 {
            assert!(SrVggConfig::new(2, 8, s).validate().is_ok(), "x{s}");
        }
        for s in [0, 5, 8] {
            let e = SrVggConfig::new(2, 8, s).validate().unwrap_err();
            assert_eq!((e.field, e.expected), ("scale", "1, 2, 3 or 4"), "x{s}");
        }
        let e =
            Architecture::from_json(r#"{"arch":"srvgg_compact","convs":2,"features":8,"scale":0}"#)
                .unwrap_err();
        assert!(matches!(
            e,
            ArchitectureError::Config(ConfigError { field: "scale", .. })
        ));
        // x1: the last conv has 3 outputs; the radius is one LR pixel per conv, as at every
        // scale (the skip is the input itself); the tail costs F*3 MACs per pixel.
        let x1 = SrVggConfig::new(3, 8, 1);
        assert_eq!(
            x1.param_specs().last().unwrap().shape,
            vec![3],
            "body.8.bias"
        );
        let last = &x1.param_specs()[x1.param_specs().len() - 2];
        assert_eq!(
            (last.name.as_str(), &last.shape[..]),
            ("body.8.weight", &[3, 8, 3, 3][..])
        );
        let arch = Architecture::from(x1.clone());
        assert_eq!(arch.receptive_field_radius(), 5);
        assert_eq!(arch.scale(), 1);
        assert_eq!(arch.input_multiple(), 1);
        assert_eq!(arch.channels(), 8);
        assert_eq!(arch.describe(), "SRVGGNetCompact 3x8 (prelu), x1");
        assert_eq!(
            arch.macs_per_lr_pixel(),
            9.0 * (3.0 * 8.0 + 3.0 * 64.0 + 8.0 * 3.0)
        );
        assert_eq!(arch.window_bytes_per_pixel(), Some(12 * 8 + 36));
        assert_eq!(Architecture::from_json(&arch.to_json()).unwrap(), arch);
        // Every scale has the same radius: the convs all run on the LR grid.
        for s in 1..=4 {
            assert_eq!(SrVggConfig::new(16, 64, s).receptive_field_radius(), 18);
        }
    }

    #[test]
    fn window_bytes_are_checked() {
        assert_eq!(window_bytes_per_pixel(64, 4), Some(12 * 64 * 16));
        assert_eq!(window_bytes_per_pixel(1 << 62, 4), None);
        assert_eq!(window_bytes_per_pixel(64, 1 << 32), None);
    }
}
