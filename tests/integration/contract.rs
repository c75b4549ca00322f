//! The contract crate reads what earlier releases wrote: the shipped x4 checkpoints (untagged
//! architecture JSON in `srgan.generator`) and ONNX models (untagged `srgan.architecture`).

use std::path::PathBuf;

use srgan_contract::{read_model_info, Architecture, GeneratorConfig};
use srgan_export::Checkpoint;

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models/x4")
        .join(name)
}

#[test]
fn shipped_checkpoints_and_models_written_before_the_tag_still_load() {
    let expected = GeneratorConfig::new(8, 48, 4);
    for stem in ["srresnet_x4", "srgan_x4"] {
        let ck = Checkpoint::load(shipped(&format!("{stem}.safetensors")))
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(ck.config, (&expected).into(), "{stem}");
        let info = read_model_info(&shipped(&format!("{stem}.onnx")))
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(
            info.architecture,
            Some(Architecture::SrResNet(expected.clone())),
            "{stem}"
        );
        assert_eq!(info.scale, Some(4));
        assert_eq!(info.radius(), Some(expected.receptive_field_radius()));
    }
}

#[test]
fn a_checkpoint_saved_now_is_tagged_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GeneratorConfig::new(1, 4, 2);
    let ck = Checkpoint::random_init(&cfg, 3).unwrap();
    let path = dir.path().join("g.safetensors");
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(back, ck);
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    assert!(text.contains(r#"\"arch\":\"srresnet\""#), "{text}");
}
