//! The one atomic-write helper of the workspace: checkpoints, ONNX models, images, reports and
//! charts are all written through [`atomic_write_with`], so that an output path never holds a
//! partial file, and a failed write leaves no temporary file behind.
//!
//! The content goes to a temporary file in the destination's folder, named
//! `.NAME.PID.XXXXXX.tmp` (the writer's process id, so that stale files can be traced to a
//! process), is synced, and is then renamed onto the destination; without `overwrite` it is
//! moved only if the destination does not exist (`tempfile`'s `persist_noclobber`), so an
//! existing file is never replaced, even by a concurrent writer.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why an atomic write failed.
#[derive(Debug, thiserror::Error)]
pub enum AtomicWriteError<E: std::error::Error + 'static> {
    /// `overwrite` was false and the destination exists.
    #[error("{0}: already exists")]
    Exists(PathBuf),
    /// Creating, syncing or renaming the file failed.
    #[error("{path}")]
    Io {
        /// The destination.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The content writer failed.
    #[error(transparent)]
    Content(E),
}

/// Writes `path` atomically: `write` fills a buffered temporary file beside it, which is
/// flushed, synced and moved onto `path` (see the module docs). With `overwrite == false`
/// an existing `path` is an [`AtomicWriteError::Exists`], checked again at the final move.
pub fn atomic_write_with<E, F>(
    path: &Path,
    overwrite: bool,
    write: F,
) -> Result<(), AtomicWriteError<E>>
where
    E: std::error::Error + 'static,
    F: FnOnce(&mut BufWriter<&File>) -> Result<(), E>,
{
    let io = |source| AtomicWriteError::Io {
        path: path.into(),
        source,
    };
    if !overwrite && path.exists() {
        return Err(AtomicWriteError::Exists(path.into()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.{}.", std::process::id()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        write(&mut w).map_err(AtomicWriteError::Content)?;
        w.flush().map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    let persisted = if overwrite {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    match persisted {
        Ok(_) => Ok(()),
        // The temporary file is removed when the error (which owns it) is dropped.
        Err(e) if !overwrite && e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(AtomicWriteError::Exists(path.into()))
        }
        Err(e) => Err(io(e.error)),
    }
}

/// Writes `bytes` to `path` atomically, replacing it if it exists.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError<std::io::Error>> {
    atomic_write_with(path, true, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_replaces_refuses_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        atomic_write(&p, b"one").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        atomic_write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let e = atomic_write_with(&p, false, |w| w.write_all(b"three")).unwrap_err();
        assert!(matches!(e, AtomicWriteError::Exists(_)), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // A failing writer leaves the destination as it was and no temporary file.
        let e = atomic_write_with(&dir.path().join("new.bin"), false, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert!(matches!(e, AtomicWriteError::Content(_)), "{e}");
        assert_eq!(entries(dir.path()), vec!["out.bin".to_string()]);
        // A missing folder is an I/O error naming the destination.
        let missing = dir.path().join("no/such/out.bin");
        let e = atomic_write(&missing, b"x").unwrap_err();
        assert!(e.to_string().contains("no/such/out.bin"), "{e}");
        assert!(matches!(e, AtomicWriteError::Io { .. }), "{e}");
    }
}
