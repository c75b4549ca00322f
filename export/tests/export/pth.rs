//! `srgan_export::pth`: files written by real torch (`pth_fixtures.py`, run by the project's
//! Python; without it the tests fail) read bit-exactly, and crafted or damaged files give an
//! error naming the file, never a panic or a huge allocation.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use srgan_contract::report::one_line;
use srgan_export::pth::{read_pth, read_pth_bytes, PthDtype, PthError, PthTensor, TensorError};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::common::{read_f32, run_python, scratch};

/// One tensor of `expected.json`.
#[derive(serde::Deserialize)]
struct Expected {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    start: usize,
    count: usize,
}

/// Runs `pth_fixtures.py` into a fresh folder.
fn fixtures(test: &str) -> srgan_testkit::TempDir {
    let dir = scratch(test);
    run_python("pth_fixtures.py", &[&dir]);
    dir
}

#[test]
fn files_written_by_torch_read_bit_exactly() {
    let dir = fixtures("pth-exact");
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let expected: std::collections::BTreeMap<String, Vec<Expected>> =
        serde_json::from_str(&text).unwrap();
    let values = read_f32(&dir.join("expected.f32"));
    for file in [
        "bare.pth",
        "nested.pth",
        "half.pth",
        "views.pth",
        "dtypes.pth",
    ] {
        let want = &expected[file];
        let path = dir.join(file);
        let got = read_pth(&path).unwrap_or_else(|e| panic!("{}", one_line(&e)));
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        let want_names: Vec<&str> = want.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, want_names, "{file}: names and order");
        for ((name, t), e) in got.iter().zip(want) {
            assert_eq!(t.dtype.torch_name(), e.dtype, "{file}: `{name}`");
            assert_eq!(t.shape, e.shape, "{file}: `{name}`");
            assert_eq!(t.numel(), e.count, "{file}: `{name}`");
            let want_values = &values[e.start..e.start + e.count];
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&t.data),
                bits(want_values),
                "{file}: `{name}` values differ"
            );
        }
        // The same bytes from memory give the same tensors.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(read_pth_bytes(&bytes, &path).unwrap(), got, "{file}");
    }
    // Spot checks that do not lean on the Python side's flattening.
    let half = read_pth(&dir.join("half.pth")).unwrap();
    assert!(half
        .iter()
        .any(|(n, t)| n == "conv.weight" && t.dtype == PthDtype::F16 && t.shape == [8, 3, 3, 3]));
    let nested = read_pth(&dir.join("nested.pth")).unwrap();
    let get = |n: &str| &nested.iter().find(|(k, _)| k == n).unwrap().1;
    assert_eq!(get("params_ema.conv.weight"), get("again.conv.weight"));
    assert_ne!(get("params_ema.conv.weight"), get("params.conv.weight"));
    assert_eq!(get("params.bn.num_batches_tracked").data, [1.0]);
    assert!(!nested
        .iter()
        .any(|(n, _)| n.starts_with("iter") || n == "name"));
}

/// The path and the whole message of an error that must name `file`.
fn refused(r: Result<Vec<(String, PthTensor)>, PthError>, file: &Path) -> (PthError, String) {
    let e = match r {
        Ok(v) => panic!(
            "{}: read {} tensors, expected an error",
            file.display(),
            v.len()
        ),
        Err(e) => e,
    };
    assert_eq!(e.path(), file);
    let line = one_line(&e);
    assert!(
        line.starts_with(&file.display().to_string()),
        "the message does not start with the file: {line}"
    );
    (e, line)
}

#[test]
fn torch_files_that_cannot_be_read_name_the_file() {
    let dir = fixtures("pth-refused");
    let legacy = dir.join("legacy.pth");
    let (e, line) = refused(read_pth(&legacy), &legacy);
    assert!(matches!(e, PthError::Legacy { .. }), "{line}");
    assert!(line.contains("torch>=1.6"), "{line}");
    // A whole module: its class is not something a weights file needs.
    let module = dir.join("module.pth");
    let (e, line) = refused(read_pth(&module), &module);
    assert!(matches!(e, PthError::ForbiddenGlobal { .. }), "{line}");
    assert!(line.contains("`__main__.Net`"), "{line}");
    let missing = dir.join("missing.pth");
    let (e, _) = refused(read_pth(&missing), &missing);
    assert!(matches!(e, PthError::Io { .. }));

    // Truncated anywhere: an error, never a panic.
    let bare = dir.join("bare.pth");
    let bytes = std::fs::read(&bare).unwrap();
    for len in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
        let (e, line) = refused(read_pth_bytes(&bytes[..len], &bare), &bare);
        assert!(matches!(e, PthError::NotZip { .. }), "cut at {len}: {line}");
    }
    let cut = dir.join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused(read_pth(&cut), &cut);
    // Any single byte changed: read or refused, never a panic. A change inside an entry's data
    // is caught by its CRC.
    let data_pkl = find(&bytes, b"\x80\x02").expect("the pickle is stored uncompressed");
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let r = read_pth_bytes(&b, &bare);
        if i == data_pkl + 5 {
            let (e, line) = refused(r, &bare);
            assert!(matches!(e, PthError::Entry { .. }), "{line}");
        }
    }
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every entry of a zip archive, in order.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().to_string(), v)
        })
        .collect()
}

/// A zip archive of stored entries.
fn zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Every byte of a real `data.pkl` changed in turn, the archive rebuilt around it (so the CRC
/// matches): the unpickler returns tensors or an error, never panics.
#[test]
fn a_real_pickle_with_any_byte_changed_never_panics() {
    let dir = fixtures("pth-mutate");
    let path = dir.join("views.pth");
    let all = entries(&std::fs::read(&path).unwrap());
    let k = all
        .iter()
        .position(|(n, _)| n.ends_with("/data.pkl"))
        .unwrap();
    let pickle = all[k].1.clone();
    let (mut read, mut refused) = (0, 0);
    for i in 0..pickle.len() {
        for new in [
            pickle[i] ^ 0xff,
            pickle[i].wrapping_add(1),
            0,
            b'(',
            b'h',
            0x93,
        ] {
            let mut p = pickle.clone();
            p[i] = new;
            let mut e = all.clone();
            e[k].1 = p;
            match read_pth_bytes(&zip(&e), &path) {
                Ok(_) => read += 1,
                Err(e) => {
                    assert_eq!(e.path(), path);
                    refused += 1;
                }
            }
        }
    }
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}

// ---------------------------------------------------------------------------------------------
// Crafted files: no Python needed.

/// A pickle integer.
fn int(v: i64) -> Vec<u8> {
    if let Ok(v) = i32::try_from(v) {
        let mut b = vec![b'J'];
        b.extend_from_slice(&v.to_le_bytes());
        b
    } else {
        let mut b = vec![0x8a, 8];
        b.extend_from_slice(&v.to_le_bytes());
        b
    }
}

/// A pickle string.
fn string(s: &str) -> Vec<u8> {
    let mut b = vec![b'X'];
    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
    b
}

/// `{"w": tensor}` as torch pickles it: `_rebuild_tensor_v2` of a persistent storage.
fn tensor_pickle(class: &str, numel: i64, offset: i64, shape: &[i64], stride: &[i64]) -> Vec<u8> {
    let mut p = b"\x80\x02}".to_vec();
    p.extend(string("w"));
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n((");
    p.extend(string("storage"));
    p.extend_from_slice(format!("ctorch\n{class}\n").as_bytes());
    p.extend(string("0"));
    p.extend(string("cpu"));
    p.extend(int(numel));
    p.extend_from_slice(b"tQ");
    p.extend(int(offset));
    for dims in [shape, stride] {
        p.push(b'(');
        for &d in dims {
            p.extend(int(d));
        }
        p.push(b't');
    }
    p.extend_from_slice(b"\x89}tRs.");
    p
}

/// An archive like torch's: `crafted/data.pkl`, `crafted/data/0`, `crafted/byteorder`.
fn archive(pickle: Vec<u8>, storage: Vec<u8>) -> Vec<u8> {
    zip(&[
        ("crafted/data.pkl".into(), pickle),
        ("crafted/byteorder".into(), b"little".to_vec()),
        ("crafted/data/0".into(), storage),
        ("crafted/version".into(), b"3\n".to_vec()),
    ])
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn crafted() -> PathBuf {
    PathBuf::from("crafted.pth")
}

#[test]
fn a_crafted_archive_reads_like_torch_would() {
    let storage = f32_bytes(&(0..10).map(|i| i as f32).collect::<Vec<_>>());
    let p = tensor_pickle("FloatStorage", 10, 1, &[3, 2], &[1, 3]);
    let got = read_pth_bytes(&archive(p, storage), &crafted()).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "w");
    assert_eq!(got[0].1.shape, [3, 2]);
    assert_eq!(got[0].1.data, [1., 4., 2., 5., 3., 6.]);
    // Big-endian files (written on a big-endian machine) read too.
    let be: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect();
    let file = zip(&[
        (
            "x/data.pkl".into(),
            tensor_pickle("FloatStorage", 2, 0, &[2], &[1]),
        ),
        ("x/byteorder".into(), b"big".to_vec()),
        ("x/data/0".into(), be),
    ]);
    assert_eq!(
        read_pth_bytes(&file, &crafted()).unwrap()[0].1.data,
        [1.5, -2.0]
    );
}

#[test]
fn crafted_files_are_refused_with_the_file_named() {
    let path = crafted();
    let ok_storage = || f32_bytes(&[0.0; 10]);

    let (e, line) = refused(read_pth_bytes(b"hello, not a zip", &path), &path);
    assert!(matches!(e, PthError::NotZip { .. }), "{line}");
    let (e, _) = refused(read_pth_bytes(b"", &path), &path);
    assert!(matches!(e, PthError::NotZip { .. }));
    // A pickle on its own is what the legacy format starts with.
    let (e, line) = refused(read_pth_bytes(b"\x80\x02\x8a\x0a", &path), &path);
    assert!(matches!(e, PthError::Legacy { .. }), "{line}");

    let no_pickle = zip(&[("archive/data/0".into(), ok_storage())]);
    let (e, line) = refused(read_pth_bytes(&no_pickle, &path), &path);
    assert!(matches!(e, PthError::NoPickle { .. }), "{line}");

    // os.system, built by hand as a malicious file would.
    let evil = b"\x80\x02cos\nsystem\nX\x05\x00\x00\x00touch\x85R.".to_vec();
    let (e, line) = refused(read_pth_bytes(&archive(evil, vec![]), &path), &path);
    assert!(matches!(e, PthError::ForbiddenGlobal { .. }), "{line}");
    assert_eq!(
        line,
        "crafted.pth: pickle uses `os.system`, which a weights file never needs"
    );
    let evil = b"\x80\x02X\x08\x00\x00\x00builtinsX\x04\x00\x00\x00exec\x93.".to_vec();
    let (_, line) = refused(read_pth_bytes(&archive(evil, vec![]), &path), &path);
    assert!(line.contains("`builtins.exec`"), "{line}");

    // The storage declares 10 elements; the tensor needs 40.
    let p = tensor_pickle("FloatStorage", 10, 0, &[40], &[1]);
    let (e, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(
        matches!(
            e,
            PthError::Tensor {
                source: TensorError::OutOfBounds { .. },
                ..
            }
        ),
        "{line}"
    );
    assert_eq!(
        line,
        "crafted.pth: tensor `w`: storage `0` has 10 elements, tensor needs 40"
    );
    // An offset past the end.
    let p = tensor_pickle("FloatStorage", 10, 8, &[3], &[1]);
    let (_, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(
        line.ends_with("storage `0` has 10 elements, tensor needs 11"),
        "{line}"
    );
    // The storage declares 40 elements but its entry holds 10.
    let p = tensor_pickle("FloatStorage", 40, 0, &[40], &[1]);
    let (e, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(
        matches!(
            e,
            PthError::Tensor {
                source: TensorError::StorageShort { .. },
                ..
            }
        ),
        "{line}"
    );
    assert!(line.contains("declares 40 elements"), "{line}");
    // 2^40 elements declared, on a 40-byte storage: refused before anything is allocated.
    let p = tensor_pickle(
        "FloatStorage",
        1 << 40,
        0,
        &[1 << 20, 1 << 20],
        &[1 << 20, 1],
    );
    let (_, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(line.contains("40 bytes"), "{line}");
    let p = tensor_pickle("FloatStorage", 10, 0, &[1 << 20, 1 << 20], &[1 << 20, 1]);
    let (_, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(line.ends_with("tensor needs 1099511627776"), "{line}");
    // Sizes whose product overflows.
    let p = tensor_pickle("FloatStorage", 10, 0, &[1 << 62, 1 << 62], &[0, 0]);
    let (_, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(line.contains("too large"), "{line}");
    // An expanded tensor (stride 0) needs more elements than its storage has.
    let p = tensor_pickle("FloatStorage", 10, 0, &[1000], &[0]);
    let (_, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(line.ends_with("tensor needs 1000"), "{line}");
    // Negative sizes and strides.
    let p = tensor_pickle("FloatStorage", 10, 0, &[-1], &[1]);
    let (e, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(matches!(e, PthError::Pickle { .. }), "{line}");
    assert!(line.contains("negative"), "{line}");
    // The storage entry is absent.
    let p = tensor_pickle("FloatStorage", 10, 0, &[10], &[1]);
    let file = zip(&[("crafted/data.pkl".into(), p)]);
    let (_, line) = refused(read_pth_bytes(&file, &path), &path);
    assert!(line.contains("storage `0` is not in the archive"), "{line}");
    // Unsupported storage types and byte orders.
    let p = tensor_pickle("ComplexFloatStorage", 10, 0, &[10], &[1]);
    let (e, line) = refused(read_pth_bytes(&archive(p, ok_storage()), &path), &path);
    assert!(matches!(e, PthError::UnsupportedStorage { .. }), "{line}");
    let file = zip(&[
        (
            "x/data.pkl".into(),
            tensor_pickle("FloatStorage", 2, 0, &[2], &[1]),
        ),
        ("x/byteorder".into(), b"middle".to_vec()),
    ]);
    let (e, line) = refused(read_pth_bytes(&file, &path), &path);
    assert!(matches!(e, PthError::ByteOrder { .. }), "{line}");
    // A truncated pickle.
    let p = tensor_pickle("FloatStorage", 10, 0, &[10], &[1]);
    let (e, line) = refused(
        read_pth_bytes(&archive(p[..p.len() - 3].to_vec(), ok_storage()), &path),
        &path,
    );
    assert!(matches!(e, PthError::Pickle { .. }), "{line}");
    assert!(line.contains("truncated"), "{line}");
}
