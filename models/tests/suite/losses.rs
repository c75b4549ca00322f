//! Each loss against a value computed by hand.

use srgan_models::losses::{self, LossConfig};
use tch::Tensor;

fn close(t: &Tensor, want: f64) {
    let v = t.double_value(&[]);
    assert!((v - want).abs() < 1e-6, "{v} vs {want}");
}

#[test]
fn mse_bce_tv_by_hand() {
    close(
        &losses::mse(
            &Tensor::from_slice(&[1.0f32, 2.0]),
            &Tensor::from_slice(&[0.0f32, 4.0]),
        ),
        2.5,
    );
    // x=0,t=0.5: ln 2; x=2,t=1: ln(1+e^-2).
    let want = (2f64.ln() + (1.0 + (-2f64).exp()).ln()) / 2.0;
    close(
        &losses::bce_with_logits(
            &Tensor::from_slice(&[0.0f32, 2.0]),
            &Tensor::from_slice(&[0.5f32, 1.0]),
        ),
        want,
    );
    // [[1,2],[3,5]]: vertical diffs 2,3 -> 6.5; horizontal 1,2 -> 2.5.
    let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 5.0]).view([1, 1, 2, 2]);
    close(&losses::total_variation(&x), 9.0);
}

#[test]
fn discriminator_and_adversarial_by_hand() {
    let real = Tensor::from_slice(&[0.0f32, 1.0]).view([2, 1]);
    let fake = Tensor::from_slice(&[0.0f32, -1.0]).view([2, 1]);
    let t_real = Tensor::from_slice(&[1.0f32, 0.8]).view([2, 1]);
    let t_fake = Tensor::from_slice(&[0.0f32, 0.2]).view([2, 1]);
    let bce = |x: f64, t: f64| x.max(0.0) - x * t + (1.0 + (-x.abs()).exp()).ln();
    let want = (bce(0.0, 1.0) + bce(1.0, 0.8)) / 2.0 + (bce(0.0, 0.0) + bce(-1.0, 0.2)) / 2.0;
    close(
        &losses::discriminator_loss(&real, &fake, &t_real, &t_fake),
        want,
    );
    close(
        &losses::adversarial_loss(&fake),
        (bce(0.0, 1.0) + bce(-1.0, 1.0)) / 2.0,
    );
}

#[test]
fn generator_total_by_hand() {
    let cfg = LossConfig {
        tv_weight: 0.5,
        ..LossConfig::default()
    };
    let sr = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 5.0]).view([1, 1, 2, 2]);
    let hr = Tensor::zeros([1, 1, 2, 2], (tch::Kind::Float, tch::Device::Cpu));
    let logits = Tensor::from_slice(&[1.0f32]).view([1, 1]);
    let perceptual = Tensor::from(10.0f32);
    let l = losses::generator_loss(&cfg, &sr, &hr, Some(perceptual), Some(&logits));
    let pixel = (1.0 + 4.0 + 9.0 + 25.0) / 4.0;
    let content = pixel + 0.006 * 10.0;
    let adv = (1.0 + (-1f64).exp()).ln();
    close(&l.pixel, pixel);
    close(&l.content, content);
    close(&l.adversarial, adv);
    close(&l.tv, 9.0);
    close(&l.total, content + 1e-3 * adv + 0.5 * 9.0);
    // Modules off: zero terms, total = content.
    let l = losses::generator_loss(&LossConfig::default(), &sr, &hr, None, None);
    close(&l.adversarial, 0.0);
    close(&l.total, pixel);
}
