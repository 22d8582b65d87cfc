//! The scenario files under a directory, subdirectories included (scenarios/compare/,
//! scenarios/teaching/), in a stable order.

use std::path::{Path, PathBuf};

/// Every `.ron` file under `dir`, recursively, sorted by path; an unreadable directory gives
/// none.
pub fn scenario_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|entry| entry.ok().map(|e| e.path())) {
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "ron") {
            files.push(path);
        }
    }
}
