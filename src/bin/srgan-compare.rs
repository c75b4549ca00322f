//! `srgan-compare A B`: how far apart two images are, in quantisation levels.
//!
//! Prints the largest and mean absolute difference per channel value (in levels of the images'
//! bit depth) and the PSNR over all channels. With `--max-diff N` it exits with status 1 when
//! the largest difference exceeds N levels, so scripts can assert parity between runtimes.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;

/// Compare two images of the same size, value by value.
#[derive(Parser, Debug)]
#[command(name = "srgan-compare", version)]
struct Args {
    /// First image (PNG or JPEG).
    a: PathBuf,
    /// Second image (PNG or JPEG).
    b: PathBuf,
    /// Fail (exit status 1) when the largest difference exceeds this many levels.
    #[arg(long)]
    max_diff: Option<u32>,
}

fn load(p: &Path) -> Result<image::DynamicImage> {
    image::ImageReader::open(p)
        .with_context(|| format!("{}: cannot open", p.display()))?
        .with_guessed_format()
        .with_context(|| format!("{}: cannot read", p.display()))?
        .decode()
        .with_context(|| format!("{}: cannot decode", p.display()))
}

fn run(args: &Args) -> Result<bool> {
    let (a, b) = (load(&args.a)?, load(&args.b)?);
    if a.dimensions_tuple() != b.dimensions_tuple() {
        bail!(
            "{} is {:?} but {} is {:?}: sizes differ",
            args.a.display(),
            a.dimensions_tuple(),
            args.b.display(),
            b.dimensions_tuple()
        );
    }
    let sixteen = a.color().bits_per_pixel() / u16::from(a.color().channel_count()) > 8
        || b.color().bits_per_pixel() / u16::from(b.color().channel_count()) > 8;
    let (va, vb, peak): (Vec<f64>, Vec<f64>, f64) = if sixteen {
        let f = |i: &image::DynamicImage| {
            i.to_rgba16()
                .into_raw()
                .into_iter()
                .map(f64::from)
                .collect()
        };
        (f(&a), f(&b), 65535.0)
    } else {
        let f =
            |i: &image::DynamicImage| i.to_rgba8().into_raw().into_iter().map(f64::from).collect();
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
    println!(
        "{} vs {}: max |diff| {} levels, mean {:.4} levels, PSNR {:.2} dB ({}x{}, {}-bit)",
        args.a.display(),
        args.b.display(),
        max,
        sum / n,
        psnr,
        a.width(),
        a.height(),
        if sixteen { 16 } else { 8 }
    );
    Ok(args.max_diff.is_none_or(|m| max <= f64::from(m)))
}

trait Dims {
    fn dimensions_tuple(&self) -> (u32, u32);
}
impl Dims for image::DynamicImage {
    fn dimensions_tuple(&self) -> (u32, u32) {
        (self.width(), self.height())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "error: the images differ by more than {} levels",
                args.max_diff.unwrap_or(0)
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
