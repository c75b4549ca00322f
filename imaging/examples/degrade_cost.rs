//! CPU time of Real-ESRGAN's degradations per 64x64 crop, by step (for BENCHMARKS.md):
//! `cargo run --release -p srgan-imaging --example degrade_cost [CROP] [SCALE]`.
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use srgan_imaging::degrade::{degrade, DegradationConfig, Planar};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (crop, scale) = (
        args.first().copied().unwrap_or(64),
        args.get(1).copied().unwrap_or(4),
    );
    let img = image::RgbImage::from_fn(crop as u32, crop as u32, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 5) as u8, ((x * y) % 256) as u8])
    });
    let hr = Planar::from_rgb(&img);
    let full = DegradationConfig::default();
    let mut no_blur = full.clone();
    no_blur.first.blur_prob = 0.0;
    no_blur.second.blur_prob = 0.0;
    no_blur.final_sinc_prob = 0.0;
    let mut no_jpeg = full.clone();
    no_jpeg.first.jpeg_prob = 0.0;
    no_jpeg.second.jpeg_prob = 0.0;
    let mut no_noise = full.clone();
    no_noise.first.noise_prob = 0.0;
    no_noise.second.noise_prob = 0.0;
    for (name, cfg) in [
        ("all", &full),
        ("no blur", &no_blur),
        ("no JPEG", &no_jpeg),
        ("no noise", &no_noise),
    ] {
        let n = 400;
        let t = Instant::now();
        for i in 0..n {
            std::hint::black_box(degrade(&hr, scale, cfg, &mut StdRng::seed_from_u64(i)));
        }
        let per = t.elapsed().as_secs_f64() / n as f64;
        println!(
            "{crop}x{crop} x{scale}, {name}: {:.2} ms per crop, {:.1} ms per batch of 16",
            per * 1e3,
            per * 16e3
        );
    }
}
