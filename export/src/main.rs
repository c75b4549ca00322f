//! `srgan-export`: a generator checkpoint (or random weights) to an ONNX model.
//!
//! ```text
//! srgan-export CHECKPOINT -o model.onnx [--opset 17] [--overwrite]
//! srgan-export --random-init [--blocks 16] [--channels 64] [--scale 4] [--seed 0] \
//!              -o model.onnx [--save-checkpoint ck.safetensors] [--overwrite]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use srgan_export::{
    build_model, summarize, write_model, Checkpoint, ExportOptions, GeneratorConfig,
};

/// Export an SRGAN generator checkpoint to ONNX (opset 17, BatchNorm folded, output in [0,1]).
#[derive(Debug, Parser)]
#[command(name = "srgan-export", version)]
struct Args {
    /// Generator checkpoint (safetensors) to export.
    #[arg(
        required_unless_present = "random_init",
        conflicts_with = "random_init"
    )]
    checkpoint: Option<PathBuf>,
    /// Output ONNX file.
    #[arg(short, long)]
    output: PathBuf,
    /// ONNX opset (13..=21).
    #[arg(long, default_value_t = srgan_export::exporter::DEFAULT_OPSET)]
    opset: i64,
    /// Replace existing output files.
    #[arg(long)]
    overwrite: bool,
    /// Export a generator with random weights instead of a checkpoint (no libtorch needed).
    #[arg(long)]
    random_init: bool,
    /// Residual blocks of the random generator.
    #[arg(long, default_value_t = 16, requires = "random_init")]
    blocks: usize,
    /// Feature channels of the random generator.
    #[arg(long, default_value_t = 64, requires = "random_init")]
    channels: usize,
    /// Upscaling factor of the random generator (2, 4 or 8).
    #[arg(long, default_value_t = 4, requires = "random_init")]
    scale: usize,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0, requires = "random_init")]
    seed: u64,
    /// Also write the random generator's checkpoint here.
    #[arg(long, requires = "random_init")]
    save_checkpoint: Option<PathBuf>,
}

/// Where the weights come from.
enum Source {
    File(PathBuf),
    Random {
        config: GeneratorConfig,
        seed: u64,
        save: Option<PathBuf>,
    },
}

/// A validated job.
struct Job {
    source: Source,
    output: PathBuf,
    opts: ExportOptions,
}

impl Job {
    fn from_args(a: Args) -> Result<Self> {
        let source = match a.checkpoint {
            Some(p) => Source::File(p),
            None => {
                let config = GeneratorConfig::new(a.blocks, a.channels, a.scale);
                config.validate().context("--random-init")?;
                Source::Random {
                    config,
                    seed: a.seed,
                    save: a.save_checkpoint,
                }
            }
        };
        let mut outputs = vec![a.output.as_path()];
        if let Source::Random {
            save: Some(ref s), ..
        } = source
        {
            if same_file(s, &a.output) {
                bail!(
                    "--save-checkpoint and --output are the same file: {}",
                    s.display()
                );
            }
            outputs.push(s);
        }
        if let Source::File(ref input) = source {
            if same_file(input, &a.output) {
                bail!(
                    "the output {} is the input checkpoint; choose another -o",
                    a.output.display()
                );
            }
        }
        if !a.overwrite {
            for out in outputs {
                if out.exists() {
                    bail!(
                        "{} already exists (pass --overwrite to replace it)",
                        out.display()
                    );
                }
            }
        }
        Ok(Self {
            source,
            output: a.output,
            opts: ExportOptions { opset: a.opset },
        })
    }

    fn run(self) -> Result<()> {
        let ck = match &self.source {
            Source::File(p) => Checkpoint::load(p).context("loading checkpoint")?,
            Source::Random { config, seed, .. } => {
                Checkpoint::random_init(config, *seed).context("--random-init")?
            }
        };
        let model = build_model(&ck, &self.opts)
            .with_context(|| format!("exporting {}", self.source_name()))?;
        if let Source::Random {
            save: Some(path), ..
        } = &self.source
        {
            ck.save(path).context("saving checkpoint")?;
        }
        write_model(&model, &self.output)?;
        let s = summarize(&model);
        println!(
            "wrote {}: {} ops, {} params, x{}, {} blocks x {} channels, opset {}",
            self.output.display(),
            s.ops,
            s.params,
            ck.config.scale,
            ck.config.blocks,
            ck.config.channels,
            self.opts.opset
        );
        Ok(())
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

fn main() -> ExitCode {
    let args = Args::parse();
    match Job::from_args(args).and_then(Job::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
