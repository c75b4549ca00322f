//! Calibration of the int8 export (`srgan-export --precision int8 --calibration DIR`): the
//! ranges of the activations that [`crate::quantize`] quantises, measured by running the fp32
//! graph in ONNX Runtime on crops of the photos in DIR, and the check that the int8 graph
//! stays close to the fp32 one on the same crops.
//!
//! - The crops: each photo (sorted by name) is shrunk by the model's scale (MATLAB bicubic,
//!   as the training and the evaluation make LR images) and cut into at most
//!   [`CROPS_PER_PHOTO`] tiles of [`CROP`] x [`CROP`] LR pixels at fixed places; at most
//!   [`MAX_CROPS`] in all. Nothing is random: the same folder gives the same ranges.
//! - The ranges: `minmax` takes each tensor's extremes; `percentile` (the default) the
//!   `p`-th and `(100 - p)`-th percentiles of its values (ties broken by value, so the
//!   result does not depend on threads), which ignores the rare outliers that would
//!   otherwise spend the 256 levels on a few pixels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use srgan_imaging::image_io::{read_image, DecodeLimits};
use srgan_imaging::pipeline::image_to_tensor;
use srgan_runtimes::ndarray::{self, s, Array4};
use srgan_runtimes::RuntimeOptions;

use crate::proto::{ModelProto, TypeProto, TypeProtoTensor, TypeValue, ValueInfoProto};
use crate::quantize::CalibrationMethod;

/// LR side of a calibration crop.
pub const CROP: usize = 64;
/// Crops taken from one photo.
pub const CROPS_PER_PHOTO: usize = 4;
/// Crops in all.
pub const MAX_CROPS: usize = 32;
/// Values kept per tensor and crop for the percentiles (a fixed stride through the tensor).
const SAMPLES_PER_CROP: usize = 1 << 18;

/// Why calibration failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// The folder could not be read or holds no usable photo.
    #[error("--calibration {path}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// ONNX Runtime failed on a crop.
    #[error("calibrating with ONNX Runtime")]
    Runtime(#[source] srgan_runtimes::RuntimeError),
}

/// The LR crops of the photos in `dir` for a model of `scale`.
pub fn crops(dir: &Path, scale: usize) -> Result<Vec<Array4<f32>>, CalibrateError> {
    let folder_err = |source: Box<dyn std::error::Error + Send + Sync>| CalibrateError::Folder {
        path: dir.into(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| folder_err(e.into()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Hidden entries (`._a.png`) and anything but regular files (a FIFO) are skipped, as
        // srgan-run skips them.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && std::fs::metadata(p).is_ok_and(|m| m.is_file())
        })
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp"]
                    .contains(&e.to_ascii_lowercase().as_str())
            })
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in &files {
        if out.len() >= MAX_CROPS {
            break;
        }
        let decoded = read_image(f, &DecodeLimits::default()).map_err(|e| folder_err(e.into()))?;
        let hr = image_to_tensor(&decoded.image).map_err(|e| folder_err(e.into()))?;
        let lr = srgan_imaging::resample::downscale(hr.view(), scale);
        let (_, _, h, w) = lr.dim();
        if h < CROP || w < CROP {
            continue;
        }
        let places = [
            ((h - CROP) / 2, (w - CROP) / 2),
            (0, 0),
            (h - CROP, w - CROP),
            (0, w - CROP),
        ];
        for (y, x) in places.into_iter().take(CROPS_PER_PHOTO) {
            if out.len() >= MAX_CROPS {
                break;
            }
            out.push(lr.slice(s![.., .., y..y + CROP, x..x + CROP]).to_owned());
        }
    }
    if out.is_empty() {
        return Err(folder_err(
            format!(
                "no photo of at least {}x{} pixels (PNG, JPEG, WebP, TIFF or BMP) in it",
                CROP * scale,
                CROP * scale
            )
            .into(),
        ));
    }
    Ok(out)
}

/// A graph output of unknown shape for `name`.
fn f32_output(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TypeProtoTensor {
                elem_type: crate::proto::DATA_TYPE_FLOAT,
                shape: None,
            })),
            denotation: String::new(),
        }),
        doc_string: String::new(),
        metadata_props: Vec::new(),
    }
}

/// Runs `model` on each crop and returns, for each crop, the values of `tensors` (plus the
/// graph's own outputs first).
pub fn run_with_outputs(
    model: &ModelProto,
    tensors: &[String],
    crops: &[Array4<f32>],
    opts: &RuntimeOptions,
) -> Result<Vec<BTreeMap<String, ndarray::ArrayD<f32>>>, CalibrateError> {
    let mut m = model.clone();
    if let Some(g) = m.graph.as_mut() {
        for t in tensors {
            if !g.output.iter().any(|o| &o.name == t) {
                g.output.push(f32_output(t));
            }
        }
    }
    let bytes = prost::Message::encode_to_vec(&m);
    let mut all = Vec::with_capacity(crops.len());
    for c in crops {
        let outs = srgan_runtimes::ort_backend::run_all_outputs(
            &bytes,
            Path::new("the model being calibrated"),
            c.view(),
            opts,
        )
        .map_err(CalibrateError::Runtime)?;
        all.push(outs.into_iter().collect());
    }
    Ok(all)
}

/// The calibrated range of each of `tensors`.
pub fn ranges(
    model: &ModelProto,
    tensors: &[String],
    crops: &[Array4<f32>],
    method: CalibrationMethod,
    percentile: f64,
    opts: &RuntimeOptions,
) -> Result<BTreeMap<String, (f32, f32)>, CalibrateError> {
    let mut samples: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let mut extremes: BTreeMap<String, (f32, f32)> = BTreeMap::new();
    // One crop at a time, so that only one crop's intermediates are held.
    for c in crops {
        let run = run_with_outputs(model, tensors, std::slice::from_ref(c), opts)?;
        for (name, values) in run.into_iter().next().unwrap_or_default() {
            if !tensors.contains(&name) {
                continue;
            }
            let flat: Vec<f32> = values.iter().copied().collect();
            let e = extremes
                .entry(name.clone())
                .or_insert((f32::INFINITY, f32::NEG_INFINITY));
            for v in &flat {
                e.0 = e.0.min(*v);
                e.1 = e.1.max(*v);
            }
            let stride = flat.len().div_ceil(SAMPLES_PER_CROP).max(1);
            samples
                .entry(name)
                .or_default()
                .extend(flat.iter().step_by(stride).copied());
        }
    }
    let mut out = BTreeMap::new();
    for t in tensors {
        let Some(&(lo, hi)) = extremes.get(t) else {
            continue;
        };
        let range = match method {
            CalibrationMethod::Minmax => (lo, hi),
            CalibrationMethod::Percentile => {
                let v = samples.get_mut(t).expect("sampled with the extremes");
                v.sort_by(f32::total_cmp);
                let at = |p: f64| {
                    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
                    v[i.min(v.len() - 1)]
                };
                (at(100.0 - percentile), at(percentile))
            }
        };
        out.insert(t.clone(), range);
    }
    Ok(out)
}

/// How far the int8 graph's outputs are from the fp32 graph's on the same crops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// PSNR of the int8 outputs against the fp32 ones, dB (RGB, [0, 1]).
    pub psnr_db: f64,
    /// The largest difference, in 8-bit levels.
    pub max_levels: f64,
}

/// Compares two models' outputs on `crops` (both run by ONNX Runtime).
pub fn agreement(
    fp32: &ModelProto,
    int8: &ModelProto,
    crops: &[Array4<f32>],
    opts: &RuntimeOptions,
) -> Result<Agreement, CalibrateError> {
    let (mut se, mut n, mut max) = (0f64, 0usize, 0f64);
    for c in crops {
        let a = run_with_outputs(fp32, &[], std::slice::from_ref(c), opts)?;
        let b = run_with_outputs(int8, &[], std::slice::from_ref(c), opts)?;
        let out = srgan_contract::metadata::OUTPUT_NAME;
        let (Some(x), Some(y)) = (a[0].get(out), b[0].get(out)) else {
            continue;
        };
        for (p, q) in x.iter().zip(y.iter()) {
            let d = f64::from(p.clamp(0.0, 1.0)) - f64::from(q.clamp(0.0, 1.0));
            se += d * d;
            max = max.max(d.abs() * 255.0);
        }
        n += x.len();
    }
    let mse = se / n.max(1) as f64;
    Ok(Agreement {
        psnr_db: if mse > 0.0 {
            10.0 * (1.0 / mse).log10()
        } else {
            f64::INFINITY
        },
        max_levels: max,
    })
}
