//! The generator checkpoint contract shared by the trainer (`srgan-models`), the exporter and
//! the reference forward pass.
//!
//! A checkpoint is a safetensors file holding every generator tensor as little-endian f32 under
//! a stable name, BatchNorm running statistics included, and the architecture in the file's
//! `__metadata__` under the key [`META_CONFIG`] as the tagged JSON of
//! [`srgan_contract::Architecture`] (older checkpoints hold the untagged SRResNet JSON; both
//! load). The network, its tensor names and shapes are described in
//! [`srgan_contract::architecture`].

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
pub use srgan_contract::architecture::{BODY_KERNEL, HEAD_TAIL_KERNEL};
use srgan_contract::checksum;
pub use srgan_contract::{
    Architecture, ArchitectureError, ConfigError, GeneratorConfig, ParamRole, ParamSpec,
};

/// Metadata key holding the architecture as JSON.
pub const META_CONFIG: &str = srgan_contract::metadata::keys::CHECKPOINT_GENERATOR;
/// Metadata key holding the format name, always [`FORMAT_NAME`].
pub const META_FORMAT: &str = "format";
/// Value of [`META_FORMAT`] in every generator checkpoint.
pub const FORMAT_NAME: &str = "srgan-generator-v1";

/// Errors when building, reading or writing a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error("{path}: not a safetensors checkpoint")]
    Format {
        /// The file.
        path: PathBuf,
        /// The safetensors error.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// The tensors do not match the checksum the file records: the file is damaged.
    #[error("{path}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The two checksums.
        #[source]
        source: checksum::Mismatch,
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
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The architecture in the metadata cannot be read.
    #[error("{path}: metadata key `{key}`", key = META_CONFIG)]
    Architecture {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ArchitectureError,
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
    pub config: Architecture,
    /// Tensors by stable name (see [`GeneratorConfig::param_specs`]).
    pub tensors: BTreeMap<String, Tensor>,
    /// Extra metadata carried through to the exported graph (e.g. training provenance).
    pub extra_metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// A generator with random weights: PyTorch-like uniform init for convolutions, slopes
    /// near 0.25, and deliberately non-trivial BatchNorm statistics so that folding is tested.
    pub fn random_init(
        config: impl Into<Architecture>,
        seed: u64,
    ) -> Result<Self, CheckpointError> {
        let config: Architecture = config.into();
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
        extra_metadata.insert(
            srgan_contract::metadata::keys::WEIGHTS.into(),
            format!("random-init seed={seed}"),
        );
        Ok(Self {
            config,
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
        let format_err = |source| CheckpointError::Format {
            path: path.into(),
            source,
        };
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(format_err)?;
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(format_err)?;
        let md: HashMap<String, String> = meta.metadata().clone().unwrap_or_default();
        let views = st.tensors();
        checksum::verify(
            md.get(checksum::KEY).map(String::as_str),
            views.iter().map(|(n, v)| (n.as_str(), v.data())),
        )
        .map_err(|source| CheckpointError::Checksum {
            path: path.into(),
            source,
        })?;
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
        let arch =
            Architecture::from_json(cfg_json).map_err(|source| CheckpointError::Architecture {
                path: path.into(),
                source,
            })?;
        let config = arch;
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
            .filter(|(k, _)| k != META_CONFIG && k != META_FORMAT && k != checksum::KEY)
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
        md.insert(META_CONFIG.into(), self.config.to_json());
        let raw: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, t)| {
                let bytes = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (n.clone(), t.shape.clone(), bytes)
            })
            .collect();
        md.insert(
            checksum::KEY.into(),
            checksum::of_tensors(raw.iter().map(|(n, _, b)| (n.as_str(), b.as_slice()))),
        );
        let views = raw.iter().map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .expect("sizes agree"),
            )
        });
        safetensors::serialize(views, Some(md)).map_err(|source| CheckpointError::Format {
            path: PathBuf::new(),
            source,
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

/// Writes `bytes` to `path` atomically ([`srgan_contract::files`]): a temporary file in the
/// same folder, synced, then renamed, so that `path` never holds a partial file. The
/// temporary file is removed on failure.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    use srgan_contract::files::AtomicWriteError;
    srgan_contract::files::atomic_write(path, bytes).map_err(|e| match e {
        AtomicWriteError::Io { path, source } => CheckpointError::Io { path, source },
        AtomicWriteError::Content(source) => CheckpointError::Io {
            path: path.into(),
            source,
        },
        AtomicWriteError::Exists(path) => CheckpointError::Io {
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            path,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A damaged value (finite, so nothing else notices) is a checksum error naming the file;
    /// a file without a checksum (written before there was one) still loads.
    #[test]
    fn a_damaged_checkpoint_fails_its_checksum() {
        let ck = Checkpoint::random_init(GeneratorConfig::new(1, 4, 2), 1).unwrap();
        let mut bytes = ck.to_bytes().unwrap();
        assert!(Checkpoint::from_bytes(&bytes, Path::new("ok.safetensors")).is_ok());
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&1.0e6f32.to_le_bytes());
        let e = Checkpoint::from_bytes(&bytes, Path::new("bad.safetensors")).unwrap_err();
        assert!(matches!(e, CheckpointError::Checksum { .. }), "{e}");
        let line = srgan_contract::report::one_line(&e);
        assert!(
            line.contains("bad.safetensors") && line.contains("damaged"),
            "{line}"
        );
        // The shipped checkpoints predate the checksum, and load.
        let shipped =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/x4/srresnet_x4.safetensors");
        Checkpoint::load(&shipped).unwrap();
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
        other.config = GeneratorConfig::new(3, 8, 4).into();
        let err = Checkpoint::from_bytes(&other.to_bytes().unwrap(), Path::new("x")).unwrap_err();
        assert!(
            err.to_string().contains("missing tensor `blocks.2"),
            "{err}"
        );

        assert!(Checkpoint::from_bytes(b"garbage", Path::new("x")).is_err());
        assert!(GeneratorConfig::new(1, 8, 3).validate().is_err());
    }
}
