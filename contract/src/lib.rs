//! The srgan model contract, in one small crate that every other crate reads: no runtime, no
//! libtorch, no exporter.
//!
//! - [`exit`]: the exit-code convention of every command line.
#![deny(missing_docs)]

pub mod exit;
