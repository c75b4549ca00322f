//! Bad inputs: each a clear error, and nothing already on disk is lost.

use srgan_models::trainer::files;
use srgan_models::{ModelsError, Phase, TrainConfig, Trainer, TrainerOptions};

use srgan_contract::report::one_line;

use crate::common::{photo_folders, synthetic, tiny_config, tmp_dir, write_tiny_vgg};

#[test]
fn config_with_unknown_key_or_bad_value() {
    let p = std::path::Path::new("bad.yaml");
    let err = TrainConfig::from_yaml_str("seed: 1\nbatch_size: 4\n", p).unwrap_err();
    assert!(matches!(err, ModelsError::ConfigParse { .. }));
    assert!(one_line(&err).contains("batch_size"), "{}", one_line(&err));
    let err = TrainConfig::from_yaml_str("data: { crop: 4, cropp: 3 }\n", p).unwrap_err();
    assert!(one_line(&err).contains("cropp"), "{}", one_line(&err));
    let err = TrainConfig::from_yaml_str(
        "generator: { blocks: 1, channels: 4, scale: 4 }\nloss: { vgg_weight: 0 }\ndata: { crop: 30 }\n",
        p,
    )
    .unwrap_err();
    assert!(
        one_line(&err).contains("data.crop = 30"),
        "{}",
        one_line(&err)
    );
    let err = TrainConfig::from_yaml_str("loss: { vgg_weight: 0, adversarial_weight: -1 }\n", p)
        .unwrap_err();
    assert!(
        one_line(&err).contains("loss.adversarial_weight"),
        "{}",
        one_line(&err)
    );
    let err = TrainConfig::from_yaml_str("phase: warmup\n", p).unwrap_err();
    assert!(one_line(&err).contains("warmup"), "{}", one_line(&err));
    // The shipped configs parse (those needing VGG weights say so clearly).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    for name in ["tiny.yaml", "tiny_gan.yaml", "srresnet.yaml"] {
        TrainConfig::from_yaml_file(&root.join(name)).unwrap();
    }
    let text = std::fs::read_to_string(root.join("srgan.yaml")).unwrap();
    let cfg: TrainConfig = serde_yaml::from_str(&text).unwrap();
    assert_eq!(cfg.loss.vgg_weight, 0.006);
}

#[test]
fn perceptual_loss_without_weights() {
    let (train, _) = photo_folders("novgg");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.loss.vgg_weight = 0.006;
    let err = cfg.validate().unwrap_err();
    assert!(matches!(err, ModelsError::VggWeightsRequired { .. }));
    assert!(
        one_line(&err).contains("--vgg-weights"),
        "{}",
        one_line(&err)
    );
}

#[test]
fn missing_data_folder_and_folder_without_usable_images() {
    let out = tmp_dir("nodata-out");
    let missing = out.join("no-such-folder");
    let cfg = tiny_config(&missing, Phase::Pretrain);
    let err = Trainer::<srgan_models::Generator>::new(
        cfg,
        &out.join("run"),
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap_err();
    assert!(
        one_line(&err).contains("no-such-folder"),
        "{}",
        one_line(&err)
    );
    assert!(!out.join("run").exists(), "nothing is written");

    let bad = tmp_dir("nodata-bad");
    synthetic(10, 10, 1).save(bad.join("small.png")).unwrap();
    std::fs::write(bad.join("broken.jpg"), b"not a jpeg").unwrap();
    let folder = srgan_models::data::ImageFolder::open(&bad, 24, 1);
    let err = folder.unwrap_err();
    assert!(
        matches!(err, ModelsError::NoUsableImages { skipped: 2, .. }),
        "{err}"
    );
    synthetic(40, 40, 2).save(bad.join("ok.png")).unwrap();
    let folder = srgan_models::data::ImageFolder::open(&bad, 24, 1).unwrap();
    assert_eq!(folder.images.len(), 1);
    assert!(folder
        .warnings
        .iter()
        .any(|w| w.contains("small.png") && w.contains("smaller")));
    assert!(folder
        .warnings
        .iter()
        .any(|w| w.contains("broken.jpg") && w.contains("decode")));
}

#[test]
fn vgg_file_with_a_wrong_shape_names_the_tensor() {
    let (train, _) = photo_folders("badvgg");
    let out = tmp_dir("badvgg-out");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.loss.vgg_weight = 0.006;
    cfg.vgg.weights = Some(write_tiny_vgg(&out, true));
    cfg.vgg.layer = srgan_models::VggLayer::Vgg22;
    cfg.vgg.width_divisor = Some(16);
    let err = Trainer::<srgan_models::Generator>::new(
        cfg.clone(),
        &out.join("run"),
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ModelsError::VggTensorShape { .. }), "{err}");
    assert!(
        one_line(&err).contains("features.5.weight"),
        "{}",
        one_line(&err)
    );
    // A file lacking a layer names it too.
    cfg.vgg.layer = srgan_models::VggLayer::Vgg54;
    cfg.vgg.weights = Some(write_tiny_vgg(&out, false));
    let err = srgan_models::Vgg19Features::load(&cfg.vgg, tch::Device::Cpu).unwrap_err();
    assert!(
        one_line(&err).contains("features.10.weight"),
        "{}",
        one_line(&err)
    );
}

#[test]
fn resume_from_another_architecture_changes_nothing() {
    let (train, _) = photo_folders("arch");
    let out = tmp_dir("arch-out");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.iterations = 2;
    let mut t: Trainer = Trainer::new(
        cfg.clone(),
        &out,
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap();
    t.run().unwrap();
    drop(t);
    let before: Vec<Vec<u8>> = [
        files::GENERATOR,
        files::STATE,
        files::METRICS,
        files::CONFIG,
    ]
    .iter()
    .map(|f| std::fs::read(out.join(f)).unwrap())
    .collect();
    let mut other = cfg.clone();
    other.generator = srgan_export::GeneratorConfig::new(2, 8, 2).into();
    other.iterations = 4;
    let err = Trainer::<srgan_models::Generator>::resume(
        other,
        &out,
        &out.join(files::STATE),
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ModelsError::ResumeMismatch { .. }), "{err}");
    assert!(
        one_line(&err).contains("generator architecture"),
        "{}",
        one_line(&err)
    );
    let after: Vec<Vec<u8>> = [
        files::GENERATOR,
        files::STATE,
        files::METRICS,
        files::CONFIG,
    ]
    .iter()
    .map(|f| std::fs::read(out.join(f)).unwrap())
    .collect();
    assert!(before == after, "files changed");
    // A generator checkpoint is not a training state.
    let err = Trainer::<srgan_models::Generator>::resume(
        cfg,
        &out,
        &out.join(files::GENERATOR),
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap_err();
    assert!(one_line(&err).contains("format"), "{}", one_line(&err));
}

#[test]
fn explicit_cuda_that_cannot_be_had_is_an_error() {
    if tch::Cuda::is_available() {
        assert!(srgan_models::resolve_device("cuda:999").is_err());
    } else {
        let err = srgan_models::resolve_device("cuda").unwrap_err();
        assert!(
            one_line(&err).contains("not available"),
            "{}",
            one_line(&err)
        );
    }
    assert!(srgan_models::resolve_device("tpu").is_err());
    assert_eq!(
        srgan_models::resolve_device("cpu").unwrap(),
        tch::Device::Cpu
    );
}

/// torchvision-style `.pth` (a `torch.save`d state dict) loads. Written by the project's
/// Python with torch (`SRGAN_PYTHON`); without them the test fails.
#[test]
fn vgg_weights_from_a_pth_state_dict() {
    let dir = tmp_dir("pth");
    let pth = dir.join("vgg.pth");
    let layers = srgan_models::vgg::vgg_layers(srgan_models::VggLayer::Vgg22, 16);
    let specs: Vec<String> = layers
        .iter()
        .map(|(s, _)| format!("({}, {}, {})", s.index, s.cout, s.cin))
        .collect();
    let script = format!(
        "import sys, torch\nsd = {{}}\nfor i, o, c in [{}]:\n    sd[f'features.{{i}}.weight'] = torch.full((o, c, 3, 3), 0.01 * i)\n    sd[f'features.{{i}}.bias'] = torch.zeros(o)\nsd['classifier.6.bias'] = torch.zeros(3)\ntorch.save(sd, sys.argv[1])\n",
        specs.join(", "),
    );
    srgan_testkit::python::run_code(&script, &[&pth]);
    let cfg = srgan_models::VggConfig {
        weights: Some(pth),
        layer: srgan_models::VggLayer::Vgg22,
        width_divisor: Some(16),
    };
    let vgg = srgan_models::Vgg19Features::load(&cfg, tch::Device::Cpu).unwrap();
    let w = &vgg.var_store().variables()["features.7.weight"];
    assert!((w.double_value(&[0, 0, 0, 0]) - 0.07).abs() < 1e-6);
    let x = tch::Tensor::rand([1, 3, 16, 16], (tch::Kind::Float, tch::Device::Cpu));
    assert_eq!(vgg.forward(&x).size(), vec![1, 8, 8, 8]);
}

/// A config nested 100,000 deep (it took 38 s to reject inside the parser) or over 1 MiB is
/// rejected before parsing; every shipped config passes the same check.
#[test]
fn deep_or_huge_configs_are_rejected_before_parsing() {
    let dir = tmp_dir("deep-config");
    let deep = dir.join("deep.yaml");
    std::fs::write(
        &deep,
        format!("data: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)),
    )
    .unwrap();
    let e = TrainConfig::from_yaml_file(&deep).unwrap_err();
    assert!(matches!(e, ModelsError::Config { .. }), "{e}");
    assert!(one_line(&e).contains("nest"), "{}", one_line(&e));
    let block = dir.join("block.yaml");
    let text: String = (0..40)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .collect();
    std::fs::write(&block, text).unwrap();
    let e = TrainConfig::from_yaml_file(&block).unwrap_err();
    assert!(one_line(&e).contains("nest"), "{}", one_line(&e));
    let huge = dir.join("huge.yaml");
    std::fs::write(&huge, format!("# {}\nseed: 1\n", "x".repeat(2 << 20))).unwrap();
    let e = TrainConfig::from_yaml_file(&huge).unwrap_err();
    assert!(one_line(&e).contains("1 MiB"), "{}", one_line(&e));
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            let text = srgan_models::config::read_config_text(&p).unwrap();
            TrainConfig::parse_unvalidated(&text, &p)
                .unwrap_or_else(|e| panic!("{}: {}", p.display(), one_line(&e)));
        }
    }
}

/// A training state with a damaged but finite value (1e6) is refused on resume (it once
/// resumed silently), and the run folder is left as it was.
#[test]
fn a_damaged_training_state_is_refused() {
    let (train, _) = photo_folders("damaged-state");
    let out = tmp_dir("damaged-state");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.iterations = 4;
    cfg.checkpoint_every = 4;
    let mut t: Trainer = Trainer::new(
        cfg.clone(),
        &out,
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap();
    t.run().unwrap();
    let state = out.join(files::STATE);
    let mut bytes = std::fs::read(&state).unwrap();
    let n = bytes.len();
    bytes[n - 4..].copy_from_slice(&1.0e6f32.to_le_bytes());
    std::fs::write(&state, &bytes).unwrap();
    let before = srgan_testkit::fixtures::folder_digest(&out);
    cfg.iterations = 8;
    let e = Trainer::<srgan_models::Generator>::resume(
        cfg,
        &out,
        &state,
        tch::Device::Cpu,
        TrainerOptions::default(),
    )
    .unwrap_err();
    let line = one_line(&e);
    assert!(
        line.contains("state.safetensors") && line.contains("checksum"),
        "{line}"
    );
    assert_eq!(srgan_testkit::fixtures::folder_digest(&out), before);
}

/// A generator of 1024 blocks x 4096 channels (it once grew to 24 GB until the OOM killer
/// ended it) is refused before anything is allocated, naming the figure.
#[test]
fn a_run_that_cannot_fit_the_machine_is_refused_up_front() {
    let (train, _) = photo_folders("too-large");
    let out = tmp_dir("too-large");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.generator = srgan_export::GeneratorConfig::new(1024, 4096, 4).into();
    let e = match Trainer::<srgan_models::Generator>::new(
        cfg,
        &out,
        tch::Device::Cpu,
        TrainerOptions::default(),
    ) {
        Ok(_) => panic!("a 1024 x 4096 generator was accepted"),
        Err(e) => e,
    };
    assert!(matches!(e, ModelsError::TooLargeForMachine { .. }), "{e}");
    assert!(e.to_string().contains("MiB are available"), "{e}");
    assert_eq!(srgan_testkit::fixtures::folder_digest(&out).len(), 0);
}
