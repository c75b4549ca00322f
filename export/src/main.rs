//! `srgan-export`: a generator checkpoint, community weights (`.pth`, `.safetensors`: RRDBNet,
//! SRVGGNetCompact) or random weights to an ONNX model.
//!
//! ```text
//! srgan-export CHECKPOINT -o model.onnx [--opset 17] [--overwrite]
//! srgan-export --random-init [--blocks 16] [--channels 64] [--scale 4] [--seed 0] \
//!              -o model.onnx [--save-checkpoint ck.safetensors] [--overwrite]
//! ```
//!
//! The arguments and the job live in [`srgan_export::cli`]; exit codes are
//! `srgan_contract::exit`'s.

use std::process::ExitCode;

use clap::Parser;
use srgan_contract::exit;
use srgan_contract::report::one_line;
use srgan_export::cli::{ExportArgs, ExportJob};

fn main() -> ExitCode {
    let args = ExportArgs::parse();
    // Ctrl-C or SIGTERM mid-write: the unfinished model is removed, and the exit is 130.
    if let Err(e) = srgan_contract::files::exit_on_interrupt("srgan-export") {
        eprintln!("srgan-export: warning: no interrupt handler: {e}");
    }
    match ExportJob::from_args(args).and_then(ExportJob::run) {
        Ok(done) => {
            println!("{done}");
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("srgan-export: error: {}", one_line(&e));
            ExitCode::from(exit::FAILURE)
        }
    }
}
