//! The training configuration: one YAML file (serde_yaml, unknown keys rejected) holding every
//! hyperparameter, with the paper's defaults (Ledig et al., arXiv 1609.04802: Adam lr 1e-4,
//! beta1 0.9, batch 16 of 96x96 HR crops, x4); command-line flags override it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use srgan_export::{Architecture, GeneratorConfig};
use srgan_imaging::degrade::{DegradationConfig, DegradeError, Fixed};

use crate::adam::AdamConfig;
use crate::discriminator::DiscriminatorConfig;
use crate::error::{ModelsError, Result};
use crate::losses::LossConfig;
use crate::vgg::VggConfig;

/// Reads `generator:` as the contract's tagged [`Architecture`]; without an `arch` key it is
/// SRResNet (every config written before there were other main modules).
fn architecture<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Architecture, D::Error> {
    let mut value = serde_json::Value::deserialize(d)?;
    if let Some(obj) = value.as_object_mut() {
        obj.entry("arch")
            .or_insert_with(|| serde_json::Value::from("srresnet"));
    }
    serde_json::from_value(value).map_err(serde::de::Error::custom)
}

/// Which training phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// SRResNet: G alone on the content loss (no discriminator).
    #[default]
    Pretrain,
    /// SRGAN: G and D in turn, G initialised from the pretrained generator.
    Gan,
}

/// Step decay of the learning rate: multiplied by `factor` every `every` iterations (the paper's
/// SRGAN: 1e-4 for 1e5 iterations, then 1e-5 for 1e5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrDecay {
    /// Iterations between decays.
    pub every: u64,
    /// Multiplier at each decay.
    pub factor: f64,
}

/// Data loading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Folder of HR training images (PNG or JPEG). Default: none (`--data`).
    pub train: Option<PathBuf>,
    /// Folder of held-out HR images for validation. Default: none (no validation).
    pub val: Option<PathBuf>,
    /// Side of the square HR crops; a multiple of the scale. Default 96.
    pub crop: usize,
    /// Crops per batch. Default 16.
    pub batch: usize,
    /// Random flips and 90-degree rotations. Default true.
    pub augment: bool,
    /// Background loading threads. Default 2.
    pub workers: usize,
    /// Batches each worker may prepare ahead. Default 2.
    pub prefetch: usize,
    /// Validation images used at most (sorted by name). Default: all.
    pub val_max_images: Option<usize>,
    /// Real-ESRGAN's second-order degradation model for the LR of each crop instead of the
    /// bicubic downscale (`{}`: Real-ESRGAN x4plus's settings; any key given replaces its
    /// default, see `srgan_imaging::degrade::DegradationConfig`). Default: none (bicubic).
    pub degradation: Option<DegradationConfig>,
    /// Paired data: a folder of LR images with the same names (stems) as `train`'s HR images,
    /// each the HR's size divided by the scale. Default: none (the LR is made from the HR).
    pub train_lr: Option<PathBuf>,
    /// Validation on degraded inputs: each validation image is scored once per entry
    /// (`noise:SIGMA` colour Gaussian noise on 0-255, `jpeg:QUALITY`), applied to its LR with
    /// a seeded RNG; the baseline is bicubic of that LR (at scale 1: the degraded input
    /// itself). Default: none (the clean bicubic LR).
    pub val_degradations: Vec<Fixed>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            train: None,
            val: None,
            crop: 96,
            batch: 16,
            augment: true,
            workers: 2,
            prefetch: 2,
            val_max_images: None,
            degradation: None,
            train_lr: None,
            val_degradations: Vec::new(),
        }
    }
}

/// Every hyperparameter of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Seed of every random choice (init, crops, labels). Default 0.
    pub seed: u64,
    /// `pretrain` (SRResNet, content only) or `gan` (SRGAN). Default `pretrain`.
    pub phase: Phase,
    /// Iterations to train (each: one batch; in `gan`, one D step and one G step). Default 1e6.
    pub iterations: u64,
    /// Iterations per epoch (the period of the running means). Default: one pass over the
    /// training images, `ceil(images / batch)`.
    pub epoch_iterations: Option<u64>,
    /// Architecture of G, the main module: `arch: srresnet` (the default when `arch` is
    /// absent), `rrdbnet` or `srvgg_compact`, with its hyper-parameters (see
    /// [`srgan_export::Architecture`]).
    #[serde(deserialize_with = "architecture")]
    pub generator: Architecture,
    /// Architecture of D (phase `gan`).
    pub discriminator: DiscriminatorConfig,
    /// The perceptual module.
    pub vgg: VggConfig,
    /// Loss weights and label ranges.
    pub loss: LossConfig,
    /// Adam for G.
    pub adam_g: AdamConfig,
    /// Adam for D.
    pub adam_d: AdamConfig,
    /// Step decay of both learning rates. Default: none.
    pub lr_decay: Option<LrDecay>,
    /// Phase `gan`: the pretrained generator checkpoint G starts from. Default: none (random).
    pub init_generator: Option<PathBuf>,
    /// Decay of an exponential moving average of G's variables; validation and the exported
    /// `generator_ema.safetensors` use it. Default: none.
    pub ema_decay: Option<f64>,
    /// Data.
    pub data: DataConfig,
    /// Iterations between validations (0: only at the end). Default 1000.
    pub val_every: u64,
    /// Iterations between checkpoints (0: only at the end). Default 1000.
    pub checkpoint_every: u64,
    /// Iterations between live log lines. Default 100.
    pub log_every: u64,
    /// Intra-op threads of libtorch on the CPU. Default: libtorch's choice.
    pub threads: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            phase: Phase::Pretrain,
            iterations: 1_000_000,
            epoch_iterations: None,
            generator: GeneratorConfig::paper().into(),
            discriminator: DiscriminatorConfig::default(),
            vgg: VggConfig::default(),
            loss: LossConfig::default(),
            adam_g: AdamConfig::default(),
            adam_d: AdamConfig::default(),
            lr_decay: None,
            init_generator: None,
            ema_decay: None,
            data: DataConfig::default(),
            val_every: 1000,
            checkpoint_every: 1000,
            log_every: 100,
            threads: None,
        }
    }
}

/// The largest config file read, in bytes (a real one is about 2 KB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The deepest nesting a config may have (flow brackets, or block indentation in columns / 2):
/// a real one nests 3 deep. A 100,000-deep file took 38 s to reject inside the parser.
pub const MAX_CONFIG_DEPTH: usize = 32;

/// Reads a config file of at most [`MAX_CONFIG_BYTES`] (an endless file is cut there).
pub fn read_config_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(ModelsError::io(path))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ModelsError::io(path))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ModelsError::config(
            path.display().to_string(),
            "a file over 1 MiB",
            "a YAML config of at most 1 MiB",
        ));
    }
    String::from_utf8(bytes).map_err(|e| ModelsError::Io {
        path: path.into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Rejects a config nested deeper than [`MAX_CONFIG_DEPTH`] before the parser sees it.
fn check_depth(text: &str, path: &Path) -> Result<()> {
    let (mut flow, mut deepest) = (0usize, 0usize);
    for line in text.lines() {
        let body = line.trim_start_matches(' ');
        if body.starts_with('#') {
            continue;
        }
        let indent = (line.len() - body.len()) / 2;
        let dashes = body.split_whitespace().take_while(|t| *t == "-").count();
        let mut quote = None;
        for c in body.chars() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '#') => break,
                (None, '[' | '{') => flow += 1,
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
            deepest = deepest.max(flow + indent + dashes);
        }
        deepest = deepest.max(indent + dashes);
        if deepest > MAX_CONFIG_DEPTH {
            return Err(ModelsError::config(
                path.display().to_string(),
                format!("nesting deeper than {MAX_CONFIG_DEPTH}"),
                format!("a YAML config nested at most {MAX_CONFIG_DEPTH} deep"),
            ));
        }
    }
    Ok(())
}

impl TrainConfig {
    /// Reads a YAML config; unknown keys and bad values are errors naming them.
    pub fn from_yaml_file(path: &Path) -> Result<Self> {
        let text = read_config_text(path)?;
        Self::from_yaml_str(&text, path)
    }

    /// Parses a YAML config; `path` is only used in errors.
    pub fn from_yaml_str(text: &str, path: &Path) -> Result<Self> {
        let cfg = Self::parse_unvalidated(text, path)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses a YAML config without validating the values (flags may still fix one), after
    /// checking its size and nesting.
    pub fn parse_unvalidated(text: &str, path: &Path) -> Result<Self> {
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ModelsError::config(
                path.display().to_string(),
                "a text over 1 MiB",
                "a YAML config of at most 1 MiB",
            ));
        }
        check_depth(text, path)?;
        serde_yaml::from_str(text).map_err(|e| ModelsError::ConfigParse {
            path: path.into(),
            source: e,
        })
    }

    /// The config as YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("config serialises")
    }

    /// Whether the perceptual term is on.
    pub fn perceptual(&self) -> bool {
        self.loss.vgg_weight > 0.0
    }

    /// Whether the adversarial module is on.
    pub fn adversarial(&self) -> bool {
        self.phase == Phase::Gan
    }

    /// Checks every value (file existence is checked when the files are opened).
    pub fn validate(&self) -> Result<()> {
        self.generator.validate()?;
        self.discriminator.validate()?;
        self.loss.validate()?;
        self.adam_g.validate("adam_g")?;
        self.adam_d.validate("adam_d")?;
        let s = self.generator.scale();
        let d = &self.data;
        if d.crop == 0 || d.crop % s != 0 || d.crop > 4096 {
            return Err(ModelsError::config(
                "data.crop",
                d.crop,
                format!("a positive multiple of the scale ({s}), at most 4096"),
            ));
        }
        if d.crop / s < 2 {
            return Err(ModelsError::config(
                "data.crop",
                d.crop,
                format!("at least 2 x scale = {}", 2 * s),
            ));
        }
        if let Some(deg) = &d.degradation {
            deg.validate().map_err(|e| match e {
                DegradeError::Config {
                    field,
                    value,
                    expected,
                } => ModelsError::config(format!("data.degradation.{field}"), value, expected),
                other => ModelsError::config("data.degradation", "?", other.to_string()),
            })?;
            if d.train_lr.is_some() {
                return Err(ModelsError::config(
                    "data.degradation",
                    "set",
                    "no degradation with data.train_lr (paired data brings its own LR)",
                ));
            }
        }
        if s == 1 && d.degradation.is_none() && d.train_lr.is_none() {
            return Err(ModelsError::config(
                "generator.scale",
                1,
                "data.degradation or data.train_lr with scale 1 (a restoration model needs \
                 degraded inputs; without them its input is its target)",
            ));
        }
        if d.batch == 0 || d.batch > 4096 {
            return Err(ModelsError::config("data.batch", d.batch, "1..=4096"));
        }
        if d.workers == 0 || d.workers > 64 {
            return Err(ModelsError::config("data.workers", d.workers, "1..=64"));
        }
        if d.prefetch == 0 || d.prefetch > 1024 {
            return Err(ModelsError::config("data.prefetch", d.prefetch, "1..=1024"));
        }
        if self.iterations == 0 {
            return Err(ModelsError::config("iterations", 0, ">= 1"));
        }
        if self.epoch_iterations == Some(0) {
            return Err(ModelsError::config("epoch_iterations", 0, ">= 1"));
        }
        if let Some(dec) = &self.lr_decay {
            if dec.every == 0 || !(dec.factor.is_finite() && dec.factor > 0.0) {
                return Err(ModelsError::config(
                    "lr_decay",
                    format!("every {} factor {}", dec.every, dec.factor),
                    "every >= 1 and factor > 0",
                ));
            }
        }
        if let Some(e) = self.ema_decay {
            if !(0.0..1.0).contains(&e) {
                return Err(ModelsError::config("ema_decay", e, "0 <= decay < 1"));
            }
        }
        if self.log_every == 0 {
            return Err(ModelsError::config("log_every", 0, ">= 1"));
        }
        if self.threads == Some(0) {
            return Err(ModelsError::config("threads", 0, ">= 1"));
        }
        if self.perceptual() && self.vgg.weights.is_none() {
            return Err(ModelsError::VggWeightsRequired {
                weight: self.loss.vgg_weight,
            });
        }
        Ok(())
    }

    /// The learning rate at (0-based) iteration `it` given the base rate.
    pub fn lr_at(&self, base: f64, it: u64) -> f64 {
        match &self.lr_decay {
            Some(d) => base * d.factor.powi((it / d.every) as i32),
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srgan_export::RrdbConfig;

    /// Every config in configs/ parses and validates; `generator:` without `arch` is SRResNet,
    /// with it any main module; the YAML written into a run folder reads back the same.
    #[test]
    fn shipped_configs_and_tagged_generators_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let cfg = TrainConfig::from_yaml_file(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let back = TrainConfig::from_yaml_str(&cfg.to_yaml(), &path).unwrap();
                assert_eq!(back, cfg, "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 7, "{seen} configs");
        let p = Path::new("x.yaml");
        let parse = |t: &str| TrainConfig::parse_unvalidated(t, p);
        let legacy = parse("generator: { blocks: 2, channels: 8, scale: 4 }").unwrap();
        assert_eq!(legacy.generator, GeneratorConfig::new(2, 8, 4).into());
        let rrdb =
            parse("generator: { arch: rrdbnet, blocks: 2, features: 8, growth: 4, scale: 2 }")
                .unwrap();
        assert_eq!(rrdb.generator, RrdbConfig::new(2, 8, 4, 2).into());
        let e = parse("generator: { arch: unet, blocks: 2 }").unwrap_err();
        assert!(srgan_contract::report::one_line(&e).contains("unet"), "{e}");
        let mut bad =
            parse("generator: { arch: srvgg_compact, convs: 2, features: 8, scale: 5 }").unwrap();
        bad.loss.vgg_weight = 0.0;
        let e = bad.validate().unwrap_err();
        assert!(e.to_string().contains("scale"), "{e}");
    }
}
