//! Cross-crate tests: parity between runtimes, tiling, the CLI end to end.
//!
//! One test binary, one module per theme. Models are made on the fly (random weights on a
//! tiny architecture, exported by `srgan_export`); images are generated in temporary folders.

mod common;

mod cli;
mod community;
mod contract;
mod degraded;
mod exit_codes;
mod faults;
mod images;
mod parity;
mod tch_runtime;
mod tiling;
mod video;
