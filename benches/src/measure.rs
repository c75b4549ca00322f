//! Timing the runtimes: every runtime at every shape, a GPU probed through ort, and the
//! ceiling: the best rate of two kernels run through each CPU runtime in this same process.
//!
//! - The sgemm is an ONNX graph of one `MatMul` (`[1, 3, n, n] x [n, n]`, the right operand a
//!   constant that both runtimes pre-pack).
//! - The conv stack is the model's own kernel at its best: `[1, 3, s, s]` -> 1x1 conv to 64
//!   channels -> four 3x3 64->64 convs -> 1x1 conv to 3 channels. ONNX Runtime runs 3x3
//!   convs as direct blocked kernels, faster than its sgemm, so an sgemm alone understates
//!   what the machine can do for this model.
//!
//! Both fit the `Upscaler` contract as x1 "models", so that they run through exactly the
//! adapters under test, with the same threads.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use srgan_export::checkpoint::Tensor;
use srgan_export::ops::GraphBuilder;
use srgan_export::proto::{
    Dimension, GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, ValueInfoProto,
};
use srgan_runtimes::{Device, RuntimeOptions, Upscaler};

use super::model::{pattern, Prepared, PHI};
use super::stats::{summarise, time_calls, Budget, Summary};
use super::BenchConfig;

/// One runtime on one device, and whether it could be had.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeStatus {
    /// Name as the adapter gives it, e.g. `ort-cpu`, or `ort-cuda` for a probe.
    pub name: String,
    /// The device asked for.
    pub device: String,
    /// Whether it opened.
    pub available: bool,
    /// Whether it was timed.
    pub timed: bool,
    /// Why not, when it was not available (the runtime's own error text) or not timed.
    pub reason: Option<String>,
    /// Seconds to open the model (load, optimise), when it opened.
    pub open_s: Option<f64>,
}

/// One runtime at one input shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// Runtime name, e.g. `ort-cpu`.
    pub runtime: String,
    /// LR side.
    pub lr: usize,
    /// Batch.
    pub batch: usize,
    /// The warm-up call (plans, first-touch allocations), seconds.
    pub first_call_s: f64,
    /// The timed calls.
    #[serde(flatten)]
    pub summary: Summary,
    /// Output megapixels per second at p50.
    pub out_mpix_per_s: f64,
    /// GFLOP of one call (from the architecture), when known.
    pub gflop: Option<f64>,
    /// Achieved GFLOP/s at p50.
    pub gflops: Option<f64>,
    /// `gflops` / the ceiling of this runtime's device.
    pub ceiling_share: Option<f64>,
}

/// One ceiling-kernel measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelRate {
    /// Runtime name.
    pub runtime: String,
    /// The kernel: `sgemm` or `conv3x3`.
    pub kernel: String,
    /// GFLOP of one call.
    pub gflop: f64,
    /// The timed calls.
    #[serde(flatten)]
    pub summary: Summary,
    /// GFLOP/s at p50.
    pub gflops: f64,
}

/// The ceiling: the best rate of the ceiling kernels measured in this run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ceiling {
    /// What was measured.
    pub kind: String,
    /// GFLOP of one call.
    pub gflop: f64,
    /// Each CPU runtime's rate.
    pub per_runtime: Vec<KernelRate>,
    /// The best CPU rate: the ceiling the CPU runtimes' shares refer to.
    pub cpu_gflops: Option<f64>,
}

/// Everything [`run_all`] measured.
#[derive(Debug, Default)]
pub struct Runs {
    /// The ceiling.
    pub ceiling: Ceiling,
    /// Runtimes and probes.
    pub runtimes: Vec<RuntimeStatus>,
    /// Cells.
    pub results: Vec<Cell>,
}

fn budget(cfg: &BenchConfig) -> Budget {
    Budget {
        iterations: cfg.args.iterations,
        min_iterations: cfg.args.min_iterations.min(cfg.args.iterations),
        seconds: cfg.args.budget_s,
    }
}

fn options(cfg: &BenchConfig, device: Device) -> RuntimeOptions {
    RuntimeOptions {
        device,
        threads: Some(cfg.threads),
        ..Default::default()
    }
}

/// Probes the GPU, measures the ceiling, then times every runtime at every shape.
pub fn run_all(cfg: &BenchConfig, model: &Prepared) -> anyhow::Result<Runs> {
    let mut runs = Runs::default();
    let mut timed: Vec<(String, Device)> = cfg
        .runtimes
        .iter()
        .map(|r| (r.clone(), Device::Cpu))
        .collect();
    if !cfg.args.no_gpu && srgan_runtimes::available_runtimes().contains(&"ort") {
        for device in [Device::Cuda(0), Device::TensorRt(0)] {
            let is_trt = matches!(device, Device::TensorRt(_));
            let t = Instant::now();
            match srgan_runtimes::open("ort", &model.onnx, &options(cfg, device.clone())) {
                Ok(u) => {
                    let open_s = t.elapsed().as_secs_f64();
                    runs.runtimes.push(RuntimeStatus {
                        name: u.name().to_string(),
                        device: device.to_string(),
                        available: true,
                        timed: !is_trt,
                        reason: is_trt.then(|| {
                            "not timed: TensorRT builds an engine per shape (minutes); time it \
                             with srgan-run --device tensorrt --trt-cache"
                                .to_string()
                        }),
                        open_s: Some(open_s),
                    });
                    if !is_trt {
                        timed.push(("ort".into(), device));
                    }
                }
                Err(e) => runs.runtimes.push(RuntimeStatus {
                    name: format!("ort-{}", if is_trt { "tensorrt" } else { "cuda" }),
                    device: device.to_string(),
                    available: false,
                    timed: false,
                    reason: Some(srgan_contract::report::one_line(&e)),
                    open_s: None,
                }),
            }
        }
    }

    if cfg.args.sgemm > 0 || cfg.args.conv_ceiling > 0 {
        runs.ceiling = ceiling(cfg, model.tmp.path()).context("measuring the ceiling")?;
    }

    for (runtime, device) in &timed {
        let t = Instant::now();
        let opened = srgan_runtimes::open(runtime, &model.onnx, &options(cfg, device.clone()));
        let mut u = match opened {
            Ok(u) => u,
            Err(e) => {
                runs.runtimes.push(RuntimeStatus {
                    name: format!("{runtime}-{device}"),
                    device: device.to_string(),
                    available: false,
                    timed: false,
                    reason: Some(srgan_contract::report::one_line(&e)),
                    open_s: None,
                });
                continue;
            }
        };
        let open_s = t.elapsed().as_secs_f64();
        if *device == Device::Cpu {
            runs.runtimes.push(RuntimeStatus {
                name: u.name().to_string(),
                device: device.to_string(),
                available: true,
                timed: true,
                reason: None,
                open_s: Some(open_s),
            });
        }
        for &lr in &cfg.args.sizes {
            for &batch in &cfg.args.batch {
                let cell = time_cell(cfg, model, u.as_mut(), lr, batch)
                    .with_context(|| format!("{} at lr {lr}, batch {batch}", u.name()))?;
                let ceiling = (*device == Device::Cpu)
                    .then_some(runs.ceiling.cpu_gflops)
                    .flatten();
                let cell = Cell {
                    ceiling_share: cell.gflops.zip(ceiling).map(|(g, c)| g / c),
                    ..cell
                };
                eprintln!(
                    "  {:<10} lr{lr}/b{batch}: p50 {:.4} s, p95 {:.4} s ({} calls){}",
                    cell.runtime,
                    cell.summary.p50_s,
                    cell.summary.p95_s,
                    cell.summary.samples,
                    cell.gflops
                        .map(|g| format!(", {g:.1} GFLOP/s"))
                        .unwrap_or_default()
                );
                runs.results.push(cell);
            }
        }
    }
    for other in &cfg.args.also {
        let stem = other
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for runtime in &cfg.runtimes {
            let mut u = srgan_runtimes::open(runtime, other, &options(cfg, Device::Cpu))
                .with_context(|| format!("--also {}", other.display()))?;
            let base_name = u.name().to_string();
            for &lr in &cfg.args.sizes {
                for &batch in &cfg.args.batch {
                    let cell = time_cell(cfg, model, u.as_mut(), lr, batch).with_context(|| {
                        format!("{} on {base_name} at lr {lr}", other.display())
                    })?;
                    let base = runs
                        .results
                        .iter()
                        .find(|c| c.runtime == base_name && c.lr == lr && c.batch == batch)
                        .map(|c| c.summary.p50_s);
                    eprintln!(
                        "  {:<10} lr{lr}/b{batch}: p50 {:.4} s, p95 {:.4} s ({} calls){}",
                        format!("{base_name}:{stem}"),
                        cell.summary.p50_s,
                        cell.summary.p95_s,
                        cell.summary.samples,
                        base.map(|b| format!(
                            ", {:.2}x {base_name} on the main model",
                            b / cell.summary.p50_s
                        ))
                        .unwrap_or_default()
                    );
                    runs.results.push(Cell {
                        runtime: format!("{base_name}:{stem}"),
                        ..cell
                    });
                }
            }
        }
    }
    Ok(runs)
}

fn time_cell(
    cfg: &BenchConfig,
    model: &Prepared,
    u: &mut dyn Upscaler,
    lr: usize,
    batch: usize,
) -> anyhow::Result<Cell> {
    let shape = [batch, 3, lr, lr];
    let x = pattern(shape);
    let t = Instant::now();
    u.warm_up(shape)?;
    let first_call_s = t.elapsed().as_secs_f64();
    let samples = time_calls(budget(cfg), || {
        u.upscale(x.view()).map(|y| {
            std::hint::black_box(&y);
        })
    })?;
    let summary = summarise(&samples);
    let s = u.scale() as f64;
    let out_pixels = batch as f64 * (lr as f64 * s).powi(2);
    let gflop = model.flops(batch, lr, lr).map(|f| f / 1e9);
    Ok(Cell {
        runtime: u.name().to_string(),
        lr,
        batch,
        first_call_s,
        summary,
        out_mpix_per_s: out_pixels / 1e6 / summary.p50_s,
        gflops: gflop.map(|g| g / summary.p50_s),
        gflop,
        ceiling_share: None,
    })
}

/// `n` deterministic values in [-scale, scale), the `offset`-th onwards of one sequence.
fn weights(n: usize, offset: usize, scale: f64) -> Vec<f32> {
    (0..n)
        .map(|i| ((((i + offset) as f64 * PHI).fract() * 2.0 - 1.0) * scale) as f32)
        .collect()
}

/// Writes `g` as an x1 "model" from input `a` to `output`, both `[1, 3, side, side]`.
fn write_x1_model(
    path: &Path,
    name: &str,
    g: GraphBuilder,
    output: &str,
    side: usize,
) -> anyhow::Result<()> {
    let dims = || {
        vec![
            Dimension::fixed(1),
            Dimension::fixed(3),
            Dimension::fixed(side as i64),
            Dimension::fixed(side as i64),
        ]
    };
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        producer_name: "srgan-bench".into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: name.into(),
            initializer: g.initializers,
            input: vec![ValueInfoProto::f32_tensor("a", dims())],
            output: vec![ValueInfoProto::f32_tensor(output, dims())],
            ..Default::default()
        }),
        metadata_props: vec![StringStringEntryProto {
            key: srgan_contract::metadata::keys::SCALE.into(),
            value: "1".into(),
        }],
        ..Default::default()
    };
    srgan_export::write_model(&model, path)?;
    Ok(())
}

/// Writes the sgemm "model": `sgemm = a x b`, `a: [1, 3, n, n]`, `b: [n, n]` constant.
pub fn write_sgemm_model(path: &Path, n: usize) -> anyhow::Result<()> {
    let mut g = GraphBuilder::new();
    let data = weights(n * n, 0, 1.0 / (n as f64).sqrt());
    let b = g.initializer("b", &Tensor::new(vec![n, n], data), "right operand");
    let y = g.node("sgemm", "MatMul", &["a", &b], vec![]);
    write_x1_model(path, "sgemm", g, &y, n)
}

/// Writes the conv-stack "model" (see the module docs), `s` x `s`, x1. Returns the GFLOP of
/// one call.
pub fn write_conv_model(path: &Path, s: usize) -> anyhow::Result<f64> {
    const C: usize = 64;
    const DEPTH: usize = 4;
    let mut g = GraphBuilder::new();
    let mut offset = 0usize;
    let mut conv = |g: &mut GraphBuilder, name: &str, x: &str, o: usize, i: usize, k: usize| {
        let n = o * i * k * k;
        let data = weights(n, offset, 1.0 / ((i * k * k) as f64).sqrt());
        offset += n;
        let w = g.initializer(
            &format!("{name}.w"),
            &Tensor::new(vec![o, i, k, k], data),
            "",
        );
        let b = g.initializer(
            &format!("{name}.b"),
            &Tensor::new(vec![o], vec![0.0; o]),
            "",
        );
        srgan_export::ops::conv(g, name, x, &w, &b, k)
    };
    let mut y = conv(&mut g, "in", "a", C, 3, 1);
    for d in 0..DEPTH {
        y = conv(&mut g, &format!("conv{d}"), &y, C, C, 3);
    }
    let y = conv(&mut g, "out", &y, 3, C, 1);
    write_x1_model(path, "conv3x3", g, &y, s)?;
    let macs_per_pixel = 3 * C + DEPTH * C * C * 9 + C * 3;
    Ok(2.0 * (s * s * macs_per_pixel) as f64 / 1e9)
}

/// Runs the ceiling kernels through every CPU runtime under test.
fn ceiling(cfg: &BenchConfig, dir: &Path) -> anyhow::Result<Ceiling> {
    let mut kernels = Vec::new();
    let mut kinds = Vec::new();
    let n = cfg.args.sgemm;
    if n > 0 {
        let path = dir.join(format!("sgemm{n}.onnx"));
        write_sgemm_model(&path, n)?;
        let gflop = 2.0 * 3.0 * (n as f64).powi(3) / 1e9;
        kinds.push(format!("sgemm [3*{n}, {n}] x [{n}, {n}]"));
        kernels.push(("sgemm", path, [1, 3, n, n], gflop));
    }
    let s = cfg.args.conv_ceiling;
    if s > 0 {
        let path = dir.join(format!("conv3x3_{s}.onnx"));
        let gflop = write_conv_model(&path, s)?;
        kinds.push(format!("four 3x3 64->64 convs at {s}x{s}"));
        kernels.push(("conv3x3", path, [1, 3, s, s], gflop));
    }
    let mut out = Ceiling {
        kind: format!(
            "best of {} through each runtime, {} threads",
            kinds.join(" and "),
            cfg.threads
        ),
        gflop: kernels.first().map_or(0.0, |k| k.3),
        ..Default::default()
    };
    for (kernel, path, shape, gflop) in &kernels {
        let x = pattern(*shape);
        for runtime in &cfg.runtimes {
            let mut u = srgan_runtimes::open(runtime, path, &options(cfg, Device::Cpu))
                .with_context(|| format!("{runtime}: opening the {kernel} model"))?;
            u.warm_up(*shape)?;
            let samples = time_calls(budget(cfg), || {
                u.upscale(x.view()).map(|y| {
                    std::hint::black_box(&y);
                })
            })?;
            let summary = summarise(&samples);
            let gflops = gflop / summary.p50_s;
            eprintln!("  {:<10} {kernel}: {gflops:.1} GFLOP/s", u.name());
            out.per_runtime.push(KernelRate {
                runtime: u.name().to_string(),
                kernel: kernel.to_string(),
                gflop: *gflop,
                summary,
                gflops,
            });
        }
    }
    out.cpu_gflops = out
        .per_runtime
        .iter()
        .map(|s| s.gflops)
        .max_by(f64::total_cmp);
    Ok(out)
}
