//! `srgan-bench`: every runtime side by side in one process: p50/p95 latency, output
//! megapixels per second, achieved GFLOP/s and its share of an sgemm ceiling measured in the
//! same run; optionally the Python peers (`--peers`) and the end-to-end pipeline figures
//! (`--pipeline`). Writes `bench.json` and `bench.png`. See `srgan-bench --help` and
//! BENCHMARKS.md.
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use srgan_bench as bench;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv
        .get(1)
        .is_some_and(|a| a == bench::pipeline::RUSAGE_HELPER)
    {
        return bench::pipeline::rusage_helper(&argv[2..]);
    }
    // As srgan-run and srgan-train do (`srgan_runtimes::keep_freed_memory`).
    srgan_runtimes::keep_freed_memory();
    let args = bench::BenchArgs::parse();
    let outcome = bench::BenchConfig::from_args(args)
        .context("invalid arguments")
        .and_then(|cfg| bench::run(&cfg));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srgan-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
