//! `srgan-run` end to end: the built binary on generated images and tiny exported models.
//! Good inputs (one file, a folder, RGBA, grey, 16-bit, a foreign model, tiling) and bad
//! ones (each must give one clear line, no panic, and leave no output behind).

use std::path::Path;

use image::DynamicImage;

use crate::common::{self, TempDir};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Runs a single-file upscale on `runtime`; returns the output image.
fn upscale_file(dir: &TempDir, img: &DynamicImage, name: &str, runtime: &str) -> DynamicImage {
    let model = common::tiny_model(dir);
    let input = dir.join(name);
    common::save(img, &input);
    let output = dir.join(format!("out-{runtime}-{name}"));
    let out = common::srgan_run(
        [
            "-i",
            s(&input),
            "-o",
            s(&output),
            "-m",
            s(&model),
            "--runtime",
            runtime,
            "--threads",
            "1",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::load(&output)
}

#[test]
fn single_file_on_both_runtimes_within_one_level() {
    let dir = TempDir::new("cli-single");
    let img = common::rgb8(23, 17);
    let a = upscale_file(&dir, &img, "photo.png", "tract");
    let b = upscale_file(&dir, &img, "photo.png", "ort");
    assert_eq!(a.color(), image::ColorType::Rgb8);
    assert_eq!((a.width(), a.height()), (92, 68));
    assert!(common::max_level_diff(&a, &b) <= 1);
}

#[test]
fn output_folder_keeps_the_stem_and_format_can_change() {
    let dir = TempDir::new("cli-names");
    let model = common::tiny_model(&dir);
    let input = dir.join("photo.png");
    common::save(&common::rgb8(9, 8), &input);
    let out_dir = dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["-i", s(&input), "-o", s(&out_dir), "-m", s(&model)];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--runtime", "tract", "-q"]);
        common::srgan_run(args, &[])
    };
    let out = run(&[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(out.stderr.is_empty(), "-q prints nothing on success");
    let out = run(&["-f", "jpg"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::names(&out_dir), ["photo.jpg", "photo.png"]);
    let jpg = std::fs::read(out_dir.join("photo.jpg")).unwrap();
    assert_eq!(image::guess_format(&jpg).unwrap(), image::ImageFormat::Jpeg);
}

#[test]
fn folder_with_one_corrupt_file() {
    let dir = TempDir::new("cli-folder");
    let model = common::tiny_model(&dir);
    let input = dir.join("in");
    std::fs::create_dir(&input).unwrap();
    common::save(&common::rgb8(10, 7), &input.join("a.png"));
    common::save(&common::rgb8(8, 8), &input.join("b.jpg"));
    common::save(&common::luma8(6, 9), &input.join("c.png"));
    std::fs::write(
        input.join("corrupt.png"),
        b"\x89PNG\r\n\x1a\nthis is not a PNG",
    )
    .unwrap();
    std::fs::write(input.join("notes.txt"), b"not an image, ignored").unwrap();
    let output = dir.join("out");
    let out = common::srgan_run(
        [
            "-i",
            s(&input),
            "-o",
            s(&output),
            "-m",
            s(&model),
            "--runtime",
            "tract",
        ],
        &[],
    );
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<_> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("corrupt.png"), "{err}");
    assert!(err.contains("3 ok, 1 failed"), "{err}");
    assert_eq!(common::names(&output), ["a.png", "b.jpg", "c.png"]);
    let c = common::load(&output.join("c.png"));
    assert_eq!(c.color(), image::ColorType::L8);
    assert_eq!((c.width(), c.height()), (24, 36));
}

#[test]
fn rgba_keeps_its_alpha() {
    let dir = TempDir::new("cli-rgba");
    let img = common::rgba8(12, 10, |x, y| if x < 6 { 255 } else { (y * 20) as u8 });
    let out = upscale_file(&dir, &img, "logo.png", "tract");
    assert_eq!(out.color(), image::ColorType::Rgba8);
    let out = out.into_rgba8();
    assert_eq!(out.dimensions(), (48, 40));
    // Far from the step, the alpha is the input's.
    assert_eq!(out.get_pixel(2, 2).0[3], 255);
    assert_eq!(out.get_pixel(2, 37).0[3], 255);
    // On the right the alpha is the ramp 20 * y (LR rows), which bicubic reproduces: HR row
    // 22 samples LR row (22 + 0.5) / 4 - 0.5 = 5.125, so alpha 102.5.
    let a = out.get_pixel(44, 22).0[3];
    assert!((f32::from(a) - 102.5).abs() <= 1.0, "alpha {a}");
}

#[test]
fn grey_stays_grey_and_16_bit_stays_16_bit() {
    let dir = TempDir::new("cli-grey");
    let g8 = upscale_file(&dir, &common::luma8(11, 7), "g8.png", "tract");
    assert_eq!(g8.color(), image::ColorType::L8);
    let g16 = upscale_file(&dir, &common::luma16(11, 7), "g16.png", "tract");
    assert_eq!(g16.color(), image::ColorType::L16);
    let rgb16 = upscale_file(&dir, &common::rgb16(11, 7), "rgb16.png", "ort");
    assert_eq!(rgb16.color(), image::ColorType::Rgb16);
    assert_eq!((rgb16.width(), rgb16.height()), (44, 28));
    // Real 16-bit values, not 8-bit ones scaled up.
    let raw = rgb16.to_rgb16().into_raw();
    assert!(raw.iter().any(|v| v % 257 != 0));
}

#[test]
fn existing_output_is_kept_without_overwrite() {
    let dir = TempDir::new("cli-exists");
    let model = common::tiny_model(&dir);
    let input = dir.join("in.png");
    common::save(&common::rgb8(8, 8), &input);
    let output = dir.join("out.png");
    std::fs::write(&output, b"precious").unwrap();
    let args = [
        "-i",
        s(&input),
        "-o",
        s(&output),
        "-m",
        s(&model),
        "--runtime",
        "tract",
    ];
    let out = common::srgan_run(args, &[]);
    common::assert_one_line_error(&out, 1, &["out.png", "--overwrite"]);
    assert_eq!(std::fs::read(&output).unwrap(), b"precious");
    let out = common::srgan_run(args.iter().chain(&["--overwrite"]), &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::load(&output).width(), 32);
    assert_eq!(common::names(dir.path()).len(), 3, "no temporary file left");
}

#[test]
fn foreign_model_runs_with_inferred_scale() {
    let dir = TempDir::new("cli-foreign");
    let input = dir.join("in.png");
    common::save(&common::rgb8(13, 9), &input);
    let output = dir.join("out.png");
    let model = common::fixture("foreign_x2.onnx");
    let out = common::srgan_run(
        [
            "-i",
            s(&input),
            "-o",
            s(&output),
            "-m",
            s(&model),
            "--runtime",
            "tract",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let img = common::load(&output);
    assert_eq!((img.width(), img.height()), (26, 18));
}

#[test]
fn tiled_run_equals_whole_run() {
    let dir = TempDir::new("cli-tiles");
    let model = common::tiny_model(&dir);
    let input = dir.join("in.png");
    common::save(&common::rgb8(71, 53), &input);
    let mut outs = Vec::new();
    // `auto` with 164 MiB: 4 MiB over the 160 MiB base, less the image's own 0.3 MiB, leaves
    // ~3.7 MiB, ~2500-pixel windows at the tiny model's estimate (3 x 8 channels x 4^2 x 4
    // bytes per LR pixel): fewer than the image's 3763 pixels, so it tiles.
    // (args, whether the run must tile); the default budget runs this small image whole.
    for (i, (tile, tiles)) in [
        (&["0"][..], false),
        (&["16"], true),
        (&["23"], true),
        (&["auto", "--max-memory", "164"], true),
        (&["auto"], false),
    ]
    .into_iter()
    .enumerate()
    {
        let output = dir.join(format!("out{i}.png"));
        let mut args = vec![
            "-i",
            s(&input),
            "-o",
            s(&output),
            "-m",
            s(&model),
            "--runtime",
            "tract",
            "--tile",
        ];
        args.extend_from_slice(tile);
        let out = common::srgan_run(&args, &[]);
        let err = common::stderr(&out);
        assert!(out.status.success(), "{tile:?}: {err}");
        // A run that tiles says so (and one that does not, does not).
        assert_eq!(
            err.contains("tiles, windows of at most"),
            tiles,
            "{tile:?}: {err}"
        );
        outs.push(common::load(&output));
    }
    for (i, o) in outs.iter().enumerate().skip(1) {
        assert!(common::max_level_diff(&outs[0], o) <= 1, "case {i}");
    }
}

#[test]
fn out_of_range_tile_pad_and_threads_are_one_line_errors() {
    // These used to panic (an 18446744073709551615-pixel pad) or run for minutes (100000
    // threads).
    for (opt, value) in [
        ("--tile-pad", "18446744073709551615"),
        ("--tile-pad", "4097"),
        ("--threads", "100000"),
        ("--threads", "0"),
    ] {
        let out = common::srgan_run(
            ["-i", "a.png", "-o", "b.png", "-m", "m.onnx", opt, value],
            &[],
        );
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{opt} {value}: {err}");
        assert!(
            err.contains(opt) && err.contains(value),
            "{opt} {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn max_memory_too_small_or_bad_is_an_error() {
    // 100 MiB is less than srgan-run's own 160 MiB base.
    bad_case(
        "in.png",
        b"",
        None,
        &["--max-memory", "100"],
        &[],
        2,
        &["--max-memory", "100 MiB is too small", "needs about"],
    );
    bad_case(
        "in.png",
        b"",
        None,
        &["--max-memory", "0"],
        &[],
        2,
        &["--max-memory", "0 MiB"],
    );
    let out = common::srgan_run(
        [
            "-i", "a.png", "-o", "b.png", "-m", "m.onnx", "--tile", "big",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("expected `auto`, 0 (whole image) or a tile side"),
        "{}",
        common::stderr(&out)
    );
}

/// Runs one bad single-file case; expects exit `code`, one line naming `mentions`, and no
/// file in the output folder.
fn bad_case(
    name: &str,
    bytes: &[u8],
    model: Option<&Path>,
    extra: &[&str],
    env: &[(&str, &str)],
    code: i32,
    mentions: &[&str],
) {
    let dir = TempDir::new(&format!("cli-bad-{name}"));
    let input = dir.join(name);
    if bytes.is_empty() {
        common::save(&common::rgb8(8, 8), &input);
    } else {
        std::fs::write(&input, bytes).unwrap();
    }
    let model = model
        .map(Path::to_path_buf)
        .unwrap_or_else(|| common::tiny_model(&dir));
    let out_dir = dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut args = vec!["-i", s(&input), "-o", s(&out_dir), "-m", s(&model)];
    args.extend_from_slice(extra);
    let out = common::srgan_run(&args, env);
    common::assert_one_line_error(&out, code, mentions);
    assert!(
        common::names(&out_dir).is_empty(),
        "partial output left: {:?}",
        common::names(&out_dir)
    );
}

#[test]
fn bad_images_give_one_line_and_no_output() {
    let mut good = Vec::new();
    common::rgb8(32, 32)
        .write_to(
            &mut std::io::Cursor::new(&mut good),
            image::ImageFormat::Png,
        )
        .unwrap();
    let truncated = &good[..good.len() / 2];
    let mut jpeg = Vec::new();
    common::rgb8(32, 32)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let truncated_jpeg = &jpeg[..jpeg.len() * 2 / 3];
    let tract = ["--runtime", "tract"];
    bad_case(
        "truncated.png",
        truncated,
        None,
        &tract,
        &[],
        1,
        &["truncated.png", "truncated"],
    );
    bad_case(
        "truncated.jpg",
        truncated_jpeg,
        None,
        &tract,
        &[],
        1,
        &["truncated.jpg", "truncated"],
    );
    bad_case(
        "text.png",
        b"just some text\n",
        None,
        &tract,
        &[],
        1,
        &["text.png", "not an image"],
    );
    bad_case(
        "zero.png",
        &common::png_header_only(0, 16),
        None,
        &tract,
        &[],
        1,
        &["zero.png", "zero-size"],
    );
    bad_case(
        "bomb.png",
        &common::png_header_only(100_000, 100_000),
        None,
        &tract,
        &[],
        1,
        &["bomb.png", "too large"],
    );
}

#[test]
fn bad_models_give_one_line_and_no_output() {
    let dir = TempDir::new("cli-bad-models");
    let corrupt = dir.join("corrupt.onnx");
    std::fs::write(&corrupt, b"this is not a protobuf \xff\xff\xff").unwrap();
    for runtime in ["ort", "tract"] {
        bad_case(
            "in.png",
            b"",
            Some(&corrupt),
            &["--runtime", runtime],
            &[],
            2,
            &["corrupt.onnx"],
        );
        bad_case(
            "in.png",
            b"",
            Some(&common::fixture("input_3d.onnx")),
            &["--runtime", runtime],
            &[],
            2,
            &["input_3d.onnx", "4"],
        );
    }
    bad_case(
        "in.png",
        b"",
        Some(&dir.join("missing.onnx")),
        &[],
        &[],
        2,
        &["missing.onnx"],
    );
}

#[test]
fn missing_onnxruntime_library_is_named() {
    bad_case(
        "in.png",
        b"",
        None,
        &["--runtime", "ort"],
        &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")],
        2,
        &["/nonexistent/libonnxruntime.so"],
    );
}

#[test]
fn unavailable_devices_are_errors_not_fallbacks() {
    // This machine's onnxruntime is the CPU build: asking for CUDA must fail and say so.
    // (On a machine with onnxruntime-gpu and a GPU this case would run; skip it there.)
    if std::env::var_os("SRGAN_TEST_HAS_CUDA").is_none() {
        bad_case(
            "in.png",
            b"",
            None,
            &["--runtime", "ort", "--device", "cuda"],
            &[],
            2,
            &["cuda", "CUDA"],
        );
    }
    bad_case(
        "in.png",
        b"",
        None,
        &["--runtime", "tract", "--device", "cuda:0"],
        &[],
        2,
        &["tract", "cuda:0"],
    );
    // A device name that does not parse is a usage error (clap's message, exit 2).
    let out = common::srgan_run(
        [
            "-i", "a.png", "-o", "b.png", "-m", "m.onnx", "--device", "tpu",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("unknown device `tpu`"),
        "{}",
        common::stderr(&out)
    );
}

/// `--list FILE` takes the inputs from a file, and `--json` prints one line per input for
/// scripts: ok with the output's size, skipped, or failed with the error.
#[test]
fn list_and_json_lines() {
    let dir = TempDir::new("cli-list");
    let model = common::tiny_model(&dir);
    common::save(&common::rgb8(12, 10), &dir.join("a.png"));
    common::save(&common::rgb8(9, 7), &dir.join("b.png"));
    std::fs::write(dir.join("bad.png"), b"\x89PNG\r\n\x1a\nnot a PNG").unwrap();
    let list = dir.join("inputs.txt");
    let line = |n: &str| format!("{}\n", dir.join(n).display());
    std::fs::write(
        &list,
        format!(
            "# photos\n{}\n{}{}{}",
            line("a.png"),
            line("b.png"),
            line("bad.png"),
            line("missing.png")
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let run = |extra: &[&str]| {
        let mut args = vec!["-m", s(&model), "--list", s(&list), "-o", s(&out), "--json"];
        args.extend_from_slice(extra);
        common::srgan_run(&args, &[])
    };
    let parse = |o: &std::process::Output| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    let lines = parse(&o);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let by_status = |st: &str| lines.iter().filter(|v| v["status"] == st).count();
    assert_eq!((by_status("ok"), by_status("failed")), (2, 2), "{lines:?}");
    let a = lines
        .iter()
        .find(|v| v["input"].as_str().is_some_and(|p| p.ends_with("a.png")))
        .unwrap();
    assert_eq!(
        (a["width"].as_u64(), a["height"].as_u64()),
        (Some(48), Some(40))
    );
    assert!(a["seconds"].as_f64().is_some_and(|t| t >= 0.0), "{a}");
    assert!(lines
        .iter()
        .filter(|v| v["status"] == "failed")
        .all(|v| v["error"].as_str().is_some_and(|e| !e.is_empty())));
    assert_eq!(common::names(&out), vec!["a.png", "b.png"]);
    // Again with --skip-existing: the two outputs are skipped.
    let o = run(&["--skip-existing"]);
    let lines = parse(&o);
    assert_eq!(
        lines.iter().filter(|v| v["status"] == "skipped").count(),
        2,
        "{lines:?}"
    );
    // -i and --list together, or neither, are usage errors.
    let o = common::srgan_run(["-m", s(&model), "-o", s(&out)], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            s(&dir.join("a.png")),
            "--list",
            s(&list),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// With no `-m`, the shipped x4 model embedded in the binary runs (written once to the cache
/// named by $XDG_CACHE_HOME, byte for byte the repository's file); `-m srgan_x4` names the
/// other; an unknown name lists the shipped ones.
#[test]
fn the_default_model_is_embedded() {
    let dir = TempDir::new("cli-default-model");
    let cache = dir.join("cache");
    let env = [("XDG_CACHE_HOME", s(&cache))];
    let input = dir.join("a.png");
    common::save(&common::rgb8(10, 8), &input);
    let out = dir.join("o.png");
    let o = common::srgan_run(["-i", s(&input), "-o", s(&out)], &env);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert_eq!(common::load(&out).width(), 40);
    let cached = common::names(&cache.join("srgan/models"));
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with("srresnet_x4-"), "{cached:?}");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/x4/srresnet_x4.onnx");
    assert_eq!(
        std::fs::read(cache.join("srgan/models").join(&cached[0])).unwrap(),
        std::fs::read(shipped).unwrap()
    );
    let o = common::srgan_run(
        [
            "-i",
            s(&input),
            "-o",
            s(&dir.join("g.png")),
            "-m",
            "srgan_x4",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let o = common::srgan_run(
        [
            "-i",
            s(&input),
            "-o",
            s(&dir.join("n.png")),
            "-m",
            "nosuch_x4",
        ],
        &env,
    );
    common::assert_one_line_error(
        &o,
        2,
        &["nosuch_x4", "srresnet_x4, srgan_x4, srresnet_x4_int8"],
    );
}

/// Any output size: `--outscale` (any factor), `--width` or `--height` keeping the aspect
/// ratio, through the model at its own scale and an antialiased resample; colour type and
/// 16 bits kept; bad values are usage errors.
#[test]
fn any_output_size() {
    let dir = TempDir::new("cli-outscale");
    let model = common::tiny_model(&dir);
    let input = dir.join("in.png");
    common::save(&common::rgb8(12, 10), &input);
    let deep = dir.join("deep.png");
    common::save(
        &image::DynamicImage::ImageRgba16(common::rgb16(12, 10).to_rgba16()),
        &deep,
    );
    for (i, (args, size)) in [
        (&["--outscale", "2"][..], (24, 20)),
        (&["-s", "3.5"], (42, 35)),
        (&["--outscale", "4"], (48, 40)),
        (&["--width", "30"], (30, 25)),
        (&["--height", "5"], (6, 5)),
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.join(format!("o{i}.png"));
        let mut a = vec!["-m", s(&model), "-i", s(&input), "-o", s(&out)];
        a.extend_from_slice(args);
        let o = common::srgan_run(&a, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", common::stderr(&o));
        let img = common::load(&out);
        assert_eq!((img.width(), img.height()), size, "{args:?}");
    }
    // 16-bit RGBA stays 16-bit RGBA through the resample.
    let out = dir.join("deep_x2.png");
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            s(&deep),
            "-o",
            s(&out),
            "--outscale",
            "2",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let img = common::load(&out);
    assert_eq!(
        (img.width(), img.height(), img.color()),
        (24, 20, image::ColorType::Rgba16)
    );
    let bad_out = dir.join("bad.png");
    for bad in [
        &["--outscale", "0"][..],
        &["--outscale", "-1"],
        &["--outscale", "nan"],
        &["--outscale", "17"],
        &["--width", "0"],
        &["--outscale", "2", "--width", "10"],
    ] {
        let mut a = vec!["-m", s(&model), "-i", s(&input), "-o", s(&bad_out)];
        a.extend_from_slice(bad);
        let o = common::srgan_run(&a, &[]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", common::stderr(&o));
    }
    assert!(!dir.join("bad.png").exists());
}

/// A phone photo: an EXIF-rotated JPEG with a colour profile comes out upright, with the
/// profile byte for byte and the EXIF orientation reset to 1.
#[test]
fn a_rotated_photo_comes_out_upright_with_its_profile() {
    use srgan_imaging::image_io::{
        decode_bytes, encode_image_with, DecodeLimits, ImageMeta, OutputFormat,
    };
    let dir = TempDir::new("cli-exif");
    let model = common::tiny_model(&dir);
    let icc: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    let meta = ImageMeta {
        icc: Some(icc.clone()),
        // Orientation 6: rotate 90 degrees clockwise.
        exif: Some(srgan_testkit::fixtures::exif_orientation(6)),
    };
    let input = dir.join("phone.jpg");
    let mut bytes = Vec::new();
    encode_image_with(
        &common::rgb8(12, 10),
        OutputFormat::jpeg(),
        &meta,
        std::io::Cursor::new(&mut bytes),
        &input,
    )
    .unwrap();
    std::fs::write(&input, &bytes).unwrap();
    for out_name in ["upright.png", "upright.jpg"] {
        let out = dir.join(out_name);
        let o = common::srgan_run(["-m", s(&model), "-i", s(&input), "-o", s(&out)], &[]);
        assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
        let d = decode_bytes(
            &std::fs::read(&out).unwrap(),
            &out,
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!((d.image.width(), d.image.height()), (40, 48), "{out_name}");
        assert_eq!(d.meta.icc.as_deref(), Some(&icc[..]), "{out_name}");
        let exif = d.meta.exif.expect("EXIF kept");
        assert_eq!(
            image::metadata::Orientation::from_exif_chunk(&exif),
            Some(image::metadata::Orientation::NoTransforms),
            "{out_name}"
        );
    }
}

/// More formats: WebP, TIFF (16-bit kept), BMP and GIF (first frame) in; lossless WebP and
/// TIFF out, by extension or -f; a lossless WebP output equals the PNG output pixel for pixel.
#[test]
fn webp_tiff_bmp_gif_in_webp_and_tiff_out() {
    let dir = TempDir::new("cli-formats");
    let model = common::tiny_model(&dir);
    let rgb = common::rgb8(12, 10);
    for name in ["in.webp", "in.bmp", "in.gif", "in.tif"] {
        common::save(&rgb, &dir.join(name));
    }
    common::save(&common::rgb16(12, 10), &dir.join("deep.tiff"));
    let run = |input: &str, out: &str, extra: &[&str]| {
        let mut a = vec!["-m", s(&model), "--runtime", "tract"];
        let (i, o) = (dir.join(input), dir.join(out));
        a.extend_from_slice(&["-i", s(&i), "-o", s(&o)]);
        a.extend_from_slice(extra);
        let r = common::srgan_run(&a, &[]);
        assert_eq!(
            r.status.code(),
            Some(0),
            "{input} -> {out}: {}",
            common::stderr(&r)
        );
        image::load_from_memory(&std::fs::read(&o).unwrap()).unwrap()
    };
    for input in ["in.webp", "in.bmp", "in.gif", "in.tif"] {
        let out = run(input, &format!("{input}.png"), &[]);
        assert_eq!((out.width(), out.height()), (48, 40), "{input}");
    }
    let deep = run("deep.tiff", "deep_x4.tif", &[]);
    assert_eq!(deep.color(), image::ColorType::Rgb16);
    let png = run("in.bmp", "o.png", &[]);
    let webp = run("in.bmp", "o.webp", &[]);
    assert_eq!(
        webp.to_rgb8(),
        png.to_rgb8(),
        "lossless WebP differs from PNG"
    );
    let forced = run("in.bmp", "forced", &["-f", "webp"]);
    assert_eq!(forced.to_rgb8(), png.to_rgb8());
    assert!(std::fs::read(dir.join("forced"))
        .unwrap()
        .starts_with(b"RIFF"));
    // A folder picks all of them up.
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    for name in ["a.webp", "b.bmp", "c.gif", "d.tiff"] {
        common::save(&rgb, &folder.join(name));
    }
    let out = dir.join("folder_out");
    let r = common::srgan_run(["-m", s(&model), "-i", s(&folder), "-o", s(&out)], &[]);
    assert_eq!(r.status.code(), Some(0), "{}", common::stderr(&r));
    assert_eq!(common::names(&out), ["a.webp", "b.png", "c.png", "d.tif"]);
}

/// `-x/--tta` runs the model on the 8 flips and rotations and averages: same size, a
/// different (symmetrised) output for a model that is not symmetric; srgan-eval takes it too.
#[test]
fn tta_averages_eight_runs() {
    let dir = TempDir::new("cli-tta");
    let model = common::tiny_model(&dir);
    let input = dir.join("a.png");
    common::save(&common::rgb8(14, 11), &input);
    let (plain, tta) = (dir.join("plain.png"), dir.join("tta.png"));
    for (out, extra) in [(&plain, None), (&tta, Some("-x"))] {
        let mut a = vec![
            "-m",
            s(&model),
            "-i",
            s(&input),
            "-o",
            s(out),
            "--runtime",
            "tract",
        ];
        a.extend(extra);
        let o = common::srgan_run(&a, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    }
    let (p, t) = (common::load(&plain), common::load(&tta));
    assert_eq!((t.width(), t.height()), (56, 44));
    assert_ne!(p.to_rgb8(), t.to_rgb8(), "TTA changed nothing");
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    common::save(&common::rgb8(48, 40), &data.join("a.png"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_srgan-eval"))
        .args([s(&model), "--data", s(&data), "--tta"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("x8 tta"));
}

/// Real-ESRGAN's `realesr-animevideov3-x4.pth` (SRVGGNetCompact, community weights made by
/// scripts/setup.sh), imported and exported in process as `srgan-export` does, through the
/// built `srgan-run` on a crop of the bundled photo: x4 on tract and ort within one 8-bit
/// level of each other, a tiled run within one level of the whole one, and nothing alarming on
/// stderr (the exported metadata carries the exact receptive-field radius, so no pad warning).
#[test]
fn community_srvgg_model_runs_on_both_runtimes() {
    let weights = common::fixture("community/realesr-animevideov3-x4.pth");
    assert!(
        weights.is_file(),
        "{} is missing: run scripts/setup.sh",
        weights.display()
    );
    let dir = TempDir::new("cli-community");
    let ck = srgan_export::import::load_weights(&weights).expect("import the .pth");
    assert_eq!(ck.config.describe(), "SRVGGNetCompact 16x64 (prelu), x4");
    let model = dir.join("realesr-animevideov3-x4.onnx");
    srgan_export::write_onnx(&ck, &model, &srgan_export::ExportOptions::default()).expect("export");
    // A 48x40 crop of the bundled CC0 photo (the cat's face and fur).
    let photo = image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/chelsea.png"))
        .expect("open the bundled photo");
    let input = dir.join("crop.png");
    common::save(&photo.crop_imm(150, 60, 48, 40), &input);
    let run = |name: &str, runtime: &str, tile: &str| {
        let output = dir.join(name);
        let out = common::srgan_run(
            [
                "-m",
                s(&model),
                "-i",
                s(&input),
                "-o",
                s(&output),
                "--runtime",
                runtime,
                "--tile",
                tile,
                "--threads",
                "2",
            ],
            &[],
        );
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{runtime} --tile {tile}: {err}");
        for bad in ["warning", "error", "panicked", "seams", "receptive"] {
            assert!(
                !err.contains(bad),
                "{runtime} --tile {tile}: `{bad}` in: {err}"
            );
        }
        (common::load(&output), err)
    };
    let (tract, _) = run("tract.png", "tract", "0");
    let (ort, _) = run("ort.png", "ort", "0");
    assert_eq!(tract.color(), image::ColorType::Rgb8);
    assert_eq!((tract.width(), tract.height()), (192, 160));
    assert_eq!((ort.width(), ort.height()), (192, 160));
    let d = common::max_level_diff(&tract, &ort);
    assert!(d <= 1, "tract vs ort: {d} levels");
    // Tiles of 16 with the model's own pad (18): the same image, and no seam warning.
    let (tiled, err) = run("tiled.png", "tract", "16");
    assert!(
        err.contains("tiles, windows of at most"),
        "did not tile: {err}"
    );
    let d = common::max_level_diff(&tract, &tiled);
    assert!(d <= 1, "tiled vs whole: {d} levels");
}

/// Inputs people have that are not plain RGB: a CMYK JPEG and a palette PNG work (the same
/// output as their RGB conversion by Pillow, an independent decoder), and an animated GIF is
/// upscaled as its first frame with a warning that names its frame count.
#[test]
fn cmyk_palette_and_animated_inputs() {
    let dir = TempDir::new("cli-cmyk");
    let model = common::tiny_model(&dir);
    srgan_testkit::python::run_code(
        "import sys\nimport numpy as np\nfrom PIL import Image\n\
         d = sys.argv[1]\n\
         a = (np.add.outer(np.arange(24), np.arange(32))[..., None] * np.array([3, 5, 7]) % 256)\n\
         im = Image.fromarray(a.astype('uint8'), 'RGB')\n\
         im.convert('CMYK').save(d + '/cmyk.jpg', quality=95)\n\
         Image.open(d + '/cmyk.jpg').convert('RGB').save(d + '/cmyk_rgb.png')\n\
         p = im.convert('P', palette=Image.ADAPTIVE, colors=16)\n\
         p.save(d + '/pal.png'); p.convert('RGB').save(d + '/pal_rgb.png')\n\
         assert Image.open(d + '/cmyk.jpg').mode == 'CMYK' and Image.open(d + '/pal.png').mode == 'P'\n\
         im.save(d + '/anim.gif', save_all=True, append_images=[im.transpose(0), im.transpose(1)], duration=100)\n\
         im.save(d + '/first.png')\n",
        &[dir.path()],
    );
    let run = |input: &str, out: &str| {
        let (i, o) = (dir.join(input), dir.join(out));
        let r = common::srgan_run(["-m", s(&model), "-i", s(&i), "-o", s(&o)], &[]);
        assert_eq!(r.status.code(), Some(0), "{input}: {}", common::stderr(&r));
        (common::load(&o).to_rgb8(), common::stderr(&r))
    };
    for (input, pillow) in [("cmyk.jpg", "cmyk_rgb.png"), ("pal.png", "pal_rgb.png")] {
        let (got, _) = run(input, &format!("{input}.png"));
        let (want, _) = run(pillow, &format!("{pillow}.out.png"));
        assert_eq!(got.dimensions(), (128, 96), "{input}");
        let worst = common::max_levels(&got, &want);
        // Palette: the same colours exactly; CMYK: Pillow and our decoder round apart by 1.
        assert!(worst <= 1, "{input}: {worst} levels from Pillow's RGB");
    }
    let (got, said) = run("anim.gif", "anim.png");
    assert!(
        said.contains("an animated GIF of 3 frames: only its first frame is upscaled"),
        "{said}"
    );
    assert_eq!(got, run("first.png", "first_x4.png").0);
}

/// `--passes`: above the model's scale, `2` runs the model on its own output (the result is
/// the model applied twice, then resampled), `1` runs it once; `auto` is one pass (what the
/// held-out photos measured better, MODEL_CARD.md); anything else is a one-line error.
#[test]
fn passes_above_the_models_scale() {
    let dir = TempDir::new("cli-passes");
    let model = common::tiny_model(&dir);
    let input = dir.join("in.png");
    common::save(&common::rgb8(12, 10), &input);
    let run = |out: &str, extra: &[&str]| {
        let o = dir.join(out);
        let mut a = vec!["-m", s(&model), "-i", s(&input), "-o", s(&o)];
        a.extend_from_slice(extra);
        let r = common::srgan_run(&a, &[]);
        (r, o)
    };
    let ok = |out: &str, extra: &[&str]| {
        let (r, o) = run(out, extra);
        assert_eq!(
            r.status.code(),
            Some(0),
            "{extra:?}: {}",
            common::stderr(&r)
        );
        common::load(&o).to_rgb8()
    };
    let one = ok("one.png", &["--outscale", "8", "--passes", "1"]);
    let two = ok("two.png", &["--outscale", "8", "--passes", "2"]);
    let auto = ok("auto.png", &["--outscale", "8"]);
    assert_eq!(one.dimensions(), (96, 80));
    assert_eq!(two.dimensions(), (96, 80));
    assert_eq!(auto, one, "auto is one pass");
    assert_ne!(two, one);
    // Two passes at x16 are exactly the model applied to its own x4 output.
    let x4 = ok("x4.png", &[]);
    let twice = {
        let i2 = dir.join("x4.png");
        let o2 = dir.join("x4x4.png");
        let r = common::srgan_run(["-m", s(&model), "-i", s(&i2), "-o", s(&o2)], &[]);
        assert_eq!(r.status.code(), Some(0), "{}", common::stderr(&r));
        common::load(&o2).to_rgb8()
    };
    assert_eq!(x4.dimensions(), (48, 40));
    assert_eq!(ok("x16.png", &["--outscale", "16", "--passes", "2"]), twice);
    let (r, _) = run("bad.png", &["--outscale", "8", "--passes", "3"]);
    assert_eq!(r.status.code(), Some(2), "{}", common::stderr(&r));
    assert!(
        common::stderr(&r).contains("expected auto, 1 or 2"),
        "{}",
        common::stderr(&r)
    );
}

/// An fp16 export (`--precision fp16`) runs unchanged through srgan-run on ort (f16
/// arithmetic) and on tract (computed in f32 with the f16 weights): within a level of the
/// fp32 model's output and of each other.
#[test]
fn fp16_models_run_on_both_runtimes() {
    use srgan_export::precision::Precision;
    let dir = TempDir::new("cli-fp16");
    let ck = srgan_export::Checkpoint::random_init(common::tiny_config(), 9).unwrap();
    let (m32, m16) = (dir.join("m32.onnx"), dir.join("m16.onnx"));
    srgan_export::write_onnx(&ck, &m32, &srgan_export::ExportOptions::default()).unwrap();
    let fp16 = srgan_export::ExportOptions {
        precision: Precision::Fp16,
        ..srgan_export::ExportOptions::default()
    };
    srgan_export::write_onnx(&ck, &m16, &fp16).unwrap();
    let input = dir.join("in.png");
    common::save(&common::rgb8(40, 30), &input);
    let run = |model: &Path, rt: &str| {
        let out = dir.join(format!(
            "{}-{rt}.png",
            model.file_stem().unwrap().to_str().unwrap()
        ));
        let r = common::srgan_run(
            [
                "-m",
                s(model),
                "--runtime",
                rt,
                "-i",
                s(&input),
                "-o",
                s(&out),
            ],
            &[],
        );
        assert_eq!(r.status.code(), Some(0), "{rt}: {}", common::stderr(&r));
        common::load(&out).to_rgb8()
    };
    let worst = common::max_levels;
    let f32_ort = run(&m32, "ort");
    let (ort16, tract16) = (run(&m16, "ort"), run(&m16, "tract"));
    assert!(worst(&ort16, &f32_ort) <= 1, "ort fp16 vs fp32");
    assert!(worst(&tract16, &f32_ort) <= 1, "tract fp16 vs fp32");
    assert!(worst(&tract16, &ort16) <= 1, "tract vs ort on fp16");
}
