//! Devices are resolved here, in one place. The grammar is `srgan_runtimes::Device`'s (`cpu`,
//! `cuda[:N]`, `tensorrt[:N]`), the one every command line parses; this module maps it to a
//! `tch::Device`. An explicit CUDA device that cannot be had is an error that says why, never a
//! silent fall back to the CPU; TensorRT is an error naming the device (libtorch has none).

use srgan_runtimes::Device;

use crate::error::{ModelsError, Result};

/// Parses a device name with `srgan_runtimes::Device`'s grammar and resolves it with
/// [`tch_device`].
pub fn resolve_device(name: &str) -> Result<tch::Device> {
    let device: Device = name.parse()?;
    tch_device(&device)
}

/// The tch device for a runtime device: CPU, or a CUDA device that exists. TensorRT is not
/// something libtorch offers.
pub fn tch_device(d: &Device) -> Result<tch::Device> {
    match d {
        Device::Cpu => Ok(tch::Device::Cpu),
        Device::Cuda(i) => cuda_device(*i as usize, &d.to_string()),
        Device::TensorRt(_) => Err(ModelsError::DeviceUnavailable {
            device: d.to_string(),
            reason: "tch runs on cpu or cuda[:N]; TensorRT is only offered by the ort runtime"
                .into(),
        }),
    }
}

/// CUDA device `index`, or an error saying why it cannot be had.
fn cuda_device(index: usize, shown_as: &str) -> Result<tch::Device> {
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
