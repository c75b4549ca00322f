//! Helpers shared by the integration tests: tiny exported models and running the `srgan-run`
//! binary; temporary folders and generated images come from `srgan-testkit`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::DynamicImage;
use srgan_export::{write_onnx, Checkpoint, ExportOptions, GeneratorConfig};
pub use srgan_testkit::fixtures::{luma16, luma8, png_header_only, rgb16, rgb8, rgba8};
pub use srgan_testkit::TempDir;

/// The tiny architecture of the tests: 1 block, 8 channels, x4.
pub fn tiny_config() -> GeneratorConfig {
    GeneratorConfig::new(1, 8, 4)
}

/// Exports a random-weight model of `cfg` into `dir`.
pub fn export_model(dir: &TempDir, cfg: &GeneratorConfig, seed: u64) -> PathBuf {
    let path = dir.join(format!(
        "b{}c{}x{}-{seed}.onnx",
        cfg.blocks, cfg.channels, cfg.scale
    ));
    let ck = Checkpoint::random_init(cfg, seed).expect("random checkpoint");
    write_onnx(&ck, &path, &ExportOptions::default()).expect("export model");
    path
}

/// A random-weight [`tiny_config`] model exported into `dir`.
pub fn tiny_model(dir: &TempDir) -> PathBuf {
    export_model(dir, &tiny_config(), 7)
}

/// A fixture of the repository's `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Saves an image (format from the extension).
pub fn save(img: &DynamicImage, path: &Path) {
    img.save(path)
        .unwrap_or_else(|e| panic!("save {}: {e}", path.display()));
}

/// Opens an image written by the tool.
pub fn load(path: &Path) -> DynamicImage {
    image::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Runs the built `srgan-run` with `args` (and extra environment variables).
pub fn srgan_run<I, S>(args: I, env: &[(&str, &str)]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_srgan-run"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn srgan-run")
}

/// `srgan-run -i input -o output -m model extra...`, with `env` set.
pub fn upscale(
    input: &Path,
    output: &Path,
    model: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut args = vec![
        "-i",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "-m",
        model.to_str().unwrap(),
    ];
    args.extend(extra);
    srgan_run(args, env)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run failed with exit status `code` and exactly one line on stderr, an error (no
/// panic, no backtrace) that mentions every string in `mentions`.
pub fn assert_one_line_error(out: &Output, code: i32, mentions: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("srgan-run: error: "), "{err}");
    for m in mentions {
        assert!(lines[0].contains(m), "`{m}` not in: {err}");
    }
}

/// The largest difference, in levels, between two RGB8 images of one size.
pub fn max_levels(a: &image::RgbImage, b: &image::RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

/// Names in a folder, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Largest difference between two images' samples, on the 8-bit scale for 8-bit images.
pub fn max_level_diff(a: &DynamicImage, b: &DynamicImage) -> u32 {
    assert_eq!(a.color(), b.color());
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    match (a, b) {
        (DynamicImage::ImageRgb16(_), _) | (DynamicImage::ImageLuma16(_), _) => a
            .to_rgb16()
            .as_raw()
            .iter()
            .zip(b.to_rgb16().as_raw())
            .map(|(p, q)| u32::from(p.abs_diff(*q)))
            .max()
            .unwrap_or(0),
        _ => a
            .to_rgba8()
            .as_raw()
            .iter()
            .zip(b.to_rgba8().as_raw())
            .map(|(p, q)| u32::from(p.abs_diff(*q)))
            .max()
            .unwrap_or(0),
    }
}

/// A temporary path as the `&str` a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Runs the `srgan-eval` binary that cargo built.
pub fn srgan_eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_srgan-eval"))
        .args(args)
        .output()
        .expect("start srgan-eval")
}
