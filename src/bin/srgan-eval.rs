//! `srgan-eval`: PSNR and SSIM on the Y channel (BT.601, `scale` pixels of border cropped: the
//! SRGAN paper's protocol) of a model against bicubic upscaling, on a folder of HR images.
//!
//! Each HR image is cropped to a multiple of the scale, downscaled with MATLAB's bicubic
//! (`srgan_imaging::resample::downscale`) and rounded to 8 bits (a saved LR image); the model's
//! output and the bicubic upscale of the same LR are rounded to 8 bits and compared with the HR.
//! The model is an exported `.onnx` (runtime `ort` or `tract`) or, in a build with the `tch`
//! feature, a generator checkpoint `.safetensors` (runtime `tch`).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use srgan::imaging::{self, metrics, resample, DecodeLimits};
use srgan::runtimes::ndarray::{s, Array4, ArrayView4};
use srgan::runtimes::{self, Device, RuntimeOptions, Upscaler};

/// PSNR/SSIM (Y, border = scale) of a model and of bicubic on a folder of HR images.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The model: an exported .onnx, or a generator checkpoint .safetensors (tch builds).
    model: PathBuf,
    /// Folder of HR images (PNG or JPEG).
    #[arg(long)]
    data: PathBuf,
    /// Runtime: ort or tract for .onnx, tch for a checkpoint. Default: tract for .onnx, tch
    /// for .safetensors.
    #[arg(long)]
    runtime: Option<String>,
    /// cpu, cuda[:N] or tensorrt[:N] (what the runtime supports).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Intra-op threads. Default: every core.
    #[arg(long)]
    threads: Option<usize>,
    /// Evaluate at most this many images (sorted by name).
    #[arg(long)]
    max_images: Option<usize>,
    /// Also write one JSON object per image (and a final `mean`) to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn open_model(args: &Args) -> anyhow::Result<Box<dyn Upscaler>> {
    let ext = args
        .model
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let device: Device = args
        .device
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--device: {e}"))?;
    let opts = RuntimeOptions {
        device,
        threads: args.threads,
        ..Default::default()
    };
    let runtime = args
        .runtime
        .clone()
        .unwrap_or_else(|| if ext == "onnx" { "tract" } else { "tch" }.into());
    match (runtime.as_str(), ext.as_str()) {
        ("tch", "safetensors") => open_tch(&args.model, &opts),
        ("tch", _) => bail!(
            "{}: runtime tch takes a generator checkpoint (.safetensors)",
            args.model.display()
        ),
        (_, "safetensors") => bail!(
            "{}: a checkpoint runs on runtime tch; export it to .onnx for {runtime}",
            args.model.display()
        ),
        (rt, _) => runtimes::open(rt, &args.model, &opts)
            .with_context(|| format!("opening {} on {rt}", args.model.display())),
    }
}

#[cfg(feature = "tch")]
fn open_tch(model: &Path, opts: &RuntimeOptions) -> anyhow::Result<Box<dyn Upscaler>> {
    Ok(Box::new(srgan_models::TchUpscaler::open(model, opts)?))
}

#[cfg(not(feature = "tch"))]
fn open_tch(model: &Path, _opts: &RuntimeOptions) -> anyhow::Result<Box<dyn Upscaler>> {
    bail!(
        "{}: this srgan-eval was built without the `tch` feature; rebuild with \
         `--features tch` or export the checkpoint to .onnx",
        model.display()
    )
}

/// Rounds to 8 bits, as a saved image would be.
fn quantise(x: ArrayView4<'_, f32>) -> Array4<f32> {
    x.mapv(|v| (v.clamp(0.0, 1.0) * 255.0).round() / 255.0)
}

struct Scores {
    psnr: f64,
    ssim: f64,
    bicubic_psnr: f64,
    bicubic_ssim: f64,
}

fn evaluate(up: &mut dyn Upscaler, path: &Path, scale: usize) -> anyhow::Result<Scores> {
    let decoded = imaging::read_image(path, &DecodeLimits::default())?;
    let rgb = decoded.image.to_rgb8();
    let (w, h) = (
        rgb.width() as usize / scale * scale,
        rgb.height() as usize / scale * scale,
    );
    if w < 2 * scale + 11 || h < 2 * scale + 11 {
        bail!("{w}x{h} is too small for SSIM after cropping {scale} pixels of border");
    }
    let hr = Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
        rgb.get_pixel(x as u32, y as u32).0[c] as f32 / 255.0
    });
    let lr = quantise(resample::downscale(hr.view(), scale).view());
    let sr = up.upscale(lr.view())?;
    if sr.shape() != hr.shape() {
        bail!(
            "the model returned {:?} for an LR of {:?}; expected {:?}",
            sr.shape(),
            lr.shape(),
            hr.shape()
        );
    }
    let sr = quantise(sr.view());
    let bic = quantise(resample::upscale(lr.view(), scale).view());
    let (hr3, sr3, bic3) = (
        hr.slice(s![0, .., .., ..]),
        sr.slice(s![0, .., .., ..]),
        bic.slice(s![0, .., .., ..]),
    );
    Ok(Scores {
        psnr: metrics::psnr_y(sr3, hr3, scale)?,
        ssim: metrics::ssim_y(sr3, hr3, scale)?,
        bicubic_psnr: metrics::psnr_y(bic3, hr3, scale)?,
        bicubic_ssim: metrics::ssim_y(bic3, hr3, scale)?,
    })
}

fn list_images(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension()
                        .and_then(|e| e.to_str())
                        .map(|e| e.to_ascii_lowercase())
                        .as_deref(),
                    Some("png" | "jpg" | "jpeg")
                )
        })
        .collect();
    v.sort();
    if v.is_empty() {
        bail!("{}: no PNG or JPEG image", dir.display());
    }
    Ok(v)
}

fn run(args: Args) -> anyhow::Result<()> {
    let files = list_images(&args.data)?;
    let mut up = open_model(&args)?;
    let scale = up.scale();
    let mut json = match &args.json {
        Some(p) => {
            Some(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    println!(
        "{} on {} (x{scale}; Y channel, border {scale})",
        args.model.display(),
        up.name()
    );
    println!(
        "{:<28} {:>9} {:>7} {:>12} {:>9}",
        "image", "PSNR dB", "SSIM", "bicubic dB", "bic SSIM"
    );
    let mut sum = [0.0f64; 4];
    let mut n = 0usize;
    for f in files.iter().take(args.max_images.unwrap_or(usize::MAX)) {
        let name = f
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match evaluate(up.as_mut(), f, scale) {
            Ok(sc) => {
                println!(
                    "{name:<28} {:>9.2} {:>7.4} {:>12.2} {:>9.4}",
                    sc.psnr, sc.ssim, sc.bicubic_psnr, sc.bicubic_ssim
                );
                for (a, v) in
                    sum.iter_mut()
                        .zip([sc.psnr, sc.ssim, sc.bicubic_psnr, sc.bicubic_ssim])
                {
                    *a += v;
                }
                n += 1;
                if let Some(j) = json.as_mut() {
                    let rec = serde_json::json!({"image": name, "psnr": sc.psnr, "ssim": sc.ssim,
                        "bicubic_psnr": sc.bicubic_psnr, "bicubic_ssim": sc.bicubic_ssim});
                    writeln!(j, "{rec}")?;
                }
            }
            Err(e) => eprintln!("warning: skipping {}: {e:#}", f.display()),
        }
    }
    if n == 0 {
        bail!("{}: no image could be evaluated", args.data.display());
    }
    let m = sum.map(|v| v / n as f64);
    println!(
        "{:<28} {:>9.2} {:>7.4} {:>12.2} {:>9.4}",
        format!("mean of {n}"),
        m[0],
        m[1],
        m[2],
        m[3]
    );
    if let Some(j) = json.as_mut() {
        let rec = serde_json::json!({"image": "mean", "images": n, "psnr": m[0], "ssim": m[1],
            "bicubic_psnr": m[2], "bicubic_ssim": m[3]});
        writeln!(j, "{rec}")?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srgan-eval: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
