//! The models shipped with srgan, embedded in the binary so that `srgan-run` works with no
//! `-m` from anywhere, `cargo install`ed or not. A run writes the embedded model once to the
//! user's cache (`$XDG_CACHE_HOME/srgan/models`, else `~/.cache/srgan/models`, else the
//! system's temporary folder), named by its CRC-32, and opens it from there.

use std::path::{Path, PathBuf};

use super::RunError;

/// The model used when `-m` is not given: the PSNR-trained SRResNet x4 (MODEL_CARD.md).
pub const DEFAULT_MODEL: &str = "srresnet_x4";

/// The shipped models by name, with their ONNX bytes.
pub const SHIPPED: [(&str, &[u8]); 3] = [
    (
        "srresnet_x4",
        include_bytes!("../../models/x4/srresnet_x4.onnx"),
    ),
    ("srgan_x4", include_bytes!("../../models/x4/srgan_x4.onnx")),
    // The SRResNet in int8 (`srgan-export --precision int8`, MODEL_CARD.md): 1.5x faster
    // on ONNX Runtime's CPU provider, 0.05 dB below it on the held-out photos.
    (
        "srresnet_x4_int8",
        include_bytes!("../../models/x4/srresnet_x4_int8.onnx"),
    ),
];

/// The names of the shipped models, comma-separated.
pub fn names() -> String {
    SHIPPED.map(|(n, _)| n).join(", ")
}

/// The model file `-m` names: an existing file as it is, else a shipped model's name (or the
/// default when `-m` is not given), written to the cache.
pub fn resolve(model: Option<&Path>) -> Result<PathBuf, RunError> {
    let name = match model {
        None => DEFAULT_MODEL,
        Some(p) if p.is_file() => return Ok(p.into()),
        Some(p) => {
            let shipped = p.to_str().filter(|s| SHIPPED.iter().any(|(n, _)| n == s));
            match shipped {
                Some(n) => n,
                None => {
                    return Err(RunError::Input {
                        path: p.into(),
                        source: if p.exists() {
                            "the model is not a file".into()
                        } else {
                            format!("no such model file, nor a shipped model ({})", names()).into()
                        },
                    })
                }
            }
        }
    };
    let bytes = SHIPPED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .expect("a shipped name");
    materialize(name, bytes)
}

fn cache_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        v.push(PathBuf::from(x).join("srgan/models"));
    } else if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        v.push(PathBuf::from(h).join(".cache/srgan/models"));
    }
    v.push(std::env::temp_dir().join("srgan-models"));
    v
}

/// `NAME-CRC.onnx` in the first cache folder that holds it or can be written; a file there
/// with other bytes (damaged) is replaced.
fn materialize(name: &str, bytes: &[u8]) -> Result<PathBuf, RunError> {
    let file_name = format!("{name}-{:08x}.onnx", crc32fast::hash(bytes));
    let mut last = None;
    for dir in cache_dirs() {
        let path = dir.join(&file_name);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            return Ok(path);
        }
        let written = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                srgan_contract::files::atomic_write(&path, bytes)
                    .map_err(|e| srgan_contract::report::one_line(&e))
            });
        match written {
            Ok(()) => return Ok(path),
            Err(e) => last = Some(format!("{}: {e}", dir.display())),
        }
    }
    Err(RunError::Input {
        path: PathBuf::from(name),
        source: format!(
            "cannot write the shipped model to a cache folder ({})",
            last.unwrap_or_default()
        )
        .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_models_are_the_repositorys() {
        for (name, bytes) in SHIPPED {
            let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/x4/{name}.onnx"));
            assert_eq!(std::fs::read(file).unwrap(), bytes, "{name}");
        }
        assert!(SHIPPED.iter().any(|(n, _)| *n == DEFAULT_MODEL));
    }
}
