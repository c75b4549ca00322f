//! The report: what ran where and when, every figure, the ratios against the peers, the
//! issue's targets with their measured values; written as JSON and printed as tables.

use std::fmt::Write as _;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::measure::{Ceiling, Cell, RuntimeStatus};
use super::model::ModelReport;
use super::peers::PeersReport;
use super::pipeline::PipelineReport;
use super::BenchConfig;

/// Where and when it ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: Option<String>,
    /// Cores available to this process.
    pub cores: usize,
    /// `/proc/loadavg` (1, 5, 15 min) at the start.
    pub load_average_start: Option<String>,
    /// ... and at the end.
    pub load_average_end: Option<String>,
}

/// One ratio of p50 times (or wall times): `numerator / denominator`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratio {
    /// E.g. `ort-cpu / onnxruntime-python`.
    pub what: String,
    /// LR side, for model times.
    pub lr: Option<usize>,
    /// Batch, for model times.
    pub batch: Option<usize>,
    /// The ratio.
    pub value: f64,
}

/// One of the targets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// What.
    pub name: String,
    /// The target.
    pub target: String,
    /// The measured figure, in words.
    pub measured: String,
    /// Met, missed, or not measured in this run (`None`).
    pub met: Option<bool>,
}

/// The whole report (bench.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `srgan-bench <version>`.
    pub tool: String,
    /// UTC date and time of the start.
    pub date_utc: String,
    /// `git rev-parse HEAD` of the source tree, when it is a git checkout.
    pub commit: Option<String>,
    /// Whether the tree had uncommitted changes.
    pub dirty: Option<bool>,
    /// The command line.
    pub command: String,
    /// Note given with --note.
    pub note: Option<String>,
    /// Machine.
    pub machine: Machine,
    /// Threads of every runtime and peer.
    pub threads: usize,
    /// The model.
    pub model: ModelReport,
    /// The sgemm ceiling.
    pub ceiling: Ceiling,
    /// Runtimes and GPU probes.
    pub runtimes: Vec<RuntimeStatus>,
    /// Every runtime at every shape.
    pub results: Vec<Cell>,
    /// The Python peers.
    pub peers: Option<PeersReport>,
    /// Ratios of p50 times.
    pub ratios: Vec<Ratio>,
    /// End to end.
    pub pipeline: Option<PipelineReport>,
    /// The targets.
    pub targets: Vec<Target>,
    /// Parts that failed.
    pub errors: Vec<String>,
}

/// `/proc/loadavg`'s first three fields.
pub fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn cpu_model() -> Option<String> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    s.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(super::source_root())
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a Unix time (seconds).
pub fn utc(secs: u64) -> String {
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Report {
    /// A report with the run's context filled in.
    pub fn start(cfg: &BenchConfig) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let commit = git(&["rev-parse", "HEAD"]);
        let dirty = commit
            .as_ref()
            .and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"]))
            .map(|s| !s.is_empty());
        Self {
            tool: format!("srgan-bench {}", env!("CARGO_PKG_VERSION")),
            date_utc: utc(now),
            commit,
            dirty,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            note: cfg.args.note.clone(),
            machine: Machine {
                cpu: cpu_model(),
                cores: std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
                load_average_start: load_average(),
                load_average_end: None,
            },
            threads: cfg.threads,
            model: ModelReport::default(),
            ceiling: Ceiling::default(),
            runtimes: Vec::new(),
            results: Vec::new(),
            peers: None,
            ratios: Vec::new(),
            pipeline: None,
            targets: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Records the end.
    pub fn finish(&mut self) {
        self.machine.load_average_end = load_average();
    }

    fn cell(&self, runtime: &str, lr: usize, batch: usize) -> Option<&Cell> {
        self.results
            .iter()
            .find(|c| c.runtime == runtime && c.lr == lr && c.batch == batch)
    }

    fn peer(&self, peer: &str, lr: usize, batch: usize) -> Option<f64> {
        self.peers.as_ref()?.model.iter().find_map(|c| {
            (c.peer == peer && c.lr == lr && c.batch == batch).then_some(c.summary.p50_s)
        })
    }

    /// Fills in the ratios and the targets from what was measured.
    pub fn compute_ratios(&mut self) {
        let mut ratios = Vec::new();
        let shapes: Vec<(usize, usize)> = self
            .results
            .iter()
            .filter(|c| c.runtime == "ort-cpu")
            .map(|c| (c.lr, c.batch))
            .collect();
        for &(lr, batch) in &shapes {
            let ort = self.cell("ort-cpu", lr, batch).map(|c| c.summary.p50_s);
            let tract = self.cell("tract-cpu", lr, batch).map(|c| c.summary.p50_s);
            let ort_py = self.peer("onnxruntime-python", lr, batch);
            let torch = self.peer("pytorch-eager", lr, batch);
            let ncnn = self.peer("ncnn-cpu", lr, batch);
            let mut push = |what: &str, a: Option<f64>, b: Option<f64>| {
                if let (Some(a), Some(b)) = (a, b) {
                    ratios.push(Ratio {
                        what: what.into(),
                        lr: Some(lr),
                        batch: Some(batch),
                        value: a / b,
                    });
                }
            };
            push("ort-cpu / onnxruntime-python", ort, ort_py);
            push("tract-cpu / ort-cpu", tract, ort);
            push("ort-cpu / pytorch-eager", ort, torch);
            push("pytorch-eager / onnxruntime-python", torch, ort_py);
            push("ort-cpu / ncnn-cpu", ort, ncnn);
            push("tract-cpu / ncnn-cpu", tract, ncnn);
            push("pytorch-eager / ncnn-cpu", torch, ncnn);
        }
        self.ratios = ratios;
        self.targets = self.targets();
    }

    fn worst(&self, what: &str) -> Option<(f64, usize, usize)> {
        self.ratios
            .iter()
            .filter(|r| r.what == what)
            .map(|r| (r.value, r.lr.unwrap_or(0), r.batch.unwrap_or(0)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    fn targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        let ratio_target = |name: &str, what: &str, limit: f64| {
            let measured = self.worst(what);
            Target {
                name: name.into(),
                target: format!("{what} <= {limit} at every shape"),
                measured: measured
                    .map(|(v, lr, b)| format!("worst {v:.3} (lr{lr}/b{b})"))
                    .unwrap_or_else(|| "not measured in this run".into()),
                met: measured.map(|(v, _, _)| v <= limit),
            }
        };
        t.push(ratio_target(
            "ort model time vs onnxruntime-python",
            "ort-cpu / onnxruntime-python",
            1.05,
        ));
        t.push(ratio_target(
            "tract vs ORT on CPU",
            "tract-cpu / ort-cpu",
            2.5,
        ));
        let folder = self.pipeline.as_ref().map(|p| &p.folder);
        let wall =
            |name: &str| folder.and_then(|f| f.iter().find(|r| r.name == name).map(|r| r.wall_s));
        let ours = wall("srgan-run (ort)");
        let (py_ort, py_torch) = (wall("python-ort"), wall("python-torch"));
        t.push(Target {
            name: "srgan-run over a folder vs the Python pipelines".into(),
            target: "faster end to end than python-ort and python-torch".into(),
            measured: match ours {
                Some(o) => format!(
                    "srgan-run (ort) {o:.2} s; python-ort {}; python-torch {}",
                    py_ort.map_or("-".into(), |v| format!("{v:.2} s")),
                    py_torch.map_or("-".into(), |v| format!("{v:.2} s"))
                ),
                None => "not measured in this run".into(),
            },
            met: match (ours, py_ort, py_torch) {
                (Some(o), Some(a), Some(b)) => Some(o < a && o < b),
                (Some(o), Some(a), None) if o >= a => Some(false),
                _ => None,
            },
        });
        let rss = self.pipeline.as_ref().and_then(|p| p.rss.as_ref());
        t.push(Target {
            name: "peak RSS of a tiled upscale".into(),
            target: "< 1536 MiB for a 2048x2048 photo, x4".into(),
            measured: rss
                .map(|r| {
                    format!(
                        "{:.0} MiB ({}x{}, tile {})",
                        r.run.peak_rss_mib,
                        r.size,
                        r.size,
                        r.tile.map_or("default".into(), |t| t.to_string())
                    )
                })
                .unwrap_or_else(|| "not measured in this run".into()),
            met: rss
                .filter(|r| r.size == 2048 && self.model.scale == Some(4))
                .map(|r| r.run.peak_rss_mib < 1536.0),
        });
        let st = self.pipeline.as_ref().and_then(|p| p.startup.as_ref());
        t.push(Target {
            name: "start-up to first image (ort)".into(),
            target: "<= 1.5 s for a 256x256 input".into(),
            measured: st
                .map(|s| format!("median {:.3} s ({}x{})", s.summary.p50_s, s.size, s.size))
                .unwrap_or_else(|| "not measured in this run".into()),
            met: st.filter(|s| s.size == 256).map(|s| s.summary.p50_s <= 1.5),
        });
        let train = self.peers.as_ref().and_then(|p| p.train_step.as_ref());
        t.push(Target {
            name: "tch training step vs PyTorch eager".into(),
            target: "no slower (batch 16, 96x96 crops)".into(),
            measured: match train {
                Some(tr) => format!(
                    "PyTorch eager {:.3} s/step; tch: cargo bench -p srgan-bench --features \
                     tch --bench latency -- tch_cpu_train",
                    tr.summary.p50_s
                ),
                None => "not measured in this run".into(),
            },
            met: None,
        });
        t
    }

    /// The tables, as printed.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\nsrgan-bench {} | {} | {} threads | load {} -> {}",
            self.date_utc,
            self.model.description,
            self.threads,
            self.machine.load_average_start.as_deref().unwrap_or("?"),
            self.machine.load_average_end.as_deref().unwrap_or("?"),
        );
        if let Some(c) = self.ceiling.cpu_gflops {
            let per: Vec<String> = self
                .ceiling
                .per_runtime
                .iter()
                .map(|p| format!("{} {} {:.1}", p.kernel, p.runtime, p.gflops))
                .collect();
            let _ = writeln!(
                s,
                "ceiling (CPU): {c:.1} GFLOP/s = best of {}",
                per.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "\n{:<14} {:>5} {:>5} {:>9} {:>9} {:>8} {:>8} {:>7} {:>6} {:>8}",
            "runtime",
            "lr",
            "batch",
            "p50 s",
            "p95 s",
            "MP/s",
            "GFLOP/s",
            "ceil %",
            "calls",
            "first s"
        );
        let mut rows: Vec<Row> = self
            .results
            .iter()
            .map(|c| Row {
                name: c.runtime.clone(),
                lr: c.lr,
                batch: c.batch,
                summary: c.summary,
                mpix: c.out_mpix_per_s,
                gflops: c.gflops,
                share: c.ceiling_share,
                first_s: c.first_call_s,
            })
            .collect();
        if let Some(p) = &self.peers {
            let scale = self.model.scale.unwrap_or(0) as f64;
            for c in &p.model {
                let gflops = self
                    .model
                    .gflop_lr64
                    .map(|g| g * (c.batch * c.lr * c.lr) as f64 / 4096.0 / c.summary.p50_s);
                rows.push(Row {
                    name: format!("{} (py)", short_peer(&c.peer)),
                    lr: c.lr,
                    batch: c.batch,
                    summary: c.summary,
                    mpix: c.batch as f64 * (c.lr as f64 * scale).powi(2) / 1e6 / c.summary.p50_s,
                    gflops,
                    share: gflops.zip(self.ceiling.cpu_gflops).map(|(g, c)| g / c),
                    first_s: c.first_call_s,
                });
            }
        }
        rows.sort_by_key(|r| (r.lr, r.batch));
        for r in rows {
            let _ = writeln!(
                s,
                "{:<14} {:>5} {:>5} {:>9.4} {:>9.4} {:>8.3} {:>8} {:>7} {:>6} {:>8.3}",
                r.name,
                r.lr,
                r.batch,
                r.summary.p50_s,
                r.summary.p95_s,
                r.mpix,
                r.gflops.map_or("-".into(), |g| format!("{g:.1}")),
                r.share.map_or("-".into(), |g| format!("{:.0}%", g * 100.0)),
                r.summary.samples,
                r.first_s
            );
        }
        for rt in self.runtimes.iter().filter(|r| !r.available || !r.timed) {
            let _ = writeln!(
                s,
                "{:<14} {}: {}",
                rt.name,
                if rt.available { "not timed" } else { "absent" },
                rt.reason.as_deref().unwrap_or("")
            );
        }
        if let Some(p) = &self.peers {
            if let Some(g) = &p.sgemm {
                let _ = writeln!(s, "pytorch sgemm {}: {:.1} GFLOP/s", g.size, g.gflops);
            }
            if let Some(tr) = &p.train_step {
                let _ = writeln!(
                    s,
                    "pytorch-eager training step (batch {}, {}x{} crops): p50 {:.3} s",
                    tr.batch, tr.crop, tr.crop, tr.summary.p50_s
                );
            }
            if let Some(d) = p.parity_max_abs_diff_torch_vs_ort {
                let _ = writeln!(s, "pytorch vs onnxruntime-python max |diff|: {d:.2e}");
            }
            if let Some(d) = p.parity_max_abs_diff_ncnn_vs_ort {
                let _ = writeln!(
                    s,
                    "ncnn vs onnxruntime-python max |diff| (clamped to [0, 1]): {d:.2e}"
                );
            }
            for n in &p.notes {
                let _ = writeln!(s, "peers note: {n}");
            }
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(s, "\nratios of p50 times:");
            for r in &self.ratios {
                let _ = writeln!(
                    s,
                    "  {:<36} lr{}/b{}: {:.3}",
                    r.what,
                    r.lr.unwrap_or(0),
                    r.batch.unwrap_or(0),
                    r.value
                );
            }
        }
        if let Some(p) = &self.pipeline {
            let _ = writeln!(
                s,
                "\nend to end, {} photos of {}x{}, {} threads (spawn to exit):",
                p.photos, p.photo_size, p.photo_size, p.threads
            );
            for r in &p.folder {
                let _ = writeln!(
                    s,
                    "  {:<20} {:>8.2} s  {:>7.2} images/s  peak RSS {:>6.0} MiB",
                    r.name,
                    r.wall_s,
                    r.images as f64 / r.wall_s,
                    r.peak_rss_mib
                );
            }
            if let Some(st) = &p.startup {
                let _ = writeln!(
                    s,
                    "  start-up to first image, {0}x{0}, ort: median {1:.3} s (min {2:.3}, {3} runs)",
                    st.size, st.summary.p50_s, st.summary.min_s, st.summary.samples
                );
            }
            if let Some(r) = &p.rss {
                let _ = writeln!(
                    s,
                    "  tiled {0}x{0} (tile {1}): {2:.1} s, peak RSS {3:.0} MiB",
                    r.size,
                    r.tile.map_or("default".into(), |t| t.to_string()),
                    r.run.wall_s,
                    r.run.peak_rss_mib
                );
            }
            for n in &p.notes {
                let _ = writeln!(s, "  note: {n}");
            }
        }
        let _ = writeln!(s, "\ntargets:");
        for t in &self.targets {
            let _ = writeln!(
                s,
                "  [{}] {}: {} (target: {})",
                match t.met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "n/a",
                },
                t.name,
                t.measured,
                t.target
            );
        }
        s
    }
}

/// One line of the main table.
struct Row {
    name: String,
    lr: usize,
    batch: usize,
    summary: super::stats::Summary,
    mpix: f64,
    gflops: Option<f64>,
    share: Option<f64>,
    first_s: f64,
}

fn short_peer(p: &str) -> &str {
    match p {
        "onnxruntime-python" => "ort",
        "pytorch-eager" => "torch",
        "ncnn-cpu" => "ncnn",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
