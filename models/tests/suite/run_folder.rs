//! srgan-train's run folder: a fresh run never replaces an existing run without --overwrite,
//! and --resume continues in the run's folder with the run's own config (issue 10, item 1).

use std::path::Path;

use clap::Parser;
use srgan_models::cli::{TrainArgs, TrainJob};
use srgan_models::trainer::files;
use srgan_models::{ModelsError, Phase};

use crate::common::{photo_folders, tiny_config, tmp_dir};

fn args(v: &[&str]) -> TrainArgs {
    TrainArgs::try_parse_from(std::iter::once("srgan-train").chain(v.iter().copied())).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The iterations logged in a run's metrics.jsonl.
fn logged_iterations(out: &Path) -> Vec<u64> {
    std::fs::read_to_string(out.join(files::METRICS))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "train")
        .filter_map(|v| v["iteration"].as_u64())
        .collect()
}

#[test]
fn a_fresh_run_refuses_a_run_folder_and_resume_keeps_the_runs_config() {
    let (train, _) = photo_folders("runfolder");
    let dir = tmp_dir("runfolder");
    let mut cfg = tiny_config(&train, Phase::Pretrain);
    cfg.iterations = 10;
    cfg.checkpoint_every = 5;
    let config = dir.join("tiny.yaml");
    std::fs::write(&config, cfg.to_yaml()).unwrap();
    let out = dir.join("run");

    // A first run.
    let job = TrainJob::from_args(args(&["--config", path(&config), "--out", path(&out)])).unwrap();
    job.trainer(None).unwrap().run().unwrap();
    assert_eq!(logged_iterations(&out), vec![5, 10]);
    let before = std::fs::read(out.join(files::GENERATOR)).unwrap();

    // A second fresh run into it is refused, and changes nothing.
    let e =
        TrainJob::from_args(args(&["--config", path(&config), "--out", path(&out)])).unwrap_err();
    assert!(matches!(e, ModelsError::RunExists { .. }), "{e}");
    assert!(e.to_string().contains("--overwrite"), "{e}");
    assert_eq!(std::fs::read(out.join(files::GENERATOR)).unwrap(), before);

    // --resume continues in the run's folder with its config.yaml (no --config, no --out),
    // and may extend the run.
    let job = TrainJob::from_args(args(&["--resume", path(&out), "--iterations", "15"])).unwrap();
    assert!(
        srgan_contract::files::same_file(&job.out, &out),
        "{:?}",
        job.out
    );
    assert_eq!(job.config.generator, cfg.generator);
    assert_eq!(job.config.data.batch, cfg.data.batch);
    assert_eq!(job.config.iterations, 15);
    job.trainer(None).unwrap().run().unwrap();
    assert_eq!(logged_iterations(&out), vec![5, 10, 15]);

    // An option that contradicts the run is an error naming it.
    for (flag, value) in [
        ("--batch", "3"),
        ("--crop", "32"),
        ("--seed", "9"),
        ("--lr", "0.5"),
    ] {
        let e = TrainJob::from_args(args(&["--resume", path(&out), flag, value])).unwrap_err();
        assert!(
            matches!(e, ModelsError::ResumeConflict { .. }),
            "{flag}: {e}"
        );
        assert!(e.to_string().contains(flag), "{e}");
    }
    // A --config that contradicts it too.
    let mut other = cfg.clone();
    other.data.batch = 2;
    let other_path = dir.join("other.yaml");
    std::fs::write(&other_path, other.to_yaml()).unwrap();
    let e = TrainJob::from_args(args(&[
        "--resume",
        path(&out),
        "--config",
        path(&other_path),
    ]))
    .unwrap_err();
    assert!(matches!(e, ModelsError::ResumeConflict { .. }), "{e}");

    // --overwrite replaces the run: the old metrics and checkpoints do not mix with the new.
    let job = TrainJob::from_args(args(&[
        "--config",
        path(&config),
        "--out",
        path(&out),
        "--overwrite",
        "--iterations",
        "5",
    ]))
    .unwrap();
    job.trainer(None).unwrap().run().unwrap();
    assert_eq!(logged_iterations(&out), vec![5]);

    // A folder with no run is named as such.
    let e = TrainJob::from_args(args(&["--resume", path(&dir)])).unwrap_err();
    let line = srgan_contract::report::one_line(&e);
    assert!(
        line.contains("state.safetensors") && line.contains("no training state"),
        "{line}"
    );

    // A run folder without its config.yaml cannot be resumed without --config.
    std::fs::remove_file(out.join(files::CONFIG)).unwrap();
    let e = TrainJob::from_args(args(&["--resume", path(&out)])).unwrap_err();
    assert!(
        srgan_contract::report::one_line(&e).contains("--config"),
        "{e}"
    );
}
