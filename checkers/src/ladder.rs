//! The consistency ladder: for one history, which models held, as one row a run prints and a
//! sweep aggregates into a table per protocol.
//!
//! | column | from | held when |
//! | --- | --- | --- |
//! | linearizable | the linearizability check (an input) | it found a linearization |
//! | sequential | the sequential-consistency check (an input) | it found a serialization |
//! | causal | [`crate::causal`] | CC held; the cell also names CM and CCv when they held |
//! | read-your-writes, monotonic reads, monotonic writes, writes-follow-reads | [`crate::session`] | no violation of that guarantee |
//! | no stale reads | [`crate::stale_reads`] | no read returned a value overwritten by a write that had completed before it began |
//! | converged | [`crate::convergence`] | every live replica agrees after settle |
//! | no lost writes | [`crate::lost_writes`] | no acknowledged write vanished unexplained |
//!
//! Going down the ladder the models get weaker: linearizable implies sequential, sequential
//! implies causal (CCv and CM), and CCv implies the four session guarantees under the
//! [`VersionOrder::Observed`] reading. Under [`VersionOrder::RealTime`] (the session check's
//! default) the session columns also demand that a write which finished before another began
//! is the older version, which sequential and causal consistency do not: a row may then say
//! "causal: yes, read-your-writes: NO", and that row names a real-time anomaly (for example a
//! clock-skewed last-writer-wins store ordering a later write first). Real time also orders
//! every completed write of a session, so under it monotonic writes and writes-follow-reads
//! rarely fail, and readers that see writes inverted are charged with monotonic reads; the
//! observed reading charges the store. Each row records which reading its session columns used.
//!
//! A column is [`Status::NotChecked`] when its check did not run, and [`Status::Unknown`] when
//! it ran out of budget: neither is a pass.

use crate::causal::{CausalModel, CausalVerdict};
use crate::convergence::ConvergenceVerdict;
use crate::lost_writes::LostWritesVerdict;
use crate::session::{Guarantee, SessionVerdict, VersionOrder};
use crate::stale_reads::StaleReadsVerdict;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

fn not_checked() -> Status {
    Status::NotChecked
}

/// The outcome of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The model held.
    Held,
    /// The model was violated.
    Violated,
    /// The check did not run.
    NotChecked,
    /// The check ran out of budget before a verdict.
    Unknown,
}

impl Status {
    /// Held for Some(true), Violated for Some(false), Unknown for None.
    pub fn from_held(held: Option<bool>) -> Status {
        match held {
            Some(true) => Status::Held,
            Some(false) => Status::Violated,
            None => Status::Unknown,
        }
    }

    /// The table cell: "yes", "NO", "-" or "?".
    pub fn cell(self) -> &'static str {
        match self {
            Status::Held => "yes",
            Status::Violated => "NO",
            Status::NotChecked => "-",
            Status::Unknown => "?",
        }
    }
}

/// One column of the ladder, strongest model first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Column {
    /// Linearizability.
    Linearizable,
    /// Sequential consistency.
    Sequential,
    /// Causal consistency (CC).
    Causal,
    /// Read-your-writes.
    ReadYourWrites,
    /// Monotonic reads.
    MonotonicReads,
    /// Monotonic writes.
    MonotonicWrites,
    /// Writes-follow-reads.
    WritesFollowReads,
    /// No read returned a version overwritten before it began.
    NoStaleReads,
    /// Replicas converged after settle.
    Converged,
    /// No acknowledged write was lost.
    NoLostWrites,
}

impl Column {
    /// Every column, in ladder order.
    pub const ALL: [Column; 10] = [
        Column::Linearizable,
        Column::Sequential,
        Column::Causal,
        Column::ReadYourWrites,
        Column::MonotonicReads,
        Column::MonotonicWrites,
        Column::WritesFollowReads,
        Column::NoStaleReads,
        Column::Converged,
        Column::NoLostWrites,
    ];

    /// The full name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Linearizable => "linearizable",
            Column::Sequential => "sequential",
            Column::Causal => "causal",
            Column::ReadYourWrites => "read-your-writes",
            Column::MonotonicReads => "monotonic-reads",
            Column::MonotonicWrites => "monotonic-writes",
            Column::WritesFollowReads => "writes-follow-reads",
            Column::NoStaleReads => "no-stale-reads",
            Column::Converged => "converged",
            Column::NoLostWrites => "no-lost-writes",
        }
    }

    /// The short table header.
    pub fn header(self) -> &'static str {
        match self {
            Column::Linearizable => "lin",
            Column::Sequential => "seq",
            Column::Causal => "causal",
            Column::ReadYourWrites => "RYW",
            Column::MonotonicReads => "MR",
            Column::MonotonicWrites => "MW",
            Column::WritesFollowReads => "WFR",
            Column::NoStaleReads => "no-stale",
            Column::Converged => "conv",
            Column::NoLostWrites => "no-loss",
        }
    }
}

/// The verdicts a row is built from; a None verdict is a check that did not run.
#[derive(Clone, Copy, Debug)]
pub struct LadderInputs<'a> {
    /// The linearizability check's outcome.
    pub linearizable: Status,
    /// The sequential-consistency check's outcome.
    pub sequential: Status,
    /// The causal check.
    pub causal: Option<&'a CausalVerdict>,
    /// The session-guarantee check.
    pub session: Option<&'a SessionVerdict>,
    /// The convergence check.
    pub convergence: Option<&'a ConvergenceVerdict>,
    /// The lost-writes check.
    pub lost_writes: Option<&'a LostWritesVerdict>,
    /// The stale-read measurement.
    pub stale_reads: Option<&'a StaleReadsVerdict>,
}

impl Default for LadderInputs<'_> {
    fn default() -> Self {
        LadderInputs {
            linearizable: Status::NotChecked,
            sequential: Status::NotChecked,
            causal: None,
            session: None,
            convergence: None,
            lost_writes: None,
            stale_reads: None,
        }
    }
}

/// One history's place on the ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderRow {
    /// What the row is about: a scenario and seed, or a history file.
    pub label: String,
    /// Linearizable.
    pub linearizable: Status,
    /// Sequentially consistent.
    pub sequential: Status,
    /// Causally consistent (CC).
    pub causal: Status,
    /// The causal models that held (CC, CM, CCv).
    pub causal_models: Vec<CausalModel>,
    /// Read-your-writes.
    pub read_your_writes: Status,
    /// Monotonic reads.
    pub monotonic_reads: Status,
    /// Monotonic writes.
    pub monotonic_writes: Status,
    /// Writes-follow-reads.
    pub writes_follow_reads: Status,
    /// No stale reads (absent from rows written before the column existed).
    #[serde(default = "not_checked")]
    pub no_stale_reads: Status,
    /// Converged after settle.
    pub converged: Status,
    /// No acknowledged write lost.
    pub no_lost_writes: Status,
    /// The version order the session columns were judged against, when they were.
    pub session_order: Option<VersionOrder>,
}

impl LadderRow {
    /// Builds the row from the individual verdicts.
    pub fn build(label: impl Into<String>, inputs: &LadderInputs<'_>) -> LadderRow {
        let session = |guarantee: Guarantee| match inputs.session {
            None => Status::NotChecked,
            Some(verdict) if verdict.not_checked.is_some() => Status::NotChecked,
            Some(verdict) => Status::from_held(verdict.held(guarantee)),
        };
        let (causal, causal_models) = match inputs.causal {
            Some(verdict) if verdict.not_checked.is_none() => (
                Status::from_held(verdict.holds(CausalModel::Cc)),
                verdict.models_held(),
            ),
            _ => (Status::NotChecked, Vec::new()),
        };
        LadderRow {
            label: label.into(),
            linearizable: inputs.linearizable,
            sequential: inputs.sequential,
            causal,
            causal_models,
            read_your_writes: session(Guarantee::ReadYourWrites),
            monotonic_reads: session(Guarantee::MonotonicReads),
            monotonic_writes: session(Guarantee::MonotonicWrites),
            writes_follow_reads: session(Guarantee::WritesFollowReads),
            no_stale_reads: match inputs.stale_reads {
                Some(verdict) if verdict.not_checked.is_none() => {
                    Status::from_held(Some(verdict.none_stale()))
                }
                _ => Status::NotChecked,
            },
            converged: inputs.convergence.map_or(Status::NotChecked, |v| {
                Status::from_held(Some(v.converged()))
            }),
            no_lost_writes: inputs.lost_writes.map_or(Status::NotChecked, |v| {
                Status::from_held(Some(v.lost.is_empty()))
            }),
            session_order: inputs
                .session
                .filter(|v| v.not_checked.is_none())
                .map(|v| v.version_order),
        }
    }

    /// One column's status.
    pub fn status(&self, column: Column) -> Status {
        match column {
            Column::Linearizable => self.linearizable,
            Column::Sequential => self.sequential,
            Column::Causal => self.causal,
            Column::ReadYourWrites => self.read_your_writes,
            Column::MonotonicReads => self.monotonic_reads,
            Column::MonotonicWrites => self.monotonic_writes,
            Column::WritesFollowReads => self.writes_follow_reads,
            Column::NoStaleReads => self.no_stale_reads,
            Column::Converged => self.converged,
            Column::NoLostWrites => self.no_lost_writes,
        }
    }

    /// A column's cell; the causal cell names the causal models that held.
    fn cell(&self, column: Column) -> String {
        let status = self.status(column);
        if column == Column::Causal && status == Status::Held {
            let names: Vec<String> = self.causal_models.iter().map(|m| m.to_string()).collect();
            return names.join(",");
        }
        status.cell().to_string()
    }

    /// The row as one line of text: the label, then every column by name.
    pub fn render(&self) -> String {
        let cells: Vec<String> = Column::ALL
            .iter()
            .map(|c| format!("{} {}", c.name(), self.cell(*c)))
            .collect();
        let order = match self.session_order {
            Some(VersionOrder::RealTime) => " (session guarantees against real time)",
            Some(VersionOrder::Observed) => " (session guarantees against observed order)",
            None => "",
        };
        format!("{}: {}{order}", self.label, cells.join(", "))
    }
}

/// Rows as an aligned table with a legend.
pub fn render_table(rows: &[LadderRow]) -> String {
    let mut grid: Vec<Vec<String>> = vec![std::iter::once("run".to_string())
        .chain(Column::ALL.iter().map(|c| c.header().to_string()))
        .collect()];
    for row in rows {
        grid.push(
            std::iter::once(row.label.clone())
                .chain(Column::ALL.iter().map(|c| row.cell(*c)))
                .collect(),
        );
    }
    let mut out = aligned(&grid);
    out.push_str("yes held, NO violated, - not checked, ? unknown (a bound ran out)\n");
    let orders: Vec<&str> = [VersionOrder::RealTime, VersionOrder::Observed]
        .iter()
        .filter(|order| rows.iter().any(|r| r.session_order == Some(**order)))
        .map(|order| match order {
            VersionOrder::RealTime => "real time",
            VersionOrder::Observed => "observed order",
        })
        .collect();
    if !orders.is_empty() {
        let _ = writeln!(
            out,
            "session guarantees judged against {}",
            orders.join(" and ")
        );
    }
    out
}

/// How one column fared over many runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnTally {
    /// Runs where it held.
    pub held: u64,
    /// Runs where it was violated.
    pub violated: u64,
    /// Runs where it was not checked.
    pub not_checked: u64,
    /// Runs where its check ran out of budget.
    pub unknown: u64,
}

impl ColumnTally {
    fn add(&mut self, status: Status) {
        match status {
            Status::Held => self.held += 1,
            Status::Violated => self.violated += 1,
            Status::NotChecked => self.not_checked += 1,
            Status::Unknown => self.unknown += 1,
        }
    }

    /// "held/decided", with "+N?" for unknowns; "-" when never checked.
    pub fn cell(&self) -> String {
        let decided = self.held + self.violated;
        if decided == 0 && self.unknown == 0 {
            return "-".to_string();
        }
        let mut text = format!("{}/{decided}", self.held);
        if self.unknown > 0 {
            let _ = write!(text, "+{}?", self.unknown);
        }
        text
    }
}

/// The ladder of one group of runs (a protocol, or a scenario).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderTally {
    /// The group.
    pub group: String,
    /// How many runs.
    pub runs: u64,
    /// One tally per column, in [`Column::ALL`] order.
    pub columns: Vec<ColumnTally>,
}

impl LadderTally {
    /// Counts one more run.
    pub fn add(&mut self, row: &LadderRow) {
        self.runs += 1;
        for (column, tally) in Column::ALL.iter().zip(self.columns.iter_mut()) {
            tally.add(row.status(*column));
        }
    }
}

/// Aggregates rows by group, groups in name order.
pub fn tally<'a>(rows: impl IntoIterator<Item = (&'a str, &'a LadderRow)>) -> Vec<LadderTally> {
    let mut groups: BTreeMap<&str, LadderTally> = BTreeMap::new();
    for (group, row) in rows {
        let entry = groups.entry(group).or_insert_with(|| LadderTally {
            group: group.to_string(),
            runs: 0,
            columns: vec![ColumnTally::default(); Column::ALL.len()],
        });
        entry.add(row);
    }
    groups.into_values().collect()
}

/// Tallies as an aligned table: per column, the runs where the model held over the runs where
/// it was decided.
pub fn render_tallies(tallies: &[LadderTally]) -> String {
    let mut grid: Vec<Vec<String>> = vec![["group", "runs"]
        .iter()
        .map(|s| s.to_string())
        .chain(Column::ALL.iter().map(|c| c.header().to_string()))
        .collect()];
    for tally in tallies {
        grid.push(
            [tally.group.clone(), tally.runs.to_string()]
                .into_iter()
                .chain(tally.columns.iter().map(|c| c.cell()))
                .collect(),
        );
    }
    let mut out = aligned(&grid);
    out.push_str("held/decided runs per model; +N? runs unknown, - never checked\n");
    out
}

/// Left-aligned columns two spaces apart, without trailing spaces.
fn aligned(grid: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..grid[0].len())
        .map(|i| {
            grid.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in grid {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::{self, Builder};
    use crate::{causal, session};
    use proptest::prelude::*;

    fn skewed() -> sim_core::history::History {
        // c2's write loses to c1's earlier one, then c2 reads c1's value back.
        let mut h = Builder::default();
        h.put(1, 0, 1, (0, 10));
        h.put(2, 0, 2, (20, 30));
        h.get(2, 0, &[1], (40, 50));
        h.history()
    }

    #[test]
    fn a_row_takes_each_column_from_its_verdict() {
        let history = skewed();
        let causal = causal::check(&history);
        let session = session::check(&history, VersionOrder::RealTime);
        let stale = crate::stale_reads::check(&history);
        let lost = LostWritesVerdict::default();
        let inputs = LadderInputs {
            linearizable: Status::Violated,
            causal: Some(&causal),
            session: Some(&session),
            lost_writes: Some(&lost),
            stale_reads: Some(&stale),
            ..LadderInputs::default()
        };
        let row = LadderRow::build("skewed", &inputs);
        let statuses: Vec<Status> = Column::ALL.iter().map(|c| row.status(*c)).collect();
        use Status::*;
        assert_eq!(
            statuses,
            vec![
                Violated, NotChecked, Held, Violated, Held, Held, Held, Violated, NotChecked, Held
            ]
        );
        assert_eq!(
            row.causal_models,
            vec![CausalModel::Cc, CausalModel::Cm, CausalModel::Ccv]
        );
        assert_eq!(
            row.render(),
            "skewed: linearizable NO, sequential -, causal CC,CM,CCv, read-your-writes NO, \
             monotonic-reads yes, monotonic-writes yes, writes-follow-reads yes, \
             no-stale-reads NO, converged -, \
             no-lost-writes yes (session guarantees against real time)"
        );
    }

    #[test]
    fn the_table_aligns_rows_and_explains_its_symbols() {
        let history = skewed();
        let causal = causal::check(&history);
        let session = session::check(&history, VersionOrder::RealTime);
        let row = LadderRow::build(
            "lww-clock-skew seed 7",
            &LadderInputs {
                causal: Some(&causal),
                session: Some(&session),
                sequential: Status::Unknown,
                ..LadderInputs::default()
            },
        );
        let empty = LadderRow::build("nothing checked", &LadderInputs::default());
        assert_eq!(
            render_table(&[row, empty]),
            "\
run                    lin  seq  causal     RYW  MR   MW   WFR  no-stale  conv  no-loss
lww-clock-skew seed 7  -    ?    CC,CM,CCv  NO   yes  yes  yes  -         -     -
nothing checked        -    -    -          -    -    -    -    -         -     -
yes held, NO violated, - not checked, ? unknown (a bound ran out)
session guarantees judged against real time
"
        );
    }

    #[test]
    fn a_row_reads_back_from_json() {
        let history = skewed();
        let causal = causal::check(&history);
        let row = LadderRow::build(
            "skewed",
            &LadderInputs {
                causal: Some(&causal),
                ..LadderInputs::default()
            },
        );
        let json = serde_json::to_string(&row).unwrap();
        assert!(
            json.contains(r#""causal":"held","causal_models":["CC","CM","CCv"]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<LadderRow>(&json).unwrap(), row);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The ladder's claim that rungs imply the ones below them, where they should: a
        /// causally convergent history keeps every session guarantee under the observed reading.
        #[test]
        fn causal_convergence_implies_every_observed_session_guarantee(
            specs in testing::specs_for(8, 3),
        ) {
            let history = testing::history(&specs, false);
            let causal = causal::check(&history);
            let session = session::check(&history, VersionOrder::Observed);
            if causal.ccv {
                prop_assert!(session.violations.is_empty(), "{:#?}", session.violations);
            }
        }
    }

    #[test]
    fn tallies_count_per_group_and_per_column() {
        let history = skewed();
        let session_rt = session::check(&history, VersionOrder::RealTime);
        let session_obs = session::check(&history, VersionOrder::Observed);
        let with = |session| LadderInputs {
            session: Some(session),
            linearizable: Status::Unknown,
            ..LadderInputs::default()
        };
        let rows = [
            LadderRow::build("a", &with(&session_rt)),
            LadderRow::build("b", &with(&session_obs)),
            LadderRow::build("c", &with(&session_obs)),
        ];
        let tallies = tally([("lww", &rows[0]), ("lww", &rows[1]), ("other", &rows[2])]);
        assert_eq!(tallies.len(), 2);
        assert_eq!(tallies[0].runs, 2);
        let ryw = tallies[0].columns[3];
        assert_eq!((ryw.held, ryw.violated), (1, 1));
        assert_eq!(
            render_tallies(&tallies),
            "\
group  runs  lin     seq  causal  RYW  MR   MW   WFR  no-stale  conv  no-loss
lww    2     0/0+2?  -    -       1/2  2/2  2/2  2/2  -         -     -
other  1     0/0+1?  -    -       1/1  1/1  1/1  1/1  -         -     -
held/decided runs per model; +N? runs unknown, - never checked
"
        );
    }
}
