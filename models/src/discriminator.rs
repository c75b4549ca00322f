//! The SRGAN discriminator (Ledig et al., arXiv 1609.04802, Fig. 4): conv 3x3 64 s1 +
//! LeakyReLU (no BN), seven conv 3x3 + BN + LeakyReLU with (channels, stride) = (64,2) (128,1)
//! (128,2) (256,1) (256,2) (512,1) (512,2), dense 1024 + LeakyReLU, dense 1. It returns logits
//! (the trainer uses BCE-with-logits, not a sigmoid). An adaptive average pooling to
//! `pool`x`pool` before the dense layer makes the crop size free; with 96x96 crops and
//! `pool: 6` it is the identity and the network is the paper's.

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::error::{ModelsError, Result};
use crate::layers::{batch_norm, leaky_relu, Conv2d};

/// Architecture of the discriminator. Defaults are the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscriminatorConfig {
    /// Channels of the first convolution; the later ones are 1x, 2x, 4x, 8x this. Default 64.
    pub base_channels: usize,
    /// Width of the hidden dense layer. Default 1024.
    pub dense: usize,
    /// Side of the adaptive average pooling before the dense layer. Default 6.
    pub pool: usize,
    /// Negative slope of the LeakyReLUs. Default 0.2.
    pub leaky_slope: f64,
    /// BatchNorm epsilon. Default 1e-5.
    pub bn_eps: f64,
}

impl Default for DiscriminatorConfig {
    fn default() -> Self {
        Self {
            base_channels: 64,
            dense: 1024,
            pool: 6,
            leaky_slope: 0.2,
            bn_eps: 1e-5,
        }
    }
}

impl DiscriminatorConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, v: String, e: &str| Err(ModelsError::config(f, v, e));
        if !(1..=1024).contains(&self.base_channels) {
            return bad(
                "discriminator.base_channels",
                self.base_channels.to_string(),
                "1..=1024",
            );
        }
        if !(1..=65536).contains(&self.dense) {
            return bad("discriminator.dense", self.dense.to_string(), "1..=65536");
        }
        if !(1..=64).contains(&self.pool) {
            return bad("discriminator.pool", self.pool.to_string(), "1..=64");
        }
        if !(self.leaky_slope >= 0.0 && self.leaky_slope < 1.0) {
            return bad(
                "discriminator.leaky_slope",
                self.leaky_slope.to_string(),
                "0 <= slope < 1",
            );
        }
        if !(self.bn_eps > 0.0 && self.bn_eps.is_finite()) {
            return bad(
                "discriminator.bn_eps",
                self.bn_eps.to_string(),
                "a positive number",
            );
        }
        Ok(())
    }

    /// (channels, stride) of the eight convolutions.
    pub fn layers(&self) -> [(usize, i64); 8] {
        let b = self.base_channels;
        [
            (b, 1),
            (b, 2),
            (2 * b, 1),
            (2 * b, 2),
            (4 * b, 1),
            (4 * b, 2),
            (8 * b, 1),
            (8 * b, 2),
        ]
    }
}

/// The discriminator. Variables: `features.{k}.conv.{weight,bias}`, `features.{k}.bn.*` for
/// k >= 1, `dense1.{weight,bias}`, `dense2.{weight,bias}`.
#[derive(Debug)]
pub struct Discriminator {
    config: DiscriminatorConfig,
    convs: Vec<(Conv2d, Option<nn::BatchNorm>)>,
    dense1: nn::Linear,
    dense2: nn::Linear,
}

impl Discriminator {
    /// Builds the network under `p`.
    pub fn new(p: &nn::Path, config: &DiscriminatorConfig) -> Result<Self> {
        config.validate()?;
        let f = p / "features";
        let mut cin = 3i64;
        let mut convs = Vec::new();
        for (k, (c, stride)) in config.layers().into_iter().enumerate() {
            let c = c as i64;
            // The first conv has no BN and keeps its bias; the BN'd ones need none.
            let conv = Conv2d::new(&f / k / "conv", cin, c, 3, stride, k == 0);
            let bn = (k > 0).then(|| batch_norm(&f / k / "bn", c, config.bn_eps));
            convs.push((conv, bn));
            cin = c;
        }
        let flat = cin * (config.pool * config.pool) as i64;
        let dense1 = nn::linear(p / "dense1", flat, config.dense as i64, Default::default());
        let dense2 = nn::linear(p / "dense2", config.dense as i64, 1, Default::default());
        Ok(Self {
            config: config.clone(),
            convs,
            dense1,
            dense2,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &DiscriminatorConfig {
        &self.config
    }
}

/// How the discriminator's BatchNorms behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BnMode {
    /// Batch statistics, running statistics updated (the D step).
    Train,
    /// Batch statistics, running statistics left alone (the G step: it must change only G).
    TrainFrozenStats,
    /// Running statistics.
    Eval,
}

impl Discriminator {
    /// `[N, 3, H, W]` in the generator's `hr_range` -> `[N, 1]` logits.
    pub fn forward_mode(&self, xs: &Tensor, mode: BnMode) -> Tensor {
        let s = self.config.leaky_slope;
        let mut h = xs.shallow_clone();
        for (conv, bn) in &self.convs {
            h = conv.forward(&h);
            if let Some(bn) = bn {
                h = match mode {
                    BnMode::Train => bn.forward_t(&h, true),
                    BnMode::Eval => bn.forward_t(&h, false),
                    BnMode::TrainFrozenStats => Tensor::batch_norm(
                        &h,
                        bn.ws.as_ref(),
                        bn.bs.as_ref(),
                        None::<&Tensor>,
                        None::<&Tensor>,
                        true,
                        0.1,
                        self.config.bn_eps,
                        false,
                    ),
                };
            }
            h = leaky_relu(&h, s);
        }
        let p = self.config.pool as i64;
        let h = h.adaptive_avg_pool2d([p, p]).flatten(1, -1);
        let h = leaky_relu(&h.apply(&self.dense1), s);
        h.apply(&self.dense2)
    }
}

impl ModuleT for Discriminator {
    /// [`Discriminator::forward_mode`] with [`BnMode::Train`] or [`BnMode::Eval`].
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.forward_mode(xs, if train { BnMode::Train } else { BnMode::Eval })
    }
}
