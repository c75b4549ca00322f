//! `--precision fp16`: f16 initializers (Resize scales excepted), a Cast at each end, the same
//! f32 interface, `srgan.precision` in the metadata; the onnx checker accepts it and
//! onnxruntime runs it within a level of the fp32 export.

use srgan_export::precision::{Precision, DATA_TYPE_FLOAT16};
use srgan_export::proto::DATA_TYPE_FLOAT;
use srgan_export::{build_model, metadata, write_onnx, Architecture, ExportOptions};
use srgan_export::{RrdbConfig, SrVggConfig};

use crate::common::{checkpoint, community, run_python, scratch};

fn fp16() -> ExportOptions {
    ExportOptions {
        precision: Precision::Fp16,
        ..ExportOptions::default()
    }
}

#[test]
fn fp16_graphs_cast_at_the_ends_and_store_f16_weights() {
    for arch in [
        Architecture::from(srgan_export::GeneratorConfig::new(1, 8, 4)),
        RrdbConfig::new(1, 8, 4, 4).into(),
        SrVggConfig::new(2, 8, 4).into(),
    ] {
        let ck = community(arch.clone(), [-1.0, 1.0], [0.0, 1.0], 5);
        let m32 = build_model(&ck, &ExportOptions::default()).unwrap();
        let m16 = build_model(&ck, &fp16()).unwrap();
        let (g32, g16) = (m32.graph.as_ref().unwrap(), m16.graph.as_ref().unwrap());
        let name = arch.describe();
        // The same nodes, plus a Cast at each end; the interface keeps its names and types.
        assert_eq!(g16.node.len(), g32.node.len() + 2, "{name}");
        let (first, last) = (&g16.node[0], g16.node.last().unwrap());
        assert_eq!(
            (first.op_type.as_str(), first.input[0].as_str()),
            ("Cast", "lr")
        );
        assert_eq!(
            (last.op_type.as_str(), last.output[0].as_str()),
            ("Cast", "sr")
        );
        assert_eq!(first.attribute[0].i, i64::from(DATA_TYPE_FLOAT16));
        assert_eq!(last.attribute[0].i, i64::from(DATA_TYPE_FLOAT));
        assert_eq!(g16.input, g32.input, "{name}");
        assert_eq!(g16.output, g32.output, "{name}");
        assert!(g16.node[1..]
            .iter()
            .all(|n| !n.input.contains(&"lr".to_string())));
        // Every weight f16, rounded from the fp32 export's; Resize scales stay f32.
        let scales: Vec<&str> = g16
            .node
            .iter()
            .filter(|n| n.op_type == "Resize")
            .map(|n| n.input[2].as_str())
            .collect();
        assert_eq!(g16.initializer.len(), g32.initializer.len());
        for (a, b) in g32.initializer.iter().zip(&g16.initializer) {
            assert_eq!((&a.name, &a.dims), (&b.name, &b.dims));
            if scales.contains(&a.name.as_str()) {
                assert_eq!(b, a, "{name}: Resize scales stay f32");
                continue;
            }
            assert_eq!(b.data_type, DATA_TYPE_FLOAT16, "{name}: {}", b.name);
            let want: Vec<u8> = a
                .f32_values()
                .unwrap()
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect();
            assert_eq!(b.raw_data, want, "{name}: {}", b.name);
        }
        assert_eq!(scales.is_empty(), !matches!(arch, Architecture::RrdbNet(_)));
        let precision = |m: &srgan_export::proto::ModelProto| {
            m.metadata_props
                .iter()
                .find(|p| p.key == metadata::PRECISION)
                .map(|p| p.value.clone())
        };
        assert_eq!(precision(&m16).as_deref(), Some("fp16"));
        assert_eq!(precision(&m32), None, "fp32 stays as it was");
    }
}

#[test]
fn fp16_exports_pass_the_checker_and_run_within_a_level_of_fp32() {
    let dir = scratch("fp16");
    let mut paths = Vec::new();
    let cases: Vec<(&str, srgan_export::Checkpoint)> = vec![
        ("srresnet", checkpoint(2, 8, 4, [0.0, 1.0], [-1.0, 1.0], 1)),
        (
            "rrdb_x2",
            community(RrdbConfig::new(1, 8, 4, 2), [0.0, 1.0], [0.0, 1.0], 2),
        ),
        (
            "srvgg",
            community(SrVggConfig::new(3, 8, 4), [0.0, 1.0], [0.0, 1.0], 3),
        ),
    ];
    for (name, ck) in &cases {
        let (p32, p16) = (
            dir.join(format!("{name}.onnx")),
            dir.join(format!("{name}_fp16.onnx")),
        );
        write_onnx(ck, &p32, &ExportOptions::default()).unwrap();
        write_onnx(ck, &p16, &fp16()).unwrap();
        paths.extend([p32, p16]);
    }
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let out = run_python("fp16_check.py", &refs);
    let diffs: Vec<f64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("pair "))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(diffs.len(), cases.len(), "{out}");
    for ((name, _), d) in cases.iter().zip(&diffs) {
        // Within one 8-bit level of the fp32 output, and not identical (it is f16).
        assert!(*d <= 1.0 / 255.0, "{name}: fp16 vs fp32 max |diff| {d}");
        assert!(*d > 0.0, "{name}: fp16 output identical to fp32");
    }
}
