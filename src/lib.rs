//! srgan: the command-line side of the pipeline (srgan-run, srgan-eval, srgan-compare).
//!
//! - [`run`]: `srgan-run`'s arguments, their validation into a [`run::RunConfig`], and the
//!   run itself over one file or a folder (decode, upscale, encode, atomic write).
//!
//! The image work itself (I/O, tiling, conversion, metrics) lives in the `srgan-imaging`
//! crate, re-exported here as [`imaging`]; the runtimes behind the `Upscaler` trait live in
//! `srgan-runtimes`, re-exported as [`runtimes`].
#![deny(missing_docs)]

pub mod run;

pub use srgan_imaging as imaging;
pub use srgan_runtimes as runtimes;
