//! Bad input never panics: every bundled scenario, mutated at random (characters deleted or
//! duplicated, tokens swapped for other tokens of the file or for tricky values, tricky values
//! inserted), loads to `Ok` or to an `Err` that points inside the file. Mutated scenarios are
//! only loaded, never run: the property is about reading input, not about simulating it.

use faultline::Registry;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Values that tend to break parsers: out-of-range numbers, non-numbers, empty and
/// wrong-shape values, nodes that do not exist, durations that are negative, too fine or
/// written with an exponent, and openers that are never closed.
const TRICKY: &[&str] = &[
    "-1",
    "0",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "18446744073709551616",
    "4294967296",
    "\"\"",
    "\"n0\"",
    "\"n99\"",
    "\"n+1\"",
    "\"-5ms\"",
    "\"1e3ms\"",
    "\"0s\"",
    "\"99999999999h\"",
    "\"0.0000000001s\"",
    "[]",
    "()",
    "{}",
    "Some(())",
    "None",
    "true",
    "(",
    ")",
    "\"",
    "/*",
    "r#\"",
    "'",
    "µs",
    "Heal",
    "Convergence",
];

/// The bundled scenarios' texts, read once.
fn bundled() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let files = faultline::bundled::scenario_files(&dir);
        assert!(!files.is_empty(), "no bundled scenarios in {dir:?}");
        files
            .iter()
            .map(|path| std::fs::read_to_string(path).expect("readable scenario"))
            .collect()
    })
}

/// Splits RON text into rough tokens, as char ranges; comments are tokens too.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+') {
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.')) {
                i += 1;
            }
            i = i.max(start + 1);
        } else {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Delete `len` chars at a position (a fraction of the length, in 1/65536ths).
    Delete { at: u16, len: u8 },
    /// Insert a copy of `len` chars starting at `from` right after them.
    Duplicate { from: u16, len: u8 },
    /// Replace token `token` (modulo the count) with token `with` of the same file.
    SwapToken { token: u16, with: u16 },
    /// Replace token `token` with a tricky value.
    Tricky { token: u16, value: usize },
    /// Insert a tricky value at a position (a fraction of the length, in 1/65536ths).
    Insert { at: u16, value: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<u16>(), 1u8..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<u16>(), 1u8..40).prop_map(|(from, len)| Mutation::Duplicate { from, len }),
        (any::<u16>(), any::<u16>()).prop_map(|(token, with)| Mutation::SwapToken { token, with }),
        (any::<u16>(), 0..TRICKY.len())
            .prop_map(|(token, value)| Mutation::Tricky { token, value }),
        (any::<u16>(), 0..TRICKY.len()).prop_map(|(at, value)| Mutation::Insert { at, value }),
    ]
}

/// Applies mutations in order; each one re-tokenizes the text the previous one left.
fn mutate(original: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = original.chars().collect();
    for mutation in mutations {
        let text: String = chars.iter().collect();
        let toks = tokens(&text);
        let scaled = |fraction: u16| (fraction as usize * chars.len()) >> 16;
        match *mutation {
            Mutation::Delete { at, len } => {
                let start = scaled(at);
                let end = (start + len as usize).min(chars.len());
                chars.drain(start..end);
            }
            Mutation::Duplicate { from, len } => {
                let start = scaled(from);
                let end = (start + len as usize).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(end..end, copy);
            }
            Mutation::SwapToken { token, with } if !toks.is_empty() => {
                let (start, end) = toks[token as usize % toks.len()];
                let (w_start, w_end) = toks[with as usize % toks.len()];
                let replacement: Vec<char> = chars[w_start..w_end].to_vec();
                chars.splice(start..end, replacement);
            }
            Mutation::Tricky { token, value } if !toks.is_empty() => {
                let (start, end) = toks[token as usize % toks.len()];
                chars.splice(start..end, TRICKY[value].chars());
            }
            Mutation::Insert { at, value } => {
                let at = scaled(at);
                chars.splice(at..at, TRICKY[value].chars());
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// Checks one text: loading returns, and an error points at a line and column in the file.
/// Line 0 means "the whole file" and is for files that cannot be read; text always has a
/// position.
fn loads_without_panic(registry: &Registry, text: &str) -> Result<(), TestCaseError> {
    let Err(error) = registry.load_text("mutated.ron", text) else {
        return Ok(());
    };
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(
        error.line >= 1 && error.line <= lines.len(),
        "line {} outside the file's {} lines: {error}\n{text}",
        error.line,
        lines.len()
    );
    let width = lines[error.line - 1].chars().count();
    prop_assert!(
        error.column >= 1 && error.column <= width + 1,
        "column {} outside line {} ({width} chars): {error}\n{text}",
        error.column,
        error.line
    );
    prop_assert!(!error.message.is_empty(), "empty message at {error}");
    prop_assert!(
        error.to_string().starts_with("mutated.ron:"),
        "the error names the file: {error}"
    );
    Ok(())
}

#[test]
fn every_bundled_scenario_loads_unmodified() {
    let registry = Registry::builtin();
    for text in bundled() {
        if let Err(error) = registry.load_text("bundled.ron", text) {
            panic!("a bundled scenario fails to load: {error}");
        }
        assert!(tokens(text).len() > 20, "the tokenizer finds the tokens");
    }
}

#[test]
fn a_registry_without_protocols_rejects_every_scenario() {
    let error = Registry::new()
        .load_text("bundled.ron", &bundled()[0])
        .err()
        .expect("no protocol to load it with");
    assert!(
        error.message.contains("no protocols registered") && error.line > 0,
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_load_or_fail_with_a_position(
        which in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let files = bundled();
        let original = &files[which % files.len()];
        let text = mutate(original, &mutations);
        loads_without_panic(&Registry::builtin(), &text)?;
    }
}
