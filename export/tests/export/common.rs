//! Helpers shared by the test modules: the project's Python, unique scratch folders, raw f32
//! files, and tensor comparison with a report of the outliers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use srgan_export::{Checkpoint, GeneratorConfig};

/// The project's Python (`SRGAN_PYTHON`). Panics with set-up advice when it is not there.
pub fn python() -> PathBuf {
    let p = std::env::var_os("SRGAN_PYTHON").unwrap_or_else(|| {
        panic!(
            "SRGAN_PYTHON is not set: run scripts/setup.sh (it creates .venv with onnx, \
             onnxruntime and torch, and writes SRGAN_PYTHON into .cargo/config.toml)"
        )
    });
    let p = PathBuf::from(p);
    assert!(
        p.exists(),
        "SRGAN_PYTHON={} does not exist: run scripts/setup.sh",
        p.display()
    );
    p
}

/// Runs one of the Python scripts next to the tests; panics with its output if it fails.
pub fn run_python(script: &str, args: &[&Path]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python().display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}\n{}",
        script.display(),
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A fresh folder for one test, under cargo's target tmp dir.
pub fn scratch(test: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "srgan-export-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A random-weight checkpoint with the given architecture and ranges.
pub fn checkpoint(
    blocks: usize,
    channels: usize,
    scale: usize,
    lr_range: [f32; 2],
    hr_range: [f32; 2],
    seed: u64,
) -> Checkpoint {
    let mut cfg = GeneratorConfig::new(blocks, channels, scale);
    cfg.lr_range = lr_range;
    cfg.hr_range = hr_range;
    Checkpoint::random_init(&cfg, seed).expect("valid config")
}

/// Uniform values in [0, 1).
pub fn random_input(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(0.0..1.0)).collect()
}

/// Writes raw little-endian f32.
pub fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Reads raw little-endian f32.
pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// How two tensors differ.
#[derive(Debug)]
pub struct Diff {
    /// Largest absolute difference.
    pub max: f32,
    /// Values further apart than the tolerance.
    pub outliers: usize,
    /// The first outlier: index, expected, found.
    pub first: Option<(usize, f32, f32)>,
}

/// Compares element-wise; NaN counts as an outlier.
pub fn diff(expected: &[f32], found: &[f32], tol: f32) -> Diff {
    assert_eq!(expected.len(), found.len(), "lengths differ");
    let mut d = Diff {
        max: 0.0,
        outliers: 0,
        first: None,
    };
    for (i, (&e, &f)) in expected.iter().zip(found).enumerate() {
        let a = (e - f).abs();
        if a > tol || a.is_nan() {
            d.outliers += 1;
            d.first.get_or_insert((i, e, f));
        }
        if a > d.max || a.is_nan() {
            d.max = a;
        }
    }
    d
}

/// Asserts that two tensors agree within `tol`, reporting the outliers otherwise.
pub fn assert_close(what: &str, expected: &[f32], found: &[f32], tol: f32) {
    let d = diff(expected, found, tol);
    assert!(
        d.outliers == 0,
        "{what}: {} of {} values differ by more than {tol}; largest {}; first at {:?} \
         (index, expected, found)",
        d.outliers,
        expected.len(),
        d.max,
        d.first
    );
}
