//! `srgan-export --precision int8`: the QDQ graph of the shipped x4 model against its fp32
//! export on a real photo (bounds in dB and in levels, ONNX checker), deterministic
//! calibration, both runtimes, a calibration that clips badly refused, and the options.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{assert_one_line_error, run_python, scratch, srgan_export, stderr};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "srgan-export failed: {err}");
    // The report goes to stdout, progress to stderr.
    format!("{}{err}", String::from_utf8_lossy(&o.stdout))
}

/// `srgan-export` of the shipped x4 checkpoint to int8 at `out`, calibrated on `cal`, with
/// `extra` arguments.
fn shipped_int8(out: &Path, cal: &Path, extra: &[&str]) -> Output {
    let ck = root().join("models/x4/srresnet_x4.safetensors");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &ck,
        &"-o",
        &out,
        &"--precision",
        &"int8",
        &"--calibration",
        &cal,
    ];
    args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
    srgan_export(&args)
}

/// A calibration folder: the bundled photo (448x300: four 64x64 LR crops at x4).
fn calibration(dir: &Path) -> PathBuf {
    let cal = dir.join("calibration");
    std::fs::create_dir(&cal).unwrap();
    std::fs::copy(root().join("assets/chelsea.png"), cal.join("chelsea.png")).unwrap();
    cal
}

#[test]
fn the_shipped_model_in_int8_stays_within_bounds_is_deterministic_and_runs_on_both_runtimes() {
    let dir = scratch("int8");
    let cal = calibration(dir.path());
    let ck = root().join("models/x4/srresnet_x4.safetensors");
    let (fp32, int8, again) = (
        dir.join("fp32.onnx"),
        dir.join("int8.onnx"),
        dir.join("int8_again.onnx"),
    );
    ok(&srgan_export(&[&ck, &"-o", &fp32]));
    let said = ok(&shipped_int8(&int8, &cal, &[]));
    assert!(
        said.contains("int8 (") && said.contains("dB from fp32"),
        "{said}"
    );
    ok(&shipped_int8(&again, &cal, &[]));
    // Calibration is deterministic: the same folder gives the same bytes.
    assert!(
        std::fs::read(&int8).unwrap() == std::fs::read(&again).unwrap(),
        "two int8 exports of the same model and photos differ"
    );
    // Against fp32 on the (LR) photo, measured by onnxruntime-python: the stated bounds.
    let photo = root().join("assets/chelsea_lr_x4.png");
    let out = run_python("int8_check.py", &[&fp32, &int8, &photo]);
    let value = |key: &str| -> f64 {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {out}"))
    };
    let (psnr, levels) = (value("psnr_db "), value("max_levels "));
    assert!(
        psnr >= 40.0,
        "int8 vs fp32: {psnr} dB, expected at least 40"
    );
    assert!(
        levels <= 24.0,
        "int8 vs fp32: {levels} levels, expected at most 24"
    );
    assert!(psnr < 90.0, "int8 identical to fp32: nothing was quantised");
    // 20 of the 21 convolutions (head, 16 in the blocks, trunk end, 2 upsampling; the tail
    // stays fp32).
    assert_eq!(value("int8_weights ") as usize, 20, "{out}");
    // tract runs the QDQ graph too, close to ONNX Runtime.
    let opts = srgan_runtimes::RuntimeOptions::default();
    let x =
        srgan_runtimes::ndarray::Array4::<f32>::from_shape_fn((1, 3, 24, 20), |(_, c, y, x)| {
            ((c * 7 + y * 3 + x * 5) % 17) as f32 / 16.0
        });
    let mut ort = srgan_runtimes::open("ort", &int8, &opts).unwrap();
    let mut tract = srgan_runtimes::open("tract", &int8, &opts).unwrap();
    let (a, b) = (
        ort.upscale(x.view()).unwrap(),
        tract.upscale(x.view()).unwrap(),
    );
    let worst = a
        .iter()
        .zip(b.iter())
        .map(|(p, q)| (p.clamp(0.0, 1.0) - q.clamp(0.0, 1.0)).abs() * 255.0)
        .fold(0f32, f32::max);
    // Their integer arithmetic rounds differently (fused QLinearConv against QDQ as written).
    assert!(worst <= 8.0, "ort vs tract on int8: {worst} levels");
}

#[test]
fn a_calibration_that_clips_badly_is_refused_and_nothing_is_written() {
    let dir = scratch("int8-clip");
    let cal = calibration(dir.path());
    let out = dir.join("int8.onnx");
    // Every activation clipped at its 80th percentile.
    let o = shipped_int8(&out, &cal, &["--calibration-percentile", "80"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("srgan-export: error: int8 would be") && last.contains("--int8-min-psnr"),
        "{err}"
    );
    assert!(!out.exists(), "a refused int8 model was written");
}

#[test]
fn int8_options_need_int8_and_int8_needs_calibration() {
    let dir = scratch("int8-opts");
    let out = dir.join("m.onnx");
    let (here, nope) = (dir.path().to_path_buf(), dir.join("nope"));
    let random: [&dyn AsRef<std::ffi::OsStr>; 7] = [
        &"--random-init",
        &"--blocks",
        &"1",
        &"--channels",
        &"8",
        &"-o",
        &out,
    ];
    let cases: Vec<(Vec<&dyn AsRef<std::ffi::OsStr>>, &str)> = vec![
        (
            vec![&"--calibration", &here],
            "--calibration is an option of --precision int8",
        ),
        (
            vec![&"--int8-quantize-tail"],
            "--int8-quantize-tail is an option of --precision int8",
        ),
        (vec![&"--precision", &"int8"], "needs --calibration DIR"),
        (
            vec![&"--precision", &"int8", &"--calibration", &nope],
            "nope: not a folder",
        ),
        (
            vec![
                &"--precision",
                &"int8",
                &"--calibration",
                &here,
                &"--calibration-percentile",
                &"101",
            ],
            "expected a percentile in (50, 100]",
        ),
    ];
    for (extra, needle) in cases {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = random.to_vec();
        args.extend(extra);
        assert_one_line_error(&srgan_export(&args), needle);
        assert!(!out.exists());
    }
    // An empty calibration folder: a one-line error naming it.
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = random.to_vec();
    args.extend([
        &"--precision" as &dyn AsRef<std::ffi::OsStr>,
        &"int8",
        &"--calibration",
        &here,
    ]);
    let o = srgan_export(&args);
    assert_one_line_error(&o, "no photo");
    assert!(stderr(&o).contains("--calibration"), "{}", stderr(&o));
    // The library refuses int8 without calibration instead of writing fp32.
    let ck = crate::common::checkpoint(1, 8, 2, [0.0, 1.0], [-1.0, 1.0], 0);
    let opts = srgan_export::ExportOptions {
        precision: srgan_export::precision::Precision::Int8,
        ..Default::default()
    };
    assert!(matches!(
        srgan_export::exporter::build_model(&ck, &opts),
        Err(srgan_export::exporter::ExportError::Int8NeedsCalibration)
    ));
}

#[test]
fn a_calibration_folder_that_is_not_like_photos_is_refused() {
    // One flat grey image: on its own crops int8 is close to fp32, on a real photo it is not.
    let dir = scratch("int8-flat");
    let cal = dir.join("flat");
    std::fs::create_dir(&cal).unwrap();
    image::RgbImage::from_pixel(256, 256, image::Rgb([128, 128, 128]))
        .save(cal.join("grey.png"))
        .unwrap();
    // Hidden files and non-image entries are skipped, not errors.
    std::fs::write(cal.join("._grey.png"), b"resource fork").unwrap();
    let out = dir.join("int8.onnx");
    let o = shipped_int8(&out, &cal, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("probe photo") && err.contains("int8 would be"),
        "{err}"
    );
    assert!(!out.exists());
}
