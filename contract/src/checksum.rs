//! The checksum that generator checkpoints and training states carry in their metadata, so
//! that a damaged file (bit rot, a bad copy, a hand edit that leaves the values finite) is an
//! error on load instead of a silent resume.

/// The metadata key holding the checksum.
pub const KEY: &str = "srgan.checksum";

/// The checksum of named tensors' raw bytes: CRC-32 over each tensor's name, byte length and
/// bytes, in name order (so the order of the file does not matter), as `crc32:XXXXXXXX`.
pub fn of_tensors<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut v: Vec<(&str, &[u8])> = tensors.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = crc32fast::Hasher::new();
    for (name, bytes) in v {
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    format!("crc32:{:08x}", h.finalize())
}

/// Why a checksum does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checksum mismatch: the file records {recorded}, its tensors give {computed}; the file is damaged")]
pub struct Mismatch {
    /// The checksum in the metadata.
    pub recorded: String,
    /// The checksum of the tensors read.
    pub computed: String,
}

/// Checks `recorded` (the metadata's value; a file written before checksums has none and
/// passes) against the tensors.
pub fn verify<'a>(
    recorded: Option<&str>,
    tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<(), Mismatch> {
    let Some(recorded) = recorded else {
        return Ok(());
    };
    let computed = of_tensors(tensors);
    if computed == recorded {
        Ok(())
    } else {
        Err(Mismatch {
            recorded: recorded.into(),
            computed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_free_and_sensitive_to_every_byte_and_name() {
        let a = of_tensors([("a", &[1u8, 2][..]), ("b", &[3u8][..])]);
        assert_eq!(a, of_tensors([("b", &[3u8][..]), ("a", &[1u8, 2][..])]));
        assert_ne!(a, of_tensors([("a", &[1u8, 2][..]), ("b", &[4u8][..])]));
        assert_ne!(a, of_tensors([("a", &[1u8][..]), ("b", &[2u8, 3][..])]));
        assert_ne!(a, of_tensors([("c", &[1u8, 2][..]), ("b", &[3u8][..])]));
        assert!(verify(Some(&a), [("a", &[1u8, 2][..]), ("b", &[3u8][..])]).is_ok());
        assert!(verify(Some(&a), [("a", &[1u8, 9][..]), ("b", &[3u8][..])]).is_err());
        assert!(verify(None, [("a", &[0u8][..])]).is_ok());
    }
}
