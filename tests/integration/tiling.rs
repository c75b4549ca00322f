//! Tiled upscaling equals untiled upscaling whenever the tile pad covers the model's
//! receptive field: on a mock model with a known receptive field, and on real exported
//! models run by tract and ONNX Runtime.

use srgan_export::GeneratorConfig;
use srgan_imaging::pipeline::{upscale_image, UpscaleOptions};
use srgan_imaging::tiling::{default_tile_pad, upscale_tiled, TileConfig};
use srgan_runtimes::ndarray::{Array4, ArrayView4};
use srgan_runtimes::{check_input, open, ModelInfo, Result as RtResult, RuntimeOptions, Upscaler};

use crate::common::{self, TempDir};

/// `blurs` 3x3 box blurs (zero padding, like a convolution's) then nearest-neighbour
/// x`scale`: receptive-field radius `blurs`.
struct BlurNearest {
    scale: usize,
    blurs: usize,
    info: ModelInfo,
}

impl BlurNearest {
    fn new(scale: usize, blurs: usize) -> Self {
        let info = ModelInfo {
            scale: Some(scale),
            receptive_field_radius: Some(blurs),
            ..ModelInfo::default()
        };
        Self { scale, blurs, info }
    }
}

impl Upscaler for BlurNearest {
    fn name(&self) -> &str {
        "mock-blur-nearest"
    }
    fn scale(&self) -> usize {
        self.scale
    }
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> RtResult<Array4<f32>> {
        check_input(&input)?;
        let (n, c, h, w) = input.dim();
        let mut x = input.to_owned();
        for _ in 0..self.blurs {
            x = Array4::from_shape_fn((n, c, h, w), |(b, ch, i, j)| {
                let mut acc = 0.0;
                for ii in i.saturating_sub(1)..(i + 2).min(h) {
                    for jj in j.saturating_sub(1)..(j + 2).min(w) {
                        acc += x[[b, ch, ii, jj]];
                    }
                }
                acc / 9.0
            });
        }
        let s = self.scale;
        Ok(Array4::from_shape_fn(
            (n, c, h * s, w * s),
            |(b, ch, i, j)| x[[b, ch, i / s, j / s]],
        ))
    }
}

fn input(n: usize, h: usize, w: usize) -> Array4<f32> {
    Array4::from_shape_fn((n, 3, h, w), |(b, c, i, j)| {
        ((i * 7 + j * 13 + c * 5 + b * 3 + (i * j) % 5) % 17) as f32 / 16.0
    })
}

fn max_abs_diff(a: &Array4<f32>, b: &Array4<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max)
}

#[test]
fn mock_tiled_equals_untiled() {
    for blurs in [1, 3] {
        let mut m = BlurNearest::new(2, blurs);
        let x = input(2, 19, 23);
        let whole = m.upscale(x.view()).unwrap();
        let pad = default_tile_pad(m.info()).pad;
        assert_eq!(pad, blurs);
        for tile in [1, 3, 7, 10, 64] {
            let cfg = TileConfig {
                tile,
                tile_pad: pad,
                ..TileConfig::default()
            };
            let tiled = upscale_tiled(&mut m, x.view(), cfg).unwrap();
            let d = max_abs_diff(&whole, &tiled);
            assert!(d < 1e-6, "blurs {blurs} tile {tile}: {d}");
        }
        // With too little pad the seams show: the check above is not vacuous.
        let cfg = TileConfig {
            tile: 5,
            tile_pad: blurs - 1,
            ..TileConfig::default()
        };
        let tiled = upscale_tiled(&mut m, x.view(), cfg).unwrap();
        assert!(max_abs_diff(&whole, &tiled) > 1e-3);
    }
}

#[test]
fn mock_tiled_image_equals_untiled_image() {
    let mut m = BlurNearest::new(4, 2);
    for img in [
        common::rgb8(21, 14),
        common::rgba8(21, 14, |x, _| (x * 12) as u8),
        common::luma16(21, 14),
    ] {
        let whole = upscale_image(&mut m, img.clone(), &UpscaleOptions::default()).unwrap();
        let opts = UpscaleOptions {
            tiling: TileConfig {
                tile: 6,
                tile_pad: 2,
                ..TileConfig::default()
            },
            ..UpscaleOptions::default()
        };
        let tiled = upscale_image(&mut m, img, &opts).unwrap();
        assert_eq!(whole, tiled);
    }
}

/// Tiled == untiled on an exported model, with the pad read from the model's metadata.
fn real_model_tiled_equals_untiled(runtime: &str) {
    let dir = TempDir::new(&format!("tiling-{runtime}"));
    for cfg in [GeneratorConfig::new(1, 8, 4), GeneratorConfig::new(2, 8, 2)] {
        let model = common::export_model(&dir, &cfg, 11);
        let opts = RuntimeOptions {
            threads: Some(1),
            ..RuntimeOptions::default()
        };
        let mut up = open(runtime, &model, &opts).unwrap();
        let pad = default_tile_pad(up.info());
        assert!(
            pad.from_model,
            "the exporter writes the receptive-field radius"
        );
        assert_eq!(pad.pad, cfg.receptive_field_radius());
        let x = input(1, 29, 31);
        let whole = up.upscale(x.view()).unwrap();
        for tile in [8, 13] {
            let tc = TileConfig {
                tile,
                tile_pad: pad.pad,
                ..TileConfig::default()
            };
            let tiled = upscale_tiled(up.as_mut(), x.view(), tc).unwrap();
            let d = max_abs_diff(&whole, &tiled);
            // Float rounding only; far below one 8-bit level (1/255).
            assert!(d < 1e-4, "{runtime} {cfg:?} tile {tile}: max abs diff {d}");
        }
        // Without context the seams show, so the model's field does reach across tiles.
        let tc = TileConfig {
            tile: 8,
            tile_pad: 0,
            ..TileConfig::default()
        };
        let tiled = upscale_tiled(up.as_mut(), x.view(), tc).unwrap();
        let d = max_abs_diff(&whole, &tiled);
        assert!(d > 1e-3, "{runtime} {cfg:?}: pad 0 changed nothing ({d})");
    }
}

#[test]
fn tract_tiled_equals_untiled() {
    real_model_tiled_equals_untiled("tract");
}

#[test]
fn ort_tiled_equals_untiled() {
    real_model_tiled_equals_untiled("ort");
}
