//! Helpers shared by the integration tests: temporary folders, generated images, tiny
//! exported models, and running the `srgan-run` binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::{DynamicImage, ImageBuffer, Luma, Rgb, Rgba};
use srgan_export::{write_onnx, Checkpoint, ExportOptions, GeneratorConfig};

/// A folder under the system's temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("srgan-it-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

fn v(x: u32, y: u32, k: u32) -> u32 {
    (x * 37 + y * 23 + k * 71 + (x * y) % 13 * 5) % 256
}

pub fn rgb8(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([v(x, y, 0) as u8, v(x, y, 1) as u8, v(x, y, 2) as u8])
    }))
}

pub fn rgba8(w: u32, h: u32, alpha: impl Fn(u32, u32) -> u8) -> DynamicImage {
    DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgba([
            v(x, y, 0) as u8,
            v(x, y, 1) as u8,
            v(x, y, 2) as u8,
            alpha(x, y),
        ])
    }))
}

pub fn luma8(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([v(x, y, 0) as u8])))
}

pub fn luma16(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageLuma16(ImageBuffer::from_fn(w, h, |x, y| {
        Luma([(v(x, y, 0) * 257 + x) as u16])
    }))
}

pub fn rgb16(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([
            (v(x, y, 0) * 257 + y) as u16,
            (v(x, y, 1) * 257) as u16,
            (v(x, y, 2) * 255 + x) as u16,
        ])
    }))
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

/// A PNG signature + an IHDR chunk claiming `w` x `h` RGB8 (correct CRC) + IEND: no pixels.
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(b"IEND");
    out.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    out
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
