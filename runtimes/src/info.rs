//! What an ONNX model says about itself: the `metadata_props` that `srgan-export` writes
//! (keys `srgan.*`), read with a minimal protobuf scanner so that no runtime is needed.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Result, RuntimeError};

/// Metadata of a super-resolution ONNX model. Every field is optional: a foreign model has
/// none of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelInfo {
    /// `srgan.scale`: the upscaling factor.
    pub scale: Option<usize>,
    /// `srgan.receptive_field_radius`: in LR pixels.
    pub receptive_field_radius: Option<usize>,
    /// `srgan.colour_order`, e.g. `RGB`.
    pub colour_order: Option<String>,
    /// `srgan.layout`, e.g. `NCHW`.
    pub layout: Option<String>,
    /// `srgan.architecture`: JSON of the generator config.
    pub architecture: Option<String>,
    /// The model's `producer_name` and `producer_version`.
    pub producer: Option<String>,
    /// Every metadata_props entry.
    pub props: BTreeMap<String, String>,
}

impl ModelInfo {
    /// Builds the typed view from the raw `metadata_props`.
    pub fn from_props(props: BTreeMap<String, String>, producer: Option<String>) -> Self {
        let num = |k: &str| props.get(k).and_then(|v| v.trim().parse::<usize>().ok());
        Self {
            scale: num("srgan.scale").filter(|s| *s > 0),
            receptive_field_radius: num("srgan.receptive_field_radius"),
            colour_order: props.get("srgan.colour_order").cloned(),
            layout: props.get("srgan.layout").cloned(),
            architecture: props.get("srgan.architecture").cloned(),
            producer,
            props,
        }
    }
}

/// Reads a model's metadata from its file.
pub fn read_model_info(path: &Path) -> Result<ModelInfo> {
    let bytes = std::fs::read(path).map_err(|e| RuntimeError::ModelLoad {
        path: path.into(),
        reason: e.to_string(),
    })?;
    parse_model_info(&bytes).map_err(|reason| RuntimeError::ModelLoad {
        path: path.into(),
        reason: format!("not an ONNX model ({reason})"),
    })
}

/// Parses the top-level fields of an ONNX `ModelProto` that carry metadata.
pub(crate) fn parse_model_info(bytes: &[u8]) -> std::result::Result<ModelInfo, String> {
    let mut props = BTreeMap::new();
    let mut producer_name = None;
    let mut producer_version = None;
    let mut has_graph = false;
    for field in Fields::new(bytes) {
        let (num, value) = field?;
        match (num, value) {
            (2, Value::Bytes(b)) => producer_name = Some(String::from_utf8_lossy(b).into_owned()),
            (3, Value::Bytes(b)) => {
                producer_version = Some(String::from_utf8_lossy(b).into_owned())
            }
            (7, Value::Bytes(_)) => has_graph = true,
            (14, Value::Bytes(entry)) => {
                let (mut k, mut v) = (String::new(), String::new());
                for f in Fields::new(entry) {
                    match f? {
                        (1, Value::Bytes(b)) => k = String::from_utf8_lossy(b).into_owned(),
                        (2, Value::Bytes(b)) => v = String::from_utf8_lossy(b).into_owned(),
                        _ => {}
                    }
                }
                props.insert(k, v);
            }
            _ => {}
        }
    }
    if !has_graph {
        return Err("no graph".into());
    }
    let producer = match (producer_name, producer_version) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, v) => n.or(v),
    };
    Ok(ModelInfo::from_props(props, producer))
}

enum Value<'a> {
    Varint,
    Bytes(&'a [u8]),
    Fixed,
}

struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }
    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    fn next_field(&mut self) -> std::result::Result<(u64, Value<'a>), String> {
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        if num == 0 {
            return Err("field number 0".into());
        }
        let value = match wire {
            0 => {
                self.varint()?;
                Value::Varint
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if self.pos + n > self.buf.len() {
                    return Err("truncated fixed field".into());
                }
                self.pos += n;
                Value::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
                let end = self.pos.checked_add(len).ok_or("length overflow")?;
                let b = self.buf.get(self.pos..end).ok_or("truncated field")?;
                self.pos = end;
                Value::Bytes(b)
            }
            w => return Err(format!("bad wire type {w}")),
        };
        Ok((num, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<(u64, Value<'a>), String>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_field();
        self.failed = r.is_err();
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(num << 3 | 2) as u8, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn parses_props_and_rejects_garbage() {
        let mut entry = field(1, b"srgan.scale");
        entry.extend(field(2, b"4"));
        let mut model = field(2, b"srgan-export");
        model.extend(field(7, b""));
        model.extend(field(14, &entry));
        let info = parse_model_info(&model).unwrap();
        assert_eq!(info.scale, Some(4));
        assert_eq!(info.producer.as_deref(), Some("srgan-export"));
        assert!(parse_model_info(b"\xff\xff\xff").is_err());
        assert!(parse_model_info(&field(2, b"x")).is_err());
    }
}
