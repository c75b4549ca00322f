//! Output planning: which output each input gets (name, format), the inputs of a folder,
//! and the inputs that cannot run (two inputs onto one output, an output onto its input).

use std::path::{Path, PathBuf};

use srgan_imaging::image_io::ImageError;
use srgan_imaging::pipeline::PipelineError;
use srgan_imaging::OutputFormat;

/// File extensions picked up from an input folder (any case).
pub const IMAGE_EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "gif"];

/// One image to process.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The input file.
    pub input: PathBuf,
    /// Where the result goes.
    pub output: PathBuf,
    /// In which format.
    pub format: OutputFormat,
}

/// What to process: one file or a folder.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One input file and its output file.
    File(Job),
    /// Every image in `input` (see [`IMAGE_EXTENSIONS`]) into `output`.
    Folder {
        /// The input folder.
        input: PathBuf,
        /// The output folder (created if missing).
        output: PathBuf,
        /// `--format`, if given (else each output keeps its input's format).
        format: Option<OutputFormat>,
        /// JPEG quality for JPEG outputs.
        jpeg_quality: u8,
        /// Also the images of the subfolders; the output mirrors the tree.
        recursive: bool,
    },
    /// One video (see [`super::video`]) into a video file.
    Video {
        /// The input video.
        input: PathBuf,
        /// The output video (its container from its extension).
        output: PathBuf,
    },
    /// The inputs of a `--list` file into `output`.
    List {
        /// The inputs, in the list's order.
        inputs: Vec<PathBuf>,
        /// The output folder (created if missing).
        output: PathBuf,
        /// `--format`, if given (else each output keeps its input's format).
        format: Option<OutputFormat>,
        /// JPEG quality for JPEG outputs.
        jpeg_quality: u8,
    },
}

/// Why one file failed. Each variant's message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading, decoding, encoding or writing failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Upscaling failed.
    #[error("{path}: upscaling with {model}")]
    Upscale {
        /// The input file.
        path: PathBuf,
        /// The model file.
        model: PathBuf,
        /// Why.
        #[source]
        source: PipelineError,
    },
    /// `--max-memory` cannot hold this image.
    #[error("{path}")]
    Budget {
        /// The input file.
        path: PathBuf,
        /// The least budget that would do.
        #[source]
        source: srgan_imaging::budget::BudgetError,
    },
    /// The output size asked for is over `--max-output-pixels`.
    #[error("{path}: the output asked for, {width}x{height}, is over --max-output-pixels {limit}")]
    OutSize {
        /// The input file.
        path: PathBuf,
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
        /// The limit.
        limit: u64,
    },
    /// Two inputs would write the same output.
    #[error("{path}: its output {output} is also the output of {other}")]
    DuplicateOutput {
        /// The input file.
        path: PathBuf,
        /// The output both map to.
        output: PathBuf,
        /// The input that claimed it first.
        other: PathBuf,
    },
    /// The output would replace the input.
    #[error("{path}: the output would replace the input; choose another output folder")]
    OutputIsInput {
        /// The input file.
        path: PathBuf,
    },
}

impl FileError {
    /// The file the failure is about: the input, or for a write the output.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Image(e) => e.path(),
            FileError::Upscale { path, .. }
            | FileError::Budget { path, .. }
            | FileError::OutSize { path, .. }
            | FileError::DuplicateOutput { path, .. }
            | FileError::OutputIsInput { path } => path,
        }
    }
}

pub(crate) fn with_quality(f: OutputFormat, quality: u8) -> OutputFormat {
    match f {
        OutputFormat::Jpeg { .. } => OutputFormat::Jpeg { quality },
        png => png,
    }
}

pub(crate) fn format_of_extension(path: &Path) -> Option<OutputFormat> {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(OutputFormat::from_extension)
}

/// The format of an input file for naming its output: its extension, else its first bytes,
/// else PNG.
pub(crate) fn input_format(path: &Path) -> OutputFormat {
    if let Some(f) = format_of_extension(path) {
        return f;
    }
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    image::guess_format(&head[..n])
        .ok()
        .and_then(OutputFormat::from_image_format)
        .unwrap_or(OutputFormat::Png)
}

/// `dir/stem.ext` for `input`.
pub(crate) fn output_in(dir: &Path, input: &Path, format: OutputFormat) -> PathBuf {
    let stem = input.file_stem().unwrap_or(input.as_os_str());
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(format.extension());
    dir.join(name)
}

/// The inputs of a folder run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// Files with an image extension, sorted.
    pub files: Vec<PathBuf>,
    /// Entries that are not images by extension (and not hidden): ignored.
    pub ignored: usize,
    /// Hidden entries (names starting with `.`), files and folders: skipped.
    pub hidden: usize,
}

/// The inputs of a folder: its image files (by extension, any case), and with `recursive`
/// those of its subfolders too, except `exclude` (the output folder when it lies inside the
/// input) and symbolic links to folders (no cycles).
pub fn list_images(
    dir: &Path,
    recursive: bool,
    exclude: Option<&Path>,
) -> Result<Listing, super::RunError> {
    let excluded = exclude.and_then(|e| std::fs::canonicalize(e).ok());
    let mut listing = Listing::default();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let read_err = |e: std::io::Error| super::RunError::Input {
            path: folder.clone(),
            source: e.into(),
        };
        for entry in std::fs::read_dir(&folder).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                listing.hidden += 1;
                continue;
            }
            let kind = entry.file_type().map_err(read_err)?;
            if kind.is_dir() {
                let is_output = excluded.is_some() && std::fs::canonicalize(&path).ok() == excluded;
                if recursive && !is_output {
                    folders.push(path);
                } else if !recursive {
                    listing.ignored += 1;
                }
                continue;
            }
            let is_image = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if is_image && path.is_file() {
                listing.files.push(path);
            } else {
                listing.ignored += 1;
            }
        }
    }
    listing.files.sort();
    Ok(listing)
}

/// The jobs of a folder run, and the inputs that cannot run (duplicate output, output =
/// input).
pub fn plan_folder(
    files: Vec<PathBuf>,
    in_dir: Option<&Path>,
    out_dir: &Path,
    format: Option<OutputFormat>,
    jpeg_quality: u8,
) -> (Vec<Job>, Vec<FileError>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    let mut claimed = std::collections::HashMap::new();
    for input in files {
        let f = format.unwrap_or_else(|| with_quality(input_format(&input), jpeg_quality));
        // The input's folder below `in_dir`, mirrored below `out_dir` (a recursive run).
        let sub = in_dir
            .and_then(|d| input.parent()?.strip_prefix(d).ok())
            .unwrap_or(Path::new(""));
        let output = output_in(&out_dir.join(sub), &input, f);
        if same_file(&input, &output) {
            bad.push(FileError::OutputIsInput { path: input });
            continue;
        }
        if let Some(other) = claimed.get(&output) {
            bad.push(FileError::DuplicateOutput {
                path: input,
                output,
                other: PathBuf::clone(other),
            });
            continue;
        }
        claimed.insert(output.clone(), input.clone());
        jobs.push(Job {
            input,
            output,
            format: f,
        });
    }
    (jobs, bad)
}

pub(crate) use srgan_contract::files::same_file;

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary folder")
    }

    #[test]
    fn folder_plan_flags_duplicates_and_in_place_outputs() {
        let tmp = tmp();
        let d = tmp.path();
        for n in ["a.png", "a.jpg", "b.JPG", "notes.txt", ".hidden.png"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        let listing = list_images(d, false, None).unwrap();
        assert_eq!((listing.ignored, listing.hidden), (1, 1));
        let files = listing.files;
        assert_eq!(files.len(), 3);
        let out = d.join("out");
        let (jobs, bad) = plan_folder(files.clone(), Some(d), &out, Some(OutputFormat::Png), 95);
        assert_eq!(jobs.len(), 2);
        assert_eq!(bad.len(), 1);
        assert!(matches!(bad[0], FileError::DuplicateOutput { .. }));
        // Same format as input: no clash.
        let (jobs, bad) = plan_folder(files.clone(), Some(d), &out, None, 95);
        assert_eq!(jobs.len(), 3);
        assert!(bad.is_empty());
        assert_eq!(jobs[2].output, out.join("b.jpg"));
        // Output folder = input folder with the same format would replace the inputs.
        // (b.JPG -> b.jpg is another file on a case-sensitive file system.)
        let (jobs, bad) = plan_folder(files, Some(d), d, None, 95);
        assert_eq!(jobs.len(), 1);
        assert_eq!(bad.len(), 2);
        assert!(bad
            .iter()
            .all(|e| matches!(e, FileError::OutputIsInput { .. })));
    }

    /// A recursive listing mirrors the tree, skips hidden folders and the output folder
    /// inside the input, and does not follow a link to a folder (no cycle).
    #[test]
    fn recursive_listing_mirrors_the_tree() {
        let tmp = tmp();
        let d = tmp.path();
        for sub in ["x/y", ".git", "out"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        for n in ["a.png", "x/b.jpg", "x/y/c.png", ".git/d.png", "out/e.png"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        std::os::unix::fs::symlink(d, d.join("x/loop")).unwrap();
        let flat = list_images(d, false, None).unwrap();
        assert_eq!(flat.files, vec![d.join("a.png")]);
        let out = d.join("out");
        let deep = list_images(d, true, Some(&out)).unwrap();
        assert_eq!(
            deep.files,
            vec![d.join("a.png"), d.join("x/b.jpg"), d.join("x/y/c.png")]
        );
        assert_eq!(deep.hidden, 1);
        let (jobs, bad) = plan_folder(deep.files, Some(d), &out, None, 95);
        assert!(bad.is_empty());
        let outs: Vec<_> = jobs.iter().map(|j| j.output.clone()).collect();
        assert_eq!(
            outs,
            vec![
                out.join("a.png"),
                out.join("x/b.jpg"),
                out.join("x/y/c.png")
            ]
        );
    }
}
