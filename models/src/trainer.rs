//! The trainer: SRResNet (`pretrain`, content loss only) and SRGAN (`gan`: a D step then a G
//! step each iteration), generic over the main module. See [`crate::losses`] for the recipe.
//!
//! Files in the output folder: `generator.safetensors` (the latest G, the checkpoint contract of
//! `srgan-export`), `generator_best.safetensors` (best validation PSNR), `generator_ema.safetensors`
//! (with `ema_decay`), `state.safetensors` (everything `--resume` needs: G, D, Adam moments, EMA,
//! schedule position, running means, best metric), `metrics.jsonl`, `curves.png` and
//! `config.yaml`. Every file is written atomically; a NaN or infinite loss stops training before
//! anything is written, so the last good checkpoint stays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rand::Rng;
use srgan_contract::metadata::keys;
use srgan_runtimes::ndarray::{Array4, ArrayView4};
use tch::{nn, Device, Tensor};

use crate::adam::Adam;
use crate::config::{Phase, TrainConfig};
use crate::data::{self, stream, ImageFolder, Loader, Sampling, TrainSet, ValImage};
use crate::discriminator::{BnMode, Discriminator};
use crate::error::{ModelsError, Result};
use crate::generator::{self, AnyGenerator, MainModule};
use crate::logging::{self, IterationLosses, RunningMeans};
use crate::losses;
use crate::state;
use crate::vgg::Vgg19Features;

/// Format name in the metadata of `state.safetensors`.
pub const STATE_FORMAT: &str = "srgan-train-state-v1";

/// File names in the output folder.
pub mod files {
    /// Latest generator.
    pub const GENERATOR: &str = "generator.safetensors";
    /// Best generator by validation PSNR.
    pub const BEST: &str = "generator_best.safetensors";
    /// EMA generator.
    pub const EMA: &str = "generator_ema.safetensors";
    /// Training state for `--resume`.
    pub const STATE: &str = "state.safetensors";
    /// Metrics, one JSON object a line.
    pub const METRICS: &str = "metrics.jsonl";
    /// Plot of the loss and PSNR curves.
    pub const PLOT: &str = "curves.png";
    /// The effective config.
    pub const CONFIG: &str = "config.yaml";

    /// Every file a run writes into its output folder.
    pub const ALL: [&str; 7] = [STATE, GENERATOR, BEST, EMA, METRICS, PLOT, CONFIG];
}

/// Options that do not change the result.
#[derive(Debug, Clone, Default)]
pub struct TrainerOptions {
    /// Report progress on stderr: the running means every `log_every` iterations, each epoch
    /// and each validation. Default false.
    pub progress: bool,
    /// With `progress`, draw an indicatif bar (lines are printed above it). Default false.
    pub bar: bool,
    /// Set from outside (Ctrl-C) to stop at the end of the current iteration after writing a
    /// checkpoint. Default: a flag nobody sets.
    pub stop: Option<Arc<AtomicBool>>,
}

/// Validation result, averaged over the images: the scores of `srgan_imaging::eval`.
pub type Validation = srgan_imaging::eval::Scores;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Iterations done in total.
    pub iterations: u64,
    /// Stopped by the stop flag before the configured end.
    pub interrupted: bool,
    /// The last validation, if any.
    pub last_validation: Option<Validation>,
    /// Best validation PSNR so far.
    pub best_psnr: Option<f64>,
}

struct Adversary {
    vs: nn::VarStore,
    net: Discriminator,
    adam: Adam,
}

/// Trains a main module `G` (the SRResNet [`Generator`] by default).
pub struct Trainer<G: MainModule = AnyGenerator> {
    cfg: TrainConfig,
    device: Device,
    out: PathBuf,
    opts: TrainerOptions,
    g_vs: nn::VarStore,
    g: G,
    adam_g: Adam,
    adversary: Option<Adversary>,
    vgg: Option<Vgg19Features>,
    ema: Option<(nn::VarStore, G)>,
    images: Arc<TrainSet>,
    sampling: Sampling,
    val: Vec<ValImage>,
    step: u64,
    epoch_means: RunningMeans,
    best_psnr: Option<f64>,
    last_checkpoint: u64,
    last_validation: Option<Validation>,
    history: Vec<IterationLosses>,
    nan_at: Option<u64>,
}

impl<G: MainModule> std::fmt::Debug for Trainer<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("out", &self.out)
            .field("step", &self.step)
            .field("phase", &self.cfg.phase)
            .field("device", &self.device)
            .finish()
    }
}

impl<G: MainModule> Trainer<G> {
    /// Prepares a fresh run: checks the config, builds the networks, loads the data and the
    /// VGG weights, creates the output folder. Nothing of an earlier run there is read.
    ///
    /// A process that trains should call [`srgan_runtimes::keep_freed_memory`] first, as
    /// `srgan-train` does: each step then reuses the memory of the last one instead of
    /// page-faulting it in again (a 1.3x faster CPU step here). The trainer leaves the
    /// process's allocator alone.
    pub fn new(cfg: TrainConfig, out: &Path, device: Device, opts: TrainerOptions) -> Result<Self> {
        cfg.validate()?;
        // Before anything is allocated: a run that cannot fit is refused with the figure. (On
        // a GPU the weights and activations live in its memory, which libtorch does not report
        // here; the check is the CPU's.)
        if device == Device::Cpu {
            if let Some(available) = crate::memory::available_bytes() {
                let need = crate::memory::training_bytes(&cfg);
                if need > available {
                    return Err(ModelsError::TooLargeForMachine {
                        generator: cfg.generator.describe(),
                        batch: cfg.data.batch,
                        crop: cfg.data.crop,
                        need_mib: need >> 20,
                        available_mib: available >> 20,
                    });
                }
            }
        }
        if let Some(t) = cfg.threads {
            tch::set_num_threads(t as i32);
        }
        let train_dir = cfg.data.train.clone().ok_or_else(|| {
            ModelsError::config("data.train", "none", "a folder of HR images (or --data)")
        })?;
        if !train_dir.is_dir() {
            return Err(ModelsError::Io {
                path: train_dir,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "training data folder not found",
                ),
            });
        }
        tch::manual_seed(data::derive_seed(&[cfg.seed, 0xD15C]) as i64);
        let g_vs = nn::VarStore::new(device);
        let g = G::build(&g_vs.root(), &cfg.generator)?;
        generator::check_var_names(&g_vs, &cfg.generator)?;
        if let Some(init) = &cfg.init_generator {
            // An srgan checkpoint, or community weights (e.g. Real-ESRGAN's .pth) to fine-tune.
            let ck = srgan_export::import::load_weights(init).map_err(Box::new)?;
            if ck.config != cfg.generator {
                return Err(ModelsError::ResumeMismatch {
                    path: init.clone(),
                    what: "the generator architecture".into(),
                    expected: serde_json::to_string(&cfg.generator).unwrap_or_default(),
                    found: serde_json::to_string(&ck.config).unwrap_or_default(),
                });
            }
            generator::load_checkpoint(&g_vs, &ck)?;
        }
        let adam_g = Adam::new(&g_vs, &cfg.adam_g);
        let adversary = if cfg.phase == Phase::Gan {
            let vs = nn::VarStore::new(device);
            let net = Discriminator::new(&vs.root(), &cfg.discriminator)?;
            let adam = Adam::new(&vs, &cfg.adam_d);
            Some(Adversary { vs, net, adam })
        } else {
            None
        };
        let vgg = if cfg.perceptual() {
            Some(Vgg19Features::load(&cfg.vgg, device)?)
        } else {
            None
        };
        let ema = match cfg.ema_decay {
            Some(_) => {
                let mut vs = nn::VarStore::new(device);
                let net = G::build(&vs.root(), &cfg.generator)?;
                vs.copy(&g_vs)
                    .map_err(ModelsError::tch("initialising the EMA generator"))?;
                vs.freeze();
                Some((vs, net))
            }
            None => None,
        };
        let crop = cfg.data.crop as u32;
        let scale = cfg.generator.scale() as u32;
        let folder = ImageFolder::open(&train_dir, crop, cfg.data.workers)?;
        let set = match &cfg.data.train_lr {
            Some(lr_dir) => {
                let lr = ImageFolder::open(lr_dir, crop / scale, cfg.data.workers)?;
                TrainSet::paired(folder, lr, scale, crop)?
            }
            None => TrainSet::unpaired(folder.images),
        };
        let epoch_iterations = cfg
            .epoch_iterations
            .unwrap_or_else(|| set.len().div_ceil(cfg.data.batch) as u64)
            .max(1);
        let sampling = Sampling {
            seed: cfg.seed,
            crop,
            scale,
            batch: cfg.data.batch,
            augment: cfg.data.augment,
            epoch_iterations,
            degradation: cfg.data.degradation.clone().map(Arc::new),
        };
        let val = match &cfg.data.val {
            Some(v) => data::validation_set(
                v,
                scale,
                cfg.data.val_max_images,
                cfg.data.workers,
                &cfg.data.val_degradations,
                cfg.seed,
            )?,
            None => Vec::new(),
        };
        std::fs::create_dir_all(out).map_err(ModelsError::io(out))?;
        srgan_export::atomic_write(&out.join(files::CONFIG), cfg.to_yaml().as_bytes())?;
        Ok(Self {
            cfg,
            device,
            out: out.into(),
            opts,
            g_vs,
            g,
            adam_g,
            adversary,
            vgg,
            ema,
            images: Arc::new(set),
            sampling,
            val,
            step: 0,
            epoch_means: RunningMeans::default(),
            best_psnr: None,
            last_checkpoint: 0,
            last_validation: None,
            history: Vec::new(),
            nan_at: None,
        })
    }

    /// Prepares a run that continues the state in `state_file` (written by an earlier run with
    /// the same architecture, phase and seed). Metrics after the saved iteration are dropped
    /// from `metrics.jsonl` so that the resumed run writes them again.
    pub fn resume(
        cfg: TrainConfig,
        out: &Path,
        state_file: &Path,
        device: Device,
        opts: TrainerOptions,
    ) -> Result<Self> {
        // Read and check the state before anything else, so that a bad file changes nothing.
        let (named, md) = state::read_tensors(state_file)?;
        check_state_metadata(&cfg, state_file, &md)?;
        let mut t = Self::new(cfg, out, device, opts)?;
        t.load_state(state_file, &named, &md)?;
        logging::truncate_after(&out.join(files::METRICS), t.step)?;
        Ok(t)
    }

    fn load_state(
        &mut self,
        path: &Path,
        named: &std::collections::HashMap<String, Tensor>,
        md: &BTreeMap<String, String>,
    ) -> Result<()> {
        let get = |k: &str| state_meta(path, md, k);
        let num = |k: &str| -> Result<u64> {
            get(k)?.parse::<u64>().map_err(|_| ModelsError::State {
                path: path.into(),
                source: format!("metadata `{k}` is not a number").into(),
            })
        };
        let step = num("step")?;
        if step > self.cfg.iterations {
            return Err(ModelsError::ResumeMismatch {
                path: path.into(),
                what: "the iteration count".into(),
                expected: format!("<= iterations = {}", self.cfg.iterations),
                found: step.to_string(),
            });
        }
        state::load_prefixed(&self.g_vs, named, "g", path)?;
        self.adam_g.load_state(named, "adam_g", step, path)?;
        if let Some(a) = &mut self.adversary {
            state::load_prefixed(&a.vs, named, "d", path)?;
            a.adam.load_state(named, "adam_d", step, path)?;
        }
        if let Some((vs, _)) = &self.ema {
            state::load_prefixed(vs, named, "ema", path)?;
        }
        self.epoch_means =
            RunningMeans::decode(get("epoch_means")?).ok_or_else(|| ModelsError::State {
                path: path.into(),
                source: "metadata `epoch_means` is unreadable".into(),
            })?;
        self.best_psnr = md
            .get("best_psnr")
            .and_then(|b| u64::from_str_radix(b, 16).ok())
            .map(f64::from_bits);
        self.step = step;
        self.last_checkpoint = step;
        Ok(())
    }

    /// Iterations done.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The config.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// The losses of every iteration done by this process, in order.
    pub fn history(&self) -> &[IterationLosses] {
        &self.history
    }

    /// G's variables.
    pub fn generator_vars(&self) -> &nn::VarStore {
        &self.g_vs
    }

    /// D's variables (phase `gan`).
    pub fn discriminator_vars(&self) -> Option<&nn::VarStore> {
        self.adversary.as_ref().map(|a| &a.vs)
    }

    /// The VGG feature extractor (when the perceptual loss is on).
    pub fn vgg(&self) -> Option<&Vgg19Features> {
        self.vgg.as_ref()
    }

    /// The output folder.
    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    /// Makes the HR batch of (1-based) iteration `iteration` NaN, to test the NaN guard.
    #[doc(hidden)]
    pub fn inject_nan_at(&mut self, iteration: u64) {
        self.nan_at = Some(iteration);
    }

    /// The batch of 0-based iteration `t` (the same one training uses).
    pub fn batch(&self, t: u64) -> data::Batch {
        data::make_batch(&self.images, &self.sampling, t)
    }

    /// The batch of 0-based iteration `t` as (LR in `lr_range`, HR in `hr_range`) tensors.
    pub fn batch_tensors(&self, b: &data::Batch) -> (Tensor, Tensor) {
        let g = &self.cfg.generator;
        let s = b.hr_side as i64;
        let ls = s / g.scale() as i64;
        let n = b.n as i64;
        let lr = Tensor::from_slice(&b.lr)
            .view([n, 3, ls, ls])
            .to_device(self.device);
        let hr = Tensor::from_slice(&b.hr)
            .view([n, 3, s, s])
            .to_device(self.device);
        let map = |x: Tensor, r: [f32; 2]| x * (r[1] - r[0]) as f64 + r[0] as f64;
        (map(lr, g.lr_range()), map(hr, g.hr_range()))
    }

    /// Maps G's output from `hr_range` to [0, 1] (for VGG and for images).
    fn to_unit(&self, y: &Tensor) -> Tensor {
        let [lo, hi] = self.cfg.generator.hr_range();
        (y - lo as f64) / (hi - lo) as f64
    }

    /// G in training mode (updates its BN running statistics).
    pub fn generate(&self, lr: &Tensor) -> Tensor {
        self.g.forward_t(lr, true)
    }

    /// The D step: `BCE(D(hr), t_real) + BCE(D(sr), t_fake)` with noisy labels drawn for
    /// 0-based iteration `t`; updates D only. `sr` is detached here. Returns the loss, or an
    /// error (before any update) if it is not finite.
    pub fn d_step(&mut self, hr: &Tensor, sr: &Tensor, t: u64) -> Result<f64> {
        let lc = self.cfg.loss.clone();
        let n = hr.size()[0] as usize;
        let mut rng = data::rng_for(self.cfg.seed, stream::LABELS, t);
        let mut draw = |r: [f64; 2]| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    if r[0] == r[1] {
                        r[0] as f32
                    } else {
                        rng.random_range(r[0]..r[1]) as f32
                    }
                })
                .collect()
        };
        let t_real = draw(lc.real_label_range);
        let t_fake = draw(lc.fake_label_range);
        let a = self
            .adversary
            .as_mut()
            .expect("d_step needs the adversarial module (phase gan)");
        let t_real = Tensor::from_slice(&t_real)
            .view([n as i64, 1])
            .to_device(self.device);
        let t_fake = Tensor::from_slice(&t_fake)
            .view([n as i64, 1])
            .to_device(self.device);
        a.adam.zero_grad();
        let real = a.net.forward_mode(hr, BnMode::Train);
        let fake = a.net.forward_mode(&sr.detach(), BnMode::Train);
        let loss = losses::discriminator_loss(&real, &fake, &t_real, &t_fake);
        let v = loss.double_value(&[]);
        if !v.is_finite() {
            return Err(self.non_finite("discriminator_loss", v, t + 1));
        }
        loss.backward();
        a.adam.step();
        Ok(v)
    }

    /// The G step on `sr = G(lr)` (with its graph) against `hr`: content, adversarial and TV
    /// terms as configured; updates G only (D's BN statistics are left alone). Returns the
    /// losses, or an error (before any update) if one is not finite.
    pub fn g_step(&mut self, sr: &Tensor, hr: &Tensor, t: u64) -> Result<IterationLosses> {
        let perceptual = self.vgg.as_ref().map(|vgg| {
            let f_sr = vgg.forward(&self.to_unit(sr));
            let f_hr = tch::no_grad(|| vgg.forward(&self.to_unit(hr)));
            losses::mse(&f_sr, &f_hr)
        });
        let fake_logits = self
            .adversary
            .as_ref()
            .map(|a| a.net.forward_mode(sr, BnMode::TrainFrozenStats));
        let gl = losses::generator_loss(&self.cfg.loss, sr, hr, perceptual, fake_logits.as_ref());
        let out = IterationLosses {
            discriminator_loss: 0.0,
            generator_content_loss: gl.content.double_value(&[]),
            generator_adversarial_loss: gl.adversarial.double_value(&[]),
            generator_total_loss: gl.total.double_value(&[]),
            generator_pixel_loss: gl.pixel.double_value(&[]),
        };
        for (name, v) in out.named() {
            if !v.is_finite() {
                return Err(self.non_finite(name, v, t + 1));
            }
        }
        self.adam_g.zero_grad();
        gl.total.backward();
        self.adam_g.step();
        if let Some(a) = &mut self.adversary {
            a.adam.zero_grad(); // the G step put gradients on D; they are never used
        }
        self.update_ema();
        Ok(out)
    }

    fn non_finite(&self, loss: &'static str, value: f64, iteration: u64) -> ModelsError {
        ModelsError::NonFiniteLoss {
            loss,
            value,
            iteration,
            last_checkpoint: self.last_checkpoint,
        }
    }

    fn update_ema(&mut self) {
        let (Some(decay), Some((vs, _))) = (self.cfg.ema_decay, &self.ema) else {
            return;
        };
        let src = self.g_vs.variables();
        tch::no_grad(|| {
            for (n, mut e) in vs.variables() {
                let _ = e.g_mul_scalar_(decay).g_add_(&(&src[&n] * (1.0 - decay)));
            }
        });
    }

    /// One iteration on a batch: sets the learning rate, a D step (phase `gan`) and a G step.
    pub fn train_iteration(&mut self, b: &data::Batch) -> Result<IterationLosses> {
        let t = b.iteration;
        let lr_g = self.cfg.lr_at(self.cfg.adam_g.lr, t);
        let lr_d = self.cfg.lr_at(self.cfg.adam_d.lr, t);
        self.adam_g.set_lr(lr_g);
        if let Some(a) = &mut self.adversary {
            a.adam.set_lr(lr_d);
        }
        let (lr, mut hr) = self.batch_tensors(b);
        if self.nan_at == Some(t + 1) {
            hr *= f64::NAN;
        }
        let sr = self.generate(&lr);
        let d_loss = if self.adversary.is_some() {
            self.d_step(&hr, &sr, t)?
        } else {
            0.0
        };
        let mut l = self.g_step(&sr, &hr, t)?;
        l.discriminator_loss = d_loss;
        Ok(l)
    }

    /// Runs until the configured number of iterations, or until the stop flag is set.
    pub fn run(&mut self) -> Result<RunOutcome> {
        self.run_until(self.cfg.iterations)
    }

    /// Runs until `end` iterations are done (at most the configured number), or until the stop
    /// flag is set; writes a checkpoint at the end either way.
    pub fn run_until(&mut self, end: u64) -> Result<RunOutcome> {
        let end = end.min(self.cfg.iterations);
        let metrics_path = self.out.join(files::METRICS);
        let mut loader = Loader::start(
            self.images.clone(),
            self.sampling.clone(),
            self.step,
            end,
            self.cfg.data.workers,
            self.cfg.data.prefetch,
        );
        let bar = if self.opts.progress && self.opts.bar {
            let bar = indicatif::ProgressBar::new(self.cfg.iterations);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} {per_sec} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_position(self.step);
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let progress = self.opts.progress;
        let say = |line: String| {
            if progress {
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
        };
        let adversarial = self.adversary.is_some();
        let mut interrupted = false;
        let mut checkpointed_at = u64::MAX;
        while self.step < end {
            let Some(batch) = loader.next_batch() else {
                break;
            };
            let losses = self.train_iteration(&batch)?;
            self.step += 1;
            self.history.push(losses);
            self.epoch_means.add(&losses);
            bar.set_position(self.step);
            if self.step % self.cfg.log_every == 0 || self.step == end {
                bar.set_message(self.epoch_means.summary(adversarial));
                let mut fields: Vec<(&str, f64)> = self.epoch_means.means().into_iter().collect();
                fields.push(("lr", self.adam_g.lr()));
                logging::append(&metrics_path, &logging::record("train", self.step, &fields))?;
                if self.opts.progress {
                    say(format!(
                        "iteration {}/{}: {}",
                        self.step,
                        self.cfg.iterations,
                        self.epoch_means.summary(adversarial)
                    ));
                }
            }
            if self.step % self.sampling.epoch_iterations == 0 {
                let epoch = self.step / self.sampling.epoch_iterations;
                let mut fields: Vec<(&str, f64)> = self.epoch_means.means().into_iter().collect();
                fields.push(("epoch", epoch as f64));
                logging::append(&metrics_path, &logging::record("epoch", self.step, &fields))?;
                say(format!(
                    "epoch {epoch} (iteration {}): {}",
                    self.step,
                    self.epoch_means.summary(adversarial)
                ));
                self.epoch_means = RunningMeans::default();
            }
            let last = self.step == self.cfg.iterations;
            if !self.val.is_empty()
                && ((self.cfg.val_every > 0 && self.step % self.cfg.val_every == 0) || last)
            {
                let v = self.validate()?;
                say(format!(
                    "validation at {}: PSNR {:.2} dB SSIM {:.4} ({} {:.2} dB / {:.4})",
                    self.step,
                    v.psnr,
                    v.ssim,
                    // At scale 1 the "bicubic" baseline is the identity: the input itself.
                    if self.cfg.generator.scale() == 1 {
                        "input"
                    } else {
                        "bicubic"
                    },
                    v.bicubic_psnr,
                    v.bicubic_ssim
                ));
            }
            let stop = self
                .opts
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::SeqCst));
            if stop || (self.cfg.checkpoint_every > 0 && self.step % self.cfg.checkpoint_every == 0)
            {
                self.checkpoint()?;
                checkpointed_at = self.step;
            }
            if stop {
                interrupted = self.step < self.cfg.iterations;
                say(format!(
                    "stopped at iteration {}; checkpoint written",
                    self.step
                ));
                break;
            }
        }
        drop(loader);
        if checkpointed_at != self.step {
            self.checkpoint()?;
        }
        bar.finish_and_clear();
        Ok(RunOutcome {
            iterations: self.step,
            interrupted,
            last_validation: self.last_validation,
            best_psnr: self.best_psnr,
        })
    }

    /// Runs G in eval mode on an LR batch in [0, 1]; returns its output mapped to [0, 1].
    fn upscale_batch(&self, net: &G, lr: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let g = &self.cfg.generator;
        let dims: Vec<i64> = lr.shape().iter().map(|&d| d as i64).collect();
        let v: Vec<f32> = lr.iter().copied().collect();
        let x = Tensor::from_slice(&v)
            .view(dims.as_slice())
            .to_device(self.device);
        let [lo, hi] = g.lr_range();
        let x = x * (hi - lo) as f64 + lo as f64;
        let y = tch::no_grad(|| net.forward_t(&x, false));
        let y = self.to_unit(&y).clamp(0.0, 1.0);
        let (n, c, h, w) = y
            .size4()
            .map_err(ModelsError::tch("the generator's output"))?;
        let v = generator::tensor_to_vec(&y)?;
        Ok(
            Array4::from_shape_vec((n as usize, c as usize, h as usize, w as usize), v)
                .expect("tensor_to_vec returns every element of the tensor"),
        )
    }

    /// PSNR/SSIM on Y of G (or its EMA) and of bicubic on the validation images, by the
    /// evaluation protocol of `srgan_imaging::eval` (the same numbers as `srgan-eval`).
    pub fn validate(&mut self) -> Result<Validation> {
        let net = match &self.ema {
            Some((_, e)) => e,
            None => &self.g,
        };
        let mut scores = Vec::with_capacity(self.val.len());
        for v in &self.val {
            let s = v
                .image
                .evaluate(|lr| self.upscale_batch(net, lr))
                .map_err(|source| ModelsError::Validation {
                    path: v.file.clone(),
                    source,
                })?;
            scores.push(s);
        }
        let res = Validation::mean(&scores);
        logging::append(
            &self.out.join(files::METRICS),
            &logging::record(
                "val",
                self.step,
                &[
                    ("psnr", res.psnr),
                    ("ssim", res.ssim),
                    ("bicubic_psnr", res.bicubic_psnr),
                    ("bicubic_ssim", res.bicubic_ssim),
                ],
            ),
        )?;
        if self.best_psnr.is_none_or(|b| res.psnr > b) {
            self.best_psnr = Some(res.psnr);
            let vs = match &self.ema {
                Some((vs, _)) => vs,
                None => &self.g_vs,
            };
            let mut md = self.provenance();
            md.insert(keys::TRAIN_VAL_PSNR.into(), format!("{:.4}", res.psnr));
            generator::to_checkpoint(vs, &self.cfg.generator, md)?
                .save(self.out.join(files::BEST))?;
        }
        self.last_validation = Some(res);
        Ok(res)
    }

    fn provenance(&self) -> BTreeMap<String, String> {
        let mut md = BTreeMap::new();
        md.insert(keys::TRAIN_ITERATION.into(), self.step.to_string());
        md.insert(
            keys::TRAIN_PHASE.into(),
            serde_json::to_string(&self.cfg.phase).unwrap_or_default(),
        );
        md
    }

    /// Writes the generator(s), the training state and the plot (each atomically).
    pub fn checkpoint(&mut self) -> Result<()> {
        let md = self.provenance();
        generator::to_checkpoint(&self.g_vs, &self.cfg.generator, md.clone())?
            .save(self.out.join(files::GENERATOR))?;
        if let Some((vs, _)) = &self.ema {
            generator::to_checkpoint(vs, &self.cfg.generator, md)?
                .save(self.out.join(files::EMA))?;
        }
        let mut tensors = state::prefixed_vars(&self.g_vs, "g");
        tensors.extend(self.adam_g.state("adam_g"));
        if let Some(a) = &self.adversary {
            tensors.extend(state::prefixed_vars(&a.vs, "d"));
            tensors.extend(a.adam.state("adam_d"));
        }
        if let Some((vs, _)) = &self.ema {
            tensors.extend(state::prefixed_vars(vs, "ema"));
        }
        let json = |v: &dyn erased::Ser| v.json();
        let mut meta = BTreeMap::new();
        meta.insert("format".into(), STATE_FORMAT.into());
        meta.insert("step".into(), self.step.to_string());
        meta.insert("seed".into(), self.cfg.seed.to_string());
        meta.insert("batch".into(), self.cfg.data.batch.to_string());
        meta.insert("crop".into(), self.cfg.data.crop.to_string());
        meta.insert("ema".into(), self.ema.is_some().to_string());
        meta.insert("phase".into(), json(&self.cfg.phase));
        meta.insert("generator".into(), json(&self.cfg.generator));
        meta.insert("discriminator".into(), json(&self.cfg.discriminator));
        meta.insert("epoch_means".into(), self.epoch_means.encode());
        if let Some(b) = self.best_psnr {
            meta.insert("best_psnr".into(), format!("{:016x}", b.to_bits()));
        }
        state::write_tensors(&self.out.join(files::STATE), &tensors, meta)?;
        self.last_checkpoint = self.step;
        crate::plot::plot_metrics(&self.out.join(files::METRICS), &self.out.join(files::PLOT))?;
        Ok(())
    }
}

/// The value of metadata key `k` of the training state at `path`; its absence is an error.
fn state_meta<'a>(path: &Path, md: &'a BTreeMap<String, String>, k: &str) -> Result<&'a String> {
    md.get(k).ok_or_else(|| ModelsError::State {
        path: path.into(),
        source: format!("metadata key `{k}` is missing").into(),
    })
}

/// Checks that a training state's metadata fits `cfg` (architecture, phase, seed, batch, crop,
/// EMA); the first difference is an error naming it.
pub fn check_state_metadata(
    cfg: &TrainConfig,
    path: &Path,
    md: &BTreeMap<String, String>,
) -> Result<()> {
    let get = |k: &str| state_meta(path, md, k);
    if get("format")? != STATE_FORMAT {
        return Err(ModelsError::State {
            path: path.into(),
            source: format!("format is `{}`, expected `{STATE_FORMAT}`", get("format")?).into(),
        });
    }
    let mismatch = |what: &str, expected: String, found: &str| {
        if expected != found {
            Err(ModelsError::ResumeMismatch {
                path: path.into(),
                what: what.into(),
                expected,
                found: found.into(),
            })
        } else {
            Ok(())
        }
    };
    let json = |v: &dyn erased::Ser| v.json();
    // Compared as architectures: states written before the `arch` tag hold untagged JSON.
    let stored = get("generator")?;
    if srgan_export::Architecture::from_json(stored).ok().as_ref() != Some(&cfg.generator) {
        mismatch("the generator architecture", json(&cfg.generator), stored)?;
    }
    mismatch("the phase", json(&cfg.phase), get("phase")?)?;
    if cfg.phase == Phase::Gan {
        mismatch(
            "the discriminator architecture",
            json(&cfg.discriminator),
            get("discriminator")?,
        )?;
    }
    mismatch("the seed", cfg.seed.to_string(), get("seed")?)?;
    mismatch("the batch size", cfg.data.batch.to_string(), get("batch")?)?;
    mismatch("the crop", cfg.data.crop.to_string(), get("crop")?)?;
    mismatch("the EMA", cfg.ema_decay.is_some().to_string(), get("ema")?)?;
    Ok(())
}

/// Serialising a config part to JSON through a trait object.
mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
