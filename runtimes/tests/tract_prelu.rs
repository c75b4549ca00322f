//! tract's `PRelu` rewrite (`Max(x, Mul(x, slope))` for slopes `<= 1`): the rewritten model
//! computes what ONNX Runtime computes on the original, and a slope `> 1` keeps its `PRelu`.
//!
//! The models are small x2 `Conv -> PRelu -> ... -> DepthToSpace` graphs, written here as
//! protobuf bytes by hand (this crate has no protobuf writer), with random weights and biases
//! so that about half the pre-activations are negative.
#![cfg(all(feature = "ort", feature = "tract"))]

use std::path::{Path, PathBuf};

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
    let mut graph = Vec::new();
    let mut inits = Vec::new();
    let mut x = "x".to_string();
    let mut cin = 3;
    for (i, s) in slopes.iter().enumerate() {
        let conv = format!("conv{i}");
        conv3x3(&mut graph, &mut inits, &mut rng, &x, cin, C, &conv);
        x = format!("prelu{i}");
        let slope = format!("{x}.slope");
        inits.push(tensor(&slope, &s.dims, &s.values, s.raw));
        field(&mut graph, 1, &node("PRelu", &[&conv, &slope], &x, &[]));
        cin = C;
    }
    conv3x3(&mut graph, &mut inits, &mut rng, &x, cin, 12, "tail");
    let d2s = [attr_int("blocksize", 2), attr_str("mode", "CRD")];
    field(&mut graph, 1, &node("DepthToSpace", &["tail"], "y", &d2s));
    field(&mut graph, 2, b"prelu_test");
    for t in &inits {
        field(&mut graph, 5, t);
    }
    field(&mut graph, 11, &value_info("x", &["N", "3", "H", "W"]));
    field(&mut graph, 12, &value_info("y", &["N", "3", "H2", "W2"]));
    let mut model = Vec::new();
    int(&mut model, 1, 8); // ir_version
    let mut opset = Vec::new();
    int(&mut opset, 2, 17);
    field(&mut model, 8, &opset);
    field(&mut model, 7, &graph);
    let path = dir.join("prelu.onnx");
    std::fs::write(&path, model).unwrap();
    path
}

/// Appends to `graph` a 3x3 `Conv` named `name` (so is its output) with random weights and
/// biases, its initializers to `inits`.
fn conv3x3(
    graph: &mut Vec<u8>,
    inits: &mut Vec<Vec<u8>>,
    rng: &mut Rng,
    x: &str,
    cin: usize,
    cout: usize,
    name: &str,
) {
    let bound = (3.0 / (cin * 9) as f32).sqrt();
    let w: Vec<f32> = (0..cout * cin * 9)
        .map(|_| (2.0 * rng.uniform() - 1.0) * bound)
        .collect();
    let b: Vec<f32> = (0..cout).map(|_| rng.uniform() - 0.5).collect();
    let (wn, bn) = (format!("{name}.w"), format!("{name}.b"));
    inits.push(tensor(&wn, &[cout as i64, cin as i64, 3, 3], &w, true));
    inits.push(tensor(&bn, &[cout as i64], &b, false));
    let attrs = [
        attr_ints("kernel_shape", &[3, 3]),
        attr_ints("pads", &[1; 4]),
    ];
    field(graph, 1, &node("Conv", &[x, &wn, &bn], name, &attrs));
}

// ---- protobuf ------------------------------------------------------------------------------

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn int(buf: &mut Vec<u8>, field: u64, v: i64) {
    varint(buf, field << 3);
    varint(buf, v as u64);
}

fn field(buf: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(buf, field << 3 | 2);
    varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A float `TensorProto`, its data in `raw_data` or (packed) `float_data`.
fn tensor(name: &str, dims: &[i64], values: &[f32], raw: bool) -> Vec<u8> {
    let mut t = Vec::new();
    for d in dims {
        int(&mut t, 1, *d);
    }
    int(&mut t, 2, 1); // FLOAT
    field(&mut t, if raw { 9 } else { 4 }, &le(values));
    field(&mut t, 8, name.as_bytes());
    t
}

/// A `NodeProto` with one output, named like it.
fn node(op: &str, inputs: &[&str], output: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        field(&mut n, 1, i.as_bytes());
    }
    field(&mut n, 2, output.as_bytes());
    field(&mut n, 3, output.as_bytes());
    field(&mut n, 4, op.as_bytes());
    for a in attrs {
        field(&mut n, 5, a);
    }
    n
}

fn attr_int(name: &str, v: i64) -> Vec<u8> {
    let mut a = Vec::new();
    field(&mut a, 1, name.as_bytes());
    int(&mut a, 3, v);
    int(&mut a, 20, 2); // INT
    a
}

fn attr_str(name: &str, v: &str) -> Vec<u8> {
    let mut a = Vec::new();
    field(&mut a, 1, name.as_bytes());
    field(&mut a, 4, v.as_bytes());
    int(&mut a, 20, 3); // STRING
    a
}

fn attr_ints(name: &str, vs: &[i64]) -> Vec<u8> {
    let mut a = Vec::new();
    field(&mut a, 1, name.as_bytes());
    for v in vs {
        int(&mut a, 8, *v);
    }
    int(&mut a, 20, 7); // INTS
    a
}

/// A float tensor `ValueInfoProto`; numeric dims are values, others symbolic.
fn value_info(name: &str, dims: &[&str]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d.parse::<i64>() {
            Ok(v) => int(&mut dim, 1, v),
            Err(_) => field(&mut dim, 2, d.as_bytes()),
        }
        field(&mut shape, 1, &dim);
    }
    let mut tensor_type = Vec::new();
    int(&mut tensor_type, 1, 1); // FLOAT
    field(&mut tensor_type, 2, &shape);
    let mut ty = Vec::new();
    field(&mut ty, 1, &tensor_type);
    let mut v = Vec::new();
    field(&mut v, 1, name.as_bytes());
    field(&mut v, 2, &ty);
    v
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
