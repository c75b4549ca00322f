//! One training step of the tch trainer (feature `tch`): `tch_cpu_train/b16/crop96`, the
//! paper's batch (16 HR crops of 96x96, LR 24x24), SRResNet-MSE as `srgan-train`'s pretrain
//! phase runs it: G forward in training mode, MSE, backward, Adam step. The batch is made
//! before the timing (data loading runs on background threads in training).
//!
//! Guards against a slower training step: lost thread settings, gradients kept across steps,
//! an optimiser step that copies every variable. PyTorch eager's time for the same step is in
//! `benches/peers/peers.py model` (`train_step`), printed by `srgan-bench --peers`.

use criterion::{Criterion, Throughput};
use srgan_models::{Generator, TrainConfig, Trainer, TrainerOptions};

use crate::{slow_group, Setup};

const BATCH: usize = 16;
const CROP: usize = 96;

pub fn bench(c: &mut Criterion, setup: &Setup) {
    let Some(arch) = setup.arch.clone() else {
        eprintln!("tch_cpu_train: skipped (SRGAN_BENCH_MODEL gives no architecture)");
        return;
    };
    // The bundled CC0 photo (448x300) is enough to cut 96x96 crops from.
    let data = setup.dir.path().join("train");
    std::fs::create_dir_all(&data).expect("create the training folder");
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/chelsea.png");
    std::fs::copy(&photo, data.join("chelsea.png")).expect("copy the bundled photo");
    let mut cfg = TrainConfig {
        generator: arch.into(),
        threads: Some(setup.options.resolved_threads()),
        val_every: 0,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    cfg.data.train = Some(data);
    cfg.data.batch = BATCH;
    cfg.data.crop = CROP;
    cfg.data.workers = 1;
    // SRResNet-MSE (configs/srresnet.yaml): no perceptual term, so no VGG weights needed.
    cfg.loss.pixel_weight = 1.0;
    cfg.loss.vgg_weight = 0.0;
    let device = srgan_models::resolve_device("cpu").expect("the CPU");
    let mut trainer: Trainer<Generator> = Trainer::new(
        cfg,
        &setup.dir.path().join("train-run"),
        device,
        TrainerOptions::default(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "build the trainer: {}",
            srgan_contract::report::one_line(&e)
        )
    });
    let batch = trainer.batch(0);

    let mut g = c.benchmark_group("tch_cpu_train");
    slow_group(&mut g, setup.quick);
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut warm = false;
    g.bench_function(format!("b{BATCH}/crop{CROP}"), |b| {
        if !std::mem::replace(&mut warm, true) {
            trainer.train_iteration(&batch).expect("warm-up step");
        }
        b.iter(|| trainer.train_iteration(&batch).expect("training step"))
    });
    g.finish();
}
