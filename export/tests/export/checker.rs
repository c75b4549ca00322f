//! Every exported model passes `onnx.checker.check_model(m, full_check=True)`.

use srgan_export::{write_onnx, Architecture, Checkpoint, ExportOptions, RrdbConfig, SrVggConfig};

use crate::common::{checkpoint, run_python, scratch};

/// (name, blocks, channels, scale, lr_range, hr_range, opset)
type Case = (&'static str, usize, usize, usize, [f32; 2], [f32; 2], i64);

#[test]
fn onnx_checker_accepts_every_exported_model() {
    let dir = scratch("checker");
    let default = ExportOptions::default();
    let cases: Vec<Case> = vec![
        ("x2_b0", 0, 4, 2, [0.0, 1.0], [-1.0, 1.0], default.opset),
        ("x4_b1", 1, 8, 4, [0.0, 1.0], [-1.0, 1.0], default.opset),
        ("x8_b3", 3, 4, 8, [0.0, 1.0], [-1.0, 1.0], default.opset),
        (
            "x4_ranges",
            1,
            4,
            4,
            [-1.0, 1.0],
            [0.0, 255.0],
            default.opset,
        ),
        ("x2_hr01", 3, 8, 2, [0.0, 1.0], [0.0, 1.0], default.opset),
        ("paper", 16, 64, 4, [0.0, 1.0], [-1.0, 1.0], default.opset),
        ("opset13", 1, 4, 4, [-0.5, 0.5], [-1.0, 1.0], 13),
        ("opset21", 1, 4, 4, [-0.5, 0.5], [-1.0, 1.0], 21),
    ];
    let mut paths = Vec::new();
    for (i, (name, b, c, s, lr, hr, opset)) in cases.into_iter().enumerate() {
        let ck = checkpoint(b, c, s, lr, hr, i as u64);
        let path = dir.join(format!("{name}.onnx"));
        write_onnx(&ck, &path, &ExportOptions::with_opset(opset)).expect("export");
        paths.push(path);
    }
    for (name, arch, opset) in [
        (
            "rrdb_x4",
            Architecture::from(RrdbConfig::new(1, 8, 4, 4)),
            default.opset,
        ),
        ("rrdb_x2_opset13", RrdbConfig::new(1, 8, 4, 2).into(), 13),
        ("rrdb_x1_opset21", RrdbConfig::new(1, 8, 4, 1).into(), 21),
        ("srvgg_x3", SrVggConfig::new(2, 8, 3).into(), default.opset),
        ("srvgg_x4_opset13", SrVggConfig::new(2, 8, 4).into(), 13),
        ("srvgg_x1", SrVggConfig::new(2, 8, 1).into(), default.opset),
        ("srvgg_x1_opset13", SrVggConfig::new(1, 4, 1).into(), 13),
    ] {
        let ck = Checkpoint::random_init(arch, 3).unwrap();
        let path = dir.join(format!("{name}.onnx"));
        write_onnx(&ck, &path, &ExportOptions::with_opset(opset)).expect("export");
        paths.push(path);
    }
    // x1 with an output range other than [0, 1]: the skip is scaled by a Mul.
    let ck = crate::common::community(SrVggConfig::new(2, 8, 1), [-1.0, 1.0], [0.0, 255.0], 4);
    let path = dir.join("srvgg_x1_ranges.onnx");
    write_onnx(&ck, &path, &default).expect("export");
    paths.push(path);
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let out = run_python("check_model.py", &refs);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        paths.len(),
        "{out}"
    );
}

#[test]
fn onnx_checker_rejects_a_broken_model() {
    // The check can fail: a Conv fed by a value nothing produces is rejected.
    use prost::Message;
    let dir = scratch("checker-broken");
    let ck = checkpoint(0, 4, 2, [0.0, 1.0], [-1.0, 1.0], 1);
    let mut model = srgan_export::build_model(&ck, &ExportOptions::default()).unwrap();
    model.graph.as_mut().unwrap().node[0].input[0] = "nowhere".into();
    let path = dir.join("broken.onnx");
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    let out = std::process::Command::new(crate::common::python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_model.py"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the checker accepted a broken graph");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken.onnx"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
