//! `srgan-run`'s command line ([`RunArgs`], what clap parses) and its validation into a
//! [`RunConfig`]: the input exists, the model is a file, the output fits the input, and
//! `--format` agrees with an explicit output name.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;

use srgan_imaging::budget::DEFAULT_MAX_MEMORY_MIB;
use srgan_imaging::image_io::DecodeLimits;
use srgan_imaging::pipeline::DEFAULT_MAX_OUTPUT_PIXELS;
use srgan_imaging::OutputFormat;
use srgan_runtimes::{BoxError, Device, RuntimeError, RuntimeKind, RuntimeOptions};

use super::plan::{format_of_extension, input_format, output_in, with_quality, Job, Target};

/// `--tile`: how images are cut before they reach the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileArg {
    /// Per image, the cheapest grid whose windows' intermediate tensors fit what
    /// `--max-memory` leaves after the image's own buffers (the whole image when it fits).
    Auto,
    /// Cores of at most this many LR pixels per side; 0: each image whole.
    Side(usize),
}

/// A `--tile` value that is not `auto`, 0 or a side of at least
/// [`MIN_CORE`](srgan_imaging::tiling::MIN_CORE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileArgError {
    /// A side below the minimum.
    #[error("{0}: a tile side of at least {min} LR pixels is needed (0: whole image)", min = srgan_imaging::tiling::MIN_CORE)]
    TooSmall(usize),
    /// Not a number nor `auto`.
    #[error("`{0}`: expected `auto`, 0 (whole image) or a tile side of at least {min} LR pixels", min = srgan_imaging::tiling::MIN_CORE)]
    NotATile(String),
}

impl std::str::FromStr for TileArg {
    type Err = TileArgError;
    fn from_str(s: &str) -> Result<Self, TileArgError> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if n == 0 || n >= srgan_imaging::tiling::MIN_CORE => Ok(Self::Side(n)),
            // A 1-pixel tile runs its whole context for every pixel: minutes for a thumbnail.
            Ok(n) => Err(TileArgError::TooSmall(n)),
            Err(_) => Err(TileArgError::NotATile(s.into())),
        }
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

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// PNG (keeps 16 bits and alpha).
    Png,
    /// JPEG (8 bits, alpha dropped).
    #[value(alias = "jpeg")]
    Jpg,
    /// Lossless WebP (8 bits, keeps alpha).
    Webp,
    /// TIFF (keeps 16 bits and alpha).
    #[value(alias = "tiff")]
    Tif,
}

/// What `srgan-run` accepts on its command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-run",
    version,
    about = "Upscale images with an exported SRGAN (or any x2/x4/x8 ONNX super-resolution) model",
    after_help = "Exit status: 0 when every image was written, 1 when some image failed \
                  (each failure is reported with its path), 2 on a usage, model or runtime error, 130 on \
                  Ctrl-C or SIGTERM (unfinished outputs removed, finished ones kept)."
)]
pub struct RunArgs {
    /// Input image (PNG, JPEG, WebP, TIFF, BMP, or GIF's first frame), a video (.mp4 .mkv
    /// .mov .webm .avi .m4v .ts, through ffmpeg: every frame upscaled, audio and frame rate
    /// kept; the output's extension picks the container), or a folder: its image files are
    /// upscaled (its subfolders too with --recursive).
    #[arg(short, long, required_unless_present = "list", conflicts_with = "list")]
    pub input: Option<PathBuf>,
    /// A file that lists the inputs, one path per line (blank lines and lines starting with
    /// `#` are skipped); -o is then a folder.
    #[arg(long, value_name = "FILE")]
    pub list: Option<PathBuf>,
    /// Output: a file for a file input (or an existing folder, to keep the input's name), a
    /// folder for a folder input (created if missing). Names keep the input's stem, with the
    /// extension of the output format.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The model: an .onnx file (ort, tract), a .safetensors checkpoint (tch), or the name of
    /// a shipped model, embedded in this binary: srresnet_x4 (the default), srgan_x4, or
    /// srresnet_x4_int8 (the SRResNet in int8: faster on CPUs with ONNX Runtime).
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// Runtime.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Ort)]
    pub runtime: RuntimeKind,
    /// Device: cpu, cuda, cuda:N, tensorrt or tensorrt:N (GPUs: ort only). A device that
    /// cannot be had is an error, never a silent fall back to the CPU.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Tiling, which bounds the runtime's memory: `auto` runs each image whole when the run
    /// fits --max-memory, else in the largest tiles that fit; N (at least 16): tiles of at most N x N LR
    /// pixels; 0: each image whole.
    #[arg(long, default_value = "auto")]
    pub tile: TileArg,
    /// Peak memory `--tile auto` aims to stay under, in MiB, estimated per image from its
    /// size and the model's channels and scale.
    #[arg(long, default_value_t = DEFAULT_MAX_MEMORY_MIB)]
    pub max_memory: u64,
    /// Context around each tile, in LR pixels, at most 4096. Default: the model's
    /// receptive-field radius from its metadata (tiling is then exact), or 16 for a model
    /// without it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=srgan_contract::metadata::MAX_RECEPTIVE_FIELD_RADIUS as u64).map(|v| v as usize))]
    pub tile_pad: Option<usize>,
    /// Output scale, any factor in (0, 16] (e.g. 2, 3.5 or 8): the model runs at its own scale,
    /// then the result is resampled (bicubic, antialiased when shrinking) to the input's size
    /// times this. Default: the model's scale.
    #[arg(short = 's', long, value_parser = parse_outscale, conflicts_with_all = ["width", "height"])]
    pub outscale: Option<f64>,
    /// Model passes for an output scale above the model's (e.g. --outscale 8 with an x4
    /// model): `1` runs the model once and resamples; `2` runs it again on its own output
    /// (x16), then resamples down; `auto` (default) picks what the held-out photos measured
    /// better (MODEL_CARD.md), one pass when a second would exceed --max-output-pixels.
    #[arg(long, default_value = "auto", value_parser = parse_passes)]
    pub passes: Passes,
    /// Output width in pixels, the height following the aspect ratio (resampled as --outscale).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65535), conflicts_with = "height")]
    pub width: Option<u32>,
    /// Output height in pixels, the width following the aspect ratio.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub height: Option<u32>,
    /// Largest output, in pixels (width x height after upscaling); a larger image fails
    /// before any work. The default, 2^28 (16384 x 16384), fits a 24 GiB machine.
    #[arg(long, default_value_t = DEFAULT_MAX_OUTPUT_PIXELS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_output_pixels: u64,
    /// Largest input file, and most memory its decoder may allocate, in MiB (1..=65536).
    #[arg(long, default_value_t = DecodeLimits::default().max_alloc >> 20,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_input_mib: u64,
    /// Intra-op threads, 1..=1024. Default: all cores.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024).map(|v| v as usize))]
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
    /// Skip inputs whose output exists (outputs are written atomically, so an existing one is
    /// complete): a folder run stopped half-way resumes where it stopped.
    #[arg(long, conflicts_with = "overwrite")]
    pub skip_existing: bool,
    /// Test-time augmentation: average the model's outputs over the 8 flips and rotations of
    /// each input (8 times the work; see BENCHMARKS.md for what it gains).
    #[arg(short = 'x', long)]
    pub tta: bool,
    /// Print one JSON object per input on stdout, for scripts: `input`, `output`, `status`
    /// (`ok`, `skipped` or `failed`), and `width`, `height`, `seconds` or `error`.
    #[arg(long)]
    pub json: bool,
    /// With a folder input, also the images of its subfolders (hidden ones and the output
    /// folder excepted); the output folder mirrors the tree.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Print only errors: no progress bar, no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Errors that stop the whole run (before or instead of processing files).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input cannot be used.
    #[error("{path}")]
    Input {
        /// The input path.
        path: PathBuf,
        /// What is wrong (the system's error, or what was expected).
        #[source]
        source: BoxError,
    },
    /// The output cannot be used.
    #[error("{path}")]
    Output {
        /// The output path.
        path: PathBuf,
        /// What is wrong (the system's error, or what was expected).
        #[source]
        source: BoxError,
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
    /// The output folder could not be created.
    #[error("{path}: cannot create the output folder")]
    CreateOutput {
        /// The output folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// `--max-memory` cannot hold this model's smallest tile.
    #[error("--max-memory with {model}")]
    Budget {
        /// The model file.
        model: PathBuf,
        /// Why the budget does not fit.
        #[source]
        source: srgan_imaging::budget::BudgetError,
    },
    /// A video could not be read, upscaled or written.
    #[error(transparent)]
    Video(#[from] super::video::VideoError),
    /// The model could not be opened (the tch runtime, which reports through `srgan-models`).
    #[error("{path}: cannot open model")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: BoxError,
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
    /// Skip inputs whose output exists.
    pub skip_existing: bool,
    /// JSON lines on stdout.
    pub json: bool,
    /// `--tta`.
    pub tta: bool,
    /// No progress bar, no summary.
    pub quiet: bool,
    /// Decoder limits (`--max-input-mib`).
    pub limits: DecodeLimits,
    /// `--max-output-pixels`.
    pub max_output_pixels: u64,
    /// `--outscale`, `--width` or `--height`; `None`: the model's scale.
    pub out_size: Option<OutSize>,
    /// `--passes`.
    pub passes: Passes,
}

/// `--passes`: how many times the model runs when the output scale is above its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passes {
    /// As measured better (see [`AUTO_SECOND_PASS`]).
    Auto,
    /// Exactly this many (1 or 2).
    Fixed(u8),
}

/// Whether `--passes auto` runs a second pass for an output scale above the model's: what
/// `scripts/outscale_passes.py` measured on the held-out photos (MODEL_CARD.md).
pub const AUTO_SECOND_PASS: bool = false;

fn parse_passes(s: &str) -> Result<Passes, String> {
    match s {
        "auto" => Ok(Passes::Auto),
        "1" => Ok(Passes::Fixed(1)),
        "2" => Ok(Passes::Fixed(2)),
        _ => Err(format!("`{s}`: expected auto, 1 or 2")),
    }
}

impl Passes {
    /// The passes for an input of `w` x `h` whose output is `asked` (None: the model's
    /// scale), with a model of `scale`: `auto` runs two when the output is larger than one
    /// pass gives, [`AUTO_SECOND_PASS`] says so, and the second pass's output fits
    /// `max_output_pixels`.
    pub fn for_image(
        self,
        scale: usize,
        (w, h): (u32, u32),
        asked: Option<(u32, u32)>,
        max_output_pixels: u64,
    ) -> usize {
        match self {
            Passes::Fixed(n) => usize::from(n),
            Passes::Auto => {
                let s = scale as u64;
                let (w, h) = (u64::from(w), u64::from(h));
                let beyond =
                    asked.is_some_and(|(ow, oh)| u64::from(ow) > w * s || u64::from(oh) > h * s);
                let fits = (w * s * s).saturating_mul(h * s * s) <= max_output_pixels;
                if AUTO_SECOND_PASS && beyond && fits {
                    2
                } else {
                    1
                }
            }
        }
    }
}

/// `--outscale`: a finite factor in (0, 16].
fn parse_outscale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 16.0 => Ok(v),
        _ => Err(format!(
            "`{s}`: expected a scale factor in (0, 16], e.g. 2 or 3.5"
        )),
    }
}

/// The output size asked for, relative to each input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutSize {
    /// The input's size times this.
    Scale(f64),
    /// This width; the height keeps the aspect ratio.
    Width(u32),
    /// This height; the width keeps the aspect ratio.
    Height(u32),
}

impl OutSize {
    /// The output size for an input of `w` x `h` (at least 1 x 1).
    pub fn for_input(self, w: u32, h: u32) -> (u32, u32) {
        let (w, h) = (f64::from(w), f64::from(h));
        let (ow, oh) = match self {
            OutSize::Scale(s) => (w * s, h * s),
            OutSize::Width(tw) => (f64::from(tw), h * f64::from(tw) / w),
            OutSize::Height(th) => (w * f64::from(th) / h, f64::from(th)),
        };
        (
            ow.round().clamp(1.0, f64::from(u32::MAX)) as u32,
            oh.round().clamp(1.0, f64::from(u32::MAX)) as u32,
        )
    }
}

/// The largest `--list` file read, in bytes (a million paths).
const MAX_LIST_BYTES: u64 = 256 << 20;

/// The inputs named by a `--list` file: one path per line; blank lines and `#` comments are
/// skipped.
fn read_list(list: &std::path::Path) -> Result<Vec<PathBuf>, RunError> {
    use std::io::Read;
    let err = |e: std::io::Error| RunError::Input {
        path: list.into(),
        source: e.into(),
    };
    let mut text = String::new();
    std::fs::File::open(list)
        .map_err(err)?
        .take(MAX_LIST_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(err)?;
    if text.len() as u64 > MAX_LIST_BYTES {
        return Err(RunError::Input {
            path: list.into(),
            source: "a list over 256 MiB".into(),
        });
    }
    let inputs: Vec<PathBuf> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect();
    if inputs.is_empty() {
        return Err(RunError::Input {
            path: list.into(),
            source: "the list names no input".into(),
        });
    }
    Ok(inputs)
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
            FormatArg::Webp => OutputFormat::WebP,
            FormatArg::Tif => OutputFormat::Tiff,
        });
        let model = super::shipped::resolve(args.model.as_deref())?;
        let target = if let Some(list) = &args.list {
            if args.output.is_file() {
                return Err(RunError::Output {
                    path: args.output,
                    source: "with --list the output must be a folder, not a file".into(),
                });
            }
            Target::List {
                inputs: read_list(list)?,
                output: args.output,
                format,
                jpeg_quality: args.jpeg_quality,
            }
        } else {
            let input = args.input.clone().expect("clap requires -i without --list");
            let meta = std::fs::metadata(&input).map_err(|e| RunError::Input {
                path: input.clone(),
                source: e.into(),
            })?;
            if meta.is_dir() {
                if args.output.is_file() {
                    return Err(RunError::Output {
                        path: args.output,
                        source: "the input is a folder, so the output must be a folder, not a file"
                            .into(),
                    });
                }
                Target::Folder {
                    input,
                    output: args.output,
                    format,
                    jpeg_quality: args.jpeg_quality,
                    recursive: args.recursive,
                }
            } else {
                if args.recursive {
                    return Err(RunError::Option {
                        option: "--recursive",
                        reason: format!(
                            "{} is a file; --recursive takes a folder",
                            input.display()
                        ),
                    });
                }
                let ends_with_sep = args
                    .output
                    .as_os_str()
                    .to_string_lossy()
                    .ends_with(std::path::MAIN_SEPARATOR);
                if super::video::is_video(&input) {
                    video_target(&args, format, input, ends_with_sep)?
                } else {
                    let job = if args.output.is_dir() || ends_with_sep {
                        let f = format.unwrap_or_else(|| {
                            with_quality(input_format(&input), args.jpeg_quality)
                        });
                        Job {
                            output: output_in(&args.output, &input, f),
                            input,
                            format: f,
                        }
                    } else {
                        let named = format_of_extension(&args.output);
                        if named.is_none() {
                            // Never PNG bytes under another format's name, nor under no name at all.
                            let why = match (args.output.extension(), format) {
                            (Some(ext), _) => Some(format!(
                                "`.{}` is not an output format: name it .png, .jpg, .webp or .tif",
                                ext.to_string_lossy()
                            )),
                            (None, None) => Some(
                                "no extension: name it .png, .jpg, .webp or .tif, or pass --format"
                                    .into(),
                            ),
                            (None, Some(_)) => None,
                        };
                            if let Some(why) = why {
                                return Err(RunError::Output {
                                    path: args.output,
                                    source: why.into(),
                                });
                            }
                        }
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
                            (None, None) => with_quality(input_format(&input), args.jpeg_quality),
                        };
                        Job {
                            input,
                            output: args.output,
                            format: f,
                        }
                    };
                    Target::File(job)
                }
            }
        };
        if args.runtime == RuntimeKind::Tch && !cfg!(feature = "tch") {
            return Err(RunError::Option {
                option: "--runtime",
                reason: "tch is not compiled into this srgan-run (build it with `--features tch`)"
                    .into(),
            });
        }
        if args.max_memory == 0 {
            return Err(RunError::Option {
                option: "--max-memory",
                reason: "0 MiB: expected a positive number of MiB".into(),
            });
        }
        Ok(Self {
            target,
            model,
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
            skip_existing: args.skip_existing,
            json: args.json,
            tta: args.tta,
            quiet: args.quiet,
            limits: DecodeLimits {
                max_alloc: args.max_input_mib << 20,
                ..DecodeLimits::default()
            },
            max_output_pixels: args.max_output_pixels,
            passes: args.passes,
            out_size: match (args.outscale, args.width, args.height) {
                (Some(s), _, _) => Some(OutSize::Scale(s)),
                (_, Some(w), _) => Some(OutSize::Width(w)),
                (_, _, Some(h)) => Some(OutSize::Height(h)),
                _ => None,
            },
        })
    }
}

/// The target of a video input: the output's container from its extension; a folder output
/// gets the input's name and container.
fn video_target(
    args: &RunArgs,
    format: Option<OutputFormat>,
    input: PathBuf,
    to_folder: bool,
) -> Result<Target, RunError> {
    if format.is_some() {
        return Err(RunError::Option {
            option: "--format",
            reason: format!(
                "{} is a video: --format names an image format (the output's extension picks \
                 the video container)",
                input.display()
            ),
        });
    }
    let output = if args.output.is_dir() || to_folder {
        args.output
            .join(input.file_name().expect("a file input has a name"))
    } else {
        args.output.clone()
    };
    if super::video::muxer(&output).is_none() {
        return Err(RunError::Output {
            path: output,
            source: "not a video file name: name it .mp4, .mkv, .mov, .webm, .avi or .ts".into(),
        });
    }
    Ok(Target::Video { input, output })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary folder")
    }

    fn args(v: &[&str]) -> RunArgs {
        RunArgs::try_parse_from(std::iter::once("srgan-run").chain(v.iter().copied())).unwrap()
    }

    #[test]
    fn file_output_names_and_formats() {
        let tmp = tmp();
        let d = tmp.path();
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
        assert_eq!(
            srgan_contract::report::one_line(&e),
            "/nonexistent.onnx: no such model file, nor a shipped model (srresnet_x4, srgan_x4, srresnet_x4_int8)"
        );
        let e = RunConfig::from_args(args(&["-i", "/nonexistent.png", "-o", dir, "-m", m]))
            .unwrap_err();
        let line = srgan_contract::report::one_line(&e);
        assert!(line.starts_with("/nonexistent.png: "), "{line}");
        assert!(line.len() > "/nonexistent.png: ".len(), "{line}");
    }
}
