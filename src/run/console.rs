//! What srgan-run prints while it works: a progress bar for folders, one line per failure,
//! warnings and notes, all on stderr and safe to call from any of the pipeline's threads.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use srgan_contract::report::one_line;

use super::plan::{FileError, Job};

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Outputs written.
    pub ok: usize,
    /// Inputs skipped because their output exists (`--skip-existing`).
    pub skipped: usize,
    /// Files that failed, with their errors (each names its file).
    pub failed: Vec<FileError>,
    /// Entries of an input folder that were not images (by extension) and were ignored.
    pub ignored: usize,
}

/// Reports progress and failures on stderr from any of the pipeline's threads.
pub(crate) struct Console {
    bar: ProgressBar,
    quiet: bool,
    folder: bool,
    json: bool,
    /// Said once, when the first image is tiled (about the tile pad): (is a warning, message).
    tiled_warning: Mutex<Option<(bool, String)>>,
    ok: AtomicUsize,
    skipped: AtomicUsize,
    failed: Mutex<Vec<FileError>>,
}

impl Console {
    pub(crate) fn new(total: usize, folder: bool, quiet: bool, json: bool) -> Self {
        let bar = if folder && !quiet && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed_precise}<{eta}] {msg}")
            {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            quiet,
            folder,
            json,
            tiled_warning: Mutex::new(None),
            ok: AtomicUsize::new(0),
            skipped: AtomicUsize::new(0),
            failed: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn warn(&self, msg: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("srgan-run: warning: {msg}"));
        }
    }

    /// Keeps `msg` to be warned about the first time an image is tiled.
    pub(crate) fn warn_when_tiled(&self, msg: String) {
        if let Ok(mut w) = self.tiled_warning.lock() {
            *w = Some((true, msg));
        }
    }

    /// Keeps `msg` to be said (a note, not a warning) the first time an image is tiled.
    pub(crate) fn note_when_tiled(&self, msg: String) {
        if let Ok(mut w) = self.tiled_warning.lock() {
            *w = Some((false, msg));
        }
    }

    /// An image is run in `tiles` tiles of at most `window` LR pixels (with context): says so
    /// for a single-file run, and gives the tiling warning once.
    pub(crate) fn tiled(&self, job: &Job, tiles: usize, window: (usize, usize)) {
        match self.tiled_warning.lock().ok().and_then(|mut w| w.take()) {
            Some((true, msg)) => self.warn(&msg),
            Some((false, msg)) => self.note(&msg),
            None => {}
        }
        if !self.folder {
            self.note(&format!(
                "{}: {tiles} tiles, windows of at most {}x{} LR pixels",
                job.input.display(),
                window.0,
                window.1
            ));
        }
    }

    pub(crate) fn note(&self, msg: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("srgan-run: {msg}"));
        }
    }

    /// One JSON line on stdout (`--json`).
    fn json_line(&self, v: serde_json::Value) {
        if self.json {
            self.bar.suspend(|| println!("{v}"));
        }
    }

    pub(crate) fn fail(&self, e: FileError) {
        let line = one_line(&e);
        self.json_line(serde_json::json!({
            "input": e.path(), "status": "failed", "error": line,
        }));
        self.bar.suspend(|| eprintln!("srgan-run: error: {line}"));
        self.bar.inc(1);
        if let Ok(mut v) = self.failed.lock() {
            v.push(e);
        }
    }

    /// `job`'s output exists and `--skip-existing` is on.
    pub(crate) fn skipped(&self, job: &Job) {
        self.json_line(serde_json::json!({
            "input": job.input, "output": job.output, "status": "skipped",
        }));
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(1);
    }

    /// `job`'s output of `size` (width, height) was written, `seconds` after its decoding
    /// started.
    pub(crate) fn done(&self, job: &Job, size: (u32, u32), seconds: f64) {
        self.json_line(serde_json::json!({
            "input": job.input, "output": job.output, "status": "ok",
            "width": size.0, "height": size.1, "seconds": seconds,
        }));
        self.ok.fetch_add(1, Ordering::Relaxed);
        self.bar.set_message(
            job.output
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        self.bar.inc(1);
    }

    pub(crate) fn finish(self, ignored: usize) -> Summary {
        self.bar.finish_and_clear();
        Summary {
            ok: self.ok.into_inner(),
            skipped: self.skipped.into_inner(),
            failed: self.failed.into_inner().unwrap_or_default(),
            ignored,
        }
    }
}
