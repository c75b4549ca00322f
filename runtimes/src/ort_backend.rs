//! ONNX Runtime adapter (crate `ort` 2.0.0-rc.15, `load-dynamic`).
//!
//! `libonnxruntime.so` is loaded at run time, from (first found): [`RuntimeOptions::ort_library`],
//! the `ORT_DYLIB_PATH` environment variable, or the library that `scripts/setup.sh` found in
//! the project's Python environment when this crate was built (`SRGAN_ORT_DYLIB`). One ONNX
//! Runtime environment per process, kept in a `OnceLock`.
//!
//! Execution providers are registered with `error_on_failure`: `--device cuda` on a machine or
//! an onnxruntime build without CUDA is an error that carries ONNX Runtime's own reason (for
//! example the CUDA library that failed to load), never a silent fall back to the CPU. The CPU
//! provider is registered explicitly too, so ONNX Runtime's automatic device selection never
//! picks something else.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::{Array4, ArrayView4, Ix4};
use ort::ep::{self, ExecutionProviderDispatch};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorRef, ValueType};

use crate::{
    check_input, check_output, BoxError, Device, ModelInfo, Result, RuntimeError, RuntimeOptions,
    Upscaler,
};

const RUNTIME: &str = "ort";

/// The ONNX Runtime environment of this process and the library it came from. Only a success
/// is kept: a failed load can be retried with another path.
static ENVIRONMENT: OnceLock<(ort::environment::Environment, PathBuf)> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Where `libonnxruntime.so` is looked for: [`RuntimeOptions::ort_library`], else
/// `ORT_DYLIB_PATH`, else the library `scripts/setup.sh` found at build time.
pub fn library_path(opts: &RuntimeOptions) -> Option<PathBuf> {
    if let Some(p) = &opts.ort_library {
        return Some(p.clone());
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    option_env!("SRGAN_ORT_DYLIB").map(PathBuf::from)
}

fn environment(opts: &RuntimeOptions) -> Result<&'static ort::environment::Environment> {
    let lib_err = |path: &Path, source: BoxError| RuntimeError::Library {
        library: "ONNX Runtime",
        path: path.into(),
        source,
    };
    let wanted = library_path(opts).ok_or_else(|| {
        lib_err(
            Path::new("libonnxruntime.so"),
            "no library configured: set ORT_DYLIB_PATH or run scripts/setup.sh".into(),
        )
    })?;
    if !wanted.is_file() {
        return Err(lib_err(
            &wanted,
            "no such file (set ORT_DYLIB_PATH to a libonnxruntime.so, or run scripts/setup.sh)"
                .into(),
        ));
    }
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if ENVIRONMENT.get().is_none() {
        let env = ort::init_from(&wanted)
            .map_err(|e| lib_err(&wanted, e.into()))?
            .with_name("srgan")
            .with_telemetry(false)
            .build()
            .map_err(|e| lib_err(&wanted, e.into()))?;
        let _ = ENVIRONMENT.set((env, wanted.clone()));
    }
    let (env, loaded) = ENVIRONMENT.get().expect("set above");
    if *loaded != wanted
        && std::fs::canonicalize(loaded).ok() != std::fs::canonicalize(&wanted).ok()
    {
        return Err(lib_err(
            &wanted,
            format!(
                "this process already loaded {}; only one ONNX Runtime library per process",
                loaded.display()
            )
            .into(),
        ));
    }
    Ok(env)
}

/// A session builder with what every session here gets: all graph optimisations and
/// `opts`' intra-op threads.
fn builder(
    env: &ort::environment::Environment,
    opts: &RuntimeOptions,
) -> std::result::Result<ort::session::builder::SessionBuilder, ort::Error> {
    Ok(Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::All)?
        .with_intra_threads(opts.resolved_threads())?)
}

/// One run of `session` with `input` as its input `input_name` (a contiguous copy only when
/// `input` is not already in standard layout).
fn run<'s>(
    session: &'s mut Session,
    input_name: &str,
    input: ArrayView4<'_, f32>,
) -> std::result::Result<ort::session::SessionOutputs<'s>, BoxError> {
    let contiguous = input.as_standard_layout();
    let tensor = TensorRef::from_array_view(contiguous.view())?;
    Ok(session.run(ort::inputs![input_name => tensor])?)
}

/// A model running in ONNX Runtime.
pub struct OrtUpscaler {
    session: Session,
    input_name: String,
    info: ModelInfo,
    scale: usize,
    name: String,
}

impl std::fmt::Debug for OrtUpscaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtUpscaler")
            .field("name", &self.name)
            .field("scale", &self.scale)
            .finish()
    }
}

fn providers(opts: &RuntimeOptions) -> Vec<ExecutionProviderDispatch> {
    match &opts.device {
        // The arena is what onnxruntime-python uses by default; ort's CPU provider defaults to
        // no arena, which made every call 1.2-1.5x slower here (BENCHMARKS.md).
        Device::Cpu => vec![ep::CPU::default()
            .with_arena_allocator(true)
            .build()
            .error_on_failure()],
        Device::Cuda(id) => vec![ep::CUDA::default()
            .with_device_id(*id as i32)
            .build()
            .error_on_failure()],
        Device::TensorRt(id) => {
            let mut trt = ep::TensorRT::default().with_device_id(*id as i32);
            if let Some(dir) = &opts.trt_cache_dir {
                let dir = dir.display().to_string();
                trt = trt
                    .with_engine_cache(true)
                    .with_engine_cache_path(&dir)
                    .with_timing_cache(true)
                    .with_timing_cache_path(&dir);
            }
            vec![trt.build().error_on_failure()]
        }
    }
}

impl OrtUpscaler {
    /// Loads `model` into an ONNX Runtime session on the device of `opts`.
    pub fn open(model: &Path, opts: &RuntimeOptions) -> Result<Self> {
        let info = crate::read_model_info(model)?;
        if let Some(dir) = &opts.trt_cache_dir {
            if !matches!(opts.device, Device::TensorRt(_)) {
                return Err(RuntimeError::UnsupportedDevice {
                    runtime: RUNTIME,
                    device: format!("{} with a TensorRT cache ({})", opts.device, dir.display()),
                    supported: "the TensorRT cache only with --device tensorrt",
                });
            }
            std::fs::create_dir_all(dir).map_err(|e| RuntimeError::Library {
                library: "TensorRT engine cache",
                path: dir.clone(),
                source: e.into(),
            })?;
        }
        let env = environment(opts)?;
        let load = |e: ort::Error| RuntimeError::ModelLoad {
            path: model.into(),
            source: e.into(),
        };
        let builder = builder(env, opts)
            .map_err(load)?
            // ONNX Runtime's memory pattern plans one block per input shape for all
            // intermediates; with the arena, repeated calls on one shape (the tiles of an
            // image) kept growing the process: 9 calls at 251x251 on the paper model peaked
            // at 1353 MiB over the base with it, 706 MiB without (as after one call), at the
            // same speed (BENCHMARKS.md, "Peak RSS").
            .with_memory_pattern(false)
            .map_err(|e| load(e.into()))?;
        let mut builder = builder
            .with_execution_providers(providers(opts))
            .map_err(|e| RuntimeError::DeviceUnavailable {
                runtime: RUNTIME,
                device: opts.device.to_string(),
                source: ort::Error::<()>::from(e).into(),
            })?;
        let session = builder.commit_from_file(model).map_err(|e| {
            // ONNX Runtime's status, not the message, says an execution provider failed.
            let ep_failed = matches!(
                e.code(),
                ort::error::ErrorCode::ExecutionProviderFailure
                    | ort::error::ErrorCode::DeviceReset
            );
            if opts.device != Device::Cpu && ep_failed {
                RuntimeError::DeviceUnavailable {
                    runtime: RUNTIME,
                    device: opts.device.to_string(),
                    source: e.into(),
                }
            } else {
                load(e)
            }
        })?;
        let inputs = session.inputs();
        if inputs.len() != 1 {
            return Err(RuntimeError::InvalidModel {
                path: model.into(),
                reason: format!("it has {} inputs, expected 1 image input", inputs.len()),
            });
        }
        let input_name = inputs[0].name().to_string();
        match inputs[0].dtype() {
            ValueType::Tensor { ty, shape, .. } => {
                if shape.len() != 4 {
                    return Err(RuntimeError::InvalidModel {
                        path: model.into(),
                        reason: format!(
                            "input `{input_name}` has {} dimensions {:?}, expected 4 [N, 3, H, W]",
                            shape.len(),
                            &shape[..]
                        ),
                    });
                }
                if shape[1] != 3 && shape[1] != -1 {
                    return Err(RuntimeError::InvalidModel {
                        path: model.into(),
                        reason: format!(
                            "input `{input_name}` has {} channels, expected 3 (RGB)",
                            shape[1]
                        ),
                    });
                }
                if *ty != ort::value::TensorElementType::Float32 {
                    return Err(RuntimeError::InvalidModel {
                        path: model.into(),
                        reason: format!("input `{input_name}` is {ty:?}, expected f32"),
                    });
                }
            }
            other => {
                return Err(RuntimeError::InvalidModel {
                    path: model.into(),
                    reason: format!("input `{input_name}` is {other:?}, expected a tensor"),
                })
            }
        }
        let device = match &opts.device {
            Device::Cpu => "cpu",
            Device::Cuda(_) => "cuda",
            Device::TensorRt(_) => "tensorrt",
        };
        let mut me = Self {
            session,
            input_name,
            scale: info.scale.unwrap_or(0),
            info,
            name: format!("ort-{device}"),
        };
        if me.scale == 0 {
            me.scale = crate::infer_scale(&mut me, model)?;
        }
        Ok(me)
    }
}

impl Upscaler for OrtUpscaler {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> usize {
        self.scale
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        check_input(&input)?;
        let shape = input.shape().to_vec();
        let fail = |source: BoxError| RuntimeError::Inference {
            runtime: RUNTIME,
            shape: shape.clone(),
            source,
        };
        let outputs = run(&mut self.session, &self.input_name, input).map_err(fail)?;
        let view = outputs[0]
            .try_extract_array::<f32>()
            .map_err(|e| fail(e.into()))?;
        let out_shape = view.shape().to_vec();
        check_output(
            RUNTIME,
            &shape,
            &out_shape,
            Some(self.scale).filter(|s| *s > 0),
        )?;
        let out = view
            .into_dimensionality::<Ix4>()
            .map_err(|e| fail(e.into()))?
            .to_owned();
        Ok(out)
    }
}

/// Runs the model `bytes` once on the CPU (ONNX Runtime, all optimisations, `opts`' threads
/// and library) with `input` as its only input, and returns every graph output as an f32
/// array, in the graph's order. For tools that read intermediate tensors (the int8 export's
/// calibration adds them as outputs); `name` names the model in errors.
pub fn run_all_outputs(
    bytes: &[u8],
    name: &Path,
    input: ArrayView4<'_, f32>,
    opts: &RuntimeOptions,
) -> Result<Vec<(String, ndarray::ArrayD<f32>)>> {
    let env = environment(opts)?;
    let load = |e: ort::Error| RuntimeError::ModelLoad {
        path: name.into(),
        source: e.into(),
    };
    let mut session = builder(env, opts)
        .map_err(load)?
        .commit_from_memory(bytes)
        .map_err(load)?;
    let input_name = session
        .inputs()
        .first()
        .map(|i| i.name().to_string())
        .ok_or_else(|| RuntimeError::InvalidModel {
            path: name.into(),
            reason: "it has no input".into(),
        })?;
    let shape = input.shape().to_vec();
    let fail = |source: BoxError| RuntimeError::Inference {
        runtime: RUNTIME,
        shape: shape.clone(),
        source,
    };
    let outputs = run(&mut session, &input_name, input).map_err(fail)?;
    let mut all = Vec::with_capacity(outputs.len());
    for (out_name, value) in &outputs {
        let view = value
            .try_extract_array::<f32>()
            .map_err(|e| fail(format!("output `{out_name}`: {e}").into()))?;
        all.push((out_name.to_string(), view.to_owned()));
    }
    Ok(all)
}
