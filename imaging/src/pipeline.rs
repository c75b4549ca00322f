//! From a decoded image to its upscaled image: conversion to the model's NCHW tensor, tiled
//! inference, and conversion back, keeping the image's colour type and bit depth.
//!
//! - RGB (8 or 16 bits) goes through the model as is.
//! - Grey (L8, L16) is replicated to RGB for the model and brought back to grey with the
//!   BT.601 luma `Y = 0.299 R + 0.587 G + 0.114 B`.
//! - An alpha channel (RGBA, LA) does not go through the model: it is upscaled separately with
//!   [`resample`](crate::resample) (bicubic by default) and re-attached.
//! - 16-bit images stay 16-bit (samples scaled by 1/65535 into [0, 1] and back).
//!
//! Memory: the LR image becomes one f32 tensor (3 planes), the runtime sees one tile at a
//! time, and each tile's core is rounded and clamped straight into the output image's own
//! 8/16-bit buffer ([`ImageSink`]); no full-size f32 copy of the output is ever held.

use image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, RgbImage, Rgba};
use ndarray::{Array2, Array4, ArrayView4};
use srgan_runtimes::Upscaler;

use crate::resample::{resize_plane_rows, Filter};
use crate::tiling::{upscale_tiled_into, TileConfig, TileSink, TilingError};

/// The colour layout of an image, as far as the pipeline cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Red, green, blue.
    Rgb,
    /// One grey channel.
    Gray,
}

/// Sample depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// 8 bits per sample.
    Eight,
    /// 16 bits per sample.
    Sixteen,
}

/// Colour, alpha and depth of an image: what the output keeps from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    /// Grey or RGB.
    pub colour: Colour,
    /// Whether there is an alpha channel.
    pub alpha: bool,
    /// 8 or 16 bits.
    pub depth: Depth,
}

impl PixelFormat {
    /// The pixel format of a decoded image; `None` for float images, which PNG and JPEG
    /// never produce.
    pub fn of(image: &DynamicImage) -> Option<Self> {
        use DynamicImage as D;
        let (colour, alpha, depth) = match image {
            D::ImageLuma8(_) => (Colour::Gray, false, Depth::Eight),
            D::ImageLumaA8(_) => (Colour::Gray, true, Depth::Eight),
            D::ImageRgb8(_) => (Colour::Rgb, false, Depth::Eight),
            D::ImageRgba8(_) => (Colour::Rgb, true, Depth::Eight),
            D::ImageLuma16(_) => (Colour::Gray, false, Depth::Sixteen),
            D::ImageLumaA16(_) => (Colour::Gray, true, Depth::Sixteen),
            D::ImageRgb16(_) => (Colour::Rgb, false, Depth::Sixteen),
            D::ImageRgba16(_) => (Colour::Rgb, true, Depth::Sixteen),
            _ => return None,
        };
        Some(Self {
            colour,
            alpha,
            depth,
        })
    }

    /// Samples per pixel.
    pub fn channels(&self) -> usize {
        let c = match self.colour {
            Colour::Rgb => 3,
            Colour::Gray => 1,
        };
        c + usize::from(self.alpha)
    }

    /// Bytes per sample.
    pub fn sample_bytes(&self) -> usize {
        match self.depth {
            Depth::Eight => 1,
            Depth::Sixteen => 2,
        }
    }
}

/// Errors of [`upscale_image`]. The caller adds the file name.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A colour type the pipeline does not handle (float images).
    #[error("unsupported colour type {colour}")]
    UnsupportedColour {
        /// The colour type found.
        colour: String,
    },
    /// The output would exceed the allowed number of pixels.
    #[error(
        "the x{scale} output would be {width}x{height} ({mpx} Mpx), over the limit of \
         {limit_mpx} Mpx (--max-output-pixels); use a smaller input or raise the limit"
    )]
    OutputTooManyPixels {
        /// The scale.
        scale: usize,
        /// Output width.
        width: u64,
        /// Output height.
        height: u64,
        /// Output pixels, in millions.
        mpx: u64,
        /// The limit, in millions of pixels.
        limit_mpx: u64,
    },
    /// The output would exceed the allowed size.
    #[error("the x{scale} output would be {width}x{height} ({mib} MiB), over the limit of {limit_mib} MiB; use a smaller input")]
    OutputTooLarge {
        /// The scale.
        scale: usize,
        /// Output width.
        width: u64,
        /// Output height.
        height: u64,
        /// Output size in MiB.
        mib: u64,
        /// The limit in MiB.
        limit_mib: u64,
    },
    /// Inference failed.
    #[error(transparent)]
    Tiling(#[from] TilingError),
    /// `--max-memory` cannot hold a tile of a later model pass's input.
    #[error(transparent)]
    Budget(#[from] crate::budget::BudgetError),
}

/// Options of [`upscale_image`]. Each field documents its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpscaleOptions {
    /// Tiling. Default: [`TileConfig::default`] (whole image).
    pub tiling: TileConfig,
    /// Filter for the alpha channel. Default: [`Filter::Bicubic`].
    pub alpha_filter: Filter,
    /// Largest output image buffer, in bytes. Default: 4 GiB.
    pub max_output_bytes: u64,
    /// Largest output, in pixels. Default: [`DEFAULT_MAX_OUTPUT_PIXELS`].
    pub max_output_pixels: u64,
}

/// The default largest output: 2^28 pixels (16384 x 16384, 256 Mpx): 768 MiB as 8-bit RGB,
/// 2 GiB as 16-bit RGBA, which a 24 GiB machine holds with the model's working memory.
pub const DEFAULT_MAX_OUTPUT_PIXELS: u64 = 1 << 28;

impl Default for UpscaleOptions {
    fn default() -> Self {
        Self {
            tiling: TileConfig::default(),
            alpha_filter: Filter::Bicubic,
            max_output_bytes: 4 << 30,
            max_output_pixels: DEFAULT_MAX_OUTPUT_PIXELS,
        }
    }
}

/// An image taken apart for the model: RGB planes and, if any, the alpha plane.
#[derive(Debug, Clone)]
pub struct SplitImage {
    /// `[1, 3, H, W]` RGB in [0, 1] (grey replicated to three channels).
    pub rgb: Array4<f32>,
    /// `[H, W]` alpha in [0, 1].
    pub alpha: Option<Array2<f32>>,
    /// What the input was.
    pub format: PixelFormat,
}

trait Sample: Copy + Default {
    const FULL: f32;
    fn to_unit(self) -> f32;
    fn quantise(v: f32) -> Self;
}

impl Sample for u8 {
    const FULL: f32 = 255.0;
    fn to_unit(self) -> f32 {
        f32::from(self) / Self::FULL
    }
    fn quantise(v: f32) -> Self {
        // `as` saturates, and maps NaN to 0.
        (v.clamp(0.0, 1.0) * Self::FULL).round() as u8
    }
}

impl Sample for u16 {
    const FULL: f32 = 65535.0;
    fn to_unit(self) -> f32 {
        f32::from(self) / Self::FULL
    }
    fn quantise(v: f32) -> Self {
        (v.clamp(0.0, 1.0) * Self::FULL).round() as u16
    }
}

fn split_samples<T: Sample>(raw: &[T], w: usize, h: usize, format: PixelFormat) -> SplitImage {
    let ch = format.channels();
    let n = w * h;
    let mut rgb = Array4::<f32>::zeros((1, 3, h, w));
    let mut alpha = format.alpha.then(|| Array2::<f32>::zeros((h, w)));
    {
        let planes = rgb.as_slice_mut().expect("fresh array is contiguous");
        let (r, rest) = planes.split_at_mut(n);
        let (g, b) = rest.split_at_mut(n);
        let mut a = alpha
            .as_mut()
            .map(|a| a.as_slice_mut().expect("fresh array is contiguous"));
        for (i, px) in raw.chunks_exact(ch).enumerate().take(n) {
            match format.colour {
                Colour::Rgb => {
                    r[i] = px[0].to_unit();
                    g[i] = px[1].to_unit();
                    b[i] = px[2].to_unit();
                }
                Colour::Gray => {
                    let v = px[0].to_unit();
                    (r[i], g[i], b[i]) = (v, v, v);
                }
            }
            if let Some(a) = a.as_deref_mut() {
                a[i] = px[ch - 1].to_unit();
            }
        }
    }
    SplitImage { rgb, alpha, format }
}

/// Takes an image apart into the model's input tensor and its alpha plane.
pub fn split_image(image: &DynamicImage) -> Result<SplitImage, PipelineError> {
    use DynamicImage as D;
    let format = PixelFormat::of(image).ok_or_else(|| PipelineError::UnsupportedColour {
        colour: format!("{:?}", image.color()),
    })?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    Ok(match image {
        D::ImageLuma8(b) => split_samples(b.as_raw(), w, h, format),
        D::ImageLumaA8(b) => split_samples(b.as_raw(), w, h, format),
        D::ImageRgb8(b) => split_samples(b.as_raw(), w, h, format),
        D::ImageRgba8(b) => split_samples(b.as_raw(), w, h, format),
        D::ImageLuma16(b) => split_samples(b.as_raw(), w, h, format),
        D::ImageLumaA16(b) => split_samples(b.as_raw(), w, h, format),
        D::ImageRgb16(b) => split_samples(b.as_raw(), w, h, format),
        D::ImageRgba16(b) => split_samples(b.as_raw(), w, h, format),
        _ => unreachable!("PixelFormat::of accepted only the variants above"),
    })
}

/// An image tensor `[1, 3, H, W]` in [0, 1] from any decoded image (alpha dropped, grey
/// replicated): the model's input.
pub fn image_to_tensor(image: &DynamicImage) -> Result<Array4<f32>, PipelineError> {
    split_image(image).map(|s| s.rgb)
}

/// `[1, 3, H, W]` in [0, 1] from an 8-bit RGB image: [`image_to_tensor`] without going
/// through a [`DynamicImage`] (training crops, the evaluation protocol).
pub fn rgb_to_tensor(image: &RgbImage) -> Array4<f32> {
    let format = PixelFormat {
        colour: Colour::Rgb,
        alpha: false,
        depth: Depth::Eight,
    };
    let (w, h) = (image.width() as usize, image.height() as usize);
    split_samples(image.as_raw(), w, h, format).rgb
}

/// The first image of an NCHW batch (RGB in [0, 1]) as 8-bit RGB, rounded and clamped as
/// every output image is (what a saved image holds).
pub fn tensor_to_rgb(x: ArrayView4<'_, f32>) -> RgbImage {
    let (_, _, h, w) = x.dim();
    RgbImage::from_fn(w as u32, h as u32, |px, py| {
        let v = |c: usize| u8::quantise(x[[0, c, py as usize, px as usize]]);
        Rgb([v(0), v(1), v(2)])
    })
}

enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

/// The output image under construction: a [`TileSink`] that rounds and clamps each tile's
/// core straight into the final 8- or 16-bit buffer.
pub struct ImageSink {
    width: usize,
    height: usize,
    format: PixelFormat,
    samples: Samples,
}

impl ImageSink {
    /// An all-zero `width` x `height` image of `format`.
    pub fn new(width: usize, height: usize, format: PixelFormat) -> Self {
        let len = width * height * format.channels();
        let samples = match format.depth {
            Depth::Eight => Samples::U8(vec![0; len]),
            Depth::Sixteen => Samples::U16(vec![0; len]),
        };
        Self {
            width,
            height,
            format,
            samples,
        }
    }

    /// Writes one row of the alpha channel (values in [0, 1]); ignored without alpha.
    pub fn put_alpha_row(&mut self, y: usize, row: &[f32]) {
        if !self.format.alpha || y >= self.height {
            return;
        }
        let ch = self.format.channels();
        let start = y * self.width * ch;
        let end = start + self.width * ch;
        fn fill<T: Sample>(buf: &mut [T], ch: usize, row: &[f32]) {
            for (px, v) in buf.chunks_exact_mut(ch).zip(row) {
                px[ch - 1] = T::quantise(*v);
            }
        }
        match &mut self.samples {
            Samples::U8(b) => fill(&mut b[start..end], ch, row),
            Samples::U16(b) => fill(&mut b[start..end], ch, row),
        }
    }

    /// The finished image, in the colour type of `format`.
    pub fn into_image(self) -> DynamicImage {
        let (w, h) = (self.width as u32, self.height as u32);
        let f = self.format;
        // The buffer length is right by construction, so `from_raw` cannot fail.
        const LEN: &str = "buffer length matches the dimensions";
        match (self.samples, f.colour, f.alpha) {
            (Samples::U8(v), Colour::Rgb, false) => {
                D::ImageRgb8(ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, v).expect(LEN))
            }
            (Samples::U8(v), Colour::Rgb, true) => {
                D::ImageRgba8(ImageBuffer::<Rgba<u8>, _>::from_raw(w, h, v).expect(LEN))
            }
            (Samples::U8(v), Colour::Gray, false) => {
                D::ImageLuma8(ImageBuffer::<Luma<u8>, _>::from_raw(w, h, v).expect(LEN))
            }
            (Samples::U8(v), Colour::Gray, true) => {
                D::ImageLumaA8(ImageBuffer::<LumaA<u8>, _>::from_raw(w, h, v).expect(LEN))
            }
            (Samples::U16(v), Colour::Rgb, false) => {
                D::ImageRgb16(ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, v).expect(LEN))
            }
            (Samples::U16(v), Colour::Rgb, true) => {
                D::ImageRgba16(ImageBuffer::<Rgba<u16>, _>::from_raw(w, h, v).expect(LEN))
            }
            (Samples::U16(v), Colour::Gray, false) => {
                D::ImageLuma16(ImageBuffer::<Luma<u16>, _>::from_raw(w, h, v).expect(LEN))
            }
            (Samples::U16(v), Colour::Gray, true) => {
                D::ImageLumaA16(ImageBuffer::<LumaA<u16>, _>::from_raw(w, h, v).expect(LEN))
            }
        }
    }
}

use DynamicImage as D;

fn put_core<T: Sample>(
    buf: &mut [T],
    width: usize,
    format: PixelFormat,
    (y, x): (usize, usize),
    core: &ArrayView4<'_, f32>,
) {
    let ch = format.channels();
    let (_, _, h, w) = core.dim();
    for r in 0..h {
        let row = &mut buf[((y + r) * width + x) * ch..((y + r) * width + x + w) * ch];
        for (c, px) in row.chunks_exact_mut(ch).enumerate() {
            let (red, green, blue) = (core[[0, 0, r, c]], core[[0, 1, r, c]], core[[0, 2, r, c]]);
            match format.colour {
                Colour::Rgb => {
                    px[0] = T::quantise(red);
                    px[1] = T::quantise(green);
                    px[2] = T::quantise(blue);
                }
                Colour::Gray => {
                    px[0] = T::quantise(0.299 * red + 0.587 * green + 0.114 * blue);
                }
            }
        }
    }
}

impl TileSink for ImageSink {
    fn put(&mut self, y: usize, x: usize, core: ArrayView4<'_, f32>) -> Result<(), TilingError> {
        let (n, c, h, w) = core.dim();
        if n != 1 || c != 3 || y + h > self.height || x + w > self.width {
            return Err(TilingError::Sink {
                reason: format!(
                    "core {:?} at ({y}, {x}) does not fit a {}x{} image",
                    core.shape(),
                    self.width,
                    self.height
                ),
            });
        }
        crate::tiling::check_finite(y, x, &core)?;
        let (width, format) = (self.width, self.format);
        match &mut self.samples {
            Samples::U8(b) => put_core(b, width, format, (y, x), &core),
            Samples::U16(b) => put_core(b, width, format, (y, x), &core),
        }
        Ok(())
    }
}

/// Upscales a decoded image through `upscaler`, keeping its colour type, alpha and bit depth.
pub fn upscale_image(
    upscaler: &mut dyn Upscaler,
    image: DynamicImage,
    opts: &UpscaleOptions,
) -> Result<DynamicImage, PipelineError> {
    upscale_image_with_progress(upscaler, image, opts, |_, _| {})
}

/// [`upscale_image`], calling `progress(done, total)` after each tile.
pub fn upscale_image_with_progress(
    upscaler: &mut dyn Upscaler,
    image: DynamicImage,
    opts: &UpscaleOptions,
    progress: impl FnMut(usize, usize),
) -> Result<DynamicImage, PipelineError> {
    let scale = upscaler.scale();
    // Checked before the f32 planes are made (12 bytes a pixel for RGB).
    let (oh, ow) = (
        u64::from(image.height()) * scale as u64,
        u64::from(image.width()) * scale as u64,
    );
    if oh.saturating_mul(ow) > opts.max_output_pixels {
        return Err(PipelineError::OutputTooManyPixels {
            scale,
            width: ow,
            height: oh,
            mpx: oh.saturating_mul(ow) / 1_000_000,
            limit_mpx: opts.max_output_pixels / 1_000_000,
        });
    }
    let split = split_image(&image)?;
    drop(image);
    let (_, _, h, w) = split.rgb.dim();
    let (oh, ow) = (h as u64 * scale as u64, w as u64 * scale as u64);
    let bytes = oh * ow * (split.format.channels() * split.format.sample_bytes()) as u64;
    if bytes > opts.max_output_bytes || oh > u64::from(u32::MAX) || ow > u64::from(u32::MAX) {
        return Err(PipelineError::OutputTooLarge {
            scale,
            width: ow,
            height: oh,
            mib: bytes >> 20,
            limit_mib: opts.max_output_bytes >> 20,
        });
    }
    let (oh, ow) = (oh as usize, ow as usize);
    let mut sink = ImageSink::new(ow, oh, split.format);
    upscale_tiled_into(upscaler, split.rgb.view(), opts.tiling, &mut sink, progress)?;
    drop(split.rgb);
    if let Some(alpha) = &split.alpha {
        resize_plane_rows(alpha.view(), oh, ow, opts.alpha_filter, |y, row| {
            sink.put_alpha_row(y, row)
        });
    }
    Ok(sink.into_image())
}

/// Resamples every channel of interleaved samples (`channels` a pixel, `w` x `h`) to
/// `ow` x `oh` with `filter`, rounding back to the sample type.
fn resize_samples<T: Copy>(
    data: &[T],
    (w, h, channels): (usize, usize, usize),
    (ow, oh): (usize, usize),
    filter: Filter,
    to_f32: impl Fn(T) -> f32,
    from_f32: impl Fn(f32) -> T,
) -> Vec<T> {
    let mut out: Vec<Option<T>> = vec![None; ow * oh * channels];
    for c in 0..channels {
        let plane = ndarray::Array2::from_shape_fn((h, w), |(y, x)| {
            to_f32(data[(y * w + x) * channels + c])
        });
        resize_plane_rows(plane.view(), oh, ow, filter, |y, row| {
            for (x, v) in row.iter().enumerate() {
                out[(y * ow + x) * channels + c] = Some(from_f32(*v));
            }
        });
    }
    out.into_iter()
        .map(|v| v.expect("every sample written"))
        .collect()
}

/// Resizes a decoded or upscaled image to `width` x `height` with the project's own
/// resampling (antialiased when shrinking, [`crate::resample`]), keeping its colour type and
/// bit depth (alpha is resampled like the other channels).
pub fn resize_image(
    image: &DynamicImage,
    width: u32,
    height: u32,
    filter: Filter,
) -> Result<DynamicImage, PipelineError> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (ow, oh) = (width as usize, height as usize);
    let channels = usize::from(image.color().channel_count());
    let u8s = |d: &[u8]| {
        resize_samples(d, (w, h, channels), (ow, oh), filter, f32::from, |v| {
            v.round().clamp(0.0, 255.0) as u8
        })
    };
    let u16s = |d: &[u16]| {
        resize_samples(d, (w, h, channels), (ow, oh), filter, f32::from, |v| {
            v.round().clamp(0.0, 65535.0) as u16
        })
    };
    let out = match image {
        D::ImageLuma8(b) => {
            ImageBuffer::from_raw(width, height, u8s(b.as_raw())).map(D::ImageLuma8)
        }
        D::ImageLumaA8(b) => {
            ImageBuffer::from_raw(width, height, u8s(b.as_raw())).map(D::ImageLumaA8)
        }
        D::ImageRgb8(b) => ImageBuffer::from_raw(width, height, u8s(b.as_raw())).map(D::ImageRgb8),
        D::ImageRgba8(b) => {
            ImageBuffer::from_raw(width, height, u8s(b.as_raw())).map(D::ImageRgba8)
        }
        D::ImageLuma16(b) => {
            ImageBuffer::from_raw(width, height, u16s(b.as_raw())).map(D::ImageLuma16)
        }
        D::ImageLumaA16(b) => {
            ImageBuffer::from_raw(width, height, u16s(b.as_raw())).map(D::ImageLumaA16)
        }
        D::ImageRgb16(b) => {
            ImageBuffer::from_raw(width, height, u16s(b.as_raw())).map(D::ImageRgb16)
        }
        D::ImageRgba16(b) => {
            ImageBuffer::from_raw(width, height, u16s(b.as_raw())).map(D::ImageRgba16)
        }
        other => {
            return Err(PipelineError::UnsupportedColour {
                colour: format!("{:?}", other.color()),
            })
        }
    };
    Ok(out.expect("the buffer has width x height x channels samples"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use srgan_testkit::fixtures;
    use srgan_testkit::mock::{BlurNearest, Identity, Paint};

    /// Resizing keeps the colour type, depth and a flat colour, and on a grey image gives the
    /// plane resampler's rounded result.
    #[test]
    fn resize_image_keeps_type_and_matches_the_plane_resampler() {
        for img in images() {
            let r = resize_image(&img, 11, 3, Filter::Bicubic).unwrap();
            assert_eq!((r.width(), r.height(), r.color()), (11, 3, img.color()));
        }
        let flat = D::ImageRgb16(ImageBuffer::from_pixel(9, 7, Rgb([1000u16, 2000, 65535])));
        let r = resize_image(&flat, 4, 3, Filter::Lanczos3).unwrap();
        assert!(r.to_rgb16().pixels().all(|p| p.0 == [1000, 2000, 65535]));
        let grey = D::ImageLuma8(ImageBuffer::from_fn(16, 12, |x, y| {
            Luma([(x * 15 + y * 3) as u8])
        }));
        let r = resize_image(&grey, 8, 6, Filter::Bicubic).unwrap();
        let plane = Array2::from_shape_fn((12, 16), |(y, x)| {
            f32::from(grey.to_luma8().get_pixel(x as u32, y as u32).0[0])
        });
        let want = crate::resample::resize_plane(plane.view(), 6, 8, Filter::Bicubic);
        for (p, w) in r.to_luma8().pixels().zip(want.iter()) {
            assert_eq!(p.0[0], w.round().clamp(0.0, 255.0) as u8);
        }
    }

    fn images() -> Vec<DynamicImage> {
        let (w, h) = (7, 5);
        let f = |x: u32, y: u32, k: u32| ((x * 37 + y * 11 + k * 71) % 256) as u8;
        let g = |x: u32, y: u32, k: u32| ((x * 9000 + y * 1300 + k * 20000) % 65536) as u16;
        vec![
            D::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
                Rgb([f(x, y, 0), f(x, y, 1), f(x, y, 2)])
            })),
            D::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
                Rgba([f(x, y, 0), f(x, y, 1), f(x, y, 2), f(x, y, 3)])
            })),
            D::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([f(x, y, 0)]))),
            D::ImageLumaA8(ImageBuffer::from_fn(w, h, |x, y| {
                LumaA([f(x, y, 0), f(x, y, 3)])
            })),
            D::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
                Rgb([g(x, y, 0), g(x, y, 1), g(x, y, 2)])
            })),
            D::ImageRgba16(ImageBuffer::from_fn(w, h, |x, y| {
                Rgba([g(x, y, 0), g(x, y, 1), g(x, y, 2), g(x, y, 3)])
            })),
            D::ImageLuma16(ImageBuffer::from_fn(w, h, |x, y| Luma([g(x, y, 0)]))),
            D::ImageLumaA16(ImageBuffer::from_fn(w, h, |x, y| {
                LumaA([g(x, y, 0), g(x, y, 3)])
            })),
        ]
    }

    #[test]
    fn identity_round_trip_is_exact_for_every_pixel_format() {
        // x1 identity "model": the round trip must give the input back exactly.
        let mut id = Identity::default();
        for img in images() {
            let out = upscale_image(&mut id, img.clone(), &UpscaleOptions::default()).unwrap();
            assert_eq!(out, img, "{:?}", img.color());
        }
    }

    #[test]
    fn formats_are_kept_and_alpha_is_resampled() {
        let mut m = BlurNearest::new(2, 1);
        let opts = UpscaleOptions {
            tiling: TileConfig {
                tile: 3,
                tile_pad: 1,
                ..TileConfig::default()
            },
            ..Default::default()
        };
        for img in images() {
            let out = upscale_image(&mut m, img.clone(), &opts).unwrap();
            assert_eq!(out.color(), img.color());
            assert_eq!((out.width(), out.height()), (14, 10));
        }
        // Constant alpha stays constant through bicubic resampling.
        let rgba = D::ImageRgba8(ImageBuffer::from_fn(6, 4, |x, _| Rgba([x as u8, 0, 0, 77])));
        let out = upscale_image(&mut m, rgba, &opts).unwrap().into_rgba8();
        assert!(out.pixels().all(|p| p.0[3] == 77));
    }

    #[test]
    fn a_tiled_image_equals_the_untiled_image() {
        let mut m = BlurNearest::new(4, 2);
        for img in [
            fixtures::rgb8(21, 14),
            fixtures::rgba8(21, 14, |x, _| (x * 12) as u8),
            fixtures::luma16(21, 14),
        ] {
            let whole = upscale_image(&mut m, img.clone(), &UpscaleOptions::default()).unwrap();
            let opts = UpscaleOptions {
                tiling: TileConfig {
                    tile: 6,
                    tile_pad: 2,
                    ..TileConfig::default()
                },
                ..UpscaleOptions::default()
            };
            m.calls.clear();
            let tiled = upscale_image(&mut m, img, &opts).unwrap();
            assert!(m.calls.len() > 1, "{:?}: not tiled", whole.color());
            assert_eq!(whole, tiled, "{:?}", whole.color());
        }
    }

    #[test]
    fn grey_comes_back_through_bt601_luma() {
        // A "model" that writes fixed colours: the grey output must be their luma.
        let img = D::ImageLuma8(ImageBuffer::from_pixel(2, 2, Luma([0])));
        let mut paint = Paint::new([1.0, 0.5, 0.0]);
        let out = upscale_image(&mut paint, img, &Default::default())
            .unwrap()
            .into_luma8();
        // 0.299 * 255 + 0.587 * 127.5 = 151.0425 -> 151.
        assert!(out.pixels().all(|p| p.0[0] == 151));
    }

    #[test]
    fn quantisation_rounds_and_clamps() {
        assert_eq!(u8::quantise(-0.5), 0);
        assert_eq!(u8::quantise(1.5), 255);
        assert_eq!(u8::quantise(f32::NAN), 0);
        assert_eq!(u8::quantise(0.5 / 255.0 + 1e-4), 1);
        assert_eq!(u8::quantise(0.49 / 255.0), 0);
        assert_eq!(u16::quantise(1.0), 65535);
    }

    #[test]
    fn huge_output_is_refused_before_inference() {
        let mut m = BlurNearest::new(4, 1);
        let img = D::ImageRgb8(ImageBuffer::from_pixel(100, 100, Rgb([1, 2, 3])));
        let opts = UpscaleOptions {
            max_output_bytes: 1000,
            ..Default::default()
        };
        let e = upscale_image(&mut m, img, &opts).unwrap_err();
        assert!(matches!(e, PipelineError::OutputTooLarge { .. }), "{e}");
        assert!(m.calls.is_empty());
    }
}
