//! A PNG of the training curves, drawn with the `image` crate alone (no fonts, so no system
//! font dependency and no text): the top panel shows the running means of the losses on a log
//! scale (blue: `generator_content_loss`, green: `generator_total_loss`, red:
//! `discriminator_loss`, orange: `generator_adversarial_loss`), the bottom panel the validation
//! PSNR (blue) and the bicubic PSNR (grey). Grey grid lines: every decade of loss, every dB of
//! PSNR. The x axis is the iteration, shared by both panels.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{ModelsError, Result};
use crate::logging;

const W: u32 = 900;
const H: u32 = 640;
const MARGIN: u32 = 20;

struct Panel {
    x0: u32,
    y0: u32,
    w: u32,
    h: u32,
}

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb<u8>) {
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
            let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, c);
            }
        }
    }
}

fn frame(img: &mut RgbImage, p: &Panel) {
    let c = Rgb([0, 0, 0]);
    let (x0, y0, x1, y1) = (
        p.x0 as f64,
        p.y0 as f64,
        (p.x0 + p.w) as f64,
        (p.y0 + p.h) as f64,
    );
    line(img, (x0, y0), (x1, y0), c);
    line(img, (x0, y1), (x1, y1), c);
    line(img, (x0, y0), (x0, y1), c);
    line(img, (x1, y0), (x1, y1), c);
}

fn series(
    img: &mut RgbImage,
    p: &Panel,
    pts: &[(f64, f64)],
    xr: (f64, f64),
    yr: (f64, f64),
    c: Rgb<u8>,
) {
    let map = |(x, y): (f64, f64)| {
        let fx = if xr.1 > xr.0 {
            (x - xr.0) / (xr.1 - xr.0)
        } else {
            0.5
        };
        let fy = if yr.1 > yr.0 {
            (y - yr.0) / (yr.1 - yr.0)
        } else {
            0.5
        };
        (
            p.x0 as f64 + fx * p.w as f64,
            (p.y0 + p.h) as f64 - fy * p.h as f64,
        )
    };
    if pts.len() == 1 {
        let (x, y) = map(pts[0]);
        line(img, (x - 2.0, y), (x + 2.0, y), c);
    }
    for w in pts.windows(2) {
        line(img, map(w[0]), map(w[1]), c);
    }
}

fn range(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    vals.filter(|v| v.is_finite())
        .fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Reads `metrics` (JSONL) and writes the plot to `out` atomically.
pub fn plot_metrics(metrics: &Path, out: &Path) -> Result<()> {
    let recs = logging::read_all(metrics);
    let get = |kind: &str, key: &str| -> Vec<(f64, f64)> {
        recs.iter()
            .filter(|r| r["kind"] == kind)
            .filter_map(|r| Some((r["iteration"].as_f64()?, r[key].as_f64()?)))
            .collect()
    };
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let ph = (H - 3 * MARGIN) / 2;
    let top = Panel {
        x0: MARGIN,
        y0: MARGIN,
        w: W - 2 * MARGIN,
        h: ph,
    };
    let bottom = Panel {
        x0: MARGIN,
        y0: 2 * MARGIN + ph,
        w: W - 2 * MARGIN,
        h: ph,
    };
    let xr = range(recs.iter().filter_map(|r| r["iteration"].as_f64())).unwrap_or((0.0, 1.0));
    let xr = (0.0, xr.1.max(1.0));
    let grid = Rgb([225, 225, 225]);
    // Losses, log10 scale.
    type Series = (Vec<(f64, f64)>, Rgb<u8>);
    let losses: Vec<Series> = [
        ("generator_content_loss", Rgb([31, 119, 180])),
        ("generator_total_loss", Rgb([44, 160, 44])),
        ("discriminator_loss", Rgb([214, 39, 40])),
        ("generator_adversarial_loss", Rgb([255, 127, 14])),
    ]
    .into_iter()
    .map(|(k, c)| {
        let pts = get("train", k)
            .into_iter()
            .filter(|p| p.1 > 0.0)
            .map(|(x, y)| (x, y.log10()))
            .collect();
        (pts, c)
    })
    .collect();
    if let Some((lo, hi)) = range(losses.iter().flat_map(|(p, _)| p.iter().map(|q| q.1))) {
        let yr = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
        for d in (yr.0 as i64)..=(yr.1 as i64) {
            series(
                &mut img,
                &top,
                &[(xr.0, d as f64), (xr.1, d as f64)],
                xr,
                yr,
                grid,
            );
        }
        for (pts, c) in &losses {
            series(&mut img, &top, pts, xr, yr, *c);
        }
    }
    // PSNR.
    let psnr = get("val", "psnr");
    let bic = get("val", "bicubic_psnr");
    if let Some((lo, hi)) = range(psnr.iter().chain(&bic).map(|p| p.1)) {
        let yr = (lo.floor() - 0.5, hi.ceil() + 0.5);
        let mut d = yr.0.ceil();
        while d <= yr.1 {
            series(&mut img, &bottom, &[(xr.0, d), (xr.1, d)], xr, yr, grid);
            d += 1.0;
        }
        series(&mut img, &bottom, &bic, xr, yr, Rgb([150, 150, 150]));
        series(&mut img, &bottom, &psnr, xr, yr, Rgb([31, 119, 180]));
    }
    frame(&mut img, &top);
    frame(&mut img, &bottom);
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| ModelsError::Image {
            path: out.into(),
            reason: e.to_string(),
        })?;
    srgan_export::atomic_write(out, &bytes)?;
    Ok(())
}
