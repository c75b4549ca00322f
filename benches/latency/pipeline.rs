//! End to end on one photo, as srgan-run does it for each file: read the file, decode, split
//! into the model's tensor, upscale (srgan-run's default tiling), quantise into the output
//! image, encode PNG. `e2e/ort_cpu/photo512`, `e2e/tract_cpu/photo512`.
//!
//! Guards against a slower pipeline around the model: extra copies between image and tensor,
//! per-pixel work that stopped vectorising, a slower PNG codec setting, tiles that recompute
//! more overlap than the receptive field needs. Compare with `ort_cpu/lr...` for the model's
//! share.

use std::io::Cursor;
use std::path::Path;

use criterion::{Criterion, Throughput};
use image::imageops::FilterType;
use srgan_imaging::image_io::{decode_bytes, encode_image, DecodeLimits, OutputFormat};
use srgan_imaging::pipeline::{upscale_image, UpscaleOptions};
use srgan_imaging::tiling::default_tile_pad;

use crate::runtimes::{group_name, open_all};
use crate::{slow_group, Setup};

/// A `side` x `side` photo (the bundled CC0 photo, resized) written as PNG into the scratch
/// folder.
fn photo(setup: &Setup, side: u32) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/chelsea.png");
    let img = image::open(&src)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {}",
                src.display(),
                srgan_contract::report::one_line(&e)
            )
        })
        .resize_exact(side, side, FilterType::CatmullRom)
        .to_rgb8();
    let path = setup.dir.path().join(format!("photo{side}.png"));
    img.save(&path).expect("write the bench photo");
    path
}

pub fn bench(c: &mut Criterion, setup: &Setup) {
    let side = setup.photo;
    let path = photo(setup, side);
    let limits = DecodeLimits::default();
    let mut g = c.benchmark_group("e2e");
    slow_group(&mut g, setup.quick);
    for mut u in open_all(setup) {
        let scale = u.scale();
        // srgan-run's default tiling (`--tile auto`), chosen per image as srgan-run does.
        let tiling = srgan_imaging::budget::Tiling::budget(
            srgan_imaging::budget::DEFAULT_MAX_MEMORY_MIB,
            default_tile_pad(u.info()).pad,
            u.info(),
            scale,
        )
        .expect("default tiling");
        g.throughput(Throughput::Elements((side as u64 * scale as u64).pow(2)));
        let mut warm = false;
        g.bench_function(format!("{}/photo{side}", group_name(u.as_ref())), |b| {
            if !std::mem::replace(&mut warm, true) {
                u.warm_up([1, 3, side as usize, side as usize])
                    .unwrap_or_else(|e| {
                        panic!(
                            "{}: warm up: {}",
                            u.name(),
                            srgan_contract::report::one_line(&e)
                        )
                    });
            }
            b.iter(|| {
                let bytes = std::fs::read(&path).expect("read the photo");
                let decoded = decode_bytes(&bytes, &path, &limits).expect("decode");
                let opts = UpscaleOptions {
                    tiling: tiling
                        .for_image(&decoded.image)
                        .expect("the bench image fits the default budget"),
                    ..Default::default()
                };
                let out = upscale_image(u.as_mut(), decoded.image, &opts).expect("upscale");
                let mut png = Cursor::new(Vec::new());
                encode_image(&out, OutputFormat::Png, &mut png, &path).expect("encode");
                png.into_inner().len()
            })
        });
    }
    g.finish();
}
