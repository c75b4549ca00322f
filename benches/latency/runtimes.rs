//! Model time of every runtime at LR 64, 128 and 256, batch 1 and 4: `ort_cpu/lr64/b1`, ...
//!
//! Guards against a slower model call in an adapter: an extra copy of the input or output, a
//! thread setting that no longer reaches the runtime, a per-shape plan rebuilt on every call
//! (tract), symbolic shapes left in an optimised plan. The plan of each shape is built by
//! `warm_up` before the timing starts.

use criterion::{Criterion, Throughput};
// The input pattern of srgan-bench and peers.py: `frac(i * 0.618...)` over the flat index.
use srgan_bench::model::pattern;
use srgan_runtimes::Upscaler;

use crate::{slow_group, Setup};

/// Every runtime compiled in (and tch with the `tch` feature), opened on the bench model.
pub fn open_all(setup: &Setup) -> Vec<Box<dyn Upscaler>> {
    let all: Vec<Box<dyn Upscaler>> = srgan_runtimes::available_runtimes()
        .into_iter()
        .map(|r| {
            srgan_runtimes::open(r, &setup.onnx, &setup.options)
                .unwrap_or_else(|e| panic!("open {r}: {}", srgan_contract::report::one_line(&e)))
        })
        .collect();
    #[cfg(feature = "tch")]
    let all = {
        let mut all = all;
        if let Some(ck) = &setup.checkpoint {
            let u = srgan_models::TchUpscaler::open(ck, &setup.options)
                .unwrap_or_else(|e| panic!("open tch: {e:#}"));
            all.push(Box::new(u) as Box<dyn Upscaler>);
        }
        all
    };
    all
}

/// Criterion's group name of a runtime: `ort-cpu` -> `ort_cpu`.
pub fn group_name(u: &dyn Upscaler) -> String {
    u.name().replace('-', "_")
}

pub fn bench(c: &mut Criterion, setup: &Setup) {
    for mut u in open_all(setup) {
        let mut g = c.benchmark_group(group_name(u.as_ref()));
        slow_group(&mut g, setup.quick);
        let s = u.scale();
        for &lr in &setup.sizes {
            for &batch in &setup.batches {
                let shape = [batch, 3, lr, lr];
                let x = pattern(shape);
                g.throughput(Throughput::Elements((batch * lr * lr * s * s) as u64));
                // Criterion runs the closure only when the name passes the filter: the plan
                // of a shape is built only for the shapes that are timed.
                let mut warm = false;
                g.bench_function(format!("lr{lr}/b{batch}"), |b| {
                    if !std::mem::replace(&mut warm, true) {
                        u.warm_up(shape).unwrap_or_else(|e| {
                            panic!(
                                "{}: warm up {shape:?}: {}",
                                u.name(),
                                srgan_contract::report::one_line(&e)
                            )
                        });
                    }
                    b.iter(|| {
                        u.upscale(x.view()).unwrap_or_else(|e| {
                            panic!(
                                "upscale {shape:?}: {}",
                                srgan_contract::report::one_line(&e)
                            )
                        })
                    })
                });
            }
        }
        g.finish();
    }
}
