//! PSNR and SSIM on the Y channel (ITU-R BT.601, MATLAB's `rgb2ycbcr`: Y in [16, 235]) with a
//! border of `scale` pixels cropped, the protocol of the SRGAN paper's tables. Thin wrappers
//! over [`srgan_imaging::metrics`] for 8-bit RGB images, so that training validation and
//! `srgan-eval` report the same numbers.

use image::RgbImage;
use srgan_imaging::metrics;
use srgan_runtimes::ndarray::Array3;

/// `[3, H, W]` in [0, 1].
pub fn to_chw(img: &RgbImage) -> Array3<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    Array3::from_shape_fn((3, h, w), |(c, y, x)| {
        img.get_pixel(x as u32, y as u32).0[c] as f32 / 255.0
    })
}

/// PSNR in dB of `a` against `b` on Y with `border` pixels cropped (infinite when identical;
/// NaN when the sizes differ or nothing is left).
pub fn psnr_y(a: &RgbImage, b: &RgbImage, border: usize) -> f64 {
    metrics::psnr_y(to_chw(a).view(), to_chw(b).view(), border).unwrap_or(f64::NAN)
}

/// SSIM of `a` against `b` on Y with `border` pixels cropped (NaN when the sizes differ or less
/// than 11x11 pixels are left).
pub fn ssim_y(a: &RgbImage, b: &RgbImage, border: usize) -> f64 {
    metrics::ssim_y(to_chw(a).view(), to_chw(b).view(), border).unwrap_or(f64::NAN)
}
