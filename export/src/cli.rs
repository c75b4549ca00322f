//! `srgan-export`'s command line: its arguments ([`ExportArgs`]), their validation into an
//! [`ExportJob`] (where the weights come from, where they go, which options), and the export.
//! The binary only parses, runs and maps the outcome to an exit code (`srgan_contract::exit`).

use std::path::{Path, PathBuf};

use crate::exporter::{check_exportable, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET};
use crate::{
    build_model, summarize, write_model, Checkpoint, CheckpointError, ExportError, ExportOptions,
    GeneratorConfig, ModelSummary,
};

/// Export an SRGAN generator checkpoint to ONNX (opset 17, BatchNorm folded, output in [0,1]).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-export",
    version,
    after_help = "Exit status: 0 when the model (and any --save-checkpoint) was written, 2 on a \
                  usage error, an unreadable or unexportable checkpoint, or an I/O error \
                  (nothing is written then), 130 on Ctrl-C or SIGTERM (nothing half-written)."
)]
pub struct ExportArgs {
    /// Weights to export: an srgan checkpoint (.safetensors), or community weights (.pth,
    /// .pt or .safetensors; RRDBNet or SRVGGNetCompact in BasicSR / Real-ESRGAN names, e.g.
    /// RealESRGAN_x4plus.pth), whose architecture is detected.
    pub checkpoint: Option<PathBuf>,
    /// Output ONNX file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// ONNX opset (13..=21).
    #[arg(long, default_value_t = DEFAULT_OPSET)]
    pub opset: i64,
    /// Replace existing output files.
    #[arg(long)]
    pub overwrite: bool,
    /// Export the tail conv literally, after the last pixel shuffle at full output resolution
    /// (same function; by default it is rearranged to run before the shuffle, ~1.5x faster).
    #[arg(long)]
    pub plain_tail: bool,
    /// Write PReLU as the `PRelu` operator (same function; by default it is written as
    /// `x + (1 - a) * Relu(-x)`, which ONNX Runtime and tract run faster).
    #[arg(long)]
    pub native_prelu: bool,
    /// Arithmetic precision: fp32 (default), or fp16 (f16 weights and activations, f32 input
    /// and output; for CUDA / TensorRT).
    #[arg(long, value_enum, default_value_t = crate::precision::Precision::Fp32)]
    pub precision: crate::precision::Precision,
    /// Export a generator with random weights instead of a checkpoint (no libtorch needed).
    #[arg(long)]
    pub random_init: bool,
    /// Residual blocks of the random generator [default: 16].
    #[arg(long)]
    pub blocks: Option<usize>,
    /// Feature channels of the random generator [default: 64].
    #[arg(long)]
    pub channels: Option<usize>,
    /// Upscaling factor of the random generator, 2, 4 or 8 [default: 4].
    #[arg(long)]
    pub scale: Option<usize>,
    /// Seed of the random weights [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write the random generator's checkpoint here.
    #[arg(long)]
    pub save_checkpoint: Option<PathBuf>,
    /// Measure the model's effective receptive-field radius by running it on a photo, and store
    /// it in the metadata, where tiling takes it as its default pad: `auto` when the exact
    /// radius is above the largest default tile pad (64 LR pixels: RRDBNet), `always`, `never`.
    #[arg(long, value_enum, default_value_t = MeasureRadius::Auto)]
    pub measure_radius: MeasureRadius,
    /// Runtime that runs the measurement. `ort` falls back to tract (slower) when ONNX Runtime
    /// cannot be loaded.
    #[arg(long, value_enum, default_value_t = MeasureRuntime::Ort)]
    pub measure_runtime: MeasureRuntime,
}

/// When `srgan-export` measures the effective receptive-field radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MeasureRadius {
    /// When the exact radius is above the largest default tile pad.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The runtime of the measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MeasureRuntime {
    /// ONNX Runtime, falling back to tract when it cannot be loaded.
    Ort,
    /// tract.
    Tract,
}

/// Errors of [`ExportJob`]: bad arguments, and what goes wrong while exporting.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An opset outside the supported range.
    #[error("--opset {opset}: supported opsets are {MIN_OPSET}..={MAX_OPSET}")]
    Opset {
        /// The opset asked for.
        opset: i64,
    },
    /// A random-generator flag given with a checkpoint.
    #[error("{flag} only applies with --random-init, not to a checkpoint")]
    RandomOnly {
        /// The flag.
        flag: &'static str,
    },
    /// Both a checkpoint and `--random-init`.
    #[error("give either a checkpoint ({}) or --random-init, not both", checkpoint.display())]
    BothSources {
        /// The checkpoint given.
        checkpoint: PathBuf,
    },
    /// Neither a checkpoint nor `--random-init`.
    #[error("no checkpoint given (or pass --random-init)")]
    NoSource,
    /// `--save-checkpoint` names the output.
    #[error("--save-checkpoint and --output are the same file: {}", path.display())]
    SameOutputs {
        /// The file.
        path: PathBuf,
    },
    /// The output is the input checkpoint.
    #[error("the output {} is the input checkpoint; choose another -o", path.display())]
    OutputIsInput {
        /// The file.
        path: PathBuf,
    },
    /// An output's folder does not exist.
    #[error("{}: no such folder for the output", path.display())]
    NoFolder {
        /// The folder.
        path: PathBuf,
    },
    /// An output exists and `--overwrite` was not given.
    #[error("{} already exists (pass --overwrite to replace it)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The random generator's architecture is invalid.
    #[error("--random-init")]
    RandomConfig(#[source] Box<CheckpointError>),
    /// The random generator's architecture cannot be exported.
    #[error("--random-init")]
    RandomExportable(#[source] ExportError),
    /// The weights could not be loaded.
    #[error("loading weights")]
    Load(#[source] Box<crate::import::ImportError>),
    /// The random checkpoint could not be saved.
    #[error("saving checkpoint")]
    Save(#[source] Box<CheckpointError>),
    /// The graph could not be built.
    #[error("exporting {name}")]
    Export {
        /// The checkpoint file, or the random generator and its seed.
        name: String,
        /// What went wrong.
        #[source]
        source: ExportError,
    },
    /// The model could not be written.
    #[error(transparent)]
    Write(ExportError),
    /// The effective radius could not be measured.
    #[cfg(feature = "measure")]
    #[error("measuring the effective receptive-field radius (--measure-radius never skips it)")]
    Measure(#[source] crate::measure::MeasureError),
    /// `--measure-radius always` in a build without the `measure` feature.
    #[error("--measure-radius always: this srgan-export was built without the `measure` feature")]
    MeasureUnavailable,
}

/// Where the weights come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A checkpoint file.
    File(PathBuf),
    /// Random weights.
    Random {
        /// The architecture.
        config: GeneratorConfig,
        /// The seed.
        seed: u64,
        /// Where to save the random checkpoint too.
        save: Option<PathBuf>,
    },
}

/// A validated export job.
#[derive(Debug, Clone)]
pub struct ExportJob {
    /// Where the weights come from.
    pub source: Source,
    /// The ONNX file to write.
    pub output: PathBuf,
    /// Export options.
    pub opts: ExportOptions,
    /// When to measure the effective radius.
    pub measure: MeasureRadius,
    /// With which runtime.
    pub measure_runtime: MeasureRuntime,
}

/// What [`ExportJob::run`] wrote; its `Display` is the one-line report.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The ONNX file.
    pub output: PathBuf,
    /// Its node and weight counts.
    pub summary: ModelSummary,
    /// The generator's architecture.
    pub config: crate::Architecture,
    /// The opset.
    pub opset: i64,
    /// The effective radius measured and stored, with its runtime.
    pub effective_radius: Option<(usize, &'static str)>,
    /// The precision.
    pub precision: crate::precision::Precision,
}

impl std::fmt::Display for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let arch = match &self.config {
            crate::Architecture::SrResNet(c) => {
                format!(
                    "x{}, {} blocks x {} channels",
                    c.scale, c.blocks, c.channels
                )
            }
            other => other.describe(),
        };
        write!(
            f,
            "wrote {}: {} ops, {} weights, {arch}, opset {}",
            self.output.display(),
            self.summary.ops,
            self.summary.params,
            self.opset
        )?;
        if self.precision != crate::precision::Precision::Fp32 {
            write!(f, ", {}", self.precision.name())?;
        }
        if let Some((r, runtime)) = self.effective_radius {
            write!(
                f,
                ", effective radius {r} LR pixels (exact {}; measured with {runtime})",
                self.config.receptive_field_radius()
            )?;
        }
        Ok(())
    }
}

impl ExportJob {
    /// Checks the arguments: one source, flags that fit it, outputs that may be written.
    pub fn from_args(a: ExportArgs) -> Result<Self, CliError> {
        if !(MIN_OPSET..=MAX_OPSET).contains(&a.opset) {
            return Err(CliError::Opset { opset: a.opset });
        }
        let random_only = [
            ("--blocks", a.blocks.is_some()),
            ("--channels", a.channels.is_some()),
            ("--scale", a.scale.is_some()),
            ("--seed", a.seed.is_some()),
            ("--save-checkpoint", a.save_checkpoint.is_some()),
        ];
        let source = match (a.checkpoint, a.random_init) {
            (Some(p), false) => {
                if let Some((flag, _)) = random_only.iter().find(|(_, set)| *set) {
                    return Err(CliError::RandomOnly { flag });
                }
                Source::File(p)
            }
            (None, true) => {
                let config = GeneratorConfig::new(
                    a.blocks.unwrap_or(16),
                    a.channels.unwrap_or(64),
                    a.scale.unwrap_or(4),
                );
                config
                    .validate()
                    .map_err(|e| CliError::RandomConfig(Box::new(e.into())))?;
                check_exportable(&config.clone().into()).map_err(CliError::RandomExportable)?;
                Source::Random {
                    config,
                    seed: a.seed.unwrap_or(0),
                    save: a.save_checkpoint,
                }
            }
            (Some(checkpoint), true) => return Err(CliError::BothSources { checkpoint }),
            (None, false) => return Err(CliError::NoSource),
        };
        let mut outputs = vec![a.output.as_path()];
        match &source {
            Source::Random { save: Some(s), .. } => {
                if same_file(s, &a.output) {
                    return Err(CliError::SameOutputs { path: s.clone() });
                }
                outputs.push(s);
            }
            Source::File(input) if same_file(input, &a.output) => {
                return Err(CliError::OutputIsInput {
                    path: a.output.clone(),
                });
            }
            _ => {}
        }
        for out in &outputs {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(CliError::NoFolder { path: dir.into() });
                }
            }
        }
        if a.measure_radius == MeasureRadius::Always && !cfg!(feature = "measure") {
            return Err(CliError::MeasureUnavailable);
        }
        if !a.overwrite {
            if let Some(out) = outputs.into_iter().find(|o| o.exists()) {
                return Err(CliError::Exists { path: out.into() });
            }
        }
        Ok(Self {
            source,
            output: a.output,
            opts: ExportOptions {
                opset: a.opset,
                subpixel_tail: !a.plain_tail,
                native_prelu: a.native_prelu,
                precision: a.precision,
            },
            measure: a.measure_radius,
            measure_runtime: a.measure_runtime,
        })
    }

    /// Loads (or draws) the weights, builds the graph, writes it (and the random checkpoint).
    pub fn run(self) -> Result<Exported, CliError> {
        let ck = match &self.source {
            Source::File(p) => {
                crate::import::load_weights(p).map_err(|e| CliError::Load(Box::new(e)))?
            }
            Source::Random { config, seed, .. } => Checkpoint::random_init(config, *seed)
                .map_err(|e| CliError::RandomConfig(Box::new(e)))?,
        };
        let mut model = build_model(&ck, &self.opts).map_err(|source| CliError::Export {
            name: self.source_name(),
            source,
        })?;
        if let Source::Random {
            save: Some(path), ..
        } = &self.source
        {
            ck.save(path).map_err(|e| CliError::Save(Box::new(e)))?;
        }
        let effective_radius = self.measure(&mut model, &ck.config)?;
        write_model(&model, &self.output).map_err(CliError::Write)?;
        Ok(Exported {
            summary: summarize(&model),
            output: self.output,
            config: ck.config,
            opset: self.opts.opset,
            effective_radius,
            precision: self.opts.precision,
        })
    }

    /// Measures and records the effective radius when [`Self::measure`] asks for it.
    #[cfg(feature = "measure")]
    fn measure(
        &self,
        model: &mut crate::proto::ModelProto,
        config: &crate::Architecture,
    ) -> Result<Option<(usize, &'static str)>, CliError> {
        use crate::measure::{measure_and_record, MeasureError, MAX_DEFAULT_PAD};
        use srgan_runtimes::RuntimeKind;
        let exact = config.receptive_field_radius();
        let wanted = match self.measure {
            MeasureRadius::Never => false,
            MeasureRadius::Always => true,
            MeasureRadius::Auto => exact > MAX_DEFAULT_PAD,
        };
        if !wanted {
            return Ok(None);
        }
        let runtime = match self.measure_runtime {
            MeasureRuntime::Ort => RuntimeKind::Ort,
            MeasureRuntime::Tract => RuntimeKind::Tract,
        };
        let why = if exact > MAX_DEFAULT_PAD {
            format!(
                "its exact radius, {exact} LR pixels, is above the largest default tile pad, \
                 {MAX_DEFAULT_PAD}"
            )
        } else {
            "--measure-radius always".into()
        };
        let say = |rt: RuntimeKind| {
            eprintln!(
                "srgan-export: measuring the effective receptive-field radius with {rt} on a \
                 photo ({why}); --measure-radius never skips this"
            )
        };
        say(runtime);
        let m = match measure_and_record(model, &self.output, runtime, None) {
            Err(MeasureError::Open { source, .. }) if runtime == RuntimeKind::Ort => {
                eprintln!(
                    "srgan-export: warning: ort: {}; measuring with tract instead (slower)",
                    srgan_contract::report::one_line(&source)
                );
                say(RuntimeKind::Tract);
                measure_and_record(model, &self.output, RuntimeKind::Tract, None)
            }
            other => other,
        }
        .map_err(CliError::Measure)?;
        Ok(Some((m.radius.radius, m.runtime)))
    }

    /// Without the `measure` feature nothing is measured (`always` was refused earlier).
    #[cfg(not(feature = "measure"))]
    fn measure(
        &self,
        _model: &mut crate::proto::ModelProto,
        _config: &crate::Architecture,
    ) -> Result<Option<(usize, &'static str)>, CliError> {
        Ok(None)
    }

    fn source_name(&self) -> String {
        match &self.source {
            Source::File(p) => p.display().to_string(),
            Source::Random { seed, .. } => format!("random generator (seed {seed})"),
        }
    }
}

/// Whether two paths name the same existing file (or are spelled the same).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
