//! Short runs: the pixel loss goes down, resuming gives the same losses, NaN stops training.

use srgan_export::Checkpoint;
use srgan_models::trainer::files;
use srgan_models::{ModelsError, Phase, Trainer, TrainerOptions};

use crate::common::{photo_folders, tiny_config, tmp_dir};

#[test]
fn a_short_run_lowers_the_pixel_loss_and_writes_its_files() {
    let (train, val) = photo_folders("short");
    let out = tmp_dir("short-out");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.iterations = 40;
    cfg.data.val = Some(val.to_path_buf());
    cfg.val_every = 20;
    cfg.checkpoint_every = 20;
    cfg.generator = srgan_export::GeneratorConfig::new(1, 16, 2).into();
    let mut t: Trainer =
        Trainer::new(cfg, &out, tch::Device::Cpu, TrainerOptions::default()).unwrap();
    let outcome = t.run().unwrap();
    assert_eq!(outcome.iterations, 40);
    let h = t.history();
    let first: f64 = h[..5].iter().map(|l| l.generator_pixel_loss).sum::<f64>() / 5.0;
    let last: f64 = h[35..].iter().map(|l| l.generator_pixel_loss).sum::<f64>() / 5.0;
    assert!(last < 0.7 * first, "pixel loss {first} -> {last}");
    let v = outcome.last_validation.unwrap();
    assert!(v.psnr.is_finite() && v.bicubic_psnr.is_finite(), "{v:?}");
    for f in [
        files::GENERATOR,
        files::BEST,
        files::STATE,
        files::METRICS,
        files::PLOT,
        files::CONFIG,
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let ck = Checkpoint::load(out.join(files::GENERATOR)).unwrap();
    assert_eq!(ck.extra_metadata["srgan.train.iteration"], "40");
    let metrics = std::fs::read_to_string(out.join(files::METRICS)).unwrap();
    assert!(metrics.contains("\"kind\":\"val\""));
    assert!(metrics.contains("generator_content_loss"));
    assert!(metrics.contains("\"kind\":\"epoch\""));
}

#[test]
fn an_interrupted_and_resumed_run_logs_the_same_losses() {
    let (train, _) = photo_folders("resume");
    resumed_run_matches_the_full_run(tiny_config(&train, Phase::Gan), "resume");
}

/// The same on Real-ESRGAN's degradations: every random choice of the degradation pipeline
/// comes from the per-iteration RNG, so a resumed run sees the same LR crops.
#[test]
fn a_degraded_run_resumes_exactly() {
    let (train, _) = photo_folders("resume-deg");
    let mut cfg = tiny_config(&train, Phase::Gan);
    cfg.data.degradation = Some(Default::default());
    resumed_run_matches_the_full_run(cfg, "resume-deg");
}

fn resumed_run_matches_the_full_run(mut cfg: srgan_models::TrainConfig, tag: &str) {
    cfg.iterations = 8;
    cfg.ema_decay = Some(0.9);
    cfg.lr_decay = Some(srgan_models::LrDecay {
        every: 4,
        factor: 0.5,
    });
    cfg.epoch_iterations = Some(3);

    let full_dir = tmp_dir(&format!("{tag}-full"));
    let mut full: Trainer = Trainer::new(
        cfg.clone(),
        &full_dir,
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap();
    full.run().unwrap();

    let part_dir = tmp_dir(&format!("{tag}-part"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opts = TrainerOptions {
        progress: false,
        bar: false,
        stop: Some(stop.clone()),
    };
    let mut first: Trainer = Trainer::new(cfg.clone(), &part_dir, tch::Device::Cpu, opts).unwrap();
    // Interrupted through the flag, as Ctrl-C does. The flag is read at the end of each
    // iteration: set after iteration 2, it stops the run after iteration 3, with a checkpoint.
    first.run_until(2).unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let o = first.run().unwrap();
    assert!(o.interrupted, "the stop flag was not honoured");
    assert_eq!(o.iterations, 3);
    let before = first.history().to_vec();
    drop(first);
    let mut second: Trainer = Trainer::resume(
        cfg.clone(),
        &part_dir,
        &part_dir.join(files::STATE),
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap();
    assert_eq!(second.step(), 3);
    second.run().unwrap();
    let resumed: Vec<_> = before.iter().chain(second.history()).copied().collect();
    assert_eq!(resumed.len(), full.history().len());
    for (i, (a, b)) in full.history().iter().zip(&resumed).enumerate() {
        for ((name, x), (_, y)) in a.named().iter().zip(b.named()) {
            assert!(
                (x - y).abs() <= 1e-5,
                "iteration {}: {name} {x} vs {y}",
                i + 1
            );
        }
    }
    // The metrics files agree too (epoch means straddle the interruption).
    let read = |d: &std::path::Path| {
        srgan_models::logging::read_all(&d.join(files::METRICS))
            .into_iter()
            .filter(|r| r["kind"] == "epoch")
            .map(|r| r["generator_total_loss"].as_f64().unwrap())
            .collect::<Vec<_>>()
    };
    let (a, b) = (read(&full_dir), read(&part_dir));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
    }
}

#[test]
fn the_stop_flag_checkpoints_and_returns() {
    let (train, _) = photo_folders("stop");
    let out = tmp_dir("stop-out");
    let cfg = tiny_config(&train, Phase::Pretrain);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let opts = TrainerOptions {
        progress: false,
        bar: false,
        stop: Some(stop),
    };
    let mut t: Trainer = Trainer::new(cfg, &out, tch::Device::Cpu, opts).unwrap();
    let o = t.run().unwrap();
    assert!(o.interrupted);
    assert_eq!(o.iterations, 1);
    let ck = Checkpoint::load(out.join(files::GENERATOR)).unwrap();
    assert_eq!(ck.extra_metadata["srgan.train.iteration"], "1");
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let (train, _) = photo_folders("nan");
    let out = tmp_dir("nan-out");
    let mut cfg = tiny_config(&train, Phase::Gan);
    cfg.checkpoint_every = 3;
    let mut t: Trainer =
        Trainer::new(cfg, &out, tch::Device::Cpu, TrainerOptions::default()).unwrap();
    t.inject_nan_at(5);
    let err = t.run().unwrap_err();
    match &err {
        ModelsError::NonFiniteLoss {
            iteration,
            last_checkpoint,
            ..
        } => {
            assert_eq!(*iteration, 5);
            assert_eq!(*last_checkpoint, 3);
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("last good checkpoint"), "{err}");
    let ck = Checkpoint::load(out.join(files::GENERATOR)).unwrap();
    assert_eq!(ck.extra_metadata["srgan.train.iteration"], "3");
    let state = srgan_models::state::read_tensors(&out.join(files::STATE)).unwrap();
    assert_eq!(state.1["step"], "3");
}
