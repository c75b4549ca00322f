//! tract adapter: pure Rust, CPU only.
//!
//! The model is loaded and decluttered once with symbolic `N`, `H`, `W`; each concrete input
//! shape then gets its own optimized plan, built on first use and cached (symbolic shapes ran
//! about 4.7x slower here). Matrix products run on a private rayon pool of
//! [`RuntimeOptions::threads`] threads (tract-linalg's `multithread-mm`).
//!
//! Plans are built with tract's direct spatial convolution turned off (knob
//! `TRACT_DISABLE_DIRECT_SPATIAL`; set that variable to `0` to turn it back on): tract picks it
//! for every 3x3 64-channel convolution of this model, and it made the paper model 1.3x (64x64)
//! to 1.8x (128x128) slower than im2col and a matrix product (BENCHMARKS.md).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use ndarray::{Array4, ArrayView4, Ix4};
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::knobs::KnobScope;
use tract_onnx::tract_hir::infer::Factoid;

use crate::{
    check_input, check_output, Device, ModelInfo, Result, RuntimeError, RuntimeOptions, Upscaler,
};

const RUNTIME: &str = "tract";

type Plan = Arc<TypedRunnableModel>;

/// A model running in tract.
pub struct TractUpscaler {
    decluttered: TypedModel,
    symbols: [Symbol; 3],
    plans: HashMap<[usize; 4], Plan>,
    executor: Executor,
    info: ModelInfo,
    scale: usize,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for TractUpscaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractUpscaler")
            .field("path", &self.path)
            .field("scale", &self.scale)
            .field("plans", &self.plans.len())
            .finish()
    }
}

fn chain(e: &anyhow::Error) -> String {
    // tract errors are anyhow chains; keep them on one line.
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The knobs plans are built under: [`DIRECT_SPATIAL_KNOB`] on (direct spatial convolution
/// off) unless the environment sets it.
fn knobs() -> TractResult<KnobScope> {
    if std::env::var_os(DIRECT_SPATIAL_KNOB).is_some() {
        return KnobScope::new([]);
    }
    KnobScope::new([(DIRECT_SPATIAL_KNOB, "true")])
}

/// tract's knob that turns its direct spatial convolution off.
const DIRECT_SPATIAL_KNOB: &str = "TRACT_DISABLE_DIRECT_SPATIAL";

impl TractUpscaler {
    /// Loads and declutters `model`. Only [`Device::Cpu`] is supported.
    pub fn open(model: &Path, opts: &RuntimeOptions) -> Result<Self> {
        if opts.device != Device::Cpu {
            return Err(RuntimeError::UnsupportedDevice {
                runtime: RUNTIME,
                device: opts.device.to_string(),
                supported: "cpu",
            });
        }
        let info = crate::read_model_info(model)?;
        let load = |e: anyhow::Error| RuntimeError::ModelLoad {
            path: model.into(),
            reason: chain(&e),
        };
        let inference = tract_onnx::onnx().model_for_path(model).map_err(load)?;
        let inputs = inference.input_outlets().map_err(load)?.len();
        if inputs != 1 {
            return Err(RuntimeError::InvalidModel {
                path: model.into(),
                reason: format!("it has {inputs} inputs, expected 1 image input"),
            });
        }
        let declared = inference.input_fact(0).map_err(load)?.clone();
        if let Some(rank) = declared.shape.rank().concretize() {
            if rank != 4 {
                return Err(RuntimeError::InvalidModel {
                    path: model.into(),
                    reason: format!(
                        "input has {rank} dimensions ({:?}), expected 4 [N, 3, H, W]",
                        declared.shape
                    ),
                });
            }
        }
        if let Some(c) = declared.shape.dim(1).and_then(|d| d.concretize()) {
            if c != 3.to_dim() {
                return Err(RuntimeError::InvalidModel {
                    path: model.into(),
                    reason: format!("input has {c} channels, expected 3 (RGB)"),
                });
            }
        }
        let n = inference.symbols.sym("N");
        let h = inference.symbols.sym("H");
        let w = inference.symbols.sym("W");
        let fact = InferenceFact::dt_shape(
            f32::datum_type(),
            tvec![n.to_dim(), 3.to_dim(), h.to_dim(), w.to_dim()],
        );
        let decluttered = inference
            .with_input_fact(0, fact)
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_decluttered())
            .map_err(load)?;
        let threads = opts.resolved_threads();
        let executor = if threads > 1 {
            Executor::multithread(threads)
        } else {
            Executor::SingleThread
        };
        let mut me = Self {
            decluttered,
            symbols: [n, h, w],
            plans: HashMap::new(),
            executor,
            scale: info.scale.unwrap_or(0),
            info,
            path: model.into(),
        };
        if me.scale == 0 {
            me.scale = crate::infer_scale(&mut me).map_err(|e| RuntimeError::InvalidModel {
                path: model.into(),
                reason: format!("cannot infer the scale from a probe run: {e}"),
            })?;
            // The probe's plan is of no further use.
            me.plans.clear();
        }
        Ok(me)
    }

    fn plan(&mut self, shape: [usize; 4]) -> Result<Plan> {
        if let Some(p) = self.plans.get(&shape) {
            return Ok(p.clone());
        }
        let [n, h, w] = &self.symbols;
        let subs: HashMap<Symbol, TDim> = [
            (n.clone(), (shape[0] as i64).to_dim()),
            (h.clone(), (shape[2] as i64).to_dim()),
            (w.clone(), (shape[3] as i64).to_dim()),
        ]
        .into_iter()
        .collect();
        let plan = knobs()
            .and_then(|k| {
                k.enter(|| {
                    self.decluttered
                        .set_symbols(&subs)
                        .and_then(|m| m.into_optimized())
                        .and_then(|m| m.into_runnable())
                })
            })
            .map_err(|e| RuntimeError::Inference {
                runtime: RUNTIME,
                shape: shape.to_vec(),
                reason: format!("cannot plan this shape: {}", chain(&e)),
            })?;
        self.plans.insert(shape, plan.clone());
        Ok(plan)
    }

    /// Number of cached per-shape plans.
    pub fn cached_plans(&self) -> usize {
        self.plans.len()
    }
}

impl Upscaler for TractUpscaler {
    fn name(&self) -> &str {
        "tract-cpu"
    }

    fn scale(&self) -> usize {
        self.scale
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        check_input(&input)?;
        if input.shape()[0] > 1 {
            // tract's batched convolution path is several times slower than N single-sample
            // runs (4 x batch 1: 0.99 s, batch 4: 4.94 s here; BENCHMARKS.md), so a batch runs
            // one sample at a time through the batch-1 plan.
            let outs = input
                .outer_iter()
                .map(|x| self.upscale(x.insert_axis(ndarray::Axis(0))))
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<_> = outs.iter().map(|o| o.view()).collect();
            return ndarray::concatenate(ndarray::Axis(0), &views).map_err(|e| {
                RuntimeError::Inference {
                    runtime: RUNTIME,
                    shape: input.shape().to_vec(),
                    reason: e.to_string(),
                }
            });
        }
        let s = input.shape();
        let shape = [s[0], s[1], s[2], s[3]];
        let plan = self.plan(shape)?;
        let fail = |e: anyhow::Error| RuntimeError::Inference {
            runtime: RUNTIME,
            shape: shape.to_vec(),
            reason: chain(&e),
        };
        let tensor: Tensor = input.as_standard_layout().into_owned().into_dyn().into();
        let outputs = multithread_tract_scope(self.executor.clone(), || {
            plan.run(tvec![tensor.into_tvalue()])
        })
        .map_err(fail)?;
        let out = outputs
            .into_iter()
            .next()
            .ok_or_else(|| fail(anyhow::anyhow!("the model produced no output")))?;
        let out = out.into_tensor().into_plain_array::<f32>().map_err(fail)?;
        check_output(
            RUNTIME,
            &shape,
            out.shape(),
            Some(self.scale).filter(|s| *s > 0),
        )?;
        out.into_dimensionality::<Ix4>()
            .map_err(|e| fail(anyhow::anyhow!(e)))
    }
}
