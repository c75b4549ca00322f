//! BatchNorm folding against PyTorch: `nn.Conv2d` followed by `nn.BatchNorm2d` in eval mode
//! (`fold_check.py`, float64) gives what our folded convolution gives, on statistics far from
//! the identity (small and large variances, an `eps` that matters, a conv without bias).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use srgan_export::fold::{fold_batch_norm, BatchNorm};
use srgan_export::Tensor;
use srgan_testkit::{assert_close, compare, Tolerance};

use crate::common::{run_python, scratch};

struct Case {
    name: &'static str,
    cin: usize,
    cout: usize,
    k: usize,
    bias: bool,
    eps: f32,
}

const CASES: [Case; 3] = [
    Case {
        name: "3x3 with bias",
        cin: 3,
        cout: 5,
        k: 3,
        bias: true,
        eps: 1e-5,
    },
    Case {
        name: "3x3 without bias (the SRResNet block's)",
        cin: 4,
        cout: 4,
        k: 3,
        bias: false,
        eps: 1e-3,
    },
    Case {
        name: "1x1, eps larger than some variances",
        cin: 2,
        cout: 6,
        k: 1,
        bias: true,
        eps: 0.1,
    },
];

fn uniform(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Runs every case through `fold` and PyTorch; returns, per case, PyTorch's conv + BN output
/// and the output of the folded convolution (both computed by PyTorch).
fn run(fold: impl Fn(&Tensor, Option<&[f32]>, BatchNorm<'_>) -> (Tensor, Tensor)) -> Vec<Value> {
    let dir = scratch("fold");
    let mut rng = StdRng::seed_from_u64(5);
    let mut cases = Vec::new();
    for c in &CASES {
        let weight = Tensor::new(
            vec![c.cout, c.cin, c.k, c.k],
            uniform(&mut rng, c.cout * c.cin * c.k * c.k, -0.5, 0.5),
        );
        let bias = c.bias.then(|| uniform(&mut rng, c.cout, -1.0, 1.0));
        let gamma = uniform(&mut rng, c.cout, -2.0, 2.0);
        let beta = uniform(&mut rng, c.cout, -1.0, 1.0);
        let mean = uniform(&mut rng, c.cout, -3.0, 3.0);
        // Variances from 0.01 to 10: log-uniform.
        let var: Vec<f32> = uniform(&mut rng, c.cout, -2.0, 1.0)
            .iter()
            .map(|e| 10f32.powf(*e))
            .collect();
        let bn = BatchNorm {
            weight: &gamma,
            bias: &beta,
            mean: &mean,
            var: &var,
            eps: c.eps,
        };
        let (fw, fb) = fold(&weight, bias.as_deref(), bn);
        let x_shape = [2, c.cin, 6, 7];
        let x = uniform(&mut rng, x_shape.iter().product(), -1.0, 1.0);
        cases.push(json!({
            "cin": c.cin, "cout": c.cout, "k": c.k,
            "weight": weight.data, "bias": bias,
            "gamma": gamma, "beta": beta, "mean": mean, "var": var, "eps": c.eps,
            "folded_weight": fw.data, "folded_bias": fb.data,
            "x": x, "x_shape": x_shape,
        }));
    }
    let path = dir.join("cases.json");
    std::fs::write(&path, json!({ "cases": cases }).to_string()).unwrap();
    let out = run_python("fold_check.py", &[&path]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array().expect("a list per case").clone()
}

fn floats(v: &Value) -> Vec<f32> {
    let list = v.as_array().unwrap_or_else(|| panic!("not a list: {v}"));
    list.iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn folded_conv_matches_pytorch_conv_then_batch_norm() {
    let results = run(fold_batch_norm);
    for (c, r) in CASES.iter().zip(&results) {
        let (want, got) = (floats(&r["torch"]), floats(&r["folded"]));
        // The output spans several units here: the check is not vacuous.
        let spread = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(spread > 1.0, "{}: outputs within {spread}", c.name);
        assert_close(c.name, &want, &got, Tolerance::F32);
    }
}

#[test]
fn the_check_sees_a_fold_that_ignores_eps() {
    // A fold that forgets `eps` must not pass the same comparison where `eps` is not tiny
    // next to the variances (1e-3 and 0.1 here; 1e-5 may hide below the tolerance).
    let results = run(|w, b, bn| fold_batch_norm(w, b, BatchNorm { eps: 0.0, ..bn }));
    for (c, r) in CASES.iter().zip(&results).filter(|(c, _)| c.eps >= 1e-3) {
        let d = compare(&floats(&r["torch"]), &floats(&r["folded"]), Tolerance::F32);
        assert!(!d.is_close(), "{}: a fold without eps passed: {d}", c.name);
    }
}
