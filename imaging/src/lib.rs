//! Image I/O, conversion between images and tensors, tiling, resampling and metrics for the
//! srgan pipeline.
//!
//! - [`image_io`]: PNG and JPEG decoding under limits (decompression bombs are refused),
//!   encoding, and atomic writes.
//! - [`pipeline`]: a decoded image in, the upscaled image out, keeping grey/RGB, alpha and
//!   8/16-bit depth; image <-> NCHW tensor conversion.
//! - [`tiling`]: upscaling through any [`srgan_runtimes::Upscaler`] tile by tile, exact when
//!   the tile pad covers the model's receptive field.
//! - [`budget`]: the memory model of `--tile auto` (window budget per image).
//! - [`resample`]: MATLAB-style bicubic (and Lanczos3) resizing, for alpha channels and the
//!   bicubic baseline / LR generation.
//! - [`metrics`]: PSNR and SSIM on the Y channel, as papers (and BasicSR) report them.
//! - [`niqe`]: NIQE, the no-reference quality score, as BasicSR computes it (with its
//!   `niqe_pris_params.npz`).
//! - [`eval`]: the evaluation protocol (crop, bicubic LR, model, 8-bit output, Y PSNR/SSIM
//!   with a border of `scale`), shared by trainer validation, `srgan-eval` and `srgan-figure`.
#![deny(missing_docs)]

pub mod budget;
pub mod degrade;
pub mod eval;
pub mod image_io;
pub mod metrics;
pub mod multiple;
pub mod niqe;
pub mod pipeline;
pub mod radius;
pub mod resample;
pub mod tiling;
pub mod tta;

pub use eval::{EvalError, EvalImage, Scores};
pub use image_io::{
    read_image, write_image_atomic, DecodeLimits, Decoded, ImageError, OutputFormat,
};
pub use pipeline::{upscale_image, PipelineError, PixelFormat, UpscaleOptions};
pub use tiling::{default_tile_pad, upscale_tiled, TileConfig, TileSink, TilingError};
