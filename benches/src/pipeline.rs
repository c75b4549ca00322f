//! End to end, as a user runs it: `srgan-run` as a child process, timed from spawn to exit,
//! its peak resident memory read from the kernel (`wait4`'s rusage of that one child, spawned
//! by a small helper process: see [`RUSAGE_HELPER`]).
//!
//! - A folder of photos (scikit-image's bundled CC0 photos, cropped square and resized by
//!   `peers.py photos`) through srgan-run (ort, tract) and through the two Python pipelines of
//!   `peers.py pipeline` (PIL + onnxruntime, PIL + PyTorch), each a whole process too.
//! - Start-up: process start to the first (only) image written, ort, one photo.
//! - Peak RSS of a tiled upscale of a large photo.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::model::Prepared;
use super::peers::python;
use super::stats::{summarise, Summary};
use super::BenchConfig;

/// One child process run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildRun {
    /// What ran, e.g. `srgan-run (ort)` or `python-ort`.
    pub name: String,
    /// Spawn to exit, seconds.
    pub wall_s: f64,
    /// Peak resident set size of the child, MiB.
    pub peak_rss_mib: f64,
    /// Images processed.
    pub images: usize,
    /// The command line.
    pub command: String,
}

/// Start-up to first image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Startup {
    /// Side of the photo.
    pub size: usize,
    /// Spawn-to-exit times of the timed runs (after one untimed run).
    #[serde(flatten)]
    pub summary: Summary,
    /// Peak RSS of the last run, MiB.
    pub peak_rss_mib: f64,
    /// The command line.
    pub command: String,
}

/// Peak RSS of a tiled upscale.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rss {
    /// Side of the photo.
    pub size: usize,
    /// `--tile` given to srgan-run (`None`: its default).
    pub tile: Option<usize>,
    /// The run.
    #[serde(flatten)]
    pub run: ChildRun,
}

/// Everything the pipeline part measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PipelineReport {
    /// Photos in the folder.
    pub photos: usize,
    /// Their side.
    pub photo_size: usize,
    /// Threads given to every pipeline.
    pub threads: usize,
    /// Folder runs.
    pub folder: Vec<ChildRun>,
    /// Start-up.
    pub startup: Option<Startup>,
    /// Peak RSS.
    pub rss: Option<Rss>,
    /// What was skipped and why.
    pub notes: Vec<String>,
}

/// The hidden subcommand of srgan-bench that measures one child: `srgan-bench __rusage OUT
/// PROGRAM ARGS...` runs PROGRAM (stdio inherited), writes `PEAK_RSS_KIB WALL_S` to OUT and
/// exits with PROGRAM's status.
///
/// Why a helper: Linux keeps the largest RSS a process ever had across `exec`, and a child
/// spawned straight from srgan-bench (vfork + exec) starts with srgan-bench's own high-water
/// mark, which is over 1 GiB after the model timings. The helper is small when it spawns, so
/// its child's `ru_maxrss` is the child's own.
pub const RUSAGE_HELPER: &str = "__rusage";

/// Runs the helper (see [`RUSAGE_HELPER`]) on `args` = `OUT PROGRAM ARGS...`.
pub fn rusage_helper(args: &[std::ffi::OsString]) -> std::process::ExitCode {
    use std::process::ExitCode;
    let [out, program, rest @ ..] = args else {
        eprintln!("usage: srgan-bench {RUSAGE_HELPER} OUT PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let t = Instant::now();
    let child = match Command::new(program).args(rest).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "srgan-bench: cannot start {}: {e}",
                program.to_string_lossy()
            );
            return ExitCode::from(2);
        }
    };
    let (status, kib) = match wait_with_rusage(child) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("srgan-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let wall = t.elapsed().as_secs_f64();
    if let Err(e) = std::fs::write(out, format!("{kib} {wall}\n")) {
        eprintln!(
            "srgan-bench: cannot write {}: {e}",
            Path::new(out).display()
        );
        return ExitCode::from(2);
    }
    if status_ok(status) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs `cmd` to completion through the [`RUSAGE_HELPER`]: its wall time from spawn to exit
/// and its peak RSS. Its stderr goes to `log`.
pub fn run_child(
    name: &str,
    cmd: &mut Command,
    log: &Path,
    images: usize,
) -> anyhow::Result<ChildRun> {
    let command = format!("{cmd:?}");
    let log_file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let rss_file = log.with_extension("rusage");
    let mut wrapped = Command::new(std::env::current_exe().context("cannot find srgan-bench")?);
    wrapped
        .arg(RUSAGE_HELPER)
        .arg(&rss_file)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file));
    let status = wrapped
        .status()
        .with_context(|| format!("cannot start {command}"))?;
    if !status.success() {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(5).collect();
        bail!(
            "{name} failed ({status}): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        );
    }
    let text = std::fs::read_to_string(&rss_file)
        .with_context(|| format!("cannot read {}", rss_file.display()))?;
    let mut fields = text.split_whitespace();
    let (Some(Ok(kib)), Some(Ok(wall_s))) = (
        fields.next().map(str::parse::<i64>),
        fields.next().map(str::parse::<f64>),
    ) else {
        bail!(
            "{}: unexpected content `{}`",
            rss_file.display(),
            text.trim()
        );
    };
    Ok(ChildRun {
        name: name.into(),
        wall_s,
        peak_rss_mib: kib as f64 / 1024.0,
        images,
        command,
    })
}

/// Waits for the child and returns its wait status and peak RSS in KiB (Linux: `ru_maxrss`
/// is in KiB).
#[cfg(unix)]
fn wait_with_rusage(child: std::process::Child) -> anyhow::Result<(i32, i64)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; a zeroed one is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; `pid` is our own unwaited child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4");
        }
    }
    // The child is reaped: dropping the handle neither waits nor kills.
    drop(child);
    Ok((status, ru.ru_maxrss))
}

#[cfg(not(unix))]
fn wait_with_rusage(mut child: std::process::Child) -> anyhow::Result<(i32, i64)> {
    let s = child.wait()?;
    Ok((if s.success() { 0 } else { 1 }, 0))
}

fn status_ok(status: i32) -> bool {
    #[cfg(unix)]
    {
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
    #[cfg(not(unix))]
    {
        status == 0
    }
}

/// Whether `ldd` lists libtorch among the binary's libraries (false when `ldd` is missing).
fn links_libtorch(binary: &Path) -> bool {
    Command::new("ldd")
        .arg(binary)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libtorch"))
}

fn make_photos(cfg: &BenchConfig, dir: &Path, count: usize, size: usize) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    python(
        cfg,
        &[
            "photos".into(),
            "--out".into(),
            dir.display().to_string(),
            "--count".into(),
            count.to_string(),
            "--size".into(),
            size.to_string(),
        ],
    )?;
    Ok(())
}

fn srgan_run(
    cfg: &BenchConfig,
    model: &Path,
    runtime: &str,
    input: &Path,
    output: &Path,
) -> Command {
    let mut c = Command::new(&cfg.srgan_run);
    c.arg("-m")
        .arg(model)
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(["--runtime", runtime, "--threads", &cfg.threads.to_string()])
        .args(["--overwrite", "--quiet"]);
    c
}

fn first_file(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .with_context(|| format!("{}: no photo was written", dir.display()))
}

/// Runs every pipeline measurement. A part that fails is recorded as a note; the others go on.
pub fn run_all(cfg: &BenchConfig, model: &Prepared) -> anyhow::Result<PipelineReport> {
    let a = &cfg.args;
    let root = a.out.join("pipeline");
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let mut rep = PipelineReport {
        photos: a.photos,
        photo_size: a.photo_size,
        threads: cfg.threads,
        ..Default::default()
    };
    let log = |name: &str| logs.join(format!("{name}.log"));
    if links_libtorch(&cfg.srgan_run) {
        let note = format!(
            "{} links libtorch (built with `-p srgan --features tch`): its start-up and \
             memory include loading libtorch; rebuild it without the feature for deployment \
             figures",
            cfg.srgan_run.display()
        );
        eprintln!("srgan-bench: warning: {note}");
        rep.notes.push(note);
    }

    if a.photos > 0 {
        let photos = root.join("photos");
        make_photos(cfg, &photos, a.photos, a.photo_size)?;
        let mut runs: Vec<(String, Command)> = Vec::new();
        for runtime in &cfg.runtimes {
            let out = root.join(format!("out-srgan-{runtime}"));
            runs.push((
                format!("srgan-run ({runtime})"),
                srgan_run(cfg, &model.onnx, runtime, &photos, &out),
            ));
        }
        for engine in ["ort", "torch"] {
            if engine == "torch" && model.checkpoint.is_none() {
                rep.notes
                    .push("python-torch pipeline skipped: no --checkpoint".into());
                continue;
            }
            let mut c = Command::new(&cfg.python);
            c.arg(&cfg.peers_script)
                .args(["pipeline", "--engine", engine]);
            c.arg("--onnx").arg(&model.onnx);
            if let Some(ck) = &model.checkpoint {
                c.arg("--checkpoint").arg(ck);
            }
            c.arg("--input")
                .arg(&photos)
                .arg("--output")
                .arg(root.join(format!("out-python-{engine}")))
                .args(["--threads", &cfg.threads.to_string()])
                .arg("--json")
                .arg(root.join(format!("python-{engine}.json")));
            runs.push((format!("python-{engine}"), c));
        }
        for (name, mut cmd) in runs {
            eprintln!("srgan-bench: pipeline {name} over {} photos", a.photos);
            let file = name.replace([' ', '(', ')'], "");
            match run_child(&name, &mut cmd, &log(&file), a.photos) {
                Ok(r) => {
                    eprintln!(
                        "  {name}: {:.2} s, peak RSS {:.0} MiB",
                        r.wall_s, r.peak_rss_mib
                    );
                    rep.folder.push(r);
                }
                Err(e) => rep.notes.push(format!("{e:#}")),
            }
        }
    }

    if a.startup_size > 0 && cfg.runtimes.iter().any(|r| r == "ort") {
        let dir = root.join("startup");
        make_photos(cfg, &dir, 1, a.startup_size)?;
        let photo = first_file(&dir)?;
        let out = root.join("startup-out.png");
        let mut times = Vec::new();
        let mut last = None;
        // One untimed run fills the page cache (binary, libonnxruntime, model).
        for i in 0..4 {
            let mut cmd = srgan_run(cfg, &model.onnx, "ort", &photo, &out);
            let r = run_child("srgan-run startup", &mut cmd, &log("startup"), 1)?;
            if i > 0 {
                times.push(r.wall_s);
            }
            last = Some(r);
        }
        let last = last.expect("ran four times");
        let summary = summarise(&times);
        eprintln!(
            "  start-up to first image ({0}x{0}, ort): median {1:.3} s",
            a.startup_size, summary.p50_s
        );
        rep.startup = Some(Startup {
            size: a.startup_size,
            summary,
            peak_rss_mib: last.peak_rss_mib,
            command: last.command,
        });
        let _ = std::fs::remove_file(&out);
    }

    if a.rss_size > 0 && cfg.runtimes.iter().any(|r| r == "ort") {
        let dir = root.join("rss");
        make_photos(cfg, &dir, 1, a.rss_size)?;
        let photo = first_file(&dir)?;
        let out = root.join("rss-out.png");
        let mut cmd = srgan_run(cfg, &model.onnx, "ort", &photo, &out);
        if let Some(t) = a.rss_tile {
            cmd.args(["--tile", &t.to_string()]);
        }
        eprintln!(
            "srgan-bench: peak RSS of a tiled x{} upscale of {}x{} (ort)",
            model.scale().unwrap_or(0),
            a.rss_size,
            a.rss_size
        );
        let run = run_child("srgan-run tiled", &mut cmd, &log("rss"), 1)?;
        eprintln!(
            "  {:.1} s, peak RSS {:.0} MiB",
            run.wall_s, run.peak_rss_mib
        );
        rep.rss = Some(Rss {
            size: a.rss_size,
            tile: a.rss_tile,
            run,
        });
        let _ = std::fs::remove_file(&out);
    }
    Ok(rep)
}
