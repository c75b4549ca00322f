//! torchvision's own VGG19 state dict (`torch.save(model.state_dict(), path)`, an
//! `OrderedDict` that libtorch's loader cannot read) loads through `srgan_export::pth`, and the
//! loaded features match torch's `features[:36]`. Written by `vgg19_pth.py` with the project's
//! Python (`SRGAN_PYTHON`); without it the test fails.

use std::path::Path;

use srgan_models::{Vgg19Features, VggConfig, VggLayer};

use crate::common::tmp_dir;

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn torchvision_vgg19_state_dict_loads_and_matches_torch() {
    let dir = tmp_dir("vgg19-pth");
    let (pth, input, output) = (dir.join("vgg19.pth"), dir.join("x.f32"), dir.join("y.f32"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vgg19_pth.py");
    srgan_testkit::python::run_script(&script, &[&pth, &input, &output]);

    let cfg = VggConfig {
        weights: Some(pth),
        layer: VggLayer::Vgg54,
        width_divisor: None,
    };
    let vgg = Vgg19Features::load(&cfg, tch::Device::Cpu)
        .unwrap_or_else(|e| panic!("{}", srgan_contract::report::one_line(&e)));
    let x = tch::Tensor::from_slice(&read_f32(&input)).view([1, 3, 32, 32]);
    let y = tch::no_grad(|| vgg.forward(&x));
    assert_eq!(y.size(), [1, 512, 2, 2]);
    let got: Vec<f32> = Vec::try_from(y.flatten(0, -1)).unwrap();
    let want = read_f32(&output);
    let peak = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        peak > 0.1,
        "torch's features are degenerate (max |y| = {peak})"
    );
    srgan_testkit::assert_close("features[:36]", &want, &got, srgan_testkit::Tolerance::F32);
}
