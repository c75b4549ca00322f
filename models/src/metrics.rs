//! PSNR and SSIM on the Y channel (ITU-R BT.601, as MATLAB's `rgb2ycbcr`: Y in [16, 235]) with
//! a border of `scale` pixels cropped: the protocol of the SRGAN paper's tables.
//!
//! SSIM is Wang et al. (2004): Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03, L 255,
//! averaged over the "valid" positions. These stand in until `srgan_imaging` exports its own
//! metrics; the definitions are the same.

use image::RgbImage;

/// BT.601 luma of every pixel, in [16, 235].
pub fn y_channel(img: &RgbImage) -> Vec<f64> {
    img.pixels()
        .map(|p| {
            let [r, g, b] = p.0.map(|v| v as f64 / 255.0);
            16.0 + 65.481 * r + 128.553 * g + 24.966 * b
        })
        .collect()
}

fn cropped_y(img: &RgbImage, border: usize) -> (Vec<f64>, usize, usize) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let y = y_channel(img);
    let (cw, ch) = (w.saturating_sub(2 * border), h.saturating_sub(2 * border));
    let mut out = Vec::with_capacity(cw * ch);
    for r in border..border + ch {
        out.extend_from_slice(&y[r * w + border..r * w + border + cw]);
    }
    (out, cw, ch)
}

/// PSNR in dB of `a` against `b` on Y with `border` pixels cropped from every side (infinite
/// for identical images). Panics if the sizes differ (a programming error).
pub fn psnr_y(a: &RgbImage, b: &RgbImage, border: usize) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "psnr_y: sizes differ");
    let (ya, _, _) = cropped_y(a, border);
    let (yb, _, _) = cropped_y(b, border);
    let n = ya.len().max(1) as f64;
    let mse: f64 = ya
        .iter()
        .zip(&yb)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        / n;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

fn gaussian_window() -> [f64; 11] {
    let mut w = [0.0; 11];
    for (i, v) in w.iter_mut().enumerate() {
        let x = i as f64 - 5.0;
        *v = (-(x * x) / (2.0 * 1.5 * 1.5)).exp();
    }
    let s: f64 = w.iter().sum();
    w.map(|v| v / s)
}

/// Separable "valid" filtering of a `w` x `h` map with the 11-tap window.
fn filter_valid(x: &[f64], w: usize, h: usize, k: &[f64; 11]) -> (Vec<f64>, usize, usize) {
    let (ow, oh) = (w - 10, h - 10);
    let mut tmp = vec![0.0; ow * h];
    for r in 0..h {
        for c in 0..ow {
            tmp[r * ow + c] = (0..11).map(|i| k[i] * x[r * w + c + i]).sum();
        }
    }
    let mut out = vec![0.0; ow * oh];
    for r in 0..oh {
        for c in 0..ow {
            out[r * ow + c] = (0..11).map(|i| k[i] * tmp[(r + i) * ow + c]).sum();
        }
    }
    (out, ow, oh)
}

/// SSIM of `a` against `b` on Y with `border` pixels cropped. Images smaller than the window
/// after cropping give NaN.
pub fn ssim_y(a: &RgbImage, b: &RgbImage, border: usize) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "ssim_y: sizes differ");
    let (x, w, h) = cropped_y(a, border);
    let (y, _, _) = cropped_y(b, border);
    if w < 11 || h < 11 {
        return f64::NAN;
    }
    let k = gaussian_window();
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    let (mx, _, _) = filter_valid(&x, w, h, &k);
    let (my, _, _) = filter_valid(&y, w, h, &k);
    let (sxx, _, _) = filter_valid(&xx, w, h, &k);
    let (syy, _, _) = filter_valid(&yy, w, h, &k);
    let (sxy, _, _) = filter_valid(&xy, w, h, &k);
    let n = mx.len() as f64;
    let mut total = 0.0;
    for i in 0..mx.len() {
        let (ux, uy) = (mx[i], my[i]);
        let vx = sxx[i] - ux * ux;
        let vy = syy[i] - uy * uy;
        let cxy = sxy[i] - ux * uy;
        total +=
            ((2.0 * ux * uy + c1) * (2.0 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
    total / n
}
