//! The effective receptive-field radius of a model, measured: the smallest context `d` (LR
//! pixels on every side) for which an output computed from only `d` pixels of context stays
//! within a tolerance of the output computed from much more. Tiling with that pad then stays
//! within the tolerance (on images like the probe), where the exact radius is impractical
//! (RRDBNet 23 blocks: 349) or unknown (a foreign model).
//!
//! Method (the tiler's own situation, reproduced): around each probe point, a window of side
//! `2R + c` (`R` the largest radius tried, `c` a small core) is run once as the reference;
//! then windows of side `2d + c` centred on the same core, each cut off beyond `d` exactly as
//! a tile is (the model's zero padding takes over), and the `c x c` core's output is compared
//! with the reference's. The smallest `d` within the tolerance at every probe point is found
//! by bisection (context helps monotonically in practice; the result is re-checked).

use srgan_contract::metadata::keys;
use srgan_contract::proto::{ModelProto, StringStringEntryProto};
use srgan_runtimes::ndarray::{s, Array4, ArrayView4};
use srgan_runtimes::Upscaler;

use crate::tiling::TilingError;

/// The bundled probe photo: scikit-image's `chelsea` (CC0), 451x300, in `assets/`.
const PROBE: &[u8] = include_bytes!("../../assets/chelsea.png");

/// The largest radius the bundled probe photo allows: `(300 - CORE) / 2`.
pub const PROBE_MAX_RADIUS: usize = 146;

/// Probe points of a measurement on the bundled photo.
pub const PROBE_POINTS: usize = 3;

/// The default tolerance, in 8-bit levels of the [0, 1] output.
pub const DEFAULT_TOLERANCE_LEVELS: f32 = 0.25;

/// The bundled probe photo as a model input, `[1, 3, 300, 451]` in [0, 1].
pub fn probe_photo() -> Array4<f32> {
    let img = image::load_from_memory(PROBE)
        .expect("the bundled probe photo decodes")
        .to_rgb8();
    image_input(&img)
}

/// An RGB image as a model input, `[1, 3, H, W]` in [0, 1].
pub fn image_input(img: &image::RgbImage) -> Array4<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    Array4::from_shape_fn([1, 3, h, w], |(_, c, y, x)| {
        f32::from(img.get_pixel(x as u32, y as u32)[c]) / 255.0
    })
}

/// Measures `up`'s effective radius on the bundled probe photo at [`PROBE_POINTS`] points:
/// [`measure_effective_radius`] with `max_radius` at most [`PROBE_MAX_RADIUS`] (default: the
/// model's exact radius, else [`PROBE_MAX_RADIUS`]) and `tolerance_levels` of 255.
pub fn measure_on_probe(
    up: &mut dyn Upscaler,
    max_radius: Option<usize>,
    tolerance_levels: f32,
) -> Result<EffectiveRadius, TilingError> {
    let max_radius = max_radius
        .unwrap_or_else(|| up.info().radius().unwrap_or(PROBE_MAX_RADIUS))
        .min(PROBE_MAX_RADIUS);
    measure_effective_radius(
        up,
        probe_photo().view(),
        max_radius,
        tolerance_levels / 255.0,
        PROBE_POINTS,
    )
}

/// Sets `srgan.effective_radius` (and `srgan.effective_radius_tolerance`, which says how it
/// was measured: `tolerance_levels`, `how`, e.g. "srgan-pad, ort") in `m`'s metadata,
/// replacing earlier values.
pub fn record(m: &mut ModelProto, r: &EffectiveRadius, tolerance_levels: f32, how: &str) {
    let mut set = |key: &str, value: String| {
        m.metadata_props.retain(|p| p.key != key);
        m.metadata_props.push(StringStringEntryProto {
            key: key.into(),
            value,
        });
    };
    set(keys::EFFECTIVE_RADIUS, r.radius.to_string());
    set(
        keys::EFFECTIVE_RADIUS_TOLERANCE,
        format!(
            "{tolerance_levels} levels of 255 ({how}, {} probes of a photo, largest radius \
             tried {})",
            r.probes, r.max_radius
        ),
    );
}

/// Side of the core whose output is compared, in LR pixels.
pub const CORE: usize = 8;

/// What [`measure_effective_radius`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveRadius {
    /// The effective radius, LR pixels.
    pub radius: usize,
    /// The largest radius tried (the reference windows' context).
    pub max_radius: usize,
    /// The worst difference at `radius` over every probe point, on the [0, 1] output.
    pub max_diff: f32,
    /// Probe points used.
    pub probes: usize,
    /// Model calls made.
    pub calls: usize,
}

/// Measures the effective radius of `up` on `image` (`[1, 3, H, W]` in [0, 1]): the smallest
/// `d <= max_radius` whose outputs stay within `tolerance` (on the [0, 1] output) of the
/// reference's at up to `probes` points spread over the image. `max_radius` is lowered to fit
/// the image (`2R + CORE <= min(H, W)`).
pub fn measure_effective_radius(
    up: &mut dyn Upscaler,
    image: ArrayView4<'_, f32>,
    max_radius: usize,
    tolerance: f32,
    probes: usize,
) -> Result<EffectiveRadius, TilingError> {
    let (h, w) = (image.shape()[2], image.shape()[3]);
    let side = h.min(w);
    let max_radius = max_radius.min(side.saturating_sub(CORE) / 2);
    let probes = probes.max(1);
    let s = up.scale();
    // Probe points: window origins spread along the diagonal of the free range.
    let full = 2 * max_radius + CORE;
    let origins: Vec<(usize, usize)> = (0..probes)
        .map(|k| {
            let t = (k + 1) as f64 / (probes + 1) as f64;
            (
                ((h - full) as f64 * t).round() as usize,
                ((w - full) as f64 * t).round() as usize,
            )
        })
        .collect();
    let mut calls = 0usize;
    let mut core_out = |up: &mut dyn Upscaler, y0: usize, x0: usize, d: usize| {
        // The window of context d around the core at (y0 + R, x0 + R).
        let (cy, cx) = (y0 + max_radius, x0 + max_radius);
        let win = image.slice(s![.., .., cy - d..cy + CORE + d, cx - d..cx + CORE + d]);
        calls += 1;
        let out = up.upscale(win.to_owned().view())?;
        Ok::<Array4<f32>, TilingError>(
            out.slice(s![.., .., d * s..(d + CORE) * s, d * s..(d + CORE) * s])
                .to_owned(),
        )
    };
    let mut refs = Vec::with_capacity(origins.len());
    for &(y0, x0) in &origins {
        refs.push(core_out(up, y0, x0, max_radius)?);
    }
    let mut diff_at = |up: &mut dyn Upscaler, d: usize| -> Result<f32, TilingError> {
        let mut worst = 0.0f32;
        for (&(y0, x0), r) in origins.iter().zip(&refs) {
            let got = core_out(up, y0, x0, d)?;
            let m = got
                .iter()
                .zip(r.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            worst = worst.max(m);
            if worst > tolerance {
                break;
            }
        }
        Ok(worst)
    };
    let (mut lo, mut hi) = (0usize, max_radius);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if diff_at(up, mid)? <= tolerance {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let max_diff = if lo == max_radius {
        0.0
    } else {
        diff_at(up, lo)?
    };
    Ok(EffectiveRadius {
        radius: lo,
        max_radius,
        max_diff,
        probes: origins.len(),
        calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use srgan_runtimes::ndarray::Array4;
    use srgan_runtimes::{ModelInfo, RuntimeError};

    /// A box blur of radius `r` (zero padding) applied `k` times, x1: its output moves with
    /// input up to `r * k` away, ever less with distance.
    struct Blur {
        r: usize,
        k: usize,
        info: ModelInfo,
    }

    impl Upscaler for Blur {
        fn name(&self) -> &str {
            "blur"
        }
        fn scale(&self) -> usize {
            1
        }
        fn info(&self) -> &ModelInfo {
            &self.info
        }
        fn upscale(&mut self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>, RuntimeError> {
            let mut a = x.to_owned();
            let (h, w) = (a.shape()[2], a.shape()[3]);
            let r = self.r as isize;
            for _ in 0..self.k {
                let src = a.clone();
                for c in 0..3 {
                    for y in 0..h as isize {
                        for xx in 0..w as isize {
                            let mut sum = 0.0;
                            for dy in -r..=r {
                                for dx in -r..=r {
                                    let (yy, xq) = (y + dy, xx + dx);
                                    if yy >= 0 && xq >= 0 && (yy as usize) < h && (xq as usize) < w
                                    {
                                        sum += src[[0, c, yy as usize, xq as usize]];
                                    }
                                }
                            }
                            a[[0, c, y as usize, xx as usize]] =
                                sum / ((2 * r + 1) * (2 * r + 1)) as f32;
                        }
                    }
                }
            }
            Ok(a)
        }
    }

    fn image(n: usize) -> Array4<f32> {
        Array4::from_shape_fn([1, 3, n, n], |(_, c, y, x)| {
            (((y * 7 + x * 13 + c * 5) % 23) as f32) / 22.0
        })
    }

    #[test]
    fn exact_radius_at_zero_tolerance_and_less_when_tolerant() {
        let mut m = Blur {
            r: 1,
            k: 4,
            info: ModelInfo::default(),
        };
        let img = image(40);
        // At zero tolerance the effective radius is the exact one (4).
        let e = measure_effective_radius(&mut m, img.view(), 12, 0.0, 2).unwrap();
        assert_eq!((e.radius, e.max_diff), (4, 0.0), "{e:?}");
        // Tolerating some difference, less context does.
        let e = measure_effective_radius(&mut m, img.view(), 12, 0.02, 2).unwrap();
        assert!(e.radius < 4 && e.max_diff <= 0.02, "{e:?}");
        // The largest radius is lowered to fit the image.
        let e = measure_effective_radius(&mut m, image(20).view(), 100, 0.0, 1).unwrap();
        assert_eq!(e.max_radius, 6);
        assert_eq!(e.radius, 4);
    }
}
