//! A checkpoint trained a few steps (BN statistics non-trivial), exported to ONNX and run through
//! tch, ort and tract: max abs difference <= 1e-4 against tch in eval mode.

use srgan_export::{Checkpoint, ExportOptions};
use srgan_models::trainer::files;
use srgan_models::{Phase, TchUpscaler, Trainer, TrainerOptions};
use srgan_runtimes::ndarray::Array4;
use srgan_runtimes::{RuntimeOptions, Upscaler};

use crate::common::{photo_folders, tiny_config, tmp_dir};

#[test]
fn exported_checkpoint_matches_tch_on_ort_and_tract() {
    let (train, _) = photo_folders("parity");
    let out = tmp_dir("parity-out");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.iterations = 4;
    cfg.generator = srgan_export::GeneratorConfig::new(2, 8, 4).into();
    let mut t: Trainer =
        Trainer::new(cfg, &out, tch::Device::Cpu, TrainerOptions::default()).unwrap();
    t.run().unwrap();
    let ck_path = out.join(files::GENERATOR);
    let ck = Checkpoint::load(&ck_path).unwrap();
    let rv = &ck.tensors["blocks.0.bn1.running_var"].data;
    assert!(
        rv.iter().any(|v| (v - 1.0).abs() > 1e-3),
        "BN stats trivial"
    );

    let opts = RuntimeOptions {
        threads: Some(1),
        ..Default::default()
    };
    let mut tch_up = TchUpscaler::open(&ck_path, &opts).unwrap();
    assert_eq!(tch_up.scale(), 4);
    let x = Array4::from_shape_fn((2, 3, 9, 11), |(n, c, y, x)| {
        (((n * 7 + c * 5 + y * 3 + x) % 17) as f32) / 16.0
    });
    let want = tch_up.upscale(x.view()).unwrap();
    assert_eq!(want.shape(), &[2, 3, 36, 44]);
    assert!(want.iter().all(|v| (0.0..=1.0).contains(v)));

    // The plain-Rust reference of the contract agrees with tch (so tch follows the contract).
    let reference = srgan_export::reference::forward(&ck, x.as_slice().unwrap(), [2, 3, 9, 11]);
    let max = reference
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max <= 1e-4, "reference: max abs diff {max}");

    let onnx = out.join("generator.onnx");
    srgan_export::write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
    for rt in ["ort", "tract"] {
        let mut up = match srgan_runtimes::open(rt, &onnx, &opts) {
            Ok(u) => u,
            Err(e) => panic!("{rt}: cannot open the exported model: {e}"),
        };
        let got = up.upscale(x.view()).unwrap();
        assert_eq!(got.shape(), want.shape(), "{rt}");
        let max = got
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max <= 1e-4, "{rt}: max abs diff {max}");
    }
}
