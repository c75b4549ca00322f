//! `srgan-run`: upscale one image or a folder of images with an exported model.
//!
//! Three steps, each in one place: [`RunArgs`] (what clap parses) becomes a validated
//! [`RunConfig`] ([`RunConfig::from_args`], in [`args`]), which [`run`] executes.
//!
//! - [`args`]: the command line and its validation;
//! - [`plan`]: which output each input gets, and the inputs that cannot run;
//! - [`console`]: progress, warnings and per-file errors on stderr;
//! - [`pipeline`]: decode, upscale and encode on three threads (the `Upscaler` is `Send`; it
//!   stays on the calling thread, the image threads do the I/O);
//! - [`video`]: the same for the frames of a video, through ffmpeg.
//!
//! The `--tile auto` memory model is `srgan_imaging::budget`, next to the tiler; the runtimes
//! are `srgan_runtimes::RuntimeKind`. A bad file is reported (path and reason, one line) and
//! skipped; the others are processed; the returned [`Summary`] says how many failed.

use std::path::Path;
use std::time::Instant;

use srgan_imaging::budget::{resolve_tile_pad, PadSource, Tiling};
use srgan_runtimes::Upscaler;
use std::time::Duration;

pub mod args;
pub(crate) mod console;
pub mod pipeline;
pub mod plan;
pub mod shipped;
pub mod video;

pub use args::{FormatArg, RunArgs, RunConfig, RunError, TileArg};
pub use console::Summary;
pub use plan::{list_images, plan_folder, FileError, Job, Target, IMAGE_EXTENSIONS};

use console::Console;
use plan::same_file;

/// Opens the model on the configured runtime and device.
pub fn open_upscaler(cfg: &RunConfig) -> Result<Box<dyn Upscaler>, RunError> {
    open_model(cfg.runtime, &cfg.model, &cfg.runtime_options)
}

/// Opens `model` on `runtime` (tch only with the `tch` feature).
pub fn open_model(
    runtime: srgan_runtimes::RuntimeKind,
    model: &Path,
    options: &srgan_runtimes::RuntimeOptions,
) -> Result<Box<dyn Upscaler>, RunError> {
    match runtime {
        #[cfg(feature = "tch")]
        srgan_runtimes::RuntimeKind::Tch => {
            let up =
                srgan_models::TchUpscaler::open(model, options).map_err(|e| RunError::Model {
                    path: model.into(),
                    source: e.into(),
                })?;
            Ok(Box::new(up))
        }
        kind => Ok(srgan_runtimes::open(kind, model, options)?),
    }
}

/// The tiling of `--tile` / `--max-memory` for the opened `model`.
pub fn tiling_for(
    tile: TileArg,
    max_memory_mib: u64,
    model: &Path,
    upscaler: &dyn Upscaler,
    tile_pad: usize,
) -> Result<Tiling, RunError> {
    match tile {
        TileArg::Side(n) => Ok(Tiling::fixed(n, tile_pad)),
        TileArg::Auto => {
            Tiling::budget(max_memory_mib, tile_pad, upscaler.info(), upscaler.scale()).map_err(
                |source| RunError::Budget {
                    model: model.into(),
                    source,
                },
            )
        }
    }
}

/// The tiling of `--tile` / `--max-memory` for the opened model.
fn tiling(cfg: &RunConfig, upscaler: &dyn Upscaler, tile_pad: usize) -> Result<Tiling, RunError> {
    tiling_for(cfg.tile, cfg.max_memory_mib, &cfg.model, upscaler, tile_pad)
}

/// Runs the configuration: opens the model, then processes the file or folder. `Err` only
/// for what stops everything (the model, the output folder); per-file failures are in the
/// [`Summary`] and were reported on stderr as they happened.
pub fn run(cfg: &RunConfig) -> Result<Summary, RunError> {
    let start = Instant::now();
    let mut hidden = 0;
    let (jobs, early_failures, ignored, folder) = match &cfg.target {
        Target::File(job) => {
            if let Some(parent) = job.output.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(RunError::Output {
                        path: job.output.clone(),
                        source: format!("its folder {} does not exist", parent.display()).into(),
                    });
                }
            }
            let mut bad = Vec::new();
            let mut jobs = Vec::new();
            if same_file(&job.input, &job.output) {
                bad.push(FileError::OutputIsInput {
                    path: job.input.clone(),
                });
            } else {
                jobs.push(job.clone());
            }
            (jobs, bad, 0, false)
        }
        Target::Folder {
            input,
            output,
            format,
            jpeg_quality,
            recursive,
        } => {
            let listing = list_images(input, *recursive, Some(output))?;
            let (jobs, bad) =
                plan_folder(listing.files, Some(input), output, *format, *jpeg_quality);
            create_folders(output, &jobs)?;
            hidden = listing.hidden;
            (jobs, bad, listing.ignored, true)
        }
        Target::List {
            inputs,
            output,
            format,
            jpeg_quality,
        } => {
            let (jobs, bad) = plan_folder(inputs.clone(), None, output, *format, *jpeg_quality);
            create_folders(output, &jobs)?;
            (jobs, bad, 0, true)
        }
        Target::Video { input, output } => return run_video(cfg, input, output),
    };

    // RRDBNet x2 / x1 take multiples of 2 / 4: other sizes are padded by reflection.
    let mut upscaler = srgan_imaging::multiple::PadToMultiple::wrap(open_upscaler(cfg)?);
    if cfg.tta {
        upscaler = Box::new(srgan_imaging::tta::Tta::new(upscaler));
    }
    let (tile_pad, pad_source) = resolve_tile_pad(cfg.tile_pad, upscaler.info());
    let console = Console::new(
        jobs.len() + early_failures.len(),
        folder,
        cfg.quiet,
        cfg.json,
    );
    let tiling = tiling(cfg, upscaler.as_ref(), tile_pad)?;
    // Said once, when the first image is actually cut into tiles.
    match pad_message(cfg, tile_pad, pad_source) {
        Some((true, msg)) => console.warn_when_tiled(msg),
        Some((false, msg)) => console.note_when_tiled(msg),
        None => {}
    }
    if folder && jobs.is_empty() && early_failures.is_empty() {
        console.warn(&format!(
            "no image files (.png .jpg .jpeg .webp .tif .tiff .bmp .gif) in {}",
            cfg_input(&cfg.target).display()
        ));
    }
    if ignored > 0 {
        console.note(&format!(
            "ignoring {ignored} entries without an image extension"
        ));
    }
    if hidden > 0 {
        console.note(&format!(
            "skipping {hidden} hidden entries (names starting with `.`)"
        ));
    }
    for e in early_failures {
        console.fail(e);
    }
    pipeline::process(upscaler.as_mut(), &jobs, cfg, &tiling, &console);
    let summary = console.finish(ignored);
    let secs = start.elapsed().as_secs_f64();
    if folder && (!cfg.quiet || !summary.failed.is_empty()) {
        // With failures the summary is printed even with -q: it explains the exit status.
        let skipped = match summary.skipped {
            0 => String::new(),
            n => format!("{n} skipped (output exists), "),
        };
        eprintln!(
            "srgan-run: {} ok, {skipped}{} failed ({}, x{}, {secs:.2} s)",
            summary.ok,
            summary.failed.len(),
            upscaler.name(),
            upscaler.scale()
        );
    } else if !folder && !cfg.quiet && summary.ok == 1 {
        eprintln!(
            "srgan-run: wrote {} ({}, x{}, {secs:.2} s)",
            jobs[0].output.display(),
            upscaler.name(),
            upscaler.scale()
        );
    }
    Ok(summary)
}

/// What to say of the tile pad when a first image is tiled: `(is a warning, message)`.
fn pad_message(cfg: &RunConfig, tile_pad: usize, pad_source: PadSource) -> Option<(bool, String)> {
    match pad_source {
        PadSource::Exact => None,
        PadSource::Effective { radius } => Some((
            false,
            format!(
                "tiles padded with {tile_pad} LR pixels, {}'s measured effective radius{}",
                cfg.model.display(),
                radius.map_or_else(String::new, |r| format!(" (its exact radius is {r})"))
            ),
        )),
        PadSource::Fallback => Some((
            true,
            format!(
                "{} does not give its receptive-field radius; using --tile-pad {tile_pad} \
                 (tile seams may show: pass --tile-pad, or --tile 0 to run images whole)",
                cfg.model.display()
            ),
        )),
        PadSource::Capped { radius } => Some((
            true,
            format!(
                "{}'s receptive-field radius is {radius} LR pixels, too large to pad every \
                 tile with; using --tile-pad {tile_pad} (tile seams may show: pass a larger \
                 --tile-pad, or --tile 0 to run images whole)",
                cfg.model.display()
            ),
        )),
    }
}

/// A video run (see [`video`]): one output, written whole or not at all.
fn run_video(cfg: &RunConfig, input: &Path, output: &Path) -> Result<Summary, RunError> {
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(RunError::Output {
                path: output.into(),
                source: format!("its folder {} does not exist", parent.display()).into(),
            });
        }
    }
    if same_file(input, output) {
        return Err(RunError::Output {
            path: output.into(),
            source: "is the input video; choose another -o".into(),
        });
    }
    if output.exists() {
        if cfg.skip_existing {
            if !cfg.quiet {
                eprintln!(
                    "srgan-run: {} exists: skipped (--skip-existing)",
                    output.display()
                );
            }
            if cfg.json {
                println!(
                    "{}",
                    serde_json::json!({"input": input, "output": output, "status": "skipped"})
                );
            }
            return Ok(Summary {
                skipped: 1,
                ..Summary::default()
            });
        }
        if !cfg.overwrite {
            return Err(RunError::Output {
                path: output.into(),
                source: "already exists (pass --overwrite to replace it)".into(),
            });
        }
    }
    let mut upscaler = srgan_imaging::multiple::PadToMultiple::wrap(open_upscaler(cfg)?);
    if cfg.tta {
        upscaler = Box::new(srgan_imaging::tta::Tta::new(upscaler));
    }
    let (tile_pad, pad_source) = resolve_tile_pad(cfg.tile_pad, upscaler.info());
    let tiling = tiling(cfg, upscaler.as_ref(), tile_pad)?;
    let pad = pad_message(cfg, tile_pad, pad_source);
    let on_tiled = |tiles: usize, window: (usize, usize)| {
        if cfg.quiet {
            return;
        }
        match &pad {
            Some((true, m)) => eprintln!("srgan-run: warning: {m}"),
            Some((false, m)) => eprintln!("srgan-run: {m}"),
            None => {}
        }
        eprintln!(
            "srgan-run: {}: {tiles} tiles per frame, windows of at most {}x{} LR pixels",
            input.display(),
            window.0,
            window.1
        );
    };
    let done = match video::process(upscaler.as_mut(), input, output, cfg, &tiling, &on_tiled) {
        Ok(d) => d,
        Err(e) => {
            if cfg.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "input": input, "output": output, "status": "failed",
                        "error": srgan_contract::report::one_line(&e),
                    })
                );
            }
            return Err(e);
        }
    };
    if let Some(n) = done.expected_frames {
        if !cfg.quiet {
            eprintln!(
                "srgan-run: warning: {}: read {} of the {n} frames its container lists (a \
                 cut-off file?); the output holds those {}",
                input.display(),
                done.frames,
                done.frames
            );
        }
    }
    let fps = done.frames as f64 / done.secs.max(1e-9);
    if cfg.json {
        println!(
            "{}",
            serde_json::json!({
                "input": input, "output": output, "status": "ok",
                "width": done.size.0, "height": done.size.1, "frames": done.frames,
                "audio_streams": done.audio_streams, "encoder": done.encoder,
                "seconds": done.secs,
            })
        );
    }
    if !cfg.quiet {
        eprintln!(
            "srgan-run: wrote {} ({} frames of {}x{}, {} audio stream{} {}, {}; {}, x{}, {}, \
             {fps:.2} frames/s)",
            output.display(),
            done.frames,
            done.size.0,
            done.size.1,
            done.audio_streams,
            if done.audio_streams == 1 { "" } else { "s" },
            done.audio,
            done.encoder,
            upscaler.name(),
            upscaler.scale(),
            humantime(Duration::from_secs_f64(done.secs)),
        );
    }
    Ok(Summary {
        ok: 1,
        ..Summary::default()
    })
}

/// `12.3 s` or `2 min 05 s`.
fn humantime(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

fn cfg_input(target: &Target) -> &Path {
    match target {
        Target::Video { input, .. } => input,
        Target::File(job) => &job.input,
        Target::Folder { input, .. } => input,
        Target::List { output, .. } => output,
    }
}

/// The output folder, and with --recursive its mirror of the input's subfolders.
fn create_folders(output: &Path, jobs: &[Job]) -> Result<(), RunError> {
    let folders: std::collections::BTreeSet<&Path> = std::iter::once(output)
        .chain(jobs.iter().filter_map(|j| j.output.parent()))
        .collect();
    for f in folders {
        std::fs::create_dir_all(f).map_err(|source| RunError::CreateOutput {
            path: f.into(),
            source,
        })?;
    }
    Ok(())
}
