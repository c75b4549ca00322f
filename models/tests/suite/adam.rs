//! Our Adam against `torch.optim.Adam` (run by `adam_check.py` in the project's Python) on the
//! same gradients: the parameters and both moments after every few steps, with non-default
//! hyper-parameters, a learning-rate change, gradients small enough that `eps` matters, and a
//! variable that gets no gradient.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};
use srgan_models::{Adam, AdamConfig};
use srgan_testkit::{assert_close, Tolerance};
use tch::{nn, Kind, Tensor};

use crate::common::tmp_dir;

/// Deterministic gradients of mixed magnitude: ordinary, tiny (below `eps`'s scale), large, and
/// exactly zero, changing sign from step to step.
fn gradient(len: usize, step: usize, var: usize) -> Vec<f32> {
    let mut s = (step as u64 * 31 + var as u64 * 7 + 1).wrapping_mul(6364136223846793005);
    (0..len)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((s >> 40) as f32) / ((1u64 << 24) as f32) * 2.0 - 1.0;
            u * [1.0, 1e-9, 30.0, 0.0, 0.02][i % 5]
        })
        .collect()
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(&t.detach().flatten(0, -1)).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Runs `steps` Adam steps in Rust and in PyTorch on the same gradients; compares.
fn check(config: &AdamConfig, steps: usize, dir: &Path) {
    let shapes: [(&str, &[i64]); 3] = [("a", &[4]), ("b", &[2, 5]), ("frozen", &[3])];
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let mut vars = BTreeMap::new();
    let mut init = BTreeMap::new();
    for (k, (name, shape)) in shapes.iter().enumerate() {
        let n = shape.iter().product::<i64>() as usize;
        let v0: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.37 - 1.0) * (k + 1) as f32)
            .collect();
        let t = Tensor::from_slice(&v0).reshape(*shape);
        vars.insert(*name, vs.root().var_copy(name, &t));
        init.insert(*name, v0);
    }
    let mut adam = Adam::new(&vs, config);
    let mut lr = config.lr;
    let mut torch_steps = Vec::new();
    for step in 0..steps {
        if step == steps / 2 {
            lr *= 0.5; // as the trainer's learning-rate decay does
            adam.set_lr(lr);
        }
        adam.zero_grad();
        let mut grads = BTreeMap::new();
        // The loss sum(p * G) has the gradient G exactly; `frozen` is not in it.
        let mut loss = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
        for (k, name) in ["a", "b"].iter().enumerate() {
            let p = &vars[name];
            let g = gradient(p.numel(), step, k);
            loss += (p * Tensor::from_slice(&g).reshape(p.size())).sum(Kind::Float);
            grads.insert(*name, g);
        }
        loss.backward();
        adam.step();
        torch_steps.push(json!({ "lr": lr, "grads": grads }));
    }
    let case = json!({
        "lr": config.lr,
        "beta1": config.beta1,
        "beta2": config.beta2,
        "eps": config.eps,
        "init": init,
        "shapes": shapes.iter().map(|(n, s)| (*n, s.to_vec())).collect::<BTreeMap<_, _>>(),
        "steps": torch_steps,
    });
    let case_path = dir.join("case.json");
    std::fs::write(&case_path, case.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adam_check.py");
    let out = srgan_testkit::python::run_script(&script, &[&case_path]);
    let torch: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let state: BTreeMap<String, Tensor> = adam.state("adam").into_iter().collect();
    for (name, _) in shapes {
        let want = &torch[name];
        let what = |x: &str| format!("{config:?}, {steps} steps: {name} {x}");
        // Parameters of order 1, float32: rounding differences are a few ulp.
        let tol = Tolerance::abs(2e-6);
        assert_close(
            &what("value"),
            &floats(&want["value"]),
            &values(&vars[name]),
            tol,
        );
        let (m, v) = (
            &state[&format!("adam.m.{name}")],
            &state[&format!("adam.v.{name}")],
        );
        if want["exp_avg"].is_null() {
            // Never stepped by PyTorch: our moments must still be zero.
            assert!(
                values(m).iter().chain(&values(v)).all(|x| *x == 0.0),
                "{name}"
            );
        } else {
            assert_close(
                &what("m"),
                &floats(&want["exp_avg"]),
                &values(m),
                Tolerance::abs(1e-6),
            );
            // v is of order g^2 (up to 900): compare on a relative scale via sqrt.
            let sqrt = |x: Vec<f32>| x.iter().map(|v| v.sqrt()).collect::<Vec<_>>();
            assert_close(
                &what("sqrt(v)"),
                &sqrt(floats(&want["exp_avg_sq"])),
                &sqrt(values(v)),
                Tolerance::abs(1e-5),
            );
        }
    }
    assert_eq!(adam.steps(), steps as u64);
}

#[test]
fn steps_match_torch_optim_adam() {
    let dir = tmp_dir("adam");
    check(&AdamConfig::default(), 5, &dir);
    let other = AdamConfig {
        lr: 0.05,
        beta1: 0.5,
        beta2: 0.9,
        eps: 1e-3,
    };
    check(&other, 8, &dir);
}
