//! `curves.png`: the training curves of a run, drawn with plotters through `srgan-charts`
//! (DejaVu Sans embedded, no system font). Two panels sharing the iteration axis:
//!
//! - top: the running means of the losses (`generator_content_loss`, `generator_total_loss`,
//!   `discriminator_loss`, `generator_adversarial_loss`; losses are unitless) on a log scale;
//!   a loss that is never positive (its module is off) is left out;
//! - bottom: the validation PSNR (dB, Y channel) and the bicubic PSNR of the same images.
//!
//! The data come from `metrics.jsonl` (`logging`): `train` records for the losses, `val`
//! records for the PSNR.

use std::path::Path;

use serde_json::Value;
use srgan_charts::plotters::prelude::*;
use srgan_charts::{colour, house_mesh, text, Area, DrawError, INK};

use crate::error::{ModelsError, Result};
use crate::logging;

/// Width of `curves.png`, in pixels.
pub const WIDTH: u32 = 900;
/// Height of `curves.png`, in pixels.
pub const HEIGHT: u32 = 760;

/// The losses drawn, with their legend names.
const LOSSES: [(&str, &str); 4] = [
    ("generator_content_loss", "G content"),
    ("generator_total_loss", "G total"),
    ("discriminator_loss", "D"),
    ("generator_adversarial_loss", "G adversarial"),
];

/// Reads `metrics` (JSONL) and writes the plot to `out` atomically. The title names the run:
/// the folder of `RUN/curves.png`, or the `RUN` of `RUN.curves.png`.
pub fn plot_metrics(metrics: &Path, out: &Path) -> Result<()> {
    let recs = logging::read_all(metrics);
    let run = run_name(out);
    let bytes = render(&recs, &run).map_err(|source| ModelsError::Chart {
        path: out.into(),
        source,
    })?;
    srgan_export::atomic_write(out, &bytes)?;
    Ok(())
}

/// The run a chart at `out` belongs to: `RUN` of `RUN.curves.png`, else the folder's name.
fn run_name(out: &Path) -> String {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_suffix(".curves.png") {
        Some(run) => run.to_string(),
        None => out
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// The points `(iteration, key)` of the records of `kind`.
fn points(recs: &[Value], kind: &str, key: &str) -> Vec<(f64, f64)> {
    recs.iter()
        .filter(|r| r["kind"] == kind)
        .filter_map(|r| Some((r["iteration"].as_f64()?, r[key].as_f64()?)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

fn range(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    vals.filter(|v| v.is_finite())
        .fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Draws the curves of `recs` (the records of `metrics.jsonl`) as PNG bytes; `run` names the
/// run in the title.
pub fn render(recs: &[Value], run: &str) -> std::result::Result<Vec<u8>, srgan_charts::ChartError> {
    let title = if run.is_empty() {
        "srgan-train: training curves".to_string()
    } else {
        format!("srgan-train: training curves of {run}")
    };
    srgan_charts::render_png(WIDTH, HEIGHT, |root| {
        let root = root.titled(&title, text(24.0))?;
        let (top, bottom) = root.split_vertically(HEIGHT / 2 - 20);
        let last = range(recs.iter().filter_map(|r| r["iteration"].as_f64())).map_or(1.0, |r| r.1);
        let xr = 0.0..last.max(1.0);
        draw_losses(&top, recs, xr.clone())?;
        draw_psnr(&bottom, recs, xr)
    })
}

fn draw_losses(
    area: &Area<'_>,
    recs: &[Value],
    xr: std::ops::Range<f64>,
) -> std::result::Result<(), DrawError> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = LOSSES
        .iter()
        .map(|(key, name)| {
            let pts: Vec<(f64, f64)> = points(recs, "train", key)
                .into_iter()
                .filter(|p| p.1 > 0.0)
                .collect();
            (*name, pts)
        })
        .collect();
    let Some((lo, hi)) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1))) else {
        let area = area.titled("Losses: no training records yet", text(18.0))?;
        return srgan_charts::message(&area, "no data");
    };
    let (lo, hi) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    let hi = if hi > lo { hi } else { lo * 10.0 };
    let mut cc = ChartBuilder::on(area)
        .caption("Losses (running means over the epoch)", text(18.0))
        .margin(12)
        .margin_right(30)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(xr, (lo..hi).log_scale())?;
    house_mesh(&mut cc.configure_mesh(), 14.0)
        .x_desc("iteration")
        .y_desc("loss (unitless, log scale)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (i, (name, pts)) in series.into_iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let c = colour(i);
        cc.draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    cc.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(INK)
        .label_font(text(14.0))
        .draw()
}

fn draw_psnr(
    area: &Area<'_>,
    recs: &[Value],
    xr: std::ops::Range<f64>,
) -> std::result::Result<(), DrawError> {
    let psnr = points(recs, "val", "psnr");
    let bicubic = points(recs, "val", "bicubic_psnr");
    let Some((lo, hi)) = range(psnr.iter().chain(&bicubic).map(|p| p.1)) else {
        let area = area.titled("Validation PSNR: no validation records yet", text(18.0))?;
        return srgan_charts::message(&area, "no data");
    };
    let mut cc = ChartBuilder::on(area)
        .caption("Validation PSNR (Y channel, border cropped)", text(18.0))
        .margin(12)
        .margin_right(30)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(xr, (lo.floor() - 0.5)..(hi.ceil() + 0.5))?;
    house_mesh(&mut cc.configure_mesh(), 14.0)
        .x_desc("iteration")
        .y_desc("PSNR (dB)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let grey = RGBColor(130, 130, 130);
    if !bicubic.is_empty() {
        cc.draw_series(LineSeries::new(bicubic, grey.stroke_width(2)))?
            .label("bicubic")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], grey.stroke_width(2)));
    }
    if !psnr.is_empty() {
        let c = colour(0);
        // A marker per validation, so that a run with one validation shows a point.
        cc.draw_series(LineSeries::new(psnr.clone(), c.stroke_width(2)))?
            .label("model")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        cc.draw_series(psnr.into_iter().map(|p| Circle::new(p, 3, c.filled())))?;
    }
    cc.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(INK)
        .label_font(text(14.0))
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::record;

    fn synthetic(dir: &Path) -> std::path::PathBuf {
        let metrics = dir.join("metrics.jsonl");
        for i in 1..=20u64 {
            let it = i * 50;
            let l = 0.1 / i as f64;
            logging::append(
                &metrics,
                &record(
                    "train",
                    it,
                    &[
                        ("generator_content_loss", l),
                        ("generator_total_loss", l * 1.2),
                        ("discriminator_loss", 1.3),
                        ("generator_adversarial_loss", 0.7),
                    ],
                ),
            )
            .unwrap();
            if i % 5 == 0 {
                logging::append(
                    &metrics,
                    &record(
                        "val",
                        it,
                        &[("psnr", 24.0 + i as f64 * 0.2), ("bicubic_psnr", 25.0)],
                    ),
                )
                .unwrap();
            }
        }
        metrics
    }

    fn has(img: &image::RgbImage, c: RGBColor) -> bool {
        img.pixels().any(|p| p.0 == [c.0, c.1, c.2])
    }

    #[test]
    fn run_names() {
        assert_eq!(run_name(Path::new("runs/x4/curves.png")), "x4");
        assert_eq!(
            run_name(Path::new("models/x4/srgan_x4.curves.png")),
            "srgan_x4"
        );
        assert_eq!(run_name(Path::new("curves.png")), "");
    }

    #[test]
    fn curves_png_has_every_curve() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = synthetic(dir.path());
        let out = dir.path().join("curves.png");
        plot_metrics(&metrics, &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // The four losses and the model's PSNR, each in its own colour.
        for i in 0..4 {
            assert!(has(&img, colour(i)), "loss curve {i} missing");
        }
        assert!(has(&img, RGBColor(130, 130, 130)), "bicubic curve missing");
        let (w, h) = (WIDTH, HEIGHT);
        let top = srgan_charts::distinct_colours(&bytes, (90, 60), (w - 20, h / 2 - 60)).unwrap();
        let bottom =
            srgan_charts::distinct_colours(&bytes, (90, h / 2 + 40), (w - 20, h - 60)).unwrap();
        assert!(
            top >= 6 && bottom >= 4,
            "colours: top {top}, bottom {bottom}"
        );
    }

    #[test]
    fn no_records_still_draws_the_titles() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("curves.png");
        plot_metrics(&dir.path().join("missing.jsonl"), &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        assert!(!has(&img, colour(0)));
        let n = srgan_charts::distinct_colours(&bytes, (0, 0), (WIDTH, 40)).unwrap();
        assert!(n > 3, "no title");
    }
}
