//! Helpers the integration tests share: running the built binary and scratch files.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the built `faultline` binary from the repository root, without colour.
pub fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the faultline binary runs")
}

/// A fresh path for `name` in this test process's own scratch folder for `suite` (any file
/// left there by an earlier use is removed).
pub fn temp(suite: &str, name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("faultline-{suite}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path.display().to_string()
}
