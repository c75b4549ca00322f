//! Per-op time of a model in tract, single-threaded, prepared as the tract adapter prepares it
//! (direct spatial convolution off, `PRelu` rewritten; `RAW=1` skips the rewrite). What
//! BENCHMARKS.md's "What limits tract" is measured with:
//!
//! ```sh
//! cargo run --release -p srgan-runtimes --example tract_prof -- model.onnx 1,3,128,128
//! ```

use std::collections::BTreeMap;
use std::time::Instant;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::knobs::KnobScope;
use tract_onnx::tract_core::plan::eval;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(shape)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: tract_prof MODEL.onnx N,C,H,W");
    };
    let dims = shape
        .split(',')
        .map(|v| v.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("shape `{shape}`: {e}"))?;
    let ks = KnobScope::new([("TRACT_DISABLE_DIRECT_SPATIAL", "true")])?;
    let plan = ks.enter(|| {
        let onnx = tract_onnx::onnx();
        let mut proto = onnx.proto_model_for_path(path)?;
        if std::env::var_os("RAW").is_none() {
            eprintln!(
                "rewrote {} PRelu",
                srgan_runtimes::tract_backend::prelu_as_max(&mut proto)
            );
        }
        onnx.model_for_proto_model(&proto)?
            .with_input_fact(0, f32::fact(&dims).into())?
            .into_optimized()?
            .into_runnable()
    })?;
    let n: usize = dims.iter().product();
    let x: Tensor = tract_ndarray::Array::from_shape_vec(
        dims.clone(),
        (0..n).map(|i| ((i % 7) as f32) - 3.0).collect(),
    )?
    .into();
    let mut agg: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for it in 0..3 {
        let mut state = plan.spawn()?;
        let t0 = Instant::now();
        state.run_plan_with_eval(tvec![x.clone().into_tvalue()], |ctx, st, node, inp| {
            let t = Instant::now();
            let r = eval(ctx, st, node, inp);
            if it > 0 {
                let key = format!("{} {:?}", node.op().name(), node.outputs[0].fact.shape);
                let e = agg.entry(key).or_default();
                e.0 += t.elapsed().as_secs_f64() / 2.0;
                e.1 += 1;
            }
            r
        })?;
        eprintln!("run {it}: {:.3}", t0.elapsed().as_secs_f64());
    }
    let mut v: Vec<_> = agg.into_iter().collect();
    v.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    for (k, (t, n)) in v.iter().take(25) {
        println!("{:8.1} ms {:3}x {k}", t * 1e3, n / 2);
    }
    Ok(())
}
