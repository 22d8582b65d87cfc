//! Report files: `faultline run SCENARIO --report DIR` (report.json and report.html, and PNG
//! charts with `--png DIR`), and `faultline report report.json` to render a saved report again.

use crate::cli::exit;
use crate::registry::LoadedScenario;
use reports::{Report, TraceCapture};
use sim_core::engine::RunOptions;
use sim_core::time::SimTime;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Replays the run behind `report` with a capturing sink and attaches the trace window around
/// its focus and the events behind its first divergence. A run is a pure function of its
/// scenario and seed, so the replay sees the same events; its trace hash proves it.
pub fn attach_trace_window(
    scenario: &dyn LoadedScenario,
    report: &mut Report,
) -> Result<(), String> {
    let (focus, label) = report
        .focus
        .as_ref()
        .map_or((0, "the start of the run".to_string()), |f| {
            (f.at_ns, f.reason.clone())
        });
    let mut capture = TraceCapture::new(SimTime(focus), label, report.chain_focus());
    let replay = scenario.run(report.seed, RunOptions::default(), Some(&mut capture));
    let hash = replay.trace_hash.to_string();
    if hash != report.trace_hash {
        return Err(format!(
            "the replay for the report differs from the run (trace hash {hash}, expected {}): the run is not deterministic",
            report.trace_hash
        ));
    }
    report.attach_trace(&capture);
    Ok(())
}

/// Writes `DIR/report.json` and `DIR/report.html`; returns the paths.
pub fn write_report_dir(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let json = dir.join("report.json");
    std::fs::write(&json, reports::json::render(report))
        .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    let html = dir.join("report.html");
    write_html(report, &html)?;
    Ok(vec![json, html])
}

/// Writes the HTML page to `path`.
pub fn write_html(report: &Report, path: &Path) -> Result<(), String> {
    let page = reports::html::render(report)?;
    std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes PNG charts into `dir`; the font note goes to stderr.
pub fn write_png(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    eprintln!("{}", reports::png::font_note());
    reports::png::write_all(report, dir)
}

/// Where `run` writes report files.
#[derive(Debug, Default, Clone)]
pub struct ReportOutputs {
    /// `--report DIR`: report.json and report.html.
    pub dir: Option<PathBuf>,
    /// `--png DIR`: the charts as PNG.
    pub png: Option<PathBuf>,
}

impl ReportOutputs {
    /// Whether any file was asked for.
    pub fn wanted(&self) -> bool {
        self.dir.is_some() || self.png.is_some()
    }
}

/// Writes what `outputs` asks for, after replaying the trace window; prints each file written
/// to stderr (stdout keeps the summary or the JSON). On failure, returns the exit code and
/// the message: a replay that differs from the run is an internal error (the run was not
/// deterministic); a file that cannot be written is bad input (the flag named it).
pub fn write_outputs(
    scenario: &dyn LoadedScenario,
    report: &mut Report,
    outputs: &ReportOutputs,
) -> Result<(), (u8, String)> {
    attach_trace_window(scenario, report).map_err(|e| (exit::INTERNAL, e))?;
    let mut written = Vec::new();
    if let Some(dir) = &outputs.dir {
        written.extend(write_report_dir(report, dir).map_err(|e| (exit::BAD_INPUT, e))?);
    }
    if let Some(dir) = &outputs.png {
        written.extend(write_png(report, dir).map_err(|e| (exit::BAD_INPUT, e))?);
    }
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `faultline report FILE [--html FILE] [--png DIR] [--json]`: renders a saved report.
pub fn report(path: &Path, html: Option<&Path>, png: Option<&Path>, json: bool) -> u8 {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", path.display());
            return exit::BAD_INPUT;
        }
    };
    let report = match reports::json::parse(&text) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {}: {error}", path.display());
            return exit::BAD_INPUT;
        }
    };
    let written = html
        .map(|file| write_html(&report, file).map(|_| vec![file.to_path_buf()]))
        .unwrap_or(Ok(Vec::new()))
        .and_then(|mut files| {
            if let Some(dir) = png {
                files.extend(write_png(&report, dir)?);
            }
            Ok(files)
        });
    match written {
        Ok(files) => files
            .iter()
            .for_each(|f| eprintln!("wrote {}", f.display())),
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    }
    let text = if json {
        reports::json::render(&report)
    } else {
        reports::terminal::render(&report, colour())
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    match report.verdict {
        reports::Verdict::Pass => exit::PASS,
        reports::Verdict::Fail => exit::VIOLATION,
        reports::Verdict::Unknown => exit::UNKNOWN,
    }
}

/// Colour on a terminal unless `NO_COLOR` is set, as for `run`.
fn colour() -> reports::terminal::Colour {
    use std::io::IsTerminal;
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || !std::io::stdout().is_terminal()
    {
        reports::terminal::Colour::Off
    } else {
        reports::terminal::Colour::On
    }
}
