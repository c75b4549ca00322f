//! Helpers shared by the test modules: random checkpoints and inputs, raw f32 files, the
//! Python scripts next to the tests. Temporary folders, the project's Python and tolerance
//! checks come from `srgan-testkit`.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use srgan_export::{Architecture, Checkpoint, GeneratorConfig};
pub use srgan_testkit::python::python;
use srgan_testkit::TempDir;

/// Runs one of the Python scripts next to the tests; panics with its output if it fails.
pub fn run_python(script: &str, args: &[&Path]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    srgan_testkit::python::run_script(&script, args)
}

/// A fresh folder for one test, removed when dropped.
pub fn scratch(test: &str) -> TempDir {
    TempDir::new(&format!("export-{test}"))
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

/// A random-weight checkpoint of RRDBNet or SRVGGNetCompact with the given ranges.
pub fn community(
    arch: impl Into<Architecture>,
    lr_range: [f32; 2],
    hr_range: [f32; 2],
    seed: u64,
) -> Checkpoint {
    let mut arch: Architecture = arch.into();
    match &mut arch {
        Architecture::RrdbNet(c) => (c.lr_range, c.hr_range) = (lr_range, hr_range),
        Architecture::SrVggCompact(c) => (c.lr_range, c.hr_range) = (lr_range, hr_range),
        Architecture::SrResNet(c) => (c.lr_range, c.hr_range) = (lr_range, hr_range),
    }
    Checkpoint::random_init(arch, seed).expect("valid config")
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

/// Runs the `srgan-export` binary with `args`.
pub fn srgan_export(args: &[&dyn AsRef<std::ffi::OsStr>]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_srgan-export"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("start srgan-export")
}

/// Its stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2 with exactly one line on stderr, `srgan-export: error: ...`, containing `needle`.
pub fn assert_one_line_error(o: &std::process::Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, stderr: {err}");
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("srgan-export: error: "), "{err}");
    assert!(err.contains(needle), "`{needle}` not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The names in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
