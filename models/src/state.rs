//! Named tensors to and from safetensors files, for the training state that `--resume` reads
//! (D, Adam moments, EMA, schedule position) next to the generator checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::TensorView;
use tch::{nn, Tensor};

use crate::error::{ModelsError, Result};
use crate::generator::tensor_to_vec;
use srgan_contract::checksum;
use srgan_contract::report::BoxError;

/// Writes named tensors (as f32) and string metadata atomically.
pub fn write_tensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: BTreeMap<String, String>,
) -> Result<()> {
    let mut raw: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (n, t) in tensors {
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let bytes = tensor_to_vec(t)?
            .into_iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        raw.push((n.clone(), shape, bytes));
    }
    let views = raw.iter().map(|(n, s, b)| {
        (
            n.clone(),
            TensorView::new(safetensors::Dtype::F32, s.clone(), b).expect("sizes agree"),
        )
    });
    let mut md: HashMap<String, String> = metadata.into_iter().collect();
    md.insert(
        checksum::KEY.into(),
        checksum::of_tensors(raw.iter().map(|(n, _, b)| (n.as_str(), b.as_slice()))),
    );
    let bytes = safetensors::serialize(views, Some(md)).map_err(|e| ModelsError::State {
        path: path.into(),
        source: e.into(),
    })?;
    srgan_export::atomic_write(path, &bytes)?;
    Ok(())
}

/// Reads every tensor and the metadata of a safetensors file.
pub fn read_tensors(path: &Path) -> Result<(HashMap<String, Tensor>, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(ModelsError::io(path))?;
    let bad = |source: BoxError| ModelsError::State {
        path: path.into(),
        source,
    };
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.into()))?;
    let md: BTreeMap<String, String> = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.into()))?;
    let views = st.tensors();
    checksum::verify(
        md.get(checksum::KEY).map(String::as_str),
        views.iter().map(|(n, v)| (n.as_str(), v.data())),
    )
    .map_err(|e| bad(e.into()))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(bad(format!(
                "tensor `{name}` is {:?}, expected F32",
                view.dtype()
            )
            .into()));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        out.insert(name, Tensor::from_slice(&data).view(shape.as_slice()));
    }
    Ok((out, md))
}

/// Every variable of `vs` as `{prefix}.{name}`, sorted by name.
pub fn prefixed_vars(vs: &nn::VarStore, prefix: &str) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("{prefix}.{n}"), t))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Copies `{prefix}.{name}` from `named` into every variable of `vs`; a missing tensor or a
/// shape that differs is an error naming it.
pub fn load_prefixed(
    vs: &nn::VarStore,
    named: &HashMap<String, Tensor>,
    prefix: &str,
    source: &Path,
) -> Result<()> {
    let vars = vs.variables();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    tch::no_grad(|| {
        for n in names {
            let key = format!("{prefix}.{n}");
            let src = named.get(&key).ok_or_else(|| ModelsError::ResumeMismatch {
                path: source.into(),
                what: format!("tensor `{key}`"),
                expected: "present".into(),
                found: "absent".into(),
            })?;
            let mut dst = vars[n].shallow_clone();
            if src.size() != dst.size() {
                return Err(ModelsError::ResumeMismatch {
                    path: source.into(),
                    what: format!("the shape of `{key}`"),
                    expected: format!("{:?}", dst.size()),
                    found: format!("{:?}", src.size()),
                });
            }
            dst.f_copy_(src)
                .map_err(ModelsError::tch(format!("restoring `{key}`")))?;
        }
        Ok(())
    })
}
