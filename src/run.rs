//! `srgan-run`: upscale one image or a folder of images with an exported model.
//!
//! Three steps, each in one place: [`RunArgs`] (what clap parses) becomes a validated
//! [`RunConfig`] ([`RunConfig::from_args`]), which [`run`] executes.
//!
//! The run is a three-stage pipeline: a decode thread reads files into a bounded channel, the
//! calling thread runs the model (the `Upscaler` need not be `Send`), and an encode thread
//! writes each result through a temporary file that is renamed into place. A bad file is
//! reported (path and reason, one line) and skipped; the others are processed; the returned
//! [`Summary`] says how many failed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;
use std::time::Instant;

use image::DynamicImage;
use indicatif::{ProgressBar, ProgressStyle};
use srgan_imaging::image_io::{read_image, write_image_atomic, DecodeLimits, ImageError};
use srgan_imaging::pipeline::{upscale_image, PipelineError, UpscaleOptions};
use srgan_imaging::tiling::{
    default_tile_pad, window_bytes_per_pixel, TileConfig, FALLBACK_TILE_PAD, MIN_CORE,
};
use srgan_imaging::OutputFormat;
use srgan_runtimes::{Device, ModelInfo, RuntimeError, RuntimeOptions, Upscaler};

/// Default `--max-memory`, MiB.
pub const DEFAULT_MAX_MEMORY_MIB: u64 = 1536;

/// What srgan-run holds before any image (the ONNX Runtime library, the session, the
/// weights of a paper-size model): measured 160 MiB peak for a whole run of a 0-block model.
pub const BASE_MEMORY_BYTES: u64 = 160 << 20;

/// `--tile`: how images are cut before they reach the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileArg {
    /// Per image, the cheapest grid whose windows' intermediate tensors fit what
    /// `--max-memory` leaves after the image's own buffers (the whole image when it fits).
    Auto,
    /// Cores of at most this many LR pixels per side; 0: each image whole.
    Side(usize),
}

impl std::str::FromStr for TileArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        s.parse::<usize>().map(Self::Side).map_err(|_| {
            format!("`{s}`: expected `auto` or a tile side in LR pixels (0: whole image)")
        })
    }
}

impl std::fmt::Display for TileArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Side(n) => write!(f, "{n}"),
        }
    }
}

/// File extensions picked up from an input folder (any case).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The runtime that runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    /// ONNX Runtime (CPU, CUDA, TensorRT).
    Ort,
    /// tract, pure Rust (CPU).
    Tract,
    /// libtorch through tch, straight from a safetensors checkpoint (feature `tch`).
    #[cfg(feature = "tch")]
    Tch,
}

impl RuntimeKind {
    /// The name `srgan_runtimes::open` knows it by.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Ort => "ort",
            RuntimeKind::Tract => "tract",
            #[cfg(feature = "tch")]
            RuntimeKind::Tch => "tch",
        }
    }
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// PNG (keeps 16 bits and alpha).
    Png,
    /// JPEG (8 bits, alpha dropped).
    #[value(alias = "jpeg")]
    Jpg,
}

/// What `srgan-run` accepts on its command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-run",
    version,
    about = "Upscale images with an exported SRGAN (or any x2/x4/x8 ONNX super-resolution) model",
    after_help = "Exit status: 0 when every image was written, 1 when some image failed \
                  (each failure is reported with its path), 2 on a usage, model or runtime error."
)]
pub struct RunArgs {
    /// Input image (PNG or JPEG), or a folder: its .png/.jpg/.jpeg files are upscaled (not
    /// recursively).
    #[arg(short, long)]
    pub input: PathBuf,
    /// Output: a file for a file input (or an existing folder, to keep the input's name), a
    /// folder for a folder input (created if missing). Names keep the input's stem, with the
    /// extension of the output format.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The model: an .onnx file (ort, tract), or a .safetensors checkpoint (tch).
    #[arg(short, long)]
    pub model: PathBuf,
    /// Runtime.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Ort)]
    pub runtime: RuntimeKind,
    /// Device: cpu, cuda, cuda:N, tensorrt or tensorrt:N (GPUs: ort only). A device that
    /// cannot be had is an error, never a silent fall back to the CPU.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Tiling, which bounds the runtime's memory: `auto` runs each image whole when the run
    /// fits --max-memory, else in the largest tiles that fit; N: tiles of at most N x N LR
    /// pixels; 0: each image whole.
    #[arg(long, default_value = "auto")]
    pub tile: TileArg,
    /// Peak memory `--tile auto` aims to stay under, in MiB, estimated per image from its
    /// size and the model's channels and scale.
    #[arg(long, default_value_t = DEFAULT_MAX_MEMORY_MIB)]
    pub max_memory: u64,
    /// Context around each tile, in LR pixels. Default: the model's receptive-field radius
    /// from its metadata (tiling is then exact), or 16 for a model without it.
    #[arg(long)]
    pub tile_pad: Option<usize>,
    /// Intra-op threads. Default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output format. Default: the output file's extension, else the input's format.
    #[arg(short, long, value_enum)]
    pub format: Option<FormatArg>,
    /// JPEG quality, 1..=100.
    #[arg(long, default_value_t = OutputFormat::DEFAULT_JPEG_QUALITY,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: u8,
    /// ort + TensorRT: folder for the engine cache.
    #[arg(long)]
    pub trt_cache: Option<PathBuf>,
    /// ort: the libonnxruntime.so to load. Default: $ORT_DYLIB_PATH, else the library
    /// scripts/setup.sh found when this binary was built.
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_library: Option<PathBuf>,
    /// Replace existing outputs (otherwise an existing output is that file's failure).
    #[arg(long)]
    pub overwrite: bool,
    /// Print only errors: no progress bar, no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Errors that stop the whole run (before or instead of processing files).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input cannot be used.
    #[error("{path}: {reason}")]
    Input {
        /// The input path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The output cannot be used.
    #[error("{path}: {reason}")]
    Output {
        /// The output path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Options that do not fit together.
    #[error("{option}: {reason}")]
    Option {
        /// The option at fault.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The model could not be opened on the runtime and device.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The model could not be opened (a runtime reporting through `anyhow`).
    #[error("{path}: cannot open model: {reason}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Why one file failed. Each variant's message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading, decoding, encoding or writing failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Upscaling failed.
    #[error("{path}: {source}")]
    Upscale {
        /// The input file.
        path: PathBuf,
        /// Why.
        source: PipelineError,
    },
    /// Two inputs would write the same output.
    #[error("{path}: its output {output} is also the output of {other}")]
    DuplicateOutput {
        /// The input file.
        path: PathBuf,
        /// The output both map to.
        output: PathBuf,
        /// The input that claimed it first.
        other: PathBuf,
    },
    /// The output would replace the input.
    #[error("{path}: the output would replace the input; choose another output folder")]
    OutputIsInput {
        /// The input file.
        path: PathBuf,
    },
}

/// One image to process.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The input file.
    pub input: PathBuf,
    /// Where the result goes.
    pub output: PathBuf,
    /// In which format.
    pub format: OutputFormat,
}

/// What to process: one file or a folder.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One input file and its output file.
    File(Job),
    /// Every image in `input` (see [`IMAGE_EXTENSIONS`]) into `output`.
    Folder {
        /// The input folder.
        input: PathBuf,
        /// The output folder (created if missing).
        output: PathBuf,
        /// `--format`, if given (else each output keeps its input's format).
        format: Option<OutputFormat>,
        /// JPEG quality for JPEG outputs.
        jpeg_quality: u8,
    },
}

/// A validated `srgan-run` configuration.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// What to process.
    pub target: Target,
    /// The model file.
    pub model: PathBuf,
    /// The runtime.
    pub runtime: RuntimeKind,
    /// Device, threads and library paths for the runtime.
    pub runtime_options: RuntimeOptions,
    /// `--tile`.
    pub tile: TileArg,
    /// `--max-memory`, MiB.
    pub max_memory_mib: u64,
    /// `--tile-pad`; `None`: from the model (see [`resolve_tile_pad`]).
    pub tile_pad: Option<usize>,
    /// Replace existing outputs.
    pub overwrite: bool,
    /// No progress bar, no summary.
    pub quiet: bool,
    /// Decoder limits.
    pub limits: DecodeLimits,
}

fn with_quality(f: OutputFormat, quality: u8) -> OutputFormat {
    match f {
        OutputFormat::Jpeg { .. } => OutputFormat::Jpeg { quality },
        png => png,
    }
}

fn format_of_extension(path: &Path) -> Option<OutputFormat> {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(OutputFormat::from_extension)
}

/// The format of an input file for naming its output: its extension, else its first bytes,
/// else PNG.
fn input_format(path: &Path) -> OutputFormat {
    if let Some(f) = format_of_extension(path) {
        return f;
    }
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    image::guess_format(&head[..n])
        .ok()
        .and_then(OutputFormat::from_image_format)
        .unwrap_or(OutputFormat::Png)
}

/// `dir/stem.ext` for `input`.
fn output_in(dir: &Path, input: &Path, format: OutputFormat) -> PathBuf {
    let stem = input.file_stem().unwrap_or(input.as_os_str());
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(format.extension());
    dir.join(name)
}

impl RunConfig {
    /// Validates the arguments: the input exists, the model is a file, the output fits the
    /// input (file or folder), and `--format` agrees with an explicit output file name.
    pub fn from_args(args: RunArgs) -> Result<Self, RunError> {
        let format = args.format.map(|f| match f {
            FormatArg::Png => OutputFormat::Png,
            FormatArg::Jpg => OutputFormat::Jpeg {
                quality: args.jpeg_quality,
            },
        });
        if !args.model.is_file() {
            return Err(RunError::Input {
                path: args.model.clone(),
                reason: if args.model.exists() {
                    "the model is not a file".into()
                } else {
                    "no such model file".into()
                },
            });
        }
        let meta = std::fs::metadata(&args.input).map_err(|e| RunError::Input {
            path: args.input.clone(),
            reason: e.to_string(),
        })?;
        let target = if meta.is_dir() {
            if args.output.is_file() {
                return Err(RunError::Output {
                    path: args.output,
                    reason: "the input is a folder, so the output must be a folder, not a file"
                        .into(),
                });
            }
            Target::Folder {
                input: args.input,
                output: args.output,
                format,
                jpeg_quality: args.jpeg_quality,
            }
        } else {
            let ends_with_sep = args
                .output
                .as_os_str()
                .to_string_lossy()
                .ends_with(std::path::MAIN_SEPARATOR);
            let job = if args.output.is_dir() || ends_with_sep {
                let f = format
                    .unwrap_or_else(|| with_quality(input_format(&args.input), args.jpeg_quality));
                Job {
                    output: output_in(&args.output, &args.input, f),
                    input: args.input,
                    format: f,
                }
            } else {
                let named = format_of_extension(&args.output);
                let f = match (format, named) {
                    (Some(f), Some(n)) if f.extension() != n.extension() => {
                        return Err(RunError::Option {
                            option: "--format",
                            reason: format!(
                                "{} conflicts with the output file name {}",
                                f.extension(),
                                args.output.display()
                            ),
                        })
                    }
                    (Some(f), _) => f,
                    (None, Some(n)) => with_quality(n, args.jpeg_quality),
                    (None, None) => with_quality(input_format(&args.input), args.jpeg_quality),
                };
                Job {
                    input: args.input,
                    output: args.output,
                    format: f,
                }
            };
            Target::File(job)
        };
        if args.max_memory == 0 {
            return Err(RunError::Option {
                option: "--max-memory",
                reason: "0 MiB: expected a positive number of MiB".into(),
            });
        }
        Ok(Self {
            target,
            model: args.model,
            runtime: args.runtime,
            runtime_options: RuntimeOptions {
                device: args.device,
                threads: args.threads,
                trt_cache_dir: args.trt_cache,
                ort_library: args.ort_library.filter(|p| !p.as_os_str().is_empty()),
            },
            tile: args.tile,
            max_memory_mib: args.max_memory,
            tile_pad: args.tile_pad,
            overwrite: args.overwrite,
            quiet: args.quiet,
            limits: DecodeLimits::default(),
        })
    }
}

/// Opens the model on the configured runtime and device.
pub fn open_upscaler(cfg: &RunConfig) -> Result<Box<dyn Upscaler>, RunError> {
    match cfg.runtime {
        RuntimeKind::Ort | RuntimeKind::Tract => Ok(srgan_runtimes::open(
            cfg.runtime.name(),
            &cfg.model,
            &cfg.runtime_options,
        )?),
        #[cfg(feature = "tch")]
        RuntimeKind::Tch => {
            let up =
                srgan_models::TchUpscaler::open(&cfg.model, &cfg.runtime_options).map_err(|e| {
                    RunError::Model {
                        path: cfg.model.clone(),
                        reason: format!("{e:#}"),
                    }
                })?;
            Ok(Box::new(up))
        }
    }
}

/// The feature channels of a model: from `srgan.architecture`, else 64 (SRResNet's and
/// RRDBNet's usual width), for the memory estimate of `--tile auto`.
pub fn model_channels(info: &ModelInfo) -> usize {
    architecture(info).map_or(64, |c| c.channels)
}

/// The generator config in a model's `srgan.architecture`, if it has one that parses.
fn architecture(info: &ModelInfo) -> Option<srgan_export::GeneratorConfig> {
    serde_json::from_str(info.architecture.as_deref()?).ok()
}

/// How srgan-run tiles each image: `--tile N` (fixed), or `--tile auto` (a window budget per
/// image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tiling {
    /// The same tiling for every image.
    Fixed(TileConfig),
    /// `--tile auto`: windows whose intermediate tensors ([`window_bytes_per_pixel`]) fit in
    /// what `max_memory` leaves after [`BASE_MEMORY_BYTES`] and the image's own buffers
    /// ([`image_memory_bytes`]); never smaller than a [`MIN_CORE`] tile with its context.
    Budget {
        /// Context around each tile.
        tile_pad: usize,
        /// `--max-memory`, bytes.
        max_memory: u64,
        /// The model's estimate per LR pixel of a window.
        window_bytes_per_pixel: u64,
        /// The model's scale.
        scale: usize,
    },
}

impl Tiling {
    /// The tiling of `--tile` / `--max-memory` for a model. Errs when `max_memory` cannot
    /// hold even a [`MIN_CORE`]-pixel tile with its context on top of the base.
    pub fn new(
        tile: TileArg,
        max_memory_mib: u64,
        tile_pad: usize,
        info: &ModelInfo,
        scale: usize,
    ) -> Result<Self, String> {
        match tile {
            TileArg::Side(n) => Ok(Self::Fixed(TileConfig {
                tile: n,
                tile_pad,
                max_window_pixels: 0,
            })),
            TileArg::Auto => {
                let channels = model_channels(info);
                let per_pixel = window_bytes_per_pixel(channels, scale);
                let smallest = (MIN_CORE + 2 * tile_pad).pow(2) as u64 * per_pixel;
                let need = (BASE_MEMORY_BYTES + smallest).div_ceil(1 << 20);
                if max_memory_mib < need {
                    return Err(format!(
                        "{max_memory_mib} MiB is too small for a x{scale} model of {channels} \
                         channels: a {MIN_CORE}x{MIN_CORE} tile with its {tile_pad}-pixel \
                         context needs about {need} MiB"
                    ));
                }
                Ok(Self::Budget {
                    tile_pad,
                    max_memory: max_memory_mib << 20,
                    window_bytes_per_pixel: per_pixel,
                    scale,
                })
            }
        }
    }

    /// The tiling of one decoded image.
    pub fn for_image(&self, image: &DynamicImage) -> TileConfig {
        match *self {
            Self::Fixed(c) => c,
            Self::Budget {
                tile_pad,
                max_memory,
                window_bytes_per_pixel,
                scale,
            } => {
                let own = image_memory_bytes(image, scale);
                let left = max_memory.saturating_sub(BASE_MEMORY_BYTES + own);
                let smallest = (MIN_CORE + 2 * tile_pad).pow(2);
                TileConfig {
                    tile: 0,
                    tile_pad,
                    max_window_pixels: ((left / window_bytes_per_pixel) as usize).max(smallest),
                }
            }
        }
    }
}

/// What one image takes besides the model's intermediates, in bytes: the decoded image, its
/// f32 LR tensor, the output image (same channels and depth, `scale`^2 the pixels) and about
/// half of it again for the PNG encoder (measured: a 2048x2048 photo x4 through a model with
/// negligible intermediates peaks at 414 MiB with PNG output, 321 MiB with JPEG).
pub fn image_memory_bytes(image: &DynamicImage, scale: usize) -> u64 {
    let decoded = image.as_bytes().len() as u64;
    let pixels = image.width() as u64 * image.height() as u64;
    let tensor = pixels * 3 * 4;
    let output = decoded * (scale as u64).pow(2);
    decoded + tensor + output + output / 2
}

/// The tile pad to use: `--tile-pad` if given; else the model's receptive-field radius (from
/// `srgan.receptive_field_radius`, or computed from `srgan.architecture`); else
/// [`FALLBACK_TILE_PAD`]. The second value is `false` for the fallback, so callers can warn.
pub fn resolve_tile_pad(explicit: Option<usize>, info: &ModelInfo) -> (usize, bool) {
    if let Some(p) = explicit {
        return (p, true);
    }
    let d = default_tile_pad(info);
    if d.from_model {
        return (d.pad, true);
    }
    let from_arch = architecture(info).map(|c| c.receptive_field_radius());
    match from_arch {
        Some(r) => (r, true),
        None => (FALLBACK_TILE_PAD, false),
    }
}

/// The inputs of a folder, sorted: files with an image extension, and how many other
/// entries were ignored.
pub fn list_images(dir: &Path) -> Result<(Vec<PathBuf>, usize), RunError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RunError::Input {
        path: dir.into(),
        reason: e.to_string(),
    })?;
    let mut files = Vec::new();
    let mut ignored = 0;
    for entry in entries {
        let entry = entry.map_err(|e| RunError::Input {
            path: dir.into(),
            reason: e.to_string(),
        })?;
        let path = entry.path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if is_image && !hidden && path.is_file() {
            files.push(path);
        } else if !hidden {
            ignored += 1;
        }
    }
    files.sort();
    Ok((files, ignored))
}

/// The jobs of a folder run, and the inputs that cannot run (duplicate output, output =
/// input).
pub fn plan_folder(
    files: Vec<PathBuf>,
    out_dir: &Path,
    format: Option<OutputFormat>,
    jpeg_quality: u8,
) -> (Vec<Job>, Vec<FileError>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    let mut claimed = std::collections::HashMap::new();
    for input in files {
        let f = format.unwrap_or_else(|| with_quality(input_format(&input), jpeg_quality));
        let output = output_in(out_dir, &input, f);
        if same_file(&input, &output) {
            bad.push(FileError::OutputIsInput { path: input });
            continue;
        }
        if let Some(other) = claimed.get(&output) {
            bad.push(FileError::DuplicateOutput {
                path: input,
                output,
                other: PathBuf::clone(other),
            });
            continue;
        }
        claimed.insert(output.clone(), input.clone());
        jobs.push(Job {
            input,
            output,
            format: f,
        });
    }
    (jobs, bad)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Outputs written.
    pub ok: usize,
    /// Files that failed, with their errors (each names its file).
    pub failed: Vec<FileError>,
    /// Entries of an input folder that were not images (by extension) and were ignored.
    pub ignored: usize,
}

/// Reports progress and failures on stderr from any of the pipeline's threads.
struct Console {
    bar: ProgressBar,
    quiet: bool,
    ok: AtomicUsize,
    failed: Mutex<Vec<FileError>>,
}

impl Console {
    fn new(total: usize, folder: bool, quiet: bool) -> Self {
        let bar = if folder && !quiet && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed_precise}<{eta}] {msg}")
            {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            quiet,
            ok: AtomicUsize::new(0),
            failed: Mutex::new(Vec::new()),
        }
    }

    fn warn(&self, msg: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("srgan-run: warning: {msg}"));
        }
    }

    fn note(&self, msg: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("srgan-run: {msg}"));
        }
    }

    fn fail(&self, e: FileError) {
        self.bar.suspend(|| eprintln!("srgan-run: error: {e}"));
        self.bar.inc(1);
        if let Ok(mut v) = self.failed.lock() {
            v.push(e);
        }
    }

    fn done(&self, job: &Job) {
        self.ok.fetch_add(1, Ordering::Relaxed);
        self.bar.set_message(
            job.output
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        self.bar.inc(1);
    }

    fn finish(self, ignored: usize) -> Summary {
        self.bar.finish_and_clear();
        Summary {
            ok: self.ok.into_inner(),
            failed: self.failed.into_inner().unwrap_or_default(),
            ignored,
        }
    }
}

/// Runs the configuration: opens the model, then processes the file or folder. `Err` only
/// for what stops everything (the model, the output folder); per-file failures are in the
/// [`Summary`] and were reported on stderr as they happened.
pub fn run(cfg: &RunConfig) -> Result<Summary, RunError> {
    let start = Instant::now();
    let (jobs, early_failures, ignored, folder) = match &cfg.target {
        Target::File(job) => {
            if let Some(parent) = job.output.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(RunError::Output {
                        path: job.output.clone(),
                        reason: format!("its folder {} does not exist", parent.display()),
                    });
                }
            }
            let mut bad = Vec::new();
            let mut jobs = Vec::new();
            if same_file(&job.input, &job.output) {
                bad.push(FileError::OutputIsInput {
                    path: job.input.clone(),
                });
            } else {
                jobs.push(job.clone());
            }
            (jobs, bad, 0, false)
        }
        Target::Folder {
            input,
            output,
            format,
            jpeg_quality,
        } => {
            let (files, ignored) = list_images(input)?;
            std::fs::create_dir_all(output).map_err(|e| RunError::Output {
                path: output.clone(),
                reason: format!("cannot create the output folder: {e}"),
            })?;
            let (jobs, bad) = plan_folder(files, output, *format, *jpeg_quality);
            (jobs, bad, ignored, true)
        }
    };

    let mut upscaler = open_upscaler(cfg)?;
    let (tile_pad, exact) = resolve_tile_pad(cfg.tile_pad, upscaler.info());
    let console = Console::new(jobs.len() + early_failures.len(), folder, cfg.quiet);
    let tiling = Tiling::new(
        cfg.tile,
        cfg.max_memory_mib,
        tile_pad,
        upscaler.info(),
        upscaler.scale(),
    )
    .map_err(|reason| RunError::Option {
        option: "--max-memory",
        reason: format!("{reason} ({})", cfg.model.display()),
    })?;
    if !exact && cfg.tile != TileArg::Side(0) {
        console.warn(&format!(
            "{} does not give its receptive-field radius; using --tile-pad {tile_pad} \
             (tile seams may show: pass --tile-pad, or --tile 0 to run images whole)",
            cfg.model.display()
        ));
    }
    if folder && jobs.is_empty() && early_failures.is_empty() {
        console.warn(&format!(
            "no .png/.jpg/.jpeg files in {}",
            cfg_input(&cfg.target).display()
        ));
    }
    if ignored > 0 {
        console.note(&format!(
            "ignoring {ignored} entries without a .png/.jpg/.jpeg extension"
        ));
    }
    for e in early_failures {
        console.fail(e);
    }
    process(upscaler.as_mut(), &jobs, cfg, &tiling, &console);
    let summary = console.finish(ignored);
    let secs = start.elapsed().as_secs_f64();
    if folder && (!cfg.quiet || !summary.failed.is_empty()) {
        // With failures the summary is printed even with -q: it explains the exit status.
        eprintln!(
            "srgan-run: {} ok, {} failed ({}, x{}, {secs:.2} s)",
            summary.ok,
            summary.failed.len(),
            upscaler.name(),
            upscaler.scale()
        );
    } else if !folder && !cfg.quiet && summary.ok == 1 {
        eprintln!(
            "srgan-run: wrote {} ({}, x{}, {secs:.2} s)",
            jobs[0].output.display(),
            upscaler.name(),
            upscaler.scale()
        );
    }
    Ok(summary)
}

fn cfg_input(target: &Target) -> &Path {
    match target {
        Target::File(job) => &job.input,
        Target::Folder { input, .. } => input,
    }
}

/// Decode thread -> inference (this thread) -> encode thread, with bounded channels so at
/// most a couple of images are in flight.
fn process(
    upscaler: &mut dyn Upscaler,
    jobs: &[Job],
    cfg: &RunConfig,
    tiling: &Tiling,
    console: &Console,
) {
    let (decoded_tx, decoded_rx) = sync_channel::<(&Job, DynamicImage)>(1);
    let (upscaled_tx, upscaled_rx) = sync_channel::<(&Job, DynamicImage)>(1);
    let overwrite = cfg.overwrite;
    std::thread::scope(|s| {
        s.spawn(move || {
            for job in jobs {
                if !overwrite && job.output.exists() {
                    console.fail(
                        ImageError::OutputExists {
                            path: job.output.clone(),
                        }
                        .into(),
                    );
                    continue;
                }
                match read_image(&job.input, &cfg.limits) {
                    Ok(d) => {
                        if decoded_tx.send((job, d.image)).is_err() {
                            break;
                        }
                    }
                    Err(e) => console.fail(e.into()),
                }
            }
        });
        s.spawn(move || {
            for (job, image) in upscaled_rx {
                match write_image_atomic(&image, job.format, &job.output, overwrite) {
                    Ok(()) => console.done(job),
                    Err(e) => console.fail(e.into()),
                }
            }
        });
        for (job, image) in decoded_rx {
            let opts = UpscaleOptions {
                tiling: tiling.for_image(&image),
                ..UpscaleOptions::default()
            };
            match upscale_image(upscaler, image, &opts) {
                Ok(out) => {
                    if upscaled_tx.send((job, out)).is_err() {
                        break;
                    }
                }
                Err(source) => console.fail(FileError::Upscale {
                    path: job.input.clone(),
                    source,
                }),
            }
        }
        drop(upscaled_tx);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("srgan-run-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn args(v: &[&str]) -> RunArgs {
        RunArgs::try_parse_from(std::iter::once("srgan-run").chain(v.iter().copied())).unwrap()
    }

    #[test]
    fn file_output_names_and_formats() {
        let d = tmp("names");
        let model = d.join("m.onnx");
        std::fs::write(&model, b"x").unwrap();
        let input = d.join("photo.png");
        std::fs::write(&input, b"x").unwrap();
        let m = model.to_str().unwrap();
        let i = input.to_str().unwrap();
        let dir = d.to_str().unwrap();

        // An existing folder as output keeps the stem and the input's format.
        let c = RunConfig::from_args(args(&["-i", i, "-o", dir, "-m", m])).unwrap();
        let Target::File(job) = c.target else {
            panic!()
        };
        assert_eq!(job.output, d.join("photo.png"));
        assert_eq!(job.format, OutputFormat::Png);
        // -f jpg into a folder.
        let c = RunConfig::from_args(args(&["-i", i, "-o", dir, "-m", m, "-f", "jpg"])).unwrap();
        let Target::File(job) = c.target else {
            panic!()
        };
        assert_eq!(job.output, d.join("photo.jpg"));
        // An explicit file name decides the format.
        let out = d.join("x.jpeg");
        let c =
            RunConfig::from_args(args(&["-i", i, "-o", out.to_str().unwrap(), "-m", m])).unwrap();
        let Target::File(job) = c.target else {
            panic!()
        };
        assert!(matches!(job.format, OutputFormat::Jpeg { quality: 95 }));
        // ... and must agree with -f.
        let e = RunConfig::from_args(args(&[
            "-i",
            i,
            "-o",
            out.to_str().unwrap(),
            "-m",
            m,
            "-f",
            "png",
        ]))
        .unwrap_err();
        assert!(
            matches!(
                e,
                RunError::Option {
                    option: "--format",
                    ..
                }
            ),
            "{e}"
        );
        // Missing model and missing input are named.
        let e = RunConfig::from_args(args(&["-i", i, "-o", dir, "-m", "/nonexistent.onnx"]))
            .unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent.onnx: no such model file");
        let e = RunConfig::from_args(args(&["-i", "/nonexistent.png", "-o", dir, "-m", m]))
            .unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent.png: "), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn folder_plan_flags_duplicates_and_in_place_outputs() {
        let d = tmp("plan");
        for n in ["a.png", "a.jpg", "b.JPG", "notes.txt", ".hidden.png"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        let (files, ignored) = list_images(&d).unwrap();
        assert_eq!(ignored, 1);
        assert_eq!(files.len(), 3);
        let out = d.join("out");
        let (jobs, bad) = plan_folder(files.clone(), &out, Some(OutputFormat::Png), 95);
        assert_eq!(jobs.len(), 2);
        assert_eq!(bad.len(), 1);
        assert!(matches!(bad[0], FileError::DuplicateOutput { .. }));
        // Same format as input: no clash.
        let (jobs, bad) = plan_folder(files.clone(), &out, None, 95);
        assert_eq!(jobs.len(), 3);
        assert!(bad.is_empty());
        assert_eq!(jobs[2].output, out.join("b.jpg"));
        // Output folder = input folder with the same format would replace the inputs.
        // (b.JPG -> b.jpg is another file on a case-sensitive file system.)
        let (jobs, bad) = plan_folder(files, &d, None, 95);
        assert_eq!(jobs.len(), 1);
        assert_eq!(bad.len(), 2);
        assert!(bad
            .iter()
            .all(|e| matches!(e, FileError::OutputIsInput { .. })));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn tile_pad_resolution() {
        let mut info = ModelInfo::default();
        assert_eq!(resolve_tile_pad(Some(3), &info), (3, true));
        assert_eq!(resolve_tile_pad(None, &info), (FALLBACK_TILE_PAD, false));
        let cfg = srgan_export::GeneratorConfig::new(1, 8, 4);
        info.architecture = Some(serde_json::to_string(&cfg).unwrap());
        assert_eq!(
            resolve_tile_pad(None, &info),
            (cfg.receptive_field_radius(), true)
        );
        info.receptive_field_radius = Some(7);
        assert_eq!(resolve_tile_pad(None, &info), (7, true));
    }
}
