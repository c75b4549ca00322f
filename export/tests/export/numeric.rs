//! Independent numeric check: PyTorch (standard `nn` modules, float64) and onnxruntime running
//! the exported graph, both against `reference::forward`, max abs difference <= 1e-4.

use std::path::{Path, PathBuf};

use serde_json::json;
use srgan_export::{reference, write_onnx, Checkpoint, ExportOptions};

use srgan_testkit::{assert_close, compare, Tolerance};

use crate::common::{checkpoint, community, random_input, read_f32, run_python, scratch};
use srgan_export::{Activation, RrdbConfig, SrVggConfig};

const TOL: Tolerance = Tolerance::F32;

struct Case {
    name: &'static str,
    ck: Checkpoint,
    shape: [usize; 4],
    /// Export literally: the tail after the shuffle (`subpixel_tail: false`) and PReLU as the
    /// `PRelu` operator (`native_prelu: true`); else the defaults (both rearranged).
    plain: bool,
}

struct Files {
    checkpoint: PathBuf,
    onnx: PathBuf,
    input: PathBuf,
    torch_out: PathBuf,
    ort_out: PathBuf,
}

/// Writes every case's checkpoint, model and input, runs `torch_check.py` once over all of
/// them, and returns each case's input and file names.
fn run_cases(
    dir: &Path,
    cases: &[Case],
    torch_checkpoint: impl Fn(&Case) -> Checkpoint,
) -> Vec<(Vec<f32>, Files)> {
    let mut manifest = Vec::new();
    let mut out = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let f = |ext: &str| dir.join(format!("{}.{ext}", case.name));
        let files = Files {
            checkpoint: f("safetensors"),
            onnx: f("onnx"),
            input: f("input.f32"),
            torch_out: f("torch.f32"),
            ort_out: f("ort.f32"),
        };
        torch_checkpoint(case).save(&files.checkpoint).unwrap();
        let opts = ExportOptions {
            subpixel_tail: !case.plain,
            native_prelu: case.plain,
            ..ExportOptions::default()
        };
        write_onnx(&case.ck, &files.onnx, &opts).unwrap();
        let x = random_input(case.shape.iter().product(), 100 + i as u64);
        crate::common::write_f32(&files.input, &x);
        manifest.push(json!({
            "name": case.name,
            "checkpoint": files.checkpoint,
            "onnx": files.onnx,
            "input": files.input,
            "shape": case.shape,
            "torch_out": files.torch_out,
            "ort_out": files.ort_out,
        }));
        out.push((x, files));
    }
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, json!({ "cases": manifest }).to_string()).unwrap();
    run_python("torch_check.py", &[&manifest_path]);
    out
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "x4_b1_c4_odd",
            ck: checkpoint(1, 4, 4, [0.0, 1.0], [-1.0, 1.0], 11),
            shape: [1, 3, 17, 23],
            plain: false,
        },
        Case {
            name: "x2_b2_c8_batch2_ranges",
            ck: checkpoint(2, 8, 2, [-1.0, 1.0], [-0.5, 1.5], 12),
            shape: [2, 3, 9, 11],
            plain: false,
        },
        Case {
            name: "x8_b0_c4",
            ck: checkpoint(0, 4, 8, [0.0, 1.0], [-1.0, 1.0], 13),
            shape: [1, 3, 5, 6],
            plain: false,
        },
        Case {
            name: "x4_b2_c8_batch2",
            ck: checkpoint(2, 8, 4, [0.0, 1.0], [-1.0, 1.0], 14),
            shape: [2, 3, 7, 12],
            plain: false,
        },
        Case {
            name: "paper_x4_b16_c64",
            ck: checkpoint(16, 64, 4, [0.0, 1.0], [-1.0, 1.0], 15),
            shape: [1, 3, 10, 12],
            plain: false,
        },
        Case {
            name: "rrdb_x4_b2_f8_g4",
            ck: community(RrdbConfig::new(2, 8, 4, 4), [0.0, 1.0], [-1.0, 1.0], 31),
            shape: [1, 3, 9, 11],
            plain: false,
        },
        Case {
            name: "rrdb_x2_b1_f8_g4_ranges_batch2",
            ck: community(RrdbConfig::new(1, 8, 4, 2), [-1.0, 1.0], [-1.0, 1.0], 32),
            shape: [2, 3, 8, 10],
            plain: false,
        },
        Case {
            name: "rrdb_x1_b1_f4_g4",
            ck: community(RrdbConfig::new(1, 4, 4, 1), [0.0, 1.0], [-1.0, 1.0], 33),
            shape: [1, 3, 8, 12],
            plain: false,
        },
        Case {
            name: "srvgg_x3_c3_f8_prelu_batch2",
            ck: community(SrVggConfig::new(3, 8, 3), [0.0, 1.0], [0.0, 1.0], 34),
            shape: [2, 3, 7, 9],
            plain: false,
        },
        Case {
            name: "srvgg_x4_c2_f8_leakyrelu_ranges",
            ck: community(
                SrVggConfig {
                    activation: Activation::Leakyrelu,
                    ..SrVggConfig::new(2, 8, 4)
                },
                [-1.0, 1.0],
                [-0.5, 1.5],
                35,
            ),
            shape: [1, 3, 6, 5],
            plain: false,
        },
        Case {
            name: "srvgg_x2_c1_f4_relu",
            ck: community(
                SrVggConfig {
                    activation: Activation::Relu,
                    ..SrVggConfig::new(1, 4, 2)
                },
                [0.0, 1.0],
                [0.0, 1.0],
                36,
            ),
            shape: [1, 3, 5, 8],
            plain: false,
        },
        Case {
            name: "srvgg_x1_c3_f8_prelu_odd_batch2",
            ck: community(SrVggConfig::new(3, 8, 1), [0.0, 1.0], [0.0, 1.0], 37),
            shape: [2, 3, 9, 7],
            plain: false,
        },
        Case {
            name: "srvgg_x1_c2_f8_leakyrelu_ranges",
            ck: community(
                SrVggConfig {
                    activation: Activation::Leakyrelu,
                    ..SrVggConfig::new(2, 8, 1)
                },
                [-1.0, 1.0],
                [-0.5, 1.5],
                38,
            ),
            shape: [1, 3, 11, 6],
            plain: false,
        },
        Case {
            name: "srvgg_x1_c1_f4_prelu_plain",
            ck: community(SrVggConfig::new(1, 4, 1), [0.0, 1.0], [0.0, 1.0], 39),
            shape: [1, 3, 5, 8],
            plain: true,
        },
        Case {
            name: "x4_b1_c4_odd_plain_tail",
            ck: checkpoint(1, 4, 4, [0.0, 1.0], [-1.0, 1.0], 11),
            shape: [1, 3, 17, 23],
            plain: true,
        },
    ]
}

#[test]
fn torch_and_onnxruntime_match_the_reference() {
    let dir = scratch("numeric");
    let cases = cases();
    let results = run_cases(&dir, &cases, |c| c.ck.clone());
    for (case, (x, files)) in cases.iter().zip(results) {
        let [n, _, h, w] = case.shape;
        let s = case.ck.config.scale();
        let want = reference::forward(&case.ck, &x, case.shape);
        assert_eq!(
            want.len(),
            n * 3 * h * s * w * s,
            "{}: reference size",
            case.name
        );
        // The comparison is only meaningful if the output is not clamped flat.
        let inside = want
            .iter()
            .filter(|v| **v > 1e-3 && **v < 1.0 - 1e-3)
            .count();
        assert!(
            inside * 2 > want.len(),
            "{}: only {inside} of {} reference values inside (0,1)",
            case.name,
            want.len()
        );
        let torch = read_f32(&files.torch_out);
        let ort = read_f32(&files.ort_out);
        assert_close(
            &format!("{}: torch vs reference", case.name),
            &torch,
            &want,
            TOL,
        );
        assert_close(
            &format!("{}: onnxruntime vs reference", case.name),
            &ort,
            &want,
            TOL,
        );
    }
}

#[test]
fn the_numeric_check_detects_a_wrong_batch_norm() {
    // PyTorch gets a checkpoint whose BatchNorm variance differs from the one the reference
    // and the exported graph use: the comparison must see it.
    let dir = scratch("numeric-perturbed");
    let cases = vec![Case {
        name: "perturbed",
        ck: checkpoint(1, 4, 2, [0.0, 1.0], [-1.0, 1.0], 21),
        shape: [1, 3, 8, 9],
        plain: false,
    }];
    let results = run_cases(&dir, &cases, |c| {
        let mut ck = c.ck.clone();
        let var = ck.tensors.get_mut("blocks.0.bn1.running_var").unwrap();
        var.data[1] *= 2.0;
        ck
    });
    let (x, files) = &results[0];
    let want = reference::forward(&cases[0].ck, x, cases[0].shape);
    let torch = read_f32(&files.torch_out);
    let d = compare(&want, &torch, TOL);
    assert!(
        d.out_of_tolerance > 0,
        "a doubled BN variance went unnoticed: {d}"
    );
    // ... while onnxruntime on the unperturbed export still agrees.
    assert_close(
        "onnxruntime vs reference",
        &read_f32(&files.ort_out),
        &want,
        TOL,
    );
}
