//! `faultline list`: the protocols and their invariants, the checks a scenario can ask for, the
//! bundled scenarios with what each is for, and the terms `faultline explain` knows.

use crate::registry::Registry;
use sim_core::scenario::CheckName;
use std::io::Write;
use std::path::Path;

/// Every check a scenario's `checks: [...]` may name, in the order the reference lists them.
pub const CHECKS: [CheckName; 10] = [
    CheckName::Convergence,
    CheckName::LostWrites,
    CheckName::Linearizable,
    CheckName::Sequential,
    CheckName::Causal,
    CheckName::ReadYourWrites,
    CheckName::MonotonicReads,
    CheckName::MonotonicWrites,
    CheckName::WritesFollowReads,
    CheckName::StaleReads,
];

/// What a check demands, in one line.
pub fn check_summary(check: CheckName) -> &'static str {
    // A match, not a table: a new check does not compile until it is described here.
    match check {
        CheckName::Convergence => {
            "after settle, every replica of every key holds the same versions"
        }
        CheckName::LostWrites => {
            "no acknowledged write vanished without a later write to explain it"
        }
        CheckName::Linearizable => {
            "each operation takes effect at one instant between invocation and completion"
        }
        CheckName::Sequential => "one order of all operations keeps every client's own order",
        CheckName::Causal => "no read contradicts the causal order of writes and reads",
        CheckName::ReadYourWrites => "each client reads its own completed writes, or newer",
        CheckName::MonotonicReads => "a client never reads an older version after a newer one",
        CheckName::MonotonicWrites => "a client's writes take effect in the order it made them",
        CheckName::WritesFollowReads => "a client's write is ordered after the writes it had read",
        CheckName::StaleReads => "no read returns a value overwritten before the read began",
    }
}

// The first paragraph, not just the first line: some headers wrap their opening sentence.
/// What a scenario file says it is for: its first comment paragraph, as one line.
pub fn purpose(text: &str) -> Option<String> {
    let lines = text
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty());
    let paragraph: Vec<&str> = lines
        .map_while(|line| line.strip_prefix("//").map(str::trim))
        .take_while(|line| !line.is_empty())
        .collect();
    (!paragraph.is_empty()).then(|| paragraph.join(" "))
}

/// The whole listing, for the scenarios under `dir`.
pub fn render(registry: &Registry, dir: &Path) -> String {
    let mut text = String::from("protocols:\n");
    let width = registry
        .protocols()
        .map(|p| p.name().len())
        .max()
        .unwrap_or(0)
        + 2;
    for protocol in registry.protocols() {
        text.push_str(&format!(
            "  {:<width$}{}\n",
            protocol.name(),
            protocol.summary()
        ));
        let invariants = protocol.invariants();
        if !invariants.is_empty() {
            let names = invariants.join(", ");
            text.push_str(&format!("  {:<width$}invariants: {names}\n", ""));
        }
    }
    text.push_str("checks (a scenario's `checks: [...]`):\n");
    for check in CHECKS {
        let name = format!("{check:?}");
        text.push_str(&format!("  {name:<19}{}\n", check_summary(check)));
    }
    text.push_str(&scenarios(registry, dir));
    text.push_str("explain terms (`faultline explain TERM`):\n");
    let names: Vec<&str> = crate::explain::terms().iter().map(|t| t.name).collect();
    text.push_str(&crate::explain::wrap(&names.join(", "), "  "));
    text
}

/// One line per scenario file under `dir`: the file, its protocol and its purpose.
fn scenarios(registry: &Registry, dir: &Path) -> String {
    let files = crate::bundled::scenario_files(dir);
    if files.is_empty() {
        return String::new();
    }
    let width = files
        .iter()
        .map(|f| f.display().to_string().len())
        .max()
        .unwrap_or(0)
        + 2;
    let mut text = String::from("scenarios (`faultline run FILE`):\n");
    for path in files {
        let file = path.display().to_string();
        let line = match registry.load_file(&file) {
            Ok(scenario) => {
                let what = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| purpose(&t))
                    .unwrap_or_else(|| scenario.name().to_string());
                format!("{:<10}{what}", scenario.protocol())
            }
            Err(error) => format!("unreadable: {error}"),
        };
        text.push_str(&format!("  {file:<width$}{line}\n"));
    }
    text
}

/// Prints the listing; returns the exit code.
pub fn print(registry: &Registry, dir: &Path) -> u8 {
    // Errors ignored: `faultline list | head` must not panic.
    let _ = std::io::stdout()
        .lock()
        .write_all(render(registry, dir).as_bytes());
    crate::cli::exit::PASS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purpose_is_the_first_comment_line() {
        let text = "\n// A partition heals,\n// twice.\n//\n// More.\nScenario()";
        assert_eq!(purpose(text).as_deref(), Some("A partition heals, twice."));
        assert_eq!(purpose("Scenario(name: \"x\")"), None);
    }
}
