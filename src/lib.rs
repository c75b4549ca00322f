//! srgan: the command-line side of the pipeline (srgan-run, srgan-eval, srgan-compare,
//! srgan-figure). Each binary is clap derive arguments -> a validated config here -> run, with
//! `main` mapping the outcome to an exit code of `srgan_contract::exit`.
//!
//! - [`run`]: `srgan-run`'s arguments, their validation into a [`run::RunConfig`], and the
//!   run itself over one file or a folder (decode, upscale, encode, atomic write).
//! - [`eval`]: `srgan-eval`, PSNR/SSIM of a model and of bicubic on a folder of HR images,
//!   by the evaluation protocol of `srgan_imaging::eval`.
//! - [`figure`]: `srgan-figure`, side-by-side crops of bicubic, models and ground truth.
//! - [`compare`]: `srgan-compare`, how far apart two images are.
//! - [`session`]: a model opened once for programs that embed srgan (the Python package),
//!   upscaling as `srgan-run` does.
//!
//! The image work itself (I/O, tiling, conversion, metrics) lives in the `srgan-imaging`
//! crate, re-exported here as [`imaging`]; the runtimes behind the `Upscaler` trait live in
//! `srgan-runtimes`, re-exported as [`runtimes`].
#![deny(missing_docs)]

pub mod compare;
pub mod eval;
pub mod figure;
pub mod pad;
pub mod run;
pub mod session;

pub use srgan_imaging as imaging;
pub use srgan_runtimes as runtimes;
