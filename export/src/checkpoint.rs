//! The generator checkpoint contract shared by the trainer (`srgan-models`), the exporter and
//! the reference forward pass.
//!
//! A checkpoint is a safetensors file holding every generator tensor as little-endian f32 under
//! a stable name, BatchNorm running statistics included, and the architecture in the file's
//! `__metadata__` under the key [`META_CONFIG`] as JSON. The network is SRResNet (Ledig et al.,
//! arXiv 1609.04802, Fig. 4):
//!
//! ```text
//! head.conv (9x9, 3->C, bias) . head.prelu
//! blocks.{i}: conv1 (3x3, no bias) . bn1 . prelu . conv2 (3x3, no bias) . bn2 . (+ skip)
//! trunk.conv (3x3, no bias) . trunk.bn . (+ output of head)
//! upsample.{j}: conv (3x3, C->4C, bias) . PixelShuffle(2) . prelu      (log2(scale) times)
//! tail.conv (9x9, C->3, bias)
//! ```
//!
//! PReLU slopes are per channel, stored with shape `[C]`. Convolution weights are `[O, I, kH, kW]`.
//! The generator reads LR input in `lr_range` and produces HR output in `hr_range`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Metadata key holding the architecture as JSON.
pub const META_CONFIG: &str = "srgan.generator";
/// Metadata key holding the format name, always [`FORMAT_NAME`].
pub const META_FORMAT: &str = "format";
/// Value of [`META_FORMAT`] in every generator checkpoint.
pub const FORMAT_NAME: &str = "srgan-generator-v1";
/// Kernel size of the head and tail convolutions.
pub const HEAD_TAIL_KERNEL: usize = 9;
/// Kernel size of every other convolution.
pub const BODY_KERNEL: usize = 3;

/// Errors when building, reading or writing a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error("{path}: not a safetensors checkpoint: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The metadata does not describe a generator.
    #[error("{path}: metadata key `{key}` {reason}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// An architecture value is out of range.
    #[error("invalid generator config: {field} = {value}: expected {expected}")]
    Config {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A tensor the architecture needs is absent.
    #[error("{path}: missing tensor `{name}` (expected shape {expected:?})")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        name: String,
        /// Expected shape.
        expected: Vec<usize>,
    },
    /// A tensor has the wrong shape or type.
    #[error("{path}: tensor `{name}` has shape {found:?} ({dtype}), expected {expected:?} (F32)")]
    TensorShape {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        name: String,
        /// Expected shape.
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
        /// Dtype found.
        dtype: String,
    },
    /// The file holds a tensor the architecture does not have.
    #[error("{path}: unexpected tensor `{name}` for this architecture")]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        name: String,
    },
    /// A tensor holds NaN or infinity.
    #[error("{path}: tensor `{name}` holds a non-finite value")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        name: String,
    },
}

/// The generator's architecture and value ranges. Stored in every checkpoint and, by the
/// exporter, in the ONNX graph's metadata.
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
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if !matches!(self.scale, 2 | 4 | 8) {
            return Err(CheckpointError::Config {
                field: "scale",
                value: self.scale.to_string(),
                expected: "2, 4 or 8",
            });
        }
        if self.channels == 0 || self.channels > 4096 {
            return Err(CheckpointError::Config {
                field: "channels",
                value: self.channels.to_string(),
                expected: "1..=4096",
            });
        }
        if self.blocks > 1024 {
            return Err(CheckpointError::Config {
                field: "blocks",
                value: self.blocks.to_string(),
                expected: "0..=1024",
            });
        }
        if !(self.bn_eps.is_finite() && self.bn_eps > 0.0) {
            return Err(CheckpointError::Config {
                field: "bn_eps",
                value: self.bn_eps.to_string(),
                expected: "a positive number",
            });
        }
        for (field, r) in [("lr_range", self.lr_range), ("hr_range", self.hr_range)] {
            if !(r[0].is_finite() && r[1].is_finite() && r[0] < r[1]) {
                return Err(CheckpointError::Config {
                    field,
                    value: format!("{r:?}"),
                    expected: "[lo, hi] with lo < hi",
                });
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

/// A dense row-major f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor from its shape and values. Panics if they disagree (a programming error).
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape {shape:?}"
        );
        Self { shape, data }
    }
}

/// A generator: its architecture and every tensor by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Architecture.
    pub config: GeneratorConfig,
    /// Tensors by stable name (see [`GeneratorConfig::param_specs`]).
    pub tensors: BTreeMap<String, Tensor>,
    /// Extra metadata carried through to the exported graph (e.g. training provenance).
    pub extra_metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// A generator with random weights: PyTorch-like uniform init for convolutions, slopes
    /// near 0.25, and deliberately non-trivial BatchNorm statistics so that folding is tested.
    pub fn random_init(config: &GeneratorConfig, seed: u64) -> Result<Self, CheckpointError> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut tensors = BTreeMap::new();
        let mut last_fan_in = 1usize;
        for spec in config.param_specs() {
            let n: usize = spec.shape.iter().product();
            let mut u = |lo: f32, hi: f32| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(lo..hi)).collect()
            };
            let data = match spec.role {
                ParamRole::ConvWeight => {
                    last_fan_in = spec.shape[1..].iter().product();
                    let b = 1.0 / (last_fan_in as f32).sqrt();
                    u(-b, b)
                }
                ParamRole::ConvBias => {
                    let b = 1.0 / (last_fan_in as f32).sqrt();
                    u(-b, b)
                }
                ParamRole::PreluSlope => u(0.15, 0.35),
                ParamRole::BnWeight => u(0.8, 1.2),
                ParamRole::BnBias => u(-0.1, 0.1),
                ParamRole::BnMean => u(-0.1, 0.1),
                ParamRole::BnVar => u(0.5, 1.5),
            };
            tensors.insert(spec.name, Tensor::new(spec.shape, data));
        }
        let mut extra_metadata = BTreeMap::new();
        extra_metadata.insert("srgan.weights".into(), format!("random-init seed={seed}"));
        Ok(Self {
            config: config.clone(),
            tensors,
            extra_metadata,
        })
    }

    /// Looks a tensor up by name.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// Checks names, shapes and finiteness against the architecture.
    pub fn validate(&self, path: &Path) -> Result<(), CheckpointError> {
        self.config.validate()?;
        let specs = self.config.param_specs();
        for spec in &specs {
            let t = self
                .tensors
                .get(&spec.name)
                .ok_or_else(|| CheckpointError::MissingTensor {
                    path: path.into(),
                    name: spec.name.clone(),
                    expected: spec.shape.clone(),
                })?;
            if t.shape != spec.shape {
                return Err(CheckpointError::TensorShape {
                    path: path.into(),
                    name: spec.name.clone(),
                    expected: spec.shape.clone(),
                    found: t.shape.clone(),
                    dtype: "F32".into(),
                });
            }
            if t.data.iter().any(|v| !v.is_finite()) {
                return Err(CheckpointError::NonFinite {
                    path: path.into(),
                    name: spec.name.clone(),
                });
            }
        }
        if self.tensors.len() != specs.len() {
            let known: std::collections::HashSet<&str> =
                specs.iter().map(|s| s.name.as_str()).collect();
            if let Some(name) = self.tensors.keys().find(|k| !known.contains(k.as_str())) {
                return Err(CheckpointError::UnexpectedTensor {
                    path: path.into(),
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Reads and validates a checkpoint.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses and validates a checkpoint held in memory; `path` is only used in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let format_err = |reason: String| CheckpointError::Format {
            path: path.into(),
            reason,
        };
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| format_err(e.to_string()))?;
        let st =
            safetensors::SafeTensors::deserialize(bytes).map_err(|e| format_err(e.to_string()))?;
        let md: HashMap<String, String> = meta.metadata().clone().unwrap_or_default();
        let meta_err = |key: &str, reason: String| CheckpointError::Metadata {
            path: path.into(),
            key: key.into(),
            reason,
        };
        match md.get(META_FORMAT) {
            Some(f) if f == FORMAT_NAME => {}
            Some(f) => {
                return Err(meta_err(
                    META_FORMAT,
                    format!("is `{f}`, expected `{FORMAT_NAME}`"),
                ))
            }
            None => {
                return Err(meta_err(
                    META_FORMAT,
                    "is missing: not an srgan generator checkpoint".into(),
                ))
            }
        }
        let cfg_json = md
            .get(META_CONFIG)
            .ok_or_else(|| meta_err(META_CONFIG, "is missing".into()))?;
        let config: GeneratorConfig = serde_json::from_str(cfg_json)
            .map_err(|e| meta_err(META_CONFIG, format!("is invalid: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                let expected = config
                    .param_specs()
                    .into_iter()
                    .find(|s| s.name == name)
                    .map(|s| s.shape)
                    .unwrap_or_default();
                return Err(CheckpointError::TensorShape {
                    path: path.into(),
                    name,
                    expected,
                    found: view.shape().to_vec(),
                    dtype: format!("{:?}", view.dtype()),
                });
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            tensors.insert(name, Tensor::new(view.shape().to_vec(), data));
        }
        let extra_metadata = md
            .into_iter()
            .filter(|(k, _)| k != META_CONFIG && k != META_FORMAT)
            .collect();
        let ck = Self {
            config,
            tensors,
            extra_metadata,
        };
        ck.validate(path)?;
        Ok(ck)
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        let mut md: HashMap<String, String> = self.extra_metadata.clone().into_iter().collect();
        md.insert(META_FORMAT.into(), FORMAT_NAME.into());
        md.insert(
            META_CONFIG.into(),
            serde_json::to_string(&self.config).expect("config serialises"),
        );
        let raw: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, t)| {
                let bytes = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (n.clone(), t.shape.clone(), bytes)
            })
            .collect();
        let views = raw.iter().map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .expect("sizes agree"),
            )
        });
        safetensors::serialize(views, Some(md)).map_err(|e| CheckpointError::Format {
            path: PathBuf::new(),
            reason: e.to_string(),
        })
    }

    /// Validates and writes atomically: a temporary file in the same folder, then a rename.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        self.validate(path)?;
        let bytes = self.to_bytes()?;
        atomic_write(path, &bytes)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so that
/// `path` never holds a partial file. The temporary file is removed on failure.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.into(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Unique per process and per call, so concurrent writers (threads, processes) never
    // share a temporary file.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(io)
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
    fn roundtrip_and_validation() {
        let cfg = GeneratorConfig::new(2, 8, 4);
        let ck = Checkpoint::random_init(&cfg, 7).unwrap();
        let bytes = ck.to_bytes().unwrap();
        let back = Checkpoint::from_bytes(&bytes, Path::new("x")).unwrap();
        assert_eq!(ck, back);
        assert_eq!(ck.tensors.len(), cfg.param_specs().len());

        let mut bad = ck.clone();
        bad.tensors
            .get_mut("blocks.1.bn2.running_var")
            .unwrap()
            .shape = vec![4, 2];
        let err = Checkpoint::from_bytes(&bad.to_bytes().unwrap(), Path::new("x")).unwrap_err();
        assert!(
            err.to_string().contains("blocks.1.bn2.running_var"),
            "{err}"
        );

        let mut other = ck.clone();
        other.config.blocks = 3;
        let err = Checkpoint::from_bytes(&other.to_bytes().unwrap(), Path::new("x")).unwrap_err();
        assert!(
            err.to_string().contains("missing tensor `blocks.2"),
            "{err}"
        );

        assert!(Checkpoint::from_bytes(b"garbage", Path::new("x")).is_err());
        assert!(GeneratorConfig::new(1, 8, 3).validate().is_err());
    }

    #[test]
    fn no_duplicate_names() {
        let specs = GeneratorConfig::new(3, 4, 8).param_specs();
        let set: std::collections::HashSet<_> = specs.iter().map(|s| &s.name).collect();
        assert_eq!(set.len(), specs.len());
        assert!(specs.iter().all(|s| !s.name.contains("__")));
    }
}
