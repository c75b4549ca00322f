//! Cross-crate tests: parity between runtimes, tiling, the CLI end to end.
