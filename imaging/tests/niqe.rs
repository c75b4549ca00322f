//! NIQE parity with BasicSR 1.4.2: `srgan_imaging::niqe::niqe` against BasicSR's own
//! `calculate_niqe` (run by scripts/niqe_basicsr.py from third_party/basicsr/, which
//! scripts/setup.sh fetches) on the held-out photos and on noisy, blurred and JPEG-q30 versions
//! of them. Every image must agree within 0.05. Nothing is skipped: without the parameters
//! (`SRGAN_NIQE_PARAMS`) or the project's Python the test fails and says to run scripts/setup.sh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;
use srgan_imaging::degrade::Fixed;
use srgan_imaging::niqe::{niqe, NiqeError, NiqeParams};
use srgan_testkit::{python, TempDir};

const TOLERANCE: f64 = 0.05;
const SETUP: &str = "run scripts/setup.sh (it fetches BasicSR 1.4.2's NIQE into \
                     third_party/basicsr/ and writes SRGAN_NIQE_PARAMS into .cargo/config.toml)";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// BasicSR's `niqe_pris_params.npz`: `$SRGAN_NIQE_PARAMS` at run time, else at build time.
fn params_path() -> PathBuf {
    let p = std::env::var_os("SRGAN_NIQE_PARAMS")
        .map(PathBuf::from)
        .or_else(|| option_env!("SRGAN_NIQE_PARAMS").map(PathBuf::from))
        .unwrap_or_else(|| panic!("SRGAN_NIQE_PARAMS is not set: {SETUP}"));
    assert!(
        p.is_file(),
        "SRGAN_NIQE_PARAMS={} does not exist: {SETUP}",
        p.display()
    );
    p
}

/// The held-out photos: data/heldout/*.png when scripts/make_data.py made them, else the same
/// two photos (chelsea, coffee) from scikit-image's data folder, which make_data.py copies.
fn heldout() -> Vec<PathBuf> {
    let dir = repo().join("data/heldout");
    let mut v: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect(),
        Err(_) => {
            let d = python::skimage_data();
            vec![d.join("chelsea.png"), d.join("coffee.png")]
        }
    };
    v.sort();
    assert!(!v.is_empty(), "no held-out photo in {}", dir.display());
    v
}

fn noisy(img: &RgbImage, sigma: f64, seed: u64) -> RgbImage {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    Fixed::Noise(sigma).apply(img, &mut rng)
}

/// JPEG at `quality`, decoded again (both sides then read the same PNG: this compares NIQE,
/// not JPEG decoders): the evaluation's `jpeg:Q`.
fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    Fixed::Jpeg(quality).apply(img, &mut rng)
}

#[test]
fn niqe_matches_basicsr_on_photos_and_their_degradations() {
    let params = NiqeParams::from_npz(params_path()).expect("BasicSR's niqe_pris_params.npz");
    let tmp = TempDir::new("niqe");
    let mut images: Vec<PathBuf> = Vec::new();
    for (k, photo) in heldout().iter().enumerate() {
        let img = image::open(photo)
            .unwrap_or_else(|e| panic!("{}: {e}", photo.display()))
            .to_rgb8();
        let stem = photo.file_stem().unwrap().to_string_lossy().into_owned();
        images.push(photo.clone());
        let variants = [
            ("noise25", noisy(&img, 25.0, 0x5EED + k as u64)),
            ("blur2", image::imageops::blur(&img, 2.0)),
            ("jpeg30", jpeg(&img, 30)),
        ];
        for (tag, v) in variants {
            let p = tmp.join(format!("{stem}-{tag}.png"));
            v.save(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            images.push(p);
        }
    }

    let script = repo().join("scripts/niqe_basicsr.py");
    let out = python::run_script(&script, &images);
    let theirs: BTreeMap<String, f64> = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{} printed no JSON ({e}): {out}", script.display()));

    let mut worst = 0f64;
    let mut failures = Vec::new();
    let mut ours_by_path = BTreeMap::new();
    for p in &images {
        let img = image::open(p).unwrap().to_rgb8();
        let ours = niqe(&img, 0, &params).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let key = p.to_string_lossy().into_owned();
        let basicsr = *theirs
            .get(&key)
            .unwrap_or_else(|| panic!("BasicSR gave no score for {key}: {out}"));
        let diff = (ours - basicsr).abs();
        worst = worst.max(diff);
        println!(
            "{:<28} ours {ours:.6}  BasicSR {basicsr:.6}  |diff| {diff:.2e}",
            p.file_name().unwrap().to_string_lossy()
        );
        if diff.is_nan() || diff > TOLERANCE {
            failures.push(format!("{key}: ours {ours} vs BasicSR {basicsr}"));
        }
        ours_by_path.insert(p.clone(), ours);
    }
    println!(
        "max |ours - BasicSR| = {worst:.3e} over {} images",
        images.len()
    );
    assert!(
        failures.is_empty(),
        "NIQE differs from BasicSR by more than {TOLERANCE}:\n{}",
        failures.join("\n")
    );
    // crop_border: BasicSR's img[c:-c, c:-c] before the blocks (here 5: the blocks move).
    let photos = heldout();
    let mut args: Vec<std::ffi::OsString> = vec!["--crop-border".into(), "5".into()];
    args.extend(photos.iter().map(|p| p.clone().into_os_string()));
    let out = python::run_script(&script, &args);
    let cropped: BTreeMap<String, f64> = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{} printed no JSON ({e}): {out}", script.display()));
    for p in &photos {
        let img = image::open(p).unwrap().to_rgb8();
        let ours = niqe(&img, 5, &params).unwrap();
        let basicsr = cropped[&*p.to_string_lossy()];
        println!(
            "{:<28} crop_border 5: ours {ours:.6}  BasicSR {basicsr:.6}",
            p.file_name().unwrap().to_string_lossy()
        );
        assert!(
            (ours - basicsr).abs() <= TOLERANCE,
            "{}: crop_border 5: ours {ours} vs BasicSR {basicsr}",
            p.display()
        );
        assert_ne!(
            ours,
            ours_by_path[p],
            "crop_border 5 changed nothing for {}",
            p.display()
        );
    }
    // The degradations are seen: noise of sigma 25 makes every photo much less natural.
    for photo in photos {
        let stem = photo.file_stem().unwrap().to_string_lossy().into_owned();
        let clean = ours_by_path[&photo];
        let noise = ours_by_path[&tmp.join(format!("{stem}-noise25.png"))];
        assert!(
            noise > clean + 1.0,
            "{stem}: noisy {noise} vs clean {clean}"
        );
    }
}

#[test]
fn params_errors_name_the_file() {
    let tmp = TempDir::new("niqe-params");
    let missing = tmp.join("none.npz");
    let e = NiqeParams::from_npz(&missing).unwrap_err();
    assert!(matches!(e, NiqeError::Read { .. }), "{e}");
    assert!(e.to_string().contains("none.npz"), "{e}");
    let junk = tmp.join("junk.npz");
    std::fs::write(&junk, b"not a zip").unwrap();
    let e = NiqeParams::from_npz(&junk).unwrap_err();
    assert!(matches!(e, NiqeError::Npz { .. }), "{e}");
    assert!(std::error::Error::source(&e).is_some());
    assert!(!e.to_string().contains('\n'), "{e}");
    // The real file reads, with the shapes NIQE needs.
    let p = NiqeParams::from_npz(params_path()).unwrap();
    assert_eq!(
        (p.mu().len(), p.cov().dim(), p.window().dim()),
        (36, (36, 36), (7, 7))
    );
}
