//! `faultline explain` and `faultline list` as a student meets them: every term names a
//! scenario that exists and a command that runs and exits as the term says, with the violation
//! and the ladder cell it promises; unknown terms exit 2 with a suggestion; `list` names every
//! term, scenario, check and invariant.

mod common;
use common::faultline;

use faultline::explain::{self, Term};
use std::collections::BTreeMap;
use std::process::Output;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The text with every run of whitespace made one space, so that wrapped lists still match.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs a term's command, as printed, with `--json` added; returns the exit code and report.
fn run_command(term: &Term) -> (Option<i32>, serde_json::Value) {
    let command = term.command();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[..2], ["faultline", "run"], "{command}");
    let mut args = words[1..].to_vec();
    args.push("--json");
    let output = faultline(&args);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{command}: {e}: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), report)
}

#[test]
fn every_term_names_a_scenario_whose_run_shows_what_the_term_says() {
    // Several terms share a scenario: run each once.
    let mut runs: BTreeMap<&str, (Option<i32>, serde_json::Value)> = BTreeMap::new();
    for term in explain::terms() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(term.scenario);
        assert!(
            path.is_file(),
            "{}: {} does not exist",
            term.name,
            term.scenario
        );
        let (code, report) = runs
            .entry(term.scenario)
            .or_insert_with(|| run_command(term));
        assert_eq!(
            *code,
            Some(term.exit as i32),
            "{}: {}",
            term.name,
            term.command()
        );
        let names: Vec<&str> = report["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .map(|v| v["name"].as_str().expect("a name"))
            .collect();
        if let Some(violation) = term.violation {
            assert!(names.contains(&violation), "{}: {names:?}", term.name);
        }
        if let Some((model, status)) = term.ladder {
            let cell = report["ladder"]
                .as_array()
                .expect("ladder")
                .iter()
                .find(|cell| cell["model"] == model)
                .unwrap_or_else(|| panic!("{}: no ladder cell {model}", term.name));
            assert_eq!(cell["status"], status, "{}: {model}", term.name);
        }
    }
}

#[test]
fn every_term_and_alias_is_explained_whatever_its_spelling() {
    for term in explain::terms() {
        let shouting = term.name.to_uppercase().replace(' ', "_");
        for spelling in std::iter::once(shouting.as_str())
            .chain(std::iter::once(term.name))
            .chain(term.aliases.iter().copied())
        {
            let output = faultline(&["explain", spelling]);
            assert_eq!(output.status.code(), Some(0), "{spelling}");
            let text = stdout(&output);
            assert!(text.starts_with(term.name), "{spelling}: {text}");
            assert!(text.contains(&term.command()), "{spelling}: {text}");
        }
    }
    // Words need no quotes.
    let output = faultline(&["explain", "split", "brain"]);
    assert!(stdout(&output).starts_with("split brain"));
}

#[test]
fn an_unknown_term_exits_2_with_a_suggestion_and_the_list() {
    let output = faultline(&["explain", "linearizabilty"]);
    assert_eq!(output.status.code(), Some(2));
    let text = flat(&String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("did you mean \"linearizability\"?"), "{text}");
    for term in explain::terms() {
        assert!(text.contains(term.name), "{}", term.name);
    }
    let output = faultline(&["explain", "xyzzy"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("did you mean"));
}

#[test]
fn explain_without_a_term_lists_every_term_with_its_summary() {
    let output = faultline(&["explain"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for term in explain::terms() {
        let line = text
            .lines()
            .find(|line| line.trim_start().starts_with(term.name))
            .unwrap_or_else(|| panic!("{} not listed", term.name));
        assert!(line.ends_with(term.summary), "{line}");
    }
}

#[test]
fn list_names_every_protocol_invariant_check_scenario_and_term() {
    let output = faultline(&["list"]);
    assert_eq!(output.status.code(), Some(0));
    let text = flat(&stdout(&output));
    let registry = faultline::Registry::builtin();
    for protocol in registry.protocols() {
        assert!(text.contains(protocol.name()), "{}", protocol.name());
        assert!(!protocol.invariants().is_empty(), "{}", protocol.name());
        for invariant in protocol.invariants() {
            assert!(text.contains(invariant), "{invariant}");
        }
    }
    for check in faultline::list::CHECKS {
        let line = format!("{check:?} {}", faultline::list::check_summary(check));
        assert!(text.contains(&line), "{line}");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for path in faultline::bundled::scenario_files(&dir.join("scenarios")) {
        let relative = path.strip_prefix(dir).unwrap().display().to_string();
        let purpose = faultline::list::purpose(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|| panic!("{relative}: no opening comment"));
        assert!(text.contains(&format!("{relative} ")), "{relative}");
        assert!(text.contains(&purpose), "{relative}: {purpose}");
    }
    for term in explain::terms() {
        assert!(text.contains(term.name), "{}", term.name);
    }
}
