//! Parity between ONNX Runtime, tract and the plain-Rust reference pass, on models exported by
//! `srgan-export`: at most 1e-4 max abs difference on f32 and at most 1 level on 8-bit output.
//!
//! The reference runs straight from the checkpoint (BatchNorm unfolded, naive convolution), so
//! two runtimes agreeing on a wrongly exported graph still fail here.

use std::path::{Path, PathBuf};

use srgan_export::{
    reference, write_onnx, Architecture, Checkpoint, ExportOptions, GeneratorConfig, RrdbConfig,
    SrVggConfig,
};
use srgan_runtimes::ndarray::{Array4, ArrayView4};
use srgan_runtimes::{open, RuntimeOptions, Upscaler};
use srgan_testkit::{assert_close_array, max_abs_diff, TempDir, Tolerance};

/// Random weights whose output uses the [0, 1] range: PyTorch-style init leaves the tail's
/// output within about +-0.01 of mid-grey, too flat for a parity test to mean much. Scales the
/// tail convolution up (the largest gain that keeps most values unclipped on a probe input)
/// and centres its bias on the middle of `hr_range`.
pub(crate) fn lively(ck: Checkpoint) -> Checkpoint {
    let probe = random_input([1, 3, 12, 12], 99);
    // The last conv, and whether its bias should sit mid-range (SRVGGNetCompact adds the
    // upsampled input, which already does).
    let (tail, centre) = match &ck.config {
        Architecture::SrResNet(_) => ("tail.conv".to_string(), true),
        Architecture::RrdbNet(_) => ("conv_last".to_string(), true),
        Architecture::SrVggCompact(c) => (format!("body.{}", c.last_conv()), false),
    };
    for gain in [15.0f32, 8.0, 4.0, 2.0, 1.0] {
        let mut c = ck.clone();
        let [lo, hi] = c.config.hr_range();
        let g = gain * (hi - lo) / 2.0;
        for v in &mut c.tensors.get_mut(&format!("{tail}.weight")).unwrap().data {
            *v *= g;
        }
        for v in &mut c.tensors.get_mut(&format!("{tail}.bias")).unwrap().data {
            *v = if centre { (lo + hi) / 2.0 } else { 0.0 } + *v * g * 0.1;
        }
        if degeneracy(&reference_out(&c, &probe.view())).is_none() {
            return c;
        }
    }
    panic!("no tail gain gives a usable output for {:?}", ck.config);
}

fn export(cfg: &GeneratorConfig, seed: u64, dir: &Path) -> (Checkpoint, PathBuf) {
    let ck = lively(Checkpoint::random_init(cfg, seed).expect("random init"));
    let path = dir.join(format!(
        "g_b{}_c{}_x{}_s{seed}.onnx",
        cfg.blocks, cfg.channels, cfg.scale
    ));
    write_onnx(&ck, &path, &ExportOptions::default()).expect("export");
    (ck, path)
}

/// A deterministic pseudo-random input in [0, 1].
fn random_input(shape: [usize; 4], seed: u64) -> Array4<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Array4::from_shape_simple_fn(shape, || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32) / ((1u64 << 24) as f32)
    })
}

fn reference_out(ck: &Checkpoint, x: &ArrayView4<'_, f32>) -> Array4<f32> {
    let s = x.shape();
    let shape = [s[0], s[1], s[2], s[3]];
    let data = reference::forward(ck, x.as_standard_layout().as_slice().unwrap(), shape);
    let k = ck.config.scale();
    Array4::from_shape_vec([s[0], 3, s[2] * k, s[3] * k], data).expect("reference shape")
}

/// Within 1e-4 on f32 and 1 level on 8-bit, reporting the worst elements otherwise.
fn assert_parity(what: &str, want: &Array4<f32>, got: &Array4<f32>) {
    assert_close_array(what, want, got, Tolerance::F32);
    let q = |a: &Array4<f32>| a.mapv(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
    assert_close_array(what, &q(want), &q(got), Tolerance::U8_LEVEL);
}

/// Why an output carries too little information to test with (nearly constant, or mostly
/// clipped), if it does.
fn degeneracy(out: &Array4<f32>) -> Option<String> {
    let n = out.len() as f32;
    let inside = out.iter().filter(|v| **v > 0.0 && **v < 1.0).count() as f32;
    let mean = out.iter().sum::<f32>() / n;
    let std = (out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    (inside / n <= 0.7 || std <= 0.03).then(|| {
        format!(
            "degenerate output (in (0,1): {:.0}%, std {std:.4})",
            100.0 * inside / n
        )
    })
}

fn assert_not_degenerate(out: &Array4<f32>, what: &str) {
    if let Some(why) = degeneracy(out) {
        panic!("{what}: {why}");
    }
}

fn runtimes(path: &Path) -> Vec<Box<dyn Upscaler>> {
    let opts = RuntimeOptions {
        threads: Some(2),
        ..Default::default()
    };
    ["ort", "tract"]
        .iter()
        .map(|rt| {
            open(rt, path, &opts)
                .unwrap_or_else(|e| panic!("open {rt}: {}", srgan_contract::report::one_line(&e)))
        })
        .collect()
}

fn check_parity(ck: &Checkpoint, path: &Path, inputs: &[Array4<f32>]) {
    let mut rts = runtimes(path);
    for x in inputs {
        let want = reference_out(ck, &x.view());
        assert_not_degenerate(&want, "reference");
        for rt in rts.iter_mut() {
            assert_eq!(rt.scale(), ck.config.scale());
            let got = rt.upscale(x.view()).unwrap();
            let what = format!(
                "{} vs reference on {:?} ({})",
                rt.name(),
                x.shape(),
                path.display()
            );
            assert_parity(&what, &want, &got);
        }
    }
}

/// RRDBNet (x4, and x2 / x1 through SpaceToDepth) and SRVGGNetCompact (x1, x2, x3, x4, each
/// activation) on both runtimes against the reference pass, which computes them the way
/// BasicSR does (pixel_unshuffle, nearest upsampling by index, unfolded residual scaling).
#[test]
fn community_architectures_on_both_runtimes() {
    use srgan_export::Activation;
    let dir = TempDir::new("community");
    let cases: Vec<(Architecture, Vec<[usize; 4]>)> = vec![
        (
            RrdbConfig::new(2, 8, 4, 4).into(),
            vec![[1, 3, 11, 7], [2, 3, 4, 4], [1, 3, 1, 3]],
        ),
        (
            RrdbConfig::new(1, 8, 4, 2).into(),
            vec![[1, 3, 10, 6], [2, 3, 2, 4]],
        ),
        (RrdbConfig::new(1, 6, 4, 1).into(), vec![[1, 3, 8, 12]]),
        (
            SrVggConfig::new(3, 8, 4).into(),
            vec![[1, 3, 13, 9], [2, 3, 1, 2]],
        ),
        (
            SrVggConfig {
                activation: Activation::Leakyrelu,
                ..SrVggConfig::new(2, 8, 3)
            }
            .into(),
            vec![[1, 3, 7, 10]],
        ),
        (
            SrVggConfig {
                activation: Activation::Relu,
                ..SrVggConfig::new(1, 4, 2)
            }
            .into(),
            vec![[1, 3, 9, 5]],
        ),
        // x1 (restoration at the input's size): the last conv plus the input.
        (
            SrVggConfig::new(3, 8, 1).into(),
            vec![[1, 3, 11, 7], [2, 3, 1, 2]],
        ),
        (
            SrVggConfig {
                activation: Activation::Leakyrelu,
                lr_range: [-1.0, 1.0],
                hr_range: [-1.0, 1.0],
                ..SrVggConfig::new(1, 4, 1)
            }
            .into(),
            vec![[1, 3, 6, 9]],
        ),
    ];
    for (seed, (arch, shapes)) in cases.into_iter().enumerate() {
        let ck = lively(Checkpoint::random_init(arch.clone(), seed as u64).unwrap());
        let path = dir.join(format!("{}_{seed}.onnx", arch.name()));
        write_onnx(&ck, &path, &ExportOptions::default()).expect("export");
        let inputs: Vec<_> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| random_input(*s, 50 + i as u64))
            .collect();
        check_parity(&ck, &path, &inputs);
    }
}

#[test]
fn random_inputs_of_several_sizes_and_scales() {
    let dir = TempDir::new("sizes");
    let cases = [
        (GeneratorConfig::new(2, 8, 4), 1),
        (GeneratorConfig::new(1, 6, 2), 2),
        (GeneratorConfig::new(1, 4, 8), 3),
        (GeneratorConfig::new(0, 8, 4), 4),
    ];
    for (cfg, seed) in cases {
        let (ck, path) = export(&cfg, seed, &dir);
        let inputs = [
            random_input([1, 3, 17, 23], seed),
            random_input([2, 3, 8, 8], seed + 10),
            random_input([1, 3, 1, 5], seed + 20),
        ];
        check_parity(&ck, &path, &inputs);
    }
}

#[test]
fn non_default_value_ranges() {
    let dir = TempDir::new("ranges");
    let mut cfg = GeneratorConfig::new(1, 8, 2);
    cfg.lr_range = [-1.0, 1.0];
    cfg.hr_range = [0.0, 1.0];
    let (ck, path) = export(&cfg, 5, &dir);
    check_parity(&ck, &path, &[random_input([1, 3, 13, 9], 5)]);
}

#[test]
fn the_tolerance_catches_a_wrong_graph() {
    // A checkpoint that differs in one BatchNorm statistic must not pass as the same model:
    // if it did, the parity tolerance could not catch a wrong BN fold.
    let dir = TempDir::new("mutant");
    let cfg = GeneratorConfig::new(1, 8, 4);
    let (ck, _) = export(&cfg, 9, &dir);
    let mut mutant = ck.clone();
    mutant
        .tensors
        .get_mut("blocks.0.bn2.running_var")
        .unwrap()
        .data[3] *= 1.5;
    let (_, mutant_path) = {
        let p = dir.join("mutant.onnx");
        write_onnx(&mutant, &p, &ExportOptions::default()).unwrap();
        ((), p)
    };
    let x = random_input([1, 3, 12, 12], 9);
    let want = reference_out(&ck, &x.view());
    for mut rt in runtimes(&mutant_path) {
        let got = rt.upscale(x.view()).unwrap();
        let d = max_abs_diff(want.as_slice().unwrap(), got.as_slice().unwrap());
        assert!(
            d > 10.0 * Tolerance::F32.abs,
            "{}: mutant within {d} of the original",
            rt.name()
        );
    }
}

fn photo_tensor(path: &Path) -> Array4<f32> {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    Array4::from_shape_fn([1, 3, h, w], |(_, c, y, x)| {
        f32::from(img.get_pixel(x as u32, y as u32)[c]) / 255.0
    })
}

fn bundled_photo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/chelsea_lr_x4.png")
}

#[test]
fn real_photo_tiny_model_against_reference() {
    let dir = TempDir::new("photo-tiny");
    let (ck, path) = export(&GeneratorConfig::new(2, 8, 4), 11, &dir);
    check_parity(&ck, &path, &[photo_tensor(&bundled_photo())]);
}

#[test]
fn real_photo_paper_model() {
    // The paper's 16x64 x4 generator: ort and tract on the whole bundled photo (112x75), and
    // both against the reference on a crop (the naive reference is slow at this size).
    let dir = TempDir::new("photo-paper");
    let (ck, path) = export(&GeneratorConfig::paper(), 12, &dir);
    let photo = photo_tensor(&bundled_photo());
    let mut rts = runtimes(&path);
    let a = rts[0].upscale(photo.view()).unwrap();
    let b = rts[1].upscale(photo.view()).unwrap();
    assert_not_degenerate(&a, "ort");
    assert_parity("ort vs tract on the photo", &a, &b);
    let crop = photo
        .slice(srgan_runtimes::ndarray::s![.., .., 20..44, 40..64])
        .to_owned();
    check_parity(&ck, &path, &[crop]);
}
