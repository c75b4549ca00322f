//! `srgan-run` on video, end to end through ffmpeg (installed by `scripts/setup.sh`): frame
//! count, frame rate, size and audio kept; frames are the model's output; errors are one line
//! and leave nothing behind.

use std::path::Path;
use std::process::Command;

use crate::common::{self, stderr, upscale, TempDir};

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed by scripts/setup.sh");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (width, height, frames counted by decoding, frame rate, audio streams) of a video.
fn probe(path: &Path) -> (u32, u32, u64, String, usize) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_type,width,height,nb_read_frames,r_frame_rate")
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = j["streams"].as_array().unwrap();
    let v = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    let audio = streams
        .iter()
        .filter(|s| s["codec_type"] == "audio")
        .count();
    (
        v["width"].as_u64().unwrap() as u32,
        v["height"].as_u64().unwrap() as u32,
        v["nb_read_frames"].as_str().unwrap().parse().unwrap(),
        v["r_frame_rate"].as_str().unwrap().to_string(),
        audio,
    )
}

/// A short test video at 10 fps: frame `n` is a `w`x`h` window of a pattern of waves a few
/// pixels long, moved by `3n` pixels (each frame far from the next), encoded losslessly
/// (H.264, yuv444p, CRF 0), with a sine tone (AAC) when `audio`.
fn make_video(path: &Path, w: u32, h: u32, frames: u32, audio: bool) {
    let dir = path.with_extension("frames");
    std::fs::create_dir_all(&dir).unwrap();
    let pattern = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(
        w + 3 * frames,
        h + 3 * frames,
        |x, y| {
            image::Rgb(std::array::from_fn(|c| {
                let (x, y, c) = (f64::from(x), f64::from(y), c as f64);
                (127.5 + 120.0 * (0.55 * x + 2.1 * c).sin() * (0.43 * y - 1.3 * c).cos()) as u8
            }))
        },
    ));
    for n in 0..frames {
        let f = pattern.crop_imm(3 * n, 3 * n, w, h);
        common::save(&f, &dir.join(format!("f{n:03}.png")));
    }
    let frames_in = dir.join("f%03d.png");
    let secs = format!("{}", f64::from(frames) / 10.0);
    let mut args = vec!["-framerate", "10", "-i", frames_in.to_str().unwrap()];
    if audio {
        args.extend(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]);
    }
    args.extend([
        "-t", &secs, "-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "0",
    ]);
    if audio {
        args.extend(["-c:a", "aac", "-shortest"]);
    }
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Mean absolute difference in levels between two same-sized RGB8 images.
fn mean_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn a_video_keeps_its_frames_rate_and_audio_and_its_frames_are_the_models() {
    let dir = TempDir::new("video");
    // The shipped (trained) x4 model: its output follows its input, frame by frame.
    let model = std::path::PathBuf::from("srresnet_x4");
    let input = dir.join("in.mp4");
    make_video(&input, 40, 24, 12, true);
    assert_eq!(probe(&input), (40, 24, 12, "10/1".into(), 1));
    let output = dir.join("out.mp4");
    let out = upscale(&input, &output, &model, &[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("12 frames") && said.contains("160x96") && said.contains("1 audio"),
        "{said}"
    );
    assert_eq!(probe(&output), (160, 96, 12, "10/1".into(), 1));

    // The frames are the model's, in order: frame 5 of the output against srgan-run on frames
    // 4, 5 and 6 of the input as PNGs. The output went through a lossy encoder (yuv420p, CRF
    // 18), so it is only close to the model's frame 5; but it is much closer to it than to the
    // neighbouring frames' outputs or to a plain resize of frame 5.
    let frame = |src: &Path, n: u32, dst: &Path| {
        ffmpeg(&[
            "-i",
            src.to_str().unwrap(),
            "-vf",
            &format!("select=eq(n\\,{n})"),
            "-frames:v",
            "1",
            dst.to_str().unwrap(),
        ]);
        common::load(dst).to_rgb8()
    };
    let got = frame(&output, 4, &dir.join("out5.png"));
    let model_frame = |n: u32| {
        let (f_in, f_up) = (
            dir.join(format!("in{n}.png")),
            dir.join(format!("up{n}.png")),
        );
        let lr = frame(&input, n, &f_in);
        let o = upscale(&f_in, &f_up, &model, &[], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        (lr, common::load(&f_up).to_rgb8())
    };
    let (lr5, want) = model_frame(4);
    let d = mean_diff(&got, &want);
    assert!(
        d < 6.0,
        "frame 5: mean difference {d:.2} levels from the model's output"
    );
    for n in [3, 5] {
        let other = mean_diff(&got, &model_frame(n).1);
        eprintln!("frame 5 vs the model's frame {}: {other:.2} levels", n + 1);
        assert!(
            other > 2.0 * d,
            "frame 5 vs the model's frame {}: {other:.2} <= 2 x {d:.2}",
            n + 1
        );
    }
    let resized = image::imageops::resize(&lr5, 160, 96, image::imageops::FilterType::Triangle);
    let plain = mean_diff(&got, &resized);
    eprintln!("frame 5 vs the model's: {d:.2} levels; vs a plain resize: {plain:.2}");
    assert!(
        plain > 2.0 * d,
        "a plain resize is {plain:.2} levels off, the model's frame {d:.2}"
    );

    // An existing output is kept without --overwrite; no scratch file is left.
    let again = upscale(&input, &output, &model, &[], &[]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    // ... and skipped with --skip-existing (a folder of videos resumes like one of images).
    let skip = upscale(&input, &output, &model, &["--skip-existing"], &[]);
    assert!(skip.status.success(), "{}", stderr(&skip));
    assert!(stderr(&skip).contains("skipped"), "{}", stderr(&skip));
    let names = common::names(dir.path());
    assert!(names.iter().all(|n| !n.contains("scratch")), "{names:?}");
}

#[test]
fn any_output_size_and_other_containers() {
    let dir = TempDir::new("video-size");
    let model = common::tiny_model(&dir);
    // Matroska with AAC audio into WebM, which takes only Opus or Vorbis: re-encoded.
    let input = dir.join("in.mkv");
    make_video(&input, 32, 20, 5, true);
    let output = dir.join("out.webm");
    let out = upscale(
        &input,
        &output,
        &model,
        &["--outscale", "2", "--tile", "16"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(probe(&output), (64, 40, 5, "10/1".into(), 1));
}

#[test]
fn video_errors_are_one_line_and_leave_nothing() {
    let dir = TempDir::new("video-bad");
    let model = common::tiny_model(&dir);
    let input = dir.join("in.mp4");
    make_video(&input, 16, 16, 2, false);
    let run = |input: &Path, output: &Path, env: &[(&str, &str)]| {
        upscale(input, output, &model, &[], env)
    };
    // No ffmpeg on PATH: says how to install it.
    let empty = dir.join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let o = run(
        &input,
        &dir.join("a.mp4"),
        &[("PATH", empty.to_str().unwrap())],
    );
    common::assert_one_line_error(&o, 2, &["apt-get install ffmpeg"]);
    // Not a video, though named like one.
    let fake = dir.join("fake.mp4");
    std::fs::write(&fake, b"not a video at all").unwrap();
    let o = run(&fake, &dir.join("b.mp4"), &[]);
    common::assert_one_line_error(&o, 2, &["fake.mp4: ffprobe cannot read it as a video"]);
    // A video into an image name, and an unknown video extension.
    let o = upscale(
        &input,
        &dir.join("d.mp4"),
        &model,
        &["--format", "png"],
        &[],
    );
    common::assert_one_line_error(&o, 2, &["--format", "in.mp4 is a video"]);
    let o = run(&input, &dir.join("c.png"), &[]);
    common::assert_one_line_error(&o, 2, &["c.png", "name it .mp4, .mkv, .mov, .webm"]);
    let names: Vec<String> = common::names(dir.path())
        .into_iter()
        .filter(|n| n != "in.mp4" && n != "fake.mp4" && n != "empty-path" && !n.ends_with(".onnx"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// A phone video's rotation (display matrix) comes out upright with its sides swapped; AVI
/// and MPEG-TS outputs decode with every frame, their audio copied where the container holds
/// it (AAC into MPEG-TS) and re-encoded where not (AAC into AVI: PCM), and the message says
/// which; `--json` reports a failure as a JSON line too.
#[test]
fn rotation_containers_and_json_failures() {
    let dir = TempDir::new("video-rot");
    let model = common::tiny_model(&dir);
    let input = dir.join("in.mp4");
    make_video(&input, 40, 24, 6, true);
    let rotated = dir.join("rot.mp4");
    ffmpeg(&[
        "-i",
        input.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        rotated.to_str().unwrap(),
    ]);
    let out = dir.join("rot_x4.mp4");
    let o = upscale(&rotated, &out, &model, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        probe(&out),
        (96, 160, 6, "10/1".into(), 1),
        "upright, sides swapped"
    );
    for (name, audio) in [("out.avi", "re-encoded to PCM"), ("out.ts", "copied")] {
        let out = dir.join(name);
        let o = upscale(&input, &out, &model, &[], &[]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("1 audio stream {audio}")),
            "{}",
            stderr(&o)
        );
        let (w, h, frames, _, streams) = probe(&out);
        assert_eq!((w, h, frames, streams), (160, 96, 6, 1), "{name}");
    }
    let fake = dir.join("fake.mp4");
    std::fs::write(&fake, b"not a video").unwrap();
    let o = upscale(&fake, &dir.join("f.mp4"), &model, &["--json"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let line = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(v["status"], "failed");
    assert!(v["error"].as_str().unwrap().contains("ffprobe"), "{v}");
}

/// A video that starts later than its audio (here 1 s) keeps that offset, so the sound stays in
/// sync with the picture.
#[test]
fn a_video_starting_after_its_audio_keeps_the_offset() {
    let dir = TempDir::new("video-offset");
    let model = common::tiny_model(&dir);
    let (video, audio, input) = (dir.join("v.mp4"), dir.join("a.m4a"), dir.join("in.mp4"));
    make_video(&video, 32, 24, 10, false);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=16000:duration=2",
        "-c:a",
        "aac",
        audio.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-itsoffset",
        "1",
        "-i",
        video.to_str().unwrap(),
        "-i",
        audio.to_str().unwrap(),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c",
        "copy",
        input.to_str().unwrap(),
    ]);
    let start = |path: &Path, kind: &str| -> f64 {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", kind, "-show_entries"])
            .args(["stream=start_time", "-of", "csv=p=0"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let delay_in = start(&input, "v:0") - start(&input, "a:0");
    assert!((delay_in - 1.0).abs() < 0.05, "input delay {delay_in}");
    let output = dir.join("out.mp4");
    let o = upscale(&input, &output, &model, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let delay_out = start(&output, "v:0") - start(&output, "a:0");
    assert!(
        (delay_out - delay_in).abs() < 0.05,
        "video starts {delay_out:.3} s after the audio, was {delay_in:.3} s"
    );
}
