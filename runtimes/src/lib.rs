//! One [`Upscaler`] trait for every runtime that runs an exported SRGAN generator, and its
//! adapters: ONNX Runtime ([`ort_backend`], CPU, CUDA, TensorRT) and tract ([`tract_backend`],
//! pure Rust, CPU).
//!
//! The contract of the graph (see the exporter): input `[N, 3, H, W]` f32 RGB in [0, 1],
//! output `[N, 3, sH, sW]` f32 RGB in [0, 1]. A model without srgan metadata still runs: its
//! scale is inferred from the output shape of a small probe run.
//!
//! Devices are explicit: a device that was asked for and cannot be had is an error naming what
//! is missing ([`RuntimeError::DeviceUnavailable`]), never a silent fall back to the CPU.
#![deny(missing_docs)]

use std::path::PathBuf;

pub use ndarray;
use ndarray::{Array4, ArrayView4};

mod alloc;
pub use alloc::keep_freed_memory;
pub use srgan_contract::metadata::{read_model_info, ModelInfo, ModelInfoError};
pub use srgan_contract::report::BoxError;

#[cfg(feature = "ort")]
pub mod ort_backend;
#[cfg(feature = "tract")]
pub mod tract_backend;

/// Errors of the runtimes. Every variant names the file, device or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The model's metadata could not be read (unreadable file, not ONNX, a bad `srgan.*`
    /// value).
    #[error(transparent)]
    Metadata(Box<ModelInfoError>),
    /// No runtime of this name is compiled in.
    #[error("unknown runtime `{name}`: expected one of {available}")]
    UnknownRuntime {
        /// The name asked for.
        name: String,
        /// The runtimes this build has, comma-separated.
        available: String,
    },
    /// A runtime this crate knows but cannot open itself (tch runs through `srgan-models`),
    /// or one not compiled into this build.
    #[error("runtime {runtime} is not available here: {reason}")]
    RuntimeNotCompiled {
        /// The runtime.
        runtime: &'static str,
        /// How to get it.
        reason: &'static str,
    },
    /// The model file could not be read or parsed.
    #[error("{path}: cannot load model")]
    ModelLoad {
        /// The model file.
        path: PathBuf,
        /// The runtime's error.
        #[source]
        source: BoxError,
    },
    /// The model loaded but does not fit the super-resolution contract.
    #[error("{path}: not a super-resolution model: {reason}")]
    InvalidModel {
        /// The model file.
        path: PathBuf,
        /// What is wrong (e.g. the input is not 4-D).
        reason: String,
    },
    /// A model without `srgan.scale` failed the probe run that reads its scale.
    #[error("{path}: cannot infer the scale from a probe run")]
    ScaleProbe {
        /// The model file.
        path: PathBuf,
        /// Why the probe failed.
        #[source]
        source: Box<RuntimeError>,
    },
    /// A runtime library could not be loaded.
    #[error("cannot load {library} from {path}")]
    Library {
        /// Which library (e.g. "ONNX Runtime").
        library: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// What went wrong (the loader's error, or what is missing and how to fix it).
        #[source]
        source: BoxError,
    },
    /// The device that was asked for cannot be had.
    #[error("device `{device}` is not available to {runtime}")]
    DeviceUnavailable {
        /// The runtime.
        runtime: &'static str,
        /// The device asked for.
        device: String,
        /// What is missing (the runtime's error).
        #[source]
        source: BoxError,
    },
    /// The device is not supported by this runtime at all.
    #[error("runtime {runtime} does not support device `{device}` (it supports: {supported})")]
    UnsupportedDevice {
        /// The runtime.
        runtime: &'static str,
        /// The device asked for.
        device: String,
        /// What it supports.
        supported: &'static str,
    },
    /// The input batch has the wrong shape.
    #[error("input batch has shape {found:?}, expected [N, 3, H, W] with N, H, W > 0")]
    InputShape {
        /// Shape given.
        found: Vec<usize>,
    },
    /// Inference failed.
    #[error("{runtime}: inference on input {shape:?} failed")]
    Inference {
        /// The runtime.
        runtime: &'static str,
        /// Input shape.
        shape: Vec<usize>,
        /// What went wrong (the runtime's error).
        #[source]
        source: BoxError,
    },
}

impl From<ModelInfoError> for RuntimeError {
    fn from(e: ModelInfoError) -> Self {
        RuntimeError::Metadata(Box::new(e))
    }
}

/// Result alias of this crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Where inference runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU (every runtime).
    #[default]
    Cpu,
    /// An NVIDIA GPU through CUDA (ort only), by device id.
    Cuda(u32),
    /// An NVIDIA GPU through TensorRT (ort only), by device id.
    TensorRt(u32),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
            Device::TensorRt(i) => write!(f, "tensorrt:{i}"),
        }
    }
}

/// A device name that is not `cpu`, `cuda[:N]` or `tensorrt[:N]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceParseError {
    /// The device id after `:` is not a number.
    #[error("bad device id in `{name}`: expected a number")]
    BadId {
        /// The name given.
        name: String,
        /// The id's parse error.
        #[source]
        source: std::num::ParseIntError,
    },
    /// Not a device this crate knows.
    #[error("unknown device `{name}`: expected cpu, cuda[:N] or tensorrt[:N]")]
    Unknown {
        /// The name given.
        name: String,
    },
}

impl std::str::FromStr for Device {
    type Err = DeviceParseError;
    /// Parses `cpu`, `cuda`, `cuda:N`, `tensorrt`, `tensorrt:N` (also `trt`).
    fn from_str(s: &str) -> std::result::Result<Self, DeviceParseError> {
        let lower = s.to_ascii_lowercase();
        let (kind, id) = match lower.split_once(':') {
            Some((k, i)) => (
                k.to_string(),
                i.parse::<u32>().map_err(|source| DeviceParseError::BadId {
                    name: s.into(),
                    source,
                })?,
            ),
            None => (lower.clone(), 0),
        };
        match kind.as_str() {
            "cpu" if !lower.contains(':') => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(id)),
            "tensorrt" | "trt" => Ok(Device::TensorRt(id)),
            _ => Err(DeviceParseError::Unknown { name: s.into() }),
        }
    }
}

/// Options shared by the runtimes. Each field documents its default.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Where to run. Default: [`Device::Cpu`].
    pub device: Device,
    /// Intra-op threads. Default (`None`): the number of available cores.
    pub threads: Option<usize>,
    /// ort + TensorRT: folder of the engine cache. Default (`None`): no cache.
    pub trt_cache_dir: Option<PathBuf>,
    /// ort: path of `libonnxruntime.so`. Default (`None`): `ORT_DYLIB_PATH` if set, else the
    /// library found by `scripts/setup.sh` at build time.
    pub ort_library: Option<PathBuf>,
}

impl RuntimeOptions {
    /// Threads to use: the option, or the number of available cores.
    pub fn resolved_threads(&self) -> usize {
        self.threads.filter(|&t| t > 0).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }
}

/// A super-resolution model ready to run on one runtime and device.
///
/// Input: `[N, 3, H, W]` RGB in [0, 1]; output: `[N, 3, H*scale, W*scale]` RGB, nominally in
/// [0, 1] (callers clamp when quantising).
pub trait Upscaler: Send {
    /// A short name such as `ort-cpu` or `tract-cpu`.
    fn name(&self) -> &str;
    /// The upscaling factor.
    fn scale(&self) -> usize;
    /// What the model's metadata says about it.
    fn info(&self) -> &ModelInfo;
    /// Upscales a batch.
    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>>;
    /// Prepares the runtime for inputs of this shape (plans, kernels), so that the first
    /// timed call does not pay for it. Default: one throw-away run.
    fn warm_up(&mut self, shape: [usize; 4]) -> Result<()> {
        let x = Array4::<f32>::zeros(shape);
        self.upscale(x.view()).map(|_| ())
    }
}

impl std::fmt::Debug for dyn Upscaler + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upscaler({}, x{})", self.name(), self.scale())
    }
}

/// Checks an input batch's shape against the contract.
pub fn check_input(input: &ArrayView4<'_, f32>) -> Result<()> {
    let s = input.shape();
    if s[1] != 3 || s[0] == 0 || s[2] == 0 || s[3] == 0 {
        return Err(RuntimeError::InputShape { found: s.to_vec() });
    }
    Ok(())
}

/// Checks an output against the input and the scale; `Err` names what disagrees.
#[allow(dead_code)]
pub(crate) fn check_output(
    runtime: &'static str,
    input: &[usize],
    output: &[usize],
    scale: Option<usize>,
) -> Result<()> {
    let ok = output.len() == 4
        && output[0] == input[0]
        && output[1] == 3
        && output[2].is_multiple_of(input[2])
        && output[3].is_multiple_of(input[3])
        && output[2] / input[2] == output[3] / input[3]
        && scale.is_none_or(|s| output[2] == input[2] * s);
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::Inference {
            runtime,
            shape: input.to_vec(),
            source: format!(
                "output has shape {output:?}, expected [N, 3, H*s, W*s]{}",
                scale.map(|s| format!(" with s = {s}")).unwrap_or_default()
            )
            .into(),
        })
    }
}

/// Runs a 16x16 probe and reads the scale off the output shape (for models without metadata).
#[allow(dead_code)]
pub(crate) fn infer_scale(u: &mut dyn Upscaler, model: &std::path::Path) -> Result<usize> {
    // The smallest probe first: an x1000 model's 1x1 output is 12 MB, its 16x16 one 3 GB. A
    // model that cannot take a side (a pixel-unshuffle needs even sides, a reflection pad
    // more pixels than its pad) gets the next one.
    let mut last = None;
    for side in [1, 2, 4, 8, 16] {
        let probe = Array4::<f32>::zeros([1, 3, side, side]);
        match u.upscale(probe.view()) {
            Ok(out) => {
                let scale = out.shape()[2] / side;
                if scale == 0 || scale > srgan_contract::metadata::MAX_SCALE {
                    return Err(RuntimeError::InvalidModel {
                        path: model.into(),
                        reason: format!(
                            "a {side}x{side} probe came back {}x{}: a scale of 1..={}",
                            out.shape()[2],
                            out.shape()[3],
                            srgan_contract::metadata::MAX_SCALE
                        ),
                    });
                }
                return Ok(scale);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(RuntimeError::ScaleProbe {
        path: model.into(),
        source: Box::new(last.expect("probed at least once")),
    })
}

/// The runtimes, by the name the command lines use. ort and tract are opened by [`open`];
/// tch runs a training checkpoint through `srgan-models` (srgan-run's `tch` feature), which
/// depends on this crate, so [`open`] refuses it with [`RuntimeError::RuntimeNotCompiled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RuntimeKind {
    /// ONNX Runtime (CPU, CUDA, TensorRT).
    Ort,
    /// tract, pure Rust (CPU).
    Tract,
    /// libtorch through tch, straight from a safetensors checkpoint.
    Tch,
}

impl RuntimeKind {
    /// Every runtime, in the order help texts list them.
    pub const ALL: [RuntimeKind; 3] = [RuntimeKind::Ort, RuntimeKind::Tract, RuntimeKind::Tch];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Ort => "ort",
            RuntimeKind::Tract => "tract",
            RuntimeKind::Tch => "tch",
        }
    }

    /// Whether [`open`] can open models on it in this build.
    pub fn is_compiled(self) -> bool {
        match self {
            RuntimeKind::Ort => cfg!(feature = "ort"),
            RuntimeKind::Tract => cfg!(feature = "tract"),
            RuntimeKind::Tch => false,
        }
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = RuntimeError;
    fn from_str(s: &str) -> Result<Self> {
        RuntimeKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| RuntimeError::UnknownRuntime {
                name: s.into(),
                available: RuntimeKind::ALL.map(RuntimeKind::name).join(", "),
            })
    }
}

/// A runtime given by kind or by name; a name is parsed once, here.
pub trait IntoRuntimeKind {
    /// The kind, or [`RuntimeError::UnknownRuntime`].
    fn into_runtime_kind(self) -> Result<RuntimeKind>;
}

impl IntoRuntimeKind for RuntimeKind {
    fn into_runtime_kind(self) -> Result<RuntimeKind> {
        Ok(self)
    }
}

impl<T: AsRef<str> + ?Sized> IntoRuntimeKind for &T {
    fn into_runtime_kind(self) -> Result<RuntimeKind> {
        self.as_ref().parse()
    }
}

/// The names of the runtimes [`open`] can open in this build.
pub fn available_runtimes() -> Vec<&'static str> {
    RuntimeKind::ALL
        .into_iter()
        .filter(|k| k.is_compiled())
        .map(RuntimeKind::name)
        .collect()
}

/// Opens a model on a runtime (a [`RuntimeKind`] or its name).
pub fn open(
    runtime: impl IntoRuntimeKind,
    model: &std::path::Path,
    opts: &RuntimeOptions,
) -> Result<Box<dyn Upscaler>> {
    // Without any runtime feature the arms below that use these are compiled out.
    let _ = (model, opts);
    match runtime.into_runtime_kind()? {
        #[cfg(feature = "ort")]
        RuntimeKind::Ort => Ok(Box::new(ort_backend::OrtUpscaler::open(model, opts)?)),
        #[cfg(feature = "tract")]
        RuntimeKind::Tract => Ok(Box::new(tract_backend::TractUpscaler::open(model, opts)?)),
        RuntimeKind::Tch => Err(RuntimeError::RuntimeNotCompiled {
            runtime: "tch",
            reason: "it runs training checkpoints through srgan-models (build srgan-run with \
                     `--features tch`)",
        }),
        #[allow(unreachable_patterns)]
        other => Err(RuntimeError::RuntimeNotCompiled {
            runtime: other.name(),
            reason: "this build of srgan-runtimes was compiled without it",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_parsing() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("CUDA:1".parse::<Device>().unwrap(), Device::Cuda(1));
        assert_eq!("trt:2".parse::<Device>().unwrap(), Device::TensorRt(2));
        assert!("cuda:x".parse::<Device>().is_err());
        assert!("tpu".parse::<Device>().is_err());
        assert!("cpu:1".parse::<Device>().is_err());
    }

    #[test]
    fn runtime_names() {
        assert_eq!("ort".parse::<RuntimeKind>().unwrap(), RuntimeKind::Ort);
        assert_eq!("Tract".parse::<RuntimeKind>().unwrap(), RuntimeKind::Tract);
        let e = "onnx".parse::<RuntimeKind>().unwrap_err();
        assert!(
            matches!(&e, RuntimeError::UnknownRuntime { name, .. } if name == "onnx"),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "unknown runtime `onnx`: expected one of ort, tract, tch"
        );
        let e = open(
            RuntimeKind::Tch,
            std::path::Path::new("m.onnx"),
            &RuntimeOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, RuntimeError::RuntimeNotCompiled { runtime: "tch", .. }),
            "{e}"
        );
    }

    #[test]
    fn output_shape_check() {
        assert!(check_output("t", &[1, 3, 4, 5], &[1, 3, 16, 20], Some(4)).is_ok());
        assert!(check_output("t", &[1, 3, 4, 5], &[1, 3, 16, 20], None).is_ok());
        assert!(check_output("t", &[1, 3, 4, 5], &[1, 3, 8, 10], Some(4)).is_err());
        assert!(check_output("t", &[1, 3, 4, 5], &[1, 3, 16, 15], None).is_err());
        assert!(check_output("t", &[2, 3, 4, 5], &[1, 3, 16, 20], None).is_err());
    }
}
