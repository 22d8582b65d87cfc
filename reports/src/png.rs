//! PNG charts for CI artifacts: the same charts as the HTML page, drawn on plotters' bitmap
//! backend. Labels need a TrueType font (see [`crate::text`]); without one the charts are
//! still written, without text, and [`font_note`] says so.

use crate::charts::{self, Chart};
use crate::Report;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Which font PNG labels use, in words for the command line.
pub fn font_note() -> String {
    match crate::text::font() {
        Some((path, _)) => format!("PNG labels drawn with {}", path.display()),
        None => "no TrueType font found (install fonts-dejavu-core, or set FAULTLINE_FONT to a .ttf file): PNG charts are drawn without text".to_string(),
    }
}

/// Writes every available chart as `DIR/NAME.png`; returns the files written.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let font = crate::text::font().map(|(_, font)| font);
    let mut written = Vec::new();
    for chart in Chart::ALL.into_iter().filter(|c| c.available(report)) {
        let path = dir.join(format!("{}.png", chart.id()));
        {
            let root = BitMapBackend::new(&path, chart.size(report)).into_drawing_area();
            charts::draw(chart, &root, report, font)
                .map_err(|e| format!("drawing {}: {e}", path.display()))?;
        }
        written.push(path);
    }
    Ok(written)
}
