//! The srgan model contract, in one small crate that every other crate reads. It depends on
//! no runtime, no libtorch and not on the exporter, so deployment can read a model's
//! contract without linking any of them.
//!
//! - [`architecture`]: the tagged [`Architecture`] (SRResNet today), its parameter specs,
//!   receptive field, FLOPs and memory per pixel.
//! - [`metadata`]: the `metadata_props` keys, the graph's input/output names, and the typed
//!   [`ModelInfo`] read from a model file.
//! - [`proto`]: the ONNX protobuf messages (one `prost` codec for the writer, the reader and
//!   the tests).
//! - [`checksum`]: the checksum that checkpoints and training states carry.
//! - [`exit`]: the exit-code convention of every command line.
//! - [`files`]: the one atomic-write helper (temporary file, sync, rename).
//! - [`report`]: an error and its causes on one line, as every command line prints it.
#![deny(missing_docs)]

pub mod architecture;
pub mod checksum;
pub mod exit;
pub mod files;
pub mod metadata;
pub mod proto;
pub mod report;

pub use architecture::{
    Activation, Architecture, ArchitectureError, ConfigError, GeneratorConfig, ParamRole,
    ParamSpec, RrdbConfig, SrVggConfig,
};
pub use metadata::{read_model_info, ModelInfo, ModelInfoError};
