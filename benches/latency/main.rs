//! Latency benchmarks (criterion, one harness): every runtime at LR 64, 128 and 256, batch 1
//! and 4 ([`runtimes`]); end to end on a 512x512 photo ([`pipeline`]); one tch training step
//! (`training`, feature `tch`).
//!
//! Guards against: a slower model call in any runtime adapter (copies, lost thread settings,
//! a plan rebuilt per call, symbolic shapes left in tract's plan), a slower image pipeline
//! around the model, and a slower tch training step.
//!
//! Names: `ort_cpu/lr64/b1`, `tract_cpu/lr128/b4`, `tch_cpu/lr256/b1`, `e2e/ort_cpu/photo512`,
//! `tch_cpu_train/b16/crop96`. The model is the paper's SRResNet with random weights, exported
//! at start-up. 2 cores: each cell takes 10 samples of one call (a 256x256 batch of 4 costs
//! ~1.2 TFLOP). Environment:
//!
//! - `SRGAN_BENCH_QUICK=1`: LR 64 batch 1 and a 128x128 photo only.
//! - `SRGAN_BENCH_ARCH=BLOCKS,CHANNELS,SCALE` (default `16,64,4`): e.g. `2,16,4` to smoke-test.
//! - `SRGAN_BENCH_THREADS=N` (default: all cores).
//! - `SRGAN_BENCH_MODEL=path.onnx`: time another model (its checkpoint is not known: no tch).
//!
//! `cargo bench -p srgan-bench --bench latency -- ort_cpu/lr64` selects by name; `-- --test`
//! runs each once.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use srgan_export::{Checkpoint, ExportOptions, GeneratorConfig};
use srgan_runtimes::RuntimeOptions;

mod pipeline;
mod runtimes;
#[cfg(feature = "tch")]
mod training;

/// What every bench of the harness shares.
pub struct Setup {
    /// The exported model.
    pub onnx: PathBuf,
    /// Its checkpoint (tch), when the model was made here.
    #[cfg_attr(not(feature = "tch"), allow(dead_code))]
    pub checkpoint: Option<PathBuf>,
    /// Its architecture, when the model was made here.
    #[cfg_attr(not(feature = "tch"), allow(dead_code))]
    pub arch: Option<GeneratorConfig>,
    /// LR sides.
    pub sizes: Vec<usize>,
    /// Batches.
    pub batches: Vec<usize>,
    /// Side of the end-to-end photo.
    pub photo: u32,
    /// Quick subset.
    pub quick: bool,
    /// Runtime options (threads).
    pub options: RuntimeOptions,
    /// Scratch folder, removed on drop.
    pub dir: tempfile::TempDir,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn setup() -> Setup {
    let quick = env_flag("SRGAN_BENCH_QUICK");
    let dir = tempfile::Builder::new()
        .prefix("srgan-latency-")
        .tempdir()
        .expect("create the bench's temporary folder");
    let threads = std::env::var("SRGAN_BENCH_THREADS")
        .ok()
        .map(|v| v.parse::<usize>().expect("SRGAN_BENCH_THREADS: a number"));
    let (onnx, checkpoint, arch) = match std::env::var_os("SRGAN_BENCH_MODEL") {
        Some(m) => (PathBuf::from(m), None, None),
        None => {
            let arch = std::env::var("SRGAN_BENCH_ARCH").unwrap_or_else(|_| "16,64,4".into());
            let v: Vec<usize> = arch
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse()
                        .expect("SRGAN_BENCH_ARCH: BLOCKS,CHANNELS,SCALE")
                })
                .collect();
            assert_eq!(v.len(), 3, "SRGAN_BENCH_ARCH: BLOCKS,CHANNELS,SCALE");
            let cfg = GeneratorConfig::new(v[0], v[1], v[2]);
            let ck = Checkpoint::random_init(&cfg, 0).expect("a valid SRGAN_BENCH_ARCH");
            let onnx = dir.path().join("generator.onnx");
            let checkpoint = dir.path().join("generator.safetensors");
            srgan_export::write_onnx(&ck, &onnx, &ExportOptions::default()).expect("export");
            ck.save(&checkpoint).expect("save the checkpoint");
            (onnx, Some(checkpoint), Some(cfg))
        }
    };
    Setup {
        onnx,
        checkpoint,
        arch,
        sizes: if quick { vec![64] } else { vec![64, 128, 256] },
        batches: if quick { vec![1] } else { vec![1, 4] },
        photo: if quick { 128 } else { 512 },
        quick,
        options: RuntimeOptions {
            threads,
            ..Default::default()
        },
        dir,
    }
}

/// Settings for calls that take tenths of seconds to seconds on 2 cores.
pub fn slow_group<M: criterion::measurement::Measurement>(
    g: &mut BenchmarkGroup<'_, M>,
    quick: bool,
) {
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(if quick { 3 } else { 10 }));
}

fn main() {
    // As srgan-run and srgan-train do (`srgan_runtimes::keep_freed_memory`).
    srgan_runtimes::keep_freed_memory();
    let setup = setup();
    let mut c = Criterion::default().configure_from_args();
    runtimes::bench(&mut c, &setup);
    pipeline::bench(&mut c, &setup);
    #[cfg(feature = "tch")]
    training::bench(&mut c, &setup);
    c.final_summary();
}
