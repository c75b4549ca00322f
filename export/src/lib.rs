//! The SRGAN generator's checkpoint contract ([`checkpoint`]) and its ONNX exporter, written in
//! plain Rust: no Python, no libtorch (a runtime crate only for the `measure` feature).
//!
//! - [`checkpoint`]: the safetensors checkpoint and its architecture ([`GeneratorConfig`]).
//! - [`cli`]: `srgan-export`'s arguments, their validation and the export job.
//! - [`export_onnx`] / [`write_onnx`]: checkpoint -> ONNX opset 17 (see [`exporter`] for the
//!   graph's contract and [`metadata`] for the `metadata_props` keys).
//! - [`proto`]: the ONNX protobuf messages, hand-written `prost` derives.
//! - [`ops`]: one function per exported ONNX operator.
//! - [`reference`]: a plain-Rust forward pass straight from the checkpoint, for tests.
//! - [`pth`]: PyTorch `.pth` files (`torch.save`'s zip format) read without libtorch.
//! - [`triton`]: a Triton Inference Server model repository entry (`config.pbtxt` and
//!   `1/model.onnx`) for an exported graph.
//! - `measure` (feature `measure`, default): the effective receptive-field radius of an exported
//!   model, measured by running it (ONNX Runtime or tract) for `srgan-export`.
#![deny(missing_docs)]

#[cfg(feature = "measure")]
pub mod calibrate;
pub mod checkpoint;
pub mod cli;
pub mod exporter;
pub mod fold;
pub mod import;
#[cfg(feature = "measure")]
pub mod measure;
pub mod ops;
pub mod precision;
pub mod pth;
pub mod quantize;
pub use srgan_contract::proto;
pub mod reference;
pub mod triton;

pub use checkpoint::{atomic_write, Checkpoint, CheckpointError, GeneratorConfig, Tensor};
pub use exporter::{
    build_model, export_onnx, metadata, summarize, write_model, write_onnx, ExportError,
    ExportOptions, ModelSummary, INPUT_NAME, OUTPUT_NAME,
};
pub use pth::{read_pth, read_pth_bytes, PthDtype, PthError, PthTensor};
pub use srgan_contract::{Activation, Architecture, RrdbConfig, SrVggConfig};
