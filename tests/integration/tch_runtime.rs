//! `srgan-run --runtime tch` (feature `tch`): a checkpoint run straight through libtorch gives
//! the same picture as its exported graph on ONNX Runtime, within one level.
#![cfg(feature = "tch")]

use std::path::Path;

use srgan_export::{write_onnx, Checkpoint, ExportOptions, GeneratorConfig};

use crate::common::{self, TempDir};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn tch_checkpoint_matches_exported_graph_on_ort() {
    let dir = TempDir::new("tch-run");
    let mut ck = Checkpoint::random_init(GeneratorConfig::new(2, 8, 4), 21).unwrap();
    // Spread the output over the range so that one level means something.
    for v in &mut ck.tensors.get_mut("tail.conv.weight").unwrap().data {
        *v *= 8.0;
    }
    let ckpt = dir.join("g.safetensors");
    ck.save(&ckpt).unwrap();
    let onnx = dir.join("g.onnx");
    write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
    let input = dir.join("in.png");
    common::save(&common::rgb8(29, 19), &input);
    let mut outs = Vec::new();
    for (rt, model) in [("tch", &ckpt), ("ort", &onnx)] {
        let out = dir.join(format!("out-{rt}.png"));
        let res = common::srgan_run(
            [
                "-i",
                s(&input),
                "-o",
                s(&out),
                "-m",
                s(model),
                "--runtime",
                rt,
                "--threads",
                "1",
            ],
            &[],
        );
        assert!(res.status.success(), "{rt}: {}", common::stderr(&res));
        outs.push(common::load(&out));
    }
    assert_eq!((outs[0].width(), outs[0].height()), (116, 76));
    let d = common::max_level_diff(&outs[0], &outs[1]);
    assert!(d <= 1, "tch vs ort: {d} levels");
    // And the picture is not flat, so the comparison means something.
    let px = outs[0].to_rgb8();
    let (lo, hi) = px
        .pixels()
        .fold((255u8, 0u8), |(l, h), p| (l.min(p[0]), h.max(p[0])));
    assert!(hi - lo > 40, "flat output {lo}..{hi}");
}
