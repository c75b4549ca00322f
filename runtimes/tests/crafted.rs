//! Crafted models that once aborted or hogged the process (issue 10, item 6): a tensor of
//! hundreds of GB that tract would build while optimising (its failed allocation aborts), and a
//! model without `srgan.scale` of a huge scale, whose probe must not run a large input first.
//! Both are refused with an error naming the model. Built here with the contract's messages.
#![cfg(all(feature = "ort", feature = "tract"))]

use std::path::PathBuf;

use prost::Message;
use srgan_contract::proto::{
    attr_int, node, Dimension, GraphProto, ModelProto, OperatorSetIdProto, TensorProto,
    ValueInfoProto, DATA_TYPE_FLOAT, DATA_TYPE_INT64,
};
use srgan_contract::report::one_line;
use srgan_runtimes::{open, RuntimeError, RuntimeOptions};
use srgan_testkit::TempDir;

fn write(dir: &TempDir, name: &str, g: GraphProto) -> PathBuf {
    let mut g = g;
    let sym = |s: &str| Dimension::symbol(s);
    g.input = vec![ValueInfoProto::f32_tensor(
        "lr",
        vec![sym("N"), Dimension::fixed(3), sym("H"), sym("W")],
    )];
    g.output = vec![ValueInfoProto::f32_tensor(
        "sr",
        vec![sym("N"), Dimension::fixed(3), sym("H2"), sym("W2")],
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
    let path = dir.join(name);
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path
}

fn opts() -> RuntimeOptions {
    RuntimeOptions {
        threads: Some(1),
        ..Default::default()
    }
}

/// `ConstantOfShape` of [1, 3, 200000, 200000] (480 GB of f32), and an initializer that
/// declares [2^20, 2^20] with no data: tract refuses both before building anything.
#[test]
fn tract_refuses_a_model_asking_for_a_huge_constant() {
    let dir = TempDir::new("crafted-constant");
    let mut g = GraphProto::default();
    g.initializer.push(TensorProto {
        name: "shape".into(),
        dims: vec![4],
        data_type: DATA_TYPE_INT64,
        int64_data: vec![1, 3, 200_000, 200_000],
        ..Default::default()
    });
    g.node
        .push(node("ConstantOfShape", &["shape"], "big", vec![]));
    g.node.push(node("Add", &["lr", "big"], "sr", vec![]));
    let constant = write(&dir, "constant.onnx", g);

    let mut g = GraphProto::default();
    g.initializer.push(TensorProto {
        name: "huge".into(),
        dims: vec![1 << 20, 1 << 20],
        data_type: DATA_TYPE_FLOAT,
        ..Default::default()
    });
    g.node.push(node("Add", &["lr", "huge"], "sr", vec![]));
    let declared = write(&dir, "declared.onnx", g);

    for (path, what) in [
        (constant, "ConstantOfShape"),
        (declared, "initializer `huge`"),
    ] {
        let e = open("tract", &path, &opts()).unwrap_err();
        assert!(
            matches!(e, RuntimeError::InvalidModel { .. }),
            "{}",
            one_line(&e)
        );
        let line = one_line(&e);
        assert!(
            line.contains(what) && line.contains(path.to_str().unwrap()),
            "{line}"
        );
    }
}

/// A model without metadata whose scale is 32 (a 1x1 conv to 3 x 32 x 32 channels, then
/// DepthToSpace): its scale is read off the smallest probe and refused as over 16, on both
/// runtimes.
#[test]
fn a_model_of_a_huge_scale_is_refused_by_the_probe() {
    let dir = TempDir::new("crafted-scale");
    let block = 32i64;
    let cout = 3 * block * block;
    let mut g = GraphProto::default();
    g.initializer.push(TensorProto {
        name: "w".into(),
        dims: vec![cout, 3, 1, 1],
        data_type: DATA_TYPE_FLOAT,
        float_data: vec![0.01; (cout * 3) as usize],
        ..Default::default()
    });
    g.node.push(node("Conv", &["lr", "w"], "c", vec![]));
    let blocksize = attr_int("blocksize", block);
    g.node
        .push(node("DepthToSpace", &["c"], "sr", vec![blocksize]));
    let path = write(&dir, "x32.onnx", g);
    for rt in ["ort", "tract"] {
        let e = open(rt, &path, &opts()).unwrap_err();
        let line = one_line(&e);
        assert!(
            matches!(e, RuntimeError::InvalidModel { .. }),
            "{rt}: {line}"
        );
        assert!(
            line.contains("x32.onnx") && line.contains("1..=16"),
            "{rt}: {line}"
        );
    }
}
