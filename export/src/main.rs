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
use srgan_export::exporter::{check_exportable, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET};
use srgan_export::{
    build_model, summarize, write_model, Checkpoint, ExportOptions, GeneratorConfig,
};

/// Export an SRGAN generator checkpoint to ONNX (opset 17, BatchNorm folded, output in [0,1]).
#[derive(Debug, Parser)]
#[command(name = "srgan-export", version)]
struct Args {
    /// Generator checkpoint (safetensors) to export.
    checkpoint: Option<PathBuf>,
    /// Output ONNX file.
    #[arg(short, long)]
    output: PathBuf,
    /// ONNX opset (13..=21).
    #[arg(long, default_value_t = DEFAULT_OPSET)]
    opset: i64,
    /// Replace existing output files.
    #[arg(long)]
    overwrite: bool,
    /// Export the tail conv literally, after the last pixel shuffle at full output resolution
    /// (same function; by default it is rearranged to run before the shuffle, ~1.5x faster).
    #[arg(long)]
    plain_tail: bool,
    /// Export a generator with random weights instead of a checkpoint (no libtorch needed).
    #[arg(long)]
    random_init: bool,
    /// Residual blocks of the random generator [default: 16].
    #[arg(long)]
    blocks: Option<usize>,
    /// Feature channels of the random generator [default: 64].
    #[arg(long)]
    channels: Option<usize>,
    /// Upscaling factor of the random generator, 2, 4 or 8 [default: 4].
    #[arg(long)]
    scale: Option<usize>,
    /// Seed of the random weights [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the random generator's checkpoint here.
    #[arg(long)]
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
        if !(MIN_OPSET..=MAX_OPSET).contains(&a.opset) {
            bail!(
                "--opset {}: supported opsets are {MIN_OPSET}..={MAX_OPSET}",
                a.opset
            );
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
                    bail!("{flag} only applies with --random-init, not to a checkpoint");
                }
                Source::File(p)
            }
            (None, true) => {
                let config = GeneratorConfig::new(
                    a.blocks.unwrap_or(16),
                    a.channels.unwrap_or(64),
                    a.scale.unwrap_or(4),
                );
                config.validate().context("--random-init")?;
                check_exportable(&config).context("--random-init")?;
                Source::Random {
                    config,
                    seed: a.seed.unwrap_or(0),
                    save: a.save_checkpoint,
                }
            }
            (Some(p), true) => bail!(
                "give either a checkpoint ({}) or --random-init, not both",
                p.display()
            ),
            (None, false) => bail!("no checkpoint given (or pass --random-init)"),
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
            opts: ExportOptions {
                opset: a.opset,
                subpixel_tail: !a.plain_tail,
            },
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
            "wrote {}: {} ops, {} weights, x{}, {} blocks x {} channels, opset {}",
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
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error chain on one line, `a: b: c`, leaving out a cause whose text the message before
/// it already contains (library errors often print their source themselves).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg.replace('\n', " ")
}
