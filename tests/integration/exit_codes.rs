//! The exit-code convention (`srgan_contract::exit`) of srgan-eval, srgan-compare and
//! srgan-figure: 0 success, 1 a negative answer (some inputs failed, a check did not pass),
//! 2 nothing usable done (usage, input, model or runtime error).

use std::process::{Command, Output};

use srgan_contract::exit;

use crate::common::{self, s, TempDir};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .expect("start the binary")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

#[test]
fn srgan_eval_exits_0_1_or_2() {
    let bin = env!("CARGO_BIN_EXE_srgan-eval");
    let dir = TempDir::new("exit-eval");
    let model = common::tiny_model(&dir);
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    common::save(&common::rgb8(48, 40), &data.join("a.png"));
    let ok = run(bin, &[s(&model), "--data", s(&data)]);
    assert_eq!(
        code(&ok),
        i32::from(exit::SUCCESS),
        "{}",
        common::stderr(&ok)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("mean of 1"));

    std::fs::write(data.join("b.png"), b"\x89PNG\r\n\x1a\nnot a PNG").unwrap();
    let some = run(bin, &[s(&model), "--data", s(&data)]);
    let err = common::stderr(&some);
    assert_eq!(code(&some), i32::from(exit::NEGATIVE), "{err}");
    assert!(err.contains("b.png"), "{err}");

    std::fs::remove_file(data.join("a.png")).unwrap();
    let none = run(bin, &[s(&model), "--data", s(&data)]);
    let err = common::stderr(&none);
    assert_eq!(code(&none), i32::from(exit::FAILURE), "{err}");
    assert!(err.contains("no image could be evaluated"), "{err}");

    for bad in [["--device", "tpu"], ["--runtime", "onnx"]] {
        let o = run(bin, &[s(&model), "--data", s(&data), bad[0], bad[1]]);
        assert_eq!(code(&o), i32::from(exit::FAILURE), "{}", common::stderr(&o));
    }
}

#[test]
fn srgan_compare_exits_1_over_max_diff_and_2_on_bad_input() {
    let bin = env!("CARGO_BIN_EXE_srgan-compare");
    let dir = TempDir::new("exit-compare");
    let (a, b, c) = (dir.join("a.png"), dir.join("b.png"), dir.join("c.png"));
    common::save(&common::rgb8(8, 8), &a);
    common::save(&common::rgb8(8, 8).fliph(), &b);
    common::save(&common::rgb8(9, 8), &c);
    assert_eq!(code(&run(bin, &[s(&a), s(&a), "--max-diff", "0"])), 0);
    assert_eq!(code(&run(bin, &[s(&a), s(&b)])), i32::from(exit::SUCCESS));
    let o = run(bin, &[s(&a), s(&b), "--max-diff", "0"]);
    assert_eq!(code(&o), i32::from(exit::NEGATIVE));
    let o = run(bin, &[s(&a), s(&c)]);
    assert_eq!(code(&o), i32::from(exit::FAILURE));
    assert!(common::stderr(&o).contains("sizes differ"));
}

#[test]
fn srgan_figure_exits_2_on_a_crop_that_does_not_fit() {
    let bin = env!("CARGO_BIN_EXE_srgan-figure");
    let dir = TempDir::new("exit-figure");
    let model = common::tiny_model(&dir);
    let (hr, out) = (dir.join("hr.png"), dir.join("fig.png"));
    common::save(&common::rgb8(42, 40), &hr);
    let args = |crop: &'static str| {
        vec![
            "--hr",
            s(&hr),
            "-m",
            s(&model),
            "--crop",
            crop,
            "-o",
            s(&out),
        ]
    };
    let o = run(bin, &args("0,0,41,8"));
    assert_eq!(code(&o), i32::from(exit::FAILURE), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("does not fit in the 40x40 image"));
    assert!(!out.exists());
    let o = run(bin, &args("4,4,16,8"));
    assert_eq!(code(&o), i32::from(exit::SUCCESS), "{}", common::stderr(&o));
    let fig = image::open(&out).unwrap();
    // bicubic | model | hr, each 16x8 zoomed x2, with 4-pixel gaps.
    assert_eq!((fig.width(), fig.height()), (3 * 32 + 2 * 4, 16));
}
