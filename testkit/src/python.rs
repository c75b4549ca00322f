//! The project's Python and what its environment brings: `SRGAN_PYTHON` (written into
//! `.cargo/config.toml` by `scripts/setup.sh`, which installs torch, onnxruntime, onnx and
//! scikit-image into `.venv/`). Everything here panics with set-up advice when it is missing:
//! the set-up always installs it, so a test that needs it fails rather than skips.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

const SETUP: &str = "run scripts/setup.sh (it creates .venv with torch, onnxruntime, onnx and \
                     scikit-image, and writes SRGAN_PYTHON into .cargo/config.toml)";

/// The project's Python, `SRGAN_PYTHON`.
pub fn python() -> PathBuf {
    let p = std::env::var_os("SRGAN_PYTHON")
        .unwrap_or_else(|| panic!("SRGAN_PYTHON is not set: {SETUP}"));
    let p = PathBuf::from(p);
    assert!(
        p.exists(),
        "SRGAN_PYTHON={} does not exist: {SETUP}",
        p.display()
    );
    p
}

/// Runs `python ARGS...` and returns its stdout; panics with its output if it fails.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> String {
    let py = python();
    let out = Command::new(&py)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", py.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let shown: Vec<_> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy())
        .map(|a| if a.len() > 80 { "<code>".into() } else { a })
        .collect();
    assert!(
        out.status.success(),
        "{} {} failed ({}): {}\n{stdout}\n{}",
        py.display(),
        shown.join(" "),
        out.status,
        if out.stderr.windows(19).any(|w| w == b"ModuleNotFoundError") {
            SETUP
        } else {
            "see its output"
        },
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs the Python `code` (`python -c CODE ARGS...`); returns its stdout.
pub fn run_code<S: AsRef<OsStr>>(code: &str, args: &[S]) -> String {
    let mut all: Vec<&OsStr> = vec![OsStr::new("-c"), OsStr::new(code)];
    all.extend(args.iter().map(AsRef::as_ref));
    run(&all)
}

/// Runs the Python script at `script` with `args`; returns its stdout.
pub fn run_script<S: AsRef<OsStr>>(script: &Path, args: &[S]) -> String {
    let mut all: Vec<&OsStr> = vec![script.as_os_str()];
    all.extend(args.iter().map(AsRef::as_ref));
    run(&all)
}

/// scikit-image's `data` folder in the environment of [`python`]: CC0 photos such as
/// `astronaut.png`, `chelsea.png`, `coffee.png` and `rocket.jpg`. Panics when it is not there.
pub fn skimage_data() -> PathBuf {
    // Asks the import system where the package is, without importing it (which takes seconds).
    let out = run_code(
        "import importlib.util as u\ns = u.find_spec('skimage')\n\
         print(s.submodule_search_locations[0] if s else '')",
        &[] as &[&str],
    );
    let pkg = out.trim();
    assert!(
        !pkg.is_empty(),
        "scikit-image is not installed for {}: {SETUP}",
        python().display()
    );
    let d = Path::new(pkg).join("data");
    assert!(
        d.join("astronaut.png").is_file(),
        "{} has no astronaut.png: {SETUP}",
        d.display()
    );
    d
}

/// A folder of real photos: `SRGAN_TEST_PHOTOS` when set, else [`skimage_data`]. Panics when
/// neither is there.
pub fn photos_dir() -> PathBuf {
    match std::env::var_os("SRGAN_TEST_PHOTOS") {
        Some(d) => {
            let d = PathBuf::from(d);
            assert!(
                d.is_dir(),
                "SRGAN_TEST_PHOTOS={} is not a folder",
                d.display()
            );
            d
        }
        None => skimage_data(),
    }
}

/// The PNG and JPEG files of [`photos_dir`], sorted by name; panics if there are none.
pub fn photos() -> Vec<PathBuf> {
    let dir = photos_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| {
                ["png", "jpg", "jpeg"]
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x))
            })
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no PNG or JPEG photo in {}", dir.display());
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_photos() {
        let photos = super::photos();
        assert!(photos.iter().all(|p| p.is_file()));
        match std::env::var_os("SRGAN_TEST_PHOTOS") {
            Some(d) => assert!(photos.iter().all(|p| p.starts_with(&d)), "{photos:?}"),
            None => assert!(
                photos.iter().any(|p| p.ends_with("astronaut.png")),
                "{photos:?}"
            ),
        }
    }
}
