//! `srgan-eval --degrade` and `--niqe`: the fixed, seeded degradations of the degraded-input
//! table and the no-reference metric beside PSNR/SSIM.

use std::path::Path;

use srgan_contract::exit;

use crate::common::{self, s, srgan_eval, TempDir};

fn niqe_params() -> String {
    std::env::var("SRGAN_NIQE_PARAMS")
        .expect("SRGAN_NIQE_PARAMS is not set: run scripts/setup.sh (it fetches BasicSR's params)")
}

fn mean(report: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(report).unwrap();
    let last = text.lines().last().expect("a mean line");
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["image"], "mean", "{text}");
    v
}

/// Noise lowers the baseline's PSNR and raises the model's NIQE; the same seed gives the same report,
/// another seed another; the shipped bicubic-trained model is scored on the same input.
#[test]
fn degraded_inputs_and_niqe_are_reported_and_reproducible() {
    let dir = TempDir::new("eval-degrade");
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let chelsea = srgan_testkit::python::skimage_data().join("chelsea.png");
    let photo = image::open(&chelsea).unwrap().crop_imm(100, 40, 240, 200);
    common::save(&photo, &data.join("chelsea.png"));
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/x4/srresnet_x4.onnx");
    let params = niqe_params();
    let run = |name: &str, extra: &[&str]| {
        let report = dir.join(name);
        let mut args = vec![s(&model), "--data", s(&data), "--runtime", "ort"];
        args.extend_from_slice(&["--niqe", &params, "--json", s(&report)]);
        args.extend_from_slice(extra);
        let o = srgan_eval(&args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(out.contains("NIQE"), "{out}");
        (mean(&report), std::fs::read_to_string(&report).unwrap())
    };
    let (clean, _) = run("clean.jsonl", &[]);
    let (noisy, noisy_text) = run("noisy.jsonl", &["--degrade", "noise:25"]);
    let (again, again_text) = run("again.jsonl", &["--degrade", "noise:25"]);
    let (other, _) = run("other.jsonl", &["--degrade", "noise:25", "--seed", "1"]);
    assert_eq!(noisy_text, again_text, "the same seed gave another report");
    assert_ne!(noisy["psnr"], other["psnr"], "the seed changed nothing");
    assert_eq!(noisy["degrade"], "noise:25");
    assert_eq!(clean["degrade"], serde_json::Value::Null);
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k}: {v}"));
    assert!(
        f(&noisy, "bicubic_psnr") < f(&clean, "bicubic_psnr") - 3.0,
        "{noisy} {clean}"
    );
    // The bicubic-trained model sharpens the noise: its NIQE rises (bicubic's own NIQE need
    // not: the blur of a x4 bicubic already scores badly on NIQE).
    assert!(
        f(&noisy, "niqe") > f(&clean, "niqe") + 2.0,
        "{noisy} {clean}"
    );
    // The HR is not degraded: its NIQE does not move.
    assert_eq!(f(&noisy, "hr_niqe"), f(&clean, "hr_niqe"));
    let _ = again;
}

#[test]
fn bad_degradations_and_niqe_params_are_one_line_errors() {
    let dir = TempDir::new("eval-degrade-bad");
    let model = common::tiny_model(&dir);
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    common::save(&common::rgb8(48, 40), &data.join("a.png"));
    for (args, mention) in [
        (vec!["--degrade", "blur:3"], "blur:3"),
        (vec!["--degrade", "jpeg:0"], "jpeg:0"),
        (
            vec!["--niqe", "/nonexistent/params.npz"],
            "/nonexistent/params.npz",
        ),
    ] {
        let mut all = vec![s(&model), "--data", s(&data)];
        all.extend(args);
        let o = srgan_eval(&all);
        let err = common::stderr(&o);
        assert_eq!(o.status.code(), Some(i32::from(exit::FAILURE)), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains(mention), "{err}");
    }
    let not_npz = dir.join("params.npz");
    std::fs::write(&not_npz, b"not a zip").unwrap();
    let o = srgan_eval(&[s(&model), "--data", s(&data), "--niqe", s(&not_npz)]);
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(i32::from(exit::FAILURE)), "{err}");
    assert!(
        err.contains("params.npz") && err.trim().lines().count() == 1,
        "{err}"
    );
}

/// The shipped x1 restoration models: ort and tract agree, tiles with the exact radius as the
/// pad equal the whole image, the output keeps the input's size, and each removes more of
/// sigma-25 noise (the MSE model: of a JPEG-30 artefact too) than it adds (PSNR above the
/// degraded input's).
#[test]
fn the_shipped_x1_models_run_on_both_runtimes_tile_exactly_and_restore() {
    use srgan_imaging::degrade::Fixed;
    for (file, restores) in [
        (
            "srvgg_x1_restore.onnx",
            &[Fixed::Jpeg(30), Fixed::Noise(25.0)][..],
        ),
        ("srvgg_x1_restore_gan.onnx", &[Fixed::Noise(25.0)][..]),
    ] {
        check_shipped_x1(file, restores);
    }
}

fn check_shipped_x1(file: &str, restores: &[srgan_imaging::degrade::Fixed]) {
    use srgan_imaging::degrade::Fixed;
    use srgan_imaging::eval::EvalImage;
    use srgan_imaging::tiling::{upscale_tiled, TileConfig};
    use srgan_runtimes::{open, RuntimeOptions};
    use srgan_testkit::{assert_close_array, Tolerance};

    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/x1")
        .join(file);
    let info = srgan_contract::metadata::read_model_info(&model).expect("model info");
    let pad = info
        .architecture
        .as_ref()
        .expect("an srgan model records its architecture")
        .receptive_field_radius();
    let chelsea = srgan_testkit::python::skimage_data().join("chelsea.png");
    let photo = image::open(&chelsea)
        .unwrap()
        .crop_imm(120, 60, 141, 117)
        .to_rgb8();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    let mut wholes = Vec::new();
    for rt in ["ort", "tract"] {
        let mut up = open(rt, &model, &RuntimeOptions::default()).unwrap();
        assert_eq!(up.scale(), 1, "{rt}");
        for &d in restores {
            let e = EvalImage::degraded(&photo, 1, d, &mut rng);
            let s = e.evaluate_upscaler(up.as_mut()).unwrap();
            assert!(
                s.psnr > s.bicubic_psnr + 0.3,
                "{file} on {rt}, {d}: {:.2} dB against the input's {:.2} dB",
                s.psnr,
                s.bicubic_psnr
            );
        }
        let x = EvalImage::degraded(&photo, 1, Fixed::Jpeg(30), &mut rng).lr_tensor();
        let whole = up.upscale(x.view()).unwrap();
        assert_eq!(whole.shape(), x.shape(), "{rt}");
        let tiles = TileConfig {
            tile: 40,
            tile_pad: pad,
            max_window_pixels: 0,
        };
        let tiled = upscale_tiled(up.as_mut(), x.view(), tiles).unwrap();
        assert_close_array(
            &format!("{rt}: tiled vs whole"),
            &whole,
            &tiled,
            Tolerance::abs(1e-5),
        );
        wholes.push(whole);
    }
    assert_close_array("ort vs tract", &wholes[0], &wholes[1], Tolerance::F32);
}
