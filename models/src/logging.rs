//! Running means of the losses and the metrics file (`metrics.jsonl`, one JSON object a line).
//!
//! Record kinds (`"kind"`): `train` (running means of the current epoch, every `log_every`
//! iterations), `epoch` (means over a finished epoch), `val` (PSNR/SSIM and the bicubic
//! baseline). Every record has `iteration` (iterations done).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::error::{ModelsError, Result};

/// The losses of one iteration (0 for a module that is off).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IterationLosses {
    /// `BCE(D(hr), t_real) + BCE(D(sr), t_fake)`.
    pub discriminator_loss: f64,
    /// `pixel_weight * MSE + vgg_weight * VGG MSE`.
    pub generator_content_loss: f64,
    /// `BCE(D(sr), 1)`.
    pub generator_adversarial_loss: f64,
    /// content + weighted adversarial (+ weighted TV).
    pub generator_total_loss: f64,
    /// MSE(sr, hr) alone.
    pub generator_pixel_loss: f64,
}

impl IterationLosses {
    /// (name, value) pairs in a fixed order.
    pub fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("discriminator_loss", self.discriminator_loss),
            ("generator_content_loss", self.generator_content_loss),
            (
                "generator_adversarial_loss",
                self.generator_adversarial_loss,
            ),
            ("generator_total_loss", self.generator_total_loss),
            ("generator_pixel_loss", self.generator_pixel_loss),
        ]
    }
}

/// Sums of the losses over the current epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunningMeans {
    sums: [f64; 5],
    count: u64,
}

impl RunningMeans {
    /// Adds one iteration.
    pub fn add(&mut self, l: &IterationLosses) {
        for (s, (_, v)) in self.sums.iter_mut().zip(l.named()) {
            *s += v;
        }
        self.count += 1;
    }

    /// Iterations added since the last reset.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The means by name.
    pub fn means(&self) -> BTreeMap<&'static str, f64> {
        let n = self.count.max(1) as f64;
        IterationLosses::default()
            .named()
            .iter()
            .zip(self.sums)
            .map(|((k, _), s)| (*k, s / n))
            .collect()
    }

    /// Exact text form (bit patterns) for the training state.
    pub fn encode(&self) -> String {
        let mut s: Vec<String> = self
            .sums
            .iter()
            .map(|v| format!("{:016x}", v.to_bits()))
            .collect();
        s.push(self.count.to_string());
        s.join(",")
    }

    /// Parses [`RunningMeans::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split(',').collect();
        if parts.len() != 6 {
            return None;
        }
        let mut sums = [0.0; 5];
        for (s, p) in sums.iter_mut().zip(&parts[..5]) {
            *s = f64::from_bits(u64::from_str_radix(p, 16).ok()?);
        }
        Some(Self {
            sums,
            count: parts[5].parse().ok()?,
        })
    }

    /// One line for the live display.
    pub fn summary(&self, adversarial: bool) -> String {
        let m = self.means();
        if adversarial {
            format!(
                "D {:.4} | G content {:.5} adv {:.4} total {:.5}",
                m["discriminator_loss"],
                m["generator_content_loss"],
                m["generator_adversarial_loss"],
                m["generator_total_loss"]
            )
        } else {
            format!(
                "G content {:.5} (pixel MSE {:.5})",
                m["generator_content_loss"], m["generator_pixel_loss"]
            )
        }
    }
}

/// A record of the metrics file.
pub fn record(kind: &str, iteration: u64, fields: &[(&str, f64)]) -> Value {
    let mut v = json!({ "kind": kind, "iteration": iteration });
    for (k, x) in fields {
        v[*k] = if x.is_finite() { json!(x) } else { Value::Null };
    }
    v
}

/// Appends one record to the metrics file.
pub fn append(path: &Path, v: &Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(ModelsError::io(path))?;
    writeln!(f, "{v}").map_err(ModelsError::io(path))
}

/// Reads every record of the metrics file (a missing file is empty; bad lines are skipped).
pub fn read_all(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Drops the records after iteration `step` (a resumed run writes them again).
pub fn truncate_after(path: &Path, step: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let kept: String = read_all(path)
        .into_iter()
        .filter(|v| v["iteration"].as_u64().is_some_and(|i| i <= step))
        .map(|v| format!("{v}\n"))
        .collect();
    srgan_export::atomic_write(path, kept.as_bytes())?;
    Ok(())
}
