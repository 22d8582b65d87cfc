//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, nothing fetched),
//! readable offline and safe to attach to a CI run. Every chart is a `<figure id="chart-NAME">`
//! holding one inline `<svg>`; the tables carry the numbers behind them.

use crate::charts::{self, Chart};
use crate::diagnostics::HealOutcome;
use crate::{BudgetStatus, Report, Verdict};
use sim_core::time::format_nanos;
use std::fmt::Write;

/// Rows shown in the long tables (faults, lost writes, attributions); the JSON has the rest.
pub const TABLE_ROWS_MAX: usize = 200;

const STYLE: &str = r#"
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1000px; padding: 16px 24px 48px; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 4px; } h2 { font-size: 1.15em; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: bold; color: white; }
.pass { background: #2a8a3e; } .fail { background: #c62828; } .unknown { background: #b7791f; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin: 8px 0; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f6f6f6; }
figure { margin: 16px 0; } figcaption { font-size: 0.9em; color: #555; margin-bottom: 4px; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
.muted { color: #777; } .bad { color: #c62828; font-weight: bold; } .good { color: #2a8a3e; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; } dt { color: #666; } dd { margin: 0; }
"#;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn ns(value: u64) -> String {
    format_nanos(value as i128)
}

fn opt_ns(value: Option<u64>) -> String {
    value.map_or("—".to_string(), ns)
}

/// Renders the page.
pub fn render(report: &Report) -> Result<String, String> {
    let mut page = String::with_capacity(256 * 1024);
    let title = format!("faultline: {} (seed {})", report.scenario, report.seed);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{STYLE}</style></head>\n<body>\n",
        escape(&title)
    );
    header(&mut page, report);
    violations(&mut page, report);
    causes(&mut page, report);
    figure(
        &mut page,
        report,
        Chart::Divergence,
        &divergence_caption(report),
    )?;
    heals(&mut page, report);
    let focus = report.focus.as_ref().map_or("no focus".to_string(), |f| {
        format!("Centred on {} at {}.", f.reason, ns(f.at_ns))
    });
    figure(&mut page, report, Chart::SpaceTime, &format!("{focus} Messages are arrows from send to delivery; a red cross is a dropped message. Under each node, its cuts, pauses and crashes, and its clock offset (purple line)."))?;
    figure(&mut page, report, Chart::History, "Each bar is one operation from invocation to completion (unknown outcomes run to the edge); offending operations are red.")?;
    first_divergence(&mut page, report);
    lost_and_stale(&mut page, report);
    attributions(&mut page, report);
    budgets_and_ladder(&mut page, report);
    figure(
        &mut page,
        report,
        Chart::Clocks,
        "Steps and slews show as jumps and ramps; dots mark each step.",
    )?;
    figure(
        &mut page,
        report,
        Chart::Latency,
        "Completed operations by latency bucket, stacked by kind and outcome.",
    )?;
    latency_table(&mut page, report);
    network_and_faults(&mut page, report);
    let _ = write!(
        page,
        "<p class=\"muted\">faultline report, schema version {}. Re-render with <code>faultline report report.json</code>.</p>\n</body></html>\n",
        report.schema_version
    );
    Ok(page)
}

fn header(page: &mut String, report: &Report) {
    let (class, word) = match report.verdict {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::Unknown => ("unknown", "UNKNOWN"),
    };
    let _ = write!(
        page,
        "<h1>{} <span class=\"verdict {class}\">{word}</span></h1>\n<dl>\n",
        escape(&report.scenario)
    );
    let ops = &report.operations;
    let rows = [
        ("file", escape(&report.file)),
        ("seed", report.seed.to_string()),
        (
            "trace hash",
            format!("<code>{}</code>", escape(&report.trace_hash)),
        ),
        (
            "protocol",
            format!(
                "{} <code>{}</code>",
                escape(&report.protocol),
                escape(&report.protocol_config)
            ),
        ),
        (
            "events",
            format!(
                "{} over {} simulated",
                report.events,
                ns(report.end_time_ns)
            ),
        ),
        (
            "operations",
            format!(
                "{} ok, {} failed, {} unknown",
                ops.ok, ops.fail, ops.unknown
            ),
        ),
        (
            "reproduce",
            format!("<code>{}</code>", escape(&report.reproduce)),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(page, "<dt>{label}</dt><dd>{value}</dd>");
    }
    if let Some(limit) = &report.limit_reached {
        let _ = writeln!(
            page,
            "<dt>limit</dt><dd class=\"bad\">{}</dd>",
            escape(limit)
        );
    }
    page.push_str("</dl>\n");
}

fn violations(page: &mut String, report: &Report) {
    page.push_str("<h2>Violations</h2>\n");
    if report.violations.is_empty() {
        page.push_str("<p class=\"good\">None: every invariant, check and budget held.</p>\n");
        return;
    }
    page.push_str("<ol>\n");
    for v in &report.violations {
        let at = match (v.event, v.time_ns) {
            (Some(e), Some(t)) => format!(" at event {e} ({})", ns(t)),
            (None, Some(t)) => format!(" at {}", ns(t)),
            _ => String::new(),
        };
        let witness = if v.witness.is_empty() {
            String::new()
        } else {
            format!(
                "<br><span class=\"muted\">witness: {}</span>",
                escape(&v.witness.join(", "))
            )
        };
        let _ = writeln!(
            page,
            "<li><b>{}</b> ({}){at}: {}{witness}</li>",
            escape(&v.name),
            escape(&v.source),
            escape(&v.explanation)
        );
    }
    page.push_str("</ol>\n");
}

fn causes(page: &mut String, report: &Report) {
    let d = &report.diagnostics;
    page.push_str("<h2>Causes</h2>\n");
    if d.causes.is_empty() {
        page.push_str("<p>No divergence, lost write or stale read to explain.</p>\n");
        return;
    }
    page.push_str("<table><tr><th>cause</th><th>divergences</th><th>diverged key-time</th><th>lost writes</th><th>stale reads</th><th>nodes</th><th>meaning</th></tr>\n");
    for c in &d.causes {
        let _ = writeln!(
            page,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.cause.label(),
            c.divergences,
            ns(c.diverged_ns),
            c.lost_writes,
            c.stale_reads,
            escape(&c.nodes.join(", ")),
            escape(&c.explanation)
        );
    }
    page.push_str("</table>\n");
    if report.stale_reads.is_none() {
        page.push_str("<p class=\"muted\">Stale reads are not measured yet: no stale-read checker ran on this history.</p>\n");
    }
}

fn divergence_caption(report: &Report) -> String {
    let d = &report.diagnostics;
    let peak = match d.peak_at_ns {
        Some(at) => format!("Peak: {} key(s) at {}.", d.peak_keys_diverged, ns(at)),
        None => "Replicas never differed at a sample.".to_string(),
    };
    let after = match (d.last_heal_ns, d.convergence_after_last_heal_ns) {
        (Some(h), Some(c)) => format!(" Converged {} after the last heal at {}.", ns(c), ns(h)),
        (Some(h), None) => format!(" Never converged after the last heal at {}.", ns(h)),
        _ => String::new(),
    };
    format!("{peak}{after} Shaded: partitions (orange), one-way cuts (yellow), pauses (blue), crashes (red); green: settle.")
}

fn figure(page: &mut String, report: &Report, chart: Chart, caption: &str) -> Result<(), String> {
    let _ = writeln!(
        page,
        "<figure id=\"chart-{}\"><figcaption><b>{}</b>. {}</figcaption>",
        chart.id(),
        escape(chart.title()),
        escape(caption)
    );
    if chart.available(report) {
        page.push_str(&charts::svg(chart, report)?);
    } else {
        page.push_str("<p class=\"muted\">Not in this report: run with <code>--report DIR</code> to replay the trace around the focus.</p>");
    }
    page.push_str("\n</figure>\n");
    Ok(())
}

fn heals(page: &mut String, report: &Report) {
    let heals = &report.diagnostics.heals;
    if heals.is_empty() {
        return;
    }
    page.push_str("<table><tr><th>heal at</th><th>what</th><th>converged after</th></tr>\n");
    for h in heals.iter().take(TABLE_ROWS_MAX) {
        let after = match h.outcome {
            HealOutcome::Converged => opt_ns(h.converged_after_ns),
            HealOutcome::Interrupted => "interrupted by the next fault".into(),
            HealOutcome::Never => "<span class=\"bad\">never</span>".into(),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{after}</td></tr>",
            ns(h.at_ns),
            escape(&h.description)
        );
    }
    page.push_str("</table>\n");
}

fn first_divergence(page: &mut String, report: &Report) {
    page.push_str("<h2>First divergence</h2>\n");
    let Some(first) = &report.diagnostics.first_divergence else {
        page.push_str("<p>The replicas never differed at a sample.</p>\n");
        return;
    };
    let _ = writeln!(
        page,
        "<p><b>{}</b> differed at {} (agreed at {}; agreed again at {}), cause <b>{}</b>{}. <span class=\"muted\">Chosen as {}.</span></p>\n<p>{}</p>",
        escape(&first.key),
        ns(first.detected_ns),
        opt_ns(first.agreed_ns),
        opt_ns(first.resolved_ns),
        first.cause.label(),
        first.event.map_or(String::new(), |e| format!(", beginning at event {e}")),
        escape(&first.chosen_because),
        escape(&first.evidence)
    );
    page.push_str("<table><tr><th>node</th><th>holds</th><th>written by</th><th></th></tr>\n");
    for r in &first.replicas {
        let held = if r.values.is_empty() {
            "nothing".to_string()
        } else {
            r.values.join(", ")
        };
        let behind = if r.behind {
            "<span class=\"bad\">behind</span>"
        } else {
            ""
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{behind}</td></tr>",
            escape(&r.node),
            escape(&held),
            escape(&r.writes.join("; "))
        );
    }
    page.push_str("</table>\n<p>The chain of events behind it:</p>\n<ol class=\"mono\">\n");
    for step in &first.chain {
        let event = step.event.map_or(String::new(), |e| format!(" #{e}"));
        let _ = writeln!(
            page,
            "<li>{}{event}: {}</li>",
            ns(step.at_ns),
            escape(&step.what)
        );
    }
    page.push_str("</ol>\n");
}

fn lost_and_stale(page: &mut String, report: &Report) {
    page.push_str("<h2>Lost and stale operations</h2>\n");
    match &report.lost_writes {
        None => page.push_str("<p class=\"muted\">The lost-writes check did not run.</p>\n"),
        Some(l) if l.lost.is_empty() => {
            let _ = writeln!(
                page,
                "<p class=\"good\">No lost writes among {} acknowledged.</p>",
                l.acknowledged
            );
        }
        Some(l) => {
            let _ = writeln!(
                page,
                "<p><b>{}</b> of {} acknowledged writes lost.</p>",
                l.lost.len(),
                l.acknowledged
            );
            page.push_str("<table><tr><th>op</th><th>key = value</th><th>acknowledged</th><th>kind</th><th>survivors</th><th>cause</th></tr>\n");
            for w in l.lost.iter().take(TABLE_ROWS_MAX) {
                let _ = writeln!(
                    page,
                    "<tr><td>{}</td><td class=\"mono\">{} = {}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                    escape(&w.op), escape(&w.key), escape(&w.value), ns(w.acknowledged_ns), escape(&w.kind),
                    escape(&w.survivors.join(", ")), w.cause.map_or("—", |c| c.label())
                );
            }
            page.push_str("</table>\n");
        }
    }
    match &report.stale_reads {
        None => page.push_str(
            "<p class=\"muted\">Stale reads: not measured (no stale-read checker ran).</p>\n",
        ),
        Some(s) => {
            let _ = writeln!(
                page,
                "<p><b>{}</b> of {} successful reads stale (rate {:.4}).</p>",
                s.stale.len(),
                s.reads_ok,
                s.rate
            );
            page.push_str("<table><tr><th>read</th><th>key</th><th>node</th><th>at</th><th>returned</th><th>missed</th><th>cause</th></tr>\n");
            for r in s.stale.iter().take(TABLE_ROWS_MAX) {
                let _ = writeln!(
                    page,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{} ({})</td><td>{}</td></tr>",
                    escape(&r.op), escape(&r.key), escape(&r.node), ns(r.invoke_ns), escape(&r.read.join(", ")),
                    escape(&r.missed_op), escape(r.missed_value.as_deref().unwrap_or("?")), r.cause.map_or("—", |c| c.label())
                );
            }
            page.push_str("</table>\n");
        }
    }
}

fn attributions(page: &mut String, report: &Report) {
    let d = &report.diagnostics;
    if d.attributions.is_empty() {
        return;
    }
    page.push_str("<h2>Findings and their causes</h2>\n<table><tr><th>what</th><th>key</th><th>from</th><th>to</th><th>cause</th><th>evidence</th></tr>\n");
    for a in d.attributions.iter().take(TABLE_ROWS_MAX) {
        let subject = match a.subject {
            crate::Subject::Divergence => "divergence",
            crate::Subject::LostWrite => "lost write",
            crate::Subject::StaleRead => "stale read",
        };
        let _ = writeln!(
            page,
            "<tr><td>{subject}</td><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td></tr>",
            escape(&a.key), ns(a.start_ns), opt_ns(a.end_ns), a.cause.label(), escape(&a.evidence)
        );
    }
    page.push_str("</table>\n");
    if d.attributions_omitted > 0 {
        let _ = writeln!(
            page,
            "<p class=\"muted\">{} more counted in the causes table, not listed.</p>",
            d.attributions_omitted
        );
    }
}

fn budgets_and_ladder(page: &mut String, report: &Report) {
    page.push_str("<h2>Budgets and consistency</h2>\n");
    if report.budgets.is_empty() {
        page.push_str("<p class=\"muted\">The scenario declares no drift budgets.</p>\n");
    } else {
        page.push_str("<table><tr><th>budget</th><th>limit</th><th>measured</th><th>status</th><th>detail</th></tr>\n");
        for b in &report.budgets {
            let show = |v: f64| {
                if b.unit == "ns" {
                    ns(v as u64)
                } else {
                    format!("{v}")
                }
            };
            let status = match b.status {
                BudgetStatus::Within => "<span class=\"good\">within</span>",
                BudgetStatus::Exceeded => "<span class=\"bad\">exceeded</span>",
                BudgetStatus::NotMeasured => "<span class=\"muted\">not measured</span>",
            };
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{status}</td><td>{}</td></tr>",
                escape(&b.budget),
                show(b.limit),
                b.measured.map_or("—".into(), show),
                escape(&b.detail)
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("<table><tr><th>model</th><th>status</th><th>detail</th></tr>\n");
    for row in &report.ladder {
        let class = match row.status.as_str() {
            "held" => "good",
            "violated" => "bad",
            _ => "muted",
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"{class}\">{}</td><td>{}</td></tr>",
            escape(&row.model),
            escape(&row.status),
            escape(&row.detail)
        );
    }
    page.push_str("</table>\n");
}

fn latency_table(page: &mut String, report: &Report) {
    page.push_str("<table><tr><th>kind</th><th>outcome</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th></tr>\n");
    for g in &report.latency.groups {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&g.kind), escape(&g.outcome), g.count, ns(g.p50_ns), ns(g.p90_ns), ns(g.p99_ns), ns(g.max_ns), ns(g.mean_ns)
        );
    }
    for (kind, count) in &report.latency.unknown {
        let _ = writeln!(page, "<tr><td>{}</td><td>unknown</td><td>{count}</td><td colspan=\"5\" class=\"muted\">no completion, no latency</td></tr>", escape(kind));
    }
    page.push_str("</table>\n");
}

fn network_and_faults(page: &mut String, report: &Report) {
    let net = &report.network;
    page.push_str("<h2>Network and faults</h2>\n");
    let dropped: Vec<String> = net
        .dropped
        .iter()
        .map(|(r, n)| format!("{} {n}", escape(r)))
        .collect();
    let _ = writeln!(
        page,
        "<p>{} messages sent, {} delivered, {} duplicated, dropped: {}.</p>",
        net.sent,
        net.delivered,
        net.duplicated,
        if dropped.is_empty() {
            "none".to_string()
        } else {
            dropped.join(", ")
        }
    );
    if report.faults.is_empty() {
        return;
    }
    page.push_str("<table><tr><th>at</th><th>fault</th><th>origin</th><th>effective</th></tr>\n");
    for f in report.faults.iter().take(TABLE_ROWS_MAX) {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ns(f.at_ns),
            escape(&f.description),
            escape(&f.origin),
            if f.effective { "yes" } else { "no" }
        );
    }
    page.push_str("</table>\n");
    if report.faults.len() > TABLE_ROWS_MAX {
        let _ = writeln!(
            page,
            "<p class=\"muted\">{} more faults in the JSON report.</p>",
            report.faults.len() - TABLE_ROWS_MAX
        );
    }
}
