//! `srgan-figure`: a side-by-side comparison picture for the model card.
//!
//! From one HR photo, the LR of the evaluation protocol ([`srgan_imaging::eval`], exactly as
//! `srgan-eval` makes it) is upscaled with bicubic and with each model, and one PNG is written
//! whose panels are the same HR-coordinate crop of: bicubic | model 1 | model 2 | ... | ground
//! truth, each enlarged by `--zoom` with nearest neighbour, separated by white gaps. With
//! `--full-dir`, the full-size outputs are written there too.
//!
//! ```sh
//! srgan-figure --hr data/heldout/chelsea.png --crop 180,60,128,96 --zoom 2 \
//!   -m models/x4/srresnet_x4.onnx -m models/x4/srgan_x4.onnx -o figure.png
//! ```

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use srgan_imaging::pipeline::tensor_to_rgb;
use srgan_imaging::{read_image, write_image_atomic, DecodeLimits, ImageError, OutputFormat};
use srgan_runtimes::ndarray::Array4;
use srgan_runtimes::{RuntimeError, RuntimeOptions};

/// Side-by-side crops: bicubic | each model | ground truth.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-figure",
    version,
    about,
    after_help = "Exit status: 0 when the figure (and any --full-dir images) was written, 2 on a \
                  usage, model, runtime or I/O error, 130 on Ctrl-C or SIGTERM."
)]
pub struct FigureArgs {
    /// The HR photo (PNG or JPEG); its LR is made here by bicubic downscaling.
    #[arg(long)]
    pub hr: PathBuf,
    /// Exported models (.onnx), in panel order; all must have the same scale.
    #[arg(short = 'm', long = "model", required = true)]
    pub models: Vec<PathBuf>,
    /// The crop in HR pixels: x,y,width,height.
    #[arg(long, value_parser = parse_crop)]
    pub crop: [u32; 4],
    /// Nearest-neighbour enlargement of each panel.
    #[arg(long, default_value_t = 2)]
    pub zoom: u32,
    /// Gap between panels, in output pixels.
    #[arg(long, default_value_t = 4)]
    pub gap: u32,
    /// Runtime for the models.
    #[arg(long, value_enum, default_value_t = FigureRuntime::Tract)]
    pub runtime: FigureRuntime,
    /// Intra-op threads. Default: every core.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also write the full-size LR, bicubic and model outputs into this folder.
    #[arg(long)]
    pub full_dir: Option<PathBuf>,
    /// Output PNG.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Degrade the LR as `srgan-eval --degrade` does (`noise:SIGMA` or `jpeg:QUALITY`).
    #[arg(long, value_name = "SPEC")]
    pub degrade: Option<srgan_imaging::degrade::Fixed>,
    /// Seed of --degrade's noise (the same as srgan-eval's for the same photo).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `--runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FigureRuntime {
    /// ONNX Runtime.
    Ort,
    /// tract.
    Tract,
}

impl FigureRuntime {
    /// The name `srgan_runtimes::open` knows it by.
    pub fn name(self) -> &'static str {
        match self {
            FigureRuntime::Ort => "ort",
            FigureRuntime::Tract => "tract",
        }
    }
}

/// A `--crop` that is not `x,y,width,height` with width, height > 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CropError {
    /// A part is not a number.
    #[error("`{crop}`: expected x,y,width,height")]
    NotANumber {
        /// The value given.
        crop: String,
        /// The part's parse error.
        #[source]
        source: std::num::ParseIntError,
    },
    /// Not four parts, or an empty rectangle.
    #[error("`{0}`: expected x,y,width,height with width, height > 0")]
    Shape(String),
}

/// `--crop x,y,width,height` with width, height > 0.
pub fn parse_crop(s: &str) -> Result<[u32; 4], CropError> {
    let v: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|source| CropError::NotANumber {
            crop: s.into(),
            source,
        })?;
    match v.as_slice() {
        [x, y, w, h] if *w > 0 && *h > 0 => Ok([*x, *y, *w, *h]),
        _ => Err(CropError::Shape(s.into())),
    }
}

/// Errors of `srgan-figure`.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// A model could not be opened.
    #[error("opening {} on {runtime}", path.display())]
    Open {
        /// The model.
        path: PathBuf,
        /// The runtime.
        runtime: &'static str,
        /// What went wrong.
        #[source]
        source: RuntimeError,
    },
    /// The models upscale by different factors.
    #[error("the models' scales differ: x{first} and x{other}")]
    Scales {
        /// The first model's scale.
        first: usize,
        /// Another's.
        other: usize,
    },
    /// The HR photo could not be read, or an output written.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The crop does not fit in the (cropped) HR.
    #[error("the crop {},{},{},{} does not fit in the {width}x{height} image", crop[0], crop[1], crop[2], crop[3])]
    Crop {
        /// x, y, width, height.
        crop: [u32; 4],
        /// The HR's width after cropping to a multiple of the scale.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// A model failed.
    #[error("running {}", path.display())]
    Run {
        /// The model.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: RuntimeError,
    },
    /// The `--full-dir` folder could not be created.
    #[error("creating {}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What [`run`] wrote; its `Display` is the one-line report.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The figure file.
    pub output: PathBuf,
    /// The panels' names, left to right.
    pub panels: Vec<String>,
    /// The crop.
    pub crop: [u32; 4],
    /// The HR photo.
    pub hr: PathBuf,
    /// The zoom.
    pub zoom: u32,
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [cx, cy, cw, ch] = self.crop;
        write!(
            f,
            "{}: {} ({cw}x{ch} crop at {cx},{cy} of {}, x{})",
            self.output.display(),
            self.panels.join(" | "),
            self.hr.display(),
            self.zoom
        )
    }
}

fn save(img: &RgbImage, path: &Path) -> Result<(), FigureError> {
    let img = image::DynamicImage::ImageRgb8(img.clone());
    Ok(write_image_atomic(&img, OutputFormat::Png, path, true)?)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Opens the models, makes the panels and writes the figure (and the full-size images).
pub fn run(args: &FigureArgs) -> Result<Figure, FigureError> {
    let opts = RuntimeOptions {
        threads: args.threads,
        ..Default::default()
    };
    let runtime = args.runtime.name();
    let mut nets = Vec::new();
    for m in &args.models {
        let net = srgan_runtimes::open(runtime, m, &opts).map_err(|source| FigureError::Open {
            path: m.clone(),
            runtime,
            source,
        })?;
        nets.push(net);
    }
    let scale = nets[0].scale();
    if let Some(n) = nets.iter().find(|n| n.scale() != scale) {
        return Err(FigureError::Scales {
            first: scale,
            other: n.scale(),
        });
    }
    let photo = read_image(&args.hr, &DecodeLimits::default())?
        .image
        .to_rgb8();
    let eval = crate::eval::eval_image(&photo, &args.hr, scale, args.degrade, args.seed);
    let (w, h) = eval.hr().dimensions();
    let [cx, cy, cw, ch] = args.crop;
    if cx + cw > w || cy + ch > h {
        return Err(FigureError::Crop {
            crop: args.crop,
            width: w,
            height: h,
        });
    }
    let lr = eval.lr_tensor();
    // At scale 1 the bicubic panel is the (degraded) input itself.
    let base = if scale == 1 { "input" } else { "bicubic" };
    let mut panels: Vec<(String, Array4<f32>)> = vec![(base.into(), eval.bicubic())];
    for (m, net) in args.models.iter().zip(nets.iter_mut()) {
        let sr = net.upscale(lr.view()).map_err(|source| FigureError::Run {
            path: m.clone(),
            source,
        })?;
        panels.push((stem(m), sr));
    }
    panels.push(("hr".into(), eval.hr_tensor()));
    if let Some(dir) = &args.full_dir {
        std::fs::create_dir_all(dir).map_err(|source| FigureError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let stem = stem(&args.hr);
        save(eval.lr(), &dir.join(format!("{stem}_lr.png")))?;
        for (name, x) in &panels {
            save(
                &tensor_to_rgb(x.view()),
                &dir.join(format!("{stem}_{name}.png")),
            )?;
        }
    }
    let z = args.zoom.max(1);
    let (pw, ph) = (cw * z, ch * z);
    let n = panels.len() as u32;
    let mut out = RgbImage::from_pixel(n * pw + (n - 1) * args.gap, ph, Rgb([255, 255, 255]));
    for (i, (_, x)) in panels.iter().enumerate() {
        let img = tensor_to_rgb(x.view());
        let x0 = i as u32 * (pw + args.gap);
        for oy in 0..ph {
            for ox in 0..pw {
                out.put_pixel(x0 + ox, oy, *img.get_pixel(cx + ox / z, cy + oy / z));
            }
        }
    }
    save(&out, &args.output)?;
    Ok(Figure {
        output: args.output.clone(),
        panels: panels.into_iter().map(|(n, _)| n).collect(),
        crop: args.crop,
        hr: args.hr.clone(),
        zoom: z,
    })
}
