//! The fault suite (issue 10): what a hostile user does to the command lines, and what must
//! hold afterwards — the documented exit code, one clear line, and no file changed outside the
//! expected outputs (the folder is hashed before and after). See RELIABILITY.md.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use srgan_contract::exit;
use srgan_testkit::fixtures::folder_digest;

use crate::common::{self, s, srgan_eval, TempDir};

/// The temporary files of the atomic writes left in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    common::names(dir)
        .into_iter()
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .collect()
}

/// `srgan-eval --json` never truncates a file before evaluating: not the model, not an
/// input, not an existing report without --overwrite; the report is written at the end.
#[test]
fn eval_report_never_replaces_an_input_or_an_existing_file() {
    let dir = TempDir::new("fault-eval-json");
    let model = common::tiny_model(&dir);
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    common::save(&common::rgb8(48, 40), &data.join("a.png"));
    let report = dir.join("report.jsonl");
    std::fs::write(&report, b"an earlier report\n").unwrap();
    let image = data.join("a.png");
    let before = folder_digest(&dir);
    for (json, why) in [
        (&model, "replace an input"),
        (&image, "replace an input"),
        (&report, "--overwrite"),
    ] {
        let o = srgan_eval(&[s(&model), "--data", s(&data), "--json", s(json)]);
        let err = common::stderr(&o);
        assert_eq!(o.status.code(), Some(i32::from(exit::FAILURE)), "{err}");
        assert!(err.contains(why) && err.lines().count() == 1, "{err}");
        assert_eq!(folder_digest(&dir), before, "a file changed: {err}");
    }
    // Even with --overwrite, an input is never the report.
    let o = srgan_eval(&[
        s(&model),
        "--data",
        s(&data),
        "--json",
        s(&model),
        "--overwrite",
    ]);
    assert_eq!(o.status.code(), Some(i32::from(exit::FAILURE)));
    assert_eq!(folder_digest(&dir), before);
    // --overwrite replaces the report, whole.
    let o = srgan_eval(&[
        s(&model),
        "--data",
        s(&data),
        "--json",
        s(&report),
        "--overwrite",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("\"image\":\"a.png\""), "{text}");
    assert!(lines[1].contains("\"image\":\"mean\""), "{text}");
    assert_eq!(temp_files(&dir), Vec::<String>::new());
}

/// A folder of photos that the paper-size model takes a few seconds over, so that a signal
/// lands mid-run.
fn slow_folder(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let input = dir.join("in");
    std::fs::create_dir(&input).unwrap();
    for i in 0..6 {
        common::save(&common::rgb8(96 + i, 96), &input.join(format!("p{i}.png")));
    }
    (input, dir.join("out"))
}

fn shipped_model() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/x4/srresnet_x4.onnx")
}

/// Starts srgan-run on the slow folder and waits until its first output is written.
fn start_and_wait_for_first_output(input: &Path, out: &Path) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_srgan-run"))
        .args(["-m", s(&shipped_model()), "-i", s(input), "-o", s(out)])
        .args(["--threads", "1", "--overwrite"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start srgan-run");
    let start = Instant::now();
    while common::names(out).iter().all(|n| !n.ends_with(".png")) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no output in 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn kill(child: &std::process::Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill {signal} failed");
}

/// SIGTERM and SIGINT mid-run: exit 130, every output left is complete, no temporary file.
#[test]
fn a_signal_mid_run_leaves_only_complete_outputs() {
    for signal in ["-TERM", "-INT"] {
        let dir = TempDir::new("fault-signal");
        let (input, out) = slow_folder(&dir);
        let inputs = folder_digest(&input);
        let child = start_and_wait_for_first_output(&input, &out);
        kill(&child, signal);
        let o = child.wait_with_output().unwrap();
        let err = common::stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(i32::from(exit::INTERRUPTED)),
            "{signal}: {err}"
        );
        assert!(err.contains("interrupted"), "{signal}: {err}");
        assert_eq!(temp_files(&out), Vec::<String>::new(), "{signal}");
        let written = common::names(&out);
        assert!(
            !written.is_empty() && written.len() < 6,
            "{signal}: {written:?}"
        );
        for name in written {
            let img = common::load(&out.join(&name));
            assert_eq!(img.height(), 96 * 4, "{signal}: {name}");
        }
        assert_eq!(folder_digest(&input), inputs, "{signal}: an input changed");
    }
}

/// SIGKILL cannot be caught: whatever temporary file it leaves is removed by the next run
/// into the same folder (here also a planted one of a dead process).
#[test]
fn a_killed_runs_temporary_files_are_removed_by_the_next_run() {
    let dir = TempDir::new("fault-kill");
    let (input, out) = slow_folder(&dir);
    let mut child = start_and_wait_for_first_output(&input, &out);
    kill(&child, "-KILL");
    assert_eq!(child.wait().unwrap().code(), None, "killed by the signal");
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::write(out.join(format!(".p9.png.{dead}.AbCd12.tmp")), b"half").unwrap();
    let o = common::srgan_run(
        [
            "-m",
            s(&shipped_model()),
            "-i",
            s(&input),
            "-o",
            s(&out),
            "--overwrite",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert_eq!(temp_files(&out), Vec::<String>::new());
    assert_eq!(common::names(&out).len(), 6);
}

/// An output named for a format srgan-run does not write, or with no extension, is refused
/// before anything runs (it once got PNG bytes under that name).
#[test]
fn an_output_name_of_another_format_is_refused() {
    let dir = TempDir::new("fault-ext");
    let model = common::tiny_model(&dir);
    let input = dir.join("a.png");
    common::save(&common::rgb8(12, 10), &input);
    let before = folder_digest(&dir);
    for (out, says) in [
        ("x.avif", "`.avif`"),
        ("x.PNG.gif", "`.gif`"),
        ("noext", "no extension"),
    ] {
        let o = common::srgan_run(
            ["-m", s(&model), "-i", s(&input), "-o", s(&dir.join(out))],
            &[],
        );
        common::assert_one_line_error(&o, i32::from(exit::FAILURE), &[out, says]);
        assert_eq!(folder_digest(&dir), before, "{out}");
    }
    // With --format, a name without extension is the user's choice.
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            s(&input),
            "-o",
            s(&dir.join("plain")),
            "-f",
            "jpg",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert!(std::fs::read(dir.join("plain"))
        .unwrap()
        .starts_with(&[0xFF, 0xD8]));
}

/// A model whose output is NaN fails the image with an error naming the model, writes
/// nothing, and exits 1 (it once wrote an all-black image with exit 0).
#[test]
fn a_model_that_outputs_nan_writes_nothing() {
    use prost::Message;
    use srgan_contract::proto::ModelProto;
    let dir = TempDir::new("fault-nan");
    let good = common::tiny_model(&dir);
    let mut m = ModelProto::decode(std::fs::read(&good).unwrap().as_slice()).unwrap();
    let graph = m.graph.as_mut().unwrap();
    let last_bias = graph
        .initializer
        .iter_mut()
        .filter(|t| t.dims.len() == 1)
        .last()
        .expect("a bias");
    let n = last_bias.dims[0] as usize;
    last_bias.float_data.clear();
    last_bias.raw_data = f32::NAN.to_le_bytes().repeat(n);
    let model = dir.join("nan.onnx");
    std::fs::write(&model, m.encode_to_vec()).unwrap();
    let input = dir.join("a.png");
    common::save(&common::rgb8(12, 10), &input);
    // ONNX Runtime's final Clip passes NaN through; tract's clamps it away (its output is
    // then finite, and written), so the case is ONNX Runtime's.
    let out = dir.join("ort.png");
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            s(&input),
            "-o",
            s(&out),
            "--runtime",
            "ort",
        ],
        &[],
    );
    common::assert_one_line_error(&o, i32::from(exit::NEGATIVE), &["nan.onnx", "NaN"]);
    assert!(!out.exists());
    assert_eq!(temp_files(&dir), Vec::<String>::new());
}

/// An animated PNG is upscaled as its first frame, with a warning that says so.
#[test]
fn an_animated_png_is_upscaled_with_a_warning() {
    let dir = TempDir::new("fault-apng");
    let model = common::tiny_model(&dir);
    let input = dir.join("anim.png");
    std::fs::write(&input, srgan_testkit::fixtures::apng(12, 10)).unwrap();
    let out = dir.join("out.png");
    let o = common::srgan_run(["-m", s(&model), "-i", s(&input), "-o", s(&out)], &[]);
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("animated PNG of 2 frames"), "{err}");
    assert_eq!(common::load(&out).width(), 48);
}

/// An endless input (`/dev/zero`) is read up to the decoder's memory cap, then refused.
#[test]
fn an_endless_input_is_refused() {
    let dir = TempDir::new("fault-zero");
    let model = common::tiny_model(&dir);
    let out = dir.join("z.png");
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            "/dev/zero",
            "-o",
            s(&out),
            "--max-input-mib",
            "8",
        ],
        &[],
    );
    common::assert_one_line_error(&o, i32::from(exit::NEGATIVE), &["/dev/zero", "too large"]);
    assert!(!out.exists());
}

/// An image whose output would exceed --max-output-pixels fails before any work (and the
/// default limit is documented in --help).
#[test]
fn an_output_over_the_pixel_limit_fails_before_any_work() {
    let dir = TempDir::new("fault-pixels");
    let model = common::tiny_model(&dir);
    let input = dir.join("a.png");
    common::save(&common::rgb8(40, 30), &input);
    let out = dir.join("o.png");
    // x4: 160 x 120 = 19200 pixels.
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            s(&input),
            "-o",
            s(&out),
            "--max-output-pixels",
            "19199",
        ],
        &[],
    );
    common::assert_one_line_error(
        &o,
        i32::from(exit::NEGATIVE),
        &["a.png", "--max-output-pixels"],
    );
    assert!(!out.exists());
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            s(&input),
            "-o",
            s(&out),
            "--max-output-pixels",
            "19200",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let help = common::srgan_run(["--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(
        help.contains("--max-output-pixels") && help.contains("268435456"),
        "{help}"
    );
}

/// A tile side below 16 (a 1-pixel tile ran for minutes) is a one-line usage error.
#[test]
fn a_tiny_tile_is_a_usage_error() {
    let dir = TempDir::new("fault-tile");
    let model = common::tiny_model(&dir);
    let input = dir.join("a.png");
    common::save(&common::rgb8(12, 10), &input);
    for tile in ["1", "15"] {
        let o = common::srgan_run(
            [
                "-m",
                s(&model),
                "-i",
                s(&input),
                "-o",
                s(&dir.join("o.png")),
                "--tile",
                tile,
            ],
            &[],
        );
        let err = common::stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("at least 16") && !err.contains("panicked"),
            "{err}"
        );
    }
    assert!(!dir.join("o.png").exists());
}

/// An image whose own buffers leave no room under --max-memory fails with the least budget
/// that would do (it once ran in the smallest tiles, 18x slower and over the cap anyway);
/// that budget then works.
#[test]
fn an_image_too_big_for_max_memory_names_the_budget_that_would_do() {
    let dir = TempDir::new("fault-budget");
    let model = common::tiny_model(&dir);
    let input = dir.join("big.png");
    common::save(&common::rgb8(600, 500), &input);
    let out = dir.join("o.png");
    let run = |mib: &str| {
        common::srgan_run(
            [
                "-m",
                s(&model),
                "-i",
                s(&input),
                "-o",
                s(&out),
                "--max-memory",
                mib,
            ],
            &[],
        )
    };
    let o = run("170");
    common::assert_one_line_error(&o, i32::from(exit::NEGATIVE), &["big.png", "600x500"]);
    assert!(!out.exists());
    let err = common::stderr(&o);
    let need = err
        .split("pass --max-memory ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no budget named: {err}"));
    let o = run(need);
    assert_eq!(
        o.status.code(),
        Some(0),
        "--max-memory {need}: {}",
        common::stderr(&o)
    );
}

/// A recursive folder run killed half-way resumes with --skip-existing and ends with the same
/// outputs, byte for byte, as an uninterrupted run; the tree is mirrored, hidden entries and
/// the output folder inside the input are left alone.
#[test]
fn a_killed_recursive_run_resumes_with_skip_existing() {
    let dir = TempDir::new("fault-resume");
    let input = dir.join("in");
    for sub in ["", "trip/day1", ".thumbs"] {
        std::fs::create_dir_all(input.join(sub)).unwrap();
    }
    for (i, name) in [
        "a.png",
        "b.png",
        "trip/c.png",
        "trip/day1/d.png",
        "trip/day1/e.png",
    ]
    .iter()
    .enumerate()
    {
        common::save(&common::rgb8(90 + i as u32, 80), &input.join(name));
    }
    common::save(&common::rgb8(8, 8), &input.join(".thumbs/t.png"));
    let model = shipped_model();
    let run = |out: &Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_srgan-run"))
            .args([
                "-m",
                s(&model),
                "-i",
                s(&input),
                "-o",
                s(out),
                "--recursive",
            ])
            .args(["--threads", "1"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start srgan-run")
    };
    // Uninterrupted.
    let whole = dir.join("whole");
    let o = run(&whole, &[]).wait_with_output().unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("5 ok") && err.contains("1 hidden"), "{err}");
    let want = folder_digest(&whole);
    let names: Vec<&String> = want.keys().collect();
    assert_eq!(
        names,
        [
            "a.png",
            "b.png",
            "trip/c.png",
            "trip/day1/d.png",
            "trip/day1/e.png"
        ]
    );

    // Killed after its first output, then resumed.
    let resumed = dir.join("resumed");
    let mut child = run(&resumed, &[]);
    let start = Instant::now();
    // Until a finished output (not only a temporary file) is there.
    let outputs = |d: &Path| {
        folder_digest(d)
            .keys()
            .filter(|k| !k.rsplit('/').next().unwrap_or(k).starts_with('.'))
            .count()
    };
    while outputs(&resumed) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no output in 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(&child, "-KILL");
    child.wait().unwrap();
    // Outputs, not a temporary file the kill may have left (the next run removes that).
    let done_before = outputs(&resumed);
    let o = run(&resumed, &["--skip-existing"])
        .wait_with_output()
        .unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("{done_before} skipped")),
        "{done_before}: {err}"
    );
    assert_eq!(folder_digest(&resumed), want);
    // An output folder inside the input is not read as input on the next run.
    let inside = input.join("out");
    for _ in 0..2 {
        let o = run(&inside, &["--skip-existing"])
            .wait_with_output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    }
    assert_eq!(folder_digest(&inside), want);
    // --skip-existing and --overwrite contradict each other.
    let o = common::srgan_run(
        [
            "-m",
            s(&model),
            "-i",
            s(&input),
            "-o",
            s(&resumed),
            "--skip-existing",
            "--overwrite",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
}

/// Two srgan-run processes on one input folder and one output folder at once, both with
/// `--skip-existing` (the way people start a second worker): both succeed, every output is
/// written once and complete (byte-identical to a lone run's), each input is either written
/// or skipped by each process, and no temporary file is left.
#[test]
fn two_runs_into_one_folder_never_mix_or_half_write_a_file() {
    let dir = TempDir::new("fault-two-runs");
    let (input, out) = slow_folder(&dir);
    let start = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_srgan-run"))
            .args(["-m", s(&shipped_model()), "-i", s(&input), "-o", s(out)])
            .args(["--threads", "1", "--skip-existing", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start srgan-run")
    };
    let (a, b) = (start(&out), start(&out));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        assert_eq!(o.status.code(), Some(0), "{}", common::stderr(o));
    }
    // Each input: "ok" in one process and "ok" or "skipped" in the other (both may write it
    // when they reach it together: the second rename then finds it and counts it skipped).
    let statuses = |o: &Output| -> Vec<(String, String)> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["input"].as_str().unwrap().to_string(),
                    v["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (sa, sb) = (statuses(&a), statuses(&b));
    assert_eq!(sa.len(), 6, "{sa:?}");
    assert_eq!(sb.len(), 6, "{sb:?}");
    let written = sa.iter().chain(&sb).filter(|(_, st)| st == "ok").count();
    assert!(
        written >= 6,
        "every input written at least once: {sa:?} {sb:?}"
    );
    assert!(
        sa.iter()
            .chain(&sb)
            .all(|(_, st)| st == "ok" || st == "skipped"),
        "{sa:?} {sb:?}"
    );
    // The outputs are exactly a lone run's, and nothing else is in the folder.
    let lone = dir.join("lone");
    let o = start(&lone).wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert_eq!(common::names(&out), common::names(&lone));
    for name in common::names(&lone) {
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(lone.join(&name)).unwrap(),
            "{name}"
        );
    }
    assert!(temp_files(&out).is_empty(), "{:?}", temp_files(&out));
}
