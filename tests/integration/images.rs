//! The image pipeline on real exported models: what each pixel format becomes, and real
//! photos: scikit-image's, from the project's Python environment (`SRGAN_PYTHON`), or any
//! folder of PNG/JPEG files named by `SRGAN_TEST_PHOTOS`. Without either the test fails.

use image::{DynamicImage, GenericImageView, ImageBuffer, Luma, Rgb, Rgba};
use srgan_imaging::image_io::{read_image, DecodeLimits};
use srgan_imaging::pipeline::{upscale_image, UpscaleOptions};
use srgan_imaging::tiling::{default_tile_pad, TileConfig};
use srgan_runtimes::{open, RuntimeOptions, Upscaler};

use srgan_testkit::{assert_close, Tolerance};

use crate::common::{self, TempDir};

fn tract(dir: &TempDir) -> Box<dyn Upscaler> {
    let opts = RuntimeOptions {
        threads: Some(1),
        ..RuntimeOptions::default()
    };
    open("tract", &common::tiny_model(dir), &opts).expect("open tiny model on tract")
}

fn up(m: &mut dyn Upscaler, img: &DynamicImage) -> DynamicImage {
    upscale_image(m, img.clone(), &UpscaleOptions::default()).expect("upscale")
}

#[test]
fn grey_output_is_the_luma_of_the_replicated_rgb_output() {
    let dir = TempDir::new("img-grey");
    let mut m = tract(&dir);
    let grey = common::luma8(15, 11);
    let rgb = DynamicImage::ImageRgb8(ImageBuffer::from_fn(15, 11, |x, y| {
        let v = grey.get_pixel(x, y).0[0];
        Rgb([v, v, v])
    }));
    let g = up(m.as_mut(), &grey).into_luma8();
    let c = up(m.as_mut(), &rgb).into_rgb8();
    for (gp, cp) in g.pixels().zip(c.pixels()) {
        let [r, gr, b] = cp.0.map(f32::from);
        let luma = 0.299 * r + 0.587 * gr + 0.114 * b;
        assert!((f32::from(gp.0[0]) - luma).abs() <= 1.0, "{gp:?} vs {cp:?}");
    }
}

#[test]
fn sixteen_bit_output_matches_the_eight_bit_one() {
    let dir = TempDir::new("img-16");
    let mut m = tract(&dir);
    let img8 = common::rgb8(13, 10).into_rgb8();
    let img16 = DynamicImage::ImageRgb16(ImageBuffer::from_fn(13, 10, |x, y| {
        Rgb(img8.get_pixel(x, y).0.map(|v| u16::from(v) * 257))
    }));
    let o8 = up(m.as_mut(), &DynamicImage::ImageRgb8(img8)).into_rgb8();
    let o16 = up(m.as_mut(), &img16);
    assert_eq!(o16.color(), image::ColorType::Rgb16);
    let o16 = o16.into_rgb16();
    for (p8, p16) in o8.pixels().zip(o16.pixels()) {
        for c in 0..3 {
            let d = (f32::from(p16.0[c]) / 257.0 - f32::from(p8.0[c])).abs();
            assert!(d <= 0.51, "{p8:?} vs {p16:?}");
        }
    }
}

#[test]
fn alpha_does_not_touch_the_colours() {
    let dir = TempDir::new("img-alpha");
    let mut m = tract(&dir);
    let rgb = common::rgb8(12, 9).into_rgb8();
    let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_fn(12, 9, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        Rgba([r, g, b, (x * y * 3) as u8])
    }));
    let a = up(m.as_mut(), &rgba).into_rgba8();
    let c = up(m.as_mut(), &DynamicImage::ImageRgb8(rgb)).into_rgb8();
    for (pa, pc) in a.pixels().zip(c.pixels()) {
        assert_eq!(pa.0[..3], pc.0);
    }
    // Grey + alpha stays grey + alpha.
    let la = DynamicImage::ImageLumaA8(ImageBuffer::from_fn(5, 4, |x, _| {
        image::LumaA([(x * 40) as u8, 200])
    }));
    let out = up(m.as_mut(), &la);
    assert_eq!(out.color(), image::ColorType::La8);
    assert!(out.into_luma_alpha8().pixels().all(|p| p.0[1] == 200));
    let l16 = DynamicImage::ImageLuma16(ImageBuffer::from_pixel(3, 3, Luma([40000])));
    assert_eq!(up(m.as_mut(), &l16).color(), image::ColorType::L16);
}

#[test]
fn real_photos_tiled_and_on_both_runtimes() {
    let photos = srgan_testkit::python::photos();
    let tmp = TempDir::new("img-photos");
    let model = common::tiny_model(&tmp);
    let opts = RuntimeOptions::default();
    let mut ort = open("ort", &model, &opts).expect("ort");
    let mut tract = open("tract", &model, &opts).expect("tract");
    let pad = default_tile_pad(ort.info()).pad;
    for path in photos.iter().take(3) {
        let decoded = read_image(path, &DecodeLimits::default())
            .unwrap_or_else(|e| panic!("a real photo does not decode: {e}"));
        // A 128x128 crop keeps the test quick on two cores.
        let (w, h) = decoded.image.dimensions();
        let crop = decoded.image.crop_imm(0, 0, w.min(128), h.min(128));
        let whole = up(ort.as_mut(), &crop);
        let tiled_opts = UpscaleOptions {
            tiling: TileConfig {
                tile: 48,
                tile_pad: pad,
                ..TileConfig::default()
            },
            ..UpscaleOptions::default()
        };
        let tiled = upscale_image(ort.as_mut(), crop.clone(), &tiled_opts).unwrap();
        let other = up(tract.as_mut(), &crop);
        for (what, got) in [("tiled", &tiled), ("tract", &other)] {
            assert_eq!(got.color(), whole.color(), "{}", path.display());
            assert_close(
                &format!("{}: ort whole vs {what}", path.display()),
                whole.to_rgba8().as_raw(),
                got.to_rgba8().as_raw(),
                Tolerance::U8_LEVEL,
            );
        }
    }
}
