//! The ort and tract adapters on a foreign model (no srgan metadata) and on bad models.
//! Parity on our own exported models lives in the workspace's integration tests.
#![cfg(all(feature = "ort", feature = "tract"))]

use std::path::{Path, PathBuf};

use ort::ep::{self, ExecutionProvider};
use srgan_contract::report::one_line;
use srgan_runtimes::ndarray::Array4;
use srgan_runtimes::{open, Device, RuntimeError, RuntimeOptions, Upscaler};
use srgan_testkit::{assert_close_array, TempDir, Tolerance};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn opts() -> RuntimeOptions {
    RuntimeOptions {
        threads: Some(1),
        ..Default::default()
    }
}

fn ramp(shape: [usize; 4]) -> Array4<f32> {
    Array4::from_shape_fn(shape, |(n, c, h, w)| {
        ((n * 7 + c * 13 + h * 3 + w * 5) % 17) as f32 / 16.0
    })
}

#[test]
fn foreign_model_scale_is_inferred_and_runtimes_agree() {
    let path = fixture("foreign_x2.onnx");
    let mut ort = open("ort", &path, &opts()).unwrap();
    let mut tract = open("tract", &path, &opts()).unwrap();
    assert_eq!(ort.scale(), 2);
    assert_eq!(tract.scale(), 2);
    assert_eq!(ort.info().scale, None, "the fixture has no srgan metadata");
    for shape in [[1, 3, 17, 23], [2, 3, 8, 8]] {
        let x = ramp(shape);
        let a = ort.upscale(x.view()).unwrap();
        let b = tract.upscale(x.view()).unwrap();
        assert_eq!(a.shape(), &[shape[0], 3, shape[2] * 2, shape[3] * 2]);
        let max = a
            .iter()
            .zip(b.iter())
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(max <= 1e-4, "ort vs tract max abs diff {max} on {shape:?}");
        // The model is not trivial: outputs vary.
        let (lo, hi) = a
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        assert!(hi - lo > 0.05, "degenerate output range {lo}..{hi}");
    }
}

#[test]
fn tract_caches_one_plan_per_shape() {
    let path = fixture("foreign_x2.onnx");
    let mut t = srgan_runtimes::tract_backend::TractUpscaler::open(&path, &opts()).unwrap();
    assert_eq!(t.cached_plans(), 0);
    t.upscale(ramp([1, 3, 8, 8]).view()).unwrap();
    t.upscale(ramp([1, 3, 8, 8]).view()).unwrap();
    assert_eq!(t.cached_plans(), 1);
    t.upscale(ramp([1, 3, 9, 8]).view()).unwrap();
    assert_eq!(t.cached_plans(), 2);
}

#[test]
fn input_that_is_not_4d_is_rejected_by_both() {
    let path = fixture("input_3d.onnx");
    for rt in ["ort", "tract"] {
        let err = open(rt, &path, &opts()).unwrap_err();
        assert!(
            matches!(err, RuntimeError::InvalidModel { .. }),
            "{rt}: {err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("input_3d.onnx") && msg.contains("expected 4"),
            "{rt}: {msg}"
        );
    }
}

#[test]
fn corrupt_model_is_a_load_error_naming_the_file() {
    let dir = TempDir::new("rt-corrupt");
    let bad = dir.join("corrupt.onnx");
    let mut bytes = std::fs::read(fixture("foreign_x2.onnx")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bad, &bytes).unwrap();
    for rt in ["ort", "tract"] {
        let err = open(rt, &bad, &opts()).unwrap_err();
        let line = one_line(&err);
        assert!(err.to_string().contains("corrupt.onnx"), "{rt}: {line}");
        // The decoder's or runtime's error is kept as the cause, and printed on one line.
        assert!(
            std::error::Error::source(&err).is_some(),
            "{rt}: no cause kept: {line}"
        );
        assert!(line.len() > err.to_string().len(), "{rt}: {line}");
        assert!(!line.contains('\n'), "{rt}: multi-line error {line}");
    }
    let missing = dir.join("missing.onnx");
    for rt in ["ort", "tract"] {
        let err = open(rt, &missing, &opts()).unwrap_err();
        assert!(err.to_string().contains("missing.onnx"), "{rt}: {err}");
    }
}

#[test]
fn missing_onnxruntime_library_is_named() {
    let o = RuntimeOptions {
        ort_library: Some("/nonexistent/libonnxruntime.so".into()),
        ..opts()
    };
    let err = open("ort", &fixture("foreign_x2.onnx"), &o).unwrap_err();
    assert!(matches!(err, RuntimeError::Library { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/libonnxruntime.so"),
        "{err}"
    );
    assert!(
        one_line(&err).contains("no such file"),
        "{}",
        one_line(&err)
    );
}

/// An explicit GPU device either works and gives the CPU's output, or is an error that names
/// the device and what is missing: never a silent run on the CPU. (The CPU-only onnxruntime
/// wheel of the set-up takes the error branch; `onnxruntime-gpu` on a GPU host the other.)
#[test]
fn cuda_and_tensorrt_work_and_match_the_cpu_or_say_what_is_missing() {
    let path = fixture("foreign_x2.onnx");
    let x = ramp([1, 3, 17, 23]);
    let cpu = open("ort", &path, &opts())
        .unwrap()
        .upscale(x.view())
        .unwrap();
    // Which providers the loaded onnxruntime library was built with (after the CPU open above,
    // which loaded it).
    let built_with = [
        ep::CUDA::is_available().unwrap(),
        ep::TensorRT::is_available().unwrap(),
    ];
    let devices = [(Device::Cuda(0), "CUDA"), (Device::TensorRt(0), "TensorRT")];
    for ((device, provider), built_with) in devices.into_iter().zip(built_with) {
        let o = RuntimeOptions {
            device: device.clone(),
            ..opts()
        };
        match open("ort", &path, &o) {
            Ok(mut u) => {
                let name = u.name().to_string();
                assert!(
                    built_with && !name.contains("cpu"),
                    "{device}: opened as `{name}` by an onnxruntime without {provider}: \
                     a fall back to the CPU"
                );
                let got = u.upscale(x.view()).unwrap();
                assert_close_array(&format!("{name} vs ort-cpu"), &cpu, &got, Tolerance::F32);
            }
            Err(e @ RuntimeError::DeviceUnavailable { .. }) => {
                let RuntimeError::DeviceUnavailable { ref source, .. } = e else {
                    unreachable!()
                };
                let msg = one_line(&e);
                assert!(e.to_string().contains(&device.to_string()), "{msg}");
                // The cause is onnxruntime's error, kept as the source, and names the provider
                // it could not get.
                assert!(
                    one_line(source.as_ref())
                        .to_lowercase()
                        .contains(&provider.to_lowercase()),
                    "{device}: the cause does not name {provider}: {msg}"
                );
            }
            Err(e) => panic!("{device}: wrong error kind: {}", one_line(&e)),
        }
        let err = open("tract", &path, &o).unwrap_err();
        assert!(
            matches!(err, RuntimeError::UnsupportedDevice { .. }),
            "{err}"
        );
    }
}

#[test]
fn bad_input_shapes_are_errors() {
    let mut t = open("tract", &fixture("foreign_x2.onnx"), &opts()).unwrap();
    let err = t
        .upscale(Array4::<f32>::zeros([1, 4, 8, 8]).view())
        .unwrap_err();
    assert!(matches!(err, RuntimeError::InputShape { .. }), "{err}");
    let err = t
        .upscale(Array4::<f32>::zeros([1, 3, 0, 8]).view())
        .unwrap_err();
    assert!(matches!(err, RuntimeError::InputShape { .. }), "{err}");
}
