//! `srgan-eval`: PSNR and SSIM on the Y channel of a model against bicubic upscaling, on a
//! folder of HR images, by the protocol of `srgan_imaging::eval`. The command line and the run
//! live in [`srgan::eval`]; exit codes are `srgan_contract::exit`'s.
use std::process::ExitCode;

use clap::Parser;
use srgan::eval::{run, EvalArgs, EvalConfig};
use srgan_contract::exit;

fn main() -> ExitCode {
    if let Err(e) = srgan_contract::files::exit_on_interrupt("srgan-eval") {
        eprintln!("srgan-eval: warning: no interrupt handler: {e}");
    }
    let outcome = EvalConfig::from_args(EvalArgs::parse()).and_then(|cfg| run(&cfg));
    match outcome {
        Ok(summary) if summary.failed.is_empty() => ExitCode::from(exit::SUCCESS),
        // Each failure was reported with its path as it happened.
        Ok(_) => ExitCode::from(exit::NEGATIVE),
        Err(e) => {
            // The error names the file or folder; `{:#}` prints its causes after it.
            eprintln!("srgan-eval: error: {:#}", anyhow::Error::from(e));
            ExitCode::from(exit::FAILURE)
        }
    }
}
