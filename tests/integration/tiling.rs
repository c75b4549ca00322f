//! Tiled upscaling equals untiled upscaling on real exported models run by tract and ONNX
//! Runtime, with the tile pad read from the model's metadata. (The same property on a mock
//! model with a known receptive field is `srgan-imaging`'s `tiling` unit test.)

use srgan_export::GeneratorConfig;
use srgan_imaging::tiling::{default_tile_pad, upscale_tiled, TileConfig};
use srgan_runtimes::{open, RuntimeOptions};
use srgan_testkit::fixtures::pattern;
use srgan_testkit::{assert_close_array, max_abs_diff, Tolerance};

use crate::common::{self, TempDir};

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
        let x = pattern(1, 29, 31);
        let whole = up.upscale(x.view()).unwrap();
        for tile in [8, 13] {
            let tc = TileConfig {
                tile,
                tile_pad: pad.pad,
                ..TileConfig::default()
            };
            let tiled = upscale_tiled(up.as_mut(), x.view(), tc).unwrap();
            // Float rounding only; far below one 8-bit level (1/255).
            let what = format!("{runtime} {cfg:?} tile {tile}");
            assert_close_array(&what, &whole, &tiled, Tolerance::F32);
        }
        // Without context the seams show, so the model's field does reach across tiles.
        let tc = TileConfig {
            tile: 8,
            tile_pad: 0,
            ..TileConfig::default()
        };
        let tiled = upscale_tiled(up.as_mut(), x.view(), tc).unwrap();
        let d = max_abs_diff(whole.as_slice().unwrap(), tiled.as_slice().unwrap());
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
