//! The one atomic-write helper of the workspace: checkpoints, ONNX models, images, reports and
//! charts are all written through [`atomic_write_with`], so that an output path never holds a
//! partial file, and a failed write leaves no temporary file behind.
//!
//! The content goes to a temporary file in the destination's folder, named
//! `.NAME.PID.XXXXXX.tmp` (the writer's process id, so that stale files can be traced to a
//! process), is synced, and is then renamed onto the destination; without `overwrite` it is
//! moved only if the destination does not exist (`tempfile`'s `persist_noclobber`), so an
//! existing file is never replaced, even by a concurrent writer.
//!
//! A write cut short by a signal leaves nothing either:
//! - every temporary file being written is registered while it is written;
//!   [`remove_in_flight`] removes them, and [`exit_on_interrupt`] installs a SIGINT/SIGTERM
//!   handler that does so before exiting with [`crate::exit::INTERRUPTED`];
//! - after a SIGKILL (which no handler sees), the first write of a later process into the same
//!   folder removes the temporary files of this naming whose process is gone
//!   ([`remove_stale_temps`]).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The temporary files being written now, by any thread of this process.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// The folders this process has already swept of stale temporary files.
static SWEPT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Registers a temporary file as in flight until dropped.
#[derive(Debug)]
struct InFlight(PathBuf);

impl InFlight {
    fn new(path: &Path) -> Self {
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.into());
        Self(path.into())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut v = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = v.iter().position(|p| *p == self.0) {
            v.swap_remove(i);
        }
    }
}

/// Removes every temporary file this process is writing now; returns how many were removed.
/// For signal handlers that are about to exit: a write in progress then never completes.
pub fn remove_in_flight() -> usize {
    remove_in_flight_where(|_| true)
}

fn remove_in_flight_where(keep: impl Fn(&Path) -> bool) -> usize {
    let v = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    v.iter()
        .filter(|p| keep(p) && std::fs::remove_file(p).is_ok())
        .count()
}

/// Child processes that write in-flight files (a video encoder): killed by the interrupt
/// handler before it removes the files, so that none re-creates one after.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Registers a child process (by id) to be killed on interrupt until the guard is dropped.
#[derive(Debug)]
pub struct ChildGuard(u32);

/// Registers `pid` (see [`ChildGuard`]).
pub fn register_child(pid: u32) -> ChildGuard {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    ChildGuard(pid)
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let mut v = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = v.iter().position(|p| *p == self.0) {
            v.swap_remove(i);
        }
    }
}

/// Kills the registered children (SIGKILL through `kill`) and waits for `kill` to return.
fn kill_children() {
    let pids: Vec<u32> = CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if pids.is_empty() {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg("-9")
        .args(pids.iter().map(u32::to_string))
        .stderr(std::process::Stdio::null())
        .status();
}

/// Installs a SIGINT/SIGTERM handler that kills the registered child processes
/// ([`register_child`]), removes the temporary files in flight ([`remove_in_flight`]), says
/// so on stderr as `tool`, and exits with [`crate::exit::INTERRUPTED`]. Outputs already
/// written stay; none is ever half-written.
pub fn exit_on_interrupt(tool: &'static str) -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(move || {
        kill_children();
        let n = remove_in_flight();
        eprintln!("{tool}: interrupted; {n} unfinished output(s) removed, finished ones kept");
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    })
}

/// The process id in a temporary file name of [`atomic_write_with`]'s naming,
/// `.NAME.PID.XXXXXX.tmp`.
fn temp_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (rest, random) = rest.rsplit_once('.')?;
    let (name, pid) = rest.rsplit_once('.')?;
    let plausible =
        !name.is_empty() && random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
    plausible.then(|| pid.parse().ok()).flatten()
}

/// Whether process `pid` is alive; `None` when this system cannot tell (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new("/proc").join(pid.to_string()).exists())
}

/// Removes from `dir` the temporary files of [`atomic_write_with`]'s naming whose writing
/// process is gone (killed mid-write); returns their paths. A file of a live process, or of
/// any process where liveness cannot be told, is kept.
pub fn remove_stale_temps(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) != Some(false) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// [`remove_stale_temps`] once per folder and process (best effort: a folder that cannot be
/// listed is left as it is).
fn sweep_once(dir: &Path) {
    let key = dir.canonicalize().unwrap_or_else(|_| dir.into());
    let first = SWEPT.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
    if first {
        let _ = remove_stale_temps(dir);
    }
}

/// `path`'s folder (`.` for a bare name) and file name (`output` when it has none).
fn folder_and_name(path: &Path) -> (&Path, String) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    (dir, name)
}

/// A scratch file: written once, read by the caller, removed when dropped (see
/// [`scratch_beside`]).
#[derive(Debug)]
pub struct ScratchFile {
    // Declared first: dropped (removed) before the registration ends.
    file: tempfile::NamedTempFile,
    _in_flight: InFlight,
}

impl ScratchFile {
    /// Its path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Renames it onto `dest` (a tool wrote it: e.g. a video encoder); without `overwrite`, an
    /// existing `dest` is an `AlreadyExists` error and is left untouched (the scratch file is
    /// then removed).
    pub fn persist(self, dest: &Path, overwrite: bool) -> std::io::Result<()> {
        self.file.as_file().sync_all()?;
        let done = if overwrite {
            self.file.persist(dest)
        } else {
            self.file.persist_noclobber(dest)
        };
        done.map(|_| ()).map_err(|e| e.error)
    }
}

/// A file holding `bytes` in `beside`'s folder, for a tool to read back (a model that a runtime
/// opens by path): named like the temporary files of [`atomic_write_with`] with `.scratch`
/// before the random part, registered as in flight until dropped (so Ctrl-C removes it) and
/// swept like them after a SIGKILL; removed when dropped.
pub fn scratch_beside(beside: &Path, bytes: &[u8]) -> std::io::Result<ScratchFile> {
    let (dir, name) = folder_and_name(beside);
    sweep_once(dir);
    let prefix = format!(".{name}.scratch.{}.", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // 0666 less the umask, as any new file (it may become an output: `persist`).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let file = builder.tempfile_in(dir)?;
    let in_flight = InFlight::new(file.path());
    let mut w = BufWriter::new(file.as_file());
    w.write_all(bytes)?;
    w.flush()?;
    drop(w);
    Ok(ScratchFile {
        file,
        _in_flight: in_flight,
    })
}

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

/// Whether `a` and `b` name the same existing file or folder (after resolving links and
/// `..`); false when either does not exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
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
    // A device, a FIFO, a socket or a folder is never replaced by a file, even with
    // `overwrite` (a symbolic link is: the link is replaced, not what it points to).
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.is_file() && !m.file_type().is_symlink() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file; refusing to replace it",
            )));
        }
    }
    let (dir, name) = folder_and_name(path);
    sweep_once(dir);
    let prefix = format!(".{name}.{}.", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // As any new file: 0666 less the umask (tempfile's own default is 0600, which made every
    // output readable by its owner only).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder.tempfile_in(dir).map_err(io)?;
    let _in_flight = InFlight::new(tmp.path());
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
    fn a_scratch_file_is_in_flight_until_dropped_and_then_gone() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("model.onnx");
        let s = scratch_beside(&dest, b"bytes").unwrap();
        assert_eq!(std::fs::read(s.path()).unwrap(), b"bytes");
        assert_eq!(s.path().parent(), Some(dir.path()));
        let name = s.path().file_name().unwrap().to_str().unwrap().to_string();
        // Named like the atomic writes' temporary files: a later process sweeps it.
        assert_eq!(temp_owner(&name), Some(std::process::id()), "{name}");
        assert!(IN_FLIGHT
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.as_path() == s.path()));
        let path = s.path().to_path_buf();
        drop(s);
        assert!(!path.exists());
        assert!(!IN_FLIGHT.lock().unwrap().contains(&path));
        assert!(entries(dir.path()).is_empty());
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

    #[test]
    fn temp_names_are_recognised() {
        assert_eq!(temp_owner(".out.png.1234.AbC123.tmp"), Some(1234));
        assert_eq!(temp_owner(".m.onnx.77.zzzzzz.tmp"), Some(77));
        for other in [
            "out.png",
            ".out.png.tmp",
            ".1234.AbC123.tmp",
            ".out.png.x.AbC123.tmp",
            ".out.png.1234.AbC12.tmp",
            "out.png.1234.AbC123.tmp",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    /// The temporary file of a process that is gone is removed by the next write into its
    /// folder; one of a live process, and other files, are kept.
    #[test]
    fn a_killed_writers_temporary_file_is_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!(".a.png.{dead}.Xy12Zq.tmp"));
        let live = dir.path().join(format!(
            ".b.png.{}.Xy12Zq.tmp",
            std::os::unix::process::parent_id()
        ));
        let mine = dir.path().join("notes.tmp");
        for p in [&stale, &live, &mine] {
            std::fs::write(p, b"partial").unwrap();
        }
        atomic_write(&dir.path().join("c.png"), b"done").unwrap();
        let mut want = vec![
            "c.png".to_string(),
            live.file_name().unwrap().to_string_lossy().into_owned(),
            "notes.tmp".to_string(),
        ];
        want.sort();
        assert_eq!(entries(dir.path()), want);
    }

    #[test]
    fn in_flight_files_are_registered_while_written_and_removable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("slow.bin");
        atomic_write_with(&p, true, |w| {
            w.write_all(b"half")?;
            // A signal handler would run `remove_in_flight` now (here limited to this
            // test's folder: other tests write in parallel).
            assert_eq!(remove_in_flight_where(|t| t.starts_with(dir.path())), 1);
            Ok::<_, std::io::Error>(())
        })
        .unwrap_err();
        assert!(!p.exists());
        assert_eq!(entries(dir.path()), Vec::<String>::new());
        // Nothing stays registered after a write.
        atomic_write(&p, b"x").unwrap();
        let registered = IN_FLIGHT.lock().unwrap().clone();
        assert!(
            !registered.iter().any(|t| t.starts_with(dir.path())),
            "{registered:?}"
        );
    }

    /// An output gets the permissions of any new file (0666 less the umask), not the
    /// owner-only 0600 of a temporary file.
    #[cfg(unix)]
    #[test]
    fn outputs_get_the_permissions_of_a_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.bin");
        std::fs::write(&plain, b"x").unwrap();
        let atomic = dir.path().join("atomic.bin");
        atomic_write(&atomic, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
        // A scratch file renamed into place (a video srgan-run's ffmpeg wrote) too.
        let persisted = dir.path().join("video.mp4");
        scratch_beside(&persisted, b"x")
            .unwrap()
            .persist(&persisted, false)
            .unwrap();
        assert_eq!(mode(&persisted), mode(&plain));
        // Without overwrite an existing file is kept, and the scratch file is gone.
        let again = scratch_beside(&persisted, b"y").unwrap();
        let e = again.persist(&persisted, false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&persisted).unwrap(), b"x");
        assert_eq!(entries(dir.path()).len(), 3);
    }
}
