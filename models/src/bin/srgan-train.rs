//! `srgan-train`: trains the SRGAN generator (phase `pretrain`: SRResNet on the content loss;
//! phase `gan`: SRGAN) from a YAML config, with command-line overrides.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use srgan_models::{resolve_device, Phase, TrainConfig, Trainer, TrainerOptions};

/// Train an SRResNet / SRGAN generator with libtorch.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// YAML config (see configs/); unknown keys are errors. Default: the paper's settings.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of HR training images (overrides data.train).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Folder of held-out HR images for validation (overrides data.val).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Output folder for checkpoints, metrics and plots.
    #[arg(long, default_value = "runs/srgan")]
    out: PathBuf,
    /// Continue from a training state: a state.safetensors file, or an output folder holding one.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// cpu, cuda or cuda:N. An explicit CUDA device that cannot be had is an error.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Phase: pretrain or gan (overrides phase).
    #[arg(long)]
    phase: Option<String>,
    /// Iterations (overrides iterations).
    #[arg(long)]
    iterations: Option<u64>,
    /// Batch size (overrides data.batch).
    #[arg(long)]
    batch: Option<usize>,
    /// HR crop side (overrides data.crop).
    #[arg(long)]
    crop: Option<usize>,
    /// Learning rate of G and D (overrides adam_g.lr and adam_d.lr).
    #[arg(long)]
    lr: Option<f64>,
    /// Seed (overrides seed).
    #[arg(long)]
    seed: Option<u64>,
    /// VGG19 weights file, .pth or .safetensors (overrides vgg.weights).
    #[arg(long)]
    vgg_weights: Option<PathBuf>,
    /// Pretrained generator to start phase gan from (overrides init_generator).
    #[arg(long)]
    init_generator: Option<PathBuf>,
    /// Iterations between checkpoints (overrides checkpoint_every).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Iterations between validations (overrides val_every).
    #[arg(long)]
    val_every: Option<u64>,
    /// libtorch CPU threads (overrides threads).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar; periodic lines only (the default when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
}

fn config_from(args: &Args) -> anyhow::Result<TrainConfig> {
    let mut cfg = match &args.config {
        Some(p) => serde_yaml_free_load(p)?,
        None => TrainConfig::default(),
    };
    if let Some(d) = &args.data {
        cfg.data.train = Some(d.clone());
    }
    if let Some(v) = &args.val {
        cfg.data.val = Some(v.clone());
    }
    if let Some(p) = &args.phase {
        cfg.phase = match p.as_str() {
            "pretrain" => Phase::Pretrain,
            "gan" => Phase::Gan,
            other => anyhow::bail!("--phase {other}: expected pretrain or gan"),
        };
    }
    if let Some(i) = args.iterations {
        cfg.iterations = i;
    }
    if let Some(b) = args.batch {
        cfg.data.batch = b;
    }
    if let Some(c) = args.crop {
        cfg.data.crop = c;
    }
    if let Some(lr) = args.lr {
        cfg.adam_g.lr = lr;
        cfg.adam_d.lr = lr;
    }
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(v) = &args.vgg_weights {
        cfg.vgg.weights = Some(v.clone());
    }
    if let Some(g) = &args.init_generator {
        cfg.init_generator = Some(g.clone());
    }
    if let Some(c) = args.checkpoint_every {
        cfg.checkpoint_every = c;
    }
    if let Some(v) = args.val_every {
        cfg.val_every = v;
    }
    if let Some(t) = args.threads {
        cfg.threads = Some(t);
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Reads the YAML without validating: flags may still fix a value.
fn serde_yaml_free_load(p: &std::path::Path) -> anyhow::Result<TrainConfig> {
    let text =
        std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?;
    serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: invalid config: {e}", p.display()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let cfg = config_from(&args)?;
    let device = resolve_device(&args.device)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("second Ctrl-C: exiting without a checkpoint");
                std::process::exit(130);
            }
            eprintln!("Ctrl-C: stopping after this iteration (checkpoint first)");
        })
        .context("installing the Ctrl-C handler")?;
    }
    let opts = TrainerOptions {
        progress: true,
        bar: !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        stop: Some(stop),
    };
    let mut trainer = match &args.resume {
        Some(r) => {
            let state = if r.is_dir() {
                r.join(srgan_models::trainer::files::STATE)
            } else {
                r.clone()
            };
            Trainer::<srgan_models::Generator>::resume(cfg, &args.out, &state, device, opts)
                .with_context(|| format!("resuming from {}", state.display()))?
        }
        None => Trainer::<srgan_models::Generator>::new(cfg, &args.out, device, opts)?,
    };
    let outcome = trainer.run()?;
    eprintln!(
        "{} after {} iterations; checkpoints in {}",
        if outcome.interrupted {
            "stopped"
        } else {
            "done"
        },
        outcome.iterations,
        args.out.display()
    );
    if let Some(v) = outcome.last_validation {
        eprintln!(
            "validation: PSNR {:.2} dB SSIM {:.4} (bicubic {:.2} dB / {:.4}); best PSNR {:.2} dB",
            v.psnr,
            v.ssim,
            v.bicubic_psnr,
            v.bicubic_ssim,
            outcome.best_psnr.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    // Reuse freed memory across steps (runtimes/src/alloc.rs): a 1.3x faster CPU step.
    srgan_runtimes::keep_freed_memory();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srgan-train: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
