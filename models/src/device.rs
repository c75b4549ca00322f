//! Devices are resolved here, in one place: `cpu`, `cuda` or `cuda:N`. An explicit CUDA device
//! that cannot be had is an error that says why, never a silent fall back to the CPU.

use crate::error::{ModelsError, Result};

/// Parses `cpu`, `cuda` or `cuda:N` and checks that the device exists.
pub fn resolve_device(name: &str) -> Result<tch::Device> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "cpu" {
        return Ok(tch::Device::Cpu);
    }
    let index = match lower.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|i| i.parse::<usize>().ok())
            .ok_or_else(|| ModelsError::DeviceName(name.into()))?,
        None => return Err(ModelsError::DeviceName(name.into())),
    };
    cuda_device(index, name)
}

/// CUDA device `index`, or an error saying why it cannot be had.
pub fn cuda_device(index: usize, shown_as: &str) -> Result<tch::Device> {
    if !tch::Cuda::is_available() {
        return Err(ModelsError::DeviceUnavailable {
            device: shown_as.into(),
            reason: "libtorch sees no CUDA device (a CPU-only libtorch, no GPU or driver, or a \
                     binary linked without -Wl,--no-as-needed -ltorch_cuda)"
                .into(),
        });
    }
    let count = tch::Cuda::device_count() as usize;
    if index >= count {
        return Err(ModelsError::DeviceUnavailable {
            device: shown_as.into(),
            reason: format!("only {count} CUDA device(s)"),
        });
    }
    Ok(tch::Device::Cuda(index))
}

/// The tch device for a runtime device of `srgan_runtimes` (CPU or CUDA; TensorRT is not
/// something libtorch offers).
pub fn from_runtime_device(d: &srgan_runtimes::Device) -> Result<tch::Device> {
    match d {
        srgan_runtimes::Device::Cpu => Ok(tch::Device::Cpu),
        srgan_runtimes::Device::Cuda(i) => cuda_device(*i as usize, &d.to_string()),
        srgan_runtimes::Device::TensorRt(_) => Err(ModelsError::DeviceUnavailable {
            device: d.to_string(),
            reason: "tch runs on cpu or cuda[:N]; TensorRT is only offered by the ort runtime"
                .into(),
        }),
    }
}
