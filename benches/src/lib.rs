//! The work of `srgan-bench`: arguments ([`BenchArgs`]) become a validated [`BenchConfig`],
//! which [`run`] executes.
//!
//! - [`model`]: the model under test (by default the paper's SRResNet with random weights,
//!   exported to a temporary folder with its checkpoint), its FLOP count and the inputs.
//! - [`measure`]: timing every runtime at every shape, the GPU probe, the ceiling (sgemm and conv).
//! - [`peers`]: the Python peers (`benches/peers/peers.py`) and the ratios against them.
//! - [`pipeline`]: srgan-run end to end as a child process (a folder, start-up, peak RSS).
//! - [`report`]: the JSON report and the printed tables; [`chart`]: the PNG chart.
//!
//! The crate also holds the criterion harness (`latency/`, `cargo bench -p srgan-bench`) and
//! the Python peers (`peers/peers.py`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use srgan_export::{Architecture, GeneratorConfig, RrdbConfig, SrVggConfig};
use srgan_runtimes::RuntimeOptions;

pub mod chart;
pub mod measure;
pub mod model;
pub mod peers;
pub mod pipeline;
pub mod report;
pub mod stats;

/// What `srgan-bench` accepts on its command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "srgan-bench",
    version,
    about = "Time every runtime side by side on one model (and, optionally, the Python peers \
             and the srgan-run pipeline); write bench.json and bench.png",
    after_help = "Figures: p50/p95 = nearest-rank percentiles of the timed calls (after one \
                  warm-up call per shape); MP/s = output megapixels per second at p50; \
                  GFLOP/s = 2 x multiply-accumulates of the architecture / p50; ceiling = the \
                  best of an sgemm and a 3x3 convolution stack measured in this run on this machine. See BENCHMARKS.md."
)]
pub struct BenchArgs {
    /// The model: an .onnx, or weights (.pth, .pt, .safetensors: an srgan checkpoint or
    /// community weights such as RealESRGAN_x4plus.pth, their architecture detected), which
    /// are exported to a temporary .onnx (the PyTorch peer gets their checkpoint). Default: a
    /// random-weight model of --arch, exported to a temporary folder with its checkpoint.
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// The generator checkpoint (.safetensors) of an .onnx --model, for the PyTorch peer.
    #[arg(long, requires = "model")]
    pub checkpoint: Option<PathBuf>,
    /// The ncnn .param of the same network, for the ncnn peer (with --ncnn-bin). Default: when
    /// --model is one of Real-ESRGAN's official files listed in a manifest.json beside it
    /// (tests/fixtures/community/), the original ncnn files it names.
    #[arg(long, requires_all = ["ncnn_bin", "model"])]
    pub ncnn_param: Option<PathBuf>,
    /// The ncnn .bin of --ncnn-param.
    #[arg(long, requires = "ncnn_param")]
    pub ncnn_bin: Option<PathBuf>,
    /// Redraw bench.png (into --out) from a saved bench.json, and time nothing.
    #[arg(long, value_name = "BENCH_JSON")]
    pub redraw: Option<PathBuf>,
    /// Architecture of the default model (random weights, seed 0):
    /// `srresnet:BLOCKS,CHANNELS,SCALE` (or bare `BLOCKS,CHANNELS,SCALE`),
    /// `rrdbnet:BLOCKS,FEATURES,GROWTH,SCALE` (RealESRGAN_x4plus: 23,64,32,4) or
    /// `srvgg:CONVS,FEATURES,SCALE` (SRVGGNetCompact with PReLU; realesr-animevideov3:
    /// 16,64,4).
    #[arg(long, default_value = "16,64,4")]
    pub arch: String,
    /// LR sizes (square inputs), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "64,128,256")]
    pub sizes: Vec<usize>,
    /// Batch sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub batch: Vec<usize>,
    /// Other .onnx files of the same network to time in the same run, after --model, on the
    /// same CPU runtimes and shapes (e.g. its int8 or fp16 export); their rows are named
    /// `RUNTIME:FILE_STEM` and their ratio to --model is printed. Repeatable.
    #[arg(long, value_name = "ONNX")]
    pub also: Vec<std::path::PathBuf>,
    /// Runtimes, comma separated (ort, tract). A GPU is probed through ort too (see --no-gpu).
    #[arg(long, value_delimiter = ',', default_value = "ort,tract")]
    pub runtimes: Vec<String>,
    /// Intra-op threads for every runtime and peer. Default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Timed calls per shape (after one warm-up call).
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// At least this many timed calls per shape, whatever --budget-s says.
    #[arg(long, default_value_t = 3)]
    pub min_iterations: usize,
    /// Seconds per shape after which no further call is started (once --min-iterations
    /// calls are done).
    #[arg(long, default_value_t = 30.0)]
    pub budget_s: f64,
    /// Side of the sgemm that measures the ceiling (0: skip it).
    #[arg(long, default_value_t = 2048)]
    pub sgemm: usize,
    /// Side of the convolution stack that also measures the ceiling (0: skip it): four 3x3
    /// 64->64 convolutions, the model's own kernel, at this size.
    #[arg(long, default_value_t = 256)]
    pub conv_ceiling: usize,
    /// Do not probe ort for a GPU (CUDA, TensorRT).
    #[arg(long)]
    pub no_gpu: bool,
    /// Skip the model timings and the ceiling (e.g. to rerun only --pipeline).
    #[arg(long)]
    pub skip_models: bool,
    /// Output folder for bench.json, bench.png and the peers' JSON.
    #[arg(short, long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Run the Python peers (benches/peers/peers.py) and print the ratios.
    #[arg(long)]
    pub peers: bool,
    /// PyTorch training-step iterations in the peers (0: skip).
    #[arg(long, default_value_t = 5)]
    pub train_iterations: usize,
    /// Run srgan-run end to end: a folder of photos through srgan-run (each runtime) and the
    /// two Python pipelines, start-up to first image, and the peak RSS of a tiled upscale.
    #[arg(long)]
    pub pipeline: bool,
    /// Photos in the pipeline folder.
    #[arg(long, default_value_t = 10)]
    pub photos: usize,
    /// Side of each pipeline photo, in pixels (the LR input).
    #[arg(long, default_value_t = 128)]
    pub photo_size: usize,
    /// Side of the start-up photo (0: skip).
    #[arg(long, default_value_t = 256)]
    pub startup_size: usize,
    /// Side of the photo whose tiled upscale's peak RSS is measured (0: skip).
    #[arg(long, default_value_t = 2048)]
    pub rss_size: usize,
    /// --tile for the peak-RSS run. Default: srgan-run's default.
    #[arg(long)]
    pub rss_tile: Option<usize>,
    /// Python of the peers. Default: $SRGAN_PYTHON, else the project's .venv.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// The peers script. Default: benches/peers/peers.py of this source tree.
    #[arg(long)]
    pub peers_script: Option<PathBuf>,
    /// The srgan-run binary. Default: the one beside this binary.
    #[arg(long)]
    pub srgan_run: Option<PathBuf>,
    /// Note recorded in the JSON (e.g. "machine busy").
    #[arg(long)]
    pub note: Option<String>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The args as given (recorded in the report).
    pub args: BenchArgs,
    /// Architecture of the default model.
    pub arch: Architecture,
    /// Runtimes to time.
    pub runtimes: Vec<String>,
    /// Threads.
    pub threads: usize,
    /// Python.
    pub python: PathBuf,
    /// Peers script.
    pub peers_script: PathBuf,
    /// srgan-run.
    pub srgan_run: PathBuf,
}

/// The source tree (workspace root) this binary was built from: this crate is its `benches/`.
pub fn source_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

impl BenchConfig {
    /// Checks the arguments and resolves the defaults.
    pub fn from_args(args: BenchArgs) -> anyhow::Result<Self> {
        let arch = parse_arch(&args.arch).with_context(|| format!("--arch {}", args.arch))?;
        if args.sizes.is_empty() || args.sizes.contains(&0) {
            bail!("--sizes: expected positive sizes, got {:?}", args.sizes);
        }
        if args.batch.is_empty() || args.batch.contains(&0) {
            bail!(
                "--batch: expected positive batch sizes, got {:?}",
                args.batch
            );
        }
        if args.iterations == 0 {
            bail!("--iterations: expected at least 1");
        }
        if !(args.budget_s.is_finite() && args.budget_s >= 0.0) {
            bail!("--budget-s: expected a non-negative number of seconds");
        }
        let known = srgan_runtimes::available_runtimes();
        let mut runtimes = Vec::new();
        for r in &args.runtimes {
            let r = r.trim().to_ascii_lowercase();
            if !known.contains(&r.as_str()) {
                bail!("--runtimes: unknown runtime `{r}` (compiled in: {known:?})");
            }
            if !runtimes.contains(&r) {
                runtimes.push(r);
            }
        }
        if let Some(m) = &args.model {
            if !m.is_file() {
                bail!("--model {}: no such file", m.display());
            }
        }
        for (flag, path) in [
            ("--checkpoint", &args.checkpoint),
            ("--ncnn-param", &args.ncnn_param),
            ("--ncnn-bin", &args.ncnn_bin),
        ] {
            if let Some(p) = path {
                if !p.is_file() {
                    bail!("{flag} {}: no such file", p.display());
                }
            }
        }
        if args.checkpoint.is_some() && args.model.as_deref().is_some_and(model::is_weights) {
            bail!("--checkpoint: only for an .onnx --model (weights give their own checkpoint)");
        }
        let threads = RuntimeOptions {
            threads: args.threads,
            ..Default::default()
        }
        .resolved_threads();
        let python = args.python.clone().unwrap_or_else(default_python);
        let peers_script = args
            .peers_script
            .clone()
            .unwrap_or_else(|| source_root().join("benches/peers/peers.py"));
        if (args.peers || args.pipeline) && !peers_script.is_file() {
            bail!(
                "{}: the peers script is missing (give --peers-script)",
                peers_script.display()
            );
        }
        let srgan_run = match &args.srgan_run {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .context("cannot find this binary's folder")?
                .with_file_name("srgan-run"),
        };
        if args.pipeline && !srgan_run.is_file() {
            bail!(
                "{}: srgan-run not found (build it: cargo build --release -p srgan --bin \
                 srgan-run, or give --srgan-run)",
                srgan_run.display()
            );
        }
        Ok(Self {
            args,
            arch,
            runtimes,
            threads,
            python,
            peers_script,
            srgan_run,
        })
    }
}

/// `--arch`: `[srresnet:]BLOCKS,CHANNELS,SCALE`, `rrdbnet:BLOCKS,FEATURES,GROWTH,SCALE` or
/// `srvgg:CONVS,FEATURES,SCALE`, validated.
fn parse_arch(s: &str) -> anyhow::Result<Architecture> {
    const FORMS: &str = "[srresnet:]BLOCKS,CHANNELS,SCALE (e.g. 16,64,4), \
                         rrdbnet:BLOCKS,FEATURES,GROWTH,SCALE (e.g. 23,64,32,4) or \
                         srvgg:CONVS,FEATURES,SCALE (e.g. 16,64,4)";
    let (kind, numbers) = match s.split_once(':') {
        Some((k, n)) => (k.trim().to_ascii_lowercase(), n),
        None => ("srresnet".to_string(), s),
    };
    let v: Vec<usize> = numbers
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("expected {FORMS}"))?;
    let arch: Architecture = match (kind.as_str(), &v[..]) {
        ("srresnet", &[blocks, channels, scale]) => {
            GeneratorConfig::new(blocks, channels, scale).into()
        }
        ("rrdbnet" | "rrdb", &[blocks, features, growth, scale]) => {
            RrdbConfig::new(blocks, features, growth, scale).into()
        }
        ("srvgg" | "srvgg_compact", &[convs, features, scale]) => {
            SrVggConfig::new(convs, features, scale).into()
        }
        ("srresnet" | "rrdbnet" | "rrdb" | "srvgg" | "srvgg_compact", _) => {
            bail!("wrong number of values for {kind}: expected {FORMS}")
        }
        _ => bail!("unknown architecture `{kind}`: expected {FORMS}"),
    };
    arch.validate()?;
    Ok(arch)
}

/// `$SRGAN_PYTHON`, else the one `scripts/setup.sh` recorded at build time, else the
/// project's `.venv/bin/python`, else `python3`.
fn default_python() -> PathBuf {
    if let Some(p) = std::env::var_os("SRGAN_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = option_env!("SRGAN_PYTHON").map(PathBuf::from) {
        if p.is_file() {
            return p;
        }
    }
    let venv = source_root().join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Draws `bench.png` into `out` from the report saved in `saved` (a `bench.json`); returns
/// the chart's path.
pub fn redraw(saved: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(saved)
        .with_context(|| format!("cannot read {}", saved.display()))?;
    let rep: report::Report = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a srgan-bench report", saved.display()))?;
    let png = out.join("bench.png");
    let bytes = chart::draw(&rep).context("cannot draw the chart")?;
    srgan_export::atomic_write(&png, &bytes)
        .with_context(|| format!("cannot write {}", png.display()))?;
    Ok(png)
}

/// Runs the whole bench (or, with `--redraw`, only draws the chart of a saved report).
pub fn run(cfg: &BenchConfig) -> anyhow::Result<()> {
    let out = &cfg.args.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    if let Some(saved) = &cfg.args.redraw {
        let png = redraw(saved, out)?;
        println!("wrote {}", png.display());
        return Ok(());
    }
    let mut rep = report::Report::start(cfg);
    let model = model::Prepared::new(cfg).context("cannot prepare the model")?;
    rep.model = model.describe();
    eprintln!(
        "srgan-bench: model {} ({}), {} threads, load average {}",
        model.onnx.display(),
        rep.model.description,
        cfg.threads,
        report::load_average().unwrap_or_default()
    );

    if !cfg.args.skip_models {
        let runs = measure::run_all(cfg, &model).context("timing the runtimes")?;
        rep.ceiling = runs.ceiling;
        rep.runtimes = runs.runtimes;
        rep.results = runs.results;
    }

    if cfg.args.peers {
        match peers::run_model(cfg, &model) {
            Ok(p) => rep.peers = Some(p),
            Err(e) => rep.errors.push(format!("peers: {e:#}")),
        }
    }
    if cfg.args.pipeline {
        match pipeline::run_all(cfg, &model) {
            Ok(p) => rep.pipeline = Some(p),
            Err(e) => rep.errors.push(format!("pipeline: {e:#}")),
        }
    }
    rep.finish();
    rep.compute_ratios();

    let json = out.join("bench.json");
    write_json(&json, &rep)?;
    let png = out.join("bench.png");
    let bytes = chart::draw(&rep).context("cannot draw the chart")?;
    srgan_export::atomic_write(&png, &bytes)
        .with_context(|| format!("cannot write {}", png.display()))?;
    print!("{}", rep.render_text());
    println!("wrote {} and {}", json.display(), png.display());
    for e in &rep.errors {
        eprintln!("srgan-bench: {e}");
    }
    if rep.errors.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} part(s) of the bench failed (see above)",
            rep.errors.len()
        )
    }
}

fn write_json(path: &Path, rep: &report::Report) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(rep).context("cannot serialise the report")?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_parsing() {
        let paper = Architecture::from(GeneratorConfig::paper());
        assert_eq!(parse_arch("16,64,4").unwrap(), paper);
        assert_eq!(parse_arch("srresnet:16,64,4").unwrap(), paper);
        assert_eq!(parse_arch("SRResNet: 16, 64, 4").unwrap(), paper);
        assert_eq!(
            parse_arch("rrdbnet:23,64,32,4").unwrap(),
            RrdbConfig::x4plus().into()
        );
        assert_eq!(
            parse_arch("srvgg:16,64,4").unwrap(),
            SrVggConfig::new(16, 64, 4).into()
        );
        assert!(parse_arch("16,64").is_err());
        assert!(parse_arch("16,64,3").is_err());
        assert!(parse_arch("a,b,c").is_err());
        assert!(parse_arch("rrdbnet:23,64,4").is_err());
        assert!(parse_arch("rrdbnet:23,64,32,3").is_err());
        assert!(parse_arch("srvgg:16,64,8").is_err());
        let e = format!("{:#}", parse_arch("edsr:16,64,4").unwrap_err());
        assert!(e.contains("unknown architecture `edsr`"), "{e}");
    }

    /// The committed report reads back (every field of a report is deserialisable) and
    /// redraws into a PNG of the chart's size; a file that is not a report is an error
    /// naming it.
    #[test]
    fn redraw_reads_a_saved_report() {
        let dir = tempfile::tempdir().unwrap();
        let saved = source_root().join("benches/results/bench.json");
        let png = redraw(&saved, dir.path()).unwrap();
        let img = image::open(&png).unwrap();
        assert_eq!((img.width(), img.height()), (chart::WIDTH, chart::HEIGHT));
        let text = std::fs::read_to_string(&saved).unwrap();
        let rep: report::Report = serde_json::from_str(&text).unwrap();
        assert!(!rep.results.is_empty() && rep.peers.is_some(), "{saved:?}");

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"tool\": 3}").unwrap();
        let e = format!("{:#}", redraw(&bad, dir.path()).unwrap_err());
        assert!(
            e.contains("bad.json") && e.contains("not a srgan-bench report"),
            "{e}"
        );
    }
}
