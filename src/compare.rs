//! `srgan-compare A B`: how far apart two images are, in quantisation levels.
//!
//! The largest and mean absolute difference per channel value (in levels of the images' bit
//! depth: 16 when either image has more than 8 bits per sample, else 8) and the PSNR over all
//! channels (RGBA). With `--max-diff N` the comparison fails when the largest difference
//! exceeds N levels, so scripts can assert parity between runtimes.

use std::path::{Path, PathBuf};

use image::DynamicImage;

/// Compare two images of the same size, value by value.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-compare",
    version,
    after_help = "Exit status: 0 when the images were compared (and are within --max-diff), 1 \
                  when the largest difference exceeds --max-diff, 2 on a usage error, an \
                  unreadable image or images of different sizes."
)]
pub struct CompareArgs {
    /// First image (PNG or JPEG).
    pub a: PathBuf,
    /// Second image (PNG or JPEG).
    pub b: PathBuf,
    /// Fail (exit status 1) when the largest difference exceeds this many levels.
    #[arg(long)]
    pub max_diff: Option<u32>,
}

/// Errors of [`compare`].
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// An image could not be opened, read or decoded.
    #[error("{}: cannot {what}", path.display())]
    Read {
        /// The image.
        path: PathBuf,
        /// `open`, `read` or `decode`.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The images differ in size.
    #[error("{} is {a:?} but {} is {b:?}: sizes differ", path_a.display(), path_b.display())]
    Sizes {
        /// The first image.
        path_a: PathBuf,
        /// Its width and height.
        a: (u32, u32),
        /// The second image.
        path_b: PathBuf,
        /// Its width and height.
        b: (u32, u32),
    },
}

/// How far apart two images are.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Largest absolute difference, in levels.
    pub max: f64,
    /// Mean absolute difference, in levels.
    pub mean: f64,
    /// PSNR over all channel values, dB (infinite when identical).
    pub psnr: f64,
    /// Width and height.
    pub size: (u32, u32),
    /// 8 or 16.
    pub bits: u32,
}

impl Comparison {
    /// Whether the largest difference is within `max_diff` levels (always, without a limit).
    pub fn within(&self, max_diff: Option<u32>) -> bool {
        max_diff.is_none_or(|m| self.max <= f64::from(m))
    }
}

fn load(p: &Path) -> Result<DynamicImage, CompareError> {
    let err = |what: &'static str| {
        move |e: Box<dyn std::error::Error + Send + Sync>| CompareError::Read {
            path: p.into(),
            what,
            source: e,
        }
    };
    image::ImageReader::open(p)
        .map_err(|e| err("open")(e.into()))?
        .with_guessed_format()
        .map_err(|e| err("read")(e.into()))?
        .decode()
        .map_err(|e| err("decode")(e.into()))
}

fn bits(i: &DynamicImage) -> u16 {
    i.color().bits_per_pixel() / u16::from(i.color().channel_count())
}

/// Reads both images and compares them value by value.
pub fn compare(path_a: &Path, path_b: &Path) -> Result<Comparison, CompareError> {
    let (a, b) = (load(path_a)?, load(path_b)?);
    let (da, db) = ((a.width(), a.height()), (b.width(), b.height()));
    if da != db {
        return Err(CompareError::Sizes {
            path_a: path_a.into(),
            a: da,
            path_b: path_b.into(),
            b: db,
        });
    }
    let sixteen = bits(&a) > 8 || bits(&b) > 8;
    let (va, vb, peak): (Vec<f64>, Vec<f64>, f64) = if sixteen {
        let f = |i: &DynamicImage| {
            i.to_rgba16()
                .into_raw()
                .into_iter()
                .map(f64::from)
                .collect()
        };
        (f(&a), f(&b), 65535.0)
    } else {
        let f = |i: &DynamicImage| i.to_rgba8().into_raw().into_iter().map(f64::from).collect();
        (f(&a), f(&b), 255.0)
    };
    let (mut max, mut sum, mut sq) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in va.iter().zip(&vb) {
        let d = (x - y).abs();
        max = max.max(d);
        sum += d;
        sq += d * d;
    }
    let n = va.len() as f64;
    let mse = sq / n;
    let psnr = if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    };
    Ok(Comparison {
        max,
        mean: sum / n,
        psnr,
        size: da,
        bits: if sixteen { 16 } else { 8 },
    })
}
