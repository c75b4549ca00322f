//! `srgan-train`'s command line: its arguments ([`TrainArgs`]), their validation into a
//! [`TrainJob`] (the YAML config with the flags applied, the device resolved), and the
//! trainer it opens. The binary only installs the Ctrl-C handler, runs, and maps the outcome
//! to an exit code (`srgan_contract::exit`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use srgan_runtimes::Device;

use crate::config::{Phase, TrainConfig};
use crate::error::{ModelsError, Result};
use crate::generator::AnyGenerator;
use crate::trainer::{files, Trainer, TrainerOptions};

/// Train a super-resolution generator (SRResNet, RRDBNet or SRVGGNetCompact: the config's
/// `generator.arch`) with the SRGAN recipe, on libtorch.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-train",
    version,
    about,
    after_help = "Exit status: 0 when the configured iterations are done, 2 on a usage, config, \
                  data, device or I/O error, 130 when stopped by Ctrl-C or SIGTERM after \
                  writing a checkpoint (a second one exits 130 at once, without one)."
)]
pub struct TrainArgs {
    /// YAML config (see configs/); unknown keys are errors. Default: the paper's settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder of HR training images (overrides data.train).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of held-out HR images for validation (overrides data.val).
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Output folder for checkpoints, metrics and plots. Default: runs/srgan, or with --resume
    /// the folder of the run resumed. A folder that already holds a run is refused unless
    /// --overwrite is given.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the run already in --out (its checkpoints, state, metrics and plot).
    #[arg(long)]
    pub overwrite: bool,
    /// Continue a run: its folder, or its state.safetensors. The run's own config.yaml is
    /// used unless --config is given; an option or config that contradicts the run (phase,
    /// batch, crop, seed, lr, architecture) is an error.
    /// --iterations may extend the run.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// cpu, cuda or cuda:N. An explicit CUDA device that cannot be had is an error.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Phase (overrides phase).
    #[arg(long, value_enum)]
    pub phase: Option<Phase>,
    /// Iterations (overrides iterations).
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Batch size (overrides data.batch).
    #[arg(long)]
    pub batch: Option<usize>,
    /// HR crop side (overrides data.crop).
    #[arg(long)]
    pub crop: Option<usize>,
    /// Learning rate of G and D (overrides adam_g.lr and adam_d.lr).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed (overrides seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// VGG19 weights file, .pth or .safetensors (overrides vgg.weights).
    #[arg(long)]
    pub vgg_weights: Option<PathBuf>,
    /// Generator to start from (overrides init_generator): an srgan checkpoint, or community
    /// weights such as Real-ESRGAN's .pth / .safetensors, to fine-tune.
    #[arg(long)]
    pub init_generator: Option<PathBuf>,
    /// Iterations between checkpoints (overrides checkpoint_every).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Iterations between validations (overrides val_every).
    #[arg(long)]
    pub val_every: Option<u64>,
    /// libtorch CPU threads (overrides threads).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar; periodic lines only (the default when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
}

/// A validated training job.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// The config, flags applied, validated.
    pub config: TrainConfig,
    /// The output folder.
    pub out: PathBuf,
    /// The training state to resume from (a file), if any.
    pub resume: Option<PathBuf>,
    /// The device.
    pub device: tch::Device,
    /// Whether to draw a progress bar.
    pub bar: bool,
    /// Whether a fresh run replaces the run already in [`out`](Self::out).
    pub overwrite: bool,
}

/// The default output folder of a fresh run.
pub const DEFAULT_OUT: &str = "runs/srgan";

/// The first run file in `dir`, if `dir` holds a run.
pub fn run_file_in(dir: &Path) -> Option<&'static str> {
    files::ALL.into_iter().find(|f| dir.join(f).exists())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || srgan_contract::files::same_file(a, b)
}

impl TrainJob {
    /// Reads the config, applies the flags, validates the result and resolves the device.
    ///
    /// A fresh run into a folder that holds a run is an error without `--overwrite`. A resumed
    /// run continues in its own folder (unless `--out` names another) with its own
    /// `config.yaml`, and an option that contradicts that config is an error.
    pub fn from_args(args: TrainArgs) -> Result<Self> {
        let resume = args.resume.as_ref().map(|r| {
            if r.is_dir() {
                r.join(files::STATE)
            } else {
                r.clone()
            }
        });
        if let Some(state) = resume.as_ref().filter(|s| !s.is_file()) {
            return Err(ModelsError::Io {
                path: state.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no training state to resume: --resume takes a run folder or its \
                     state.safetensors",
                ),
            });
        }
        let run_dir = resume.as_ref().map(|state| match state.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        });
        let out = args
            .out
            .clone()
            .or_else(|| run_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
        let continues_in_place = run_dir.as_ref().is_some_and(|d| same_dir(d, &out));
        if !continues_in_place && !args.overwrite {
            if let Some(file) = run_file_in(&out) {
                return Err(ModelsError::RunExists { path: out, file });
            }
        }
        let (mut cfg, saved) = match (&run_dir, &args.config) {
            (Some(dir), given) => resume_config(dir, given.as_deref())?,
            (None, Some(p)) => (read_config(p)?, None),
            (None, None) => (TrainConfig::default(), None),
        };
        apply_flags(&mut cfg, &args);
        if let (Some(dir), Some(saved)) = (&run_dir, &saved) {
            check_resume_flags(&dir.join(files::CONFIG), saved, &cfg)?;
        }
        cfg.validate()?;
        let device = crate::device::tch_device(&args.device)?;
        Ok(Self {
            config: cfg,
            out,
            resume,
            device,
            bar: !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            overwrite: args.overwrite,
        })
    }

    /// A fresh trainer, or one resumed from [`resume`](Self::resume); `stop` is the flag that
    /// stops it after the current iteration (with a checkpoint).
    pub fn trainer(&self, stop: Option<Arc<AtomicBool>>) -> Result<Trainer<AnyGenerator>> {
        let opts = TrainerOptions {
            progress: true,
            bar: self.bar,
            stop,
        };
        let cfg = self.config.clone();
        match &self.resume {
            Some(state) => Trainer::resume(cfg, &self.out, state, self.device, opts),
            None => {
                let trainer = Trainer::new(cfg, &self.out, self.device, opts)?;
                if self.overwrite {
                    // The new run is ready (its config.yaml written): the old run's files go,
                    // so that nothing of it mixes with the new one.
                    for f in files::ALL.into_iter().filter(|f| *f != files::CONFIG) {
                        let p = self.out.join(f);
                        match std::fs::remove_file(&p) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                                return Err(ModelsError::Io { path: p, source: e })
                            }
                            _ => {}
                        }
                    }
                }
                Ok(trainer)
            }
        }
    }
}

/// The config a resumed run starts from: `--config` if given, else the run's own
/// `config.yaml`; and the run's own config (if it has one), which the options are checked
/// against.
fn resume_config(dir: &Path, given: Option<&Path>) -> Result<(TrainConfig, Option<TrainConfig>)> {
    let own = dir.join(files::CONFIG);
    let saved = if own.is_file() {
        Some(read_config(&own)?)
    } else {
        None
    };
    match (given, saved) {
        (Some(p), saved) => Ok((read_config(p)?, saved)),
        (None, Some(saved)) => Ok((saved.clone(), Some(saved))),
        (None, None) => Err(ModelsError::Io {
            path: own,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the run to resume has no config.yaml; pass its config with --config",
            ),
        }),
    }
}

/// The options that may not change on resume (the architecture is checked against the state
/// itself), compared between the run's config and the config with the options applied.
fn check_resume_flags(path: &Path, saved: &TrainConfig, cfg: &TrainConfig) -> Result<()> {
    let conflict = |option: &'static str, given: String, saved: String| {
        Err(ModelsError::ResumeConflict {
            path: path.into(),
            option,
            given,
            saved,
        })
    };
    if cfg.phase != saved.phase {
        return conflict(
            "--phase",
            format!("{:?}", cfg.phase),
            format!("{:?}", saved.phase),
        );
    }
    if cfg.data.batch != saved.data.batch {
        return conflict(
            "--batch",
            cfg.data.batch.to_string(),
            saved.data.batch.to_string(),
        );
    }
    if cfg.data.crop != saved.data.crop {
        return conflict(
            "--crop",
            cfg.data.crop.to_string(),
            saved.data.crop.to_string(),
        );
    }
    if cfg.seed != saved.seed {
        return conflict("--seed", cfg.seed.to_string(), saved.seed.to_string());
    }
    if cfg.adam_g.lr != saved.adam_g.lr || cfg.adam_d.lr != saved.adam_d.lr {
        return conflict(
            "--lr",
            cfg.adam_g.lr.to_string(),
            saved.adam_g.lr.to_string(),
        );
    }
    Ok(())
}

/// Reads the YAML without validating: flags may still fix a value.
fn read_config(p: &Path) -> Result<TrainConfig> {
    let text = crate::config::read_config_text(p)?;
    TrainConfig::parse_unvalidated(&text, p)
}

fn apply_flags(cfg: &mut TrainConfig, args: &TrainArgs) {
    if let Some(d) = &args.data {
        cfg.data.train = Some(d.clone());
    }
    if let Some(v) = &args.val {
        cfg.data.val = Some(v.clone());
    }
    if let Some(p) = args.phase {
        cfg.phase = p;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn flags_override_the_config_and_bad_values_are_usage_errors() {
        let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/tiny.yaml");
        let a = TrainArgs::try_parse_from([
            "srgan-train",
            "--config",
            tiny,
            "--phase",
            "gan",
            "--iterations",
            "7",
            "--device",
            "cpu",
        ])
        .unwrap();
        let job = TrainJob::from_args(a).unwrap();
        assert_eq!(job.config.phase, Phase::Gan);
        assert_eq!(job.config.iterations, 7);
        assert_eq!(job.device, tch::Device::Cpu);
        for bad in [["--phase", "finetune"], ["--device", "tpu"]] {
            let e = TrainArgs::try_parse_from(["srgan-train", bad[0], bad[1]]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
        }
        let a = TrainArgs::try_parse_from(["srgan-train", "--config", tiny, "--device", "trt"])
            .unwrap();
        let e = TrainJob::from_args(a).unwrap_err().to_string();
        assert!(e.contains("tensorrt:0"), "{e}");
    }
}
