//! An upscaling session for programs that embed srgan (the Python package, `pysrgan/`): a
//! model opened once on a runtime, then images upscaled exactly as `srgan-run` upscales
//! them with its defaults (the same tiling, tile pad, alpha, bit depth and metadata), from
//! files, from encoded bytes, or from decoded pixels.
//!
//! Everything here is the code `srgan-run` runs: the model is resolved by
//! [`crate::run::shipped::resolve`], opened by [`crate::run::open_model`] behind
//! [`PadToMultiple`], tiled by [`crate::run::tiling_for`], and each image goes through
//! [`crate::run::pipeline::upscale_passes`]; files are named and written as a folder run
//! names and writes them. So an output is bit-identical to `srgan-run`'s for the same model,
//! runtime and threads.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::DynamicImage;
use ndarray::{Array2, Array3, Array4, ArrayView3};
use srgan_contract::metadata::ModelInfo;
use srgan_imaging::budget::{resolve_tile_pad, Tiling, DEFAULT_MAX_MEMORY_MIB};
use srgan_imaging::image_io::{
    decode_bytes, encode_image_with, read_image, write_image_atomic_with, DecodeLimits, ImageError,
};
use srgan_imaging::multiple::PadToMultiple;
use srgan_imaging::pipeline::{PipelineError, UpscaleOptions, DEFAULT_MAX_OUTPUT_PIXELS};
use srgan_imaging::resample::{resize_plane, Filter};
use srgan_imaging::tiling::upscale_tiled;
use srgan_imaging::OutputFormat;
use srgan_runtimes::{RuntimeKind, RuntimeOptions, Upscaler};

use crate::run::plan::{format_of_extension, input_format, output_in, with_quality};
use crate::run::{FileError, RunError, TileArg};

/// How a [`Session`] runs. Each field documents its default, which is `srgan-run`'s.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The runtime. Default: ort.
    pub runtime: RuntimeKind,
    /// Device, threads, library path. Default: CPU, all cores.
    pub runtime_options: RuntimeOptions,
    /// Tiling. Default: `auto` (under [`SessionOptions::max_memory_mib`]).
    pub tile: TileArg,
    /// The memory `auto` tiling aims to stay under, MiB. Default: `srgan-run`'s.
    pub max_memory_mib: u64,
    /// Context around each tile; `None`: from the model's metadata.
    pub tile_pad: Option<usize>,
    /// Decoder limits. Default: [`DecodeLimits::default`].
    pub limits: DecodeLimits,
    /// Largest output, in pixels. Default: [`DEFAULT_MAX_OUTPUT_PIXELS`].
    pub max_output_pixels: u64,
    /// JPEG quality of JPEG outputs. Default: [`OutputFormat::DEFAULT_JPEG_QUALITY`].
    pub jpeg_quality: u8,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            runtime: RuntimeKind::Ort,
            runtime_options: RuntimeOptions::default(),
            tile: TileArg::Auto,
            max_memory_mib: DEFAULT_MAX_MEMORY_MIB,
            tile_pad: None,
            limits: DecodeLimits::default(),
            max_output_pixels: DEFAULT_MAX_OUTPUT_PIXELS,
            jpeg_quality: OutputFormat::DEFAULT_JPEG_QUALITY,
        }
    }
}

/// Why an image given in memory (pixels or encoded bytes) could not be upscaled. Each
/// message starts with what the image was called (`name`).
#[derive(Debug, thiserror::Error)]
pub enum MemoryImageError {
    /// The bytes could not be decoded, or the result not encoded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The tiling budget cannot hold the image.
    #[error("{name}")]
    Budget {
        /// What the image was called.
        name: String,
        /// The least budget that would do.
        #[source]
        source: srgan_imaging::budget::BudgetError,
    },
    /// The model failed on it, or the output would be too large.
    #[error("{name}: upscaling with {model}")]
    Upscale {
        /// What the image was called.
        name: String,
        /// The model file.
        model: PathBuf,
        /// Why.
        #[source]
        source: Box<PipelineError>,
    },
}

/// A model opened once, ready for any number of images.
pub struct Session {
    upscaler: Box<dyn Upscaler>,
    tiling: Tiling,
    model: PathBuf,
    options: SessionOptions,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("model", &self.model)
            .field("runtime", &self.upscaler.name())
            .field("scale", &self.upscaler.scale())
            .finish()
    }
}

impl Session {
    /// Opens `model` (an `.onnx` file, or the name of a shipped model; `None`: the default
    /// shipped model) with `options`.
    pub fn open(model: Option<&Path>, options: SessionOptions) -> Result<Self, RunError> {
        let model = crate::run::shipped::resolve(model)?;
        let upscaler = PadToMultiple::wrap(crate::run::open_model(
            options.runtime,
            &model,
            &options.runtime_options,
        )?);
        let (tile_pad, _) = resolve_tile_pad(options.tile_pad, upscaler.info());
        let tiling = crate::run::tiling_for(
            options.tile,
            options.max_memory_mib,
            &model,
            upscaler.as_ref(),
            tile_pad,
        )?;
        Ok(Self {
            upscaler,
            tiling,
            model,
            options,
        })
    }

    /// The model's upscaling factor.
    pub fn scale(&self) -> usize {
        self.upscaler.scale()
    }

    /// What the model's metadata says about it.
    pub fn info(&self) -> &ModelInfo {
        self.upscaler.info()
    }

    /// The runtime and device, e.g. `ort-cpu`.
    pub fn runtime_name(&self) -> &str {
        self.upscaler.name()
    }

    /// The model file (for a shipped model, its copy in the cache).
    pub fn model(&self) -> &Path {
        &self.model
    }

    /// The options it was opened with.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// The error for an image whose header declares a size whose output is over the limit,
    /// found before anything is decoded (a small compressed file may declare a huge image).
    /// `None` when it fits, or when the header cannot be read (decoding then says why).
    fn declared_too_large<R: std::io::BufRead + std::io::Seek>(
        &self,
        reader: image::ImageReader<R>,
    ) -> Option<PipelineError> {
        let (w, h) = reader.with_guessed_format().ok()?.into_dimensions().ok()?;
        let s = self.scale() as u64;
        let (ow, oh) = (u64::from(w) * s, u64::from(h) * s);
        let limit = self.options.max_output_pixels;
        (ow.saturating_mul(oh) > limit).then(|| PipelineError::OutputTooManyPixels {
            scale: s as usize,
            width: ow,
            height: oh,
            mpx: ow.saturating_mul(oh) / 1_000_000,
            limit_mpx: limit / 1_000_000,
        })
    }

    /// Upscales a decoded image as `srgan-run` does: tiled under the budget, colour type,
    /// alpha and bit depth kept. `name` only names the image in errors.
    pub fn upscale_image(
        &mut self,
        image: DynamicImage,
        name: &str,
    ) -> Result<DynamicImage, MemoryImageError> {
        let tiling = self
            .tiling
            .for_image(&image)
            .map_err(|source| MemoryImageError::Budget {
                name: name.into(),
                source,
            })?;
        let opts = UpscaleOptions {
            tiling,
            max_output_pixels: self.options.max_output_pixels,
            ..UpscaleOptions::default()
        };
        crate::run::pipeline::upscale_passes(
            self.upscaler.as_mut(),
            image,
            &opts,
            &self.tiling,
            1,
            None,
        )
        .map_err(|source| MemoryImageError::Upscale {
            name: name.into(),
            model: self.model.clone(),
            source: Box::new(source),
        })
    }

    /// Upscales float pixels, `[H, W, C]` with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4
    /// (RGBA), nominally in [0, 1]. RGB goes through the model like an image's (tiled by the
    /// same budget) and is clamped to [0, 1]; alpha is resampled as an image's alpha is;
    /// grey is replicated to RGB for the model and returned as grey (the luma of the
    /// model's channels, as for a grey image).
    pub fn upscale_f32(
        &mut self,
        pixels: ArrayView3<'_, f32>,
        name: &str,
    ) -> Result<Array3<f32>, MemoryImageError> {
        let (h, w, c) = pixels.dim();
        let s = self.scale();
        let upscale_err = |source: PipelineError| MemoryImageError::Upscale {
            name: name.into(),
            model: self.model.clone(),
            source: Box::new(source),
        };
        let (oh, ow) = (h as u64 * s as u64, w as u64 * s as u64);
        if oh.saturating_mul(ow) > self.options.max_output_pixels {
            return Err(upscale_err(PipelineError::OutputTooManyPixels {
                scale: s,
                width: ow,
                height: oh,
                mpx: oh.saturating_mul(ow) / 1_000_000,
                limit_mpx: self.options.max_output_pixels / 1_000_000,
            }));
        }
        let colour = if c >= 3 { 3 } else { 1 };
        let has_alpha = c == 2 || c == 4;
        let rgb = Array4::from_shape_fn((1, 3, h, w), |(_, k, y, x)| {
            pixels[[y, x, if colour == 3 { k } else { 0 }]]
        });
        let alpha =
            has_alpha.then(|| Array2::from_shape_fn((h, w), |(y, x)| pixels[[y, x, c - 1]]));
        // The budget counts the pixels as 4-byte samples.
        let own = f32_image_bytes(h, w, c, s);
        let tiling = self
            .tiling
            .for_size(w as u32, h as u32, own)
            .map_err(|source| MemoryImageError::Budget {
                name: name.into(),
                source,
            })?;
        let out = upscale_tiled(self.upscaler.as_mut(), rgb.view(), tiling)
            .map_err(|e| upscale_err(PipelineError::Tiling(e)))?;
        drop(rgb);
        let (oh, ow) = (h * s, w * s);
        let alpha = alpha.map(|a| resize_plane(a.view(), oh, ow, Filter::Bicubic));
        let mut result = Array3::<f32>::zeros((oh, ow, c));
        for y in 0..oh {
            for x in 0..ow {
                let px = |k: usize| out[[0, k, y, x]].clamp(0.0, 1.0);
                if colour == 3 {
                    for k in 0..3 {
                        result[[y, x, k]] = px(k);
                    }
                } else {
                    result[[y, x, 0]] =
                        (0.299 * px(0) + 0.587 * px(1) + 0.114 * px(2)).clamp(0.0, 1.0);
                }
                if let Some(a) = &alpha {
                    result[[y, x, c - 1]] = a[[y, x]].clamp(0.0, 1.0);
                }
            }
        }
        Ok(result)
    }

    /// Decodes `bytes` (PNG, JPEG, WebP, TIFF, BMP or GIF), upscales the image, and encodes
    /// it as `format` (`None`: the input's format), with the input's colour profile and
    /// EXIF. Returns the bytes and the format. `name` only names the image in errors.
    pub fn upscale_encoded(
        &mut self,
        bytes: &[u8],
        name: &str,
        format: Option<OutputFormat>,
    ) -> Result<(Vec<u8>, OutputFormat), MemoryImageError> {
        if let Some(e) = self.declared_too_large(image::ImageReader::new(Cursor::new(bytes))) {
            return Err(MemoryImageError::Upscale {
                name: name.into(),
                model: self.model.clone(),
                source: Box::new(e),
            });
        }
        let decoded = decode_bytes(bytes, Path::new(name), &self.options.limits)?;
        let format = format.unwrap_or_else(|| {
            with_quality(
                OutputFormat::from_image_format(decoded.format).unwrap_or(OutputFormat::Png),
                self.options.jpeg_quality,
            )
        });
        let out = self.upscale_image(decoded.image, name)?;
        let mut buf = Cursor::new(Vec::new());
        encode_image_with(&out, format, &decoded.meta, &mut buf, Path::new(name))?;
        Ok((buf.into_inner(), format))
    }

    /// Upscales the file `src` into `dst`, as `srgan-run -i src -o dst` does: the format is
    /// `dst`'s extension, the write atomic (a temporary file renamed into place), an
    /// existing `dst` an error unless `overwrite`.
    pub fn upscale_file(
        &mut self,
        src: &Path,
        dst: &Path,
        overwrite: bool,
    ) -> Result<(), Box<FileError>> {
        let format = match format_of_extension(dst) {
            Some(f) => with_quality(f, self.options.jpeg_quality),
            None => {
                return Err(Box::new(FileError::Image(ImageError::Write {
                    path: dst.into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "not an output format: name it .png, .jpg, .webp or .tif",
                    ),
                })))
            }
        };
        if srgan_contract::files::same_file(src, dst) {
            return Err(Box::new(FileError::OutputIsInput { path: src.into() }));
        }
        if !overwrite && dst.exists() {
            return Err(Box::new(
                ImageError::OutputExists { path: dst.into() }.into(),
            ));
        }
        if let Some(e) = std::fs::File::open(src)
            .ok()
            .map(std::io::BufReader::new)
            .and_then(|f| self.declared_too_large(image::ImageReader::new(f)))
        {
            return Err(Box::new(FileError::Upscale {
                path: src.into(),
                model: self.model.clone(),
                source: e,
            }));
        }
        let decoded =
            read_image(src, &self.options.limits).map_err(|e| Box::new(FileError::from(e)))?;
        let out = self
            .upscale_image(decoded.image, &src.display().to_string())
            .map_err(|e| match e {
                MemoryImageError::Image(e) => FileError::Image(e),
                MemoryImageError::Budget { source, .. } => FileError::Budget {
                    path: src.into(),
                    source,
                },
                MemoryImageError::Upscale { source, .. } => FileError::Upscale {
                    path: src.into(),
                    model: self.model.clone(),
                    source: *source,
                },
            })
            .map_err(Box::new)?;
        write_image_atomic_with(&out, format, &decoded.meta, dst, overwrite)
            .map_err(|e| Box::new(FileError::from(e)))?;
        Ok(())
    }
}

/// The name a folder run (`srgan-run -i DIR -o OUT`) gives the output of `input` in
/// `out_dir`: the input's stem with the extension of `format`, else of the input's format
/// (its extension; else `head`, the file's first bytes, when given; else PNG).
pub fn output_path(
    input: &Path,
    out_dir: &Path,
    format: Option<OutputFormat>,
    head: Option<&[u8]>,
) -> PathBuf {
    let f = format.unwrap_or_else(|| match (format_of_extension(input), head) {
        (Some(f), _) => f,
        (None, Some(head)) => image::guess_format(head)
            .ok()
            .and_then(OutputFormat::from_image_format)
            .unwrap_or(OutputFormat::Png),
        (None, None) => input_format(input),
    });
    output_in(out_dir, input, f)
}

/// What an `[H, W, C]` float image takes besides the model: its f32 planes in and out
/// (`scale`^2 the pixels), bytes. Saturates.
fn f32_image_bytes(h: usize, w: usize, c: usize, scale: usize) -> u64 {
    let pixels = (h as u64).saturating_mul(w as u64);
    let per = (c as u64 + 3).saturating_mul(4);
    pixels
        .saturating_mul(per)
        .saturating_mul(1 + (scale as u64).saturating_mul(scale as u64))
}
