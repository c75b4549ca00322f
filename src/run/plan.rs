//! Output planning: which output each input gets (name, format), the inputs of a folder,
//! and the inputs that cannot run (two inputs onto one output, an output onto its input).

use std::path::{Path, PathBuf};

use srgan_imaging::image_io::ImageError;
use srgan_imaging::pipeline::PipelineError;
use srgan_imaging::OutputFormat;

/// File extensions picked up from an input folder (any case).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

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

/// The inputs of a folder, sorted: files with an image extension, and how many other
/// entries were ignored.
pub fn list_images(dir: &Path) -> Result<(Vec<PathBuf>, usize), super::RunError> {
    let entries = std::fs::read_dir(dir).map_err(|e| super::RunError::Input {
        path: dir.into(),
        source: e.into(),
    })?;
    let mut files = Vec::new();
    let mut ignored = 0;
    for entry in entries {
        let entry = entry.map_err(|e| super::RunError::Input {
            path: dir.into(),
            source: e.into(),
        })?;
        let path = entry.path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if is_image && !hidden && path.is_file() {
            files.push(path);
        } else if !hidden {
            ignored += 1;
        }
    }
    files.sort();
    Ok((files, ignored))
}

/// The jobs of a folder run, and the inputs that cannot run (duplicate output, output =
/// input).
pub fn plan_folder(
    files: Vec<PathBuf>,
    out_dir: &Path,
    format: Option<OutputFormat>,
    jpeg_quality: u8,
) -> (Vec<Job>, Vec<FileError>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    let mut claimed = std::collections::HashMap::new();
    for input in files {
        let f = format.unwrap_or_else(|| with_quality(input_format(&input), jpeg_quality));
        let output = output_in(out_dir, &input, f);
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
        let (files, ignored) = list_images(d).unwrap();
        assert_eq!(ignored, 1);
        assert_eq!(files.len(), 3);
        let out = d.join("out");
        let (jobs, bad) = plan_folder(files.clone(), &out, Some(OutputFormat::Png), 95);
        assert_eq!(jobs.len(), 2);
        assert_eq!(bad.len(), 1);
        assert!(matches!(bad[0], FileError::DuplicateOutput { .. }));
        // Same format as input: no clash.
        let (jobs, bad) = plan_folder(files.clone(), &out, None, 95);
        assert_eq!(jobs.len(), 3);
        assert!(bad.is_empty());
        assert_eq!(jobs[2].output, out.join("b.jpg"));
        // Output folder = input folder with the same format would replace the inputs.
        // (b.JPG -> b.jpg is another file on a case-sensitive file system.)
        let (jobs, bad) = plan_folder(files, d, None, 95);
        assert_eq!(jobs.len(), 1);
        assert_eq!(bad.len(), 2);
        assert!(bad
            .iter()
            .all(|e| matches!(e, FileError::OutputIsInput { .. })));
    }
}
