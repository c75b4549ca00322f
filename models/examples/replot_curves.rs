//! Redraws a run's training curves from its `metrics.jsonl`, without training:
//!
//! ```text
//! cargo run -p srgan-models --example replot_curves -- METRICS.jsonl OUT.png
//! ```
//!
//! The shipped `models/x4/*.curves.png` are drawn this way from `models/x4/*.metrics.jsonl`.
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [metrics, out] = args.as_slice() else {
        eprintln!("usage: replot_curves METRICS.jsonl OUT.png");
        return ExitCode::from(srgan_contract::exit::FAILURE);
    };
    if !metrics.is_file() {
        eprintln!("replot_curves: error: {}: no such file", metrics.display());
        return ExitCode::from(srgan_contract::exit::FAILURE);
    }
    match srgan_models::plot::plot_metrics(metrics, out) {
        Ok(()) => {
            println!("wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "replot_curves: error: {}",
                srgan_contract::report::one_line(&e)
            );
            ExitCode::from(srgan_contract::exit::FAILURE)
        }
    }
}
