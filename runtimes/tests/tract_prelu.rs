//! tract's `PRelu` rewrite (`Max(x, Mul(x, slope))` for slopes `<= 1`): the rewritten model
//! computes what ONNX Runtime computes on the original, and a slope `> 1` keeps its `PRelu`.
//!
//! The models are small x2 `Conv -> PRelu -> ... -> DepthToSpace` graphs, built here with the
//! contract's ONNX messages (`srgan_contract::proto`), with random weights and biases so that
//! about half the pre-activations are negative.
#![cfg(all(feature = "ort", feature = "tract"))]

use std::path::{Path, PathBuf};

use prost::Message;
use srgan_contract::proto::{
    attr_int, attr_ints, attr_string, node, Dimension, GraphProto, ModelProto, OperatorSetIdProto,
    TensorProto, ValueInfoProto, DATA_TYPE_FLOAT,
};

use srgan_runtimes::ndarray::Array4;
use srgan_runtimes::tract_backend::prelu_as_max;
use srgan_runtimes::{open, RuntimeOptions};
use srgan_testkit::TempDir;
use tract_onnx::prelude::Framework;

const C: usize = 8;

/// How a `PRelu` slope initializer is written.
struct Slope {
    dims: Vec<i64>,
    values: Vec<f32>,
    raw: bool,
}

/// Slopes `<= 1`, negative, zero and one included, in the three layouts and both encodings
/// the rewrite takes.
fn slopes_le_1() -> Vec<Slope> {
    let per_channel: Vec<f32> = (0..C).map(|c| 1.0 - 0.25 * c as f32).collect(); // 1 .. -0.75
    vec![
        Slope {
            dims: vec![C as i64, 1, 1],
            values: per_channel.clone(),
            raw: true,
        },
        Slope {
            dims: vec![1, C as i64, 1, 1],
            values: per_channel.iter().rev().copied().collect(),
            raw: false,
        },
        Slope {
            dims: vec![1, 1, 1],
            values: vec![0.25],
            raw: true,
        },
    ]
}

#[test]
fn slopes_up_to_1_are_rewritten_and_match_ort() {
    let dir = TempDir::new("prelu-le1");
    let path = write_model(&dir, &slopes_le_1());
    let diff = tract_vs_ort(&path);
    assert!(diff <= 1e-5, "ort vs tract max abs diff {diff}");
    assert_eq!(rewritten(&path), 3, "every PRelu qualifies");
}

#[test]
fn a_slope_above_1_keeps_its_prelu_and_matches_ort() {
    let mut slopes = slopes_le_1();
    // One channel of the [C, 1, 1] raw slope and the float_data one.
    slopes[0].values[3] = 1.5;
    slopes[1].values = vec![1.25; C];
    let dir = TempDir::new("prelu-gt1");
    let path = write_model(&dir, &slopes);
    let diff = tract_vs_ort(&path);
    assert!(diff <= 1e-5, "ort vs tract max abs diff {diff}");
    assert_eq!(rewritten(&path), 1, "only the scalar slope qualifies");
}

/// How many nodes [`prelu_as_max`] rewrites in the model at `path`.
fn rewritten(path: &Path) -> usize {
    let mut proto = tract_onnx::onnx().proto_model_for_path(path).unwrap();
    prelu_as_max(&mut proto)
}

/// Max abs difference of tract and ort on a random `[1, 3, 13, 11]` input.
fn tract_vs_ort(path: &Path) -> f32 {
    let opts = RuntimeOptions {
        threads: Some(1),
        ..Default::default()
    };
    let mut ort = open("ort", path, &opts).unwrap();
    let mut tract = open("tract", path, &opts).unwrap();
    let mut rng = Rng::new(7);
    let x = Array4::from_shape_fn([1, 3, 13, 11], |_| rng.uniform());
    let a = ort.upscale(x.view()).unwrap();
    let b = tract.upscale(x.view()).unwrap();
    assert_eq!(a.shape(), &[1, 3, 26, 22]);
    assert_eq!(b.shape(), a.shape());
    let negative = a.iter().filter(|v| **v < 0.0).count();
    assert!(
        negative > a.len() / 10 && negative < a.len() * 9 / 10,
        "degenerate output: {negative} of {} negative",
        a.len()
    );
    a.iter()
        .zip(b.iter())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max)
}

/// `x [N, 3, H, W] -> (Conv 3x3 -> PRelu(slope))* -> Conv 3x3 (12) -> DepthToSpace(2) -> y`,
/// one PRelu per slope, written into `dir`.
fn write_model(dir: &Path, slopes: &[Slope]) -> PathBuf {
    let mut rng = Rng::new(1);
    let mut g = GraphProto {
        name: "prelu_test".into(),
        ..Default::default()
    };
    let mut x = "x".to_string();
    let mut cin = 3;
    for (i, s) in slopes.iter().enumerate() {
        let conv = format!("conv{i}");
        conv3x3(&mut g, &mut rng, &x, cin, C, &conv);
        x = format!("prelu{i}");
        let slope = format!("{x}.slope");
        g.initializer
            .push(tensor(&slope, &s.dims, &s.values, s.raw));
        g.node.push(node("PRelu", &[&conv, &slope], &x, vec![]));
        cin = C;
    }
    conv3x3(&mut g, &mut rng, &x, cin, 12, "tail");
    let d2s = vec![attr_int("blocksize", 2), attr_string("mode", "CRD")];
    g.node.push(node("DepthToSpace", &["tail"], "y", d2s));
    let dims = |d: [&str; 4]| {
        d.map(|s| match s.parse::<i64>() {
            Ok(v) => Dimension::fixed(v),
            Err(_) => Dimension::symbol(s),
        })
    };
    g.input = vec![ValueInfoProto::f32_tensor(
        "x",
        dims(["N", "3", "H", "W"]).to_vec(),
    )];
    g.output = vec![ValueInfoProto::f32_tensor(
        "y",
        dims(["N", "3", "H2", "W2"]).to_vec(),
    )];
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(g),
        ..Default::default()
    };
    let path = dir.join("prelu.onnx");
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path
}

/// Appends to `g` a 3x3 `Conv` named `name` (so is its output) with random weights and
/// biases, and its initializers.
fn conv3x3(g: &mut GraphProto, rng: &mut Rng, x: &str, cin: usize, cout: usize, name: &str) {
    let bound = (3.0 / (cin * 9) as f32).sqrt();
    let w: Vec<f32> = (0..cout * cin * 9)
        .map(|_| (2.0 * rng.uniform() - 1.0) * bound)
        .collect();
    let b: Vec<f32> = (0..cout).map(|_| rng.uniform() - 0.5).collect();
    let (wn, bn) = (format!("{name}.w"), format!("{name}.b"));
    g.initializer
        .push(tensor(&wn, &[cout as i64, cin as i64, 3, 3], &w, true));
    g.initializer.push(tensor(&bn, &[cout as i64], &b, false));
    let attrs = vec![
        attr_ints("kernel_shape", &[3, 3]),
        attr_ints("pads", &[1; 4]),
    ];
    g.node.push(node("Conv", &[x, &wn, &bn], name, attrs));
}

/// A float `TensorProto`, its data in `raw_data` or `float_data`.
fn tensor(name: &str, dims: &[i64], values: &[f32], raw: bool) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DATA_TYPE_FLOAT,
        raw_data: if raw {
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        } else {
            Vec::new()
        },
        float_data: if raw { Vec::new() } else { values.to_vec() },
        ..Default::default()
    }
}

/// xorshift64: deterministic weights and inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}
