//! The effective receptive-field radius of an exported model, measured at export (feature
//! `measure`): for a model whose exact radius is too large to pad tiles with (RRDBNet: 349 LR
//! pixels for 23 blocks), tiling with the default pad would be capped and leave seams. So the
//! model is run on the bundled probe photo, and the smallest context whose output stays within
//! a quarter of a level of the output with much more context is stored in the metadata
//! (`srgan.effective_radius`), where tiling takes it as its default pad
//! ([`srgan_imaging::radius`] has the method; `srgan-pad` does the same for any `.onnx`).

use std::path::{Path, PathBuf};

use std::time::Instant;

use prost::Message;
use srgan_imaging::radius::{measure_on_probe, record, EffectiveRadius};
use srgan_runtimes::ndarray::{Array4, ArrayView4};
use srgan_runtimes::{ModelInfo, RuntimeKind, RuntimeOptions, Upscaler};

use crate::proto::ModelProto;

pub use srgan_imaging::radius::DEFAULT_TOLERANCE_LEVELS;
pub use srgan_imaging::tiling::MAX_DEFAULT_PAD;

/// Why the measurement failed; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The scratch copy of the model could not be written.
    #[error("{}: cannot write a scratch copy of the model to measure", .0.display())]
    Scratch(PathBuf, #[source] std::io::Error),
    /// The runtime could not open or run the model.
    #[error("{runtime} could not open the exported model")]
    Open {
        /// The runtime.
        runtime: &'static str,
        /// Why.
        #[source]
        source: srgan_runtimes::RuntimeError,
    },
    /// A model call failed during the measurement.
    #[error("measuring with {runtime}")]
    Run {
        /// The runtime.
        runtime: &'static str,
        /// Why.
        #[source]
        source: srgan_imaging::TilingError,
    },
}

/// What [`measure_and_record`] measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The measurement.
    pub radius: EffectiveRadius,
    /// The runtime that ran it.
    pub runtime: &'static str,
    /// The tolerance, in levels of 255.
    pub tolerance_levels: f32,
}

/// Measures the effective radius of `model` with `runtime` on the bundled probe photo and
/// records it in `model`'s metadata. The model is written to a scratch file beside `dest` (the
/// runtimes open models by path), removed afterwards.
pub fn measure_and_record(
    model: &mut ModelProto,
    dest: &Path,
    runtime: RuntimeKind,
    threads: Option<usize>,
) -> Result<Measured, MeasureError> {
    let name = runtime.name();
    let scratch = srgan_contract::files::scratch_beside(dest, &model.encode_to_vec())
        .map_err(|e| MeasureError::Scratch(dest.into(), e))?;
    let opts = RuntimeOptions {
        threads,
        ..RuntimeOptions::default()
    };
    let up = srgan_runtimes::open(runtime, scratch.path(), &opts).map_err(|source| {
        MeasureError::Open {
            runtime: name,
            source,
        }
    })?;
    let mut up = Progress {
        inner: srgan_imaging::multiple::PadToMultiple::wrap(up),
        calls: 0,
        start: Instant::now(),
    };
    let tolerance_levels = DEFAULT_TOLERANCE_LEVELS;
    let radius =
        measure_on_probe(&mut up, None, tolerance_levels).map_err(|source| MeasureError::Run {
            runtime: name,
            source,
        })?;
    drop(up);
    drop(scratch);
    record(
        model,
        &radius,
        tolerance_levels,
        &format!("srgan-export, {name}"),
    );
    Ok(Measured {
        radius,
        runtime: name,
        tolerance_levels,
    })
}

/// Says on stderr how far the measurement is: one line per model call (each can take seconds
/// on a large model).
struct Progress {
    inner: Box<dyn Upscaler>,
    calls: usize,
    start: Instant,
}

impl Upscaler for Progress {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn scale(&self) -> usize {
        self.inner.scale()
    }
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn upscale(
        &mut self,
        input: ArrayView4<'_, f32>,
    ) -> Result<Array4<f32>, srgan_runtimes::RuntimeError> {
        let out = self.inner.upscale(input.view())?;
        self.calls += 1;
        eprintln!(
            "srgan-export: measuring: call {}, {}x{} LR pixels, {:.1} s so far",
            self.calls,
            input.shape()[3],
            input.shape()[2],
            self.start.elapsed().as_secs_f64()
        );
        Ok(out)
    }
}
