//! Generated inputs: deterministic patterns as tensors and images of every pixel format, and
//! malformed files made by hand.

use std::path::Path;

use image::{DynamicImage, ImageBuffer, Luma, Rgb, Rgba};
use srgan_runtimes::ndarray::Array4;

/// A `[n, 3, h, w]` batch of values in [0, 1], irregular enough that shifted or misplaced
/// tiles show (no period shorter than 5 pixels along any axis).
pub fn pattern(n: usize, h: usize, w: usize) -> Array4<f32> {
    Array4::from_shape_fn((n, 3, h, w), |(b, c, i, j)| {
        ((i * 7 + j * 13 + c * 5 + b * 3 + (i * j) % 5) % 17) as f32 / 16.0
    })
}

/// Sample `k` of pixel `(x, y)` on the 8-bit scale.
fn v(x: u32, y: u32, k: u32) -> u32 {
    (x * 37 + y * 23 + k * 71 + (x * y) % 13 * 5) % 256
}

/// An RGB8 test image.
pub fn rgb8(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([v(x, y, 0) as u8, v(x, y, 1) as u8, v(x, y, 2) as u8])
    }))
}

/// An RGBA8 test image with the colours of [`rgb8`] and alpha from `alpha(x, y)`.
pub fn rgba8(w: u32, h: u32, alpha: impl Fn(u32, u32) -> u8) -> DynamicImage {
    DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgba([
            v(x, y, 0) as u8,
            v(x, y, 1) as u8,
            v(x, y, 2) as u8,
            alpha(x, y),
        ])
    }))
}

/// A grey 8-bit test image.
pub fn luma8(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([v(x, y, 0) as u8])))
}

/// A grey 16-bit test image (its low bits are not those of the 8-bit one).
pub fn luma16(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageLuma16(ImageBuffer::from_fn(w, h, |x, y| {
        Luma([(v(x, y, 0) * 257 + x) as u16])
    }))
}

/// An RGB 16-bit test image.
pub fn rgb16(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([
            (v(x, y, 0) * 257 + y) as u16,
            (v(x, y, 1) * 257) as u16,
            (v(x, y, 2) * 255 + x) as u16,
        ])
    }))
}

/// One PNG chunk: length, type, data, CRC-32 of type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("PNG chunk under 4 GiB");
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    let mut out = Vec::with_capacity(12 + data.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

/// A PNG that claims `w` x `h` RGB8 pixels and has none: signature, IHDR (valid CRC), IEND.
/// For decoders' size limits, which must refuse it from the header alone.
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), compression, filter, interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// Every file below `dir` (relative path) with its CRC-32 and size: compare the digests of a
/// folder before and after a run to prove which files it changed, added or removed.
pub fn folder_digest(dir: &Path) -> std::collections::BTreeMap<String, (u32, u64)> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, (u32, u64)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, (crc32fast::hash(&bytes), bytes.len() as u64));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// An animated PNG of `w` x `h` with two identical frames (the first is also the default
/// image), built chunk by chunk from a still PNG.
pub fn apng(w: u32, h: u32) -> Vec<u8> {
    let mut still = Vec::new();
    rgb8(w, h)
        .write_to(
            &mut std::io::Cursor::new(&mut still),
            image::ImageFormat::Png,
        )
        .expect("encode PNG");
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let mut h = crc32fast::Hasher::new();
        h.update(kind);
        h.update(data);
        c.extend_from_slice(&h.finalize().to_be_bytes());
        c
    };
    let fctl = |seq: u32| {
        let mut d = Vec::new();
        for v in [seq, w, h, 0, 0] {
            d.extend_from_slice(&v.to_be_bytes());
        }
        d.extend_from_slice(&[0, 1, 0, 10, 0, 0]); // delay 1/10 s, dispose none, blend source
        chunk(b"fcTL", &d)
    };
    // The still PNG's chunks: IHDR first, then IDATs, then IEND.
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 12 <= still.len() {
        let len = u32::from_be_bytes(still[at..at + 4].try_into().unwrap()) as usize;
        chunks.push((
            still[at + 4..at + 8].to_vec(),
            still[at + 8..at + 8 + len].to_vec(),
        ));
        at += 12 + len;
    }
    let idat: Vec<u8> = chunks
        .iter()
        .filter(|(k, _)| k == b"IDAT")
        .flat_map(|(_, d)| d.clone())
        .collect();
    let mut out = still[..8].to_vec();
    out.extend(chunk(b"IHDR", &chunks[0].1));
    let mut actl = 2u32.to_be_bytes().to_vec();
    actl.extend_from_slice(&0u32.to_be_bytes());
    out.extend(chunk(b"acTL", &actl));
    out.extend(fctl(0));
    out.extend(chunk(b"IDAT", &idat));
    out.extend(fctl(1));
    let mut fdat = 2u32.to_be_bytes().to_vec();
    fdat.extend_from_slice(&idat);
    out.extend(chunk(b"fdAT", &fdat));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// A little-endian EXIF (TIFF) block whose only tag is the orientation `o` (1..=8; 6 is
/// "rotate 90 degrees clockwise", a phone held upright).
pub fn exif_orientation(o: u16) -> Vec<u8> {
    let mut v = b"II*\0".to_vec();
    v.extend_from_slice(&8u32.to_le_bytes()); // IFD0 offset
    v.extend_from_slice(&1u16.to_le_bytes()); // one entry
    v.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    v.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    v.extend_from_slice(&1u32.to_le_bytes()); // count
    v.extend_from_slice(&o.to_le_bytes());
    v.extend_from_slice(&[0, 0]); // padding of the 4-byte value
    v.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_one_a_png_encoder_writes() {
        // Signature and IHDR chunk (CRC included) of a real 300x200 RGB8 PNG.
        let mut real = Vec::new();
        rgb8(300, 200)
            .write_to(
                &mut std::io::Cursor::new(&mut real),
                image::ImageFormat::Png,
            )
            .unwrap();
        assert_eq!(png_header_only(300, 200)[..33], real[..33]);
    }

    #[test]
    fn the_known_crc_of_iend() {
        // IEND's CRC is the same in every PNG file.
        assert_eq!(png_chunk(b"IEND", &[])[8..], [0xae, 0x42, 0x60, 0x82]);
    }
}
