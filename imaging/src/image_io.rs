//! Reading PNG, JPEG, WebP, TIFF, BMP and GIF (its first frame), and writing PNG, JPEG,
//! lossless WebP and TIFF, through the `image` crate.
//!
//! Decoding guesses the format from the file's content (not its name) and runs under
//! [`DecodeLimits`], so a file whose header claims decompression-bomb dimensions is rejected
//! before any pixel buffer is allocated. Every error is an [`ImageError`] naming the file, with
//! the decoder's or the system's error kept as its source
//! ([`srgan_contract::report::one_line`] prints both on one line).
//!
//! Encoding writes PNG (8 or 16 bits, grey or colour, with or without alpha) or baseline JPEG
//! (8 bits, grey or colour; alpha is dropped and 16-bit samples are reduced to 8 bits, since
//! JPEG carries neither). [`write_image_atomic`] writes through a temporary file in the target
//! folder and renames it, so no half-written output is ever left behind.

use std::fs::File;
use std::io::{Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Errors of image I/O and of image <-> tensor conversion. Each names the file and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The content is not an image format we recognise.
    #[error("{path}: not an image (expected PNG, JPEG, WebP, TIFF, BMP or GIF content)")]
    NotAnImage {
        /// The file.
        path: PathBuf,
    },
    /// A known image format that this tool does not read.
    #[error("{path}: {format} images are not supported (only PNG, JPEG, WebP, TIFF, BMP and GIF)")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The format found.
        format: String,
    },
    /// The file ends before the image does.
    #[error("{path}: truncated image")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The decoder's error, or what is missing.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The file is damaged or not valid for its format.
    #[error("{path}: corrupt image")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// The image has no pixels.
    #[error("{path}: zero-size image ({width}x{height})")]
    ZeroSize {
        /// The file.
        path: PathBuf,
        /// Width the header claims.
        width: u32,
        /// Height the header claims.
        height: u32,
    },
    /// The image exceeds the decoder limits (a decompression bomb or just too big).
    #[error("{path}: image too large: {reason} (limits: {limits})")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What exceeds the limits.
        reason: String,
        /// The limits in force.
        limits: DecodeLimits,
    },
    /// The pixels are of a colour type this tool does not handle.
    #[error("{path}: unsupported colour type {colour}")]
    UnsupportedColour {
        /// The file.
        path: PathBuf,
        /// The colour type found.
        colour: String,
    },
    /// Encoding the image failed.
    #[error("{path}: cannot encode {format}")]
    Encode {
        /// The output file.
        path: PathBuf,
        /// The output format.
        format: OutputFormat,
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },
    /// Writing the output failed.
    #[error("{path}: cannot write")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The output exists and overwriting was not allowed.
    #[error("{path}: output exists (pass --overwrite to replace it)")]
    OutputExists {
        /// The output file.
        path: PathBuf,
    },
}

impl ImageError {
    /// The file the error is about (the input for a read, the output for a write).
    pub fn path(&self) -> &Path {
        match self {
            ImageError::Read { path, .. }
            | ImageError::NotAnImage { path }
            | ImageError::UnsupportedFormat { path, .. }
            | ImageError::Truncated { path, .. }
            | ImageError::Corrupt { path, .. }
            | ImageError::ZeroSize { path, .. }
            | ImageError::TooLarge { path, .. }
            | ImageError::UnsupportedColour { path, .. }
            | ImageError::Encode { path, .. }
            | ImageError::Write { path, .. }
            | ImageError::OutputExists { path } => path,
        }
    }
}

/// Limits applied while decoding. Defaults: at most 16384 pixels in width and in height, and
/// at most 1 GiB of decoder allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width in pixels. Default: 16384.
    pub max_width: u32,
    /// Largest accepted height in pixels. Default: 16384.
    pub max_height: u32,
    /// Largest decoder allocation in bytes (the decoded image included). Default: 1 GiB.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_width: 16384,
            max_height: 16384,
            max_alloc: 1 << 30,
        }
    }
}

impl std::fmt::Display for DecodeLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}x{} pixels, {} MiB",
            self.max_width,
            self.max_height,
            self.max_alloc >> 20
        )
    }
}

impl DecodeLimits {
    fn to_image_limits(self) -> Limits {
        let mut l = Limits::default();
        l.max_image_width = Some(self.max_width);
        l.max_image_height = Some(self.max_height);
        l.max_alloc = Some(self.max_alloc);
        l
    }
}

/// An output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// PNG, lossless; keeps 16-bit samples and alpha.
    Png,
    /// Baseline JPEG at the given quality (1..=100; default 95). 8 bits, no alpha.
    Jpeg {
        /// Quality, 1..=100.
        quality: u8,
    },
    /// Lossless WebP: 8 bits (16-bit samples are reduced), with alpha.
    WebP,
    /// TIFF: keeps 16-bit samples and alpha.
    Tiff,
}

impl OutputFormat {
    /// The default JPEG quality.
    pub const DEFAULT_JPEG_QUALITY: u8 = 95;

    /// JPEG at the default quality.
    pub fn jpeg() -> Self {
        OutputFormat::Jpeg {
            quality: Self::DEFAULT_JPEG_QUALITY,
        }
    }

    /// The file extension written: `png`, `jpg`, `webp` or `tif`.
    pub fn extension(&self) -> &'static str {
        match self {
            OutputFormat::Png => "png",
            OutputFormat::Jpeg { .. } => "jpg",
            OutputFormat::WebP => "webp",
            OutputFormat::Tiff => "tif",
        }
    }

    /// The output format matching a decoded input format, if it is one we write (BMP and
    /// GIF inputs are written as PNG by default).
    pub fn from_image_format(format: ImageFormat) -> Option<Self> {
        match format {
            ImageFormat::Png => Some(OutputFormat::Png),
            ImageFormat::Jpeg => Some(OutputFormat::jpeg()),
            ImageFormat::WebP => Some(OutputFormat::WebP),
            ImageFormat::Tiff => Some(OutputFormat::Tiff),
            _ => None,
        }
    }

    /// The output format named by a file extension (`png`, `jpg`, `jpeg`, `webp`, `tif`,
    /// `tiff`; any case).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(OutputFormat::Png),
            "jpg" | "jpeg" => Some(OutputFormat::jpeg()),
            "webp" => Some(OutputFormat::WebP),
            "tif" | "tiff" => Some(OutputFormat::Tiff),
            _ => None,
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputFormat::Png => write!(f, "PNG"),
            OutputFormat::Jpeg { .. } => write!(f, "JPEG"),
            OutputFormat::WebP => write!(f, "WebP"),
            OutputFormat::Tiff => write!(f, "TIFF"),
        }
    }
}

/// A decoded image and the format it was stored in.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The pixels, in the colour type and bit depth of the file.
    pub image: DynamicImage,
    /// The format found in the content (PNG or JPEG).
    pub format: ImageFormat,
    /// For an animated PNG or GIF, its number of frames: only the first (the default image) is
    /// decoded.
    pub frames: Option<u32>,
    /// What the file says besides its pixels, to be carried to the output.
    pub meta: ImageMeta,
}

/// A photo's metadata that an output keeps: its colour profile, and its EXIF with the
/// orientation reset (the orientation is applied to the pixels on decoding, so that the
/// output is upright in viewers that ignore EXIF and not rotated twice in those that read it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageMeta {
    /// The ICC profile (PNG iCCP, JPEG APP2).
    pub icc: Option<Vec<u8>>,
    /// The EXIF block, its orientation set to 1 (upright).
    pub exif: Option<Vec<u8>>,
}

/// Decodes a PNG or JPEG file under `limits`; the format is guessed from the content.
///
/// The file is read into memory first (it is compressed, so much smaller than the decoded
/// image; a file larger than `limits.max_alloc` is refused as too large).
pub fn read_image(path: &Path, limits: &DecodeLimits) -> Result<Decoded, ImageError> {
    let mut file = File::open(path).map_err(|e| read_err(path, e))?;
    let len = file.metadata().map_err(|e| read_err(path, e))?.len();
    if len > limits.max_alloc {
        return Err(ImageError::TooLarge {
            path: path.into(),
            reason: format!("the file is {} MiB", len >> 20),
            limits: *limits,
        });
    }
    // The size from the metadata is not trusted: a device or a growing file (`/dev/zero`)
    // reports 0 and never ends. At most `max_alloc` bytes are read.
    let mut bytes = Vec::with_capacity(len as usize);
    (&mut file)
        .take(limits.max_alloc.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| read_err(path, e))?;
    if bytes.len() as u64 > limits.max_alloc {
        return Err(ImageError::TooLarge {
            path: path.into(),
            reason: format!("the input is over {} MiB", limits.max_alloc >> 20),
            limits: *limits,
        });
    }
    decode_bytes(&bytes, path, limits)
}

/// Decodes PNG or JPEG bytes under `limits`; `path` only names the source in errors.
pub fn decode_bytes(
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
) -> Result<Decoded, ImageError> {
    if image::guess_format(bytes).ok() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        // The JPEG decoder fills a cut-off scan with grey instead of failing: check first.
        return Err(ImageError::Truncated {
            path: path.into(),
            source: "the JPEG data ends before its end-of-image marker".into(),
        });
    }
    let mut decoded = decode_from(Cursor::new(bytes), path, limits)?;
    decoded.frames = match decoded.format {
        ImageFormat::Png => apng_frames(bytes),
        ImageFormat::Gif => gif_frames(bytes).filter(|n| *n > 1),
        _ => None,
    };
    Ok(decoded)
}

/// The frame count of an animated PNG (its `acTL` chunk, which comes before the first
/// `IDAT`), or `None` for a still PNG.
fn apng_frames(png: &[u8]) -> Option<u32> {
    let mut at = 8usize;
    while at.checked_add(12)? <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().ok()?) as usize;
        let kind = &png[at + 4..at + 8];
        if kind == b"IDAT" {
            return None;
        }
        if kind == b"acTL" && len >= 8 && at + 12 <= png.len() {
            return Some(u32::from_be_bytes(png[at + 8..at + 12].try_into().ok()?));
        }
        at = at.checked_add(12)?.checked_add(len)?;
    }
    None
}

/// The number of images in a GIF (its image descriptors), found by walking its blocks without
/// decoding any; `None` when the structure cannot be followed.
fn gif_frames(gif: &[u8]) -> Option<u32> {
    if gif.len() < 13 || !(gif.starts_with(b"GIF87a") || gif.starts_with(b"GIF89a")) {
        return None;
    }
    let table = |packed: u8| {
        if packed & 0x80 != 0 {
            3usize << ((packed & 7) + 1)
        } else {
            0
        }
    };
    // Skips data sub-blocks (a size byte, then that many bytes) up to the 0 terminator.
    let sub_blocks = |mut at: usize| -> Option<usize> {
        loop {
            let n = usize::from(*gif.get(at)?);
            at += 1;
            if n == 0 {
                return Some(at);
            }
            at = at.checked_add(n)?;
        }
    };
    let mut at = 13 + table(gif[10]);
    let mut frames = 0u32;
    loop {
        match *gif.get(at)? {
            0x2C => {
                let packed = *gif.get(at + 9)?;
                frames += 1;
                // Descriptor, local colour table, LZW minimum code size, then the data.
                at = sub_blocks(at + 10 + table(packed) + 1)?;
            }
            0x21 => at = sub_blocks(at + 2)?,
            0x3B => return Some(frames),
            _ => return (frames > 0).then_some(frames),
        }
    }
}

/// Whether `ff xx` starts a marker inside entropy-coded data (not a stuffed byte, a restart
/// marker or fill).
fn is_marker(ff: u8, xx: u8) -> bool {
    ff == 0xFF && !matches!(xx, 0x00 | 0xD0..=0xD7 | 0xFF)
}

/// Whether JPEG data runs to its end-of-image marker: walks the marker segments from SOI,
/// skipping each entropy-coded scan (where 0xFF is followed by a stuffed 0x00 or a restart
/// marker), until EOI.
fn jpeg_is_complete(b: &[u8]) -> bool {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return false;
    }
    let mut i = 2;
    while i + 1 < b.len() {
        if b[i] != 0xFF {
            return false;
        }
        let marker = b[i + 1];
        match marker {
            0xD9 => return true,
            0xFF => i += 1,               // fill byte
            0x01 | 0xD0..=0xD7 => i += 2, // markers without a length
            _ => {
                let Some(len) = b.get(i + 2..i + 4) else {
                    return false;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return false;
                }
                i += 2 + len;
                if marker == 0xDA {
                    // Entropy-coded data up to the next real marker.
                    while i + 1 < b.len() && !is_marker(b[i], b[i + 1]) {
                        i += 1;
                    }
                }
            }
        }
    }
    false
}

fn decode_from<R: std::io::BufRead + Seek>(
    reader: R,
    path: &Path,
    limits: &DecodeLimits,
) -> Result<Decoded, ImageError> {
    let mut reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|e| read_err(path, e))?;
    let format = match reader.format() {
        None => return Err(ImageError::NotAnImage { path: path.into() }),
        Some(
            f @ (ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Tiff
            | ImageFormat::Bmp
            | ImageFormat::Gif),
        ) => f,
        Some(other) => {
            return Err(ImageError::UnsupportedFormat {
                path: path.into(),
                format: format!("{other:?}").to_uppercase(),
            })
        }
    };
    if format == ImageFormat::Png {
        // The png decoder rejects a zero width or height as a generic format error; read the
        // header ourselves to say so plainly.
        let mut inner = reader.into_inner();
        let start = inner.stream_position().map_err(|e| read_err(path, e))?;
        let mut header = [0u8; 24];
        let n = read_up_to(&mut inner, &mut header).map_err(|e| read_err(path, e))?;
        inner
            .seek(std::io::SeekFrom::Start(start))
            .map_err(|e| read_err(path, e))?;
        if n == 24 && &header[12..16] == b"IHDR" {
            let width = u32::from_be_bytes([header[16], header[17], header[18], header[19]]);
            let height = u32::from_be_bytes([header[20], header[21], header[22], header[23]]);
            if width == 0 || height == 0 {
                return Err(ImageError::ZeroSize {
                    path: path.into(),
                    width,
                    height,
                });
            }
        }
        reader = ImageReader::with_format(inner, format);
    }
    use image::ImageDecoder;
    let classify = |e| classify_decode_error(e, path, limits);
    reader.limits(limits.to_image_limits());
    let mut decoder = reader.into_decoder().map_err(classify)?;
    // As `ImageReader::decode`: the pixel buffer counts against the allocation limit.
    let mut budget = limits.to_image_limits();
    budget.reserve(decoder.total_bytes()).map_err(classify)?;
    // Metadata is best effort: a damaged profile or EXIF block is dropped, not fatal.
    let icc = decoder.icc_profile().ok().flatten();
    let mut exif = decoder.exif_metadata().ok().flatten();
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
    image.apply_orientation(orientation);
    if let Some(e) = exif.as_mut() {
        let _ = image::metadata::Orientation::remove_from_exif_chunk(e);
    }
    if image.width() == 0 || image.height() == 0 {
        return Err(ImageError::ZeroSize {
            path: path.into(),
            width: image.width(),
            height: image.height(),
        });
    }
    Ok(Decoded {
        image,
        format,
        frames: None,
        meta: ImageMeta { icc, exif },
    })
}

fn read_err(path: &Path, e: std::io::Error) -> ImageError {
    ImageError::Read {
        path: path.into(),
        source: e,
    }
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn classify_decode_error(e: image::ImageError, path: &Path, limits: &DecodeLimits) -> ImageError {
    use image::ImageError as E;
    let path: PathBuf = path.into();
    match e {
        E::Limits(l) => ImageError::TooLarge {
            path,
            reason: match l.kind() {
                image::error::LimitErrorKind::DimensionError => {
                    "its dimensions exceed the limits".to_string()
                }
                image::error::LimitErrorKind::InsufficientMemory => {
                    "decoding it needs more memory than allowed".to_string()
                }
                _ => l.to_string(),
            },
            limits: *limits,
        },
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => ImageError::Truncated {
            path,
            source: io.into(),
        },
        E::IoError(io) => ImageError::Read { path, source: io },
        E::Unsupported(u) => ImageError::UnsupportedFormat {
            path,
            format: u.to_string(),
        },
        other => {
            if ends_early(&other) {
                return ImageError::Truncated {
                    path,
                    source: other.into(),
                };
            }
            // zune-jpeg (the JPEG decoder) reports a short stream only in its message; the
            // PNG decoder's typed io::ErrorKind::UnexpectedEof is taken above.
            let lower = other.to_string().to_ascii_lowercase();
            if lower.contains("eof")
                || lower.contains("end of file")
                || lower.contains("unexpected end")
                || lower.contains("truncated")
                || lower.contains("not enough")
                || lower.contains("no more data")
            {
                ImageError::Truncated {
                    path,
                    source: other.into(),
                }
            } else {
                ImageError::Corrupt {
                    path,
                    source: other,
                }
            }
        }
    }
}

/// Whether a decoder error is, somewhere in its chain of causes, an I/O error of kind
/// `UnexpectedEof` (the PNG decoder's way of saying the file ends early).
fn ends_early(e: &image::ImageError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Encodes an image into `writer`. PNG keeps the colour type and bit depth (8 or 16 bits,
/// grey or RGB, with or without alpha); JPEG is 8-bit grey or RGB (alpha is dropped).
/// `path` only names the destination in errors.
pub fn encode_image<W: Write + Seek>(
    image: &DynamicImage,
    format: OutputFormat,
    writer: W,
    path: &Path,
) -> Result<(), ImageError> {
    encode_image_with(image, format, &ImageMeta::default(), writer, path)
}

/// [`encode_image`] with `meta`: the ICC profile and EXIF block are written into the file
/// (PNG iCCP and eXIf, JPEG APP2 and APP1).
pub fn encode_image_with<W: Write + Seek>(
    image: &DynamicImage,
    format: OutputFormat,
    meta: &ImageMeta,
    writer: W,
    path: &Path,
) -> Result<(), ImageError> {
    use image::codecs::{jpeg::JpegEncoder, png::PngEncoder};
    use image::ImageEncoder;
    // Both encoders take both blocks; a refusal would only drop the metadata.
    let with_meta = |enc: &mut dyn ImageEncoderMeta| {
        if let Some(icc) = &meta.icc {
            enc.icc(icc.clone());
        }
        if let Some(exif) = &meta.exif {
            enc.exif(exif.clone());
        }
    };
    trait ImageEncoderMeta {
        fn icc(&mut self, icc: Vec<u8>);
        fn exif(&mut self, exif: Vec<u8>);
    }
    impl<T: ImageEncoder> ImageEncoderMeta for T {
        fn icc(&mut self, icc: Vec<u8>) {
            let _ = self.set_icc_profile(icc);
        }
        fn exif(&mut self, exif: Vec<u8>) {
            let _ = self.set_exif_metadata(exif);
        }
    }
    let enc_err = |source: image::ImageError| ImageError::Encode {
        path: path.into(),
        format,
        source,
    };
    match format {
        OutputFormat::Png => match image {
            DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_)
            | DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_) => {
                let mut enc = PngEncoder::new(writer);
                with_meta(&mut enc);
                image.write_with_encoder(enc).map_err(enc_err)
            }
            other => Err(ImageError::UnsupportedColour {
                path: path.into(),
                colour: format!("{:?}", other.color()),
            }),
        },
        OutputFormat::Jpeg { quality } => {
            let quality = quality.clamp(1, 100);
            let mut enc = JpegEncoder::new_with_quality(writer, quality);
            with_meta(&mut enc);
            match image {
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => {
                    image.write_with_encoder(enc).map_err(enc_err)
                }
                DynamicImage::ImageLuma16(_)
                | DynamicImage::ImageLumaA8(_)
                | DynamicImage::ImageLumaA16(_) => DynamicImage::ImageLuma8(image.to_luma8())
                    .write_with_encoder(enc)
                    .map_err(enc_err),
                _ => DynamicImage::ImageRgb8(image.to_rgb8())
                    .write_with_encoder(enc)
                    .map_err(enc_err),
            }
        }
        OutputFormat::WebP => {
            let mut enc = image::codecs::webp::WebPEncoder::new_lossless(writer);
            with_meta(&mut enc);
            if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8()).write_with_encoder(enc)
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8()).write_with_encoder(enc)
            }
            .map_err(enc_err)
        }
        OutputFormat::Tiff => {
            let mut enc = image::codecs::tiff::TiffEncoder::new(writer);
            with_meta(&mut enc);
            match image {
                DynamicImage::ImageLuma8(_)
                | DynamicImage::ImageRgb8(_)
                | DynamicImage::ImageRgba8(_)
                | DynamicImage::ImageLuma16(_)
                | DynamicImage::ImageRgb16(_)
                | DynamicImage::ImageRgba16(_) => image.write_with_encoder(enc).map_err(enc_err),
                DynamicImage::ImageLumaA8(_) => DynamicImage::ImageRgba8(image.to_rgba8())
                    .write_with_encoder(enc)
                    .map_err(enc_err),
                DynamicImage::ImageLumaA16(_) => DynamicImage::ImageRgba16(image.to_rgba16())
                    .write_with_encoder(enc)
                    .map_err(enc_err),
                other => Err(ImageError::UnsupportedColour {
                    path: path.into(),
                    colour: format!("{:?}", other.color()),
                }),
            }
        }
    }
}

/// Writes `image` to `path` in `format` without ever leaving a half-written file: the bytes
/// go to a temporary file in the same folder, which is then renamed onto `path`. Without
/// `overwrite`, an existing `path` is an [`ImageError::OutputExists`] and is left untouched.
pub fn write_image_atomic(
    image: &DynamicImage,
    format: OutputFormat,
    path: &Path,
    overwrite: bool,
) -> Result<(), ImageError> {
    write_image_atomic_with(image, format, &ImageMeta::default(), path, overwrite)
}

/// [`write_image_atomic`] carrying `meta` (colour profile, EXIF) into the file.
pub fn write_image_atomic_with(
    image: &DynamicImage,
    format: OutputFormat,
    meta: &ImageMeta,
    path: &Path,
    overwrite: bool,
) -> Result<(), ImageError> {
    use srgan_contract::files::{atomic_write_with, AtomicWriteError};
    atomic_write_with(path, overwrite, |w| {
        encode_image_with(image, format, meta, w, path)
    })
    .map_err(|e| match e {
        AtomicWriteError::Exists(path) => ImageError::OutputExists { path },
        AtomicWriteError::Io { path, source } => ImageError::Write { path, source },
        AtomicWriteError::Content(e) => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb, Rgba};
    use srgan_testkit::fixtures::png_header_only;
    use srgan_testkit::TempDir;

    fn png_bytes(img: &DynamicImage) -> Vec<u8> {
        let mut v = Cursor::new(Vec::new());
        encode_image(img, OutputFormat::Png, &mut v, Path::new("mem.png")).unwrap();
        v.into_inner()
    }

    fn rgb_test_image(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
            Rgb([(x * 30) as u8, (y * 40) as u8, ((x + y) * 7) as u8])
        }))
    }

    fn decode(bytes: &[u8]) -> Result<Decoded, ImageError> {
        decode_bytes(bytes, Path::new("x.png"), &DecodeLimits::default())
    }

    /// An EXIF-rotated JPEG decodes upright with its orientation reset, and its ICC profile
    /// and EXIF go through a PNG and a JPEG byte for byte.
    #[test]
    fn orientation_is_applied_and_profile_and_exif_are_kept() {
        let icc: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let meta = ImageMeta {
            icc: Some(icc.clone()),
            exif: Some(srgan_testkit::fixtures::exif_orientation(6)),
        };
        let img = DynamicImage::ImageRgb8(ImageBuffer::from_fn(12, 10, |x, _| {
            Rgb([if x < 6 { 250 } else { 5 }, 100, 100])
        }));
        let mut jpeg = Vec::new();
        encode_image_with(
            &img,
            OutputFormat::jpeg(),
            &meta,
            Cursor::new(&mut jpeg),
            Path::new("r.jpg"),
        )
        .unwrap();
        let d = decode_bytes(&jpeg, Path::new("r.jpg"), &DecodeLimits::default()).unwrap();
        // Orientation 6: rotate 90 degrees clockwise, so the bright left half ends on top.
        assert_eq!((d.image.width(), d.image.height()), (10, 12));
        let rgb = d.image.to_rgb8();
        assert!(rgb.get_pixel(5, 1).0[0] > 200 && rgb.get_pixel(5, 10).0[0] < 50);
        assert_eq!(d.meta.icc.as_deref(), Some(&icc[..]));
        let exif = d.meta.exif.clone().unwrap();
        assert_eq!(
            image::metadata::Orientation::from_exif_chunk(&exif),
            Some(image::metadata::Orientation::NoTransforms)
        );
        // Through a PNG: the same bytes come back.
        let mut png = Vec::new();
        encode_image_with(
            &d.image,
            OutputFormat::Png,
            &d.meta,
            Cursor::new(&mut png),
            Path::new("o.png"),
        )
        .unwrap();
        let back = decode_bytes(&png, Path::new("o.png"), &DecodeLimits::default()).unwrap();
        assert_eq!(back.meta, d.meta);
        assert_eq!((back.image.width(), back.image.height()), (10, 12));
    }

    #[test]
    fn an_animated_gif_says_how_many_frames_it_has() {
        use image::codecs::gif::GifEncoder;
        use image::{Delay, Frame};
        let gif = |n: usize| {
            let mut bytes = Vec::new();
            {
                let mut enc = GifEncoder::new(&mut bytes);
                let frames = (0..n).map(|k| {
                    let img =
                        srgan_testkit::fixtures::rgba8(20, 16, |x, _| (x * 12 + k as u32) as u8);
                    Frame::from_parts(img.to_rgba8(), 0, 0, Delay::from_numer_denom_ms(100, 1))
                });
                enc.encode_frames(frames).unwrap();
            }
            bytes
        };
        for (n, want) in [(3, Some(3)), (1, None)] {
            let d = decode_bytes(&gif(n), Path::new("a.gif"), &DecodeLimits::default()).unwrap();
            assert_eq!(d.frames, want, "{n} frames");
            assert_eq!((d.image.width(), d.image.height()), (20, 16));
        }
        // A cut-off file: the walk stops where the data stops, without panicking.
        let g = gif(3);
        for cut in [0, 5, 13, 40, g.len() / 2] {
            let _ = gif_frames(&g[..cut]);
        }
    }

    #[test]
    fn webp_keeps_the_profile_and_exif_and_tiff_the_pixels() {
        let icc: Vec<u8> = (0..=255u8).cycle().take(500).collect();
        let mut exif = srgan_testkit::fixtures::exif_orientation(6);
        let _ = image::metadata::Orientation::remove_from_exif_chunk(&mut exif);
        let meta = ImageMeta {
            icc: Some(icc.clone()),
            exif: Some(exif),
        };
        let img = srgan_testkit::fixtures::rgb8(12, 10);
        let mut webp = Vec::new();
        encode_image_with(
            &img,
            OutputFormat::WebP,
            &meta,
            Cursor::new(&mut webp),
            Path::new("o.webp"),
        )
        .unwrap();
        let back = decode_bytes(&webp, Path::new("o.webp"), &DecodeLimits::default()).unwrap();
        assert_eq!(back.meta, meta, "WebP ICCP and EXIF chunks");
        assert_eq!(back.image.to_rgb8(), img.to_rgb8(), "lossless");
        let mut tiff = Vec::new();
        encode_image_with(
            &img,
            OutputFormat::Tiff,
            &meta,
            Cursor::new(&mut tiff),
            Path::new("o.tif"),
        )
        .unwrap();
        let back = decode_bytes(&tiff, Path::new("o.tif"), &DecodeLimits::default()).unwrap();
        assert_eq!(back.image.to_rgb8(), img.to_rgb8());
        // image's TIFF encoder takes no ICC profile or EXIF block (`set_icc_profile` is
        // unsupported there): a TIFF output carries the pixels only (README).
        assert_eq!(back.meta, ImageMeta::default());
    }

    #[test]
    fn an_animated_png_says_how_many_frames_it_has() {
        let apng = srgan_testkit::fixtures::apng(20, 16);
        let d = decode_bytes(&apng, Path::new("a.png"), &DecodeLimits::default()).unwrap();
        assert_eq!(d.frames, Some(2));
        assert_eq!((d.image.width(), d.image.height()), (20, 16));
        let mut still = Vec::new();
        srgan_testkit::fixtures::rgb8(20, 16)
            .write_to(&mut Cursor::new(&mut still), ImageFormat::Png)
            .unwrap();
        let d = decode_bytes(&still, Path::new("s.png"), &DecodeLimits::default()).unwrap();
        assert_eq!(d.frames, None);
    }

    #[test]
    fn an_endless_input_is_read_up_to_the_cap() {
        let limits = DecodeLimits {
            max_alloc: 1 << 20,
            ..DecodeLimits::default()
        };
        let e = read_image(Path::new("/dev/zero"), &limits).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("/dev/zero"), "{e}");
    }

    #[test]
    fn png_round_trip_keeps_colour_type_and_depth() {
        let cases = [
            rgb_test_image(5, 3),
            DynamicImage::ImageRgba8(ImageBuffer::from_fn(4, 2, |x, y| {
                Rgba([x as u8, y as u8, 9, (x * 60) as u8])
            })),
            DynamicImage::ImageLuma8(ImageBuffer::from_fn(3, 3, |x, y| Luma([(x * y) as u8]))),
            DynamicImage::ImageLuma16(ImageBuffer::from_fn(3, 2, |x, y| {
                Luma([(x * 20000 + y * 7) as u16])
            })),
            DynamicImage::ImageRgb16(ImageBuffer::from_fn(2, 2, |x, y| {
                Rgb([(x * 30000) as u16, (y * 65535) as u16, 12345])
            })),
        ];
        for img in cases {
            let back = decode(&png_bytes(&img)).unwrap();
            assert_eq!(back.format, ImageFormat::Png);
            assert_eq!(back.image, img);
        }
    }

    #[test]
    fn jpeg_round_trip_is_close_and_drops_alpha() {
        let img = DynamicImage::ImageRgba16(ImageBuffer::from_fn(16, 16, |_, _| {
            Rgba([30000, 40000, 50000, 1000])
        }));
        let mut v = Cursor::new(Vec::new());
        encode_image(&img, OutputFormat::jpeg(), &mut v, Path::new("a.jpg")).unwrap();
        let back = decode(v.get_ref()).unwrap();
        assert_eq!(back.format, ImageFormat::Jpeg);
        let DynamicImage::ImageRgb8(rgb) = back.image else {
            panic!("expected RGB8, got {:?}", back.image.color())
        };
        let p = rgb.get_pixel(8, 8).0;
        let want = [117i32, 156, 195]; // 30000/65535*255 etc.
        for c in 0..3 {
            assert!((i32::from(p[c]) - want[c]).abs() <= 2, "{p:?}");
        }
    }

    #[test]
    fn bad_inputs_are_classified() {
        let good = png_bytes(&rgb_test_image(32, 32));
        let truncated = &good[..good.len() / 2];
        assert!(
            matches!(decode(truncated), Err(ImageError::Truncated { .. })),
            "{:?}",
            decode(truncated)
        );
        assert!(matches!(
            decode(b"hello, world, this is text"),
            Err(ImageError::NotAnImage { .. })
        ));
        assert!(matches!(decode(b""), Err(ImageError::NotAnImage { .. })));
        let e = decode(&png_header_only(0, 10)).unwrap_err();
        assert!(matches!(e, ImageError::ZeroSize { width: 0, .. }), "{e}");
        let e = decode(&png_header_only(100_000, 100_000)).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge { .. }), "{e}");
        assert!(e.to_string().starts_with("x.png: image too large"), "{e}");
        // Within the dimension limits but over the allocation limit.
        let small = DecodeLimits {
            max_alloc: 1000,
            ..DecodeLimits::default()
        };
        let e = decode_bytes(&good, Path::new("x.png"), &small).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge { .. }), "{e}");
        // A QOI signature: recognised, not supported.
        let e = decode(b"qoif\x00\x00\x00\x01\x00\x00\x00\x01\x03\x00").unwrap_err();
        assert!(matches!(e, ImageError::UnsupportedFormat { .. }), "{e}");
        // A truncated GIF (a format read now) is an error, not a panic.
        assert!(decode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").is_err());
        for e in [decode(truncated).unwrap_err(), decode(b"text").unwrap_err()] {
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn truncated_jpeg_is_caught() {
        let img = DynamicImage::ImageRgb8(ImageBuffer::from_fn(64, 64, |x, y| {
            Rgb([(x * 4) as u8, (y * 4) as u8, ((x * y) % 256) as u8])
        }));
        let mut v = Cursor::new(Vec::new());
        encode_image(&img, OutputFormat::jpeg(), &mut v, Path::new("a.jpg")).unwrap();
        let b = v.into_inner();
        assert!(jpeg_is_complete(&b));
        assert!(decode(&b).is_ok());
        // Trailing bytes after EOI are allowed.
        let mut trailing = b.clone();
        trailing.extend_from_slice(b"\0\0trailer");
        assert!(decode(&trailing).is_ok());
        for cut in [b.len() / 3, b.len() / 2, b.len() - 2, b.len() - 1] {
            let e = decode(&b[..cut]).unwrap_err();
            assert!(matches!(e, ImageError::Truncated { .. }), "cut {cut}: {e}");
        }
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let e = read_image(Path::new("/nonexistent/a.png"), &DecodeLimits::default()).unwrap_err();
        assert!(matches!(e, ImageError::Read { .. }));
        assert!(e.to_string().starts_with("/nonexistent/a.png: cannot read"));
    }

    #[test]
    fn atomic_write_refuses_to_overwrite_and_leaves_no_temp() {
        let dir = TempDir::new("imaging-io");
        let out = dir.join("a.png");
        let img = rgb_test_image(4, 4);
        write_image_atomic(&img, OutputFormat::Png, &out, false).unwrap();
        let e = write_image_atomic(&img, OutputFormat::Png, &out, false).unwrap_err();
        assert!(matches!(e, ImageError::OutputExists { .. }));
        let img2 = rgb_test_image(2, 2);
        write_image_atomic(&img2, OutputFormat::Png, &out, true).unwrap();
        let back = read_image(&out, &DecodeLimits::default()).unwrap();
        assert_eq!(back.image, img2);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.png")]);
    }

    #[test]
    fn write_into_missing_folder_fails_cleanly() {
        let img = rgb_test_image(2, 2);
        let e = write_image_atomic(
            &img,
            OutputFormat::Png,
            Path::new("/nonexistent/x.png"),
            false,
        )
        .unwrap_err();
        assert!(matches!(e, ImageError::Write { .. }), "{e}");
    }
}
