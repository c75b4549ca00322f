//! The degradation pipeline's building blocks against their reference implementations, run by
//! `scripts/degrade_reference.py`: the blur kernels and `filter2D` are BasicSR 1.4.2's own
//! Python (from its source archive, fetched by the set-up), the resizes PyTorch's
//! `F.interpolate`, as Real-ESRGAN calls them.

use image::RgbImage;
use srgan_imaging::degrade::{filter, resize, Kernel, Planar, ResizeMode};
use srgan_testkit::TempDir;
use srgan_testkit::{assert_close, Tolerance};

fn photo() -> RgbImage {
    RgbImage::from_fn(64, 48, |x, y| {
        let v = |a: f32| (127.5 + 127.0 * a.sin()) as u8;
        image::Rgb([
            v(x as f32 * 0.31 + y as f32 * 0.05),
            v(x as f32 * 0.07 * y as f32 * 0.02),
            if (x / 5 + y / 7) % 2 == 0 { 230 } else { 20 },
        ])
    })
}

fn as_f64(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn kernels_blur_and_resizes_match_basicsr_and_pytorch() {
    let dir = TempDir::new("degrade-parity");
    let png = dir.join("in.png");
    let img = photo();
    img.save(&png).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/degrade_reference.py"
    );
    let out = srgan_testkit::python::run(&[script, png.to_str().unwrap()]);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();

    let kernels = [
        (
            "gaussian_aniso",
            Kernel::bivariate(21, 2.0, 0.7, 0.6, 1.0, false),
        ),
        (
            "gaussian_iso",
            Kernel::bivariate(7, 1.3, 1.3, 0.0, 1.0, false),
        ),
        (
            "generalized",
            Kernel::bivariate(15, 1.5, 0.8, -1.0, 0.7, false),
        ),
        ("plateau", Kernel::bivariate(13, 1.2, 2.5, 0.3, 1.5, true)),
        ("sinc", Kernel::sinc(17, 1.3)),
    ];
    for (name, k) in &kernels {
        let want = as_f64(&r["kernels"][name]);
        assert_close(name, &want, &k.weights, Tolerance::abs(1e-9));
    }

    let p = Planar::from_rgb(&img);
    let want: Vec<f32> = as_f64(&r["filter2d"]).iter().map(|&v| v as f32).collect();
    assert_close(
        "filter2D",
        &want,
        &filter(&p, &kernels[0].1).data,
        Tolerance::abs(2e-6),
    );

    for (mode, name) in [
        (ResizeMode::Area, "area"),
        (ResizeMode::Bilinear, "bilinear"),
        (ResizeMode::Bicubic, "bicubic"),
    ] {
        for (w, h) in [(37, 23), (101, 77), (50, 50), (1, 3)] {
            let key = format!("{name} {w}x{h}");
            let want: Vec<f32> = as_f64(&r["resize"][&key])
                .iter()
                .map(|&v| v as f32)
                .collect();
            // f32 sums in another order: area 1x3 averages 1024 samples per output.
            assert_close(
                &key,
                &want,
                &resize(&p, w, h, mode).data,
                Tolerance::abs(1e-5),
            );
        }
    }
}
