//! `srgan-compare A B`: how far apart two images are, in quantisation levels; with
//! `--max-diff N` it exits 1 when they differ by more. The comparison lives in
//! [`srgan::compare`]; exit codes are `srgan_contract::exit`'s.
use std::process::ExitCode;

use clap::Parser;
use srgan::compare::{compare, CompareArgs};
use srgan_contract::exit;

fn main() -> ExitCode {
    let args = CompareArgs::parse();
    match compare(&args.a, &args.b) {
        Ok(c) => {
            println!(
                "{} vs {}: max |diff| {} levels, mean {:.4} levels, PSNR {:.2} dB ({}x{}, {}-bit)",
                args.a.display(),
                args.b.display(),
                c.max,
                c.mean,
                c.psnr,
                c.size.0,
                c.size.1,
                c.bits
            );
            if c.within(args.max_diff) {
                ExitCode::from(exit::SUCCESS)
            } else {
                eprintln!(
                    "error: the images differ by more than {} levels",
                    args.max_diff.unwrap_or(0)
                );
                ExitCode::from(exit::NEGATIVE)
            }
        }
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::from(e));
            ExitCode::from(exit::FAILURE)
        }
    }
}
