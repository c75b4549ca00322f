//! Community weights, loaded directly: PyTorch `.pth` files (through [`crate::pth`], no
//! libtorch) and `.safetensors` files in BasicSR / Real-ESRGAN layouts, with the architecture
//! and its hyper-parameters detected from the tensor names and shapes, as spandrel does.
//!
//! Containers: a bare `state_dict`, or `{"params_ema": ...}` / `{"params": ...}` (BasicSR and
//! Real-ESRGAN releases; `params_ema` wins when both are there). Tensors may be stored as
//! f16, bf16, f32 or f64; they are widened to f32 (exactly, except f64).
//!
//! Detected architectures ([`detect`]):
//!
//! - RRDBNet: `conv_first.weight` `[F, 3*u*u, 3, 3]` and `body.{i}.rdb1.conv1.weight`
//!   `[G, F, 3, 3]`; the scale follows from the unshuffle factor `u` (1 -> x4, 2 -> x2,
//!   4 -> x1), the block count from the highest `i`.
//! - SRVGGNetCompact: `body.0.weight` `[F, 3, 3, 3]`, the last conv `body.{2+2n}.weight`
//!   `[3*s*s, F, 3, 3]` gives `n` and the scale `s` (3 outputs: x1); PReLU slopes
//!   `body.1.weight` `[F]`.
//!
//! An srgan checkpoint (`.safetensors` with the `format` metadata) loads as usual.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::checkpoint::{Checkpoint, CheckpointError, Tensor, FORMAT_NAME, META_FORMAT};
use crate::pth::{read_pth, PthError};
use srgan_contract::{Architecture, RrdbConfig, SrVggConfig};

/// Why a weights file cannot be imported. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The `.pth` file cannot be read.
    #[error(transparent)]
    Pth(#[from] PthError),
    /// The `.safetensors` file cannot be parsed.
    #[error("{path}: not a safetensors file")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// Neither `.pth`/`.pt` nor `.safetensors`.
    #[error("{path}: unknown weights format: expected .safetensors, .pth or .pt")]
    Extension {
        /// The file.
        path: PathBuf,
    },
    /// A tensor's dtype is not a float type.
    #[error("{path}: tensor `{name}` is {dtype}: expected f16, bf16, f32 or f64")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// Its dtype.
        dtype: String,
    },
    /// No architecture matches the tensor names.
    #[error(
        "{path}: unknown layout: {count} tensors{container} (first: {first}); expected RRDBNet \
         (`conv_first.weight`, `body.N.rdbK.convJ.weight`) or SRVGGNetCompact (`body.0.weight` \
         ... `body.N.weight`) in BasicSR / Real-ESRGAN names"
    )]
    UnknownLayout {
        /// The file.
        path: PathBuf,
        /// How many tensors.
        count: usize,
        /// ` in `params_ema`` or empty.
        container: String,
        /// The first few names.
        first: String,
    },
    /// The names say which architecture, but the shapes do not fit it.
    #[error("{path}: looks like {arch}, but {reason}")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// The architecture the names suggest.
        arch: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// The tensors do not match the detected architecture (or an srgan checkpoint is bad).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl ImportError {
    /// The file the error is about (`None` only for a checkpoint error without one).
    pub fn path(&self) -> Option<&Path> {
        match self {
            ImportError::Io { path, .. }
            | ImportError::Safetensors { path, .. }
            | ImportError::Extension { path }
            | ImportError::Dtype { path, .. }
            | ImportError::UnknownLayout { path, .. }
            | ImportError::Inconsistent { path, .. } => Some(path),
            ImportError::Pth(e) => Some(e.path()),
            ImportError::Checkpoint(_) => None,
        }
    }
}

/// A weights file's tensors as read, before detection.
#[derive(Debug, Clone)]
pub struct NamedTensors {
    /// Tensors in file order, names as stored (container prefixes included).
    pub tensors: Vec<(String, Tensor)>,
    /// The stored dtypes, e.g. `["F16"]`.
    pub dtypes: Vec<String>,
}

/// Reads every tensor of a `.pth`/`.pt` or (non-srgan) `.safetensors` file, widened to f32.
pub fn read_tensors(path: &Path) -> Result<NamedTensors, ImportError> {
    match extension(path).as_str() {
        "pth" | "pt" => pth_tensors(path),
        "safetensors" => safetensors_tensors(&read(path)?, path),
        _ => Err(ImportError::Extension { path: path.into() }),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ImportError> {
    std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.into(),
        source,
    })
}

impl NamedTensors {
    /// Tensors with their stored dtypes, in file order.
    fn collect(
        items: impl IntoIterator<Item = Result<(String, Tensor, String), ImportError>>,
    ) -> Result<Self, ImportError> {
        let (mut tensors, mut dtypes) = (Vec::new(), Vec::<String>::new());
        for item in items {
            let (name, t, dtype) = item?;
            if !dtypes.contains(&dtype) {
                dtypes.push(dtype);
            }
            tensors.push((name, t));
        }
        Ok(Self { tensors, dtypes })
    }
}

fn pth_tensors(path: &Path) -> Result<NamedTensors, ImportError> {
    NamedTensors::collect(read_pth(path)?.into_iter().map(|(name, t)| {
        if !t.dtype.is_float() {
            return Err(ImportError::Dtype {
                path: path.into(),
                name,
                dtype: t.dtype.to_string(),
            });
        }
        Ok((name, Tensor::new(t.shape, t.data), t.dtype.to_string()))
    }))
}

/// The tensors of a `.safetensors` file held in memory; `path` is only used in errors.
fn safetensors_tensors(bytes: &[u8], path: &Path) -> Result<NamedTensors, ImportError> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|source| {
        ImportError::Safetensors {
            path: path.into(),
            source,
        }
    })?;
    // `tensors()` has no stable order; the header's offsets give the file's.
    let mut views = st.tensors();
    views.sort_by_key(|(_, v)| v.data().as_ptr() as usize);
    NamedTensors::collect(views.into_iter().map(|(name, view)| {
        let dtype = format!("{:?}", view.dtype());
        let data = widen(view.dtype(), view.data()).ok_or_else(|| ImportError::Dtype {
            path: path.into(),
            name: name.clone(),
            dtype: dtype.clone(),
        })?;
        Ok((name, Tensor::new(view.shape().to_vec(), data), dtype))
    }))
}

/// Little-endian values of a float dtype as f32; `None` for other dtypes.
fn widen(dtype: safetensors::Dtype, b: &[u8]) -> Option<Vec<f32>> {
    use safetensors::Dtype;
    Some(match dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    })
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether `.safetensors` bytes are an srgan generator checkpoint (its `format` metadata).
fn is_srgan_checkpoint(bytes: &[u8], path: &Path) -> Result<bool, ImportError> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|source| {
        ImportError::Safetensors {
            path: path.into(),
            source,
        }
    })?;
    Ok(meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_FORMAT))
        .is_some_and(|f| f == FORMAT_NAME))
}

/// Loads any supported weights file as a validated [`Checkpoint`]: an srgan checkpoint as is,
/// community weights with their architecture detected. The checkpoint's
/// `srgan.weights` metadata says where imported weights came from.
pub fn load_weights(path: &Path) -> Result<Checkpoint, ImportError> {
    // A .safetensors file is read once, whichever kind it turns out to be.
    let named = if extension(path) == "safetensors" {
        let bytes = read(path)?;
        if is_srgan_checkpoint(&bytes, path)? {
            return Ok(Checkpoint::from_bytes(&bytes, path)?);
        }
        safetensors_tensors(&bytes, path)?
    } else {
        read_tensors(path)?
    };
    let (container, tensors) = strip_container(named.tensors);
    let arch = detect(path, &tensors, container)?;
    let mut extra = BTreeMap::new();
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    extra.insert(
        srgan_contract::metadata::keys::WEIGHTS.to_string(),
        format!(
            "imported from {file} ({}, {})",
            container.unwrap_or("state dict"),
            named.dtypes.join("+")
        ),
    );
    let ck = Checkpoint {
        config: arch,
        tensors: tensors.into_iter().collect(),
        extra_metadata: extra,
    };
    ck.validate(path)?;
    Ok(ck)
}

/// Picks BasicSR's `params_ema`, else `params`, else the whole file, and strips the prefix.
fn strip_container(
    tensors: Vec<(String, Tensor)>,
) -> (Option<&'static str>, Vec<(String, Tensor)>) {
    for key in ["params_ema", "params"] {
        let prefix = format!("{key}.");
        if tensors.iter().any(|(n, _)| n.starts_with(&prefix)) {
            let inner = tensors
                .into_iter()
                .filter_map(|(n, t)| n.strip_prefix(&prefix).map(|s| (s.to_string(), t)))
                .collect();
            return (Some(key), inner);
        }
    }
    (None, tensors)
}

/// Detects the architecture of a state dict from its names and shapes.
pub fn detect(
    path: &Path,
    tensors: &[(String, Tensor)],
    container: Option<&str>,
) -> Result<Architecture, ImportError> {
    let by_name: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let shape = |n: &str| by_name.get(n).map(|t| t.shape.as_slice());
    let inconsistent = |arch, reason: String| ImportError::Inconsistent {
        path: path.into(),
        arch,
        reason,
    };
    // RRDBNet.
    if let (Some(first), Some(rdb)) = (
        shape("conv_first.weight"),
        shape("body.0.rdb1.conv1.weight"),
    ) {
        const ARCH: &str = "RRDBNet";
        let ([f, cin, 3, 3], [g, f2, 3, 3]) = (first, rdb) else {
            return Err(inconsistent(
                ARCH,
                format!("conv_first.weight is {first:?} and body.0.rdb1.conv1.weight {rdb:?}: expected [F, 3*u*u, 3, 3] and [G, F, 3, 3]"),
            ));
        };
        if f != f2 {
            return Err(inconsistent(
                ARCH,
                format!("conv_first has {f} outputs and body.0.rdb1.conv1 {f2} inputs"),
            ));
        }
        let scale = match cin {
            3 => 4,
            12 => 2,
            48 => 1,
            _ => {
                return Err(inconsistent(
                    ARCH,
                    format!("conv_first.weight has {cin} input channels: expected 3 (x4), 12 (x2) or 48 (x1)"),
                ))
            }
        };
        let blocks = count_indexed(tensors, "body.", ".rdb1.conv1.weight");
        return Ok(RrdbConfig::new(blocks, *f, *g, scale).into());
    }
    // SRVGGNetCompact.
    if let Some(first) = shape("body.0.weight") {
        const ARCH: &str = "SRVGGNetCompact";
        let [f, 3, 3, 3] = first else {
            return Err(inconsistent(
                ARCH,
                format!("body.0.weight is {first:?}: expected [F, 3, 3, 3]"),
            ));
        };
        let last = tensors
            .iter()
            .filter(|(_, t)| t.shape.len() == 4)
            .filter_map(|(n, _)| index_between(n, "body.", ".weight"))
            .max()
            .unwrap_or(0);
        if last < 2 || last % 2 != 0 {
            return Err(inconsistent(
                ARCH,
                format!("its last convolution is body.{last}: expected body.{{2 + 2n}}"),
            ));
        }
        let out = shape(&format!("body.{last}.weight")).map_or(0, |s| s[0]);
        // 3 outputs: scale 1 (a restoration model at the input's size, e.g. a denoiser).
        let scale = (1..=4).find(|s| 3 * s * s == out).ok_or_else(|| {
            inconsistent(
                ARCH,
                format!(
                    "body.{last} has {out} outputs: expected 3*s*s for a scale s of 1, 2, 3 or 4"
                ),
            )
        })?;
        if shape("body.1.weight").is_none() {
            return Err(inconsistent(
                ARCH,
                "it has no PReLU slopes (`body.1.weight`): a ReLU or LeakyReLU model cannot be \
                 told apart by its weights, and only PReLU ones are detected"
                    .into(),
            ));
        }
        return Ok(SrVggConfig::new((last - 2) / 2, *f, scale).into());
    }
    let first: Vec<String> = tensors
        .iter()
        .take(4)
        .map(|(n, _)| format!("`{n}`"))
        .collect();
    Err(ImportError::UnknownLayout {
        path: path.into(),
        count: tensors.len(),
        container: container.map_or_else(String::new, |c| format!(" in `{c}`")),
        first: if first.is_empty() {
            "none".into()
        } else {
            first.join(", ")
        },
    })
}

/// `1 + ` the highest `i` of names `{prefix}{i}{suffix}`, or 0.
fn count_indexed(tensors: &[(String, Tensor)], prefix: &str, suffix: &str) -> usize {
    tensors
        .iter()
        .filter_map(|(n, _)| index_between(n, prefix, suffix))
        .max()
        .map_or(0, |i| i + 1)
}

/// `i` of a name `{prefix}{i}{suffix}`.
fn index_between(name: &str, prefix: &str, suffix: &str) -> Option<usize> {
    name.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(arch: impl Into<Architecture>) -> Vec<(String, Tensor)> {
        let ck = Checkpoint::random_init(arch, 1).unwrap();
        ck.tensors.into_iter().collect()
    }

    #[test]
    fn detects_every_architecture_from_names_and_shapes() {
        for arch in [
            Architecture::from(RrdbConfig::new(3, 8, 4, 4)),
            RrdbConfig::new(1, 8, 4, 2).into(),
            RrdbConfig::new(2, 6, 2, 1).into(),
            SrVggConfig::new(4, 8, 2).into(),
            SrVggConfig::new(0, 8, 3).into(),
            SrVggConfig::new(16, 8, 4).into(),
            // x1 (last conv 3 outputs), also with no body conv between first and last.
            SrVggConfig::new(2, 8, 1).into(),
            SrVggConfig::new(0, 4, 1).into(),
        ] {
            let got = detect(Path::new("m.pth"), &named(arch.clone()), None).unwrap();
            assert_eq!(got, arch);
        }
    }

    #[test]
    fn containers_are_unwrapped_params_ema_first() {
        let t = |v| Tensor::new(vec![1], vec![v]);
        let (c, inner) = strip_container(vec![
            ("params.a".into(), t(1.0)),
            ("params_ema.a".into(), t(2.0)),
        ]);
        assert_eq!(c, Some("params_ema"));
        assert_eq!(inner, vec![("a".to_string(), t(2.0))]);
        let (c, inner) = strip_container(vec![("a".into(), t(3.0))]);
        assert_eq!((c, inner.len()), (None, 1));
    }

    #[test]
    fn unknown_and_inconsistent_layouts_say_what_they_saw() {
        let t = |s: Vec<usize>| Tensor::new(s.clone(), vec![0.0; s.iter().product()]);
        let e = detect(
            Path::new("odd.pth"),
            &[("features.0.weight".into(), t(vec![64, 3, 3, 3]))],
            Some("params"),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("odd.pth")
                && msg.contains("`features.0.weight`")
                && msg.contains("params"),
            "{msg}"
        );
        let mut rrdb = named(RrdbConfig::new(1, 8, 4, 4));
        for (n, v) in &mut rrdb {
            if n == "conv_first.weight" {
                *v = t(vec![8, 5, 3, 3]);
            }
        }
        let msg = detect(Path::new("x.pth"), &rrdb, None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("RRDBNet") && msg.contains("5 input channels"),
            "{msg}"
        );
        let mut vgg = named(SrVggConfig::new(2, 8, 4));
        vgg.retain(|(n, _)| n != "body.6.weight");
        let vgg: Vec<_> = vgg
            .into_iter()
            .map(|(n, v)| {
                if n == "body.6.bias" {
                    (n, t(vec![7]))
                } else {
                    (n, v)
                }
            })
            .collect();
        // body.6 gone: body.4 is now the last conv, with 8 outputs (not 3*s*s).
        let msg = detect(Path::new("v.pth"), &vgg, None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("SRVGGNetCompact") && msg.contains("body.4"),
            "{msg}"
        );
    }
}
