//! `srgan-figure`: a side-by-side comparison picture for the model card (bicubic | each model
//! | ground truth, from the LR of the evaluation protocol). The command line and the drawing
//! live in [`srgan::figure`]; exit codes are `srgan_contract::exit`'s.
//!
//! ```sh
//! srgan-figure --hr data/heldout/chelsea.png --crop 180,60,128,96 --zoom 2 \
//!   -m models/x4/srresnet_x4.onnx -m models/x4/srgan_x4.onnx -o figure.png
//! ```
use std::process::ExitCode;

use clap::Parser;
use srgan::figure::{run, FigureArgs};
use srgan_contract::exit;

fn main() -> ExitCode {
    if let Err(e) = srgan_contract::files::exit_on_interrupt("srgan-figure") {
        eprintln!("srgan-figure: warning: no interrupt handler: {e}");
    }
    match run(&FigureArgs::parse()) {
        Ok(figure) => {
            println!("{figure}");
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("srgan-figure: error: {:#}", anyhow::Error::from(e));
            ExitCode::from(exit::FAILURE)
        }
    }
}
