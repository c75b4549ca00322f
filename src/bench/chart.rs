//! The PNG chart: achieved GFLOP/s per input shape, one bar per runtime and peer, the CPU
//! ceiling as a dashed line. Drawn pixel by pixel with the `image` crate and the bitmap font
//! of [`font`](super::font): no font file, no plotting library. A model whose architecture is
//! unknown (no FLOP count) is charted in output megapixels per second instead.

use image::{Rgb, RgbImage};

use super::font;
use super::report::Report;

const W: u32 = 1000;
const H: u32 = 560;
const LEFT: i64 = 90;
const RIGHT: i64 = 20;
const TOP: i64 = 80;
const BOTTOM: i64 = 70;
const TEXT_SCALE: i64 = 2;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([30, 30, 30]);
const GREY: Rgb<u8> = Rgb([215, 215, 215]);
const RED: Rgb<u8> = Rgb([200, 40, 40]);
const PALETTE: [Rgb<u8>; 6] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([23, 190, 207]),
];

struct Series {
    name: String,
    /// Value per group, `None` where not measured.
    values: Vec<Option<f64>>,
}

fn fill(img: &mut RgbImage, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    for y in y0.max(0)..y1.min(h) {
        for x in x0.max(0)..x1.min(w) {
            img.put_pixel(x as u32, y as u32, c);
        }
    }
}

/// Draws `text` with its top-left corner at (x, y).
fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, c: Rgb<u8>) {
    let step = (font::WIDTH as i64 + 1) * TEXT_SCALE;
    for (i, ch) in s.chars().enumerate() {
        let gx = x + i as i64 * step;
        for (row, bits) in font::glyph(ch).iter().enumerate() {
            for (col, b) in bits.chars().enumerate() {
                if b == '#' {
                    let px = gx + col as i64 * TEXT_SCALE;
                    let py = y + row as i64 * TEXT_SCALE;
                    fill(img, px, py, px + TEXT_SCALE, py + TEXT_SCALE, c);
                }
            }
        }
    }
}

fn text_width(s: &str) -> i64 {
    font::text_width(s) as i64 * TEXT_SCALE
}

fn text_height() -> i64 {
    font::HEIGHT as i64 * TEXT_SCALE
}

/// A round step giving about `n` ticks up to `max`.
fn tick_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// An axis label with as many decimals as the step needs.
fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    format!("{v:.decimals$}")
}

/// Draws the chart of a report.
pub fn draw(rep: &Report) -> RgbImage {
    let use_flops = rep.results.iter().any(|c| c.gflops.is_some());
    let metric = |gflops: Option<f64>, mpix: f64| if use_flops { gflops } else { Some(mpix) };

    // Groups: (lr, batch) in the order measured.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for c in &rep.results {
        if !groups.contains(&(c.lr, c.batch)) {
            groups.push((c.lr, c.batch));
        }
    }
    let mut series: Vec<Series> = Vec::new();
    let mut push = |name: String, group: (usize, usize), v: Option<f64>| {
        let gi = groups.iter().position(|g| *g == group);
        let Some(gi) = gi else { return };
        let idx = match series.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                series.push(Series {
                    name,
                    values: vec![None; groups.len()],
                });
                series.len() - 1
            }
        };
        series[idx].values[gi] = v;
    };
    for c in &rep.results {
        push(
            c.runtime.clone(),
            (c.lr, c.batch),
            metric(c.gflops, c.out_mpix_per_s),
        );
    }
    if let Some(p) = &rep.peers {
        let scale = rep.model.scale.unwrap_or(0) as f64;
        for c in &p.model {
            let gflops = rep
                .model
                .gflop_lr64
                .map(|g| g * (c.batch * c.lr * c.lr) as f64 / 4096.0 / c.summary.p50_s);
            let mpix = c.batch as f64 * (c.lr as f64 * scale).powi(2) / 1e6 / c.summary.p50_s;
            push(
                format!("{} (py)", c.peer),
                (c.lr, c.batch),
                metric(gflops, mpix),
            );
        }
    }

    let mut img = RgbImage::from_pixel(W, H, WHITE);
    let title = format!(
        "SRGAN X{} {}: {} THREADS, {}",
        rep.model.scale.unwrap_or(0),
        if use_flops {
            "ACHIEVED GFLOP/S"
        } else {
            "OUTPUT MPIX/S"
        },
        rep.threads,
        rep.date_utc.get(..10).unwrap_or("")
    );
    text(&mut img, LEFT, 12, &title, BLACK);

    let ceiling = if use_flops {
        rep.ceiling.cpu_gflops
    } else {
        None
    };
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .chain(ceiling)
        .fold(0.0f64, f64::max);
    let (x0, x1, y0, y1) = (LEFT, W as i64 - RIGHT, TOP, H as i64 - BOTTOM);
    if groups.is_empty() || series.is_empty() || max <= 0.0 {
        text(&mut img, LEFT, TOP, "NO RESULTS", RED);
        return img;
    }
    let step = tick_step(max * 1.1, 6.0);
    let top_value = (max * 1.1 / step).ceil() * step;
    let y_of = |v: f64| y1 - ((v / top_value) * (y1 - y0) as f64).round() as i64;

    // Grid and axis labels.
    let mut v = 0.0;
    while v <= top_value + step * 0.01 {
        let y = y_of(v);
        fill(&mut img, x0, y, x1, y + 1, GREY);
        let label = fmt_tick(v, step);
        text(
            &mut img,
            x0 - 8 - text_width(&label),
            y - text_height() / 2,
            &label,
            BLACK,
        );
        v += step;
    }
    fill(&mut img, x0, y0, x0 + 2, y1 + 1, BLACK);
    fill(&mut img, x0, y1, x1, y1 + 2, BLACK);

    // Bars.
    let group_w = (x1 - x0) / groups.len() as i64;
    let bar_w = ((group_w - 20) / series.len() as i64).max(2);
    for (gi, &(lr, batch)) in groups.iter().enumerate() {
        let gx = x0 + gi as i64 * group_w + 10;
        for (si, s) in series.iter().enumerate() {
            let Some(v) = s.values[gi] else { continue };
            let bx = gx + si as i64 * bar_w;
            let colour = PALETTE[si % PALETTE.len()];
            fill(&mut img, bx + 1, y_of(v), bx + bar_w - 1, y1, colour);
            let label = fmt_value(v);
            if text_width(&label) <= bar_w + 8 {
                let lx = bx + (bar_w - text_width(&label)) / 2;
                text(&mut img, lx, y_of(v) - text_height() - 4, &label, BLACK);
            }
        }
        let label = format!("LR{lr} B{batch}");
        let lx = x0 + gi as i64 * group_w + (group_w - text_width(&label)) / 2;
        text(&mut img, lx, y1 + 12, &label, BLACK);
    }

    // The ceiling, dashed.
    if let Some(c) = ceiling {
        let y = y_of(c);
        let mut x = x0;
        while x < x1 {
            fill(&mut img, x, y - 1, (x + 12).min(x1), y + 1, RED);
            x += 20;
        }
        let label = format!("CPU CEILING {}", fmt_value(c));
        text(
            &mut img,
            x1 - text_width(&label),
            y - text_height() - 4,
            &label,
            RED,
        );
    }

    // Legend, under the title.
    let mut lx = LEFT;
    let ly = 12 + text_height() + 14;
    for (si, s) in series.iter().enumerate() {
        let colour = PALETTE[si % PALETTE.len()];
        fill(&mut img, lx, ly, lx + 14, ly + 14, colour);
        text(&mut img, lx + 20, ly, &s.name, BLACK);
        lx += 20 + text_width(&s.name) + 24;
    }
    let foot = format!(
        "{} | {}",
        rep.model.description,
        rep.commit
            .as_deref()
            .map_or("no commit", |c| c.get(..12).unwrap_or(c))
    );
    text(&mut img, LEFT, H as i64 - 28, &foot, BLACK);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(230.0, 6.0), 50.0);
        assert_eq!(tick_step(1.0, 5.0), 0.2);
        assert_eq!(tick_step(12.0, 6.0), 2.0);
    }
}
