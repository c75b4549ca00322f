//! PSNR and SSIM as super-resolution papers report them (SRGAN, Ledig et al. 2017, Table 2):
//! on the Y channel of YCbCr, with `scale` pixels cropped at each border.
//!
//! The conventions follow BasicSR's `calculate_psnr` / `calculate_ssim` with
//! `test_y_channel=True` (themselves MATLAB's): `Y = 16 + 65.481 R + 128.553 G + 24.966 B`
//! for RGB in [0, 1], giving Y in [16, 235] on the 0..255 scale, without rounding; PSNR with a
//! peak of 255; SSIM (Wang et al. 2004) with an 11x11 Gaussian window of sigma 1.5 over the
//! "valid" region, `C1 = (0.01 * 255)^2`, `C2 = (0.03 * 255)^2`, averaged over the map.
//! A one-channel (grey) image is used as is, times 255.

use ndarray::{s, Array2, ArrayView2, ArrayView3, Axis};

/// Errors of the metrics.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricsError {
    /// The two images differ in shape.
    #[error("images differ in shape: {a:?} vs {b:?}")]
    ShapeMismatch {
        /// First shape.
        a: Vec<usize>,
        /// Second shape.
        b: Vec<usize>,
    },
    /// The image has a channel count other than 1 or 3.
    #[error("expected 1 or 3 channels, found {found}")]
    Channels {
        /// Channels found.
        found: usize,
    },
    /// Nothing (or too little, for SSIM's window) is left after cropping the border.
    #[error("a {height}x{width} image with a border of {border} leaves less than {needed}x{needed} pixels")]
    TooSmall {
        /// Height before cropping.
        height: usize,
        /// Width before cropping.
        width: usize,
        /// The border cropped on each side.
        border: usize,
        /// The smallest size needed after cropping.
        needed: usize,
    },
}

/// The SSIM window's side.
pub const SSIM_WINDOW: usize = 11;
/// The SSIM window's Gaussian sigma.
pub const SSIM_SIGMA: f64 = 1.5;

/// The Y channel (0..255 scale) of a `[C, H, W]` image in [0, 1]: BT.601 luma with MATLAB's
/// offsets for C = 3, the channel times 255 for C = 1.
pub fn y_channel(img: ArrayView3<'_, f32>) -> Result<Array2<f64>, MetricsError> {
    match img.dim().0 {
        3 => {
            let (r, g, b) = (
                img.index_axis(Axis(0), 0),
                img.index_axis(Axis(0), 1),
                img.index_axis(Axis(0), 2),
            );
            let mut y = Array2::<f64>::zeros(r.dim());
            ndarray::Zip::from(&mut y)
                .and(&r)
                .and(&g)
                .and(&b)
                .for_each(|y, &r, &g, &b| {
                    *y = 16.0
                        + 65.481 * f64::from(r)
                        + 128.553 * f64::from(g)
                        + 24.966 * f64::from(b);
                });
            Ok(y)
        }
        1 => Ok(img.index_axis(Axis(0), 0).mapv(|v| f64::from(v) * 255.0)),
        c => Err(MetricsError::Channels { found: c }),
    }
}

fn crop<'a>(
    a: ArrayView2<'a, f64>,
    b: ArrayView2<'a, f64>,
    border: usize,
    needed: usize,
) -> Result<(ArrayView2<'a, f64>, ArrayView2<'a, f64>), MetricsError> {
    if a.dim() != b.dim() {
        return Err(MetricsError::ShapeMismatch {
            a: a.shape().to_vec(),
            b: b.shape().to_vec(),
        });
    }
    let (h, w) = a.dim();
    if h < 2 * border + needed || w < 2 * border + needed {
        return Err(MetricsError::TooSmall {
            height: h,
            width: w,
            border,
            needed,
        });
    }
    let sl = s![border..h - border, border..w - border];
    Ok((a.slice_move(sl), b.slice_move(sl)))
}

/// PSNR in dB of two planes on the 0..255 scale, `border` pixels cropped on each side;
/// infinite for identical planes.
pub fn psnr(
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
    border: usize,
) -> Result<f64, MetricsError> {
    let (a, b) = crop(a, b, border, 1)?;
    let mse = ndarray::Zip::from(&a)
        .and(&b)
        .fold(0.0, |acc, x, y| acc + (x - y) * (x - y))
        / a.len() as f64;
    Ok(if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    })
}

/// The normalised 1-D Gaussian of the SSIM window (OpenCV's `getGaussianKernel(11, 1.5)`).
fn gaussian_window() -> [f64; SSIM_WINDOW] {
    let mut g = [0.0; SSIM_WINDOW];
    let c = (SSIM_WINDOW / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        let d = i as f64 - c;
        *v = (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let sum: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= sum);
    g
}

/// Separable Gaussian filtering over the valid region: `(H-10) x (W-10)`.
fn filter_valid(x: &Array2<f64>, g: &[f64; SSIM_WINDOW]) -> Array2<f64> {
    let (h, w) = x.dim();
    let (vh, vw) = (h + 1 - SSIM_WINDOW, w + 1 - SSIM_WINDOW);
    let mut tmp = Array2::<f64>::zeros((h, vw));
    for i in 0..h {
        for j in 0..vw {
            tmp[[i, j]] = (0..SSIM_WINDOW).map(|k| g[k] * x[[i, j + k]]).sum();
        }
    }
    let mut out = Array2::<f64>::zeros((vh, vw));
    for i in 0..vh {
        for j in 0..vw {
            out[[i, j]] = (0..SSIM_WINDOW).map(|k| g[k] * tmp[[i + k, j]]).sum();
        }
    }
    out
}

/// SSIM of two planes on the 0..255 scale, `border` pixels cropped on each side; 1 for
/// identical planes. Needs at least 11x11 pixels after cropping.
pub fn ssim(
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
    border: usize,
) -> Result<f64, MetricsError> {
    let (a, b) = crop(a, b, border, SSIM_WINDOW)?;
    let (a, b) = (a.to_owned(), b.to_owned());
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let g = gaussian_window();
    let mu1 = filter_valid(&a, &g);
    let mu2 = filter_valid(&b, &g);
    let s11 = filter_valid(&(&a * &a), &g);
    let s22 = filter_valid(&(&b * &b), &g);
    let s12 = filter_valid(&(&a * &b), &g);
    let mut total = 0.0;
    ndarray::Zip::from(&mu1)
        .and(&mu2)
        .and(&s11)
        .and(&s22)
        .and(&s12)
        .for_each(|&m1, &m2, &e11, &e22, &e12| {
            let (v1, v2, v12) = (e11 - m1 * m1, e22 - m2 * m2, e12 - m1 * m2);
            total += ((2.0 * m1 * m2 + c1) * (2.0 * v12 + c2))
                / ((m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2));
        });
    Ok(total / mu1.len() as f64)
}

/// PSNR on the Y channel of two `[C, H, W]` images in [0, 1] (see the module docs).
pub fn psnr_y(
    a: ArrayView3<'_, f32>,
    b: ArrayView3<'_, f32>,
    border: usize,
) -> Result<f64, MetricsError> {
    same_shape(&a, &b)?;
    psnr(y_channel(a)?.view(), y_channel(b)?.view(), border)
}

/// SSIM on the Y channel of two `[C, H, W]` images in [0, 1] (see the module docs).
pub fn ssim_y(
    a: ArrayView3<'_, f32>,
    b: ArrayView3<'_, f32>,
    border: usize,
) -> Result<f64, MetricsError> {
    same_shape(&a, &b)?;
    ssim(y_channel(a)?.view(), y_channel(b)?.view(), border)
}

fn same_shape(a: &ArrayView3<'_, f32>, b: &ArrayView3<'_, f32>) -> Result<(), MetricsError> {
    if a.shape() != b.shape() {
        return Err(MetricsError::ShapeMismatch {
            a: a.shape().to_vec(),
            b: b.shape().to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn plane(h: usize, w: usize, f: impl Fn(usize, usize) -> f64) -> Array2<f64> {
        Array2::from_shape_fn((h, w), |(i, j)| f(i, j))
    }

    #[test]
    fn y_of_white_and_black_is_235_and_16() {
        let white = Array3::<f32>::ones((3, 2, 2));
        let black = Array3::<f32>::zeros((3, 2, 2));
        assert!(y_channel(white.view())
            .unwrap()
            .iter()
            .all(|v| (v - 235.0).abs() < 1e-9));
        assert!(y_channel(black.view())
            .unwrap()
            .iter()
            .all(|v| (v - 16.0).abs() < 1e-9));
        let grey = Array3::<f32>::from_elem((1, 2, 2), 0.5);
        assert!(y_channel(grey.view())
            .unwrap()
            .iter()
            .all(|v| (v - 127.5).abs() < 1e-9));
        let four = Array3::<f32>::zeros((4, 2, 2));
        assert_eq!(
            y_channel(four.view()),
            Err(MetricsError::Channels { found: 4 })
        );
    }

    #[test]
    fn identical_images_give_infinite_psnr_and_unit_ssim() {
        let a = Array3::from_shape_fn((3, 20, 24), |(c, i, j)| ((c + i * j) % 11) as f32 / 10.0);
        assert_eq!(psnr_y(a.view(), a.view(), 4).unwrap(), f64::INFINITY);
        assert!((ssim_y(a.view(), a.view(), 4).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn constant_offset_gives_the_hand_computed_psnr() {
        // Every RGB channel up by 10/255 moves Y by 219 * 10/255 = 8.588235...;
        // PSNR = 20 log10(255 / 8.588235) = 20 log10(29.691781) = 29.452...
        let a = Array3::from_shape_fn((3, 8, 8), |(c, i, j)| {
            (0.2 + 0.01 * (c + i + j) as f64) as f32
        });
        let b = a.mapv(|v| v + 10.0 / 255.0);
        let p = psnr_y(a.view(), b.view(), 2).unwrap();
        assert!((p - 29.452_724_920_555_84).abs() < 1e-4, "{p}");
        // On planes: a difference of 1 level everywhere is 20 log10(255) = 48.1308 dB.
        let x = plane(5, 5, |i, j| (i * j) as f64);
        let y = x.mapv(|v| v + 1.0);
        assert!((psnr(x.view(), y.view(), 0).unwrap() - 48.130_803_6).abs() < 1e-6);
    }

    #[test]
    fn border_is_cropped() {
        // A difference only in the outer ring does not count once the ring is cropped.
        let x = plane(6, 6, |_, _| 100.0);
        let y = plane(6, 6, |i, j| if i == 0 || j == 5 { 0.0 } else { 100.0 });
        assert!(psnr(x.view(), y.view(), 0).unwrap().is_finite());
        assert_eq!(psnr(x.view(), y.view(), 1).unwrap(), f64::INFINITY);
        assert!(matches!(
            psnr(x.view(), y.view(), 3),
            Err(MetricsError::TooSmall { .. })
        ));
        assert!(matches!(
            ssim(x.view(), y.view(), 0),
            Err(MetricsError::TooSmall { needed: 11, .. })
        ));
    }

    #[test]
    fn ssim_of_constant_planes_is_the_luminance_term() {
        // No variance: SSIM = (2 a b + C1) / (a^2 + b^2 + C1), C1 = 6.5025.
        // a = 100, b = 110: 22006.5025 / 22106.5025 = 0.995476...
        let a = plane(12, 13, |_, _| 100.0);
        let b = plane(12, 13, |_, _| 110.0);
        let v = ssim(a.view(), b.view(), 0).unwrap();
        assert!((v - 22006.5025 / 22106.5025).abs() < 1e-9, "{v}");
    }

    #[test]
    fn ssim_matches_scikit_image() {
        // Reference: skimage.metrics.structural_similarity(a, b, gaussian_weights=True,
        // sigma=1.5, use_sample_covariance=False, data_range=255) on these planes
        // (skimage crops the 5-pixel rim, which is BasicSR's valid region).
        let a = plane(24, 20, |i, j| ((i * 7 + j * 13) % 29) as f64 * 8.0);
        let b = plane(24, 20, |i, j| {
            a[[i, j]] + (((i * 3 + j * 5) % 7) as f64 - 3.0) * 6.0 + ((i * i + j) % 5) as f64 * 4.0
        });
        let v = ssim(a.view(), b.view(), 0).unwrap();
        assert!((v - SKIMAGE_REFERENCE).abs() < 1e-9, "{v}");
        let v2 = ssim(a.view(), b.view(), 2).unwrap();
        assert!((v2 - SKIMAGE_REFERENCE_BORDER2).abs() < 1e-9, "{v2}");
    }

    const SKIMAGE_REFERENCE: f64 = 0.978_346_935_562_742_1;
    const SKIMAGE_REFERENCE_BORDER2: f64 = 0.976_820_836_558_117_2;
}
