//! Training data beyond the bicubic downscale: Real-ESRGAN's degradations and paired folders.

use std::sync::Arc;

use image::RgbImage;
use srgan_models::data::{make_batch, ImageFolder, Sampling, TrainSet};
use srgan_models::{ModelsError, Phase, Trainer, TrainerOptions};

use crate::common::{synthetic, tiny_config, tmp_dir};

fn sampling(scale: u32, degraded: bool) -> Sampling {
    Sampling {
        seed: 5,
        crop: 32,
        scale,
        batch: 3,
        augment: true,
        epoch_iterations: 4,
        degradation: degraded.then(|| Arc::new(Default::default())),
    }
}

fn images() -> TrainSet {
    TrainSet::unpaired((0..3).map(|i| Arc::new(synthetic(70, 60, i))).collect())
}

#[test]
fn degraded_batches_are_a_function_of_the_iteration_and_differ_from_bicubic() {
    let set = images();
    for scale in [1, 2, 4] {
        let deg = sampling(scale, true);
        let a = make_batch(&set, &deg, 6);
        let b = make_batch(&set, &deg, 6);
        assert_eq!(
            a.lr, b.lr,
            "x{scale}: the same iteration gave other LR crops"
        );
        let side = 32 / scale as usize;
        assert_eq!(a.lr.len(), 3 * 3 * side * side);
        let clean = make_batch(&set, &sampling(scale, false), 6);
        assert_eq!(
            a.hr, clean.hr,
            "x{scale}: the HR crops must not depend on the degradation"
        );
        assert_ne!(a.lr, clean.lr, "x{scale}: the degradation changed nothing");
        assert_ne!(a.lr, make_batch(&set, &deg, 7).lr);
        assert!(a.lr.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

/// LR = the HR shrunk by 2 with a 2x2 box: each paired LR crop must be the box average of
/// its HR crop, whichever crop and symmetry the iteration drew.
#[test]
fn paired_crops_line_up() {
    let dir = tmp_dir("paired");
    let (hr_dir, lr_dir) = (dir.join("hr"), dir.join("lr"));
    std::fs::create_dir_all(&hr_dir).unwrap();
    std::fs::create_dir_all(&lr_dir).unwrap();
    for i in 0..2 {
        // Blocks of 2x2 equal pixels, so the box average is exact.
        let small = synthetic(40, 35, i);
        let hr = RgbImage::from_fn(81, 71, |x, y| {
            *small.get_pixel((x / 2).min(39), (y / 2).min(34))
        });
        hr.save(hr_dir.join(format!("p{i}.png"))).unwrap();
        small.save(lr_dir.join(format!("p{i}.png"))).unwrap();
    }
    let set = TrainSet::paired(
        ImageFolder::open(&hr_dir, 32, 1).unwrap(),
        ImageFolder::open(&lr_dir, 16, 1).unwrap(),
        2,
        32,
    )
    .unwrap();
    let s = sampling(2, false);
    for t in 0..6 {
        let b = make_batch(&set, &s, t);
        for n in 0..3 {
            for c in 0..3 {
                for y in 0..16 {
                    for x in 0..16 {
                        let lr = b.lr[((n * 3 + c) * 16 + y) * 16 + x];
                        let hr = b.hr[((n * 3 + c) * 32 + 2 * y) * 32 + 2 * x];
                        assert_eq!(lr, hr, "iteration {t} sample {n} ({x},{y})");
                    }
                }
            }
        }
    }
}

#[test]
fn unpaired_or_mismatched_files_are_named() {
    let dir = tmp_dir("paired-bad");
    let (hr_dir, lr_dir) = (dir.join("hr"), dir.join("lr"));
    std::fs::create_dir_all(&hr_dir).unwrap();
    std::fs::create_dir_all(&lr_dir).unwrap();
    synthetic(64, 64, 0).save(hr_dir.join("a.png")).unwrap();
    synthetic(32, 32, 0).save(lr_dir.join("a.png")).unwrap();
    synthetic(64, 64, 1).save(hr_dir.join("b.png")).unwrap();
    let open = || {
        TrainSet::paired(
            ImageFolder::open(&hr_dir, 32, 1).unwrap(),
            ImageFolder::open(&lr_dir, 16, 1).unwrap(),
            2,
            32,
        )
        .map_err(|e| e.to_string())
    };
    let e = open().unwrap_err();
    assert!(e.contains("b.png") && e.contains("no LR image"), "{e}");
    synthetic(30, 32, 1).save(lr_dir.join("b.png")).unwrap();
    let e = open().unwrap_err();
    assert!(
        e.contains("lr/b.png") && e.contains("expected 32x32"),
        "{e}"
    );
    synthetic(32, 32, 1).save(lr_dir.join("b.png")).unwrap();
    synthetic(32, 32, 2).save(lr_dir.join("c.png")).unwrap();
    let e = open().unwrap_err();
    assert!(e.contains("c.png") && e.contains("no HR image"), "{e}");
    std::fs::remove_file(lr_dir.join("c.png")).unwrap();
    assert_eq!(open().unwrap().len(), 2);
}

#[test]
fn a_paired_run_trains_and_degradation_with_pairs_is_refused() {
    let dir = tmp_dir("paired-run");
    let (hr_dir, lr_dir) = (dir.join("hr"), dir.join("lr"));
    std::fs::create_dir_all(&hr_dir).unwrap();
    std::fs::create_dir_all(&lr_dir).unwrap();
    for i in 0..2 {
        synthetic(64, 64, i)
            .save(hr_dir.join(format!("{i}.png")))
            .unwrap();
        synthetic(32, 32, i + 7)
            .save(lr_dir.join(format!("{i}.png")))
            .unwrap();
    }
    let mut cfg = tiny_config(&hr_dir, Phase::Pretrain);
    cfg.iterations = 3;
    cfg.data.train_lr = Some(lr_dir.clone());
    let out = tmp_dir("paired-run-out");
    let mut t: Trainer = Trainer::new(
        cfg.clone(),
        &out,
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap();
    assert_eq!(t.run().unwrap().iterations, 3);
    cfg.data.degradation = Some(Default::default());
    let e = cfg.validate().unwrap_err();
    assert!(matches!(e, ModelsError::Config { .. }), "{e}");
    assert!(e.to_string().contains("data.degradation"), "{e}");
}
