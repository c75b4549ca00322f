//! `srgan-export --triton-repo`: the model folder's `config.pbtxt` parses as Triton's own
//! `ModelConfig` and matches the ONNX graph beside it (`triton_check.py`, with tritonclient and
//! onnx), for fp32 and fp16, batched or not, on GPU or CPU instances; `1/model.onnx` is the
//! model `-o` writes; an existing model folder is refused without `--overwrite` and replaced,
//! whole, with it; nothing temporary is left in the repository.

use std::path::Path;
use std::process::{Command, Output};

use srgan_contract::metadata::{keys, read_model_info, INPUT_NAME, OUTPUT_NAME};

use crate::common::{assert_one_line_error, files_in, run_python, scratch, srgan_export, stderr};

fn assert_ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A small random SRResNet, x2.
const SMALL: [&str; 7] = [
    "--random-init",
    "--blocks",
    "1",
    "--channels",
    "8",
    "--scale",
    "2",
];

fn export(extra: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = SMALL
        .iter()
        .map(|s| s as &dyn AsRef<std::ffi::OsStr>)
        .collect();
    args.extend_from_slice(extra);
    srgan_export(&args)
}

#[test]
fn triton_repositories_parse_as_tritons_model_config_and_match_the_graph() {
    let dir = scratch("triton-ok");
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    let onnx = dir.join("sr32.onnx");

    // fp32, with -o: the name is -o's stem; the repository's model is -o's, byte for byte.
    let said = assert_ok(&export(&[&"-o", &onnx, &"--triton-repo", &repo]));
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("sr32.onnx and Triton model") && said.contains("config.pbtxt"),
        "{said}"
    );
    let m32 = repo.join("sr32/1/model.onnx");
    assert_eq!(std::fs::read(&m32).unwrap(), std::fs::read(&onnx).unwrap());

    // fp16 without -o, named; the TensorRT accelerator in FP16.
    assert_ok(&export(&[
        &"--precision",
        &"fp16",
        &"--triton-repo",
        &repo,
        &"--triton-name",
        &"sr16",
    ]));
    let info = read_model_info(&repo.join("sr16/1/model.onnx")).unwrap();
    assert_eq!(
        info.props.get(keys::PRECISION).map(String::as_str),
        Some("fp16")
    );

    // CPU instances, no batching, two of them.
    assert_ok(&export(&[
        &"--triton-repo",
        &repo,
        &"--triton-name",
        &"cpu",
        &"--triton-instance",
        &"cpu",
        &"--triton-instance-count",
        &"2",
        &"--triton-max-batch",
        &"0",
    ]));
    // fp32 with TensorRT asked for: FP32.
    assert_ok(&export(&[
        &"--triton-repo",
        &repo,
        &"--triton-name",
        &"trt32",
        &"--triton-tensorrt",
        &"--triton-max-batch",
        &"4",
    ]));

    assert_eq!(files_in(&repo), ["cpu", "sr16", "sr32", "trt32"]);
    for m in files_in(&repo) {
        assert_eq!(files_in(&repo.join(&m)), ["1", "config.pbtxt"], "{m}");
        assert_eq!(files_in(&repo.join(&m).join("1")), ["model.onnx"], "{m}");
    }
    // The names are the contract's (triton_check.py compares them with the graph's).
    let text = std::fs::read_to_string(repo.join("sr32/config.pbtxt")).unwrap();
    for name in [INPUT_NAME, OUTPUT_NAME] {
        assert!(text.contains(&format!("name: \"{name}\"")), "{text}");
    }
    assert!(text.contains("dims: [ 3, -1, -1 ]"), "{text}");

    // Each folder, the max_batch_size asked for, the TensorRT precision_mode expected.
    let cases = [
        ("sr32", "8", "none"),
        ("sr16", "8", "FP16"),
        ("cpu", "0", "none"),
        ("trt32", "4", "FP32"),
    ];
    let dirs: Vec<_> = cases.iter().map(|(name, ..)| repo.join(name)).collect();
    let mut args: Vec<&Path> = Vec::new();
    for ((_, batch, trt), d) in cases.iter().zip(&dirs) {
        args.extend([d.as_path(), Path::new(batch), Path::new(trt)]);
    }
    let out = run_python("triton_check.py", &args);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        4,
        "{out}"
    );
    eprintln!("{out}");
}

#[test]
fn an_existing_triton_model_folder_needs_overwrite_and_is_then_replaced_whole() {
    let dir = scratch("triton-exists");
    let repo = dir.join("repo");
    let model = repo.join("sr");
    std::fs::create_dir_all(model.join("2")).unwrap();
    std::fs::write(model.join("precious.txt"), b"precious").unwrap();
    let onnx = dir.join("m.onnx");

    let o = export(&[
        &"-o",
        &onnx,
        &"--triton-repo",
        &repo,
        &"--triton-name",
        &"sr",
    ]);
    assert_one_line_error(&o, &format!("{} already exists", model.display()));
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    // Nothing written: not the repository's model, not -o.
    assert_eq!(files_in(&model), ["2", "precious.txt"]);
    assert_eq!(files_in(&dir), ["repo"]);

    // A temporary folder left by a killed export is removed by the next one.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = repo.join(format!(".sr.{dead}.new0.triton.tmp"));
    std::fs::create_dir_all(stale.join("1")).unwrap();
    std::fs::write(stale.join("1/model.onnx"), b"partial").unwrap();

    // --overwrite replaces the whole folder; no temporary folder stays.
    let said = assert_ok(&export(&[
        &"--triton-repo",
        &repo,
        &"--triton-name",
        &"sr",
        &"--overwrite",
    ]));
    assert!(said.contains("Triton model"), "{said}");
    assert_eq!(files_in(&repo), ["sr"]);
    assert_eq!(files_in(&model), ["1", "config.pbtxt"]);
    run_python(
        "triton_check.py",
        &[&model, Path::new("8"), Path::new("none")],
    );
}

#[test]
fn triton_arguments_are_checked_before_anything_is_written() {
    let dir = scratch("triton-args");
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    let o = export(&[&"--triton-repo", &repo, &"--triton-name", &"a/b"]);
    assert_one_line_error(
        &o,
        "--triton-name: \"a/b\" is not a valid Triton model name",
    );
    let o = export(&[&"--triton-repo", &repo, &"--triton-name", &".hidden"]);
    assert_one_line_error(&o, "\".hidden\"");
    let o = export(&[&"--triton-repo", &repo, &"--triton-name", &""]);
    assert_one_line_error(&o, "it is empty");
    let o = export(&[&"--triton-repo", &dir.join("nope")]);
    assert_one_line_error(&o, "nope: no such folder for the Triton model repository");
    let o = export(&[&"-o", &dir.join("m.onnx"), &"--triton-name", &"x"]);
    assert_one_line_error(&o, "--triton-name only applies with --triton-repo");
    let o = export(&[]);
    assert_one_line_error(&o, "no output given");
    let o = export(&[
        &"--triton-repo",
        &repo,
        &"--triton-instance",
        &"cpu",
        &"--triton-tensorrt",
    ]);
    assert_one_line_error(&o, "--triton-tensorrt needs gpu instances");
    // -o inside the model folder that --overwrite would replace.
    std::fs::create_dir_all(repo.join("sr")).unwrap();
    let o = export(&[
        &"-o",
        &repo.join("sr/m.onnx"),
        &"--triton-repo",
        &repo,
        &"--triton-name",
        &"sr",
        &"--overwrite",
    ]);
    assert_one_line_error(&o, "is inside the Triton model folder");
    assert_eq!(files_in(&repo), ["sr"]);
    assert!(files_in(&repo.join("sr")).is_empty());
    assert_eq!(files_in(&dir), ["repo"]);
}
