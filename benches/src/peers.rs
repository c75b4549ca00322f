//! The Python peers: `benches/peers/peers.py model`, run with the project's Python on the
//! same model, sizes, batches, thread count and timing budget; its JSON is read back here.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::model::{NcnnSource, Prepared};
use super::stats::Summary;
use super::BenchConfig;

/// One peer at one shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerCell {
    /// `onnxruntime-python`, `pytorch-eager` or `ncnn-cpu`.
    pub peer: String,
    /// LR side.
    pub lr: usize,
    /// Batch.
    pub batch: usize,
    /// The warm-up call, seconds.
    pub first_call_s: f64,
    /// The timed calls.
    #[serde(flatten)]
    pub summary: Summary,
}

/// PyTorch's sgemm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerSgemm {
    /// Side.
    pub size: usize,
    /// GFLOP/s at p50.
    pub gflops: f64,
    /// The timed calls.
    #[serde(flatten)]
    pub summary: Summary,
}

/// PyTorch eager's training step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerTrain {
    /// Batch.
    pub batch: usize,
    /// HR crop side.
    pub crop: usize,
    /// The timed steps.
    #[serde(flatten)]
    pub summary: Summary,
}

/// What `peers.py model` reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeersReport {
    /// Threads it ran with.
    pub threads: usize,
    /// Library versions.
    pub versions: serde_json::Value,
    /// Model timings.
    pub model: Vec<PeerCell>,
    /// PyTorch sgemm.
    #[serde(default)]
    pub sgemm: Option<PeerSgemm>,
    /// PyTorch training step.
    #[serde(default)]
    pub train_step: Option<PeerTrain>,
    /// Largest |PyTorch - onnxruntime| on the first shape: the two peers run the same model.
    #[serde(default)]
    pub parity_max_abs_diff_torch_vs_ort: Option<f64>,
    /// Largest |ncnn - onnxruntime| on the first shape, both clamped to [0, 1] (ncnn's graph
    /// has no clamp): the two run the same weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parity_max_abs_diff_ncnn_vs_ort: Option<f64>,
    /// The ncnn files as the peer resolved and checked them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncnn: Option<serde_json::Value>,
    /// Notes (what was skipped and why).
    #[serde(default)]
    pub notes: Vec<String>,
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

/// Runs a peers.py subcommand, its stderr passed through; fails with its exit status.
pub fn python(cfg: &BenchConfig, args: &[String]) -> anyhow::Result<std::process::Output> {
    let out = Command::new(&cfg.python)
        .arg(&cfg.peers_script)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (give --python, or run scripts/setup.sh)",
                cfg.python.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "{} {} {} failed ({})",
            cfg.python.display(),
            cfg.peers_script.display(),
            args.first().map(String::as_str).unwrap_or(""),
            out.status
        );
    }
    Ok(out)
}

/// Runs `peers.py model` and reads its JSON.
pub fn run_model(cfg: &BenchConfig, model: &Prepared) -> anyhow::Result<PeersReport> {
    let json = cfg.args.out.join("peers.json");
    let mut args: Vec<String> = vec![
        "model".into(),
        "--onnx".into(),
        model.onnx.display().to_string(),
        "--sizes".into(),
        join(&cfg.args.sizes),
        "--batches".into(),
        join(&cfg.args.batch),
        "--threads".into(),
        cfg.threads.to_string(),
        "--iterations".into(),
        cfg.args.iterations.to_string(),
        "--min-iterations".into(),
        cfg.args.min_iterations.to_string(),
        "--budget-s".into(),
        cfg.args.budget_s.to_string(),
        "--sgemm".into(),
        cfg.args.sgemm.to_string(),
        "--train-iterations".into(),
        cfg.args.train_iterations.to_string(),
        "--json".into(),
        json.display().to_string(),
    ];
    if let Some(c) = &model.checkpoint {
        args.push("--checkpoint".into());
        args.push(c.display().to_string());
    }
    if let Some(n) = &model.ncnn {
        args.extend(ncnn_args(n));
    }
    eprintln!(
        "srgan-bench: running the Python peers ({})",
        cfg.python.display()
    );
    python(cfg, &args)?;
    read(&json)
}

/// `peers.py model`'s arguments for the ncnn peer.
fn ncnn_args(n: &NcnnSource) -> Vec<String> {
    let mut v = vec![
        "--ncnn-param".to_string(),
        n.param.clone(),
        "--ncnn-bin".to_string(),
        n.bin.clone(),
    ];
    let optional = [
        ("--ncnn-package", &n.package),
        ("--ncnn-param-sha256", &n.param_sha256),
        ("--ncnn-bin-sha256", &n.bin_sha256),
        ("--ncnn-input", &n.input_blob),
        ("--ncnn-output", &n.output_blob),
    ];
    for (flag, value) in optional {
        if let Some(value) = value {
            v.push(flag.to_string());
            v.push(value.clone());
        }
    }
    v
}

/// Reads a `peers.py model` report.
pub fn read(path: &Path) -> anyhow::Result<PeersReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a peers report", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_peers_py_writes() {
        let text = r#"{"tool": "peers.py", "threads": 2, "versions": {"numpy": "2"},
            "model": [{"samples": 3, "p50_s": 0.1, "p95_s": 0.2, "mean_s": 0.15,
                       "min_s": 0.1, "max_s": 0.2, "first_call_s": 0.3,
                       "peer": "onnxruntime-python", "lr": 64, "batch": 1}],
            "notes": []}"#;
        let r: PeersReport = serde_json::from_str(text).unwrap();
        assert_eq!(r.model[0].lr, 64);
        assert_eq!(r.model[0].summary.p50_s, 0.1);
        assert!(r.train_step.is_none());
        assert!(r.parity_max_abs_diff_ncnn_vs_ort.is_none() && r.ncnn.is_none());
    }

    #[test]
    fn ncnn_arguments() {
        let n = NcnnSource {
            param: "p/m.param".into(),
            bin: "p/m.bin".into(),
            package: Some("p".into()),
            param_sha256: None,
            bin_sha256: Some("ab".into()),
            input_blob: Some("data".into()),
            output_blob: None,
        };
        assert_eq!(
            ncnn_args(&n).join(" "),
            "--ncnn-param p/m.param --ncnn-bin p/m.bin --ncnn-package p --ncnn-bin-sha256 ab \
             --ncnn-input data"
        );
    }
}
