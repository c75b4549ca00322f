//! `srgan-pad MODEL.onnx -o OUT.onnx`: measures a model's effective receptive-field radius
//! ([`srgan_imaging::radius`]) on a real photo and writes a copy of the model with it in the
//! metadata (`srgan.effective_radius`), so that tiling pads with it by default. For models
//! whose exact radius is impractically large (RRDBNet) or unknown (a foreign ONNX model).

use std::path::{Path, PathBuf};

use prost::Message;
use srgan_contract::proto::ModelProto;
use srgan_imaging::radius::{
    image_input, measure_effective_radius, measure_on_probe, record, EffectiveRadius,
    PROBE_MAX_RADIUS, PROBE_POINTS,
};
use srgan_runtimes::{RuntimeKind, RuntimeOptions};

/// Measure a model's effective receptive-field radius and write a copy of the model that
/// carries it, so that tiles are padded with it.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-pad",
    version,
    after_help = "The radius is the smallest context (LR pixels on every side) with which an \
                  output stays within --tolerance of the output computed with --max-radius of \
                  context, at 3 points of a real photo. Exit status: 0 when the copy was \
                  written, 2 on a usage error, an unusable model or an I/O error (nothing is \
                  written then)."
)]
pub struct PadArgs {
    /// The model (.onnx).
    pub model: PathBuf,
    /// Where to write the copy with the measured radius.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Runtime that runs the measurement: ort or tract.
    #[arg(long, default_value = "ort")]
    pub runtime: String,
    /// Tolerance in 8-bit levels of the [0, 1] output.
    #[arg(long, default_value_t = 0.25)]
    pub tolerance: f32,
    /// Largest radius tried, LR pixels. Default: the model's exact radius, at most 146 (the
    /// bundled probe photo's limit).
    #[arg(long)]
    pub max_radius: Option<usize>,
    /// Probe image instead of the bundled photo (PNG, JPEG, ...).
    #[arg(long)]
    pub probe: Option<PathBuf>,
    /// Intra-op threads. Default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an existing output.
    #[arg(long)]
    pub overwrite: bool,
}

/// What [`run`] wrote.
#[derive(Debug, Clone)]
pub struct Padded {
    /// The measurement.
    pub radius: EffectiveRadius,
    /// The model's exact radius, if it gives one.
    pub exact: Option<usize>,
    /// The tolerance, levels.
    pub tolerance: f32,
}

/// Bad arguments or a failed measurement; each names the file or value.
#[derive(Debug, thiserror::Error)]
pub enum PadError {
    /// An argument is out of range.
    #[error("{flag} {value}: expected {expected}")]
    Arg {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The output exists.
    #[error("{} already exists (pass --overwrite to replace it)", .0.display())]
    Exists(PathBuf),
    /// The output is the model.
    #[error("the output {} is the model itself; choose another -o", .0.display())]
    OutputIsInput(PathBuf),
    /// The model cannot be opened or run.
    #[error(transparent)]
    Runtime(#[from] srgan_runtimes::RuntimeError),
    /// The measurement failed.
    #[error("measuring")]
    Measure(#[source] srgan_imaging::TilingError),
    /// The probe image cannot be read.
    #[error("{}: cannot read the probe image", .0.display())]
    Probe(PathBuf, #[source] image::ImageError),
    /// The model file cannot be read, decoded or written.
    #[error("{}", .0.display())]
    File(PathBuf, #[source] srgan_contract::report::BoxError),
}

/// Measures and writes the copy.
pub fn run(a: &PadArgs) -> Result<Padded, PadError> {
    if !(a.tolerance.is_finite() && a.tolerance >= 0.0 && a.tolerance <= 255.0) {
        return Err(PadError::Arg {
            flag: "--tolerance",
            value: a.tolerance.to_string(),
            expected: "levels in 0..=255",
        });
    }
    let runtime: RuntimeKind = a.runtime.parse().map_err(|_| PadError::Arg {
        flag: "--runtime",
        value: a.runtime.clone(),
        expected: "ort or tract",
    })?;
    if srgan_contract::files::same_file(&a.model, &a.output) {
        return Err(PadError::OutputIsInput(a.output.clone()));
    }
    if a.output.exists() && !a.overwrite {
        return Err(PadError::Exists(a.output.clone()));
    }
    let opts = RuntimeOptions {
        threads: a.threads,
        ..RuntimeOptions::default()
    };
    let mut up = srgan_imaging::multiple::PadToMultiple::wrap(srgan_runtimes::open(
        runtime, &a.model, &opts,
    )?);
    let exact = up.info().radius();
    let radius = match &a.probe {
        Some(p) => {
            let probe = image::open(p)
                .map_err(|e| PadError::Probe(p.clone(), e))?
                .to_rgb8();
            // The measurement lowers it further to fit the probe image.
            let max_radius = a
                .max_radius
                .unwrap_or_else(|| exact.unwrap_or(PROBE_MAX_RADIUS).min(PROBE_MAX_RADIUS));
            measure_effective_radius(
                up.as_mut(),
                image_input(&probe).view(),
                max_radius,
                a.tolerance / 255.0,
                PROBE_POINTS,
            )
        }
        None => measure_on_probe(up.as_mut(), a.max_radius, a.tolerance),
    }
    .map_err(PadError::Measure)?;
    write_with_radius(&a.model, &a.output, &radius, a.tolerance, up.name())?;
    Ok(Padded {
        radius,
        exact,
        tolerance: a.tolerance,
    })
}

/// A copy of `model` at `output` with `srgan.effective_radius` (and how it was measured) set.
fn write_with_radius(
    model: &Path,
    output: &Path,
    r: &EffectiveRadius,
    tolerance: f32,
    runtime: &str,
) -> Result<(), PadError> {
    let file_err = |p: &Path, e: srgan_contract::report::BoxError| PadError::File(p.into(), e);
    let bytes = std::fs::read(model).map_err(|e| file_err(model, e.into()))?;
    let mut m = ModelProto::decode(bytes.as_slice()).map_err(|e| file_err(model, e.into()))?;
    record(&mut m, r, tolerance, &format!("srgan-pad, {runtime}"));
    srgan_contract::files::atomic_write(output, &m.encode_to_vec())
        .map_err(|e| file_err(output, e.into()))
}
