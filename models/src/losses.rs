//! The loss recipe of SRGAN (Ledig et al., arXiv 1609.04802, section 2.2) as plain functions
//! over tch tensors, so that each can be checked against a hand-computed value.
//!
//! * D step: `BCE(D(hr), t_real) + BCE(D(G(lr).detach()), t_fake)` with noisy labels
//!   `t_real ~ U(real_label_range)`, `t_fake ~ U(fake_label_range)`.
//! * G step: `content = pixel_weight * MSE(sr, hr) + vgg_weight * MSE(vgg(sr), vgg(hr))`,
//!   `adversarial = BCE(D(sr), 1)`,
//!   `total = content + adversarial_weight * adversarial + tv_weight * TV(sr)`.
//!
//! BCE is always taken on logits (`binary_cross_entropy_with_logits`, mean over the batch).

use serde::{Deserialize, Serialize};
use tch::{Reduction, Tensor};

use crate::error::{ModelsError, Result};

/// Weights and label ranges of the losses. Defaults are the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// Weight of MSE(sr, hr) in the content loss. Default 1.
    pub pixel_weight: f64,
    /// Weight of MSE(vgg(sr), vgg(hr)) in the content loss; 0 turns the perceptual module off.
    /// Default 0.006 (the paper's 1/12.75 rescaling of the VGG features).
    pub vgg_weight: f64,
    /// Weight of the adversarial loss in the total (phase `gan` only). Default 1e-3.
    pub adversarial_weight: f64,
    /// Weight of the total-variation term; 0 (the default) turns it off.
    pub tv_weight: f64,
    /// Range of the noisy "real" labels of the D step. Default [0.7, 1.2].
    pub real_label_range: [f64; 2],
    /// Range of the noisy "fake" labels of the D step. Default [0.0, 0.3].
    pub fake_label_range: [f64; 2],
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            pixel_weight: 1.0,
            vgg_weight: 0.006,
            adversarial_weight: 1e-3,
            tv_weight: 0.0,
            real_label_range: [0.7, 1.2],
            fake_label_range: [0.0, 0.3],
        }
    }
}

impl LossConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        for (f, v) in [
            ("loss.pixel_weight", self.pixel_weight),
            ("loss.vgg_weight", self.vgg_weight),
            ("loss.adversarial_weight", self.adversarial_weight),
            ("loss.tv_weight", self.tv_weight),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ModelsError::config(f, v, "a finite number >= 0"));
            }
        }
        if self.pixel_weight + self.vgg_weight == 0.0 {
            return Err(ModelsError::config(
                "loss.pixel_weight + loss.vgg_weight",
                0,
                "> 0 (the content loss needs a term)",
            ));
        }
        for (f, r) in [
            ("loss.real_label_range", self.real_label_range),
            ("loss.fake_label_range", self.fake_label_range),
        ] {
            if !(r[0].is_finite() && r[1].is_finite() && r[0] <= r[1]) {
                return Err(ModelsError::config(
                    f,
                    format!("{r:?}"),
                    "[lo, hi] with lo <= hi",
                ));
            }
        }
        Ok(())
    }
}

/// Mean squared error over every element.
pub fn mse(a: &Tensor, b: &Tensor) -> Tensor {
    a.mse_loss(b, Reduction::Mean)
}

/// Binary cross-entropy on logits against `target` (same shape), mean over elements:
/// `mean(max(x, 0) - x * t + log(1 + exp(-|x|)))`.
pub fn bce_with_logits(logits: &Tensor, target: &Tensor) -> Tensor {
    logits.binary_cross_entropy_with_logits::<Tensor>(target, None, None, Reduction::Mean)
}

/// Total variation: mean squared difference of vertical neighbours plus that of horizontal
/// neighbours, over `[N, C, H, W]`.
pub fn total_variation(x: &Tensor) -> Tensor {
    let h = x.size()[2];
    let w = x.size()[3];
    let dy = x.narrow(2, 1, h - 1) - x.narrow(2, 0, h - 1);
    let dx = x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1);
    dy.square().mean(None) + dx.square().mean(None)
}

/// The discriminator loss: `BCE(real_logits, t_real) + BCE(fake_logits, t_fake)`.
pub fn discriminator_loss(
    real_logits: &Tensor,
    fake_logits: &Tensor,
    t_real: &Tensor,
    t_fake: &Tensor,
) -> Tensor {
    bce_with_logits(real_logits, t_real) + bce_with_logits(fake_logits, t_fake)
}

/// The adversarial loss of G: `BCE(fake_logits, 1)`.
pub fn adversarial_loss(fake_logits: &Tensor) -> Tensor {
    bce_with_logits(fake_logits, &fake_logits.ones_like())
}

/// The parts of the generator's loss, each a scalar tensor.
#[derive(Debug)]
pub struct GeneratorLoss {
    /// MSE(sr, hr).
    pub pixel: Tensor,
    /// MSE(vgg(sr), vgg(hr)) (zero when the perceptual module is off).
    pub perceptual: Tensor,
    /// `pixel_weight * pixel + vgg_weight * perceptual`.
    pub content: Tensor,
    /// BCE(D(sr), 1) (zero when the adversarial module is off).
    pub adversarial: Tensor,
    /// TV(sr) (zero when its weight is 0).
    pub tv: Tensor,
    /// `content + adversarial_weight * adversarial + tv_weight * tv`.
    pub total: Tensor,
}

/// Combines the parts of the generator's loss. `perceptual` and `adversarial` are `None` when
/// their module is off.
pub fn generator_loss(
    cfg: &LossConfig,
    sr: &Tensor,
    hr: &Tensor,
    perceptual: Option<Tensor>,
    fake_logits: Option<&Tensor>,
) -> GeneratorLoss {
    let zero = || Tensor::zeros([], (tch::Kind::Float, sr.device()));
    let pixel = mse(sr, hr);
    let perceptual = perceptual.unwrap_or_else(zero);
    let content = &pixel * cfg.pixel_weight + &perceptual * cfg.vgg_weight;
    let adversarial = fake_logits.map(adversarial_loss).unwrap_or_else(zero);
    let tv = if cfg.tv_weight > 0.0 {
        total_variation(sr)
    } else {
        zero()
    };
    let total = &content + &adversarial * cfg.adversarial_weight + &tv * cfg.tv_weight;
    GeneratorLoss {
        pixel,
        perceptual,
        content,
        adversarial,
        tv,
        total,
    }
}
