//! The threaded pipeline of a run: a decode thread reads files into a bounded channel, the
//! calling thread runs the model, and an encode thread writes each result through a
//! temporary file that is renamed into place. At most a couple of images are in flight.

use std::sync::mpsc::sync_channel;
use std::time::Instant;

use image::DynamicImage;
use srgan_imaging::budget::Tiling;
use srgan_imaging::image_io::{read_image, write_image_atomic_with, ImageError, ImageMeta};
use srgan_imaging::pipeline::{resize_image, upscale_image, PipelineError, UpscaleOptions};
use srgan_imaging::resample::Filter;
use srgan_imaging::tiling::plan_tiles;
use srgan_runtimes::Upscaler;

use super::console::Console;
use super::plan::{FileError, Job};
use super::RunConfig;

/// Decode thread -> inference (this thread) -> encode thread, with bounded channels so at
/// most a couple of images are in flight.
pub(crate) fn process(
    upscaler: &mut dyn Upscaler,
    jobs: &[Job],
    cfg: &RunConfig,
    tiling: &Tiling,
    console: &Console,
) {
    // Each image travels with its metadata (colour profile, EXIF) and its start time.
    let (decoded_tx, decoded_rx) = sync_channel::<(&Job, DynamicImage, ImageMeta, Instant)>(1);
    let (upscaled_tx, upscaled_rx) = sync_channel::<(&Job, DynamicImage, ImageMeta, Instant)>(1);
    let (overwrite, skip_existing) = (cfg.overwrite, cfg.skip_existing);
    std::thread::scope(|s| {
        s.spawn(move || {
            for job in jobs {
                if skip_existing && job.output.exists() {
                    console.skipped(job);
                    continue;
                }
                if !overwrite && job.output.exists() {
                    console.fail(
                        ImageError::OutputExists {
                            path: job.output.clone(),
                        }
                        .into(),
                    );
                    continue;
                }
                let started = Instant::now();
                match read_image(&job.input, &cfg.limits) {
                    Ok(d) => {
                        if let Some(n) = d.frames.filter(|n| *n > 1) {
                            console.warn(&format!(
                                "{}: an animated {} of {n} frames: only its first frame is \
                                 upscaled (for every frame, make it a video: ffmpeg -i {} \
                                 clip.mp4, then srgan-run -i clip.mp4)",
                                job.input.display(),
                                format!("{:?}", d.format).to_uppercase(),
                                job.input.display(),
                            ));
                        }
                        if decoded_tx.send((job, d.image, d.meta, started)).is_err() {
                            break;
                        }
                    }
                    Err(e) => console.fail(e.into()),
                }
            }
        });
        s.spawn(move || {
            for (job, image, meta, started) in upscaled_rx {
                match write_image_atomic_with(&image, job.format, &meta, &job.output, overwrite) {
                    Ok(()) => console.done(
                        job,
                        (image.width(), image.height()),
                        started.elapsed().as_secs_f64(),
                    ),
                    // Another run wrote it meanwhile (the write never replaces it).
                    Err(ImageError::OutputExists { .. }) if skip_existing => console.skipped(job),
                    Err(e) => console.fail(e.into()),
                }
            }
        });
        for (job, image, meta, started) in decoded_rx {
            // The size asked for is checked before any tiling or model work.
            let asked = cfg
                .out_size
                .map(|s| s.for_input(image.width(), image.height()));
            if let Some((w, h)) = asked {
                if u64::from(w) * u64::from(h) > cfg.max_output_pixels {
                    console.fail(FileError::OutSize {
                        path: job.input.clone(),
                        width: w,
                        height: h,
                        limit: cfg.max_output_pixels,
                    });
                    continue;
                }
            }
            let first = match tiling.for_image(&image) {
                Ok(t) => t,
                Err(source) => {
                    console.fail(FileError::Budget {
                        path: job.input.clone(),
                        source,
                    });
                    continue;
                }
            };
            let opts = UpscaleOptions {
                tiling: first,
                max_output_pixels: cfg.max_output_pixels,
                ..UpscaleOptions::default()
            };
            let (h, w) = (image.height() as usize, image.width() as usize);
            let passes = cfg.passes.for_image(
                upscaler.scale(),
                (image.width(), image.height()),
                asked,
                cfg.max_output_pixels,
            );
            let tiles = plan_tiles(h, w, opts.tiling);
            if tiles.len() > 1 {
                let window = tiles.iter().fold((0, 0), |(a, b), t| {
                    (a.max(t.win_y.1 - t.win_y.0), b.max(t.win_x.1 - t.win_x.0))
                });
                console.tiled(job, tiles.len(), window);
            }
            match upscale_passes(upscaler, image, &opts, tiling, passes, asked) {
                Ok(out) => {
                    if upscaled_tx.send((job, out, meta, started)).is_err() {
                        break;
                    }
                }
                Err(source) => console.fail(FileError::Upscale {
                    path: job.input.clone(),
                    model: cfg.model.clone(),
                    source,
                }),
            }
        }
        drop(upscaled_tx);
    });
}

/// `image` through the model `passes` times (each pass tiled by `tiling` like an image of its
/// size; the first with `opts`), then resampled to `asked` (bicubic, antialiased when
/// shrinking) when that differs.
pub(crate) fn upscale_passes(
    upscaler: &mut dyn Upscaler,
    image: DynamicImage,
    opts: &UpscaleOptions,
    tiling: &Tiling,
    passes: usize,
    asked: Option<(u32, u32)>,
) -> Result<DynamicImage, PipelineError> {
    let mut out = upscale_image(upscaler, image, opts)?;
    for _ in 1..passes {
        let t = tiling.for_image(&out)?;
        out = upscale_image(upscaler, out, &UpscaleOptions { tiling: t, ..*opts })?;
    }
    match asked {
        Some((w, h)) if (w, h) != (out.width(), out.height()) => {
            resize_image(&out, w, h, Filter::Bicubic)
        }
        _ => Ok(out),
    }
}
