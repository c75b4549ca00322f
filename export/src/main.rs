//! `srgan-export`: a generator checkpoint (or random weights) to an ONNX model.
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
use srgan_export::cli::{ExportArgs, ExportJob};

fn main() -> ExitCode {
    let args = ExportArgs::parse();
    match ExportJob::from_args(args).and_then(ExportJob::run) {
        Ok(done) => {
            println!("{done}");
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// The error chain on one line, `a: b: c`, leaving out a cause whose text the message before
/// it already contains (library errors often print their source themselves).
fn one_line(e: &dyn std::error::Error) -> String {
    let mut msg = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg.replace('\n', " ")
}
