//! What an ONNX model says about itself: the `metadata_props` keys that `srgan-export` writes
//! and every reader uses ([`keys`]), the graph's input and output names, and the typed view
//! [`ModelInfo`] that the runtimes, `srgan-run`, `srgan-eval` and the tiler read.
//!
//! [`read_model_info`] decodes only a model's top-level fields with the [`crate::proto`]
//! codec (the graph is skipped, not copied), so reading the metadata of a large model is
//! cheap, and no runtime is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::architecture::{Architecture, ArchitectureError};

/// The `metadata_props` keys of an exported model.
pub mod keys {
    /// Upscaling factor, e.g. `"4"`.
    pub const SCALE: &str = "srgan.scale";
    /// Receptive-field radius in LR pixels, e.g. `"40"`: the tile padding that makes tiled
    /// output equal untiled output.
    pub const RECEPTIVE_FIELD_RADIUS: &str = "srgan.receptive_field_radius";
    /// Effective receptive-field radius in LR pixels, measured (`srgan-pad`): beyond it, the
    /// input moves no output by more than [`EFFECTIVE_RADIUS_TOLERANCE`]. Tiling pads with it
    /// when the exact radius is impractically large or unknown.
    pub const EFFECTIVE_RADIUS: &str = "srgan.effective_radius";
    /// The tolerance [`EFFECTIVE_RADIUS`] was measured at, and how, e.g.
    /// `"0.25 levels of 255 (srgan-pad, ort, 3 probes)"`.
    pub const EFFECTIVE_RADIUS_TOLERANCE: &str = "srgan.effective_radius_tolerance";
    /// Always `"RGB"`.
    pub const COLOUR_ORDER: &str = "srgan.colour_order";
    /// Always `"NCHW"`.
    pub const LAYOUT: &str = "srgan.layout";
    /// Value range of the graph input, always `"[0,1]"`.
    pub const INPUT_RANGE: &str = "srgan.input_range";
    /// Value range of the graph output, always `"[0,1]"`.
    pub const OUTPUT_RANGE: &str = "srgan.output_range";
    /// The LR range the network was trained on, e.g. `"[0,1]"` (already handled in the graph).
    pub const TRAINING_LR_RANGE: &str = "srgan.training_lr_range";
    /// The HR range the network was trained on, e.g. `"[-1,1]"` (already handled in the graph).
    pub const TRAINING_HR_RANGE: &str = "srgan.training_hr_range";
    /// The [`crate::Architecture`] as JSON (see [`crate::Architecture::to_json`]).
    pub const ARCHITECTURE: &str = "srgan.architecture";
    /// The graph's arithmetic precision, `"fp16"` or `"int8"`; absent for fp32 (the default).
    pub const PRECISION: &str = "srgan.precision";
    /// For an int8 graph: how its activations were calibrated (method, crops, folder) and
    /// how close it came to the fp32 graph on them.
    pub const INT8_CALIBRATION: &str = "srgan.int8_calibration";
    /// `"srgan-export <version>"`.
    pub const PRODUCER: &str = "srgan.producer";
    /// Where the weights came from, e.g. `"random-init seed=7"` (checkpoints and models).
    pub const WEIGHTS: &str = "srgan.weights";
    /// Checkpoint metadata: the architecture JSON of a generator checkpoint.
    pub const CHECKPOINT_GENERATOR: &str = "srgan.generator";
    /// Checkpoint metadata: the training iteration a checkpoint was written at.
    pub const TRAIN_ITERATION: &str = "srgan.train.iteration";
    /// Checkpoint metadata: the training phase (`srresnet` or `srgan`).
    pub const TRAIN_PHASE: &str = "srgan.train.phase";
    /// Checkpoint metadata: the validation PSNR at that iteration.
    pub const TRAIN_VAL_PSNR: &str = "srgan.train.val_psnr";
}

/// Name of the graph input.
pub const INPUT_NAME: &str = "lr";
/// Name of the graph output.
pub const OUTPUT_NAME: &str = "sr";
/// The largest `srgan.scale` a model may declare.
pub const MAX_SCALE: usize = 16;
/// The largest `srgan.receptive_field_radius` a model may declare, in LR pixels.
pub const MAX_RECEPTIVE_FIELD_RADIUS: usize = 4096;

/// `[lo,hi]` with the shortest float formatting, e.g. `[-1,1]`.
pub fn format_range(r: [f32; 2]) -> String {
    format!("[{},{}]", r[0], r[1])
}

/// The `srgan.*` metadata that describes a network of this architecture, in the order they
/// are written (the producer is the writer's to add).
pub fn architecture_props(arch: &Architecture) -> Vec<(&'static str, String)> {
    let (lr, hr) = (arch.lr_range(), arch.hr_range());
    vec![
        (keys::SCALE, arch.scale().to_string()),
        (
            keys::RECEPTIVE_FIELD_RADIUS,
            arch.receptive_field_radius().to_string(),
        ),
        (keys::COLOUR_ORDER, "RGB".into()),
        (keys::LAYOUT, "NCHW".into()),
        (keys::INPUT_RANGE, "[0,1]".into()),
        (keys::OUTPUT_RANGE, "[0,1]".into()),
        (keys::TRAINING_LR_RANGE, format_range(lr)),
        (keys::TRAINING_HR_RANGE, format_range(hr)),
        (keys::ARCHITECTURE, arch.to_json()),
    ]
}

/// A metadata value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// A number out of range or not a number.
    #[error("metadata `{key}` is `{value}`: expected {expected}")]
    Value {
        /// The key.
        key: &'static str,
        /// The value found (shortened).
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The architecture JSON does not parse or is out of range.
    #[error("metadata `{key}`", key = keys::ARCHITECTURE)]
    Architecture {
        /// Why.
        #[source]
        source: ArchitectureError,
    },
}

/// Why a model's metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelInfoError {
    /// The file could not be read.
    #[error("{path}")]
    Io {
        /// The model file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model.
    #[error("{path}")]
    NotOnnx {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ParseError,
    },
    /// A metadata value is unusable.
    #[error("{path}")]
    Metadata {
        /// The model file.
        path: PathBuf,
        /// Which value, and why.
        #[source]
        source: MetadataError,
    },
}

/// Metadata of a super-resolution ONNX model. Every field is optional: a foreign model has
/// none of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelInfo {
    /// `srgan.scale`: the upscaling factor, 1..=[`MAX_SCALE`].
    pub scale: Option<usize>,
    /// `srgan.receptive_field_radius`: in LR pixels, at most [`MAX_RECEPTIVE_FIELD_RADIUS`].
    pub receptive_field_radius: Option<usize>,
    /// `srgan.effective_radius`: measured, in LR pixels, at most
    /// [`MAX_RECEPTIVE_FIELD_RADIUS`].
    pub effective_radius: Option<usize>,
    /// `srgan.colour_order`, e.g. `RGB`.
    pub colour_order: Option<String>,
    /// `srgan.layout`, e.g. `NCHW`.
    pub layout: Option<String>,
    /// `srgan.architecture`: the network.
    pub architecture: Option<Architecture>,
    /// The model's `producer_name` and `producer_version`.
    pub producer: Option<String>,
    /// Every metadata_props entry.
    pub props: BTreeMap<String, String>,
}

impl ModelInfo {
    /// The typed view of raw `metadata_props`. A key that is present but unusable (not a
    /// number, out of range, an architecture that does not parse or disagrees with
    /// `srgan.scale`) is an error naming the key.
    pub fn from_props(
        props: BTreeMap<String, String>,
        producer: Option<String>,
    ) -> Result<Self, MetadataError> {
        let number = |key: &'static str, lo: usize, hi: usize| -> Result<_, MetadataError> {
            let Some(v) = props.get(key) else {
                return Ok(None);
            };
            match v.trim().parse::<usize>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
                _ => Err(MetadataError::Value {
                    key,
                    value: v.chars().take(40).collect(),
                    expected: format!("a whole number in {lo}..={hi}"),
                }),
            }
        };
        let scale = number(keys::SCALE, 1, MAX_SCALE)?;
        let receptive_field_radius =
            number(keys::RECEPTIVE_FIELD_RADIUS, 0, MAX_RECEPTIVE_FIELD_RADIUS)?;
        let effective_radius = number(keys::EFFECTIVE_RADIUS, 0, MAX_RECEPTIVE_FIELD_RADIUS)?;
        let architecture = props
            .get(keys::ARCHITECTURE)
            .map(|json| Architecture::from_json(json))
            .transpose()
            .map_err(|source| MetadataError::Architecture { source })?;
        if let (Some(s), Some(a)) = (scale, &architecture) {
            if a.scale() != s {
                return Err(MetadataError::Value {
                    key: keys::SCALE,
                    value: s.to_string(),
                    expected: format!("{}, the scale of `{}`", a.scale(), keys::ARCHITECTURE),
                });
            }
        }
        Ok(Self {
            scale: scale.or(architecture.as_ref().map(Architecture::scale)),
            receptive_field_radius,
            effective_radius,
            colour_order: props.get(keys::COLOUR_ORDER).cloned(),
            layout: props.get(keys::LAYOUT).cloned(),
            architecture,
            producer,
            props,
        })
    }

    /// The metadata a network of this architecture would carry (for runtimes that run a
    /// checkpoint directly, such as tch), plus `extra` entries.
    pub fn for_architecture(
        arch: &Architecture,
        extra: BTreeMap<String, String>,
        producer: Option<String>,
    ) -> Self {
        let mut props = extra;
        for (k, v) in architecture_props(arch) {
            props.insert(k.into(), v);
        }
        Self {
            scale: Some(arch.scale()),
            receptive_field_radius: Some(arch.receptive_field_radius()),
            effective_radius: None,
            colour_order: Some("RGB".into()),
            layout: Some("NCHW".into()),
            architecture: Some(arch.clone()),
            producer,
            props,
        }
    }

    /// The receptive-field radius: `srgan.receptive_field_radius`, else computed from
    /// `srgan.architecture`, else `None` (a foreign model).
    pub fn radius(&self) -> Option<usize> {
        self.receptive_field_radius.or_else(|| {
            self.architecture
                .as_ref()
                .map(|a| a.receptive_field_radius())
        })
    }
}

/// The top-level fields of a `ModelProto` that carry metadata; everything else, the graph
/// included, is skipped on decoding (prost skips unknown fields without copying them).
#[derive(Clone, PartialEq, prost::Message)]
struct ModelHeader {
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    /// Decoded as an empty message: present or not, never copied.
    #[prost(message, optional, tag = "7")]
    graph: Option<Skipped>,
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<crate::proto::StringStringEntryProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Skipped {}

/// Reads a model's metadata from its file.
pub fn read_model_info(path: &Path) -> Result<ModelInfo, ModelInfoError> {
    let bytes = std::fs::read(path).map_err(|source| ModelInfoError::Io {
        path: path.into(),
        source,
    })?;
    parse_model_info(&bytes).map_err(|e| match e {
        ParseError::Metadata(source) => ModelInfoError::Metadata {
            path: path.into(),
            source,
        },
        source => ModelInfoError::NotOnnx {
            path: path.into(),
            source,
        },
    })
}

/// Why [`parse_model_info`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not an ONNX model: the protobuf does not decode.
    #[error("not an ONNX model")]
    NotOnnx(#[source] prost::DecodeError),
    /// An ONNX model without a graph.
    #[error("not an ONNX model: no graph")]
    NoGraph,
    /// An unusable metadata value.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

/// Parses the metadata of an ONNX model held in memory.
pub fn parse_model_info(bytes: &[u8]) -> Result<ModelInfo, ParseError> {
    let header = ModelHeader::decode(bytes).map_err(ParseError::NotOnnx)?;
    if header.graph.is_none() {
        return Err(ParseError::NoGraph);
    }
    let producer = match (
        Some(header.producer_name).filter(|s| !s.is_empty()),
        Some(header.producer_version).filter(|s| !s.is_empty()),
    ) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, v) => n.or(v),
    };
    let props = header
        .metadata_props
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect();
    Ok(ModelInfo::from_props(props, producer)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proto::{GraphProto, ModelProto, StringStringEntryProto};
    use crate::GeneratorConfig;

    pub(crate) use crate::report::one_line as chain;

    fn model(props: &[(&str, &str)]) -> Vec<u8> {
        ModelProto {
            producer_name: "srgan-export".into(),
            graph: Some(GraphProto {
                name: "g".into(),
                ..Default::default()
            }),
            metadata_props: props
                .iter()
                .map(|(k, v)| StringStringEntryProto {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn parses_props_and_rejects_garbage() {
        let info = parse_model_info(&model(&[(keys::SCALE, "4")])).unwrap();
        assert_eq!(info.scale, Some(4));
        assert_eq!(info.producer.as_deref(), Some("srgan-export"));
        assert!(parse_model_info(b"\xff\xff\xff").is_err());
        // A model without a graph.
        let no_graph = ModelProto::default().encode_to_vec();
        assert!(matches!(
            parse_model_info(&no_graph),
            Err(ParseError::NoGraph)
        ));
        // Garbage keeps the protobuf decoder's error as its cause.
        let e = parse_model_info(b"\xff\xff\xff").unwrap_err();
        assert!(matches!(e, ParseError::NotOnnx(_)), "{e}");
        assert!(std::error::Error::source(&e).is_some(), "{e}");
    }

    #[test]
    fn crafted_values_are_errors_naming_the_key() {
        for (key, value) in [
            (keys::SCALE, "2147483648"),
            (keys::SCALE, "4294967296"),
            (keys::SCALE, "0"),
            (keys::SCALE, "four"),
            (keys::RECEPTIVE_FIELD_RADIUS, "18446744073709551615"),
        ] {
            let e = parse_model_info(&model(&[(key, value)])).unwrap_err();
            assert!(chain(&e).contains(key), "{key}={value}: {e}");
        }
        let huge = r#"{"blocks":1,"channels":4611686018427387904,"scale":4}"#;
        let e = parse_model_info(&model(&[(keys::ARCHITECTURE, huge)])).unwrap_err();
        assert!(chain(&e).contains(keys::ARCHITECTURE), "{e}");
        assert!(chain(&e).contains("channels"), "{}", chain(&e));
        // The scale must agree with the architecture.
        let arch = Architecture::from(GeneratorConfig::new(1, 8, 2)).to_json();
        let e = parse_model_info(&model(&[(keys::SCALE, "4"), (keys::ARCHITECTURE, &arch)]))
            .unwrap_err();
        assert!(chain(&e).contains(keys::SCALE), "{e}");
    }

    #[test]
    fn typed_architecture_and_radius() {
        let arch = Architecture::from(GeneratorConfig::new(1, 8, 4));
        let props: Vec<(&str, String)> = architecture_props(&arch);
        let pairs: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let info = parse_model_info(&model(&pairs)).unwrap();
        assert_eq!(info.architecture.as_ref(), Some(&arch));
        assert_eq!(info.radius(), Some(arch.receptive_field_radius()));
        assert_eq!(
            info,
            ModelInfo::for_architecture(&arch, BTreeMap::new(), info.producer.clone())
        );
        // Architecture alone: the radius is computed.
        let json = arch.to_json();
        let info = parse_model_info(&model(&[(keys::ARCHITECTURE, &json)])).unwrap();
        assert_eq!(info.receptive_field_radius, None);
        assert_eq!(info.radius(), Some(arch.receptive_field_radius()));
        assert_eq!(info.scale, Some(4));
    }
}
