//! The terminal summary: about twenty lines a person reads after a run.

use crate::{BudgetStatus, Report, Verdict};
use sim_core::time::format_nanos;
use std::fmt::Write;

/// Whether to colour the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    /// ANSI colours.
    On,
    /// Plain text.
    Off,
}

fn paint(colour: Colour, code: &str, text: &str) -> String {
    match colour {
        Colour::On => format!("\x1b[{code}m{text}\x1b[0m"),
        Colour::Off => text.to_string(),
    }
}

/// Groups digits in threes: 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ns(value: u64) -> String {
    format_nanos(value as i128)
}

/// Renders the summary.
pub fn render(report: &Report, colour: Colour) -> String {
    let mut out = String::new();
    let line = |out: &mut String, label: &str, text: &str| {
        let _ = writeln!(out, "  {label:<12}{text}");
    };
    let _ = writeln!(out, "{} ({})", report.scenario, report.file);
    line(&mut out, "seed", &report.seed.to_string());
    line(&mut out, "trace hash", &report.trace_hash);
    line(
        &mut out,
        "protocol",
        &format!("{} {}", report.protocol, report.protocol_config),
    );
    line(
        &mut out,
        "events",
        &format!(
            "{} over {} simulated",
            thousands(report.events),
            ns(report.end_time_ns)
        ),
    );
    let ops = &report.operations;
    line(
        &mut out,
        "operations",
        &format!(
            "{} ok, {} failed, {} unknown",
            thousands(ops.ok),
            thousands(ops.fail),
            thousands(ops.unknown)
        ),
    );
    let net = &report.network;
    let dropped: u64 = net.dropped.iter().map(|(_, n)| n).sum();
    let reasons: Vec<String> = net
        .dropped
        .iter()
        .map(|(reason, n)| format!("{reason} {}", thousands(*n)))
        .collect();
    let mut network = format!(
        "{} sent, {} delivered, {} dropped",
        thousands(net.sent),
        thousands(net.delivered),
        thousands(dropped)
    );
    if !reasons.is_empty() {
        let _ = write!(network, " ({})", reasons.join(", "));
    }
    if net.duplicated > 0 {
        let _ = write!(network, ", {} duplicated", thousands(net.duplicated));
    }
    line(&mut out, "network", &network);
    if let Some(text) = latency_line(report) {
        line(&mut out, "latency", &text);
    }
    let effective = report.faults.iter().filter(|f| f.effective).count();
    if effective > 0 {
        line(&mut out, "faults", &format!("{effective} applied"));
    }
    if let Some(convergence) = &report.convergence {
        let text = match (convergence.converged, convergence.time_to_converge_ns) {
            (true, Some(t)) => format!(
                "converged {} after settle began (peak: {} keys diverged)",
                ns(t),
                convergence.peak_keys_diverged
            ),
            (true, None) => "converged".to_string(),
            (false, _) => format!(
                "NOT converged: {} key(s) still differ",
                convergence.divergent_keys.len()
            ),
        };
        line(&mut out, "convergence", &text);
    }
    if let Some(lost) = &report.lost_writes {
        line(
            &mut out,
            "lost writes",
            &format!(
                "{} of {} acknowledged writes",
                thousands(lost.lost.len() as u64),
                thousands(lost.acknowledged)
            ),
        );
    }
    if let Some(stale) = &report.stale_reads {
        line(
            &mut out,
            "stale reads",
            &format!(
                "{} of {} successful reads (rate {:.4})",
                thousands(stale.stale.len() as u64),
                thousands(stale.reads_ok),
                stale.rate
            ),
        );
    }
    diagnostics_lines(&mut out, report, colour);
    if let Some(limit) = &report.limit_reached {
        line(&mut out, "limit", &format!("reached: {limit}"));
    }
    if let Some(text) = ladder_line(report, colour) {
        line(&mut out, "ladder", &text);
    }
    let verdict = match report.verdict {
        Verdict::Pass => paint(colour, "32;1", "PASS"),
        Verdict::Fail => paint(
            colour,
            "31;1",
            &format!("FAIL: {} violation(s)", report.violations.len()),
        ),
        Verdict::Unknown if report.limit_reached.is_some() => {
            paint(colour, "33;1", "UNKNOWN: the run was cut short")
        }
        Verdict::Unknown => paint(
            colour,
            "33;1",
            "UNKNOWN: a judged check's search ran out of budget (see the ladder)",
        ),
    };
    line(&mut out, "verdict", &verdict);
    for violation in report.violations.iter().take(5) {
        let at = match (violation.event, violation.time_ns) {
            (Some(event), Some(t)) => format!(" at event {} ({})", thousands(event), ns(t)),
            (None, Some(t)) => format!(" ({})", ns(t)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "    - {}{at}: {}",
            paint(colour, "1", &violation.name),
            violation.explanation
        );
    }
    if report.verdict != Verdict::Pass {
        line(&mut out, "reproduce", &report.reproduce);
    }
    out
}

/// The consistency ladder on one line: a short name and yes / NO / ? / - per model.
fn ladder_line(report: &Report, colour: Colour) -> Option<String> {
    if report.ladder.is_empty() {
        return None;
    }
    let cells: Vec<String> = report
        .ladder
        .iter()
        .map(|entry| {
            let short = match entry.model.as_str() {
                "linearizable" => "lin",
                "sequential" => "seq",
                "causal" => "causal",
                "read-your-writes" => "RYW",
                "monotonic-reads" => "MR",
                "monotonic-writes" => "MW",
                "writes-follow-reads" => "WFR",
                "no-stale-reads" => "no-stale",
                "converged" => "conv",
                "no-lost-writes" => "no-loss",
                other => other,
            };
            let cell = match entry.status.as_str() {
                "held" => paint(colour, "32", "yes"),
                "violated" => paint(colour, "31", "NO"),
                "unknown" => paint(colour, "33", "?"),
                _ => "-".to_string(),
            };
            format!("{short} {cell}")
        })
        .collect();
    Some(cells.join("  "))
}

fn latency_line(report: &Report) -> Option<String> {
    let parts: Vec<String> = report
        .latency
        .groups
        .iter()
        .filter(|g| g.outcome == "ok")
        .map(|g| format!("{} p50 {} p99 {}", g.kind, ns(g.p50_ns), ns(g.p99_ns)))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Divergence, causes, the first divergence and budgets: one line each.
fn diagnostics_lines(out: &mut String, report: &Report, colour: Colour) {
    let line = |out: &mut String, label: &str, text: &str| {
        let _ = writeln!(out, "  {label:<12}{text}");
    };
    let d = &report.diagnostics;
    if let Some(at) = d.peak_at_ns {
        let after = match (d.last_heal_ns, d.convergence_after_last_heal_ns) {
            (Some(h), Some(c)) => format!("; converged {} after the last heal ({})", ns(c), ns(h)),
            (Some(h), None) => format!("; never converged after the last heal ({})", ns(h)),
            _ => String::new(),
        };
        line(
            out,
            "divergence",
            &format!("peak {} key(s) at {}{after}", d.peak_keys_diverged, ns(at)),
        );
    }
    let mut causes: Vec<&crate::CauseTotal> = d.causes.iter().collect();
    causes.sort_by_key(|c| std::cmp::Reverse((c.lost_writes + c.stale_reads, c.diverged_ns)));
    let shown: Vec<String> = causes.iter().take(3).map(|c| cause_words(c)).collect();
    if !shown.is_empty() {
        line(out, "causes", &shown.join("; "));
    }
    if let Some(first) = &d.first_divergence {
        line(
            out,
            "first diff",
            &format!(
                "{} at {} ({}): {}",
                first.key,
                ns(first.detected_ns),
                first.cause.label(),
                held(first)
            ),
        );
    }
    if !report.budgets.is_empty() {
        let budgets: Vec<String> = report
            .budgets
            .iter()
            .map(|b| budget_words(b, colour))
            .collect();
        line(out, "budgets", &budgets.join(", "));
    }
}

fn cause_words(cause: &crate::CauseTotal) -> String {
    let mut parts = Vec::new();
    if cause.lost_writes > 0 {
        parts.push(format!("{} lost writes", thousands(cause.lost_writes)));
    }
    if cause.stale_reads > 0 {
        parts.push(format!("{} stale reads", thousands(cause.stale_reads)));
    }
    if cause.divergences > 0 {
        parts.push(format!(
            "{} divergences ({} key-time)",
            thousands(cause.divergences),
            ns(cause.diverged_ns)
        ));
    }
    let nodes = if cause.nodes.len() <= 3 {
        format!(" on {}", cause.nodes.join(", "))
    } else {
        String::new()
    };
    format!("{}: {}{nodes}", cause.cause.label(), parts.join(", "))
}

fn held(first: &crate::FirstDivergence) -> String {
    let parts: Vec<String> = first
        .replicas
        .iter()
        .map(|r| {
            let values = if r.values.is_empty() {
                "nothing".to_string()
            } else {
                r.values.join(",")
            };
            format!("{} {values}", r.node)
        })
        .collect();
    parts.join(", ")
}

fn budget_words(budget: &crate::BudgetLine, colour: Colour) -> String {
    let show = |v: f64| {
        if budget.unit == "ns" {
            ns(v as u64)
        } else {
            format!("{v}")
        }
    };
    let measured = budget.measured.map_or("?".into(), show);
    let status = match budget.status {
        BudgetStatus::Within => paint(colour, "32", "ok"),
        BudgetStatus::Exceeded => paint(colour, "31;1", "EXCEEDED"),
        BudgetStatus::NotMeasured => paint(colour, "33", "not measured"),
    };
    format!(
        "{} {measured} (max {}) {status}",
        budget.budget,
        show(budget.limit)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
