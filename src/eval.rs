//! `srgan-eval`: PSNR and SSIM on the Y channel (BT.601, `scale` pixels of border cropped: the
//! SRGAN paper's protocol) of a model against bicubic upscaling, on a folder of HR images.
//!
//! The protocol itself is [`srgan_imaging::eval`], shared with trainer validation and
//! `srgan-figure`. This module holds the command line ([`EvalArgs`]), its validation into an
//! [`EvalConfig`], and the run over the folder. The model is an exported `.onnx` (runtime
//! `ort` or `tract`) or, in a build with the `tch` feature, a generator checkpoint
//! `.safetensors` (runtime `tch`).

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::SeedableRng;
use srgan_imaging::degrade::Fixed;
use srgan_imaging::eval::{EvalImage, Scores};
use srgan_imaging::niqe::NiqeParams;
use srgan_imaging::pipeline::tensor_to_rgb;
use srgan_imaging::{read_image, DecodeLimits, ImageError};
use srgan_runtimes::{Device, RuntimeError, RuntimeOptions, Upscaler};

/// PSNR/SSIM (Y, border = scale) of a model and of bicubic on a folder of HR images.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-eval",
    version,
    about,
    after_help = "Exit status: 0 when every image was evaluated, 1 when some image could not \
                  be (each is reported, the mean is over the others), 2 on a usage, model, \
                  runtime or I/O error, or when no image could be evaluated, 130 on Ctrl-C or \
                  SIGTERM (no report written)."
)]
pub struct EvalArgs {
    /// The model: an exported .onnx, or a generator checkpoint .safetensors (tch builds).
    pub model: PathBuf,
    /// Folder of HR images (PNG or JPEG).
    #[arg(long)]
    pub data: PathBuf,
    /// Runtime: ort or tract for .onnx, tch for a checkpoint. Default: tract for .onnx, tch
    /// for .safetensors.
    #[arg(long, value_enum)]
    pub runtime: Option<EvalRuntime>,
    /// cpu, cuda[:N] or tensorrt[:N] (what the runtime supports).
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Intra-op threads. Default: every core.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Evaluate at most this many images (sorted by name).
    #[arg(long)]
    pub max_images: Option<usize>,
    /// Test-time augmentation: average over the 8 flips and rotations (as srgan-run -x).
    #[arg(short = 'x', long)]
    pub tta: bool,
    /// Also write one JSON object per image (and a final `mean`) to this file, at the end
    /// and atomically. It may not be the model or an input image.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace an existing --json file.
    #[arg(long)]
    pub overwrite: bool,
    /// Degrade each LR before the model sees it: `noise:SIGMA` (colour Gaussian noise, SIGMA
    /// on 0-255) or `jpeg:QUALITY` (1-100). The baseline is bicubic of the degraded LR (at
    /// scale 1: the degraded input itself).
    #[arg(long, value_name = "SPEC")]
    pub degrade: Option<Fixed>,
    /// Seed of --degrade's noise (each image's noise also depends on its file name).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also report NIQE (no-reference, lower is better; BasicSR's, border = scale) of the
    /// model's output, of the baseline and of the HR, with BasicSR's pristine-model parameters
    /// from this `niqe_pris_params.npz` (scripts/setup.sh fetches it into third_party/basicsr/).
    #[arg(long, value_name = "NPZ")]
    pub niqe: Option<PathBuf>,
}

/// `--runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalRuntime {
    /// ONNX Runtime (.onnx).
    Ort,
    /// tract (.onnx).
    Tract,
    /// libtorch, straight from a generator checkpoint (.safetensors; builds with `tch`).
    Tch,
}

impl EvalRuntime {
    /// Its command-line name.
    pub fn name(self) -> &'static str {
        match self {
            EvalRuntime::Ort => "ort",
            EvalRuntime::Tract => "tract",
            EvalRuntime::Tch => "tch",
        }
    }
}

/// Errors that stop `srgan-eval` (a single image's failure does not: see [`EvalSummary`]).
#[derive(Debug, thiserror::Error)]
pub enum EvalRunError {
    /// The runtime does not take this kind of model file.
    #[error("{}: {reason}", path.display())]
    ModelKind {
        /// The model file.
        path: PathBuf,
        /// What would work.
        reason: String,
    },
    /// The model could not be opened.
    #[error("opening {} on {runtime}", path.display())]
    Open {
        /// The model file.
        path: PathBuf,
        /// The runtime.
        runtime: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A file or folder could not be read or written.
    #[error("{} {}", what, path.display())]
    Io {
        /// What was being done (`reading`, `creating`, `writing`).
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The report would replace an existing file, or one of the run's own inputs.
    #[error("{}: {reason}", path.display())]
    Report {
        /// The report's path.
        path: PathBuf,
        /// Why it cannot be written there.
        reason: &'static str,
    },
    /// The report could not be written.
    #[error("writing {}", path.display())]
    WriteReport {
        /// The report's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: srgan_contract::files::AtomicWriteError<std::io::Error>,
    },
    /// The folder holds no PNG or JPEG file.
    #[error("{}: no PNG or JPEG image", .0.display())]
    NoImages(PathBuf),
    /// `--niqe`'s parameters could not be read.
    #[error(transparent)]
    Niqe(#[from] srgan_imaging::niqe::NiqeError),
    /// Every image failed.
    #[error("{}: no image could be evaluated", .0.display())]
    NothingEvaluated(PathBuf),
}

/// A validated `srgan-eval` run.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// The model file.
    pub model: PathBuf,
    /// The runtime, resolved from `--runtime` or the model's extension.
    pub runtime: EvalRuntime,
    /// Runtime options (device, threads).
    pub options: RuntimeOptions,
    /// The HR folder.
    pub data: PathBuf,
    /// The images to evaluate, sorted, at most `--max-images`.
    pub images: Vec<PathBuf>,
    /// The JSON-lines report, if any.
    pub json: Option<PathBuf>,
    /// Whether the report may replace an existing file.
    pub overwrite: bool,
    /// `--tta`.
    pub tta: bool,
    /// `--degrade`.
    pub degrade: Option<Fixed>,
    /// `--seed`.
    pub seed: u64,
    /// `--niqe`, read.
    pub niqe: Option<std::sync::Arc<NiqeParams>>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct EvalSummary {
    /// Each evaluated image's name and scores.
    pub scores: Vec<(String, Scores)>,
    /// The mean over the evaluated images.
    pub mean: Scores,
    /// With `--niqe`: the mean NIQE of the model, the baseline and the HR.
    pub niqe: Option<NiqeScores>,
    /// The images that could not be evaluated (each reported as it happened).
    pub failed: Vec<PathBuf>,
}

impl EvalConfig {
    /// Lists the images, resolves the runtime and checks that it takes the model's kind.
    pub fn from_args(args: EvalArgs) -> Result<Self, EvalRunError> {
        let images = list_images(&args.data)?;
        let ext = args
            .model
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let runtime = args.runtime.unwrap_or(if ext == "onnx" {
            EvalRuntime::Tract
        } else {
            EvalRuntime::Tch
        });
        let reason = match (runtime, ext == "safetensors") {
            (EvalRuntime::Tch, false) => {
                Some("runtime tch takes a generator checkpoint (.safetensors)".to_string())
            }
            (EvalRuntime::Ort | EvalRuntime::Tract, true) => Some(format!(
                "a checkpoint runs on runtime tch; export it to .onnx for {}",
                runtime.name()
            )),
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(EvalRunError::ModelKind {
                path: args.model,
                reason,
            });
        }
        if let Some(json) = &args.json {
            use srgan_contract::files::same_file;
            let report = |reason| EvalRunError::Report {
                path: json.clone(),
                reason,
            };
            if same_file(json, &args.model) || images.iter().any(|i| same_file(json, i)) {
                return Err(report(
                    "the report would replace an input (the model or an image)",
                ));
            }
            if json.is_dir() {
                return Err(report("is a folder, expected a file name"));
            }
            if json.exists() && !args.overwrite {
                return Err(report("exists (pass --overwrite to replace it)"));
            }
        }
        Ok(Self {
            images: images
                .into_iter()
                .take(args.max_images.unwrap_or(usize::MAX))
                .collect(),
            model: args.model,
            runtime,
            options: RuntimeOptions {
                device: args.device,
                threads: args.threads,
                ..Default::default()
            },
            data: args.data,
            json: args.json,
            overwrite: args.overwrite,
            tta: args.tta,
            degrade: args.degrade,
            seed: args.seed,
            niqe: args
                .niqe
                .as_ref()
                .map(|p| NiqeParams::from_npz(p).map(std::sync::Arc::new))
                .transpose()?,
        })
    }

    /// Opens the model on the runtime and device.
    pub fn open_model(&self) -> Result<Box<dyn Upscaler>, EvalRunError> {
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| EvalRunError::Open {
            path: self.model.clone(),
            runtime: self.runtime.name(),
            source,
        };
        match self.runtime {
            EvalRuntime::Tch => open_tch(&self.model, &self.options),
            rt => srgan_runtimes::open(rt.name(), &self.model, &self.options)
                .map_err(|e: RuntimeError| open_err(e.into())),
        }
    }
}

#[cfg(feature = "tch")]
fn open_tch(model: &Path, opts: &RuntimeOptions) -> Result<Box<dyn Upscaler>, EvalRunError> {
    match srgan_models::TchUpscaler::open(model, opts) {
        Ok(up) => Ok(Box::new(up)),
        Err(e) => Err(EvalRunError::Open {
            path: model.into(),
            runtime: "tch",
            source: e.into(),
        }),
    }
}

#[cfg(not(feature = "tch"))]
fn open_tch(model: &Path, _opts: &RuntimeOptions) -> Result<Box<dyn Upscaler>, EvalRunError> {
    Err(EvalRunError::ModelKind {
        path: model.into(),
        reason: "this srgan-eval was built without the `tch` feature; rebuild with \
                 `--features tch` or export the checkpoint to .onnx"
            .into(),
    })
}

/// NIQE (lower is better) of the model's output, of the baseline and of the HR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NiqeScores {
    /// The model's output.
    pub model: f64,
    /// Bicubic (at scale 1: the input).
    pub baseline: f64,
    /// The HR itself.
    pub hr: f64,
}

impl NiqeScores {
    fn mean(all: &[NiqeScores]) -> NiqeScores {
        let n = all.len() as f64;
        NiqeScores {
            model: all.iter().map(|s| s.model).sum::<f64>() / n,
            baseline: all.iter().map(|s| s.baseline).sum::<f64>() / n,
            hr: all.iter().map(|s| s.hr).sum::<f64>() / n,
        }
    }
}

/// One image through the protocol, its LR degraded by `degrade` (seeded by `seed` and the
/// file name, so that every model sees the same noisy input); NIQE too with `niqe`.
fn evaluate_file(
    up: &mut dyn Upscaler,
    path: &Path,
    cfg: &EvalConfig,
    scale: usize,
) -> Result<(Scores, Option<NiqeScores>), EvalFileError> {
    let decoded = read_image(path, &DecodeLimits::default())?;
    let image = eval_image(&decoded.image.to_rgb8(), path, scale, cfg.degrade, cfg.seed);
    let mut output = None;
    let scores = image.evaluate(|lr| {
        let sr = up.upscale(lr)?;
        if cfg.niqe.is_some() {
            output = Some(sr.clone());
        }
        Ok::<_, RuntimeError>(sr)
    })?;
    let niqe = match (&cfg.niqe, output) {
        (Some(p), Some(sr)) => {
            let of = |x: &srgan_runtimes::ndarray::Array4<f32>| {
                srgan_imaging::niqe::niqe(&tensor_to_rgb(x.view()), scale, p)
            };
            Some(NiqeScores {
                model: of(&sr)?,
                baseline: of(&image.bicubic())?,
                hr: srgan_imaging::niqe::niqe(image.hr(), scale, p)?,
            })
        }
        _ => None,
    };
    Ok((scores, niqe))
}

/// The protocol's HR/LR pair of the photo read from `path`, its LR degraded by `degrade` with
/// noise seeded by `seed` and the file name: `srgan-eval` and `srgan-figure` give every model
/// the same input.
pub fn eval_image(
    photo: &image::RgbImage,
    path: &Path,
    scale: usize,
    degrade: Option<Fixed>,
    seed: u64,
) -> EvalImage {
    match degrade {
        Some(d) => {
            let name = path.file_name().unwrap_or_default().as_encoded_bytes();
            let mut rng = StdRng::seed_from_u64(seed ^ (u64::from(crc32fast::hash(name)) << 16));
            EvalImage::degraded(photo, scale, d, &mut rng)
        }
        None => EvalImage::new(photo, scale),
    }
}

/// Why one image could not be evaluated.
#[derive(Debug, thiserror::Error)]
enum EvalFileError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Eval(#[from] srgan_imaging::EvalError),
    #[error("NIQE")]
    Niqe(#[from] srgan_imaging::niqe::NiqeError),
}

/// The PNG and JPEG files of a folder, sorted.
fn list_images(dir: &Path) -> Result<Vec<PathBuf>, EvalRunError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| EvalRunError::Io {
            what: "reading",
            path: dir.into(),
            source,
        })?
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
        return Err(EvalRunError::NoImages(dir.into()));
    }
    Ok(v)
}

fn row(name: &str, s: &Scores, n: Option<&NiqeScores>) -> String {
    let niqe = n
        .map(|n| format!(" {:>7.3} {:>9.3} {:>7.3}", n.model, n.baseline, n.hr))
        .unwrap_or_default();
    format!(
        "{name:<28} {:>9.2} {:>7.4} {:>12.2} {:>9.4}{niqe}",
        s.psnr, s.ssim, s.bicubic_psnr, s.bicubic_ssim
    )
}

fn json_record(
    name: &str,
    s: &Scores,
    n: Option<&NiqeScores>,
    cfg: &EvalConfig,
) -> serde_json::Value {
    let mut rec = serde_json::json!({"image": name, "psnr": s.psnr, "ssim": s.ssim,
        "bicubic_psnr": s.bicubic_psnr, "bicubic_ssim": s.bicubic_ssim,
        "degrade": cfg.degrade.map(|d| d.to_string()), "seed": cfg.seed});
    if let Some(n) = n {
        rec["niqe"] = n.model.into();
        rec["bicubic_niqe"] = n.baseline.into();
        rec["hr_niqe"] = n.hr.into();
    }
    rec
}

/// Evaluates every image: prints a table on stdout, a warning on stderr for each image that
/// fails, and writes the JSON lines. An error only when nothing could be evaluated or the
/// model or a file cannot be used.
pub fn run(cfg: &EvalConfig) -> Result<EvalSummary, EvalRunError> {
    let mut up = srgan_imaging::multiple::PadToMultiple::wrap(cfg.open_model()?);
    if cfg.tta {
        up = Box::new(srgan_imaging::tta::Tta::new(up));
    }
    let scale = up.scale();
    // The report is kept in memory and written atomically at the end: an interrupted or
    // failed run leaves any earlier report as it was.
    let mut json = String::new();
    let degraded = cfg
        .degrade
        .map(|d| format!("; LR degraded by {d}, seed {}", cfg.seed))
        .unwrap_or_default();
    println!(
        "{} on {} (x{scale}; Y channel, border {scale}{degraded})",
        cfg.model.display(),
        up.name()
    );
    // At scale 1 the bicubic baseline is the identity: the (degraded) input itself.
    let (base, base_ssim) = if scale == 1 {
        ("input dB", "in SSIM")
    } else {
        ("bicubic dB", "bic SSIM")
    };
    let niqe_head = if cfg.niqe.is_some() {
        format!(" {:>7} {:>9} {:>7}", "NIQE", "base NIQE", "HR NIQE")
    } else {
        String::new()
    };
    println!(
        "{:<28} {:>9} {:>7} {:>12} {:>9}{niqe_head}",
        "image", "PSNR dB", "SSIM", base, base_ssim
    );
    let (mut scores, mut niqes, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for f in &cfg.images {
        let name = f
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match evaluate_file(up.as_mut(), f, cfg, scale) {
            Ok((sc, n)) => {
                println!("{}", row(&name, &sc, n.as_ref()));
                json.push_str(&format!("{}\n", json_record(&name, &sc, n.as_ref(), cfg)));
                scores.push((name, sc));
                niqes.extend(n);
            }
            Err(e) => {
                eprintln!(
                    "warning: skipping {}: {}",
                    f.display(),
                    srgan_contract::report::one_line(&e)
                );
                failed.push(f.clone());
            }
        }
    }
    if scores.is_empty() {
        return Err(EvalRunError::NothingEvaluated(cfg.data.clone()));
    }
    let all: Vec<Scores> = scores.iter().map(|(_, s)| *s).collect();
    let m = Scores::mean(&all);
    let niqe = (!niqes.is_empty()).then(|| NiqeScores::mean(&niqes));
    let mean_name = format!("mean of {}", all.len());
    println!("{}", row(&mean_name, &m, niqe.as_ref()));
    if let Some(path) = &cfg.json {
        let mut rec = json_record("mean", &m, niqe.as_ref(), cfg);
        rec["images"] = all.len().into();
        json.push_str(&format!("{rec}\n"));
        srgan_contract::files::atomic_write_with(path, cfg.overwrite, |w| {
            w.write_all(json.as_bytes())
        })
        .map_err(|source| EvalRunError::WriteReport {
            path: path.clone(),
            source,
        })?;
    }
    Ok(EvalSummary {
        scores,
        mean: m,
        niqe,
        failed,
    })
}
