//! `srgan-run`: upscale an image or a folder of images with an exported SRGAN model on ONNX
//! Runtime or tract. See `srgan-run --help`; the work is done by [`srgan::run`].
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use srgan::run::{run, RunArgs, RunConfig};
use srgan_contract::exit;

fn main() -> ExitCode {
    // Each image reuses the last one's memory (tract 15-20% faster; see the function).
    srgan_runtimes::keep_freed_memory();
    let args = RunArgs::parse();
    // Ctrl-C or SIGTERM: the outputs being written are removed (finished ones stay), exit 130.
    if let Err(e) = srgan_contract::files::exit_on_interrupt("srgan-run") {
        eprintln!("srgan-run: warning: no interrupt handler: {e}");
    }
    let outcome = RunConfig::from_args(args)
        .context("invalid arguments")
        .and_then(|cfg| run(&cfg).context("cannot run"));
    match outcome {
        Ok(summary) if summary.failed.is_empty() => ExitCode::from(exit::SUCCESS),
        // Each failure was reported with its path as it happened.
        Ok(_) => ExitCode::from(exit::NEGATIVE),
        Err(e) => {
            // The root cause names the file; the context says which step.
            eprintln!("srgan-run: error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
