//! srgan: the command-line side of the pipeline (srgan-run, srgan-eval, srgan-bench).
