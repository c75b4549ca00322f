//! `srgan-export`'s command line: its arguments ([`ExportArgs`]), their validation into an
//! [`ExportJob`] (where the weights come from, where they go, which options), and the export.
//! The binary only parses, runs and maps the outcome to an exit code (`srgan_contract::exit`).

use std::path::{Path, PathBuf};

use crate::exporter::{check_exportable, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET};
use crate::triton::{InstanceKind, ModelConfig, TritonError, TritonOptions, DEFAULT_MAX_BATCH};
use crate::{
    build_model, summarize, Checkpoint, CheckpointError, ExportError, ExportOptions,
    GeneratorConfig, ModelSummary,
};

/// Export an SRGAN generator checkpoint to ONNX (opset 17, BatchNorm folded, output in [0,1]).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-export",
    version,
    after_help = "Exit status: 0 when the model (-o, the --triton-repo entry, or both, and any \
                  --save-checkpoint) was written, 2 on a usage error, an unreadable or \
                  unexportable checkpoint, or an I/O error (nothing is written then), 130 on \
                  Ctrl-C or SIGTERM (nothing half-written).\n\n\
                  Triton: `--triton-repo DIR` writes DIR/NAME/1/model.onnx and \
                  DIR/NAME/config.pbtxt; serve it with `tritonserver --model-repository DIR`."
)]
pub struct ExportArgs {
    /// Weights to export: an srgan checkpoint (.safetensors), or community weights (.pth,
    /// .pt or .safetensors; RRDBNet or SRVGGNetCompact in BasicSR / Real-ESRGAN names, e.g.
    /// RealESRGAN_x4plus.pth), whose architecture is detected.
    pub checkpoint: Option<PathBuf>,
    /// Output ONNX file. Optional when --triton-repo is given; with both, the same model is
    /// written to each.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
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
    /// Arithmetic precision: fp32 (default); fp16 (f16 weights and activations, f32 input
    /// and output; for CUDA / TensorRT); int8 (QDQ: per-channel int8 weights, uint8
    /// activations calibrated on --calibration photos; for CPUs).
    #[arg(long, value_enum, default_value_t = crate::precision::Precision::Fp32)]
    pub precision: crate::precision::Precision,
    /// int8: a folder of photos to calibrate the activation ranges on (each shrunk by the
    /// model's scale and cut into 64x64 LR crops, at most 32 in all). Keep it disjoint from
    /// the photos the model is evaluated on.
    #[arg(long, value_name = "DIR")]
    pub calibration: Option<PathBuf>,
    /// int8: how each activation's range is taken from the calibration values.
    #[arg(long, value_enum, default_value_t = crate::quantize::CalibrationMethod::Percentile)]
    pub calibration_method: crate::quantize::CalibrationMethod,
    /// int8, percentile method: the upper percentile kept (the lower is 100 minus it), in
    /// (50, 100].
    #[arg(long, default_value_t = crate::quantize::DEFAULT_PERCENTILE)]
    pub calibration_percentile: f64,
    /// int8: quantise the last convolution too (by default it stays fp32: ONNX Runtime's
    /// int8 kernels are slow on its few output channels, and it sets the output's precision).
    #[arg(long)]
    pub int8_quantize_tail: bool,
    /// int8: refuse to write a model whose outputs are further than this from the fp32
    /// model's on the calibration crops (PSNR, dB).
    #[arg(long, default_value_t = crate::quantize::DEFAULT_MIN_PSNR_DB)]
    pub int8_min_psnr: f64,
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
    /// Also (or, without -o, only) write a Triton Inference Server model repository entry in
    /// the existing folder DIR: DIR/NAME/1/model.onnx (the same model as -o) and
    /// DIR/NAME/config.pbtxt (platform onnxruntime_onnx, the graph's inputs and outputs,
    /// dynamic batching). An existing DIR/NAME is replaced, as a whole, only with --overwrite.
    #[arg(long, value_name = "DIR")]
    pub triton_repo: Option<PathBuf>,
    /// The Triton model name: ASCII letters, digits, '_', '-' and '.' [default: the file stem
    /// of -o, else of the checkpoint, else `srgan`, other characters replaced by '_'].
    #[arg(long, value_name = "NAME")]
    pub triton_name: Option<String>,
    /// Triton's max_batch_size: requests for images of the same size are batched, up to N;
    /// 0 turns batching off [default: 8].
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(0..=i64::from(i32::MAX))
    )]
    pub triton_max_batch: Option<u32>,
    /// Where Triton runs the model: gpu (KIND_GPU, instances on each GPU) or cpu (KIND_CPU)
    /// [default: gpu].
    #[arg(long, value_enum, value_name = "KIND")]
    pub triton_instance: Option<InstanceKind>,
    /// Model instances per GPU (or on the CPU) [default: 1].
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=1024)
    )]
    pub triton_instance_count: Option<u32>,
    /// Add ONNX Runtime's TensorRT accelerator (precision_mode FP32) to an fp32 model too; an
    /// fp16 model on gpu instances always gets it (precision_mode FP16).
    #[arg(long)]
    pub triton_tensorrt: bool,
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
    /// Neither `-o` nor `--triton-repo`.
    #[error("no output given: pass -o FILE, --triton-repo DIR, or both")]
    NoOutput,
    /// A Triton flag without `--triton-repo`.
    #[error("{flag} only applies with --triton-repo")]
    TritonOnly {
        /// The flag.
        flag: &'static str,
    },
    /// An invalid `--triton-name`.
    #[error("--triton-name")]
    TritonName(#[source] TritonError),
    /// `--triton-tensorrt` with CPU instances.
    #[error("--triton-tensorrt needs gpu instances, not --triton-instance cpu")]
    TensorRtOnCpu,
    /// An input or output inside the Triton model folder that would be replaced.
    #[error(
        "{} is inside the Triton model folder {}, which this export replaces; choose another \
         path or --triton-name",
        path.display(),
        dir.display()
    )]
    InsideTritonModel {
        /// The file.
        path: PathBuf,
        /// The model folder.
        dir: PathBuf,
    },
    /// The Triton repository entry could not be described or written.
    #[error(transparent)]
    Triton(TritonError),
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
    /// An int8 option without `--precision int8`.
    #[error("{flag} is an option of --precision int8")]
    Int8Only {
        /// The flag.
        flag: &'static str,
    },
    /// An int8 option with a bad value, or int8 without what it needs.
    #[error("{flag}: {reason}")]
    Int8Option {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Calibration failed.
    #[cfg(feature = "measure")]
    #[error(transparent)]
    Calibrate(Box<crate::calibrate::CalibrateError>),
    /// The graph could not be quantised.
    #[error("quantising to int8")]
    Quantize(#[source] crate::quantize::QuantizeError),
    /// Quantisation moves the outputs too far from fp32's: nothing is written.
    #[error(
        "int8 would be {psnr_db:.1} dB from the fp32 model on the calibration crops or the \
         probe photo (worst {max_levels:.1} levels), under --int8-min-psnr {min_psnr_db}: not \
         written (try more varied calibration photos, --calibration-method minmax, or fp32)"
    )]
    Int8TooFar {
        /// PSNR of int8 against fp32.
        psnr_db: f64,
        /// Largest difference, 8-bit levels.
        max_levels: f64,
        /// The threshold.
        min_psnr_db: f64,
    },
}

/// What `--precision int8` needs: the calibration photos and how to use them.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Job {
    /// The calibration photos.
    pub calibration: PathBuf,
    /// Percentile or min/max.
    pub method: crate::quantize::CalibrationMethod,
    /// The upper percentile.
    pub percentile: f64,
    /// Quantise the last convolution too.
    pub quantize_tail: bool,
    /// The least PSNR against fp32 on the crops.
    pub min_psnr_db: f64,
}

/// How the int8 model came out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int8Report {
    /// Convolutions quantised.
    pub convs: usize,
    /// Calibration crops.
    pub crops: usize,
    /// PSNR of int8 against fp32 on them, dB.
    pub psnr_db: f64,
    /// Largest difference on them, 8-bit levels.
    pub max_levels: f64,
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

/// The Triton repository entry of an [`ExportJob`].
#[derive(Debug, Clone)]
pub struct TritonJob {
    /// The repository folder (exists).
    pub repo: PathBuf,
    /// The configuration's options, the model name included.
    pub opts: TritonOptions,
    /// Whether an existing model folder may be replaced.
    pub overwrite: bool,
}

/// A validated export job.
#[derive(Debug, Clone)]
pub struct ExportJob {
    /// Where the weights come from.
    pub source: Source,
    /// The ONNX file to write, if any.
    pub output: Option<PathBuf>,
    /// The Triton repository entry to write, if any.
    pub triton: Option<TritonJob>,
    /// Export options.
    pub opts: ExportOptions,
    /// When to measure the effective radius.
    pub measure: MeasureRadius,
    /// With which runtime.
    pub measure_runtime: MeasureRuntime,
    /// `--precision int8`'s calibration.
    pub int8: Option<Int8Job>,
    /// Replace existing outputs.
    pub overwrite: bool,
}

/// What [`ExportJob::run`] wrote; its `Display` is the one-line report.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The ONNX file, if one was asked for.
    pub output: Option<PathBuf>,
    /// The Triton repository entry, if one was asked for.
    pub triton: Option<crate::triton::Written>,
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
    /// For int8: how it came out.
    pub int8: Option<Int8Report>,
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
        let mut wrote: Vec<String> = self
            .output
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if let Some(t) = &self.triton {
            wrote.push(format!(
                "Triton model {} ({} and {})",
                t.dir.display(),
                crate::triton::CONFIG_FILE,
                Path::new(crate::triton::VERSION)
                    .join(crate::triton::MODEL_FILE)
                    .display()
            ));
        }
        write!(
            f,
            "wrote {}: {} ops, {} weights, {arch}, opset {}",
            wrote.join(" and "),
            self.summary.ops,
            self.summary.params,
            self.opset
        )?;
        if self.precision != crate::precision::Precision::Fp32 {
            write!(f, ", {}", self.precision.name())?;
        }
        if let Some(r) = self.int8 {
            write!(
                f,
                " ({} convolutions quantised; {:.1} dB from fp32 on {} calibration crops, worst \
                 {:.1} levels)",
                r.convs, r.psnr_db, r.crops, r.max_levels
            )?;
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
    pub fn from_args(mut a: ExportArgs) -> Result<Self, CliError> {
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
        let source = match (a.checkpoint.take(), a.random_init) {
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
                    save: a.save_checkpoint.take(),
                }
            }
            (Some(checkpoint), true) => return Err(CliError::BothSources { checkpoint }),
            (None, false) => return Err(CliError::NoSource),
        };
        let triton_only = [
            ("--triton-name", a.triton_name.is_some()),
            ("--triton-max-batch", a.triton_max_batch.is_some()),
            ("--triton-instance", a.triton_instance.is_some()),
            ("--triton-instance-count", a.triton_instance_count.is_some()),
            ("--triton-tensorrt", a.triton_tensorrt),
        ];
        if a.triton_repo.is_none() {
            if let Some((flag, _)) = triton_only.iter().find(|(_, set)| *set) {
                return Err(CliError::TritonOnly { flag });
            }
            if a.output.is_none() {
                return Err(CliError::NoOutput);
            }
        }
        let mut outputs: Vec<&Path> = a.output.iter().map(PathBuf::as_path).collect();
        if let Some(output) = &a.output {
            match &source {
                Source::Random { save: Some(s), .. } if same_file(s, output) => {
                    return Err(CliError::SameOutputs { path: s.clone() });
                }
                Source::File(input) if same_file(input, output) => {
                    return Err(CliError::OutputIsInput {
                        path: output.clone(),
                    });
                }
                _ => {}
            }
        }
        if let Source::Random { save: Some(s), .. } = &source {
            outputs.push(s);
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
        let int8 = int8_job(&a)?;
        let triton = match &a.triton_repo {
            Some(repo) => Some(triton_job(&a, repo, &source, &outputs)?),
            None => None,
        };
        if !a.overwrite {
            if let Some(out) = outputs.into_iter().find(|o| o.exists()) {
                return Err(CliError::Exists { path: out.into() });
            }
        }
        Ok(Self {
            source,
            output: a.output,
            triton,
            opts: ExportOptions {
                opset: a.opset,
                subpixel_tail: !a.plain_tail,
                native_prelu: a.native_prelu,
                precision: a.precision,
            },
            measure: a.measure_radius,
            measure_runtime: a.measure_runtime,
            int8,
            overwrite: a.overwrite,
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
        // int8 starts from the fp32 graph, calibrated and quantised below.
        // Between DequantizeLinear and QuantizeLinear PReLU runs in f32 either way; there the
        // PRelu operator beats its ReLU form (BENCHMARKS.md, "int8").
        let int8 = self.opts.precision == crate::precision::Precision::Int8;
        let build = ExportOptions {
            precision: if int8 {
                crate::precision::Precision::Fp32
            } else {
                self.opts.precision
            },
            native_prelu: self.opts.native_prelu || int8,
            ..self.opts
        };
        let mut model = build_model(&ck, &build).map_err(|source| CliError::Export {
            name: self.source_name(),
            source,
        })?;
        // Quantised first, so that the effective radius is the int8 graph's own (its noise
        // reaches further than the fp32 graph's).
        let int8 = self.quantize(&mut model, &ck.config)?;
        let effective_radius = self.measure(&mut model, &ck.config)?;
        // Saved once the model is known to be written (a refused int8 export leaves nothing).
        if let Source::Random {
            save: Some(path), ..
        } = &self.source
        {
            ck.save(path).map_err(|e| CliError::Save(Box::new(e)))?;
        }
        let triton_config = match &self.triton {
            Some(t) => Some(
                ModelConfig::for_model(&model, self.opts.precision, &t.opts)
                    .map_err(CliError::Triton)?,
            ),
            None => None,
        };
        if let Some(output) = &self.output {
            // Checked again at the rename: a file that appeared while the model was built
            // (calibration takes a while) is not replaced without --overwrite.
            let bytes = prost::Message::encode_to_vec(&model);
            srgan_contract::files::atomic_write_with(output, self.overwrite, |w| {
                std::io::Write::write_all(w, &bytes)
            })
            .map_err(|e| match e {
                srgan_contract::files::AtomicWriteError::Exists(path) => CliError::Exists { path },
                e => CliError::Write(crate::exporter::ExportError::Write {
                    path: output.clone(),
                    source: Box::new(crate::CheckpointError::Io {
                        path: output.clone(),
                        source: std::io::Error::other(srgan_contract::report::one_line(&e)),
                    }),
                }),
            })?;
        }
        let triton = match (&self.triton, triton_config) {
            (Some(t), Some(config)) => Some(
                crate::triton::write_repository(&t.repo, &config, &model, t.overwrite)
                    .map_err(CliError::Triton)?,
            ),
            _ => None,
        };
        Ok(Exported {
            summary: summarize(&model),
            output: self.output,
            triton,
            config: ck.config,
            opset: self.opts.opset,
            effective_radius,
            precision: self.opts.precision,
            int8,
        })
    }

    /// `--precision int8`: calibrates the fp32 `model` on the photos, rewrites it into QDQ
    /// form, and checks it against fp32 on the same crops.
    #[cfg(feature = "measure")]
    fn quantize(
        &self,
        model: &mut crate::proto::ModelProto,
        config: &crate::Architecture,
    ) -> Result<Option<Int8Report>, CliError> {
        use crate::calibrate;
        use crate::quantize::{activation_tensors, to_qdq, QdqOptions};
        let Some(q) = &self.int8 else {
            return Ok(None);
        };
        let crops = calibrate::crops(&q.calibration, config.scale())
            .map_err(|e| CliError::Calibrate(Box::new(e)))?;
        let mut qopts = QdqOptions::default();
        if !q.quantize_tail {
            let last = model
                .graph
                .as_ref()
                .and_then(|g| g.node.iter().rev().find(|n| n.op_type == "Conv"))
                .map(|n| n.name.clone());
            qopts.keep_fp32.extend(last);
        }
        let tensors = activation_tensors(model, &qopts);
        eprintln!(
            "srgan-export: calibrating int8 ({}) on {} crops of {}x{} LR pixels from {}",
            q.method.describe(q.percentile),
            crops.len(),
            calibrate::CROP,
            calibrate::CROP,
            q.calibration.display()
        );
        let rt = srgan_runtimes::RuntimeOptions::default();
        let ranges = calibrate::ranges(model, &tensors, &crops, q.method, q.percentile, &rt)
            .map_err(|e| CliError::Calibrate(Box::new(e)))?;
        let fp32 = model.clone();
        let convs = to_qdq(model, &ranges, &qopts).map_err(CliError::Quantize)?;
        // Also on a photo the calibration did not choose (the bundled probe photo, shrunk as
        // the crops are): a folder that does not represent photos passes on its own crops.
        let probe = vec![srgan_imaging::resample::downscale(
            srgan_imaging::radius::probe_photo().view(),
            config.scale(),
        )];
        let on_crops = calibrate::agreement(&fp32, model, &crops, &rt)
            .map_err(|e| CliError::Calibrate(Box::new(e)))?;
        let on_probe = calibrate::agreement(&fp32, model, &probe, &rt)
            .map_err(|e| CliError::Calibrate(Box::new(e)))?;
        let a = calibrate::Agreement {
            psnr_db: on_crops.psnr_db.min(on_probe.psnr_db),
            max_levels: on_crops.max_levels.max(on_probe.max_levels),
        };
        if a.psnr_db < q.min_psnr_db {
            return Err(CliError::Int8TooFar {
                psnr_db: a.psnr_db,
                max_levels: a.max_levels,
                min_psnr_db: q.min_psnr_db,
            });
        }
        let folder = q
            .calibration
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| q.calibration.display().to_string());
        let note =
            format!(
            "{}; {} crops of {}x{} LR pixels from {folder}/; {:.2} dB from fp32 on them (worst \
             {:.1} levels); {convs} convolutions int8{}",
            q.method.describe(q.percentile),
            crops.len(),
            calibrate::CROP,
            calibrate::CROP,
            a.psnr_db,
            a.max_levels,
            if q.quantize_tail { "" } else { ", the last one fp32" }
        );
        use srgan_contract::metadata::keys;
        model
            .metadata_props
            .retain(|p| p.key != keys::PRECISION && p.key != keys::INT8_CALIBRATION);
        for (key, value) in [
            (
                keys::PRECISION,
                crate::precision::Precision::Int8.name().to_string(),
            ),
            (keys::INT8_CALIBRATION, note),
        ] {
            model
                .metadata_props
                .push(crate::proto::StringStringEntryProto {
                    key: key.into(),
                    value,
                });
        }
        Ok(Some(Int8Report {
            convs,
            crops: crops.len(),
            psnr_db: a.psnr_db,
            max_levels: a.max_levels,
        }))
    }

    #[cfg(not(feature = "measure"))]
    fn quantize(
        &self,
        _model: &mut crate::proto::ModelProto,
        _config: &crate::Architecture,
    ) -> Result<Option<Int8Report>, CliError> {
        Ok(None)
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
        let dest = self.scratch_dest();
        let m = match measure_and_record(model, &dest, runtime, None) {
            Err(MeasureError::Open { source, .. }) if runtime == RuntimeKind::Ort => {
                eprintln!(
                    "srgan-export: warning: ort: {}; measuring with tract instead (slower)",
                    srgan_contract::report::one_line(&source)
                );
                say(RuntimeKind::Tract);
                measure_and_record(model, &dest, RuntimeKind::Tract, None)
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

    /// A path whose folder takes the measurement's scratch copy of the model: beside the
    /// output, else in the Triton repository (hidden, removed after).
    #[cfg(feature = "measure")]
    fn scratch_dest(&self) -> PathBuf {
        match (&self.output, &self.triton) {
            (Some(o), _) => o.clone(),
            (None, Some(t)) => t.repo.join(format!("{}.onnx", t.opts.name)),
            (None, None) => PathBuf::from("model.onnx"),
        }
    }

    fn source_name(&self) -> String {
        match &self.source {
            Source::File(p) => p.display().to_string(),
            Source::Random { seed, .. } => format!("random generator (seed {seed})"),
        }
    }
}

/// The int8 part of the arguments: `--calibration` and its options only with `--precision
/// int8`, which needs them and the `measure` feature.
fn int8_job(a: &ExportArgs) -> Result<Option<Int8Job>, CliError> {
    use crate::precision::Precision;
    use crate::quantize::{CalibrationMethod, DEFAULT_MIN_PSNR_DB, DEFAULT_PERCENTILE};
    if a.precision != Precision::Int8 {
        let set = [
            ("--calibration", a.calibration.is_some()),
            (
                "--calibration-method",
                a.calibration_method != CalibrationMethod::Percentile,
            ),
            (
                "--calibration-percentile",
                a.calibration_percentile != DEFAULT_PERCENTILE,
            ),
            ("--int8-quantize-tail", a.int8_quantize_tail),
            ("--int8-min-psnr", a.int8_min_psnr != DEFAULT_MIN_PSNR_DB),
        ];
        return match set.iter().find(|(_, s)| *s) {
            Some((flag, _)) => Err(CliError::Int8Only { flag }),
            None => Ok(None),
        };
    }
    if !cfg!(feature = "measure") {
        return Err(CliError::Int8Option {
            flag: "--precision int8",
            reason: "this srgan-export was built without the `measure` feature, which runs \
                     the calibration"
                .into(),
        });
    }
    let Some(dir) = &a.calibration else {
        return Err(CliError::Int8Option {
            flag: "--precision int8",
            reason: "needs --calibration DIR, a folder of photos to measure the activation \
                     ranges on"
                .into(),
        });
    };
    if !dir.is_dir() {
        return Err(CliError::Int8Option {
            flag: "--calibration",
            reason: format!("{}: not a folder", dir.display()),
        });
    }
    let p = a.calibration_percentile;
    if !(p > 50.0 && p <= 100.0) {
        return Err(CliError::Int8Option {
            flag: "--calibration-percentile",
            reason: format!("{p}: expected a percentile in (50, 100]"),
        });
    }
    if !a.int8_min_psnr.is_finite() || a.int8_min_psnr < 0.0 {
        return Err(CliError::Int8Option {
            flag: "--int8-min-psnr",
            reason: format!("{}: expected a PSNR in dB, 0 or more", a.int8_min_psnr),
        });
    }
    Ok(Some(Int8Job {
        calibration: dir.clone(),
        method: a.calibration_method,
        percentile: p,
        quantize_tail: a.int8_quantize_tail,
        min_psnr_db: a.int8_min_psnr,
    }))
}

/// Checks the Triton flags: the repository exists, the model name is valid, the model folder
/// may be written and replaces none of the other inputs and outputs.
fn triton_job(
    a: &ExportArgs,
    repo: &Path,
    source: &Source,
    outputs: &[&Path],
) -> Result<TritonJob, CliError> {
    if !repo.is_dir() {
        return Err(CliError::Triton(TritonError::NoRepo { path: repo.into() }));
    }
    let name = match &a.triton_name {
        Some(n) => {
            crate::triton::validate_name(n).map_err(CliError::TritonName)?;
            n.clone()
        }
        None => {
            let stem = a.output.as_deref().or(match source {
                Source::File(p) => Some(p.as_path()),
                Source::Random { .. } => None,
            });
            let stem = stem.and_then(Path::file_stem).map(|s| s.to_string_lossy());
            crate::triton::sanitize_name(stem.as_deref().unwrap_or(""))
        }
    };
    let int8 = a.precision == crate::precision::Precision::Int8;
    // int8 is for CPUs: its uint8 activations with zero points are not what TensorRT's
    // explicit quantisation imports (signed, symmetric).
    let instance = a.triton_instance.unwrap_or(if int8 {
        InstanceKind::Cpu
    } else {
        InstanceKind::default()
    });
    if a.triton_tensorrt && instance == InstanceKind::Cpu {
        return Err(CliError::TensorRtOnCpu);
    }
    if a.triton_tensorrt && int8 {
        return Err(CliError::Int8Option {
            flag: "--triton-tensorrt",
            reason: "the int8 export is for CPUs (uint8 activations with zero points, which \
                     TensorRT does not import); export fp16 for TensorRT"
                .into(),
        });
    }
    let dir = crate::triton::model_dir(repo, &name);
    let mut inputs: Vec<&Path> = match source {
        Source::File(p) => vec![p.as_path()],
        Source::Random { .. } => vec![],
    };
    inputs.extend(a.calibration.as_deref());
    if let Some(p) = outputs.iter().chain(&inputs).find(|p| inside(p, &dir)) {
        return Err(CliError::InsideTritonModel {
            path: p.to_path_buf(),
            dir,
        });
    }
    if !a.overwrite && std::fs::symlink_metadata(&dir).is_ok() {
        return Err(CliError::Exists { path: dir });
    }
    Ok(TritonJob {
        repo: repo.into(),
        opts: TritonOptions {
            name,
            max_batch: a.triton_max_batch.unwrap_or(DEFAULT_MAX_BATCH),
            instance,
            count: a.triton_instance_count.unwrap_or(1),
            tensorrt: a.triton_tensorrt,
        },
        overwrite: a.overwrite,
    })
}

/// A path with its existing part resolved (links, `..`): the path itself, else its folder
/// joined with its name, else as spelled.
fn resolve(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), p.file_name()) {
        (Ok(d), Some(n)) => d.join(n),
        _ => p.into(),
    }
}

/// Whether `path` is `dir` or inside it.
fn inside(path: &Path, dir: &Path) -> bool {
    resolve(path).starts_with(resolve(dir))
}

/// Whether two paths name the same existing file (or are spelled the same).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
