//! The exported graph's structure, pinned: op set, BatchNorm folded, PRelu slopes `[C,1,1]`,
//! symbolic N/H/W, metadata keys, opset and IR version, names; and the exporter's errors.
//! Most tests pin the graph with PReLU as the `PRelu` operator ([`model`]); the default ReLU
//! form is pinned by `prelu_is_written_in_its_relu_form_by_default`.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use srgan_export::fold::{fold_batch_norm, BatchNorm};
use srgan_export::proto::{Dimension, ModelProto, TensorProto};
use srgan_export::{
    build_model, export_onnx, metadata, write_onnx, Checkpoint, ExportError, ExportOptions,
};

use srgan_testkit::{assert_close, Tolerance};

use crate::common::{checkpoint, scratch};

/// The export with PReLU as the `PRelu` operator (`native_prelu`), other options default.
fn model(ck: &Checkpoint) -> ModelProto {
    model_with(ck, &native())
}

/// The default options with `native_prelu`.
fn native() -> ExportOptions {
    ExportOptions {
        native_prelu: true,
        ..ExportOptions::default()
    }
}

fn model_with(ck: &Checkpoint, opts: &ExportOptions) -> ModelProto {
    let bytes = export_onnx(ck, opts).expect("export");
    ModelProto::decode(bytes.as_slice()).expect("exported bytes decode")
}

fn op_counts(m: &ModelProto) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for n in &m.graph.as_ref().unwrap().node {
        *c.entry(n.op_type.clone()).or_insert(0) += 1;
    }
    c
}

fn initializer<'a>(m: &'a ModelProto, name: &str) -> &'a TensorProto {
    m.graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no initializer `{name}`"))
}

fn meta(m: &ModelProto) -> BTreeMap<&str, &str> {
    m.metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect()
}

/// (name, op type) of the last `n` nodes.
fn last_nodes(m: &ModelProto, n: usize) -> Vec<(&str, &str)> {
    let g = m.graph.as_ref().unwrap();
    g.node[g.node.len() - n..]
        .iter()
        .map(|n| (n.name.as_str(), n.op_type.as_str()))
        .collect()
}

#[test]
fn op_set_is_pinned() {
    for (b, s) in [(0, 2), (1, 4), (3, 8)] {
        let m = model(&checkpoint(b, 4, s, [0.0, 1.0], [-1.0, 1.0], 0));
        let stages = s.trailing_zeros() as usize;
        let want: BTreeMap<String, usize> = [
            ("Conv", 1 + 2 * b + 1 + stages + 1),
            ("PRelu", 1 + b + stages),
            ("Add", b + 1),
            ("DepthToSpace", stages),
            ("Clip", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(op_counts(&m), want, "blocks {b}, scale {s}");
    }
    // A training LR range other than [0,1] adds exactly one Mul and one Add.
    let m = model(&checkpoint(1, 4, 2, [-1.0, 1.0], [-1.0, 1.0], 0));
    let ops = op_counts(&m);
    assert_eq!(ops.get("Mul"), Some(&1));
    assert_eq!(ops.get("Add"), Some(&3));
    let allowed: BTreeSet<&str> = ["Conv", "PRelu", "Add", "DepthToSpace", "Clip", "Mul"].into();
    assert!(ops.keys().all(|k| allowed.contains(k.as_str())), "{ops:?}");
    let g = m.graph.as_ref().unwrap();
    assert_eq!(g.node[0].op_type, "Mul");
    assert_eq!(g.node[0].input[0], "lr");
    assert_eq!(
        initializer(&m, "input.range.scale").f32_values(),
        Some(vec![2.0])
    );
    assert_eq!(
        initializer(&m, "input.range.shift").f32_values(),
        Some(vec![-1.0])
    );
}

#[test]
fn op_sets_of_the_community_architectures_are_pinned() {
    use crate::common::community;
    use srgan_export::{Activation, RrdbConfig, SrVggConfig};
    let count = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs
            .iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    };
    // RRDBNet: per RRDB 3 dense blocks of 5 convs, 4 LeakyRelus, 4 Concats and an Add, then a
    // Mul (residual scale) and an Add; nearest x2 as Resize; x2 and x1 fold the unshuffle into
    // conv_first (a strided conv).
    for (blocks, scale) in [(0usize, 4usize), (2, 4), (1, 2), (1, 1)] {
        let m = model(&community(
            RrdbConfig::new(blocks, 8, 4, scale),
            [0.0, 1.0],
            [0.0, 1.0],
            0,
        ));
        let want = count(&[
            ("Conv", 1 + 15 * blocks + 5),
            ("LeakyRelu", 12 * blocks + 3),
            ("Concat", 12 * blocks),
            ("Add", 4 * blocks + 1),
            ("Mul", blocks),
            ("Resize", 2),
            ("Clip", 1),
        ]);
        assert_eq!(
            op_counts(&m),
            want,
            "rrdbnet blocks {blocks}, scale {scale}"
        );
    }
    // SRVGGNetCompact: convs + 2 convs, one more for the input skip (1x1), one shuffle.
    for (act, op) in [
        (Activation::Prelu, "PRelu"),
        (Activation::Relu, "Relu"),
        (Activation::Leakyrelu, "LeakyRelu"),
    ] {
        let cfg = SrVggConfig {
            activation: act,
            ..SrVggConfig::new(3, 8, 3)
        };
        let m = model(&community(cfg, [0.0, 1.0], [0.0, 1.0], 0));
        let want = count(&[
            ("Conv", 3 + 2 + 1),
            (op, 3 + 1),
            ("Add", 1),
            ("DepthToSpace", 1),
            ("Clip", 1),
        ]);
        assert_eq!(op_counts(&m), want, "srvgg {act:?}");
        let g = m.graph.as_ref().unwrap();
        let shuffle = g.node.iter().find(|n| n.op_type == "DepthToSpace").unwrap();
        assert_eq!(shuffle.attribute[0].i, 3, "blocksize");
    }
    // SRVGGNetCompact x1: convs + 2 convs, no skip conv, no shuffle, no Resize; the input is
    // added as it is, or times 1 / (hi - lo) (a Mul) for an output range other than [0, 1].
    for (hr_range, muls) in [([0.0, 1.0], 0), ([-0.5, 1.5], 1)] {
        let m = model(&community(
            SrVggConfig::new(3, 8, 1),
            [0.0, 1.0],
            hr_range,
            0,
        ));
        let want = count(&[
            ("Conv", 3 + 2),
            ("PRelu", 3 + 1),
            ("Add", 1),
            ("Mul", muls),
            ("Clip", 1),
        ]);
        assert_eq!(op_counts(&m), want, "srvgg x1, hr_range {hr_range:?}");
        let g = m.graph.as_ref().unwrap();
        let input = g.input[0].name.clone();
        let add = g.node.iter().find(|n| n.name == "skip.add").unwrap();
        let skip = if muls == 0 {
            input
        } else {
            let mul = g.node.iter().find(|n| n.op_type == "Mul").unwrap();
            assert_eq!(mul.input[0], input);
            assert_eq!(
                initializer(&m, &mul.input[1]).f32_values(),
                Some(vec![0.5]),
                "1 / (1.5 - -0.5)"
            );
            mul.output[0].clone()
        };
        assert_eq!(add.input[1], skip);
        let last = g.node.iter().find(|n| n.name == "body.8").unwrap();
        assert_eq!(add.input[0], last.output[0]);
        assert_eq!(
            initializer(&m, "body.8.weight").dims,
            vec![3, 8, 3, 3],
            "x1: the last conv has 3 outputs"
        );
    }
}

/// By default each PReLU is `x + (1 - a) * Relu(-x)`: `Mul(x, -1) -> Relu -> Mul(1 - a) ->
/// Add(x)`, its output named like the `PRelu` it replaces, `1 - a` under
/// `{prefix}.one_minus_weight` and one `-1` tensor per channel count. (That it is the same
/// function is checked against PyTorch in `numeric.rs`, where every case but the literal one
/// uses this form.)
#[test]
fn prelu_is_written_in_its_relu_form_by_default() {
    use srgan_export::{Activation, SrVggConfig};
    let srresnet = checkpoint(2, 8, 4, [0.0, 1.0], [-1.0, 1.0], 11);
    let cfg = SrVggConfig {
        activation: Activation::Prelu,
        ..SrVggConfig::new(3, 8, 3)
    };
    let srvgg = crate::common::community(cfg, [0.0, 1.0], [0.0, 1.0], 12);
    // (checkpoint, PReLUs as (prefix, checkpoint slope, sub-pixel repeat), other Adds)
    let srresnet_prelus: Vec<(String, String, usize)> = ["head.prelu", "blocks.0.prelu"]
        .iter()
        .chain(&["blocks.1.prelu", "upsample.0.prelu"])
        .map(|p| (p.to_string(), format!("{p}.weight"), 1))
        .chain([(
            "upsample.1.prelu".to_string(),
            "upsample.1.prelu.weight".to_string(),
            4,
        )])
        .collect();
    let srvgg_prelus: Vec<(String, String, usize)> = [1, 3, 5, 7]
        .iter()
        .map(|k| (format!("body.{k}"), format!("body.{k}.weight"), 1))
        .collect();
    for (ck, prelus, other_adds) in [(&srresnet, srresnet_prelus, 3), (&srvgg, srvgg_prelus, 1)] {
        let m = model_with(ck, &ExportOptions::default());
        let ops = op_counts(&m);
        let n = prelus.len();
        assert_eq!(ops.get("PRelu"), None, "{ops:?}");
        assert_eq!(ops.get("Relu"), Some(&n), "{ops:?}");
        assert_eq!(ops.get("Mul"), Some(&(2 * n)), "{ops:?}");
        assert_eq!(ops.get("Add"), Some(&(n + other_adds)), "{ops:?}");
        let g = m.graph.as_ref().unwrap();
        let node = |name: &str| {
            g.node
                .iter()
                .find(|n| n.name == name)
                .unwrap_or_else(|| panic!("no node `{name}`"))
        };
        for (p, slope_name, repeat) in &prelus {
            let add = node(p);
            assert_eq!(add.op_type, "Add", "{p}");
            assert_eq!(
                add.output,
                vec![p.clone()],
                "{p}: output named like the PReLU"
            );
            let x = &add.input[0];
            let scale = node(&format!("{p}.scale"));
            let relu = node(&format!("{p}.relu"));
            let neg = node(&format!("{p}.neg"));
            assert_eq!(add.input[1], scale.output[0], "{p}");
            assert_eq!(scale.input[0], relu.output[0], "{p}");
            assert_eq!(relu.input[0], neg.output[0], "{p}");
            assert_eq!(&neg.input[0], x, "{p}: the same x on both sides");
            let slope = &ck.tensors[slope_name].data;
            let want: Vec<f32> = slope
                .iter()
                .flat_map(|a| std::iter::repeat_n(1.0 - a, *repeat))
                .collect();
            let c = want.len();
            let one_minus = initializer(&m, &scale.input[1]);
            assert_eq!(scale.input[1], format!("{p}.one_minus_weight"));
            assert_eq!(one_minus.dims, vec![c as i64, 1, 1], "{p}");
            assert_eq!(one_minus.f32_values(), Some(want), "{p}");
            let minus_one = initializer(&m, &neg.input[1]);
            assert_eq!(neg.input[1], format!("prelu.minus_one.{c}"));
            assert_eq!(minus_one.f32_values(), Some(vec![-1.0; c]), "{p}");
        }
        // One -1 tensor per channel count, shared.
        let shared = g
            .initializer
            .iter()
            .filter(|t| t.name.starts_with("prelu.minus_one."))
            .count();
        let counts: BTreeSet<usize> = prelus
            .iter()
            .map(|(_, s, r)| ck.tensors[s].data.len() * r)
            .collect();
        assert_eq!(shared, counts.len());
    }
}

#[test]
fn batch_norm_is_folded_into_the_conv() {
    let ck = checkpoint(2, 4, 4, [0.0, 1.0], [-1.0, 1.0], 3);
    let m = model(&ck);
    assert!(m
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .all(|n| n.op_type != "BatchNormalization"));
    let g = |n: &str| &ck.tensors[n].data;
    // The graph carries exactly what `fold_batch_norm` makes of the checkpoint's conv and BN
    // (the fold itself is checked against PyTorch in `fold.rs`).
    let (want_w, want_b) = fold_batch_norm(
        &ck.tensors["blocks.1.conv2.weight"],
        None,
        BatchNorm {
            weight: g("blocks.1.bn2.weight"),
            bias: g("blocks.1.bn2.bias"),
            mean: g("blocks.1.bn2.running_mean"),
            var: g("blocks.1.bn2.running_var"),
            eps: ck.config.as_srresnet().unwrap().bn_eps,
        },
    );
    let fw = initializer(&m, "blocks.1.conv2.weight")
        .f32_values()
        .unwrap();
    let fb = initializer(&m, "blocks.1.conv2.bias").f32_values().unwrap();
    assert_close("folded weight", &want_w.data, &fw, Tolerance::EXACT);
    assert_close("folded bias", &want_b.data, &fb, Tolerance::EXACT);
    // The HR range [-1,1] -> [0,1] is folded into the tail conv.
    // By default the tail runs before the last pixel shuffle: 4 copies of each bias, one per
    // sub-pixel.
    let tb = initializer(&m, "tail.conv.bias").f32_values().unwrap();
    let b = g("tail.conv.bias");
    assert_eq!(tb.len(), 12);
    for c in 0..12 {
        assert!((tb[c] - (b[c / 4] + 1.0) / 2.0).abs() < 1e-6, "bias {c}");
    }
    let plain = build_model(
        &ck,
        &ExportOptions {
            subpixel_tail: false,
            ..native()
        },
    )
    .unwrap();
    let tb = initializer(&plain, "tail.conv.bias").f32_values().unwrap();
    assert_eq!(tb.len(), 3);
    for c in 0..3 {
        assert!((tb[c] - (b[c] + 1.0) / 2.0).abs() < 1e-6);
    }
}

#[test]
fn conv_depth_to_space_and_prelu_details() {
    let ck = checkpoint(1, 8, 4, [0.0, 1.0], [-1.0, 1.0], 4);
    let m = model(&ck);
    let g = m.graph.as_ref().unwrap();
    for n in &g.node {
        match n.op_type.as_str() {
            "PRelu" => {
                let slope = initializer(&m, &n.input[1]);
                // The last stage's PReLU runs before its pixel shuffle: 4 slopes per channel.
                let c = if n.name == "upsample.1.prelu" { 32 } else { 8 };
                assert_eq!(slope.dims, vec![c, 1, 1], "{}", n.name);
            }
            "DepthToSpace" => {
                let attrs: BTreeMap<&str, _> =
                    n.attribute.iter().map(|a| (a.name.as_str(), a)).collect();
                assert_eq!(attrs["blocksize"].i, 2);
                assert_eq!(attrs["mode"].s, b"CRD");
            }
            "Conv" => {
                let w = initializer(&m, &n.input[1]);
                let k = w.dims[2];
                let pads = &n.attribute.iter().find(|a| a.name == "pads").unwrap().ints;
                assert_eq!(pads, &vec![k / 2; 4], "{}", n.name);
                assert_eq!(n.input.len(), 3, "{}: every Conv has a bias", n.name);
            }
            "Clip" => {
                assert_eq!(n.output, vec!["sr".to_string()]);
                let lo = initializer(&m, &n.input[1]);
                let hi = initializer(&m, &n.input[2]);
                assert!(lo.dims.is_empty() && hi.dims.is_empty(), "scalar bounds");
                assert_eq!(lo.f32_values(), Some(vec![0.0]));
                assert_eq!(hi.f32_values(), Some(vec![1.0]));
            }
            _ => {}
        }
    }
    assert_eq!(g.node.last().unwrap().op_type, "Clip");
    // The last stage: conv, PReLU, the tail conv (12 outputs, 5x5 for the 9x9 tail), the
    // shuffle, the clip.
    let tail = last_nodes(&m, 5);
    assert_eq!(
        tail,
        [
            ("upsample.1.conv", "Conv"),
            ("upsample.1.prelu", "PRelu"),
            ("tail.conv", "Conv"),
            ("tail.pixel_shuffle", "DepthToSpace"),
            ("output.clip", "Clip"),
        ]
    );
    assert_eq!(initializer(&m, "tail.conv.weight").dims, vec![12, 32, 5, 5]);
}

#[test]
fn plain_tail_exports_the_layers_in_training_order() {
    let ck = checkpoint(1, 8, 4, [0.0, 1.0], [-1.0, 1.0], 4);
    let opts = ExportOptions {
        subpixel_tail: false,
        ..native()
    };
    let m = build_model(&ck, &opts).unwrap();
    let tail = last_nodes(&m, 5);
    assert_eq!(
        tail,
        [
            ("upsample.1.conv", "Conv"),
            ("upsample.1.pixel_shuffle", "DepthToSpace"),
            ("upsample.1.prelu", "PRelu"),
            ("tail.conv", "Conv"),
            ("output.clip", "Clip"),
        ]
    );
    assert_eq!(initializer(&m, "tail.conv.weight").dims, vec![3, 8, 9, 9]);
    assert_eq!(
        initializer(&m, "upsample.1.prelu.weight").dims,
        vec![8, 1, 1]
    );
}

#[test]
fn names_are_meaningful_and_unique() {
    let ck = checkpoint(3, 4, 8, [0.0, 1.0], [-1.0, 1.0], 5);
    let m = model(&ck);
    let g = m.graph.as_ref().unwrap();
    let nodes: BTreeSet<&str> = g.node.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(nodes.len(), g.node.len(), "node names unique");
    for n in [
        "head.conv",
        "head.prelu",
        "blocks.2.conv1",
        "blocks.2.prelu",
        "blocks.2.conv2",
        "blocks.2.add",
        "trunk.conv",
        "trunk.add",
        "upsample.2.conv",
        "upsample.1.pixel_shuffle",
        "upsample.2.prelu",
        "tail.conv",
        "tail.pixel_shuffle",
        "output.clip",
    ] {
        assert!(nodes.contains(n), "no node `{n}` in {nodes:?}");
    }
    // Initializers: every conv weight/bias and PReLU slope under its checkpoint name (BN
    // tensors are gone, folded), plus the clip bounds.
    let inits: BTreeSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(inits.len(), g.initializer.len(), "initializer names unique");
    let mut want: BTreeSet<String> = ck
        .config
        .param_specs()
        .into_iter()
        .map(|s| s.name)
        .filter(|n| !n.contains(".bn"))
        .collect();
    for conv in ["trunk.conv", "blocks.0.conv1", "blocks.0.conv2"] {
        want.insert(format!("{conv}.bias"));
    }
    for i in 1..3 {
        want.insert(format!("blocks.{i}.conv1.bias"));
        want.insert(format!("blocks.{i}.conv2.bias"));
    }
    want.insert("output.clip.min".into());
    want.insert("output.clip.max".into());
    let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(inits, want);
}

#[test]
fn inputs_outputs_opset_and_metadata() {
    let mut ck = checkpoint(2, 4, 4, [0.0, 1.0], [-1.0, 1.0], 6);
    ck.extra_metadata
        .insert("srgan.trained_epochs".into(), "7".into());
    let m = model(&ck);
    assert_eq!(m.ir_version, 8);
    assert_eq!(m.opset_import.len(), 1);
    assert_eq!(m.opset_import[0].domain, "");
    assert_eq!(m.opset_import[0].version, 17);
    assert_eq!(m.producer_name, "srgan-export");
    assert_eq!(m.producer_version, env!("CARGO_PKG_VERSION"));
    assert!(m.doc_string.contains("SRGAN generator"), "{}", m.doc_string);

    let g = m.graph.as_ref().unwrap();
    assert_eq!(g.input.len(), 1);
    assert_eq!(g.output.len(), 1);
    let (et, dims) = g.input[0].tensor_dims().unwrap();
    assert_eq!((g.input[0].name.as_str(), et), ("lr", 1));
    assert_eq!(
        dims,
        [
            Dimension::symbol("N"),
            Dimension::fixed(3),
            Dimension::symbol("H"),
            Dimension::symbol("W"),
        ]
    );
    let (et, dims) = g.output[0].tensor_dims().unwrap();
    assert_eq!((g.output[0].name.as_str(), et), ("sr", 1));
    assert_eq!(dims[0], Dimension::symbol("N"));
    assert_eq!(dims[1], Dimension::fixed(3));
    assert_eq!(dims.len(), 4);

    let md = meta(&m);
    assert_eq!(md.len(), m.metadata_props.len(), "duplicate metadata keys");
    assert_eq!(md[metadata::SCALE], "4");
    assert_eq!(
        md[metadata::RECEPTIVE_FIELD_RADIUS],
        ck.config.receptive_field_radius().to_string()
    );
    assert_eq!(md[metadata::COLOUR_ORDER], "RGB");
    assert_eq!(md[metadata::LAYOUT], "NCHW");
    assert_eq!(md[metadata::INPUT_RANGE], "[0,1]");
    assert_eq!(md[metadata::OUTPUT_RANGE], "[0,1]");
    assert_eq!(md[metadata::TRAINING_LR_RANGE], "[0,1]");
    assert_eq!(md[metadata::TRAINING_HR_RANGE], "[-1,1]");
    // Tagged as the contract writes it, and the same network.
    assert!(md[metadata::ARCHITECTURE].starts_with(r#"{"arch":"srresnet","#));
    let arch = srgan_contract::Architecture::from_json(md[metadata::ARCHITECTURE]).unwrap();
    assert_eq!(arch, ck.config);
    assert_eq!(
        md[metadata::PRODUCER],
        format!("srgan-export {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(md["srgan.trained_epochs"], "7");
    assert_eq!(md["srgan.weights"], "random-init seed=6");
    // The key strings themselves are part of the contract with the runtimes.
    for key in [
        "srgan.scale",
        "srgan.receptive_field_radius",
        "srgan.colour_order",
        "srgan.layout",
        "srgan.input_range",
        "srgan.output_range",
        "srgan.training_lr_range",
        "srgan.training_hr_range",
        "srgan.architecture",
        "srgan.producer",
    ] {
        assert!(md.contains_key(key), "missing metadata key {key}");
    }
}

#[test]
fn other_opsets_set_the_matching_ir_version() {
    let ck = checkpoint(0, 4, 2, [0.0, 1.0], [-1.0, 1.0], 7);
    for (opset, ir) in [(13, 7), (17, 8), (19, 9), (21, 10)] {
        let m = build_model(&ck, &ExportOptions::with_opset(opset)).unwrap();
        assert_eq!((m.opset_import[0].version, m.ir_version), (opset, ir));
    }
}

#[test]
fn exporter_errors_carry_the_facts() {
    let ck = checkpoint(1, 4, 2, [0.0, 1.0], [-1.0, 1.0], 8);
    match build_model(&ck, &ExportOptions::with_opset(12)) {
        Err(ExportError::UnsupportedOpset { opset: 12, .. }) => {}
        other => panic!("{other:?}"),
    }

    let mut bad = ck.clone();
    bad.tensors.get_mut("trunk.bn.running_mean").unwrap().shape = vec![2, 2];
    let err = build_model(&bad, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(err, ExportError::InvalidCheckpoint { .. }),
        "{err:?}"
    );
    let line = srgan_contract::report::one_line(&err);
    assert!(line.contains("trunk.bn.running_mean"), "{line}");

    let mut zero_var = ck.clone();
    zero_var
        .tensors
        .get_mut("blocks.0.bn2.running_var")
        .unwrap()
        .data[0] = -ck.config.as_srresnet().unwrap().bn_eps;
    match build_model(&zero_var, &ExportOptions::default()) {
        Err(ExportError::NonFinite { tensor }) => assert_eq!(tensor, "blocks.0.conv2.weight"),
        other => panic!("{other:?}"),
    }

    let mut conflict = ck.clone();
    conflict
        .extra_metadata
        .insert(metadata::SCALE.into(), "3".into());
    match build_model(&conflict, &ExportOptions::default()) {
        Err(ExportError::ConflictingMetadata {
            key,
            checkpoint,
            exported,
        }) => assert_eq!(
            (key.as_str(), checkpoint.as_str(), exported.as_str()),
            (metadata::SCALE, "3", "2")
        ),
        other => panic!("{other:?}"),
    }
    // An equal value is not a conflict (and is not duplicated).
    let mut same = ck.clone();
    same.extra_metadata
        .insert(metadata::SCALE.into(), "2".into());
    let m = build_model(&same, &ExportOptions::default()).unwrap();
    assert_eq!(
        m.metadata_props
            .iter()
            .filter(|p| p.key == metadata::SCALE)
            .count(),
        1
    );
}

#[test]
fn write_onnx_is_atomic_and_matches_export_onnx() {
    let dir = scratch("write");
    let ck = checkpoint(1, 4, 2, [0.0, 1.0], [-1.0, 1.0], 9);
    let path = dir.join("m.onnx");
    std::fs::write(&path, b"old").unwrap();
    write_onnx(&ck, &path, &ExportOptions::default()).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        export_onnx(&ck, &ExportOptions::default()).unwrap()
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("m.onnx")],
        "no temp files left"
    );
    // A failing write names the file and leaves nothing behind.
    let missing = dir.join("no/such/dir/m.onnx");
    let err = write_onnx(&ck, &missing, &ExportOptions::default()).unwrap_err();
    assert!(matches!(err, ExportError::Write { .. }));
    let line = srgan_contract::report::one_line(&err);
    assert!(line.contains("no/such/dir/m.onnx"), "{line}");
}
