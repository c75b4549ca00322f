//! The C allocator's settings for processes that run a model over and over.
//!
//! libtorch and tract allocate every intermediate tensor through `malloc`. glibc serves
//! blocks above its mmap threshold (dynamic, at most 32 MiB by default) with fresh `mmap`s
//! and returns freed heap tops to the kernel, so each call page-faults its large tensors in
//! again. With both thresholds raised, freed blocks stay in the process and are reused:
//! measured on the paper model (2 threads), one tch training step (batch 16, 96x96 crops)
//! went from 0.69 s to 0.53 s, and tract's model time by 15-20%; ONNX Runtime, which keeps
//! its own arena, does not change (BENCHMARKS.md). PyTorch eager gets the same from
//! `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...` or jemalloc; by default it does not. The
//! price: memory freed by the process is kept for reuse rather than returned, so its RSS
//! stays at its peak. `srgan-run`, `srgan-bench` and `srgan-train` call
//! [`keep_freed_memory`] at start; a library user decides for their own process.

/// Raises glibc's mmap and trim thresholds to their maximum (see the module docs). Returns
/// whether the allocator took them: `false` on other C libraries, where this does nothing.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; any value is accepted or
        // refused (return value 0), and these take effect for later allocations.
        unsafe {
            let mmap = libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
            let trim = libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            mmap == 1 && trim == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_thresholds() {
        assert!(super::keep_freed_memory());
        // A 16 MiB block now comes from the heap: the bytes glibc holds in mmapped blocks
        // (`hblkhd`) do not grow by its size (by default, above 128 KiB, they would). (A test
        // runs on a thread, whose arena cannot hold blocks near 64 MiB at all.)
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let mapped = || unsafe { libc::mallinfo2() }.hblkhd;
        let before = mapped();
        let a = vec![1u8; 16 << 20];
        let during = mapped();
        std::hint::black_box(&a);
        assert!(
            during < before + (16 << 20),
            "mmapped bytes {before} -> {during}"
        );
    }
}
