//! A Triton Inference Server model repository entry (`srgan-export --triton-repo DIR`):
//!
//! ```text
//! DIR/NAME/config.pbtxt     the model configuration (ModelConfig, protobuf text format)
//! DIR/NAME/1/model.onnx     the exported graph, byte for byte what `-o` writes
//! ```
//!
//! [`ModelConfig::for_model`] reads the interface from the built graph itself (the names are
//! the contract's `lr` and `sr`, `srgan_contract::metadata::{INPUT_NAME, OUTPUT_NAME}`; the
//! types stay f32 in an fp16 export, see [`crate::precision`]): when the first dimension of
//! every input and output is symbolic (the exporter's `N`), the model is batched
//! (`max_batch_size` > 0, with `dynamic_batching`) and `dims` leave the batch out; a fixed
//! batch gives `max_batch_size: 0` and the full dims. Symbolic dims (`H`, `W`) are `-1`.
//! [`ModelConfig::to_pbtxt`] renders it, a pure function; [`write_repository`] writes both
//! files.
//!
//! Nothing is half-written: the folder is assembled under a hidden temporary name in `DIR`
//! (`.NAME.PID.newN.triton.tmp`, each file through `srgan_contract::files::atomic_write_with`)
//! and renamed to `DIR/NAME` when complete. An existing `DIR/NAME` is refused, unless
//! `overwrite`, when it is first renamed aside (`.NAME.PID.oldN.triton.tmp`), the new folder
//! renamed in, and the old one removed: the whole folder is replaced, other versions in it
//! included. A temporary folder left by a killed process (Ctrl-C removes the file being
//! written, not the folder) is removed by the next write into the same repository.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::precision::{Precision, DATA_TYPE_FLOAT16};
use crate::proto::{DimensionValue, ModelProto, ValueInfoProto, DATA_TYPE_FLOAT, DATA_TYPE_INT64};
use srgan_contract::files::{atomic_write_with, AtomicWriteError};

/// Triton's platform for an ONNX model run by its ONNX Runtime backend.
pub const PLATFORM: &str = "onnxruntime_onnx";
/// The model version written.
pub const VERSION: &str = "1";
/// The model file's name in the version folder (Triton's default for `onnxruntime_onnx`).
pub const MODEL_FILE: &str = "model.onnx";
/// The configuration's file name.
pub const CONFIG_FILE: &str = "config.pbtxt";
/// The default `max_batch_size`.
pub const DEFAULT_MAX_BATCH: u32 = 8;
/// How long the dynamic batcher waits for more requests to fill a batch: short next to a
/// super-resolution call (milliseconds and more).
pub const MAX_QUEUE_DELAY_MICROSECONDS: u64 = 100;
/// TensorRT's workspace, `max_workspace_size_bytes` (1 GiB).
pub const TENSORRT_WORKSPACE_BYTES: u64 = 1 << 30;
/// The longest model name accepted (it names a folder, plus a temporary name's suffix).
pub const MAX_NAME_LEN: usize = 200;
/// The name of a model whose checkpoint and output give none (`--random-init` alone).
pub const FALLBACK_NAME: &str = "srgan";

/// Where Triton runs the model's instances (`instance_group.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InstanceKind {
    /// `KIND_GPU`: one group of instances on each GPU (the default).
    #[default]
    Gpu,
    /// `KIND_CPU`.
    Cpu,
}

impl InstanceKind {
    /// The `instance_group.kind` value.
    pub fn triton_kind(self) -> &'static str {
        match self {
            InstanceKind::Gpu => "KIND_GPU",
            InstanceKind::Cpu => "KIND_CPU",
        }
    }

    /// `gpu` or `cpu`, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InstanceKind::Gpu => "gpu",
            InstanceKind::Cpu => "cpu",
        }
    }
}

/// What the configuration says beyond the graph's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TritonOptions {
    /// The model name (see [`validate_name`]).
    pub name: String,
    /// The largest batch Triton forms (0: no batching); used when the graph's batch is
    /// symbolic.
    pub max_batch: u32,
    /// Where the instances run.
    pub instance: InstanceKind,
    /// Instances per device.
    pub count: u32,
    /// Add the TensorRT accelerator to an fp32 model too (an fp16 model on GPU always has it).
    pub tensorrt: bool,
}

/// One input or output of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorConfig {
    /// The graph's value name.
    pub name: String,
    /// Triton's data type, e.g. `TYPE_FP32`.
    pub data_type: &'static str,
    /// The dimensions without the batch when batched; -1 where the graph's is symbolic.
    pub dims: Vec<i64>,
}

/// A Triton model configuration for an exported graph (the subset of Triton's `ModelConfig`
/// this exporter writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// The model name.
    pub name: String,
    /// `max_batch_size`; 0 when the graph's batch is fixed or batching was turned off.
    pub max_batch_size: u32,
    /// The inputs.
    pub inputs: Vec<TensorConfig>,
    /// The outputs.
    pub outputs: Vec<TensorConfig>,
    /// Where the instances run.
    pub instance: InstanceKind,
    /// Instances per device.
    pub count: u32,
    /// The graph's precision (a comment, and TensorRT's `precision_mode`).
    pub precision: Precision,
    /// Whether to add the TensorRT execution accelerator (GPU instances only).
    pub tensorrt: bool,
}

/// Errors of the Triton repository writer; each names the value or the path.
#[derive(Debug, thiserror::Error)]
pub enum TritonError {
    /// A model name Triton (or a URL) would not take.
    #[error("{name:?} is not a valid Triton model name: {why}")]
    Name {
        /// The name.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A graph input or output this writer cannot describe.
    #[error("graph {role} `{name}`: {why}")]
    Interface {
        /// `input` or `output`.
        role: &'static str,
        /// Its name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The graph has no graph.
    #[error("the model has no graph")]
    NoGraph,
    /// The repository folder does not exist.
    #[error("{}: no such folder for the Triton model repository", path.display())]
    NoRepo {
        /// The folder.
        path: PathBuf,
    },
    /// The model folder exists and `overwrite` was not given.
    #[error("{} already exists (pass --overwrite to replace it)", path.display())]
    Exists {
        /// The model folder.
        path: PathBuf,
    },
    /// A file of the model folder could not be written.
    #[error("writing {}", path.display())]
    Write {
        /// The file's final path.
        path: PathBuf,
        /// The cause (it names the temporary path).
        #[source]
        source: AtomicWriteError<std::io::Error>,
    },
    /// A folder could not be created, renamed or removed.
    #[error("{}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Checks a model name: not empty, at most [`MAX_NAME_LEN`] bytes, ASCII letters, digits,
/// `_`, `-` and `.` only (it names a folder and appears in Triton's URLs), not starting with
/// `.` (hidden; `.` and `..`).
pub fn validate_name(name: &str) -> Result<(), TritonError> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 200 bytes")
    } else if name.contains('/') || name.contains('\\') {
        Some("it contains a path separator (use letters, digits, '_', '-' and '.')")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        Some("use ASCII letters, digits, '_', '-' and '.' only")
    } else if name.starts_with('.') {
        Some("it starts with '.'")
    } else {
        None
    };
    match why {
        Some(why) => Err(TritonError::Name {
            name: name.into(),
            why,
        }),
        None => Ok(()),
    }
}

/// A valid model name made from a file stem: characters [`validate_name`] refuses become `_`,
/// leading dots are dropped, the length is cut to [`MAX_NAME_LEN`]; [`FALLBACK_NAME`] when
/// nothing is left.
pub fn sanitize_name(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s: String = s
        .trim_start_matches('.')
        .chars()
        .take(MAX_NAME_LEN)
        .collect();
    if s.is_empty() {
        FALLBACK_NAME.into()
    } else {
        s
    }
}

/// Triton's data type of an ONNX element type.
fn triton_type(elem_type: i32) -> Option<&'static str> {
    match elem_type {
        DATA_TYPE_FLOAT => Some("TYPE_FP32"),
        DATA_TYPE_FLOAT16 => Some("TYPE_FP16"),
        DATA_TYPE_INT64 => Some("TYPE_INT64"),
        _ => None,
    }
}

/// The element type and dims of a graph input or output (-1 for a symbolic or unknown one).
fn interface(
    role: &'static str,
    v: &ValueInfoProto,
) -> Result<(&'static str, Vec<i64>), TritonError> {
    let bad = |why: String| TritonError::Interface {
        role,
        name: v.name.clone(),
        why,
    };
    let (elem, dims) = v
        .tensor_dims()
        .ok_or_else(|| bad("not a tensor of known rank".into()))?;
    let data_type =
        triton_type(elem).ok_or_else(|| bad(format!("element type {elem} is not supported")))?;
    let dims = dims
        .iter()
        .map(|d| match d.value {
            Some(DimensionValue::DimValue(n)) if n >= 0 => n,
            _ => -1,
        })
        .collect();
    Ok((data_type, dims))
}

/// [`interface`] of each value, beside it.
#[allow(clippy::type_complexity)]
fn interfaces<'a>(
    role: &'static str,
    vs: &'a [ValueInfoProto],
) -> Result<Vec<(&'a ValueInfoProto, &'static str, Vec<i64>)>, TritonError> {
    vs.iter()
        .map(|v| interface(role, v).map(|(t, d)| (v, t, d)))
        .collect()
}

impl ModelConfig {
    /// The configuration of `model` (see the module docs for the batch rule).
    pub fn for_model(
        model: &ModelProto,
        precision: Precision,
        opts: &TritonOptions,
    ) -> Result<Self, TritonError> {
        validate_name(&opts.name)?;
        let g = model.graph.as_ref().ok_or(TritonError::NoGraph)?;
        let (inputs, outputs) = (
            interfaces("input", &g.input)?,
            interfaces("output", &g.output)?,
        );
        // Batched when every tensor has a symbolic first dimension and at least one more.
        let symbolic_batch = |v: &ValueInfoProto| {
            v.tensor_dims().is_some_and(|(_, d)| {
                d.len() >= 2 && !matches!(d[0].value, Some(DimensionValue::DimValue(_)))
            })
        };
        let batched = opts.max_batch > 0
            && !inputs.is_empty()
            && inputs
                .iter()
                .chain(&outputs)
                .all(|(v, ..)| symbolic_batch(v));
        let tensors = |vs: Vec<(&ValueInfoProto, &'static str, Vec<i64>)>| {
            vs.into_iter()
                .map(|(v, data_type, dims)| TensorConfig {
                    name: v.name.clone(),
                    data_type,
                    dims: if batched { dims[1..].to_vec() } else { dims },
                })
                .collect()
        };
        Ok(Self {
            name: opts.name.clone(),
            max_batch_size: if batched { opts.max_batch } else { 0 },
            inputs: tensors(inputs),
            outputs: tensors(outputs),
            instance: opts.instance,
            count: opts.count.max(1),
            precision,
            tensorrt: opts.instance == InstanceKind::Gpu
                && (opts.tensorrt || precision == Precision::Fp16),
        })
    }

    /// The configuration in protobuf text format, as Triton reads `config.pbtxt`.
    pub fn to_pbtxt(&self) -> String {
        let mut s = format!(
            "# Triton Inference Server model configuration, written by srgan-export {}.\n\
             # The model is {VERSION}/{MODEL_FILE} ({} arithmetic, f32 input and output).\n",
            crate::exporter::PRODUCER_VERSION,
            self.precision.name(),
        );
        s += &format!("name: {}\n", quote(&self.name));
        s += &format!("platform: {}\n", quote(PLATFORM));
        s += &format!("max_batch_size: {}\n", self.max_batch_size);
        if self.max_batch_size > 0 {
            s += &format!(
                "dynamic_batching {{\n  max_queue_delay_microseconds: \
                 {MAX_QUEUE_DELAY_MICROSECONDS}\n}}\n"
            );
        }
        for (field, tensors) in [("input", &self.inputs), ("output", &self.outputs)] {
            s += &format!("{field} [\n");
            for (i, t) in tensors.iter().enumerate() {
                let dims: Vec<String> = t.dims.iter().map(i64::to_string).collect();
                s += &format!(
                    "  {{\n    name: {}\n    data_type: {}\n    dims: [ {} ]\n  }}{}\n",
                    quote(&t.name),
                    t.data_type,
                    dims.join(", "),
                    if i + 1 < tensors.len() { "," } else { "" }
                );
            }
            s += "]\n";
        }
        s += &format!(
            "instance_group [\n  {{\n    kind: {}\n    count: {}\n  }}\n]\n",
            self.instance.triton_kind(),
            self.count
        );
        if self.tensorrt {
            let mode = match self.precision {
                Precision::Fp16 => "FP16",
                Precision::Fp32 => "FP32",
                // Refused on the command line (the int8 export is for CPUs).
                Precision::Int8 => "INT8",
            };
            s += &format!(
                "optimization {{\n  execution_accelerators {{\n    \
                 gpu_execution_accelerator : [\n      {{\n        name : \"tensorrt\"\n        \
                 parameters {{ key: \"precision_mode\" value: \"{mode}\" }}\n        \
                 parameters {{ key: \"max_workspace_size_bytes\" value: \
                 \"{TENSORRT_WORKSPACE_BYTES}\" }}\n      }}\n    ]\n  }}\n}}\n"
            );
        }
        s
    }
}

/// A protobuf text-format string literal.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// What [`write_repository`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `DIR/NAME`.
    pub dir: PathBuf,
    /// `DIR/NAME/1/model.onnx`.
    pub model: PathBuf,
    /// `DIR/NAME/config.pbtxt`.
    pub config: PathBuf,
}

/// `DIR/NAME` of a model in a repository.
pub fn model_dir(repo: &Path, name: &str) -> PathBuf {
    repo.join(name)
}

const STAGE_SUFFIX: &str = ".triton.tmp";
static STAGES: AtomicUsize = AtomicUsize::new(0);

/// The process id in a temporary folder name of this module, `.NAME.PID.{new,old}N.triton.tmp`.
fn stage_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(STAGE_SUFFIX)?;
    let (rest, tag) = rest.rsplit_once('.')?;
    let (name, pid) = rest.rsplit_once('.')?;
    let numbered = |p: &str| {
        tag.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let plausible = !name.is_empty() && (numbered("new") || numbered("old"));
    plausible.then(|| pid.parse().ok()).flatten()
}

/// Removes (best effort) the temporary folders of this module in `repo` whose process is
/// gone; kept where liveness cannot be told (no `/proc`).
fn remove_stale_stages(repo: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(repo) else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(stage_owner) else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let _ = remove_any(&e.path());
    }
}

/// Removes a folder with its content, or a file (a link is removed, not followed).
fn remove_any(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// A fresh temporary path in `repo` for `name` (`tag` is `new` or `old`).
fn stage_path(repo: &Path, name: &str, tag: &str) -> PathBuf {
    let n = STAGES.fetch_add(1, Ordering::Relaxed);
    repo.join(format!(
        ".{name}.{}.{tag}{n}{STAGE_SUFFIX}",
        std::process::id()
    ))
}

/// A temporary folder, removed when dropped unless published.
struct Stage {
    path: PathBuf,
    published: bool,
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.published {
            let _ = remove_any(&self.path);
        }
    }
}

/// Writes `DIR/NAME/config.pbtxt` and `DIR/NAME/1/model.onnx` (`model` encoded as `-o` writes
/// it) as one complete folder (see the module docs); `repo` must exist. Without `overwrite`
/// an existing `DIR/NAME` is an [`TritonError::Exists`] and is left untouched.
pub fn write_repository(
    repo: &Path,
    config: &ModelConfig,
    model: &ModelProto,
    overwrite: bool,
) -> Result<Written, TritonError> {
    validate_name(&config.name)?;
    if !repo.is_dir() {
        return Err(TritonError::NoRepo { path: repo.into() });
    }
    let dest = model_dir(repo, &config.name);
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if !overwrite && exists(&dest) {
        return Err(TritonError::Exists { path: dest });
    }
    remove_stale_stages(repo);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TritonError::Io { path, source }
    };
    let mut stage = Stage {
        path: stage_path(repo, &config.name, "new"),
        published: false,
    };
    std::fs::create_dir(&stage.path).map_err(io(&stage.path))?;
    let version = stage.path.join(VERSION);
    std::fs::create_dir(&version).map_err(io(&version))?;
    let written = Written {
        model: dest.join(VERSION).join(MODEL_FILE),
        config: dest.join(CONFIG_FILE),
        dir: dest.clone(),
    };
    let bytes = prost::Message::encode_to_vec(model);
    atomic_write_with(&version.join(MODEL_FILE), false, |w| w.write_all(&bytes)).map_err(
        |source| TritonError::Write {
            path: written.model.clone(),
            source,
        },
    )?;
    let text = config.to_pbtxt();
    atomic_write_with(&stage.path.join(CONFIG_FILE), false, |w| {
        w.write_all(text.as_bytes())
    })
    .map_err(|source| TritonError::Write {
        path: written.config.clone(),
        source,
    })?;
    // Publish: one rename, or (overwrite) the old folder aside, the new one in, the old gone.
    let old = if exists(&dest) {
        if !overwrite {
            return Err(TritonError::Exists { path: dest });
        }
        let old = stage_path(repo, &config.name, "old");
        std::fs::rename(&dest, &old).map_err(io(&dest))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&stage.path, &dest) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, &dest);
        }
        return Err(match e.kind() {
            std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty
                if !overwrite =>
            {
                TritonError::Exists { path: dest }
            }
            _ => TritonError::Io {
                path: dest,
                source: e,
            },
        });
    }
    stage.published = true;
    if let Some(old) = old {
        // Best effort: a folder left here is removed by a later write into the repository.
        let _ = remove_any(&old);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Dimension, GraphProto};
    use srgan_contract::metadata::{INPUT_NAME, OUTPUT_NAME};

    fn graph(batch: Dimension) -> ModelProto {
        let io = |name: &str, h: &str, w: &str| {
            ValueInfoProto::f32_tensor(
                name,
                vec![
                    batch.clone(),
                    Dimension::fixed(3),
                    Dimension::symbol(h),
                    Dimension::symbol(w),
                ],
            )
        };
        ModelProto {
            graph: Some(GraphProto {
                input: vec![io(INPUT_NAME, "H", "W")],
                output: vec![io(OUTPUT_NAME, "H_out", "W_out")],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn opts() -> TritonOptions {
        TritonOptions {
            name: "sr_x4".into(),
            max_batch: DEFAULT_MAX_BATCH,
            instance: InstanceKind::Gpu,
            count: 1,
            tensorrt: false,
        }
    }

    #[test]
    fn a_symbolic_batch_is_batched_and_left_out_of_dims() {
        let c = ModelConfig::for_model(&graph(Dimension::symbol("N")), Precision::Fp32, &opts())
            .unwrap();
        assert_eq!(c.max_batch_size, 8);
        assert_eq!(c.inputs[0].name, INPUT_NAME);
        assert_eq!(c.outputs[0].name, OUTPUT_NAME);
        assert_eq!(c.inputs[0].dims, [3, -1, -1]);
        assert_eq!(c.outputs[0].dims, [3, -1, -1]);
        assert_eq!(c.inputs[0].data_type, "TYPE_FP32");
        assert!(!c.tensorrt);
        let text = c.to_pbtxt();
        for want in [
            "name: \"sr_x4\"\n",
            "platform: \"onnxruntime_onnx\"\n",
            "max_batch_size: 8\n",
            "dynamic_batching {\n  max_queue_delay_microseconds: 100\n}\n",
            "input [\n  {\n    name: \"lr\"\n    data_type: TYPE_FP32\n    dims: [ 3, -1, -1 ]\n  }\n]\n",
            "output [\n  {\n    name: \"sr\"\n",
            "instance_group [\n  {\n    kind: KIND_GPU\n    count: 1\n  }\n]\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        assert!(!text.contains("tensorrt"), "{text}");
    }

    #[test]
    fn a_fixed_batch_is_not_batched_and_kept_in_dims() {
        let c =
            ModelConfig::for_model(&graph(Dimension::fixed(1)), Precision::Fp32, &opts()).unwrap();
        assert_eq!(c.max_batch_size, 0);
        assert_eq!(c.inputs[0].dims, [1, 3, -1, -1]);
        assert!(!c.to_pbtxt().contains("dynamic_batching"));
        // So is a symbolic one with batching turned off.
        let off = TritonOptions {
            max_batch: 0,
            ..opts()
        };
        let c =
            ModelConfig::for_model(&graph(Dimension::symbol("N")), Precision::Fp32, &off).unwrap();
        assert_eq!(
            (c.max_batch_size, c.inputs[0].dims.clone()),
            (0, vec![-1, 3, -1, -1])
        );
    }

    #[test]
    fn fp16_on_gpu_gets_tensorrt_in_fp16_and_cpu_gets_none() {
        let m = graph(Dimension::symbol("N"));
        let text = ModelConfig::for_model(&m, Precision::Fp16, &opts())
            .unwrap()
            .to_pbtxt();
        assert!(text.contains("name : \"tensorrt\""), "{text}");
        assert!(
            text.contains("key: \"precision_mode\" value: \"FP16\""),
            "{text}"
        );
        assert!(
            text.contains("key: \"max_workspace_size_bytes\" value: \"1073741824\""),
            "{text}"
        );
        let forced = TritonOptions {
            tensorrt: true,
            ..opts()
        };
        let text = ModelConfig::for_model(&m, Precision::Fp32, &forced)
            .unwrap()
            .to_pbtxt();
        assert!(text.contains("value: \"FP32\""), "{text}");
        let cpu = TritonOptions {
            instance: InstanceKind::Cpu,
            count: 2,
            ..opts()
        };
        let text = ModelConfig::for_model(&m, Precision::Fp16, &cpu)
            .unwrap()
            .to_pbtxt();
        assert!(text.contains("kind: KIND_CPU\n    count: 2\n"), "{text}");
        assert!(!text.contains("tensorrt"), "{text}");
    }

    #[test]
    fn names_are_validated_and_stems_sanitized() {
        for ok in ["sr", "RealESRGAN_x4plus", "model.v2", "a-b"] {
            validate_name(ok).unwrap();
            assert_eq!(sanitize_name(ok), ok);
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", "é"] {
            let e = validate_name(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert_eq!(sanitize_name("my model (v2)"), "my_model__v2_");
        assert_eq!(sanitize_name("..x"), "x");
        assert_eq!(sanitize_name("..."), FALLBACK_NAME);
        assert_eq!(sanitize_name(&"a".repeat(300)).len(), MAX_NAME_LEN);
        for s in ["", "/", "a b", "ü.x"] {
            validate_name(&sanitize_name(s)).unwrap();
        }
    }

    #[test]
    fn stage_names_are_recognised() {
        assert_eq!(stage_owner(".sr.123.new0.triton.tmp"), Some(123));
        assert_eq!(stage_owner(".model.v2.7.old12.triton.tmp"), Some(7));
        for other in [
            "sr",
            ".sr.123.new.triton.tmp",
            ".sr.123.x0.triton.tmp",
            ".123.new0.triton.tmp",
            ".sr.123.new0.tmp",
            ".sr.abc.new0.triton.tmp",
        ] {
            assert_eq!(stage_owner(other), None, "{other}");
        }
    }
}
