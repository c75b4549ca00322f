//! Temporary folders.

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A fresh, empty folder under the system's temporary folder, removed (with its contents) when
/// dropped. Derefs to its [`Path`], so `dir.join("a.png")` and `&dir` as `&Path` work.
#[derive(Debug)]
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// A new folder whose name starts with `srgan-{tag}-` (for finding it while debugging).
    pub fn new(tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("srgan-{tag}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary folder for `{tag}`: {e}"));
        Self(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// The folder as an owned path (the folder still goes when `self` is dropped).
    pub fn to_path_buf(&self) -> PathBuf {
        self.0.path().to_path_buf()
    }
}

impl Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_fresh_and_goes_when_dropped() {
        let a = TempDir::new("kit");
        let b = TempDir::new("kit");
        assert_ne!(a.path(), b.path());
        assert!(a.is_dir());
        assert_eq!(std::fs::read_dir(&a).unwrap().count(), 0);
        std::fs::write(a.join("x"), b"x").unwrap();
        let p = a.to_path_buf();
        drop(a);
        assert!(!p.exists(), "{} left behind", p.display());
    }
}
