//! A D step changes only D; a G step changes only G; VGG never changes.

use srgan_models::{Phase, Trainer, TrainerOptions, VggLayer};

use crate::common::{changed, photo_folders, snapshot, tiny_config, tmp_dir, write_tiny_vgg};

#[test]
fn d_step_changes_only_d_and_g_step_only_g() {
    let (train, _) = photo_folders("steps");
    let out = tmp_dir("steps-out");
    let mut cfg = tiny_config(&train, Phase::Gan);
    cfg.loss.vgg_weight = 0.006;
    cfg.vgg.weights = Some(write_tiny_vgg(&out, false));
    cfg.vgg.layer = VggLayer::Vgg22;
    cfg.vgg.width_divisor = Some(16);
    let mut t: Trainer =
        Trainer::new(cfg, &out, tch::Device::Cpu, TrainerOptions::default()).unwrap();
    let batch = t.batch(0);
    let (lr, hr) = t.batch_tensors(&batch);
    let sr = t.generate(&lr);

    let g0 = snapshot(t.generator_vars());
    let d0 = snapshot(t.discriminator_vars().unwrap());
    let v0 = snapshot(t.vgg().unwrap().var_store());
    t.d_step(&hr, &sr, 0).unwrap();
    let g1 = snapshot(t.generator_vars());
    let d1 = snapshot(t.discriminator_vars().unwrap());
    assert!(
        changed(&g0, &g1).is_empty(),
        "D step changed G: {:?}",
        changed(&g0, &g1)
    );
    let dc = changed(&d0, &d1);
    assert!(dc.iter().any(|n| n == "dense2.weight"), "{dc:?}");
    assert!(dc.iter().any(|n| n == "features.0.conv.weight"), "{dc:?}");

    let losses = t.g_step(&sr, &hr, 0).unwrap();
    assert!(losses.generator_adversarial_loss > 0.0);
    assert!(losses.generator_content_loss > losses.generator_pixel_loss);
    let g2 = snapshot(t.generator_vars());
    let d2 = snapshot(t.discriminator_vars().unwrap());
    let v2 = snapshot(t.vgg().unwrap().var_store());
    assert!(
        changed(&d1, &d2).is_empty(),
        "G step changed D: {:?}",
        changed(&d1, &d2)
    );
    let gc = changed(&g1, &g2);
    assert!(gc.iter().any(|n| n == "head.conv.weight"), "{gc:?}");
    assert!(gc.iter().any(|n| n == "tail.conv.bias"), "{gc:?}");
    assert!(changed(&v0, &v2).is_empty(), "VGG changed");
    // The VGG variables take no gradient at all.
    assert!(t
        .vgg()
        .unwrap()
        .var_store()
        .variables()
        .values()
        .all(|v| !v.requires_grad()));
}
