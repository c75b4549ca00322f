//! Video through `srgan-run`: `srgan-run -i in.mp4 -o out.mp4` pipes the frames through
//! ffmpeg (found on `PATH`; Debian's `ffmpeg` package, which `scripts/setup.sh` installs).
//!
//! - `ffprobe` reads the size, frame rate, frame count, codec and whether there is audio;
//! - one `ffmpeg` decodes the first video stream to raw RGB frames on a pipe, another encodes
//!   the upscaled frames from a pipe, with the input's audio streams copied unchanged (into
//!   WebM, which takes only Opus and Vorbis, others are re-encoded to Opus) and its frame rate
//!   kept; no frame is written to disk;
//! - three threads overlap the work (read frames, run the model on this thread, write frames),
//!   with at most two frames queued on each side, and each frame is tiled like an image, so
//!   memory stays bounded whatever the length;
//! - the encoder writes a scratch file beside the output, renamed onto it only when ffmpeg
//!   succeeded: a failed or interrupted run (Ctrl-C) leaves no partial video.
//!
//! The video codec follows the input's where the container holds it (see `encoder_args`),
//! at visually lossless settings (CRF 18 for x264/x265, 24 for VP9 and AV1); the pixel format
//! is yuv420p (yuv444p when a side is odd). The written file is checked to hold every frame
//! before it is renamed into place (ffmpeg can exit 0 after failing to finish it).

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use image::{DynamicImage, RgbImage};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use srgan_imaging::budget::Tiling;
use srgan_imaging::pipeline::UpscaleOptions;
use srgan_runtimes::Upscaler;

use super::{RunConfig, RunError};

/// Input file extensions read as video (any case).
pub const VIDEO_EXTENSIONS: [&str; 7] = ["mp4", "mkv", "mov", "webm", "avi", "m4v", "ts"];

/// Whether `path` names a video by its extension.
pub fn is_video(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// ffmpeg's muxer for an output extension.
pub fn muxer(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp4" | "m4v" => "mp4",
        "mkv" => "matroska",
        "mov" => "mov",
        "webm" => "webm",
        "avi" => "avi",
        "ts" => "mpegts",
        _ => return None,
    })
}

/// What ffprobe says of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Frame width and height.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frame rate as ffmpeg writes it (`30000/1001`).
    pub rate: String,
    /// Frame count, when the container gives it.
    pub frames: Option<u64>,
    /// Whether the average frame rate differs from the stream rate (variable frame rate).
    pub variable_rate: bool,
    /// The video codec's name (`h264`).
    pub codec: String,
    /// The codecs of its audio streams (`aac`), in order.
    pub audio_codecs: Vec<String>,
    /// Seconds by which the video starts after the earliest audio or video stream.
    pub video_delay: f64,
}

/// Why a video run failed; each names the file or the tool.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// ffmpeg or ffprobe is not installed.
    #[error(
        "{tool} not found on PATH: srgan-run reads and writes video through ffmpeg; install it \
         (Debian/Ubuntu: `apt-get install ffmpeg`; macOS: `brew install ffmpeg`)"
    )]
    Missing {
        /// The program.
        tool: &'static str,
    },
    /// ffprobe could not read the input.
    #[error("{}: ffprobe cannot read it as a video: {reason}", path.display())]
    Probe {
        /// The input.
        path: PathBuf,
        /// ffprobe's message.
        reason: String,
    },
    /// ffmpeg failed.
    #[error("{}: ffmpeg {stage} failed: {reason}", path.display())]
    Ffmpeg {
        /// The file it was reading or writing.
        path: PathBuf,
        /// decoding or encoding.
        stage: &'static str,
        /// ffmpeg's last message, or the exit status.
        reason: String,
    },
    /// The model failed on a frame.
    #[error("{}: frame {frame}", path.display())]
    Upscale {
        /// The input.
        path: PathBuf,
        /// The frame, from 1.
        frame: u64,
        /// Why.
        #[source]
        source: srgan_imaging::pipeline::PipelineError,
    },
    /// `--max-memory` cannot hold a tile of the frames.
    #[error("{}: --max-memory", path.display())]
    Budget {
        /// The input.
        path: PathBuf,
        /// Why.
        #[source]
        source: srgan_imaging::budget::BudgetError,
    },
    /// The output is too large.
    #[error("{}: output frames of {width}x{height} are over --max-output-pixels {limit}", path.display())]
    TooLarge {
        /// The input.
        path: PathBuf,
        /// Output width.
        width: u32,
        /// Output height.
        height: u32,
        /// The limit.
        limit: u64,
    },
    /// The scratch output could not be made or renamed.
    #[error("{}", path.display())]
    Io {
        /// The output.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn spawn(tool: &'static str, cmd: &mut Command) -> Result<Child, VideoError> {
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VideoError::Missing { tool },
        _ => VideoError::Ffmpeg {
            path: PathBuf::from(tool),
            stage: "start",
            reason: e.to_string(),
        },
    })
}

/// The last non-empty line of a tool's stderr, or `fallback`.
fn last_line(text: &str, fallback: String) -> String {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or(fallback, str::to_string)
}

/// Reads the input's first video stream and counts its audio streams with ffprobe.
pub fn probe(path: &Path) -> Result<Probe, VideoError> {
    let out = spawn(
        "ffprobe",
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries"])
            .arg(
                "stream=codec_type,codec_name,width,height,r_frame_rate,avg_frame_rate,nb_frames,\
                 start_time:\
                 stream_tags=rotate:stream_side_data=rotation",
            )
            .args(["-of", "json"])
            .arg(ffmpeg_path(path))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?
    .wait_with_output()
    .map_err(|e| VideoError::Probe {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let err = |reason: String| VideoError::Probe {
        path: path.into(),
        reason,
    };
    if !out.status.success() {
        return Err(err(last_line(
            &String::from_utf8_lossy(&out.stderr),
            format!("exit status {}", out.status),
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| err(format!("unreadable ffprobe output: {e}")))?;
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .ok_or_else(|| err("no video stream".into()))?;
    let dim = |k: &str| {
        video[k]
            .as_u64()
            .filter(|v| *v > 0 && *v <= u64::from(u32::MAX))
            .map(|v| v as u32)
            .ok_or_else(|| err(format!("no {k} for the video stream")))
    };
    let rate = video["r_frame_rate"]
        .as_str()
        .filter(|r| {
            r.split_once('/')
                .and_then(|(n, d)| Some((n.parse::<u64>().ok()?, d.parse::<u64>().ok()?)))
                .is_some_and(|(n, d)| n > 0 && d > 0)
        })
        .ok_or_else(|| err("no frame rate for the video stream".into()))?
        .to_string();
    // ffmpeg rotates frames upright on decoding (display matrix or `rotate` tag): a quarter
    // turn swaps the frame's sides.
    let rotation = video["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_i64()))
        .or_else(|| {
            video["tags"]["rotate"]
                .as_str()
                .and_then(|r| r.parse().ok())
        })
        .unwrap_or(0);
    let (w, h) = (dim("width")?, dim("height")?);
    let (width, height) = if rotation.rem_euclid(180) == 90 {
        (h, w)
    } else {
        (w, h)
    };
    let avg = video["avg_frame_rate"].as_str().unwrap_or("");
    let ratio = |r: &str| {
        r.split_once('/')
            .and_then(|(n, d)| Some(n.parse::<f64>().ok()? / d.parse::<f64>().ok()?))
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let variable_rate = match (ratio(&rate), ratio(avg)) {
        (Some(r), Some(a)) => (r - a).abs() > 1e-3 * r,
        _ => false,
    };
    Ok(Probe {
        width,
        height,
        variable_rate,
        rate,
        frames: video["nb_frames"].as_str().and_then(|n| n.parse().ok()),
        codec: video["codec_name"].as_str().unwrap_or("").to_string(),
        audio_codecs: streams
            .iter()
            .filter(|s| s["codec_type"] == "audio")
            .map(|s| s["codec_name"].as_str().unwrap_or("").to_string())
            .collect(),
        video_delay: {
            // How much later than the file's first stream the video starts: the decoded frames
            // start at 0, so the encoder shifts them by this to keep the audio in sync.
            let start = |s: &serde_json::Value| {
                s["start_time"]
                    .as_str()
                    .and_then(|t| t.parse::<f64>().ok())
                    .filter(|t| t.is_finite())
            };
            let first = streams
                .iter()
                .filter(|s| matches!(s["codec_type"].as_str(), Some("video" | "audio")))
                .filter_map(start)
                .fold(f64::INFINITY, f64::min);
            start(video)
                .map(|v| v - first)
                .filter(|d| d.is_finite() && *d > 0.0005)
                .unwrap_or(0.0)
        },
    })
}

/// The audio arguments and what they do: the streams copied unchanged where the container
/// holds their codec (Matroska holds any), else re-encoded to the container's usual codec:
/// Opus into WebM, PCM into AVI, AAC into MP4, MOV and MPEG-TS.
fn audio_args(codecs: &[String], muxer: &str) -> (Vec<&'static str>, &'static str) {
    let holds = |c: &str| match muxer {
        "matroska" => true,
        "webm" => matches!(c, "opus" | "vorbis"),
        "mp4" | "mov" => matches!(c, "aac" | "mp3" | "ac3" | "eac3" | "alac" | "opus"),
        "mpegts" => matches!(c, "aac" | "mp2" | "mp3" | "ac3" | "eac3"),
        "avi" => matches!(c, "mp3" | "ac3" | "pcm_s16le" | "pcm_u8" | "mp2"),
        _ => false,
    };
    if codecs.iter().all(|c| holds(c)) {
        return (vec!["-c:a", "copy"], "copied");
    }
    match muxer {
        "webm" => (
            vec!["-c:a", "libopus", "-b:a", "160k"],
            "re-encoded to Opus",
        ),
        "avi" => (vec!["-c:a", "pcm_s16le"], "re-encoded to PCM"),
        _ => (vec!["-c:a", "aac", "-b:a", "192k"], "re-encoded to AAC"),
    }
}

/// `path` as ffmpeg should read it: absolute, so that a name with a `:` is not taken for a
/// protocol nor one starting with `-` for an option.
fn ffmpeg_path(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.into())
}

/// The encoder arguments for `codec` (the input's) into `muxer`, for frames of `w` x `h`.
fn encoder_args(codec: &str, muxer: &str, w: u32, h: u32) -> Vec<String> {
    // The input's codec where the container holds it well; H.264 elsewhere (AVI and MPEG-TS
    // too), VP9 into WebM.
    let pick = match (codec, muxer) {
        (_, "webm") => "vp9",
        ("hevc", "mp4" | "mov" | "matroska") => "hevc",
        ("vp9", "matroska" | "mp4") => "vp9",
        ("av1", "matroska" | "mp4") => "av1",
        _ => "h264",
    };
    let mut a: Vec<String> = match pick {
        "vp9" => vec![
            "-c:v",
            "libvpx-vp9",
            "-crf",
            "24",
            "-b:v",
            "0",
            "-row-mt",
            "1",
        ],
        "hevc" => vec!["-c:v", "libx265", "-crf", "18", "-preset", "medium"],
        "av1" => vec![
            "-c:v",
            "libaom-av1",
            "-crf",
            "24",
            "-b:v",
            "0",
            "-cpu-used",
            "6",
        ],
        _ => vec!["-c:v", "libx264", "-crf", "18", "-preset", "medium"],
    }
    .into_iter()
    .map(String::from)
    .collect();
    let pix = if (w | h) & 1 == 0 {
        "yuv420p"
    } else {
        "yuv444p"
    };
    a.extend(["-pix_fmt".into(), pix.into()]);
    a
}

/// `Ok` when an ffmpeg run on `path` exited 0 and its pipe broke nowhere; else its error,
/// with ffmpeg's last message (`text`) when it said one.
fn ffmpeg_outcome(
    path: &Path,
    stage: &'static str,
    status: std::process::ExitStatus,
    text: &str,
    pipe_err: Option<std::io::Error>,
) -> Result<(), VideoError> {
    if status.success() && pipe_err.is_none() {
        return Ok(());
    }
    Err(VideoError::Ffmpeg {
        path: path.into(),
        stage,
        reason: last_line(
            text,
            pipe_err.map_or_else(|| format!("exit status {status}"), |e| e.to_string()),
        ),
    })
}

/// The video packets (frames) in a file written by `muxer`, counted by ffprobe without
/// decoding.
fn count_video_packets(path: &Path, muxer: &str) -> Option<u64> {
    let demuxer = match muxer {
        "mp4" => "mov",
        "webm" => "matroska",
        other => other,
    };
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-f", demuxer])
        .args(["-select_streams", "v:0", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(ffmpeg_path(path))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // MPEG-TS lists the stream once per program too: the first number is the count.
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Reads a child's stderr to its end on a thread (so the child never blocks on a full pipe).
fn drain(stderr: Option<ChildStderr>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut s);
        }
        s
    })
}

/// What [`process`] wrote.
#[derive(Debug, Clone)]
pub struct VideoDone {
    /// Frames written.
    pub frames: u64,
    /// Output frame size.
    pub size: (u32, u32),
    /// Audio streams.
    pub audio_streams: usize,
    /// What was done to them: `copied`, or `re-encoded to AAC` (etc.).
    pub audio: &'static str,
    /// The frame count the input's container gives, when more than were read (a cut-off
    /// file).
    pub expected_frames: Option<u64>,
    /// The encoder used.
    pub encoder: String,
    /// Seconds from the first frame read to the file in place.
    pub secs: f64,
}

/// Upscales every frame of `input` into `output` (see the module docs).
pub(crate) fn process(
    upscaler: &mut dyn Upscaler,
    input: &Path,
    output: &Path,
    cfg: &RunConfig,
    tiling: &Tiling,
    on_tiled: &dyn Fn(usize, (usize, usize)),
) -> Result<VideoDone, RunError> {
    let p = probe(input)?;
    let scale = upscaler.scale() as u32;
    let (mw, mh) = (p.width * scale, p.height * scale);
    let (ow, oh) = cfg
        .out_size
        .map_or((mw, mh), |s| s.for_input(p.width, p.height));
    if u64::from(ow) * u64::from(oh) > cfg.max_output_pixels {
        return Err(VideoError::TooLarge {
            path: input.into(),
            width: ow,
            height: oh,
            limit: cfg.max_output_pixels,
        }
        .into());
    }
    let muxer = muxer(output).expect("the output's extension was checked");
    let passes = cfg.passes.for_image(
        upscaler.scale(),
        (p.width, p.height),
        cfg.out_size.map(|_| (ow, oh)),
        cfg.max_output_pixels,
    );
    let io = |source| VideoError::Io {
        path: output.into(),
        source,
    };
    let scratch = srgan_contract::files::scratch_beside(output, b"").map_err(io)?;
    let encoder = encoder_args(&p.codec, muxer, ow, oh);
    let audio = audio_args(&p.audio_codecs, muxer);

    let mut dec = spawn(
        "ffmpeg",
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(ffmpeg_path(input))
            // A variable-rate input is made constant-rate at its stream rate, so that it keeps
            // its timing (and its sync with the audio) by repeated frames; a constant-rate one
            // passes frame for frame.
            .args(["-map", "0:v:0"])
            .args(if p.variable_rate {
                vec!["-fps_mode", "cfr", "-r", p.rate.as_str()]
            } else {
                vec!["-fps_mode", "passthrough"]
            })
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let _dec_guard = srgan_contract::files::register_child(dec.id());
    let dec_err = drain(dec.stderr.take());
    let mut enc = match spawn(
        "ffmpeg",
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
            .arg(format!("{ow}x{oh}"))
            .args(["-itsoffset", &format!("{:.6}", p.video_delay)])
            .args(["-framerate", &p.rate, "-i", "pipe:0", "-i"])
            .arg(ffmpeg_path(input))
            .args(["-map", "0:v:0", "-map", "1:a?"])
            .args(&audio.0)
            .args(&encoder)
            // Frames keep the pipe's timestamps (with the offset): no duplicates to fill the gap.
            .args(["-fps_mode", "passthrough", "-f", muxer])
            .arg(ffmpeg_path(scratch.path()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    ) {
        Ok(c) => c,
        Err(e) => {
            let _ = dec.kill();
            let _ = dec.wait();
            return Err(e.into());
        }
    };
    let _enc_guard = srgan_contract::files::register_child(enc.id());
    let enc_err = drain(enc.stderr.take());
    let frame_bytes = p.width as usize * p.height as usize * 3;
    let bar = progress(cfg, p.frames);
    let start = Instant::now();

    let (dec_out, enc_in) = (dec.stdout.take(), enc.stdin.take());
    let (tx_frames, rx_frames) = sync_channel::<RgbImage>(2);
    let (tx_out, rx_out) = sync_channel::<RgbImage>(2);
    let (width, height) = (p.width, p.height);
    type Outcome = (u64, Option<std::io::Error>, Option<std::io::Error>);
    let result: Result<Outcome, VideoError> = std::thread::scope(|s| {
        let reader = s.spawn(move || -> std::io::Result<u64> {
            let mut r = BufReader::with_capacity(frame_bytes.min(1 << 24), dec_out.unwrap());
            let mut n = 0;
            loop {
                let mut buf = vec![0u8; frame_bytes];
                match r.read_exact(&mut buf) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(n),
                    Err(e) => return Err(e),
                }
                n += 1;
                let frame = RgbImage::from_raw(width, height, buf).expect("frame_bytes");
                if tx_frames.send(frame).is_err() {
                    return Ok(n);
                }
            }
        });
        let writer = s.spawn(move || -> std::io::Result<()> {
            let mut w = BufWriter::new(enc_in.unwrap());
            for frame in rx_out {
                w.write_all(frame.as_raw())?;
            }
            w.flush()
        });
        let mut done = 0u64;
        let mut told = false;
        let mut failure = None;
        for frame in rx_frames {
            let img = DynamicImage::ImageRgb8(frame);
            let t = match tiling.for_image(&img) {
                Ok(t) => t,
                Err(source) => {
                    failure = Some(VideoError::Budget {
                        path: input.into(),
                        source,
                    });
                    break;
                }
            };
            if !told {
                let tiles = srgan_imaging::tiling::plan_tiles(height as usize, width as usize, t);
                if tiles.len() > 1 {
                    let window = tiles.iter().fold((0, 0), |(a, b), t| {
                        (a.max(t.win_y.1 - t.win_y.0), b.max(t.win_x.1 - t.win_x.0))
                    });
                    on_tiled(tiles.len(), window);
                }
                told = true;
            }
            let opts = UpscaleOptions {
                tiling: t,
                max_output_pixels: cfg.max_output_pixels,
                ..UpscaleOptions::default()
            };
            let out = super::pipeline::upscale_passes(
                upscaler,
                img,
                &opts,
                tiling,
                passes,
                Some((ow, oh)),
            );
            match out {
                Ok(o) => {
                    done += 1;
                    bar.inc(1);
                    if tx_out.send(o.to_rgb8()).is_err() {
                        break;
                    }
                }
                Err(source) => {
                    failure = Some(VideoError::Upscale {
                        path: input.into(),
                        frame: done + 1,
                        source,
                    });
                    break;
                }
            }
        }
        drop(tx_out);
        let read = reader.join().expect("the frame reader does not panic");
        let wrote = writer.join().expect("the frame writer does not panic");
        match failure {
            Some(f) => Err(f),
            None => Ok((done, read.err(), wrote.err())),
        }
    })
    .inspect_err(|_| {
        let _ = dec.kill();
        let _ = enc.kill();
    });
    bar.finish_and_clear();
    let dec_status = dec.wait().map_err(io)?;
    let enc_status = enc.wait().map_err(io)?;
    let dec_text = dec_err.join().unwrap_or_default();
    let enc_text = enc_err.join().unwrap_or_default();
    let (frames, read_err, write_err) = result?;
    // ffmpeg's own message says more than a broken pipe: its status is checked first.
    ffmpeg_outcome(input, "decoding", dec_status, &dec_text, read_err)?;
    ffmpeg_outcome(output, "encoding", enc_status, &enc_text, write_err)?;
    if frames == 0 {
        return Err(VideoError::Ffmpeg {
            path: input.into(),
            stage: "decoding",
            reason: "no frames".into(),
        }
        .into());
    }
    // ffmpeg can exit 0 with a file it could not finish (a full disk fails the trailer): the
    // written file must hold every frame.
    let held = count_video_packets(scratch.path(), muxer);
    if held != Some(frames) {
        return Err(VideoError::Ffmpeg {
            path: output.into(),
            stage: "encoding",
            reason: last_line(
                &enc_text,
                format!(
                    "the written file holds {} of the {frames} frames",
                    held.map_or_else(|| "none (unreadable)".to_string(), |n| n.to_string())
                ),
            ),
        }
        .into());
    }
    scratch
        .persist(output, cfg.overwrite)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => VideoError::Io {
                path: output.into(),
                source: std::io::Error::new(
                    e.kind(),
                    "already exists: another run wrote it meanwhile (pass --overwrite to \
                     replace it)",
                ),
            },
            _ => VideoError::Io {
                path: output.into(),
                source: e,
            },
        })?;
    Ok(VideoDone {
        frames,
        size: (ow, oh),
        audio_streams: p.audio_codecs.len(),
        audio: audio.1,
        expected_frames: p.frames.filter(|n| *n > frames),
        encoder: encoder[1].clone(),
        secs: start.elapsed().as_secs_f64(),
    })
}

/// A frame counter with rate and ETA on a terminal (hidden with -q, --json or no terminal).
fn progress(cfg: &RunConfig, frames: Option<u64>) -> ProgressBar {
    if cfg.quiet || cfg.json {
        return ProgressBar::hidden();
    }
    let bar = match frames {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = if frames.is_some() {
        "srgan-run: {pos}/{len} frames [{bar:30}] {per_sec}, ETA {eta}"
    } else {
        "srgan-run: {pos} frames, {per_sec}"
    };
    bar.set_style(
        ProgressStyle::with_template(style)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}
