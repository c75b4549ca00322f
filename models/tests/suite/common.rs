//! Helpers: real photos, tiny configs, VGG weights, VarStore snapshots. Temporary folders come
//! from `srgan-testkit`.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use srgan_export::GeneratorConfig;
use srgan_models::{Phase, TrainConfig};
pub use srgan_testkit::TempDir;

/// A fresh empty folder, removed when dropped.
pub fn tmp_dir(tag: &str) -> TempDir {
    TempDir::new(&format!("models-{tag}"))
}

/// A smooth synthetic photo with some edges, different per seed.
pub fn synthetic(w: u32, h: u32, seed: u32) -> RgbImage {
    let f = seed as f32 * 0.37 + 1.0;
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        let r = 0.5 + 0.4 * (6.0 * u * f + 2.0 * v).sin();
        let g = 0.5 + 0.4 * (5.0 * v * f - 3.0 * u).cos();
        let b = if ((x / 9 + y / 13 + seed) % 3) == 0 {
            0.8
        } else {
            0.2
        };
        Rgb([(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8])
    })
}

/// A folder of training photos and one of validation photos: scikit-image's (from the
/// project's Python environment; the test fails without it), downsized to keep tests fast.
pub fn photo_folders(tag: &str) -> (TempDir, TempDir) {
    let train = tmp_dir(&format!("{tag}-train"));
    let val = tmp_dir(&format!("{tag}-val"));
    let d = srgan_testkit::python::skimage_data();
    for (name, dst) in [
        ("astronaut.png", &train),
        ("coffee.png", &train),
        ("chelsea.png", &train),
        ("rocket.jpg", &val),
    ] {
        let img = image::open(d.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", d.join(name).display()))
            .resize(160, 160, image::imageops::FilterType::Triangle)
            .to_rgb8();
        img.save(dst.join(name.replace(".jpg", ".png"))).unwrap();
    }
    (train, val)
}

/// A tiny x2 config on `train`.
pub fn tiny_config(train: &Path, phase: Phase) -> TrainConfig {
    let mut c = TrainConfig {
        seed: 3,
        phase,
        iterations: 10,
        generator: GeneratorConfig::new(1, 8, 2).into(),
        ..Default::default()
    };
    c.discriminator.base_channels = 4;
    c.discriminator.dense = 16;
    c.discriminator.pool = 1;
    c.loss.vgg_weight = 0.0;
    c.adam_g.lr = 1e-3;
    c.adam_d.lr = 1e-3;
    c.data.train = Some(train.into());
    c.data.crop = 24;
    c.data.batch = 4;
    c.data.workers = 2;
    c.val_every = 0;
    c.checkpoint_every = 0;
    c.log_every = 5;
    c.threads = Some(1);
    c
}

/// Writes a tiny VGG19 (widths divided by 16) cut at VGG22 as safetensors; returns its path.
/// `bad` gives `features.5.weight` a wrong shape.
pub fn write_tiny_vgg(dir: &Path, bad: bool) -> PathBuf {
    let layers = srgan_models::vgg::vgg_layers(srgan_models::VggLayer::Vgg22, 16);
    tch::manual_seed(11);
    let mut named: Vec<(String, tch::Tensor)> = Vec::new();
    for (s, _) in &layers {
        let mut w = vec![s.cout, s.cin, 3, 3];
        if bad && s.index == 5 {
            w[1] += 1;
        }
        named.push((
            format!("features.{}.weight", s.index),
            tch::Tensor::randn(w.as_slice(), (tch::Kind::Float, tch::Device::Cpu)) * 0.2,
        ));
        named.push((
            format!("features.{}.bias", s.index),
            tch::Tensor::randn([s.cout], (tch::Kind::Float, tch::Device::Cpu)) * 0.1,
        ));
    }
    // An unused classifier tensor, as in a full state dict.
    named.push((
        "classifier.0.bias".into(),
        tch::Tensor::zeros([7], (tch::Kind::Float, tch::Device::Cpu)),
    ));
    let p = dir.join(if bad {
        "vgg_bad.safetensors"
    } else {
        "vgg.safetensors"
    });
    tch::Tensor::write_safetensors(&named, &p).unwrap();
    p
}

/// Every variable of a VarStore copied, sorted by name.
pub fn snapshot(vs: &tch::nn::VarStore) -> Vec<(String, tch::Tensor)> {
    let mut v: Vec<_> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Names of the variables that differ between two snapshots.
pub fn changed(a: &[(String, tch::Tensor)], b: &[(String, tch::Tensor)]) -> Vec<String> {
    a.iter()
        .zip(b)
        .filter(|((_, x), (_, y))| !x.equal(y))
        .map(|((n, _), _)| n.clone())
        .collect()
}
