//! Drift budgets: what a scenario promises about divergence (most keys diverged at once,
//! longest convergence after a heal, highest stale-read rate, most lost writes), measured
//! against the run. Exceeding one is a violation like any other.

use crate::diagnostics::{Diagnostics, HealOutcome};
use crate::{LostWritesSection, StaleReadsSection, Violation};
use serde::{Deserialize, Serialize};
use sim_core::scenario::Budgets;
use sim_core::time::format_nanos;

/// How a budget fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetStatus {
    /// Measured and within the budget.
    Within,
    /// Measured and over it: a violation.
    Exceeded,
    /// The run did not measure it (for example, no stale-read checker ran).
    NotMeasured,
}

/// One declared budget and what was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetLine {
    /// The budget's name as written in the scenario.
    pub budget: String,
    /// The unit of `limit` and `measured`: "keys", "ns", "ratio" or "writes".
    pub unit: String,
    /// The most the scenario allows.
    pub limit: f64,
    /// What the run measured.
    pub measured: Option<f64>,
    /// Within, exceeded or not measured.
    pub status: BudgetStatus,
    /// How it was measured, in words.
    pub detail: String,
    /// When it was first exceeded, in ns.
    pub exceeded_at_ns: Option<u64>,
}

fn line(
    budget: &str,
    unit: &str,
    limit: f64,
    measured: Option<f64>,
    detail: String,
    exceeded_at_ns: Option<u64>,
) -> BudgetLine {
    let status = match measured {
        None => BudgetStatus::NotMeasured,
        Some(m) if m > limit => BudgetStatus::Exceeded,
        Some(_) => BudgetStatus::Within,
    };
    BudgetLine {
        budget: budget.into(),
        unit: unit.into(),
        limit,
        measured,
        status,
        detail,
        exceeded_at_ns: (status == BudgetStatus::Exceeded)
            .then_some(exceeded_at_ns)
            .flatten(),
    }
}

fn ns(value: u64) -> String {
    format_nanos(value as i128)
}

/// Measures every declared budget.
pub(crate) fn measure(
    budgets: &Budgets,
    diagnostics: &Diagnostics,
    lost: Option<&LostWritesSection>,
    stale: Option<&StaleReadsSection>,
    run_end: u64,
) -> Vec<BudgetLine> {
    let mut lines = Vec::new();
    if let Some(max) = budgets.keys_diverged_max {
        let first_over = diagnostics
            .samples
            .iter()
            .find(|(_, keys)| *keys > max)
            .map(|(t, _)| *t);
        lines.push(line(
            "keys_diverged_max",
            "keys",
            max as f64,
            Some(diagnostics.peak_keys_diverged as f64),
            format!(
                "at most {} key(s) differed between replicas at one sample",
                diagnostics.peak_keys_diverged
            ),
            first_over,
        ));
    }
    if let Some(max) = budgets.convergence_after_heal_ns_max {
        lines.push(convergence_line(max, diagnostics, run_end));
    }
    if let Some(max) = budgets.stale_read_rate_max {
        let detail = match stale {
            Some(s) => format!(
                "{} of {} successful reads were stale",
                s.stale.len(),
                s.reads_ok
            ),
            None => "not measured: the stale-read checker could not judge this history".into(),
        };
        let first = stale.and_then(|s| s.stale.first().map(|r| r.invoke_ns));
        lines.push(line(
            "stale_read_rate_max",
            "ratio",
            max,
            stale.map(|s| s.rate),
            detail,
            first,
        ));
    }
    if let Some(max) = budgets.lost_writes_max {
        let detail = match lost {
            Some(l) => format!(
                "{} of {} acknowledged writes were lost",
                l.lost.len(),
                l.acknowledged
            ),
            None => "not measured: the lost-writes check did not run".into(),
        };
        let first = lost.and_then(|l| l.lost.get(max as usize).map(|w| w.acknowledged_ns));
        let measured = lost.map(|l| l.lost.len() as f64);
        lines.push(line(
            "lost_writes_max",
            "writes",
            max as f64,
            measured,
            detail,
            first,
        ));
    }
    lines
}

/// The longest wait for convergence after any heal; a heal after which the replicas never
/// agreed again counts until the end of the run.
fn convergence_line(max: u64, diagnostics: &Diagnostics, run_end: u64) -> BudgetLine {
    let waits = diagnostics
        .heals
        .iter()
        .filter_map(|heal| match heal.outcome {
            HealOutcome::Converged => heal.converged_after_ns.map(|w| (w, heal)),
            HealOutcome::Never => Some((run_end.saturating_sub(heal.at_ns), heal)),
            HealOutcome::Interrupted => None,
        });
    let longest = waits.max_by_key(|(w, _)| *w);
    let (measured, detail, at) = match longest {
        Some((wait, heal)) => (
            Some(wait as f64),
            format!(
                "the longest wait was {} after \"{}\" at {}{}",
                ns(wait),
                heal.description,
                ns(heal.at_ns),
                if heal.outcome == HealOutcome::Never {
                    " (never converged)"
                } else {
                    ""
                }
            ),
            Some(heal.at_ns.saturating_add(max)),
        ),
        None => (
            None,
            "not measured: no heal was followed by a quiet period".into(),
            None,
        ),
    };
    line(
        "convergence_after_heal_max",
        "ns",
        max as f64,
        measured,
        detail,
        at,
    )
}

/// The violations of exceeded budgets.
pub(crate) fn violations(lines: &[BudgetLine]) -> Vec<Violation> {
    lines
        .iter()
        .filter(|l| l.status == BudgetStatus::Exceeded)
        .map(|l| {
            let shown = |v: f64| match l.unit.as_str() {
                "ns" => ns(v as u64),
                "ratio" => format!("{:.4}", v),
                _ => format!("{v}"),
            };
            Violation {
                source: "budget".into(),
                name: format!("budget:{}", l.budget),
                event: None,
                time_ns: l.exceeded_at_ns,
                nodes: Vec::new(),
                explanation: format!(
                    "{} is {} but the scenario allows at most {}: {}",
                    l.budget,
                    shown(l.measured.unwrap_or(0.0)),
                    shown(l.limit),
                    l.detail
                ),
                witness: Vec::new(),
            }
        })
        .collect()
}
