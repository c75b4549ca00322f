//! `srgan-pad MODEL.onnx -o OUT.onnx`: measure a model's effective receptive-field radius and
//! write a copy that carries it (see [`srgan::pad`]).
use std::process::ExitCode;

use clap::Parser;
use srgan::pad::{run, PadArgs};
use srgan_contract::exit;

fn main() -> ExitCode {
    let args = PadArgs::parse();
    if let Err(e) = srgan_contract::files::exit_on_interrupt("srgan-pad") {
        eprintln!("srgan-pad: warning: no interrupt handler: {e}");
    }
    match run(&args) {
        Ok(p) => {
            let r = &p.radius;
            println!(
                "wrote {}: effective radius {} LR pixels{} at {} levels (worst {:.3} levels at \
                 {} probes; largest radius tried {}, {} model calls)",
                args.output.display(),
                r.radius,
                p.exact
                    .map_or_else(String::new, |e| format!(" (exact radius {e})")),
                p.tolerance,
                r.max_diff * 255.0,
                r.probes,
                r.max_radius,
                r.calls
            );
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("srgan-pad: error: {}", srgan_contract::report::one_line(&e));
            ExitCode::from(exit::FAILURE)
        }
    }
}
