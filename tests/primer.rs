//! docs/consistency.md keeps its figures honest: every figure on the page is a ```console block
//! whose `$ faultline ...` lines are run here, through `sh` (so globs expand as they do for a
//! reader), with the built binary first on the PATH and stderr merged into stdout as a terminal
//! shows them. Every output line the page shows must appear in the real output, in the same
//! order. The page's conventions:
//!
//! - a line that is only `…` stands for lines left out;
//! - a `…` inside a line stands for text left out of that line; the pieces around it must
//!   appear, in order, in one line of the real output;
//! - a line `[exit N]` says the command exits with N;
//! - paths under `/tmp/primer/` are where commands write files: the test redirects them to a
//!   fresh directory of its own and checks that every file or folder named after `--out`,
//!   `--report`, `--png`, `--history`, `--html` or `--trace` was produced;
//! - an image the page shows from `primer/` must exist in docs/primer and stay under 100 KB.

use std::path::{Path, PathBuf};
use std::process::Command;

const PAGE: &str = "docs/consistency.md";
const TMP: &str = "/tmp/primer/";
const WRITES_FILES: [&str; 6] = [
    "--out",
    "--report",
    "--png",
    "--history",
    "--html",
    "--trace",
];

/// One `$ command` of the page and the lines the page shows after it.
#[derive(Debug)]
struct Figure {
    /// The line of the page the command is on (1-based), for messages.
    line: usize,
    command: String,
    expected: Vec<String>,
    exit: Option<i32>,
}

/// Every command of every ```console block of the page, with its expected output.
fn figures(page: &str) -> Vec<Figure> {
    let mut figures: Vec<Figure> = Vec::new();
    let mut in_console = false;
    for (index, line) in page.lines().enumerate() {
        let number = index + 1;
        if !in_console {
            if line.trim_end() == "```console" {
                in_console = true;
            }
            continue;
        }
        if line.trim_end() == "```" {
            in_console = false;
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            figures.push(Figure {
                line: number,
                command: command.trim().to_string(),
                expected: Vec::new(),
                exit: None,
            });
            continue;
        }
        let figure = figures
            .last_mut()
            .unwrap_or_else(|| panic!("{PAGE}:{number}: output before any `$ ` command"));
        let text = line.trim_end();
        if let Some(code) = text
            .strip_prefix("[exit ")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            let code = code
                .parse()
                .unwrap_or_else(|_| panic!("{PAGE}:{number}: bad exit line {text:?}"));
            figure.exit = Some(code);
        } else {
            figure.expected.push(text.to_string());
        }
    }
    assert!(!in_console, "{PAGE}: a ```console block is not closed");
    figures
}

/// Whether `actual` is a line the page's `expected` line shows (with `…` elisions).
fn shows(expected: &str, actual: &str) -> bool {
    let actual = actual.trim_end();
    if !expected.contains('…') {
        return expected == actual;
    }
    let mut rest = actual;
    let pieces: Vec<&str> = expected.split('…').collect();
    for (i, piece) in pieces.iter().enumerate() {
        if piece.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(piece) {
                Some(after) => rest = after,
                None => return false,
            }
        } else if i == pieces.len() - 1 {
            return rest.ends_with(piece);
        } else {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
    }
    true
}

/// The first expected line that does not appear, in order, in the output; None if all do.
fn first_missing<'a>(expected: &'a [String], output: &str) -> Option<&'a str> {
    let mut actual = output.lines();
    for line in expected {
        if line.is_empty() || line == "…" {
            continue;
        }
        if !actual.by_ref().any(|candidate| shows(line, candidate)) {
            return Some(line);
        }
    }
    None
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory standing for /tmp/primer/.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-primer-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[test]
fn every_figure_of_the_primer_is_what_its_command_prints() {
    let page = std::fs::read_to_string(repository().join(PAGE)).expect("the primer exists");
    let figures = figures(&page);
    assert!(
        figures.len() >= 10,
        "{PAGE}: only {} figures found",
        figures.len()
    );
    let binary = Path::new(env!("CARGO_BIN_EXE_faultline"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("the binary's folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let scratch = scratch();
    let here = format!("{}/", scratch.display());
    let mut failures = Vec::new();
    for figure in &figures {
        assert!(
            figure.command.starts_with("faultline "),
            "{PAGE}:{}: a figure's command must run faultline: {}",
            figure.line,
            figure.command
        );
        assert!(
            !figure.expected.iter().all(|l| l.is_empty() || l == "…") || figure.exit.is_some(),
            "{PAGE}:{}: the figure shows nothing to check",
            figure.line
        );
        let command = figure.command.replace(TMP, &here);
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("exec 2>&1; {command}"))
            .current_dir(repository())
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&output.stdout).replace(&here, TMP);
        if let Some(code) = figure.exit {
            if output.status.code() != Some(code) {
                failures.push(format!(
                    "{PAGE}:{}: `{}` exited {:?}, the page says {code}\n{text}",
                    figure.line,
                    figure.command,
                    output.status.code()
                ));
                continue;
            }
        }
        if let Some(line) = first_missing(&figure.expected, &text) {
            failures.push(format!(
                "{PAGE}:{}: `{}` did not print (in this order) the line\n  {line}\nit printed:\n{text}",
                figure.line, figure.command
            ));
            continue;
        }
        let words: Vec<&str> = command.split_whitespace().collect();
        for pair in words.windows(2) {
            if WRITES_FILES.contains(&pair[0]) && pair[1].starts_with(&here) {
                let written = Path::new(pair[1]);
                let produced = if written.is_dir() {
                    std::fs::read_dir(written).is_ok_and(|mut d| d.next().is_some())
                } else {
                    written.metadata().is_ok_and(|m| m.len() > 0)
                };
                if !produced {
                    failures.push(format!(
                        "{PAGE}:{}: `{}` did not write {}",
                        figure.line,
                        figure.command,
                        pair[1].replace(&here, TMP)
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn images_the_primer_shows_are_committed_and_small() {
    let page = std::fs::read_to_string(repository().join(PAGE)).expect("the primer exists");
    let mut images = 0;
    for (start, _) in page.match_indices("](primer/") {
        let rest = &page[start + 2..];
        let end = rest.find(')').expect("a closed link");
        let file = repository().join("docs").join(&rest[..end]);
        let size = file
            .metadata()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .len();
        assert!(size < 100_000, "{}: {size} bytes", file.display());
        images += 1;
    }
    assert!(images >= 1, "{PAGE} shows no chart");
}

#[test]
fn the_elision_rules_match_what_they_should() {
    assert!(shows("  seed        1", "  seed        1  "));
    assert!(!shows("  seed        1", "  seed        12"));
    assert!(shows(
        "  verdict     FAIL…",
        "  verdict     FAIL: 1 violation(s)"
    ));
    assert!(shows(
        "    - stale-reads (…): … first: c3 read k0…",
        "    - stale-reads (442.523ms): 9 of 50 reads were stale; first: c3 read k0 (op7)"
    ));
    assert!(!shows("a…c", "abd"));
    assert!(!shows("…b…", "ac"));
    let expected = vec!["a".to_string(), "…".to_string(), "c".to_string()];
    assert_eq!(first_missing(&expected, "a\nb\nc\n"), None);
    assert_eq!(first_missing(&expected, "c\na\n"), Some("c"));
}
