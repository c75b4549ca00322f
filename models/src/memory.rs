//! The memory a training run needs at least, estimated from the architecture, batch and crop
//! before anything is allocated, so that a run that cannot fit the machine is refused with the
//! figure instead of growing until the kernel's OOM killer ends it.
//!
//! The estimate is a lower bound, so that a run that fits is never refused: the generator's
//! weights with their gradients and Adam's two moments (and the EMA copy), the discriminator's
//! the same in phase `gan`, and the generator's activations that backpropagation keeps, per
//! sample. The discriminator's and VGG's activations and libtorch's workspace come on top.

use crate::config::{Phase, TrainConfig};
use srgan_export::Architecture;

/// Bytes of one f32.
const F32: u128 = 4;

/// Elements of the generator's activations kept for the backward pass, per sample.
///
/// SRResNet: head (conv, PReLU), six per residual block (conv, BN, PReLU, conv, BN, sum),
/// three for the trunk, three per upsampling stage at its resolution (conv, shuffle, PReLU)
/// and the 3-channel tail. RRDBNet and SRVGGNetCompact: each convolution's output at its
/// resolution and no more (activations, concatenations and sums come on top).
fn generator_activations(cfg: &TrainConfig) -> u128 {
    let scale = cfg.generator.scale() as u128;
    let lr_side = (cfg.data.crop as u128 / scale.max(1)).max(1);
    let lr = lr_side * lr_side;
    match &cfg.generator {
        Architecture::SrResNet(g) => {
            let c = g.channels as u128;
            let mut n = lr * c * (2 + 6 * g.blocks as u128 + 3);
            let mut res = lr;
            for _ in 0..g.upsample_stages() {
                res = res.saturating_mul(4);
                n = n.saturating_add(res.saturating_mul(3 * c));
            }
            n.saturating_add(res.saturating_mul(3))
        }
        Architecture::RrdbNet(g) => {
            let (f, gr) = (g.features as u128, g.growth as u128);
            let u2 = (g.unshuffle() * g.unshuffle()) as u128;
            let grid = (lr / u2).max(1);
            let per_rrdb = 3 * (4 * gr + f);
            let feature_grid = grid.saturating_mul(f * 2 + per_rrdb * g.blocks as u128);
            let up = grid.saturating_mul(4 * f + 16 * (2 * f + 3));
            feature_grid.saturating_add(up)
        }
        Architecture::SrVggCompact(g) => {
            let f = g.features as u128;
            let s2 = scale * scale;
            lr.saturating_mul(f * (g.convs as u128 + 1) + 3 * s2 + 3 * s2)
        }
    }
}

/// Parameters of the discriminator: four pairs of 3x3 convolutions of 1, 2, 4, 8 x the base
/// width, then the dense layers.
fn discriminator_params(cfg: &TrainConfig) -> u128 {
    let d = &cfg.discriminator;
    let b = d.base_channels as u128;
    let mut cin = 3u128;
    let mut n = 0u128;
    for w in [b, b, 2 * b, 2 * b, 4 * b, 4 * b, 8 * b, 8 * b] {
        n = n.saturating_add(cin.saturating_mul(w).saturating_mul(9));
        cin = w;
    }
    let flat = (8 * b).saturating_mul((d.pool * d.pool) as u128);
    n.saturating_add(flat.saturating_mul(d.dense as u128))
        .saturating_add(d.dense as u128)
}

/// The least memory the run needs, in bytes (saturating).
pub fn training_bytes(cfg: &TrainConfig) -> u128 {
    let g_params: u128 = cfg
        .generator
        .param_specs()
        .iter()
        .map(|s| s.shape.iter().map(|&d| d as u128).product::<u128>())
        .sum();
    // Weights, gradients, Adam's first and second moments; the EMA keeps one more copy.
    let copies = 4 + u128::from(cfg.ema_decay.is_some());
    let mut bytes = g_params.saturating_mul(copies * F32);
    if cfg.phase == Phase::Gan {
        bytes = bytes.saturating_add(discriminator_params(cfg).saturating_mul(4 * F32));
    }
    let act = generator_activations(cfg).saturating_mul(cfg.data.batch as u128);
    bytes.saturating_add(act.saturating_mul(F32))
}

/// The memory the system can give now (`MemAvailable` of `/proc/meminfo`), in bytes; `None`
/// where it cannot be read.
pub fn available_bytes() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use srgan_contract::GeneratorConfig;

    #[test]
    fn the_paper_run_is_about_a_gigabyte_and_a_huge_one_terabytes() {
        let cfg = TrainConfig::default();
        let gib = training_bytes(&cfg) as f64 / (1u64 << 30) as f64;
        // 1.5 M parameters (24 MiB with Adam) and 16 x 24^2-pixel crops through 16 blocks.
        assert!((0.2..4.0).contains(&gib), "{gib} GiB");
        let huge = TrainConfig {
            generator: GeneratorConfig::new(1024, 4096, 4).into(),
            ..TrainConfig::default()
        };
        assert!(
            training_bytes(&huge) > 1u128 << 40,
            "{}",
            training_bytes(&huge)
        );
        // More batch, more memory; a bigger crop too.
        let mut b = TrainConfig::default();
        b.data.batch *= 2;
        assert!(training_bytes(&b) > training_bytes(&cfg));
    }

    #[test]
    fn srvgg_compact_x1_costs_its_whole_crop_per_sample() {
        use srgan_contract::SrVggConfig;
        let at = |scale| {
            let mut cfg = TrainConfig {
                generator: SrVggConfig::new(16, 64, scale).into(),
                ..TrainConfig::default()
            };
            cfg.data.crop = 96;
            (generator_activations(&cfg), training_bytes(&cfg))
        };
        // x1: the LR crop is the whole 96x96 crop, 17 feature maps of 64 and 6 of 3 channels
        // per pixel; x2: a quarter of the pixels, 12 channels for the tail and the skip.
        let (x1, bytes1) = at(1);
        assert_eq!(x1, 96 * 96 * (64 * 17 + 6));
        let (x2, bytes2) = at(2);
        assert_eq!(x2, 48 * 48 * (64 * 17 + 24));
        assert!(bytes1 > bytes2, "{bytes1} vs {bytes2}");
    }
}
