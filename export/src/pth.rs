//! PyTorch `.pth`/`.pt` files read in plain Rust (no libtorch, no Python).
//!
//! [`read_pth`] reads what `torch.save(obj, path)` writes since torch 1.6: a zip archive with
//! `<prefix>/data.pkl` (a pickle, protocol 2), `<prefix>/data/<key>` (the raw bytes of every
//! storage), `<prefix>/byteorder` (`little` or `big`; absent in older files, which are
//! little-endian) and `<prefix>/version`. The prefix folder's name varies (`archive`, the file
//! stem, ...); the entry named `<prefix>/data.pkl` is looked for.
//!
//! The pickle is read by a small, restricted unpickler that runs no code: it knows the opcodes
//! `torch.save` emits for state dicts (and dicts, lists and tuples of them) and a whitelist of
//! globals like torch's own `weights_only=True` loader: `collections.OrderedDict`,
//! `builtins.set`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`,
//! `torch._utils._rebuild_parameter_with_state`, `torch._tensor._rebuild_from_type_v2` (with
//! `torch.Tensor` or `torch.nn.parameter.Parameter`) and the storage types of
//! [`PthDtype`]. Any other global is an error naming it ([`PthError::ForbiddenGlobal`]).
//!
//! Tensors are gathered through their storage offset and strides, so views (a transposed or
//! sliced tensor saved as is) read correctly. Every index is checked against its storage
//! before anything is allocated: a crafted file gives an error, never a panic or an
//! allocation larger than the file. Expanded tensors (zero strides, more elements than their
//! storage) are refused for that reason: save `t.contiguous()` instead.
//!
//! Not supported (each a clear error): the legacy format (torch < 1.6, or
//! `_use_new_zipfile_serialization=False`), compressed zip entries (torch writes them stored),
//! TorchScript archives (`torch.jit.save`, whose pickles name `__torch__` classes), complex,
//! quantised and float8 dtypes, and pickled objects other than containers and tensors (a
//! whole `nn.Module` names its class, e.g. `__main__.Net`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use zip::result::ZipError;
use zip::ZipArchive;

/// How deep containers may nest in a file (a state dict is two or three levels deep).
const MAX_DEPTH: usize = 100;

/// The dtype a tensor is stored with in the file. [`PthTensor::data`] always holds `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PthDtype {
    /// `torch.float16` (`HalfStorage`).
    F16,
    /// `torch.bfloat16` (`BFloat16Storage`).
    BF16,
    /// `torch.float32` (`FloatStorage`).
    F32,
    /// `torch.float64` (`DoubleStorage`); rounded to the nearest `f32`.
    F64,
    /// `torch.int64` (`LongStorage`), e.g. BatchNorm's `num_batches_tracked`.
    I64,
    /// `torch.int32` (`IntStorage`).
    I32,
    /// `torch.int16` (`ShortStorage`).
    I16,
    /// `torch.int8` (`CharStorage`).
    I8,
    /// `torch.uint8` (`ByteStorage`).
    U8,
    /// `torch.bool` (`BoolStorage`): 0.0 or 1.0.
    Bool,
}

impl PthDtype {
    /// Bytes per element in the file.
    pub fn size(self) -> usize {
        match self {
            PthDtype::F64 | PthDtype::I64 => 8,
            PthDtype::F32 | PthDtype::I32 => 4,
            PthDtype::F16 | PthDtype::BF16 | PthDtype::I16 => 2,
            PthDtype::I8 | PthDtype::U8 | PthDtype::Bool => 1,
        }
    }

    /// Whether the dtype is a floating-point one.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            PthDtype::F16 | PthDtype::BF16 | PthDtype::F32 | PthDtype::F64
        )
    }

    /// torch's name, e.g. `torch.float16`.
    pub fn torch_name(self) -> &'static str {
        match self {
            PthDtype::F16 => "torch.float16",
            PthDtype::BF16 => "torch.bfloat16",
            PthDtype::F32 => "torch.float32",
            PthDtype::F64 => "torch.float64",
            PthDtype::I64 => "torch.int64",
            PthDtype::I32 => "torch.int32",
            PthDtype::I16 => "torch.int16",
            PthDtype::I8 => "torch.int8",
            PthDtype::U8 => "torch.uint8",
            PthDtype::Bool => "torch.bool",
        }
    }

    /// The dtype of the storage class `torch.<name>`, if it is one this reader supports.
    fn from_storage_class(name: &str) -> Option<Self> {
        Some(match name {
            "HalfStorage" => PthDtype::F16,
            "BFloat16Storage" => PthDtype::BF16,
            "FloatStorage" => PthDtype::F32,
            "DoubleStorage" => PthDtype::F64,
            "LongStorage" => PthDtype::I64,
            "IntStorage" => PthDtype::I32,
            "ShortStorage" => PthDtype::I16,
            "CharStorage" => PthDtype::I8,
            "ByteStorage" => PthDtype::U8,
            "BoolStorage" => PthDtype::Bool,
            _ => return None,
        })
    }

    /// One element from its bytes (`b.len() == self.size()`).
    fn decode(self, b: &[u8], big_endian: bool) -> f32 {
        macro_rules! num {
            ($t:ty, $n:literal) => {{
                let mut a = [0u8; $n];
                a.copy_from_slice(b);
                if big_endian {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }
            }};
        }
        match self {
            PthDtype::F32 => num!(f32, 4),
            PthDtype::F64 => num!(f64, 8) as f32,
            PthDtype::F16 => half::f16::from_bits(num!(u16, 2)).to_f32(),
            PthDtype::BF16 => half::bf16::from_bits(num!(u16, 2)).to_f32(),
            PthDtype::I64 => num!(i64, 8) as f32,
            PthDtype::I32 => num!(i32, 4) as f32,
            PthDtype::I16 => num!(i16, 2) as f32,
            PthDtype::I8 => b[0] as i8 as f32,
            PthDtype::U8 => b[0] as f32,
            PthDtype::Bool => {
                if b[0] != 0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

impl std::fmt::Display for PthDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.torch_name())
    }
}

/// One tensor of a `.pth` file, its values converted to `f32`, row-major (C order).
#[derive(Debug, Clone, PartialEq)]
pub struct PthTensor {
    /// The shape (empty for a 0-dimensional tensor, which holds one value).
    pub shape: Vec<usize>,
    /// The dtype the file stores it with.
    pub dtype: PthDtype,
    /// The values, as `f32`: exact for `f32`, `f16` and `bf16`; `f64` is rounded to the
    /// nearest `f32`; integers are exact up to 2^24 in magnitude.
    pub data: Vec<f32>,
}

impl PthTensor {
    /// The number of elements (the product of the shape; 1 for a 0-dimensional tensor).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Why a `.pth` file cannot be read. Every variant names the file; none repeats its source's
/// text.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    /// The file could not be opened or read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is a legacy (pre-1.6, or `_use_new_zipfile_serialization=False`) torch file.
    #[error(
        "{path}: not a PyTorch zip file (legacy pre-1.6 format is not supported: re-save it \
         with torch>=1.6)"
    )]
    Legacy {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a zip archive (or one too damaged to list).
    #[error("{path}: not a PyTorch file (not a readable zip archive: damaged, truncated or not written by `torch.save`)")]
    NotZip {
        /// The file.
        path: PathBuf,
        /// The zip reader's error.
        #[source]
        source: ZipError,
    },
    /// The archive has no `<prefix>/data.pkl`.
    #[error("{path}: no `data.pkl` in the zip archive: not written by `torch.save`")]
    NoPickle {
        /// The file.
        path: PathBuf,
    },
    /// An entry of the archive cannot be read (damaged, compressed, encrypted).
    #[error("{path}: cannot read `{entry}` in the archive")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry's name.
        entry: String,
        /// The zip reader's error.
        #[source]
        source: ZipError,
    },
    /// The `byteorder` entry holds neither `little` nor `big`.
    #[error("{path}: byte order `{found}`: expected `little` or `big`")]
    ByteOrder {
        /// The file.
        path: PathBuf,
        /// What the entry holds.
        found: String,
    },
    /// The pickle names a global outside the whitelist (weights never need one).
    #[error("{path}: pickle uses `{name}`, which a weights file never needs")]
    ForbiddenGlobal {
        /// The file.
        path: PathBuf,
        /// `module.name`.
        name: String,
    },
    /// A tensor's storage type is one this reader does not convert.
    #[error(
        "{path}: storage type `{name}` is not supported (only float, half, bfloat16, double, \
         integer and bool storages are read)"
    )]
    UnsupportedStorage {
        /// The file.
        path: PathBuf,
        /// `torch.<Name>Storage`.
        name: String,
    },
    /// `data.pkl` is not a pickle this reader understands.
    #[error("{path}: malformed `data.pkl`")]
    Pickle {
        /// The file.
        path: PathBuf,
        /// Where and what.
        #[source]
        source: PickleError,
    },
    /// A tensor does not fit its storage, or its storage is missing or short.
    #[error("{path}: tensor `{name}`")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's flattened name.
        name: String,
        /// What is wrong.
        #[source]
        source: TensorError,
    },
}

impl PthError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            PthError::Io { path, .. }
            | PthError::Legacy { path }
            | PthError::NotZip { path, .. }
            | PthError::NoPickle { path }
            | PthError::Entry { path, .. }
            | PthError::ByteOrder { path, .. }
            | PthError::ForbiddenGlobal { path, .. }
            | PthError::UnsupportedStorage { path, .. }
            | PthError::Pickle { path, .. }
            | PthError::Tensor { path, .. } => path,
        }
    }
}

/// What is wrong in `data.pkl`, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {pos} of data.pkl: {what}")]
pub struct PickleError {
    pos: usize,
    what: String,
}

impl PickleError {
    /// The offset in `data.pkl` of the opcode that failed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// What was expected.
    pub fn what(&self) -> &str {
        &self.what
    }
}

/// Why a tensor cannot be built from its storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorError {
    /// The storage's entry is not in the archive.
    #[error("storage `{key}` is not in the archive")]
    MissingStorage {
        /// The storage key (the entry is `<prefix>/data/<key>`).
        key: String,
    },
    /// The storage's entry holds fewer bytes than its declared element count needs.
    #[error("storage `{key}` declares {declared} elements of {dtype} but holds {bytes} bytes")]
    StorageShort {
        /// The storage key.
        key: String,
        /// Elements the pickle declares.
        declared: u64,
        /// The storage's dtype.
        dtype: PthDtype,
        /// Bytes in the entry.
        bytes: u64,
    },
    /// The tensor's shape, strides and offset reach outside its storage (or need more elements
    /// than it has).
    #[error("storage `{key}` has {storage} elements, tensor needs {needs}")]
    OutOfBounds {
        /// The storage key.
        key: String,
        /// Elements in the storage.
        storage: u64,
        /// Elements the tensor needs.
        needs: u128,
    },
    /// The shape's element count or the largest index overflows.
    #[error("shape {shape:?} with strides {stride:?} is too large")]
    TooLarge {
        /// The shape.
        shape: Vec<u64>,
        /// The strides.
        stride: Vec<u64>,
    },
}

/// Every tensor of the PyTorch zip file at `path`, in file order, named by its key path joined
/// with `.`: a bare state dict gives `conv.weight`; `{"params_ema": sd, "params": sd2}` gives
/// `params_ema.conv.weight`, ..., `params.conv.weight`, ...; list and tuple items are named by
/// their index; a file holding a single tensor gives one entry named `""`. Values that are not
/// tensors (ints, strings, `None`, e.g. `{"iter": 5}`) are skipped. Integer and bool tensors
/// (e.g. BatchNorm's `num_batches_tracked`) are included, converted to `f32`; their
/// [`PthTensor::dtype`] tells them apart.
pub fn read_pth(path: &Path) -> Result<Vec<(String, PthTensor)>, PthError> {
    let io = |source| PthError::Io {
        path: path.into(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    read_archive(BufReader::new(file), len, path)
}

/// [`read_pth`] on a file already in memory; `path` only names it in errors.
pub fn read_pth_bytes(bytes: &[u8], path: &Path) -> Result<Vec<(String, PthTensor)>, PthError> {
    read_archive(Cursor::new(bytes), bytes.len() as u64, path)
}

/// Whether the file starts like a legacy torch file: a pickle (protocol 2) or a tar archive
/// (torch < 0.4).
fn looks_legacy<R: Read + Seek>(reader: &mut R) -> bool {
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    (n >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]))
        || (n >= 262 && &head[257..262] == b"ustar")
}

fn read_archive<R: Read + Seek>(
    mut reader: R,
    len: u64,
    path: &Path,
) -> Result<Vec<(String, PthTensor)>, PthError> {
    let mut archive = match ZipArchive::new(&mut reader) {
        Ok(a) => a,
        Err(source) => {
            let legacy = reader.seek(SeekFrom::Start(0)).is_ok() && looks_legacy(&mut reader);
            return Err(if legacy {
                PthError::Legacy { path: path.into() }
            } else {
                PthError::NotZip {
                    path: path.into(),
                    source,
                }
            });
        }
    };
    let pickle_name =
        find_pickle(&archive).ok_or_else(|| PthError::NoPickle { path: path.into() })?;
    let prefix = pickle_name[..pickle_name.len() - "data.pkl".len()].to_string();
    let entry_err = |entry: &str| {
        let entry = entry.to_string();
        move |source| PthError::Entry {
            path: path.into(),
            entry,
            source,
        }
    };
    let big_endian = match read_entry(&mut archive, &format!("{prefix}byteorder"), len)
        .map_err(entry_err(&format!("{prefix}byteorder")))?
    {
        None => false,
        Some(b) => match b.trim_ascii() {
            b"little" => false,
            b"big" => true,
            other => {
                return Err(PthError::ByteOrder {
                    path: path.into(),
                    found: shown(&String::from_utf8_lossy(other)),
                })
            }
        },
    };
    let pickle = read_entry(&mut archive, &pickle_name, len)
        .map_err(entry_err(&pickle_name))?
        .ok_or_else(|| PthError::NoPickle { path: path.into() })?;
    let mut up = Unpickler::new(&pickle);
    let root = up.run().map_err(|f| f.into_error(path))?;
    let mut found = Vec::new();
    let mut name = String::new();
    flatten(&up.arena, &root, &mut name, &mut found, 0).map_err(|what| PthError::Pickle {
        path: path.into(),
        source: PickleError { pos: up.pos, what },
    })?;
    // Every tensor is checked against its declared storage before any data is read.
    for (name, t) in &found {
        t.check().map_err(|source| PthError::Tensor {
            path: path.into(),
            name: shown(name),
            source,
        })?;
    }
    // Each storage is read once, for all the tensors that view it, then dropped.
    let mut order: Vec<&str> = Vec::new();
    let mut users: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, t)) in found.iter().enumerate() {
        let key = t.storage.key.as_str();
        users
            .entry(key)
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(i);
    }
    let mut out: Vec<Option<PthTensor>> = vec![None; found.len()];
    for key in order {
        let entry = format!("{prefix}data/{key}");
        let raw = read_entry(&mut archive, &entry, len)
            .map_err(entry_err(&entry))?
            .ok_or_else(|| PthError::Tensor {
                path: path.into(),
                name: shown(&found[users[key][0]].0),
                source: TensorError::MissingStorage { key: shown(key) },
            })?;
        for &i in &users[key] {
            let (name, t) = &found[i];
            let data = t
                .gather(&raw, big_endian)
                .map_err(|source| PthError::Tensor {
                    path: path.into(),
                    name: shown(name),
                    source,
                })?;
            out[i] = Some(PthTensor {
                shape: t.shape.iter().map(|&s| s as usize).collect(),
                dtype: t.storage.dtype,
                data,
            });
        }
    }
    Ok(found
        .into_iter()
        .zip(out)
        .filter_map(|((name, _), t)| t.map(|t| (name, t)))
        .collect())
}

/// The name of the `data.pkl` entry: `<prefix>/data.pkl` with the shallowest prefix, the first
/// in archive order among equals.
fn find_pickle<R: Read + Seek>(archive: &ZipArchive<R>) -> Option<String> {
    archive
        .file_names()
        .filter(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
        .min_by_key(|n| n.matches('/').count())
        .map(str::to_string)
}

/// The whole entry `name`, or `None` when the archive has none. Nothing larger than the
/// archive itself (`limit` bytes) is reserved up front, whatever the entry's header declares.
fn read_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, ZipError> {
    let mut f = match archive.by_name(name) {
        Ok(f) => f,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let cap = f.size().min(limit).min(usize::MAX as u64) as usize;
    let mut buf = Vec::with_capacity(cap);
    f.read_to_end(&mut buf)?;
    Ok(Some(buf))
}

/// A string from the file as shown in a message: at most 120 characters, escaped.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(120).flat_map(char::escape_debug).collect();
    if s.chars().nth(120).is_some() {
        out.push_str("...");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Storages and tensors.

/// A storage named by a persistent id `('storage', <StorageType>, key, location, numel)`.
#[derive(Debug, PartialEq)]
struct StorageRef {
    dtype: PthDtype,
    key: String,
    numel: u64,
}

/// A tensor from `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`.
#[derive(Debug, PartialEq)]
struct TensorRef {
    storage: Rc<StorageRef>,
    offset: u64,
    shape: Vec<u64>,
    stride: Vec<u64>,
}

impl TensorRef {
    fn too_large(&self) -> TensorError {
        TensorError::TooLarge {
            shape: self.shape.clone(),
            stride: self.stride.clone(),
        }
    }

    /// The elements the tensor needs from its storage: its element count, or one past the
    /// largest index it reads, whichever is larger (0 for an empty tensor).
    fn needs(&self) -> Result<u128, TensorError> {
        // The product of the non-zero sizes must fit an i64 even for an empty tensor, so that
        // `PthTensor::numel` and torch's own `view` never overflow on a shape read here.
        let mut numel: u128 = 1;
        for &s in self.shape.iter().filter(|&&s| s != 0) {
            numel = numel
                .checked_mul(s as u128)
                .filter(|&n| n <= i64::MAX as u128)
                .ok_or_else(|| self.too_large())?;
        }
        if self.shape.contains(&0) {
            return Ok(0);
        }
        let mut last = self.offset as u128;
        for (&s, &st) in self.shape.iter().zip(&self.stride) {
            let reach = ((s - 1) as u128)
                .checked_mul(st as u128)
                .ok_or_else(|| self.too_large())?;
            last = last.checked_add(reach).ok_or_else(|| self.too_large())?;
        }
        Ok(numel.max(last + 1))
    }

    /// Checks the tensor against its storage's declared size.
    fn check(&self) -> Result<(), TensorError> {
        let needs = self.needs()?;
        if needs > self.storage.numel as u128 {
            return Err(TensorError::OutOfBounds {
                key: shown(&self.storage.key),
                storage: self.storage.numel,
                needs,
            });
        }
        Ok(())
    }

    /// The values, row-major, from the storage's bytes `raw`.
    fn gather(&self, raw: &[u8], big_endian: bool) -> Result<Vec<f32>, TensorError> {
        let dtype = self.storage.dtype;
        let size = dtype.size();
        let short = || TensorError::StorageShort {
            key: shown(&self.storage.key),
            declared: self.storage.numel,
            dtype,
            bytes: raw.len() as u64,
        };
        let declared_bytes = (self.storage.numel as u128) * size as u128;
        if declared_bytes > raw.len() as u128 {
            return Err(short());
        }
        self.check()?;
        // From here every index is below `storage.numel`, whose bytes `raw` holds, and the
        // element count is at most `storage.numel`.
        if self.needs()? == 0 {
            return Ok(Vec::new());
        }
        let numel: usize = self.shape.iter().map(|&s| s as usize).product();
        let mut out = Vec::with_capacity(numel);
        let at = |j: usize| dtype.decode(&raw[j * size..(j + 1) * size], big_endian);
        let offset = self.offset as usize;
        let shape: Vec<usize> = self.shape.iter().map(|&s| s as usize).collect();
        let stride: Vec<usize> = self.stride.iter().map(|&s| s as usize).collect();
        if is_contiguous(&shape, &stride) {
            out.extend((offset..offset + numel).map(at));
            return Ok(out);
        }
        let rank = shape.len();
        let mut idx = vec![0usize; rank];
        let mut pos = offset;
        loop {
            out.push(at(pos));
            let mut d = rank;
            loop {
                if d == 0 {
                    return Ok(out);
                }
                d -= 1;
                idx[d] += 1;
                if idx[d] < shape[d] {
                    pos += stride[d];
                    break;
                }
                pos -= stride[d] * (shape[d] - 1);
                idx[d] = 0;
            }
        }
    }
}

/// Whether row-major order with these strides is the storage order (size-1 dims ignored).
fn is_contiguous(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&s, &st) in shape.iter().zip(stride).rev() {
        if s != 1 && st != expected {
            return false;
        }
        expected = expected.saturating_mul(s);
    }
    true
}

// ---------------------------------------------------------------------------------------------
// The unpickler.

/// A global the whitelist allows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    OrderedDict,
    Set,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromTypeV2,
    TensorClass,
    ParameterClass,
    Storage(PthDtype),
}

impl Global {
    fn name(self) -> &'static str {
        match self {
            Global::OrderedDict => "collections.OrderedDict",
            Global::Set => "builtins.set",
            Global::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2",
            Global::RebuildParameter => "torch._utils._rebuild_parameter",
            Global::RebuildParameterWithState => "torch._utils._rebuild_parameter_with_state",
            Global::RebuildFromTypeV2 => "torch._tensor._rebuild_from_type_v2",
            Global::TensorClass => "torch.Tensor",
            Global::ParameterClass => "torch.nn.parameter.Parameter",
            Global::Storage(_) => "a torch storage type",
        }
    }
}

/// What went wrong while unpickling, before the file's path is known.
#[derive(Debug, PartialEq)]
enum Fail {
    Pickle(usize, String),
    Forbidden(String),
    UnsupportedStorage(String),
}

impl Fail {
    fn into_error(self, path: &Path) -> PthError {
        let path = path.into();
        match self {
            Fail::Pickle(pos, what) => PthError::Pickle {
                path,
                source: PickleError { pos, what },
            },
            Fail::Forbidden(name) => PthError::ForbiddenGlobal { path, name },
            Fail::UnsupportedStorage(name) => PthError::UnsupportedStorage { path, name },
        }
    }
}

/// A value on the stack or in the memo. Containers live in the arena, so that the memo and
/// the stack share them as Python does (an item appended after `BINPUT` is seen by `BINGET`).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Global(Global),
    Obj(usize),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Global(_) => "a global",
            Value::Obj(_) => "a container",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
        }
    }
}

/// A dict key that can be compared (Python's `True == 1` is ignored: keys are names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Str(Rc<str>),
    Int(i64),
    Bool(bool),
    None,
}

impl Key {
    fn of(v: &Value) -> Option<Key> {
        match v {
            Value::Str(s) => Some(Key::Str(s.clone())),
            Value::Int(i) => Some(Key::Int(*i)),
            Value::Bool(b) => Some(Key::Bool(*b)),
            Value::None => Some(Key::None),
            _ => None,
        }
    }
}

/// A dict: items in insertion order; a later `SETITEM` with an equal key replaces the value.
#[derive(Debug, Default)]
struct Dict {
    items: Vec<(Value, Value)>,
    index: HashMap<Key, usize>,
}

impl Dict {
    fn insert(&mut self, k: Value, v: Value) {
        match Key::of(&k) {
            Some(key) => match self.index.get(&key) {
                Some(&i) => self.items[i].1 = v,
                None => {
                    self.index.insert(key, self.items.len());
                    self.items.push((k, v));
                }
            },
            None => self.items.push((k, v)),
        }
    }
}

#[derive(Debug)]
enum Obj {
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Dict),
    Set(Vec<Value>),
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run (for messages).
    op_pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each open `MARK`.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    arena: Vec<Obj>,
}

type Res<T> = Result<T, Fail>;

impl<'a> Unpickler<'a> {
    fn new(data: &'a [u8]) -> Self {
        Unpickler {
            data,
            pos: 0,
            op_pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            arena: Vec::new(),
        }
    }

    fn err<T>(&self, what: impl Into<String>) -> Res<T> {
        Err(Fail::Pickle(self.op_pos, what.into()))
    }

    fn take(&mut self, n: u64) -> Res<&'a [u8]> {
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            return self.err(format!(
                "truncated: the opcode needs {n} more bytes, {left} are left"
            ));
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn bytes<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N as u64)?);
        Ok(a)
    }

    fn line(&mut self) -> Res<&'a str> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return self.err("truncated: GLOBAL without its newline");
        };
        self.pos += n + 1;
        match std::str::from_utf8(&rest[..n]) {
            Ok(s) => Ok(s),
            Err(_) => self.err("GLOBAL name is not UTF-8"),
        }
    }

    fn string(&mut self, n: u64) -> Res<Value> {
        let b = self.take(n)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(Value::Str(s.into())),
            Err(_) => self.err("string is not UTF-8"),
        }
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn obj(&mut self, o: Obj) -> Value {
        self.arena.push(o);
        Value::Obj(self.arena.len() - 1)
    }

    /// Pops one value, never below the innermost open `MARK`.
    fn pop(&mut self) -> Res<Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.err("stack underflow");
        }
        Ok(self.stack.pop().expect("checked above"))
    }

    /// Pops everything down to the innermost `MARK`, and the mark.
    fn pop_mark(&mut self) -> Res<Vec<Value>> {
        let Some(m) = self.marks.pop() else {
            return self.err("no MARK to pop to");
        };
        Ok(self.stack.split_off(m))
    }

    /// The stack's top, which an opcode modifies in place (it must be a container).
    fn top_obj(&self) -> Res<usize> {
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(Value::Obj(i)) if self.stack.len() > floor => Ok(*i),
            Some(v) if self.stack.len() > floor => self.err(format!(
                "expected a container on the stack, found {}",
                v.kind()
            )),
            _ => self.err("stack underflow"),
        }
    }

    fn memo_get(&self, i: u32) -> Res<Value> {
        match self.memo.get(&i) {
            Some(v) => Ok(v.clone()),
            None => self.err(format!("memo slot {i} is empty")),
        }
    }

    fn memo_put(&mut self, i: u32) -> Res<()> {
        match self.stack.last() {
            Some(v) => {
                self.memo.insert(i, v.clone());
                Ok(())
            }
            None => self.err("stack underflow"),
        }
    }

    fn extend_list(&mut self, target: usize, items: Vec<Value>) -> Res<()> {
        match &mut self.arena[target] {
            Obj::List(l) => {
                l.extend(items);
                Ok(())
            }
            _ => self.err("APPEND(S) to something that is not a list"),
        }
    }

    fn set_items(&mut self, target: usize, items: Vec<Value>) -> Res<()> {
        if items.len() % 2 == 1 {
            return self.err("SETITEMS with an odd number of items");
        }
        let Obj::Dict(d) = &mut self.arena[target] else {
            return self.err("SETITEM(S) on something that is not a dict");
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.insert(k, v);
        }
        Ok(())
    }

    fn global(&self, module: &str, name: &str) -> Res<Global> {
        Ok(match (module, name) {
            ("collections", "OrderedDict") => Global::OrderedDict,
            ("builtins" | "__builtin__", "set") => Global::Set,
            ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
            ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
            ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
            ("torch._tensor", "_rebuild_from_type_v2") => Global::RebuildFromTypeV2,
            ("torch", "Tensor") | ("torch._tensor", "Tensor") => Global::TensorClass,
            ("torch.nn.parameter", "Parameter") => Global::ParameterClass,
            ("torch", n) if n.ends_with("Storage") => match PthDtype::from_storage_class(n) {
                Some(d) => Global::Storage(d),
                None => return Err(Fail::UnsupportedStorage(shown(&format!("torch.{n}")))),
            },
            _ => return Err(Fail::Forbidden(shown(&format!("{module}.{name}")))),
        })
    }

    /// The items of a tuple (or list) value.
    fn items(&self, v: &Value, what: &str) -> Res<Vec<Value>> {
        match v {
            Value::Obj(i) => match &self.arena[*i] {
                Obj::Tuple(t) | Obj::List(t) => Ok(t.clone()),
                _ => self.err(format!("{what}: expected a tuple")),
            },
            other => self.err(format!("{what}: expected a tuple, found {}", other.kind())),
        }
    }

    fn non_negative(&self, v: &Value, what: &str) -> Res<u64> {
        match v {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            Value::Int(i) => self.err(format!("{what} is negative ({i})")),
            other => self.err(format!("{what}: expected an int, found {}", other.kind())),
        }
    }

    fn ints(&self, v: &Value, what: &str) -> Res<Vec<u64>> {
        self.items(v, what)?
            .iter()
            .map(|x| self.non_negative(x, what))
            .collect()
    }

    /// `persistent_load(pid)` for `('storage', StorageType, key, location, numel)`.
    fn persistent_load(&self, pid: &Value) -> Res<Value> {
        let t = self.items(pid, "persistent id")?;
        let [tag, ty, key, _location, numel] = t.as_slice() else {
            return self.err(format!(
                "persistent id has {} items, expected ('storage', type, key, location, numel)",
                t.len()
            ));
        };
        if !matches!(tag, Value::Str(s) if &**s == "storage") {
            return self.err("persistent id is not a ('storage', ...) tuple");
        }
        let Value::Global(Global::Storage(dtype)) = ty else {
            return self.err(format!(
                "persistent id: expected a storage type, found {}",
                ty.kind()
            ));
        };
        let key = match key {
            Value::Str(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
            other => return self.err(format!("storage key is {}", other.kind())),
        };
        let numel = self.non_negative(numel, "storage size")?;
        Ok(Value::Storage(Rc::new(StorageRef {
            dtype: *dtype,
            key,
            numel,
        })))
    }

    fn rebuild_tensor(&self, args: &[Value]) -> Res<Value> {
        if !(6..=7).contains(&args.len()) {
            return self.err(format!(
                "_rebuild_tensor_v2 takes 6 or 7 arguments, got {}",
                args.len()
            ));
        }
        let Value::Storage(storage) = &args[0] else {
            return self.err(format!(
                "_rebuild_tensor_v2: expected a storage, found {}",
                args[0].kind()
            ));
        };
        let offset = self.non_negative(&args[1], "storage offset")?;
        let shape = self.ints(&args[2], "tensor size")?;
        let stride = self.ints(&args[3], "tensor stride")?;
        if shape.len() != stride.len() {
            return self.err(format!(
                "tensor has {} sizes but {} strides",
                shape.len(),
                stride.len()
            ));
        }
        Ok(Value::Tensor(Rc::new(TensorRef {
            storage: storage.clone(),
            offset,
            shape,
            stride,
        })))
    }

    /// `callable(*args)` for a whitelisted callable.
    fn call(&mut self, callable: &Value, args: &Value) -> Res<Value> {
        let Value::Global(g) = callable else {
            return self.err(format!("REDUCE on {}, not a global", callable.kind()));
        };
        let args = self.items(args, "REDUCE arguments")?;
        match (g, args.as_slice()) {
            (Global::OrderedDict, []) => Ok(self.obj(Obj::Dict(Dict::default()))),
            (Global::OrderedDict, [items]) => {
                let mut d = Dict::default();
                let pairs = match items {
                    Value::Obj(i) => match &self.arena[*i] {
                        Obj::Dict(src) => src.items.clone(),
                        Obj::List(l) | Obj::Tuple(l) => {
                            let mut pairs = Vec::with_capacity(l.len());
                            for p in l {
                                match self.items(p, "OrderedDict item")?.as_slice() {
                                    [k, v] => pairs.push((k.clone(), v.clone())),
                                    _ => return self.err("OrderedDict item is not a pair"),
                                }
                            }
                            pairs
                        }
                        Obj::Set(_) => return self.err("OrderedDict from a set"),
                    },
                    other => return self.err(format!("OrderedDict from {}", other.kind())),
                };
                for (k, v) in pairs {
                    d.insert(k, v);
                }
                Ok(self.obj(Obj::Dict(d)))
            }
            (Global::Set, []) => Ok(self.obj(Obj::Set(Vec::new()))),
            (Global::Set, [items]) => {
                let items = self.items(items, "set()")?;
                Ok(self.obj(Obj::Set(items)))
            }
            (Global::RebuildTensorV2, a) => self.rebuild_tensor(a),
            (Global::RebuildParameter, [t @ Value::Tensor(_), _, _])
            | (Global::RebuildParameterWithState, [t @ Value::Tensor(_), _, _, _]) => Ok(t.clone()),
            (
                Global::RebuildFromTypeV2,
                [Value::Global(Global::RebuildTensorV2), Value::Global(Global::TensorClass | Global::ParameterClass), inner, _],
            ) => {
                let inner = self.items(inner, "_rebuild_from_type_v2 arguments")?;
                self.rebuild_tensor(&inner)
            }
            (g, a) => self.err(format!(
                "cannot call `{}` with {} argument(s) here",
                g.name(),
                a.len()
            )),
        }
    }

    /// Runs the pickle to its `STOP`; returns the value it builds.
    fn run(&mut self) -> Res<Value> {
        loop {
            self.op_pos = self.pos;
            let [op] = self.bytes::<1>()?;
            match op {
                0x80 => {
                    // PROTO
                    let [v] = self.bytes::<1>()?;
                    if v > 5 {
                        return self.err(format!("pickle protocol {v} is not supported"));
                    }
                }
                0x95 => {
                    // FRAME: a length hint only.
                    self.bytes::<8>()?;
                }
                b'.' => return self.pop(),                 // STOP
                b'(' => self.marks.push(self.stack.len()), // MARK
                b'0' => {
                    // POP
                    self.pop()?;
                }
                b'1' => {
                    // POP_MARK
                    self.pop_mark()?;
                }
                b'2' => {
                    // DUP
                    let v = self.pop()?;
                    self.push(v.clone());
                    self.push(v);
                }
                b'}' => {
                    let v = self.obj(Obj::Dict(Dict::default()));
                    self.push(v);
                }
                b']' => {
                    let v = self.obj(Obj::List(Vec::new()));
                    self.push(v);
                }
                b')' => {
                    let v = self.obj(Obj::Tuple(Vec::new()));
                    self.push(v);
                }
                0x8f => {
                    // EMPTY_SET
                    let v = self.obj(Obj::Set(Vec::new()));
                    self.push(v);
                }
                b'X' => {
                    // BINUNICODE
                    let n = u32::from_le_bytes(self.bytes()?);
                    let v = self.string(n as u64)?;
                    self.push(v);
                }
                0x8c => {
                    // SHORT_BINUNICODE
                    let [n] = self.bytes::<1>()?;
                    let v = self.string(n as u64)?;
                    self.push(v);
                }
                0x8d => {
                    // BINUNICODE8
                    let n = u64::from_le_bytes(self.bytes()?);
                    let v = self.string(n)?;
                    self.push(v);
                }
                b'J' => {
                    // BININT
                    let v = i32::from_le_bytes(self.bytes()?);
                    self.push(Value::Int(v as i64));
                }
                b'K' => {
                    // BININT1
                    let [v] = self.bytes::<1>()?;
                    self.push(Value::Int(v as i64));
                }
                b'M' => {
                    // BININT2
                    let v = u16::from_le_bytes(self.bytes()?);
                    self.push(Value::Int(v as i64));
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let [n] = self.bytes::<1>()?;
                    let b = self.take(n as u64)?;
                    let v = self.long(b)?;
                    self.push(Value::Int(v));
                }
                b'G' => {
                    // BINFLOAT (big-endian)
                    let v = f64::from_be_bytes(self.bytes()?);
                    self.push(Value::Float(v));
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                0x85..=0x87 => {
                    // TUPLE1..3
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let v = self.obj(Obj::Tuple(items));
                    self.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let v = self.obj(Obj::Tuple(items));
                    self.push(v);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.obj(Obj::List(items));
                    self.push(v);
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let v = self.obj(Obj::Dict(Dict::default()));
                    let Value::Obj(i) = v else { unreachable!() };
                    self.push(v);
                    self.set_items(i, items)?;
                }
                b'a' => {
                    // APPEND
                    let v = self.pop()?;
                    let target = self.top_obj()?;
                    self.extend_list(target, vec![v])?;
                }
                b'e' => {
                    // APPENDS
                    let items = self.pop_mark()?;
                    let target = self.top_obj()?;
                    self.extend_list(target, items)?;
                }
                b's' => {
                    // SETITEM
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let target = self.top_obj()?;
                    self.set_items(target, vec![k, v])?;
                }
                b'u' => {
                    // SETITEMS
                    let items = self.pop_mark()?;
                    let target = self.top_obj()?;
                    self.set_items(target, items)?;
                }
                0x90 => {
                    // ADDITEMS
                    let items = self.pop_mark()?;
                    let target = self.top_obj()?;
                    match &mut self.arena[target] {
                        Obj::Set(s) => s.extend(items),
                        _ => return self.err("ADDITEMS to something that is not a set"),
                    }
                }
                b'q' => {
                    // BINPUT
                    let [i] = self.bytes::<1>()?;
                    self.memo_put(i as u32)?;
                }
                b'r' => {
                    // LONG_BINPUT
                    let i = u32::from_le_bytes(self.bytes()?);
                    self.memo_put(i)?;
                }
                0x94 => {
                    // MEMOIZE
                    let i = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                    self.memo_put(i)?;
                }
                b'h' => {
                    // BINGET
                    let [i] = self.bytes::<1>()?;
                    let v = self.memo_get(i as u32)?;
                    self.push(v);
                }
                b'j' => {
                    // LONG_BINGET
                    let i = u32::from_le_bytes(self.bytes()?);
                    let v = self.memo_get(i)?;
                    self.push(v);
                }
                b'c' => {
                    // GLOBAL
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = self.global(module, name)?;
                    self.push(Value::Global(g));
                }
                0x93 => {
                    // STACK_GLOBAL
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (&module, &name) else {
                        return self.err("STACK_GLOBAL needs two strings");
                    };
                    let g = self.global(module, name)?;
                    self.push(Value::Global(g));
                }
                b'R' => {
                    // REDUCE
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(&callable, &args)?;
                    self.push(v);
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args)
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    let v = match cls {
                        Value::Global(Global::OrderedDict) => self.obj(Obj::Dict(Dict::default())),
                        Value::Global(Global::Set) => self.obj(Obj::Set(Vec::new())),
                        other => {
                            return self.err(format!("NEWOBJ of {}: not allowed", other.kind()))
                        }
                    };
                    self.push(v);
                }
                b'b' => {
                    // BUILD: sets an object's attributes (an OrderedDict's `_metadata`, a
                    // parameter's state). None of it is a tensor; it is dropped.
                    let _state = self.pop()?;
                    match self.stack.last() {
                        Some(Value::Obj(_) | Value::Tensor(_)) => {}
                        Some(v) => return self.err(format!("BUILD on {}", v.kind())),
                        None => return self.err("stack underflow"),
                    }
                }
                b'Q' => {
                    // BINPERSID
                    let pid = self.pop()?;
                    let v = self.persistent_load(&pid)?;
                    self.push(v);
                }
                other => {
                    return self.err(format!(
                        "opcode 0x{other:02x} ({}) is not supported",
                        if other.is_ascii_graphic() {
                            format!("`{}`", other as char)
                        } else {
                            "binary".to_string()
                        }
                    ))
                }
            }
        }
    }

    fn long(&self, b: &[u8]) -> Res<i64> {
        if b.is_empty() {
            return Ok(0);
        }
        let negative = b[b.len() - 1] & 0x80 != 0;
        let mut a = [if negative { 0xff } else { 0 }; 8];
        let n = b.len().min(8);
        a[..n].copy_from_slice(&b[..n]);
        let v = i64::from_le_bytes(a);
        let fill = if v < 0 { 0xff } else { 0 };
        if b.len() > 8 && b[8..].iter().any(|&x| x != fill) {
            return self.err("integer does not fit in 64 bits");
        }
        Ok(v)
    }
}

/// Collects every tensor under `v`, named by its key path.
fn flatten(
    arena: &[Obj],
    v: &Value,
    name: &mut String,
    out: &mut Vec<(String, Rc<TensorRef>)>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("containers nest more than {MAX_DEPTH} deep"));
    }
    let mut child = |key: &str, v: &Value, out: &mut Vec<_>| {
        let len = name.len();
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(key);
        let r = flatten(arena, v, name, out, depth + 1);
        name.truncate(len);
        r
    };
    match v {
        Value::Tensor(t) => out.push((name.clone(), t.clone())),
        Value::Obj(i) => match &arena[*i] {
            Obj::Dict(d) => {
                for (k, v) in &d.items {
                    let key = match k {
                        Value::Str(s) => s.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                        _ => continue,
                    };
                    child(&key, v, out)?;
                }
            }
            Obj::List(l) | Obj::Tuple(l) => {
                for (i, v) in l.iter().enumerate() {
                    child(&i.to_string(), v, out)?;
                }
            }
            Obj::Set(_) => {}
        },
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The unpickler, opcode by opcode, on hand-assembled pickles.

    use super::*;

    /// A Python-like rendering of a value, for assertions.
    fn repr(arena: &[Obj], v: &Value) -> String {
        let list = |l: &[Value]| l.iter().map(|x| repr(arena, x)).collect::<Vec<_>>();
        match v {
            Value::None => "None".into(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => format!("'{s}'"),
            Value::Global(g) => g.name().into(),
            Value::Storage(s) => format!("storage({}, {}, {})", s.key, s.dtype, s.numel),
            Value::Tensor(t) => format!(
                "tensor({}, {}, {:?}, {:?})",
                t.storage.key, t.offset, t.shape, t.stride
            ),
            Value::Obj(i) => match &arena[*i] {
                Obj::List(l) => format!("[{}]", list(l).join(", ")),
                Obj::Tuple(l) if l.len() == 1 => format!("({},)", repr(arena, &l[0])),
                Obj::Tuple(l) => format!("({})", list(l).join(", ")),
                Obj::Set(l) => format!("{{{}}}", list(l).join(", ")),
                Obj::Dict(d) => format!(
                    "{{{}}}",
                    d.items
                        .iter()
                        .map(|(k, v)| format!("{}: {}", repr(arena, k), repr(arena, v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }

    fn load(p: &[u8]) -> Result<String, Fail> {
        let mut up = Unpickler::new(p);
        let v = up.run()?;
        Ok(repr(&up.arena, &v))
    }

    fn pickle_err(p: &[u8]) -> String {
        match load(p) {
            Err(Fail::Pickle(_, what)) => what,
            other => panic!("expected a pickle error, got {other:?}"),
        }
    }

    /// SHORT_BINUNICODE of `s`.
    fn s(s: &str) -> Vec<u8> {
        let mut v = vec![0x8c, s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn scalars() {
        assert_eq!(load(b"\x80\x02N.").unwrap(), "None");
        assert_eq!(load(b"\x88.").unwrap(), "True");
        assert_eq!(load(b"\x89.").unwrap(), "False");
        assert_eq!(load(b"K\xff.").unwrap(), "255");
        assert_eq!(load(b"M\x01\x02.").unwrap(), "513");
        assert_eq!(load(b"J\xfe\xff\xff\xff.").unwrap(), "-2");
        assert_eq!(load(b"\x8a\x00.").unwrap(), "0");
        assert_eq!(load(b"\x8a\x01\xff.").unwrap(), "-1");
        assert_eq!(
            load(b"\x8a\x05\x00\x00\x00\x00\x01.").unwrap(),
            "4294967296"
        );
        assert_eq!(
            load(b"\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff.").unwrap(),
            "-1"
        );
        assert!(pickle_err(b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.").contains("64 bits"));
        assert_eq!(load(b"G\x3f\xf8\x00\x00\x00\x00\x00\x00.").unwrap(), "1.5");
        assert_eq!(load(b"X\x02\x00\x00\x00hi.").unwrap(), "'hi'");
        assert_eq!(
            load(b"\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi.").unwrap(),
            "'hi'"
        );
        assert_eq!(
            load(&cat(&[&s("\u{e9}t\u{e9}"), b"."])).unwrap(),
            "'\u{e9}t\u{e9}'"
        );
        // A frame header and protocol 4 are accepted.
        assert_eq!(
            load(b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x07.").unwrap(),
            "7"
        );
    }

    #[test]
    fn containers() {
        assert_eq!(load(b"K\x01\x85.").unwrap(), "(1,)");
        assert_eq!(load(b"K\x01K\x02\x86.").unwrap(), "(1, 2)");
        assert_eq!(load(b"K\x01K\x02K\x03\x87.").unwrap(), "(1, 2, 3)");
        assert_eq!(load(b"(K\x01K\x02K\x03K\x04t.").unwrap(), "(1, 2, 3, 4)");
        assert_eq!(load(b").").unwrap(), "()");
        assert_eq!(load(b"(K\x01K\x02l.").unwrap(), "[1, 2]");
        assert_eq!(load(b"]K\x01a(K\x02K\x03e.").unwrap(), "[1, 2, 3]");
        assert_eq!(
            load(&cat(&[b"(", &s("a"), b"K\x01", &s("b"), b"Nd."])).unwrap(),
            "{'a': 1, 'b': None}"
        );
        // SETITEM replaces an equal key in place; SETITEMS adds in order.
        assert_eq!(
            load(&cat(&[
                b"}",
                &s("a"),
                b"K\x01s(",
                &s("b"),
                b"K\x02",
                &s("a"),
                b"K\x03u."
            ]))
            .unwrap(),
            "{'a': 3, 'b': 2}"
        );
        assert_eq!(load(b"\x8f(K\x01K\x02\x90.").unwrap(), "{1, 2}");
        // POP, POP_MARK and DUP.
        assert_eq!(load(b"K\x01K\x020.").unwrap(), "1");
        assert_eq!(load(b"K\x01(K\x02K\x031.").unwrap(), "1");
        assert_eq!(load(b"K\x012\x86.").unwrap(), "(1, 1)");
    }

    #[test]
    fn the_memo_shares_containers_like_python() {
        // d = {}; memo[0] = d; d['x'] = 1 after the put; (d, memo[0]) sees it twice.
        let p = cat(&[b"}q\x00", &s("x"), b"K\x01sh\x00\x86."]);
        assert_eq!(load(&p).unwrap(), "({'x': 1}, {'x': 1})");
        // LONG_BINPUT / LONG_BINGET and MEMOIZE.
        assert_eq!(
            load(b"K\x05r\x00\x01\x00\x00j\x00\x01\x00\x00\x86.").unwrap(),
            "(5, 5)"
        );
        assert_eq!(
            load(b"K\x05\x94K\x06\x94h\x00h\x01\x86.").unwrap(),
            "(5, 6)"
        );
        assert!(pickle_err(b"h\x03.").contains("memo slot 3"));
    }

    #[test]
    fn ordered_dicts_tensors_and_parameters() {
        let od = b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93";
        // OrderedDict() then SETITEMS, then BUILD with its `_metadata` (dropped).
        let p = cat(&[
            od,
            b")R(",
            &s("k"),
            b"K\x01u}",
            &s("_metadata"),
            b"K\x00sb.",
        ]);
        assert_eq!(load(&p).unwrap(), "{'k': 1}");
        // OrderedDict([(k, v)]) and NEWOBJ.
        let p = cat(&[od, b"(", &s("k"), b"K\x02\x86l\x85R."]);
        assert_eq!(load(&p).unwrap(), "{'k': 2}");
        assert_eq!(load(&cat(&[od, b")\x81."])).unwrap(), "{}");
        // A tensor exactly as torch writes it, as a parameter, and from_type_v2.
        let storage = b"(X\x07\x00\x00\x00storagectorch\nHalfStorage\nX\x01\x00\x00\x003X\x03\x00\x00\x00cpuK\x1ctQ";
        let tensor = cat(&[
            b"ctorch._utils\n_rebuild_tensor_v2\n(",
            storage,
            b"K\x02K\x03K\x04\x86K\x01K\x03\x86\x89",
            od,
            b")Rt",
        ]);
        assert_eq!(
            load(&cat(&[&tensor, b"R."])).unwrap(),
            "tensor(3, 2, [3, 4], [1, 3])"
        );
        let param = cat(&[
            b"ctorch._utils\n_rebuild_parameter\n(",
            &tensor,
            b"R\x88",
            od,
            b")RtR.",
        ]);
        assert_eq!(load(&param).unwrap(), "tensor(3, 2, [3, 4], [1, 3])");
        let typed = cat(&[
            b"ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\nctorch\nTensor\n",
            &tensor[b"ctorch._utils\n_rebuild_tensor_v2\n".len()..],
            b"}tR.",
        ]);
        assert_eq!(load(&typed).unwrap(), "tensor(3, 2, [3, 4], [1, 3])");
        // A bare persistent load.
        assert_eq!(
            load(&cat(&[storage, b"."])).unwrap(),
            "storage(3, torch.float16, 28)"
        );
    }

    #[test]
    fn globals_outside_the_whitelist_are_refused_by_name() {
        assert_eq!(
            load(b"cos\nsystem\n(X\x02\x00\x00\x00lstR."),
            Err(Fail::Forbidden("os.system".into()))
        );
        assert_eq!(
            load(&cat(&[&s("builtins"), &s("eval"), b"\x93."])),
            Err(Fail::Forbidden("builtins.eval".into()))
        );
        assert_eq!(
            load(b"ctorch\nComplexFloatStorage\n."),
            Err(Fail::UnsupportedStorage("torch.ComplexFloatStorage".into()))
        );
        // Allowed globals cannot be called with arbitrary arguments.
        assert!(pickle_err(b"ctorch\nFloatStorage\n)R.").contains("cannot call"));
        assert!(
            pickle_err(b"ctorch._utils\n_rebuild_parameter\nK\x01\x85R.").contains("cannot call")
        );
    }

    #[test]
    fn malformed_pickles_are_errors() {
        assert!(pickle_err(b"").contains("truncated"));
        assert!(pickle_err(b"N").contains("truncated"));
        assert!(pickle_err(b".").contains("underflow"));
        assert!(pickle_err(b"X\xff\xff\xff\xff.").contains("truncated"));
        assert!(pickle_err(b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff.").contains("truncated"));
        assert!(pickle_err(b"\x8c\x02\xff\xfe.").contains("UTF-8"));
        assert!(pickle_err(b"cos\nsys").contains("newline"));
        assert!(pickle_err(b"\x80\x09N.").contains("protocol 9"));
        assert!(pickle_err(b"K\x01a.").contains("underflow"));
        assert!(pickle_err(b"K\x01K\x01a.").contains("container"));
        assert!(pickle_err(b"K\x01(\x85.").contains("underflow"));
        assert!(pickle_err(b"(K\x01K\x02u.").contains("underflow"));
        assert!(pickle_err(b"}(K\x01u.").contains("odd"));
        assert!(pickle_err(b"t.").contains("MARK"));
        assert!(pickle_err(b"}K\x01b0(K\x01b.").contains("underflow"));
        assert!(pickle_err(b"K\x01N\x81.").contains("NEWOBJ"));
        assert!(pickle_err(b"S'x'\n.").contains("0x53"));
        assert!(pickle_err(b"K\x01K\x02R.").contains("REDUCE"));
        assert!(pickle_err(b"((X\x01\x00\x00\x00xtQ.").contains("persistent id"));
    }

    #[test]
    fn flatten_names_tensors_by_their_key_path_and_stops_at_cycles() {
        let tensor = |key: &str| {
            Value::Tensor(Rc::new(TensorRef {
                storage: Rc::new(StorageRef {
                    dtype: PthDtype::F32,
                    key: key.into(),
                    numel: 1,
                }),
                offset: 0,
                shape: vec![],
                stride: vec![],
            }))
        };
        let mut inner = Dict::default();
        inner.insert(Value::Str("w".into()), tensor("0"));
        inner.insert(Value::Str("iter".into()), Value::Int(3));
        let mut arena = vec![Obj::Dict(inner), Obj::List(vec![tensor("1"), Value::None])];
        let mut outer = Dict::default();
        outer.insert(Value::Str("ema".into()), Value::Obj(0));
        outer.insert(Value::Int(7), Value::Obj(1));
        arena.push(Obj::Dict(outer));
        let mut out = Vec::new();
        flatten(&arena, &Value::Obj(2), &mut String::new(), &mut out, 0).unwrap();
        let names: Vec<_> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["ema.w", "7.0"]);
        // A list that holds itself.
        let arena = vec![Obj::List(vec![Value::Obj(0)])];
        let e = flatten(
            &arena,
            &Value::Obj(0),
            &mut String::new(),
            &mut Vec::new(),
            0,
        );
        assert!(e.unwrap_err().contains("nest"));
    }

    #[test]
    fn bounds_are_checked_before_reading() {
        let t = |numel: u64, offset: u64, shape: &[u64], stride: &[u64]| TensorRef {
            storage: Rc::new(StorageRef {
                dtype: PthDtype::F32,
                key: "0".into(),
                numel,
            }),
            offset,
            shape: shape.to_vec(),
            stride: stride.to_vec(),
        };
        assert_eq!(t(10, 0, &[2, 5], &[5, 1]).needs(), Ok(10));
        assert_eq!(t(10, 3, &[2, 2], &[1, 4]).needs(), Ok(9));
        assert_eq!(t(10, 9, &[], &[]).needs(), Ok(10));
        assert_eq!(t(0, 99, &[0, 4], &[4, 1]).needs(), Ok(0));
        // Expanded (stride 0): more elements than the storage has.
        assert_eq!(t(1, 0, &[4], &[0]).needs(), Ok(4));
        assert!(t(1, 0, &[4], &[0]).check().is_err());
        assert!(t(10, 1, &[2, 5], &[5, 1]).check().is_err());
        let huge = t(10, 0, &[1 << 62, 1 << 62, 1 << 62], &[1, 1, 1]);
        assert!(matches!(huge.needs(), Err(TensorError::TooLarge { .. })));
        let empty = t(10, 0, &[1 << 40, 1 << 40, 0], &[1, 1, 1]);
        assert!(matches!(empty.needs(), Err(TensorError::TooLarge { .. })));
        assert_eq!(t(10, 0, &[1 << 20, 1 << 20, 0], &[1, 1, 1]).needs(), Ok(0));
        let far = t(10, u64::MAX, &[2], &[u64::MAX]);
        assert!(matches!(far.check(), Err(TensorError::OutOfBounds { .. })));
        // The storage's bytes are checked against its declared size.
        let raw = [0u8; 12];
        assert!(matches!(
            t(4, 0, &[4], &[1]).gather(&raw, false),
            Err(TensorError::StorageShort { .. })
        ));
    }

    #[test]
    fn gather_follows_offsets_and_strides() {
        let raw: Vec<u8> = (0..12).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let t = |offset: u64, shape: &[u64], stride: &[u64]| TensorRef {
            storage: Rc::new(StorageRef {
                dtype: PthDtype::F32,
                key: "0".into(),
                numel: 12,
            }),
            offset,
            shape: shape.to_vec(),
            stride: stride.to_vec(),
        };
        // [3, 4] transposed: [4, 3] with strides [1, 4].
        assert_eq!(
            t(0, &[4, 3], &[1, 4]).gather(&raw, false).unwrap(),
            [0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]
        );
        assert_eq!(
            t(3, &[4], &[1]).gather(&raw, false).unwrap(),
            [3., 4., 5., 6.]
        );
        assert_eq!(
            t(1, &[2, 1, 2], &[6, 1, 2]).gather(&raw, false).unwrap(),
            [1., 3., 7., 9.]
        );
        assert_eq!(t(5, &[], &[]).gather(&raw, false).unwrap(), [5.]);
        let be: Vec<u8> = (0..12).flat_map(|i| (i as f32).to_be_bytes()).collect();
        assert_eq!(t(2, &[2], &[1]).gather(&be, true).unwrap(), [2., 3.]);
    }

    #[test]
    fn dtypes_convert_exactly() {
        let one = |d: PthDtype, b: &[u8]| d.decode(b, false);
        assert_eq!(one(PthDtype::F16, &0x3c00u16.to_le_bytes()), 1.0);
        assert_eq!(one(PthDtype::F16, &0x0001u16.to_le_bytes()), 2f32.powi(-24));
        assert_eq!(one(PthDtype::BF16, &0x3fc0u16.to_le_bytes()), 1.5);
        assert_eq!(one(PthDtype::F64, &0.25f64.to_le_bytes()), 0.25);
        assert_eq!(one(PthDtype::I64, &(-7i64).to_le_bytes()), -7.0);
        assert_eq!(one(PthDtype::I32, &(-7i32).to_le_bytes()), -7.0);
        assert_eq!(one(PthDtype::I16, &(-7i16).to_le_bytes()), -7.0);
        assert_eq!(one(PthDtype::I8, &[0xf9]), -7.0);
        assert_eq!(one(PthDtype::U8, &[0xf9]), 249.0);
        assert_eq!(one(PthDtype::Bool, &[2]), 1.0);
        assert_eq!(PthDtype::F16.decode(&0x3c00u16.to_be_bytes(), true), 1.0);
    }
}
