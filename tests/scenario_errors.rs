//! Bad scenarios through the real binary. Each test writes one broken scenario, shown inline,
//! and checks that both `validate` and `run` reject it with exit code 2 and an error that names
//! the file, the line and column of the offending value, and what was expected. None may panic:
//! a panic exits 3 and would be a bug.

mod common;
use common::faultline;

use std::path::PathBuf;

/// A scratch directory of its own for one test, removed when the test ends.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "faultline-scenario-errors-{}-{test}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("the temp dir is writable");
        Scratch { dir }
    }

    /// Writes `text` to `name` in the scratch directory and returns its path as text.
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("the scenario can be written");
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `faultline <command> <file>` and checks it fails as bad input, without a panic.
fn bad_input(command: &str, file: &str) -> String {
    let output = faultline(&[command, file]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.code() != Some(3) && !stderr.contains("panicked"),
        "`faultline {command}` panicked on {file}:\n{stderr}"
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "`faultline {command} {file}` should exit 2 (bad input); stderr:\n{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "`faultline {command}` printed to stdout for a bad file: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// Writes `text` as a scenario and checks that `validate` and `run` both reject it with
/// `error: FILE:POSITION: MESSAGE`, where the message contains every part of `expected`.
fn assert_rejected(test: &str, text: &str, position: &str, expected: &[&str]) {
    let scratch = Scratch::new(test);
    let file = scratch.write("scenario.ron", text);
    for command in ["validate", "run"] {
        let stderr = bad_input(command, &file);
        let prefix = format!("error: {file}:{position}: ");
        assert!(
            stderr.starts_with(&prefix),
            "`faultline {command}`: expected the error at {position}, found:\n{stderr}"
        );
        for part in expected {
            assert!(
                stderr.contains(part),
                "`faultline {command}`: expected {part:?} in the message, found:\n{stderr}"
            );
        }
    }
}

#[test]
fn an_unknown_top_level_field_is_named_with_the_fields_that_exist() {
    assert_rejected(
        "unknown-field",
        r#"Scenario(
    name: "unknown field",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    colour: "red",
)
"#,
        "6:5",
        &[
            "Unexpected field named `colour` in `Scenario`",
            "expected one of `name`, `seed`, `nodes`, `duration`, `protocol`",
        ],
    );
}

#[test]
fn a_misspelled_protocol_option_is_named_with_the_options_that_exist() {
    assert_rejected(
        "misspelled-option",
        r#"Scenario(
    name: "misspelled option",
    nodes: 3,
    duration: "10s",
    protocol: Lww(replicate_evry: "20ms"),
)
"#,
        "5:19",
        &[
            "Unexpected field named `replicate_evry` in `Lww`",
            "expected one of `replicate_every`, `sync_writes`, `variant`, `read_repair`, or `anti_entropy_every`",
        ],
    );
}

#[test]
fn an_unknown_field_in_a_section_names_the_section_as_written() {
    assert_rejected(
        "unknown-network-field",
        r#"Scenario(
    name: "unknown network field",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    network: (latency: Constant("1ms"), loss: 0.1),
)
"#,
        "6:41",
        &["Unexpected field named `loss` in `network`", "`drop`"],
    );
}

#[test]
fn a_probability_above_one_is_rejected_with_the_range() {
    assert_rejected(
        "probability-above-one",
        r#"Scenario(
    name: "probability above one",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    network: (
        drop: 1.5,
    ),
)
"#,
        "7:15",
        &["expected a probability between 0 and 1, found 1.5"],
    );
}

#[test]
fn a_negative_probability_in_a_link_override_is_rejected_with_the_range() {
    assert_rejected(
        "negative-probability",
        r#"Scenario(
    name: "negative probability",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    network: (
        links: [(from: "n1", to: "n2", duplicate: -0.1)],
    ),
)
"#,
        "7:51",
        &["expected a probability between 0 and 1, found -0.1"],
    );
}

#[test]
fn a_fault_on_a_node_that_does_not_exist_names_the_nodes_that_do() {
    assert_rejected(
        "missing-node-in-fault",
        r#"Scenario(
    name: "missing node in a fault",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    faults: [
        At("1s", Isolate("n1")),
        At("2s", Crash("n4")),
    ],
)
"#,
        "8:24",
        &["node \"n4\" does not exist: this scenario has 3 nodes, n1 to n3"],
    );
}

#[test]
fn a_clock_for_a_node_that_does_not_exist_names_the_nodes_that_do() {
    assert_rejected(
        "missing-node-in-clocks",
        r#"Scenario(
    name: "missing node in clocks",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    clocks: {
        "n2": (offset: "-50ms"),
        "n7": (drift_ppm: 100),
    },
)
"#,
        "8:9",
        &["node \"n7\" does not exist: this scenario has 3 nodes, n1 to n3"],
    );
}

#[test]
fn a_node_written_as_n0_is_not_a_node_name() {
    assert_rejected(
        "node-zero",
        r#"Scenario(
    name: "node zero",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    faults: [At("1s", Crash("n0"))],
)
"#,
        "6:29",
        &["expected a node name such as \"n1\", found \"n0\""],
    );
}

#[test]
fn a_negative_duration_is_rejected_where_only_positive_ones_make_sense() {
    assert_rejected(
        "negative-duration",
        r#"Scenario(
    name: "negative duration",
    nodes: 3,
    duration: "-10s",
    protocol: Lww(),
)
"#,
        "4:15",
        &["expected a non-negative duration, found \"-10s\""],
    );
}

#[test]
fn a_malformed_duration_lists_the_units() {
    assert_rejected(
        "malformed-duration",
        r#"Scenario(
    name: "malformed duration",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    workload: (timeout: "1e3ms"),
)
"#,
        "6:25",
        &[
            "expected a duration such as \"250ms\", \"2s\" or \"1.5s\" (units: ns, us, ms, s, m, h)",
            "found \"1e3ms\"",
        ],
    );
}

#[test]
fn a_duration_without_quotes_is_asked_for_in_quotes() {
    assert_rejected(
        "unquoted-duration",
        r#"Scenario(
    name: "unquoted duration",
    nodes: 3,
    duration: 10s,
    protocol: Lww(),
)
"#,
        "4:15",
        &["expected a duration in quotes, such as \"250ms\" or \"2s\", found `10s`"],
    );
}

#[test]
fn a_fault_at_the_end_of_the_run_is_after_it() {
    assert_rejected(
        "fault-after-end",
        r#"Scenario(
    name: "fault after the end",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    faults: [
        At("2s", Crash("n1")),
        At("10s", Restart("n1")),
    ],
)
"#,
        "8:12",
        &[
            "a fault at 10s is after the end of the run",
            "faults must happen before `duration` (10s)",
        ],
    );
}

#[test]
fn an_unknown_protocol_lists_the_known_ones() {
    assert_rejected(
        "unknown-protocol",
        r#"Scenario(
    name: "unknown protocol",
    nodes: 3,
    duration: "10s",
    protocol: Paxos(),
)
"#,
        "5:15",
        &["unknown protocol `Paxos`, expected one of: lww"],
    );
}

#[test]
fn an_unknown_fault_kind_lists_the_known_ones() {
    assert_rejected(
        "unknown-fault-kind",
        r#"Scenario(
    name: "unknown fault kind",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    faults: [
        At("2s", Explode("n1")),
    ],
)
"#,
        "7:18",
        &[
            "unknown fault kind `Explode`",
            "expected one of: Partition, OneWay, Bridge, Isolate, LinkDown, Heal, Crash, Restart, Pause, ClockStep, ClockSlew",
        ],
    );
}

#[test]
fn an_unclosed_paren_points_at_the_paren() {
    assert_rejected(
        "unclosed-paren",
        r#"Scenario(
    name: "unclosed paren",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    faults: [At("2s", Crash("n1"))],
"#,
        "1:9",
        &["this `(` is never closed: expected `)` before the end of the file"],
    );
}

#[test]
fn an_unclosed_list_points_at_the_bracket() {
    assert_rejected(
        "unclosed-bracket",
        r#"Scenario(
    name: "unclosed bracket",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    faults: [
        At("2s", Crash("n1")),
"#,
        "6:13",
        &["this `[` is never closed: expected `]` before the end of the file"],
    );
}

#[test]
fn writes_and_cas_adding_up_to_more_than_one_are_rejected() {
    // A check across the workload section: it points at the section's closing paren.
    assert_rejected(
        "writes-plus-cas",
        r#"Scenario(
    name: "writes plus cas",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    workload: (
        writes: 0.7,
        cas: 0.5,
    ),
)
"#,
        "9:5",
        &["workload: writes (0.7) + cas (0.5) add up to more than 1; the rest of the operations are reads"],
    );
}

#[test]
fn clients_that_start_after_the_fault_phase_are_rejected() {
    // They would never issue an operation: the clients stop when the fault phase ends.
    assert_rejected(
        "start-after-end",
        r#"Scenario(
    name: "late clients",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    workload: (
        clients: 2,
        start_after: "12s",
    ),
)
"#,
        "9:5",
        &["workload: start_after (12s) must be before the end of the fault phase (duration 10s)"],
    );
}

#[test]
fn cas_for_a_protocol_without_compare_and_set_is_rejected() {
    // A check across the workload section: it points at the section's closing paren.
    assert_rejected(
        "cas-unsupported",
        r#"Scenario(
    name: "cas unsupported",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    workload: (writes: 0.5, cas: 0.1),
)
"#,
        "6:37",
        &["workload: cas is 0.1, but this protocol does not support compare-and-set; expected cas: 0.0"],
    );
}

#[test]
fn convergence_without_settle_points_at_the_check() {
    assert_rejected(
        "convergence-without-settle",
        r#"Scenario(
    name: "convergence without settle",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    checks: [LostWrites, Convergence],
)
"#,
        "6:26",
        &["Convergence needs a settle phase (add settle: Some(\"5s\"))"],
    );
}

#[test]
fn a_missing_required_field_is_named() {
    assert_rejected(
        "missing-field",
        r#"Scenario(
    name: "missing duration",
    nodes: 3,
    protocol: Lww(),
)
"#,
        "5:1",
        &["Unexpected missing field named `duration` in `Scenario`"],
    );
}

#[test]
fn an_empty_file_asks_for_a_scenario() {
    assert_rejected(
        "empty-file",
        "",
        "1:1",
        &["the file is empty: expected a scenario such as Scenario("],
    );
}

#[test]
fn a_file_of_only_comments_is_empty() {
    assert_rejected(
        "only-comments",
        "// a scenario will go here\n/* one day */\n",
        "1:1",
        &["the file is empty"],
    );
}

#[test]
fn a_file_that_does_not_exist_is_named() {
    let scratch = Scratch::new("missing-file");
    let file = scratch
        .dir
        .join("no-such-scenario.ron")
        .display()
        .to_string();
    for command in ["validate", "run"] {
        let stderr = bad_input(command, &file);
        assert!(
            stderr.starts_with(&format!("error: {file}: cannot read the scenario: ")),
            "`faultline {command}`: expected the file named, found:\n{stderr}"
        );
    }
}

#[test]
fn validate_reports_every_file_and_fails_if_any_is_bad() {
    let scratch = Scratch::new("validate-many");
    let good = scratch.write(
        "good.ron",
        r#"Scenario(name: "good", nodes: 3, duration: "10s", protocol: Lww(), settle: Some("2s"))"#,
    );
    let bad = scratch.write(
        "bad.ron",
        r#"Scenario(name: "bad", nodes: 3, duration: "10s", protocol: Lww(), settle: "soon")"#,
    );
    let output = faultline(&["validate", &bad, &good]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert_eq!(
        stdout,
        format!("ok    {good}: good (lww, 10s fault phase)\n"),
        "the good file is still reported"
    );
    assert!(
        stderr.starts_with(&format!("error: {bad}:1:75: expected a duration such as")),
        "the bad file's error: {stderr}"
    );
}

#[test]
fn a_node_given_two_clocks_is_rejected() {
    assert_rejected(
        "clock-twice",
        r#"Scenario(
    name: "clock twice",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    clocks: {
        "n2": (offset: "-50ms"),
        "n2": (drift_ppm: 100),
    },
)
"#,
        "8:9",
        &["node n2 is listed twice in `clocks`; give each node one entry"],
    );
}

#[test]
fn a_timer_slack_longer_than_a_second_is_rejected() {
    assert_rejected(
        "timer-slack",
        r#"Scenario(
    name: "timer slack",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    clocks: {
        "n2": (drift_ppm: 10, timer_slack: "5s"),
    },
)
"#,
        "7:44",
        &["expected a timer slack of at most 1s, found 5s"],
    );
}

#[test]
fn an_unknown_check_lists_the_known_ones() {
    assert_rejected(
        "unknown-check",
        r#"Scenario(
    name: "unknown check",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    settle: Some("2s"),
    checks: [Convergence, Serializable],
)
"#,
        "7:27",
        &["unknown check `Serializable`, expected one of: Convergence, LostWrites, Linearizable, Sequential, Causal, ReadYourWrites, MonotonicReads, MonotonicWrites, WritesFollowReads, StaleReads"],
    );
}

#[test]
fn an_unclosed_string_points_at_its_quote() {
    assert_rejected(
        "unclosed-string",
        r#"Scenario(
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    name: "unclosed string,
)
"#,
        "5:11",
        &["this string is never closed: expected a closing `\"`"],
    );
}

#[test]
fn an_empty_mixture_is_rejected_with_an_example() {
    assert_rejected(
        "empty-mixture",
        r#"Scenario(
    name: "empty mixture",
    nodes: 3,
    duration: "10s",
    protocol: QuorumKv(),
    network: (
        latency: Mixture([]),
    ),
)
"#,
        "7:28",
        &["a Mixture needs at least one component"],
    );
}

#[test]
fn a_mixture_weight_of_zero_names_the_component() {
    assert_rejected(
        "zero-weight",
        r#"Scenario(
    name: "zero weight",
    nodes: 3,
    duration: "10s",
    protocol: QuorumKv(),
    network: (
        latency: Mixture([(0.9, Constant("1ms")), (0.0, Constant("9ms"))]),
    ),
)
"#,
        "7:74",
        &[
            "Mixture component 2 has weight 0",
            "expected a finite number > 0",
        ],
    );
}

#[test]
fn a_nan_mixture_weight_is_rejected() {
    assert_rejected(
        "nan-weight",
        r#"Scenario(
    name: "nan weight",
    nodes: 3,
    duration: "10s",
    protocol: QuorumKv(),
    network: (
        latency: Mixture([(NaN, Constant("1ms"))]),
    ),
)
"#,
        "7:50",
        &["Mixture component 1 has weight NaN"],
    );
}

#[test]
fn mixtures_nested_too_deep_are_rejected_with_the_limit() {
    assert_rejected(
        "deep-mixture",
        r#"Scenario(
    name: "deep",
    nodes: 3,
    duration: "10s",
    protocol: QuorumKv(),
    network: (
        latency: Mixture([(1.0, Mixture([(1.0, Mixture([(1.0, Mixture([(1.0, Shifted(by: "1ms", latency: Constant("1ms")))]))]))]))]),
    ),
)
"#,
        "7:133",
        &["nest 5 deep", "at most 4 levels"],
    );
}

#[test]
fn an_unknown_message_class_is_named_with_the_protocols_classes() {
    assert_rejected(
        "unknown-class",
        r#"Scenario(
    name: "unknown class",
    nodes: 3,
    duration: "10s",
    protocol: QuorumKv(),
    network: (
        class_latency: {"writes": Constant("2ms")},
    ),
)
"#,
        "7:25",
        &[
            "unknown message class \"writes\" for quorum_kv",
            "expected one of: write, write-ack, read, read-reply",
        ],
    );
}

#[test]
fn a_class_latency_for_a_protocol_without_classes_is_rejected() {
    assert_rejected(
        "no-classes",
        r#"Scenario(
    name: "no classes",
    nodes: 3,
    duration: "10s",
    protocol: Lww(),
    network: (
        links: [(from: "n1", to: "n2", class_latency: {"write": Constant("2ms")})],
    ),
)
"#,
        "7:56",
        &["lww names no message classes"],
    );
}

#[test]
fn a_message_class_listed_twice_is_rejected() {
    assert_rejected(
        "class-twice",
        r#"Scenario(
    name: "twice",
    nodes: 3,
    duration: "10s",
    protocol: QuorumKv(),
    network: (
        class_latency: {"write": Constant("2ms"), "write": Constant("3ms")},
    ),
)
"#,
        "7:51",
        &["message class \"write\" is listed twice"],
    );
}
