//! `srgan-figure`: a side-by-side comparison picture for the model card.
//!
//! From one HR photo: crop it to a multiple of the scale, make its LR with MATLAB's bicubic
//! (`srgan_imaging::resample::downscale`, rounded to 8 bits, exactly as `srgan-eval` does),
//! upscale that LR with bicubic and with each model, and write one PNG whose panels are the same
//! HR-coordinate crop of: bicubic | model 1 | model 2 | ... | ground truth, each enlarged by
//! `--zoom` with nearest neighbour, separated by white gaps. With `--full-dir`, the full-size
//! outputs are written there too.
//!
//! ```sh
//! srgan-figure --hr data/heldout/chelsea.png --crop 180,60,128,96 --zoom 2 \
//!   -m models/x4/srresnet_x4.onnx -m models/x4/srgan_x4.onnx -o figure.png
//! ```
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use image::{Rgb, RgbImage};
use srgan::imaging::{self, resample, DecodeLimits};
use srgan::runtimes::ndarray::{Array4, ArrayView4};
use srgan::runtimes::{self, RuntimeOptions};

/// Side-by-side crops: bicubic | each model | ground truth.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The HR photo (PNG or JPEG); its LR is made here by bicubic downscaling.
    #[arg(long)]
    hr: PathBuf,
    /// Exported models (.onnx), in panel order; all must have the same scale.
    #[arg(short = 'm', long = "model", required = true)]
    models: Vec<PathBuf>,
    /// The crop in HR pixels: x,y,width,height.
    #[arg(long, value_parser = parse_crop)]
    crop: [u32; 4],
    /// Nearest-neighbour enlargement of each panel.
    #[arg(long, default_value_t = 2)]
    zoom: u32,
    /// Gap between panels, in output pixels.
    #[arg(long, default_value_t = 4)]
    gap: u32,
    /// Runtime for the models: ort or tract.
    #[arg(long, default_value = "tract")]
    runtime: String,
    /// Intra-op threads. Default: every core.
    #[arg(long)]
    threads: Option<usize>,
    /// Also write the full-size LR, bicubic and model outputs into this folder.
    #[arg(long)]
    full_dir: Option<PathBuf>,
    /// Output PNG.
    #[arg(short = 'o', long)]
    output: PathBuf,
}

fn parse_crop(s: &str) -> Result<[u32; 4], String> {
    let v: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("`{s}`: {e}; expected x,y,width,height"))?;
    match v.as_slice() {
        [x, y, w, h] if *w > 0 && *h > 0 => Ok([*x, *y, *w, *h]),
        _ => Err(format!(
            "`{s}`: expected x,y,width,height with width, height > 0"
        )),
    }
}

fn quantise(x: ArrayView4<'_, f32>) -> Array4<f32> {
    x.mapv(|v| (v.clamp(0.0, 1.0) * 255.0).round() / 255.0)
}

fn to_image(x: ArrayView4<'_, f32>) -> RgbImage {
    let (_, _, h, w) = x.dim();
    RgbImage::from_fn(w as u32, h as u32, |px, py| {
        let v =
            |c: usize| (x[[0, c, py as usize, px as usize]].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([v(0), v(1), v(2)])
    })
}

fn save(img: &RgbImage, path: &std::path::Path) -> anyhow::Result<()> {
    imaging::write_image_atomic(
        &image::DynamicImage::ImageRgb8(img.clone()),
        imaging::OutputFormat::Png,
        path,
        true,
    )
    .with_context(|| format!("writing {}", path.display()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let opts = RuntimeOptions {
        threads: args.threads,
        ..Default::default()
    };
    let mut nets = Vec::new();
    for m in &args.models {
        nets.push(
            runtimes::open(&args.runtime, m, &opts)
                .with_context(|| format!("opening {} on {}", m.display(), args.runtime))?,
        );
    }
    let scale = nets[0].scale();
    if let Some(n) = nets.iter().find(|n| n.scale() != scale) {
        bail!("the models' scales differ: x{scale} and x{}", n.scale());
    }
    let rgb = imaging::read_image(&args.hr, &DecodeLimits::default())?
        .image
        .to_rgb8();
    let (w, h) = (
        rgb.width() / scale as u32 * scale as u32,
        rgb.height() / scale as u32 * scale as u32,
    );
    let [cx, cy, cw, ch] = args.crop;
    if cx + cw > w || cy + ch > h {
        bail!("the crop {cx},{cy},{cw},{ch} does not fit in the {w}x{h} image");
    }
    let hr = Array4::from_shape_fn((1, 3, h as usize, w as usize), |(_, c, y, x)| {
        rgb.get_pixel(x as u32, y as u32).0[c] as f32 / 255.0
    });
    let lr = quantise(resample::downscale(hr.view(), scale).view());
    let mut panels = vec![("bicubic".to_string(), resample::upscale(lr.view(), scale))];
    for (m, net) in args.models.iter().zip(nets.iter_mut()) {
        let sr = net
            .upscale(lr.view())
            .with_context(|| format!("running {}", m.display()))?;
        let name = m
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        panels.push((name, sr));
    }
    panels.push(("hr".into(), hr));
    if let Some(dir) = &args.full_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let stem = args
            .hr
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        save(&to_image(lr.view()), &dir.join(format!("{stem}_lr.png")))?;
        for (name, x) in &panels {
            save(&to_image(x.view()), &dir.join(format!("{stem}_{name}.png")))?;
        }
    }
    let z = args.zoom.max(1);
    let (pw, ph) = (cw * z, ch * z);
    let n = panels.len() as u32;
    let mut out = RgbImage::from_pixel(n * pw + (n - 1) * args.gap, ph, Rgb([255, 255, 255]));
    for (i, (_, x)) in panels.iter().enumerate() {
        let img = to_image(x.view());
        let x0 = i as u32 * (pw + args.gap);
        for oy in 0..ph {
            for ox in 0..pw {
                out.put_pixel(x0 + ox, oy, *img.get_pixel(cx + ox / z, cy + oy / z));
            }
        }
    }
    save(&out, &args.output)?;
    let names: Vec<&str> = panels.iter().map(|(n, _)| n.as_str()).collect();
    println!(
        "{}: {} ({}x{} crop at {},{} of {}, x{z})",
        args.output.display(),
        names.join(" | "),
        cw,
        ch,
        cx,
        cy,
        args.hr.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srgan-figure: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
