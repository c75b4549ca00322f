//! The SRGAN generator's checkpoint contract ([`checkpoint`]) and its ONNX exporter, written in
//! plain Rust: no Python, no libtorch, no runtime crate.
#![deny(missing_docs)]

pub mod checkpoint;

pub use checkpoint::{atomic_write, Checkpoint, CheckpointError, GeneratorConfig, Tensor};
