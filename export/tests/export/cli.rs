//! The `srgan-export` command line: success paths, and bad input giving a non-zero exit, a
//! one-line error naming the file, and no output file.

use crate::common::{assert_one_line_error, files_in, scratch, srgan_export, stderr};

#[test]
fn random_init_then_export_the_saved_checkpoint() {
    let dir = scratch("cli-ok");
    let (m1, ck, m2) = (
        dir.join("a.onnx"),
        dir.join("ck.safetensors"),
        dir.join("b.onnx"),
    );
    let o = srgan_export(&[
        &"--random-init",
        &"--blocks",
        &"1",
        &"--channels",
        &"4",
        &"--scale",
        &"2",
        &"--seed",
        &"5",
        &"-o",
        &m1,
        &"--save-checkpoint",
        &ck,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert_eq!(summary.lines().count(), 1, "{summary}");
    assert!(summary.contains("a.onnx") && summary.contains("x2") && summary.contains("ops"));

    let o = srgan_export(&[&ck, &"-o", &m2]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Same weights, same metadata: byte-identical models.
    assert_eq!(std::fs::read(&m1).unwrap(), std::fs::read(&m2).unwrap());

    // --overwrite replaces.
    let o = srgan_export(&[&ck, &"-o", &m1, &"--overwrite", &"--opset", &"13"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read(&m1).unwrap(), std::fs::read(&m2).unwrap());
    assert_eq!(files_in(&dir), ["a.onnx", "b.onnx", "ck.safetensors"]);
}

#[test]
fn missing_checkpoint() {
    let dir = scratch("cli-missing");
    let out = dir.join("m.onnx");
    let o = srgan_export(&[&dir.join("nope.safetensors"), &"-o", &out]);
    assert_one_line_error(&o, "nope.safetensors");
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
}

#[test]
fn garbage_checkpoint() {
    let dir = scratch("cli-garbage");
    let bad = dir.join("garbage.safetensors");
    std::fs::write(&bad, b"this is not a checkpoint at all").unwrap();
    let out = dir.join("m.onnx");
    let o = srgan_export(&[&bad, &"-o", &out]);
    assert_one_line_error(&o, "garbage.safetensors");
    assert_eq!(files_in(&dir), ["garbage.safetensors"]);

    // A valid safetensors file that is not a generator checkpoint.
    std::fs::write(&bad, b"\x02\x00\x00\x00\x00\x00\x00\x00{}").unwrap();
    let o = srgan_export(&[&bad, &"-o", &out]);
    assert_one_line_error(&o, "garbage.safetensors");
    assert_eq!(files_in(&dir), ["garbage.safetensors"]);
}

#[test]
fn existing_output_is_not_overwritten() {
    let dir = scratch("cli-exists");
    let out = dir.join("m.onnx");
    std::fs::write(&out, b"precious").unwrap();
    let o = srgan_export(&[
        &"--random-init",
        &"--blocks",
        &"0",
        &"--channels",
        &"4",
        &"-o",
        &out,
    ]);
    assert_one_line_error(&o, "m.onnx");
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");

    // Also for --save-checkpoint, and nothing else gets written.
    let ck = dir.join("ck.safetensors");
    std::fs::write(&ck, b"precious").unwrap();
    let fresh = dir.join("fresh.onnx");
    let o = srgan_export(&[
        &"--random-init",
        &"--channels",
        &"4",
        &"-o",
        &fresh,
        &"--save-checkpoint",
        &ck,
    ]);
    assert_one_line_error(&o, "ck.safetensors");
    assert_eq!(std::fs::read(&ck).unwrap(), b"precious");
    assert_eq!(files_in(&dir), ["ck.safetensors", "m.onnx"]);
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let dir = scratch("cli-args");
    let out = dir.join("m.onnx");
    let o = srgan_export(&[&"--random-init", &"--scale", &"3", &"-o", &out]);
    assert_one_line_error(&o, "scale");
    let o = srgan_export(&[&"--random-init", &"--opset", &"9", &"-o", &out]);
    assert_one_line_error(&o, "opset");
    let o = srgan_export(&[&"-o", &out]);
    assert_one_line_error(&o, "checkpoint");
    // Too big for one ONNX file: refused before any weights are allocated.
    let o = srgan_export(&[
        &"--random-init",
        &"--blocks",
        &"1024",
        &"--channels",
        &"4096",
        &"-o",
        &out,
    ]);
    assert_one_line_error(&o, "parameters");
    let o = srgan_export(&[&dir.join("ck.safetensors"), &"--blocks", &"2", &"-o", &out]);
    assert_one_line_error(&o, "--blocks");
    // An output folder that does not exist: refused before anything runs.
    let o = srgan_export(&[&"--random-init", &"-o", &dir.join("no/such/m.onnx")]);
    assert_one_line_error(&o, "no/such: no such folder for the output");
    let o = srgan_export(&[
        &"--random-init",
        &"--measure-radius",
        &"sometimes",
        &"-o",
        &out,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("sometimes"), "{}", stderr(&o));
    assert!(files_in(&dir).is_empty());
}

/// A model whose exact receptive-field radius is above the largest default tile pad (RRDBNet,
/// 5 blocks: 79) gets its effective radius measured and stored at export, with ONNX Runtime
/// and with tract (which agree within a pixel); `never` skips it; a model with a small exact
/// radius is not measured unless `always` is given.
#[test]
fn export_measures_the_effective_radius_when_the_exact_one_is_too_large() {
    use srgan_contract::metadata::{keys, read_model_info};
    use srgan_export::{Architecture, RrdbConfig, SrVggConfig};
    let dir = scratch("cli-measure");
    let arch = RrdbConfig::new(5, 4, 2, 4);
    let exact = Architecture::from(arch.clone()).receptive_field_radius();
    assert!(exact > 64, "{exact}");
    let ck_path = dir.join("rrdb.safetensors");
    crate::common::community(arch, [0.0, 1.0], [0.0, 1.0], 3)
        .save(&ck_path)
        .unwrap();
    let mut measured = Vec::new();
    for runtime in ["ort", "tract"] {
        let out = dir.join(format!("rrdb-{runtime}.onnx"));
        let o = srgan_export(&[&ck_path, &"-o", &out, &"--measure-runtime", &runtime]);
        let said = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = stderr(&o);
        assert!(o.status.success(), "{said}{err}");
        assert!(
            err.contains(&format!(
                "measuring the effective receptive-field radius with {runtime}"
            )) && err.contains(&format!("exact radius, {exact} LR pixels")),
            "{err}"
        );
        assert!(err.contains("measuring: call 1,"), "progress: {err}");
        let info = read_model_info(&out).unwrap();
        let r = info.effective_radius.expect("srgan.effective_radius");
        assert!(r < exact, "{r}");
        assert!(
            said.contains(&format!(
                "effective radius {r} LR pixels (exact {exact}; measured with {runtime})"
            )),
            "{said}"
        );
        let how = &info.props[keys::EFFECTIVE_RADIUS_TOLERANCE];
        assert!(
            how.contains("0.25 levels") && how.contains(&format!("srgan-export, {runtime}")),
            "{how}"
        );
        measured.push(r);
        // No scratch copy is left beside the output.
        assert!(
            files_in(&dir).iter().all(|f| !f.contains("scratch")),
            "{:?}",
            files_in(&dir)
        );
    }
    eprintln!(
        "effective radius: ort {}, tract {}",
        measured[0], measured[1]
    );
    assert!(
        measured[0] > 0,
        "a model with context measures a radius above 0"
    );
    assert!(
        measured[0].abs_diff(measured[1]) <= 1,
        "ort {} vs tract {}",
        measured[0],
        measured[1]
    );
    let never = dir.join("never.onnx");
    let o = srgan_export(&[&ck_path, &"-o", &never, &"--measure-radius", &"never"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_model_info(&never).unwrap().effective_radius, None);
    assert!(!stderr(&o).contains("measuring"), "{}", stderr(&o));

    // SRVGGNetCompact's exact radius (convs + 2) is small: measured only when asked.
    let vgg = dir.join("vgg.safetensors");
    crate::common::community(SrVggConfig::new(3, 8, 2), [0.0, 1.0], [0.0, 1.0], 4)
        .save(&vgg)
        .unwrap();
    let (auto, always) = (dir.join("vgg-auto.onnx"), dir.join("vgg-always.onnx"));
    let o = srgan_export(&[&vgg, &"-o", &auto]);
    assert!(
        o.status.success() && stderr(&o).is_empty(),
        "{}",
        stderr(&o)
    );
    assert_eq!(read_model_info(&auto).unwrap().effective_radius, None);
    let o = srgan_export(&[&vgg, &"-o", &always, &"--measure-radius", &"always"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_model_info(&always).unwrap().effective_radius.unwrap();
    assert!(r <= 5, "effective {r} above the exact radius 5");
}
