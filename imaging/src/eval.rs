//! The evaluation protocol of the SRGAN paper's tables, in one place: trainer validation,
//! `srgan-eval` and `srgan-figure` all go through [`EvalImage`].
//!
//! 1. The HR photo is cropped (top left) to sides that are multiples of the scale.
//! 2. Its LR is the MATLAB-style bicubic downscale ([`resample::downscale`], antialiased),
//!    rounded to 8 bits, as a saved LR image would be.
//! 3. The model upscales that LR; its output is rounded to 8 bits ([`quantise`]), as a saved
//!    output image would be (the same rounding as [`pipeline`](crate::pipeline)'s outputs).
//! 4. PSNR and SSIM are taken on the Y channel (BT.601) with a border of `scale` pixels
//!    cropped ([`metrics::psnr_y`], [`metrics::ssim_y`]).
//!
//! The bicubic baseline is the [`resample::upscale`] of the same LR, rounded to 8 bits.
//! The model is any closure from an LR batch `[1, 3, h, w]` to its upscale (so the tch
//! trainer can call its network directly), or an [`Upscaler`].

use image::{imageops, RgbImage};
use ndarray::{s, Array4, ArrayView4};
use srgan_runtimes::Upscaler;

use crate::metrics::{self, MetricsError};
use crate::pipeline::{rgb_to_tensor, tensor_to_rgb};
use crate::resample;

/// Errors of the evaluation protocol.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The cropped image leaves no 11x11 SSIM window inside the border.
    #[error("{width}x{height} is too small for SSIM after cropping {scale} pixels of border")]
    TooSmall {
        /// Width after cropping to a multiple of the scale.
        width: usize,
        /// Height after cropping to a multiple of the scale.
        height: usize,
        /// The scale (and border).
        scale: usize,
    },
    /// The model's output does not have the HR's shape.
    #[error("the model returned {found:?} for an LR of {lr:?}; expected {expected:?}")]
    OutputShape {
        /// The shape returned.
        found: Vec<usize>,
        /// The LR's shape.
        lr: Vec<usize>,
        /// The HR's shape.
        expected: Vec<usize>,
    },
    /// The model failed.
    #[error(transparent)]
    Model(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// PSNR or SSIM could not be taken.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// PSNR (dB) and SSIM of one output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// PSNR on Y, in dB.
    pub psnr: f64,
    /// SSIM on Y.
    pub ssim: f64,
}

/// The model's and bicubic's scores on one image, or their means over several.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// PSNR of the model on Y, in dB.
    pub psnr: f64,
    /// SSIM of the model on Y.
    pub ssim: f64,
    /// PSNR of bicubic upscaling on Y, in dB.
    pub bicubic_psnr: f64,
    /// SSIM of bicubic upscaling on Y.
    pub bicubic_ssim: f64,
}

impl Scores {
    /// The mean of each field (NaN for no scores).
    pub fn mean(scores: &[Scores]) -> Scores {
        let mut sum = [0.0f64; 4];
        for s in scores {
            for (a, v) in sum
                .iter_mut()
                .zip([s.psnr, s.ssim, s.bicubic_psnr, s.bicubic_ssim])
            {
                *a += v;
            }
        }
        let [psnr, ssim, bicubic_psnr, bicubic_ssim] = sum.map(|v| v / scores.len() as f64);
        Scores {
            psnr,
            ssim,
            bicubic_psnr,
            bicubic_ssim,
        }
    }
}

/// Rounds to 8 bits, as a saved image would be (clamped to [0, 1]).
pub fn quantise(x: ArrayView4<'_, f32>) -> Array4<f32> {
    x.mapv(|v| (v.clamp(0.0, 1.0) * 255.0).round() / 255.0)
}

/// One HR photo prepared for the protocol: cropped to a multiple of the scale, with its 8-bit
/// LR. Both are kept as 8-bit images (a quarter of the memory of f32 tensors).
#[derive(Debug, Clone)]
pub struct EvalImage {
    hr: RgbImage,
    lr: RgbImage,
    scale: usize,
}

impl EvalImage {
    /// Steps 1 and 2 of the protocol: crops `photo` to a multiple of `scale` (at least 1) and
    /// makes its LR.
    pub fn new(photo: &RgbImage, scale: usize) -> Self {
        let scale = scale.max(1);
        let s = scale as u32;
        let (w, h) = (photo.width() / s * s, photo.height() / s * s);
        let hr = imageops::crop_imm(photo, 0, 0, w, h).to_image();
        let lr = tensor_to_rgb(resample::downscale(rgb_to_tensor(&hr).view(), scale).view());
        Self { hr, lr, scale }
    }

    /// Steps 1 and 2, then the LR degraded by `d` (its noise drawn from `rng`): the protocol
    /// on degraded inputs. At scale 1 the LR is the HR itself, so the baseline
    /// ([`bicubic`](Self::bicubic), the identity at scale 1) is the degraded input.
    pub fn degraded<R: rand::Rng + ?Sized>(
        photo: &RgbImage,
        scale: usize,
        d: crate::degrade::Fixed,
        rng: &mut R,
    ) -> Self {
        let mut e = Self::new(photo, scale);
        e.lr = d.apply(&e.lr, rng);
        e
    }

    /// The HR, sides multiples of the scale.
    pub fn hr(&self) -> &RgbImage {
        &self.hr
    }

    /// The LR: the HR's bicubic downscale, 8 bits.
    pub fn lr(&self) -> &RgbImage {
        &self.lr
    }

    /// The scale, which is also the border cropped for the metrics.
    pub fn scale(&self) -> usize {
        self.scale
    }

    /// The HR as `[1, 3, H, W]` in [0, 1].
    pub fn hr_tensor(&self) -> Array4<f32> {
        rgb_to_tensor(&self.hr)
    }

    /// The LR as `[1, 3, h, w]` in [0, 1]: the model's input.
    pub fn lr_tensor(&self) -> Array4<f32> {
        rgb_to_tensor(&self.lr)
    }

    /// The bicubic baseline: the LR upscaled by MATLAB's bicubic, rounded to 8 bits.
    pub fn bicubic(&self) -> Array4<f32> {
        quantise(resample::upscale(self.lr_tensor().view(), self.scale).view())
    }

    /// An error when the cropped HR leaves no 11x11 window inside the border.
    pub fn check_size(&self) -> Result<(), EvalError> {
        let (w, h) = (self.hr.width() as usize, self.hr.height() as usize);
        if w < 2 * self.scale + 11 || h < 2 * self.scale + 11 {
            return Err(EvalError::TooSmall {
                width: w,
                height: h,
                scale: self.scale,
            });
        }
        Ok(())
    }

    /// Steps 3 and 4 for an output `sr` of the LR: rounded to 8 bits, scored against the HR.
    pub fn score(&self, sr: ArrayView4<'_, f32>) -> Result<Score, EvalError> {
        self.score_against(sr, self.hr_tensor().view())
    }

    fn score_against(
        &self,
        sr: ArrayView4<'_, f32>,
        hr: ArrayView4<'_, f32>,
    ) -> Result<Score, EvalError> {
        if sr.shape() != hr.shape() {
            return Err(EvalError::OutputShape {
                found: sr.shape().to_vec(),
                lr: vec![1, 3, self.lr.height() as usize, self.lr.width() as usize],
                expected: hr.shape().to_vec(),
            });
        }
        let sr = quantise(sr);
        let (sr, hr) = (sr.slice(s![0, .., .., ..]), hr.slice(s![0, .., .., ..]));
        Ok(Score {
            psnr: metrics::psnr_y(sr, hr, self.scale)?,
            ssim: metrics::ssim_y(sr, hr, self.scale)?,
        })
    }

    /// The whole protocol with `model` mapping the LR batch to its upscale: the model's and
    /// bicubic's scores. The size is checked before the model runs.
    pub fn evaluate<F, E>(&self, model: F) -> Result<Scores, EvalError>
    where
        F: FnOnce(ArrayView4<'_, f32>) -> Result<Array4<f32>, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        self.check_size()?;
        let sr = model(self.lr_tensor().view()).map_err(|e| EvalError::Model(e.into()))?;
        // A NaN output would score NaN dB; say what is wrong instead.
        crate::tiling::check_finite(0, 0, &sr.view()).map_err(|e| EvalError::Model(e.into()))?;
        let hr = self.hr_tensor();
        let m = self.score_against(sr.view(), hr.view())?;
        let b = self.score_against(self.bicubic().view(), hr.view())?;
        Ok(Scores {
            psnr: m.psnr,
            ssim: m.ssim,
            bicubic_psnr: b.psnr,
            bicubic_ssim: b.ssim,
        })
    }

    /// [`evaluate`](Self::evaluate) with an [`Upscaler`].
    pub fn evaluate_upscaler(&self, up: &mut dyn Upscaler) -> Result<Scores, EvalError> {
        self.evaluate(|lr| up.upscale(lr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 + y * 3) as u8,
                (x * x + y) as u8,
                ((x ^ y) * 5) as u8,
            ])
        })
    }

    #[test]
    fn crops_to_a_multiple_of_the_scale_and_rounds_the_lr() {
        let e = EvalImage::new(&photo(43, 37), 4);
        assert_eq!(e.hr().dimensions(), (40, 36));
        assert_eq!(e.lr().dimensions(), (10, 9));
        let lr = e.lr_tensor();
        assert_eq!(quantise(lr.view()), lr);
    }

    #[test]
    fn a_perfect_model_scores_infinite_psnr_and_bicubic_does_not() {
        let e = EvalImage::new(&photo(64, 48), 2);
        let hr = e.hr_tensor();
        let s = e.evaluate(|_| Ok::<_, std::io::Error>(hr.clone())).unwrap();
        assert!(
            s.psnr.is_infinite() && (s.ssim - 1.0).abs() < 1e-12,
            "{s:?}"
        );
        assert!(s.bicubic_psnr.is_finite() && s.bicubic_ssim < 1.0, "{s:?}");
        let m = Scores::mean(&[s, s]);
        assert_eq!(m.bicubic_psnr, s.bicubic_psnr);
    }

    #[test]
    fn wrong_shapes_small_images_and_model_errors_are_reported() {
        let e = EvalImage::new(&photo(64, 48), 2);
        let err = e
            .evaluate(|lr| Ok::<_, std::io::Error>(lr.to_owned()))
            .unwrap_err();
        assert!(matches!(err, EvalError::OutputShape { .. }), "{err}");
        let small = EvalImage::new(&photo(16, 40), 4);
        let err = small
            .evaluate(|_| -> Result<Array4<f32>, std::io::Error> { unreachable!() })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "16x40 is too small for SSIM after cropping 4 pixels of border"
        );
        let err = e
            .evaluate(|_| Err(std::io::Error::other("boom")))
            .unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }
}
