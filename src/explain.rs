//! `faultline explain TERM`: what a consistency model, an anomaly, a fault or a mechanism is,
//! what breaks it, how faultline judges it, and the bundled scenario that shows it, with the
//! exact command to run.
//!
//! Every term names one scenario and the exit code its run gives (tests/explain.rs runs each
//! one and holds the table to it), so the glossary cannot drift from what the tool does.

use std::io::Write;

/// What sort of thing a term names; it decides the headings of its explanation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A consistency model or guarantee (linearizability, read-your-writes, ...).
    Model,
    /// Something that goes wrong (a stale read, a lost update, ...).
    Anomaly,
    /// A fault faultline injects (a partition, clock skew, a GC pause, ...).
    Fault,
    /// A protocol mechanism (quorums, read repair, leases, ...).
    Mechanism,
}

impl Kind {
    /// The kind in words, as shown after a term's name.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Model => "consistency model",
            Kind::Anomaly => "anomaly",
            Kind::Fault => "fault",
            Kind::Mechanism => "mechanism",
        }
    }

    /// The heading over a term's `breaks` text.
    fn breaks_heading(self) -> &'static str {
        match self {
            Kind::Model => "What violates it",
            Kind::Anomaly => "What causes it",
            Kind::Fault => "What it breaks",
            Kind::Mechanism => "What goes wrong",
        }
    }
}

/// One term of the glossary.
#[derive(Clone, Copy, Debug)]
pub struct Term {
    /// The term as shown ("linearizability").
    pub name: &'static str,
    /// Other spellings and names that find it ("linearizable", "atomic consistency").
    pub aliases: &'static [&'static str],
    /// What sort of thing it is.
    pub kind: Kind,
    /// One line, for `faultline explain` and `faultline list`.
    pub summary: &'static str,
    /// A short definition.
    pub definition: &'static str,
    /// What violates it, causes it, it breaks or goes wrong, depending on the kind.
    pub breaks: &'static str,
    /// How faultline judges or injects it.
    pub checked: &'static str,
    /// The bundled scenario that shows it, relative to the repository root.
    pub scenario: &'static str,
    /// The exit code of `faultline run SCENARIO`: 0 shows the term holding, 1 a violation.
    pub exit: u8,
    /// The violation the run reports, by its report name, when `exit` is 1.
    pub violation: Option<&'static str>,
    /// A consistency-ladder cell the run shows: (model, status), as in `--json`'s `ladder`.
    pub ladder: Option<(&'static str, &'static str)>,
    /// What to look for in the run's output.
    pub look_for: &'static str,
    /// Related terms, by name.
    pub related: &'static [&'static str],
}

impl Term {
    /// The exact command that runs the term's scenario.
    pub fn command(&self) -> String {
        format!("faultline run {}", self.scenario)
    }

    /// Whether `query` names this term (case, spaces, `-` and `_` ignored; aliases count).
    pub fn matches(&self, query: &str) -> bool {
        let query = normalize(query);
        std::iter::once(self.name)
            .chain(self.aliases.iter().copied())
            .any(|name| normalize(name) == query)
    }
}

/// A term's name with case, spaces, `-` and `_` taken out: how terms are compared.
pub fn normalize(term: &str) -> String {
    term.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every term, grouped by kind, in the order `faultline explain` lists them.
pub fn terms() -> &'static [Term] {
    &TERMS
}

/// The term `query` names, if any.
pub fn find(query: &str) -> Option<&'static Term> {
    terms().iter().find(|term| term.matches(query))
}

/// The term whose name or alias is nearest to `query` (few edits away, or containing it).
pub fn suggest(query: &str) -> Option<&'static Term> {
    let query = normalize(query);
    if query.is_empty() {
        return None;
    }
    let names = terms().iter().flat_map(|term| {
        std::iter::once(term.name)
            .chain(term.aliases.iter().copied())
            .map(move |name| (term, normalize(name)))
    });
    let (best, distance) = names
        .clone()
        .map(|(term, name)| (term, edit_distance(&query, &name)))
        .min_by_key(|(_, distance)| *distance)?;
    if distance <= (query.chars().count() / 3).max(2) {
        return Some(best);
    }
    let contains = |(_, name): &(&'static Term, String)| {
        query.chars().count() >= 3
            && (name.contains(&query)
                || (name.chars().count() >= 4 && query.contains(name.as_str())))
    };
    names.filter(|entry| contains(entry)).map(|(t, _)| t).next()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

// The words are joined with spaces, so `faultline explain split brain` needs no quotes.
/// `faultline explain [TERM...]`: one term explained, or every term listed; the exit code.
pub fn run(words: &[String]) -> u8 {
    let query = words.join(" ");
    let mut out = std::io::stdout().lock();
    if query.trim().is_empty() {
        let _ = out.write_all(render_list().as_bytes());
        return crate::cli::exit::PASS;
    }
    match find(&query) {
        Some(term) => {
            let _ = out.write_all(render(term).as_bytes());
            crate::cli::exit::PASS
        }
        None => {
            eprint!("{}", render_unknown(&query));
            crate::cli::exit::BAD_INPUT
        }
    }
}

/// The message for a term faultline does not know: a suggestion, then every term.
pub fn render_unknown(query: &str) -> String {
    let mut text = format!(
        "error: faultline does not know the term \"{}\"",
        query.trim()
    );
    match suggest(query) {
        Some(term) => text.push_str(&format!("; did you mean \"{}\"?\n", term.name)),
        None => text.push('\n'),
    }
    text.push_str("the terms it knows (`faultline explain` lists them with one line each):\n");
    let names: Vec<&str> = terms().iter().map(|t| t.name).collect();
    text.push_str(&wrap(&names.join(", "), "  "));
    text
}

/// Every term with its one-line summary, grouped by kind.
pub fn render_list() -> String {
    let width = terms().iter().map(|t| t.name.len()).max().unwrap_or(0) + 2;
    let mut text = String::new();
    for (kind, heading) in [
        (Kind::Model, "consistency models and guarantees"),
        (Kind::Anomaly, "anomalies"),
        (Kind::Fault, "faults"),
        (Kind::Mechanism, "mechanisms"),
    ] {
        text.push_str(&format!("{heading}:\n"));
        for term in terms().iter().filter(|t| t.kind == kind) {
            text.push_str(&format!("  {:<width$}{}\n", term.name, term.summary));
        }
    }
    text.push_str(
        "\nfaultline explain TERM says what it is, what breaks it and which scenario shows it.\n",
    );
    text
}

/// The whole explanation of one term.
pub fn render(term: &Term) -> String {
    let mut text = format!("{} ({})\n", term.name, term.kind.label());
    if !term.aliases.is_empty() {
        text.push_str(&format!("also: {}\n", term.aliases.join(", ")));
    }
    for (heading, body) in [
        ("What it is", term.definition),
        (term.kind.breaks_heading(), term.breaks),
        ("How faultline shows it", term.checked),
    ] {
        text.push_str(&format!("\n{heading}\n"));
        text.push_str(&wrap(body, "  "));
    }
    text.push_str("\nSee it\n");
    text.push_str(&format!("  {}\n", term.command()));
    let outcome = match (term.exit, term.violation) {
        (0, _) => "It exits 0: every check the scenario judges holds.".to_string(),
        (code, Some(violation)) => format!("It exits {code} with the `{violation}` violation."),
        (code, None) => format!("It exits {code}."),
    };
    text.push_str(&wrap(
        &format!("{outcome} Look for {}", term.look_for),
        "  ",
    ));
    if !term.related.is_empty() {
        text.push_str(&format!("\nRelated: {}\n", term.related.join(", ")));
    }
    text
}

/// Wraps `text` at 96 columns, every line starting with `indent`.
pub(crate) fn wrap(text: &str, indent: &str) -> String {
    const WIDTH: usize = 96;
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}

macro_rules! teaching {
    ($file:literal) => {
        concat!("scenarios/teaching/", $file)
    };
}

// The glossary. Each scenario and exit code is held to what a run gives by tests/explain.rs.
static TERMS: [Term; 34] = [
    // Consistency models and guarantees.
    Term {
        name: "linearizability",
        aliases: &["linearizable", "atomic consistency", "strong consistency", "atomic"],
        kind: Kind::Model,
        summary: "every operation takes effect at one instant between its call and its return",
        definition: "A history is linearizable when one order of all its operations is legal for \
            a single copy of the data (each read returns the last write before it) and respects \
            real time: an operation that completed before another began comes first. Clients \
            cannot tell the system from one machine handling one request at a time (Herlihy and \
            Wing, 1990). Operations whose outcome is unknown (timed out) may or may not have \
            taken effect.",
        breaks: "A read that returns a value overwritten by a write that had completed before \
            the read began (a stale read); an acknowledged write that vanishes; two clients that \
            see two writes in opposite orders.",
        checked: "`checks: [Linearizable]` judges it, key by key, with a Wing-Gong/Lowe search \
            under a step budget (out of budget is unknown, exit 4, never a pass). The ladder's \
            `lin` cell shows it on every run.",
        scenario: teaching!("02-sequential-not-linearizable.ron"),
        exit: 1,
        violation: Some("linearizable"),
        ladder: Some(("linearizable", "violated")),
        look_for: "the read, the value it returned and the write that had overwritten it \
            before it began, and `lin NO`, `seq yes`, `causal yes` in the ladder. \
            scenarios/teaching/01-linearizable-register.ron is a register on Raft where it holds.",
        related: &["sequential consistency", "stale read", "consistency ladder"],
    },
    Term {
        name: "sequential consistency",
        aliases: &["sequential", "sequentially consistent", "sc"],
        kind: Kind::Model,
        summary: "one order of all operations that keeps each client's own order; real time may be ignored",
        definition: "A history is sequentially consistent when some single order of all its \
            operations is legal for one copy of the data and keeps each client's operations in \
            the order that client issued them (Lamport, 1979). Unlike linearizability it ignores \
            real time between clients: a read may return an old value as long as every client \
            sees the writes in one agreed order.",
        breaks: "Clients that see the same writes in different orders; a client that does not \
            see its own earlier write, or reads older after newer.",
        checked: "`checks: [Sequential]`, the linearizability search without the real-time \
            constraint, key by key; the ladder's `seq` cell.",
        scenario: teaching!("02-sequential-not-linearizable.ron"),
        exit: 1,
        violation: Some("linearizable"),
        ladder: Some(("sequential", "held")),
        look_for: "`lin NO` and `seq yes` in the ladder: the run exits 1 because linearizability \
            fails, while sequential consistency (also judged) holds. Set `target: Random` in the \
            workload and `seq` turns to NO as well.",
        related: &["linearizability", "causal consistency"],
    },
    Term {
        name: "causal consistency",
        aliases: &["causal", "causally consistent", "cc", "causal memory", "causal convergence"],
        kind: Kind::Model,
        summary: "no read contradicts the causal order of what clients did and saw",
        definition: "Operations are ordered by each client's own order and by reads-from (a read \
            comes after the write it returned), transitively. A history is causally consistent \
            when every read is explained by an order of its own causal past: nobody sees an \
            effect before its cause, or a value its causal past had already overwritten. \
            Concurrent writes may be seen in different orders by different clients. Two \
            stronger models are looked up here too, though each is a model of its own \
            (Bouajjani et al., POPL 2017): causal memory (CM) also explains each read by \
            everything its client saw before it, and causal convergence (CCv) also makes every \
            client agree on one order of concurrent writes. No bundled scenario holds CC while \
            breaking CM or CCv.",
        breaks: "A read of a value that its causal past had already replaced (someone read v1, \
            then wrote v2, and a later reader in that chain reads v1); a read of nothing after a \
            write of the key in its causal past.",
        checked: "`checks: [Causal]` looks for the bad patterns of Bouajjani et al. (POPL 2017) \
            and reports CC; the ladder's `causal` cell shows it (in `--json` its detail also \
            names CM and CCv when they hold).",
        scenario: teaching!("16-sibling-explosion.ron"),
        exit: 1,
        violation: Some("causal"),
        ladder: Some(("causal", "violated")),
        look_for: "the `causal` violation and the chain of reads and writes behind it. \
            scenarios/teaching/15-siblings.ron is the same run with the correct protocol, where \
            causal consistency holds.",
        related: &["sequential consistency", "sibling explosion", "writes-follow-reads"],
    },
    Term {
        name: "read-your-writes",
        aliases: &["ryw", "read your own writes", "read my writes"],
        kind: Kind::Model,
        summary: "a client always sees its own completed writes, or newer versions",
        definition: "A session guarantee (Terry et al., 1994): once a client's write has \
            completed, that client's later reads return it or a newer version. It promises \
            nothing about other clients.",
        breaks: "A read routed to a replica that has not yet received the client's own write: \
            random load balancing over asynchronous replicas, failover to a lagging replica.",
        checked: "`checks: [ReadYourWrites]`, judged against real time (a write that completed \
            before another began is the older one); the ladder's `RYW` cell.",
        scenario: teaching!("04-read-your-writes.ron"),
        exit: 1,
        violation: Some("read-your-writes"),
        ladder: Some(("read-your-writes", "violated")),
        look_for: "\"c1 wrote k0 = ..., then read k0 and got ..., an older version\". With \
            `target: Sticky` the client always talks to one node and the guarantee holds.",
        related: &["session guarantees", "monotonic reads", "replication lag"],
    },
    Term {
        name: "monotonic reads",
        aliases: &["mr", "monotonic read"],
        kind: Kind::Model,
        summary: "a client never reads an older version of a key after a newer one",
        definition: "A session guarantee: once a client has read a version of a key, its later \
            reads of that key return that version or a newer one. Replicas may lag; a session \
            never moves backwards.",
        breaks: "A client that reads from an up-to-date replica and then from a lagging one.",
        checked: "`checks: [MonotonicReads]`; the ladder's `MR` cell.",
        scenario: teaching!("05-monotonic-reads.ron"),
        exit: 1,
        violation: Some("monotonic-reads"),
        ladder: Some(("monotonic-reads", "violated")),
        look_for: "\"c1 read k0 = v63, then read k0 again and got v62, an older version\": the \
            second read went to n3, 60 ms behind.",
        related: &["session guarantees", "read-your-writes", "replication lag"],
    },
    Term {
        name: "monotonic writes",
        aliases: &["mw", "monotonic write"],
        kind: Kind::Model,
        summary: "a client's writes take effect in the order it made them",
        definition: "A session guarantee: if a client writes a and then b, every replica applies \
            a before b, so nobody sees b and later a. Judged against real time, a closed-loop \
            client's acknowledged writes are already in order, so it fails through writes whose \
            outcome was unknown (timed out) and that took effect late.",
        breaks: "A write that timed out on a slow or paused replica and is applied after the \
            client's later writes, with a newer timestamp; replicas that apply one client's \
            writes in different orders.",
        checked: "`checks: [MonotonicWrites]`; the ladder's `MW` cell.",
        scenario: teaching!("06-monotonic-writes.ron"),
        exit: 1,
        violation: Some("monotonic-writes"),
        ladder: Some(("monotonic-writes", "violated")),
        look_for: "\"c1 wrote k0 = v14 and then v15, but v15 is ordered before v14\" with the \
            evidence: another client read the later value, then the earlier one.",
        related: &["session guarantees", "gc pause"],
    },
    Term {
        name: "writes-follow-reads",
        aliases: &["wfr", "session causality"],
        kind: Kind::Model,
        summary: "a client's write is ordered after every write it had read",
        definition: "A session guarantee: if a client read a and then wrote b, every replica \
            orders b after a, so nobody sees the reply before the message it answers. faultline \
            judges session guarantees against real time, where the read of a already puts a \
            before the reader's next write; so in its histories writes-follow-reads fails only \
            through cycles between several sessions, and no bundled scenario breaks it.",
        breaks: "A replica that applies b before a (b stamped by a slower clock, or delivered to \
            a replica that had not seen a yet) while a client observes b without a.",
        checked: "`checks: [WritesFollowReads]`; the ladder's `WFR` cell.",
        scenario: teaching!("15-siblings.ron"),
        exit: 0,
        violation: None,
        ladder: Some(("writes-follow-reads", "held")),
        look_for: "PASS with all four session guarantees judged, and `WFR yes` in the ladder.",
        related: &["session guarantees", "causal consistency"],
    },
    Term {
        name: "session guarantees",
        aliases: &["session guarantee", "session consistency", "client-centric consistency"],
        kind: Kind::Model,
        summary: "read-your-writes, monotonic reads, monotonic writes, writes-follow-reads",
        definition: "Four promises about what one client (a session) sees, whatever the others \
            see (Terry, Demers, Petersen, Spreitzer, Theimer and Welch, 1994). Together they \
            give a client a causally consistent view of its own work on a weakly consistent \
            store.",
        breaks: "Routing one session's operations to replicas in different states: random load \
            balancing, failover, replicas that lag or were paused.",
        checked: "`checks: [ReadYourWrites, MonotonicReads, MonotonicWrites, \
            WritesFollowReads]`; the ladder's `RYW MR MW WFR` cells.",
        scenario: teaching!("04-read-your-writes.ron"),
        exit: 1,
        violation: Some("read-your-writes"),
        ladder: Some(("read-your-writes", "violated")),
        look_for: "the `read-your-writes` violation; scenarios/teaching/05 and 06 break \
            monotonic reads and monotonic writes.",
        related: &["read-your-writes", "monotonic reads", "monotonic writes", "writes-follow-reads"],
    },
    Term {
        name: "eventual consistency",
        aliases: &["eventual", "eventually consistent", "convergence", "converged", "ec"],
        kind: Kind::Model,
        summary: "once writes stop and the network heals, all replicas end up equal",
        definition: "A liveness promise: if clients stop writing, every replica eventually holds \
            the same state. It says nothing about reads in the meantime: stale reads, reads that \
            go backwards and (with last-writer-wins) silently lost updates are all allowed.",
        breaks: "Updates dropped and never sent again (no retransmission, no read repair, no \
            anti-entropy); merges whose result depends on arrival order.",
        checked: "`checks: [Convergence]` with `settle: Some(...)`: the settle phase heals every \
            fault, stops the clients and compares the replicas until they agree or the time \
            runs out; the ladder's `conv` cell.",
        scenario: teaching!("07-convergence-after-heal.ron"),
        exit: 0,
        violation: None,
        ladder: Some(("converged", "held")),
        look_for: "`convergence converged ... after settle began` and the peak of diverged \
            keys. scenarios/teaching/08-divergence-without-anti-entropy.ron shows it failing.",
        related: &["strong eventual consistency", "divergence", "anti-entropy", "partition"],
    },
    Term {
        name: "strong eventual consistency",
        aliases: &["sec", "crdt", "crdts", "strong convergence"],
        kind: Kind::Model,
        summary: "replicas that received the same updates hold the same state, in any order",
        definition: "Eventual consistency plus a safety promise (Shapiro, Preguica, Baquero and \
            Zawirski, 2011): any two replicas that have received the same updates are in the \
            same state, without rollback or a coordinator. Conflict-free replicated data types \
            get it from a merge that is commutative, associative and idempotent. Version-vector \
            replication with siblings is one: concurrent writes are kept side by side and merged \
            by causality.",
        breaks: "A merge that depends on arrival order; a merge that brings back values \
            already superseded. A last-writer-wins register is still a CRDT: its replicas \
            converge, and what its clock-based merge breaks is keeping acknowledged writes (see \
            lost update).",
        checked: "Convergence after settle (`checks: [Convergence]`), and the vclock protocol's \
            `no-resurrection` invariant after every step.",
        scenario: teaching!("15-siblings.ron"),
        exit: 0,
        violation: None,
        ladder: Some(("converged", "held")),
        look_for: "PASS: the replicas converge after the partition, keeping siblings where both \
            sides wrote, and no acknowledged write is lost.",
        related: &["eventual consistency", "siblings", "vector clocks"],
    },
    Term {
        name: "consistency ladder",
        aliases: &["ladder", "consistency models", "consistency hierarchy"],
        kind: Kind::Model,
        summary: "the row of models every run is placed on, strongest first",
        definition: "Every run is placed on the ladder whatever its checks say: linearizable, \
            sequential, causal, read-your-writes, monotonic reads, monotonic writes, \
            writes-follow-reads, no stale reads, converged (with a settle phase), no lost writes. \
            The ladder describes; only the checks a scenario lists judge it.",
        breaks: "A `NO` cell is a model the run broke; `?` a search that ran out of budget; `-` \
            not checked (convergence without a settle phase).",
        checked: "The `ladder` line of `faultline run`, the `ladder` list in `--json`, and the \
            tallies of `faultline sweep`.",
        scenario: teaching!("01-linearizable-register.ron"),
        exit: 0,
        violation: None,
        ladder: Some(("linearizable", "held")),
        look_for: "a ladder with `yes` in every cell. Run the other teaching scenarios to see \
            the cells turn to NO one by one.",
        related: &["linearizability", "eventual consistency"],
    },
    // Anomalies.
    Term {
        name: "stale read",
        aliases: &["stale reads", "stale", "staleness", "stale data"],
        kind: Kind::Anomaly,
        summary: "a read returns a value already overwritten by a completed write",
        definition: "A read that returns a version which another write had overwritten, and that \
            write had completed (was acknowledged) before the read began. The reader sees the \
            past although the present was already promised to someone.",
        breaks: "Replication lag; a replica cut off by a partition; quorums that do not \
            intersect; a deposed leader or an expired lease answering from its own state.",
        checked: "Counted on every run (the `stale reads` line and rate, each attributed to a \
            cause); `checks: [StaleReads]` judges it; the ladder's `no-stale` cell; the \
            `stale_read_rate_max` budget.",
        scenario: teaching!("03-stale-read.ron"),
        exit: 1,
        violation: Some("stale-reads"),
        ladder: Some(("no-stale-reads", "violated")),
        look_for: "the `stale reads` line and the first stale read: the value returned, the \
            write that had overwritten it, and how long before the read that write completed.",
        related: &["replication lag", "linearizability", "quorum intersection"],
    },
    Term {
        name: "replication lag",
        aliases: &["lag", "asynchronous replication", "async replication"],
        kind: Kind::Anomaly,
        summary: "the window in which other replicas still hold a value older than one acknowledged",
        definition: "The time between one replica acknowledging a write and another applying it. \
            With asynchronous replication every write has such a window; during it the other \
            replicas answer with the old value.",
        breaks: "Linearizability always; read-your-writes and monotonic reads when a client's \
            operations go to different replicas. It loses nothing: the replicas converge.",
        checked: "The report's `causes` line names `replication lag` for divergences and stale \
            reads no fault explains.",
        scenario: teaching!("03-stale-read.ron"),
        exit: 1,
        violation: Some("stale-reads"),
        ladder: Some(("linearizable", "violated")),
        look_for: "`causes      replication lag: ... stale reads`: no fault is injected, the \
            replicas are simply 30 ms apart and ship updates every 20 ms.",
        related: &["stale read", "read-your-writes", "monotonic reads"],
    },
    Term {
        name: "lost update",
        aliases: &["lost write", "lost writes", "lost updates", "write loss"],
        kind: Kind::Anomaly,
        summary: "an acknowledged write vanishes, and no later write explains it",
        definition: "A write the client was told succeeded that no replica holds at the end (or \
            that no replica held right after it was acknowledged), with no write that could \
            have followed it to explain its disappearance.",
        breaks: "Last-writer-wins with clocks that disagree (the write stamped by the slower \
            clock loses); a crash that loses writes acknowledged before they were synced; a new \
            leader that overwrites committed entries.",
        checked: "`checks: [LostWrites]`; the `lost writes` line with each write's cause; the \
            ladder's `no-loss` cell; the `lost_writes_max` budget.",
        scenario: teaching!("12-lost-update-clock-skew.ron"),
        exit: 1,
        violation: Some("lost-writes"),
        ladder: Some(("no-lost-writes", "violated")),
        look_for: "`lost writes N of M acknowledged writes` and `causes: clock skew`; the trace \
            notes say \"the write is silently superseded\".",
        related: &["clock skew", "last-writer-wins", "siblings"],
    },
    Term {
        name: "split brain",
        aliases: &["two leaders", "dual leaders", "election safety"],
        kind: Kind::Anomaly,
        summary: "two nodes act as leader at once, each accepting what the other does not know",
        definition: "Two nodes both believe they lead and both accept writes. Raft forbids two \
            leaders in the same term (election safety): each voter votes once per term, and a \
            majority is needed, so two majorities would share a voter.",
        breaks: "A voter that forgets its vote (it answered before the vote was on disk and \
            crashed); votes granted without the log check; a lease that outlives leadership.",
        checked: "Raft's `election-safety` invariant, checked after every step of the run.",
        scenario: teaching!("17-split-brain.ron"),
        exit: 1,
        violation: Some("election-safety"),
        ladder: None,
        look_for: "\"n3 and n1 both led term 1\".",
        related: &["crash", "figure 8", "leader lease"],
    },
    Term {
        name: "siblings",
        aliases: &["sibling", "concurrent writes", "multi-value register", "conflicts"],
        kind: Kind::Anomaly,
        summary: "concurrent writes of one key kept side by side instead of one winning",
        definition: "Two writes of one key are concurrent when neither writer had seen the \
            other's write. A store with version vectors keeps both as siblings: a read returns \
            every sibling with a causal context, and the next write with that context replaces \
            them. Nothing is lost; the application decides how to merge.",
        breaks: "Last-writer-wins keeps one of two concurrent writes and silently drops the \
            other; a store that treats ordered writes as concurrent piles up siblings.",
        checked: "Reads with several values in the history (`--json`); the vclock and quorum_kv \
            invariants `clock-covers-siblings` and `siblings-concurrent`.",
        scenario: teaching!("15-siblings.ron"),
        exit: 0,
        violation: None,
        ladder: Some(("no-lost-writes", "held")),
        look_for: "PASS, no lost writes, and reads that returned more than one value after the \
            partition (\"read\": [\"v5\", \"v7\"] in `--json`).",
        related: &["vector clocks", "sibling explosion", "lost update"],
    },
    Term {
        name: "sibling explosion",
        aliases: &["blind writes", "blind write", "sibling growth"],
        kind: Kind::Anomaly,
        summary: "writes that carry no causal context replace nothing, so siblings pile up",
        definition: "A write that does not carry the context its client read (a blind write) \
            supersedes nothing: every value ever written stays a sibling. Reads grow without \
            bound and show values that were read and replaced long ago.",
        breaks: "A coordinator that drops the client's context (variant `DropContext`); one \
            version vector per key instead of one dot per write (`mode: ServerVv`) under \
            interleaved writers; clients that write without reading first.",
        checked: "Causal consistency (`checks: [Causal]`): a read of a value its causal past had \
            replaced; the number of values per read in the history.",
        scenario: teaching!("16-sibling-explosion.ron"),
        exit: 1,
        violation: Some("causal"),
        ladder: Some(("causal", "violated")),
        look_for: "the `causal` violation; in `--json`, reads of up to 16 values where \
            scenarios/teaching/15-siblings.ron, the same run with the correct protocol, has 3.",
        related: &["siblings", "vector clocks", "causal consistency"],
    },
    Term {
        name: "divergence",
        aliases: &["diverged", "replica divergence", "no convergence", "inconsistent replicas"],
        kind: Kind::Anomaly,
        summary: "replicas hold different values for the same key",
        definition: "Replicas that disagree about a key. Under asynchronous replication some \
            divergence is normal and short; divergence that outlives the faults and the settle \
            phase means updates were lost for good.",
        breaks: "Updates sent once and dropped by a partition, with nothing to send them again: \
            no retransmission, read repair or anti-entropy.",
        checked: "The `divergence` line (peak, time to converge after each heal) and its \
            causes; `checks: [Convergence]`; the `keys_diverged_max` and \
            `convergence_after_heal_max` budgets.",
        scenario: teaching!("08-divergence-without-anti-entropy.ron"),
        exit: 1,
        violation: Some("convergence"),
        ladder: Some(("converged", "violated")),
        look_for: "\"replicas still disagree on 2 key(s)\" with what each replica holds.",
        related: &["eventual consistency", "anti-entropy", "read repair"],
    },
    // Faults.
    Term {
        name: "partition",
        aliases: &["network partition", "netsplit", "partitions", "isolate"],
        kind: Kind::Fault,
        summary: "the network splits the nodes into groups that cannot reach each other",
        definition: "Messages between groups are dropped until the partition heals. In a \
            scenario: `Partition([[\"n1\"], [\"n2\", \"n3\"]])`, `Isolate(\"n1\")`, \
            `Bridge(left, right, via)` for partial connectivity, and `Heal`.",
        breaks: "A replicated store must then give up consistency or availability on the cut-off \
            side (CAP): last-writer-wins and vector clocks stay available and diverge; quorum \
            systems and Raft refuse on the minority side.",
        checked: "Drops counted as `partitioned` in the `network` line, partition spans in the \
            report's timeline, divergence attributed to `partition`.",
        scenario: teaching!("07-convergence-after-heal.ron"),
        exit: 0,
        violation: None,
        ladder: Some(("converged", "held")),
        look_for: "`dropped (partitioned ...)`, divergence while cut, and convergence once the \
            settle phase heals the partition.",
        related: &["one-way partition", "eventual consistency", "split brain"],
    },
    Term {
        name: "one-way partition",
        aliases: &["asymmetric partition", "one-way cut", "oneway", "half partition"],
        kind: Kind::Fault,
        summary: "messages flow in one direction only",
        definition: "A reaches B but B's messages to A are dropped: a firewall rule, a routing \
            error, a half-dead network card. In a scenario: `OneWay(from: [...], to: [...])` or \
            `LinkDown(from, to)`.",
        breaks: "Anything that assumes links are symmetric: the deaf node never learns of the \
            others' writes and serves stale reads, while everyone still hears it. Raft's \
            check-quorum makes a deaf leader step down (scenarios/raft-one-way-cut.ron).",
        checked: "Drops counted as `partitioned`; stale reads and divergence attributed to \
            `one-way cut`.",
        scenario: teaching!("09-one-way-partition.ron"),
        exit: 1,
        violation: Some("stale-reads"),
        ladder: Some(("no-stale-reads", "violated")),
        look_for: "the stale reads, all on n1, attributed to the `one-way cut` in `causes`.",
        related: &["partition", "stale read"],
    },
    Term {
        name: "crash",
        aliases: &["crash-restart", "restart", "node failure", "crashes"],
        kind: Kind::Fault,
        summary: "a node stops, loses its memory, and later restarts from its disk",
        definition: "Volatile state and timers are lost; after `Restart` the protocol recovers \
            from its simulated disk. With `storage: (lose_unsynced_on_crash: true)`, writes not \
            yet synced are lost too. In a scenario: `Crash(\"n2\")`, `Restart(\"n2\")`.",
        breaks: "Protocols that answer before their state is durable: a voter that forgets its \
            vote votes twice, a replica that acknowledged an unsynced write loses it.",
        checked: "Crash spans in the report's timeline; drops counted as `destination-down`; \
            the protocols' invariants.",
        scenario: teaching!("17-split-brain.ron"),
        exit: 1,
        violation: Some("election-safety"),
        ladder: None,
        look_for: "n2 crashing every 80 ms and losing its unsynced vote: `election-safety`.",
        related: &["split brain", "lost update"],
    },
    Term {
        name: "clock skew",
        aliases: &["skew", "clock offset", "offset", "clock error"],
        kind: Kind::Fault,
        summary: "two clocks read different times at the same instant",
        definition: "Each node's wall clock starts at an offset from true time: \
            `clocks: { \"n2\": (offset: \"-100ms\") }`. Timestamps from different machines \
            then disagree about which event came first.",
        breaks: "Anything that orders events by wall-clock stamps from different machines: \
            last-writer-wins drops the write stamped by the clock that is behind; leases, TTLs \
            and deadlines compared across machines.",
        checked: "Lost writes and stale reads attributed to `clock skew`; the clock lane of the \
            HTML report.",
        scenario: teaching!("12-lost-update-clock-skew.ron"),
        exit: 1,
        violation: Some("lost-writes"),
        ladder: Some(("no-lost-writes", "violated")),
        look_for: "`causes      clock skew: N lost writes`; set the offset to \"0ms\" and none is \
            lost.",
        related: &["clock drift", "clock step", "last-writer-wins", "lost update"],
    },
    Term {
        name: "clock drift",
        aliases: &["drift", "clock rate", "ppm"],
        kind: Kind::Fault,
        summary: "a clock runs too fast or too slow, so its error grows with time",
        definition: "`drift_ppm: 100` gains 100 µs every second, 360 ms an hour. In faultline \
            drift applies to both of a node's clocks: its timers stretch or shrink, and its \
            wall clock wanders away from the others.",
        breaks: "Timestamps, like skew but growing; leases, whose safety assumes leader and \
            followers measure time at nearly the same rate (Raft's `lease_drift_bound_ppm`).",
        checked: "Lost writes attributed to `clock skew` once the drift has built up; the clock \
            lane of the HTML report.",
        scenario: teaching!("13-clock-drift.ron"),
        exit: 1,
        violation: Some("lost-writes"),
        ladder: Some(("no-lost-writes", "violated")),
        look_for: "the first lost write more than a second and a half into the run, when n2's \
            clock has fallen far enough behind.",
        related: &["clock skew", "leader lease"],
    },
    Term {
        name: "clock step",
        aliases: &["ntp step", "clock jump", "time jump"],
        kind: Kind::Fault,
        summary: "a wall clock jumps forwards or backwards at once, as NTP may make it",
        definition: "`ClockStep(node, by)` moves a node's wall clock by a signed amount in one \
            instant; `ClockSlew` corrects it gradually instead. The monotonic clock never \
            jumps; timers run on it.",
        breaks: "Durations measured on the wall clock: a lease timed on it is stretched by a step \
            back; timestamps go backwards.",
        checked: "Steps are listed in the report's faults and named in cause evidence.",
        scenario: teaching!("14-lease-read-clock-step.ron"),
        exit: 1,
        violation: Some("lease-read-safety"),
        ladder: Some(("linearizable", "violated")),
        look_for: "the step at 2 s, then n1 answering c1's reads from an old state: \
            `lease-read-safety` and `linearizable`.",
        related: &["leader lease", "clock skew"],
    },
    Term {
        name: "gc pause",
        aliases: &["gc", "garbage collection pause", "stop the world", "pause", "process pause"],
        kind: Kind::Fault,
        summary: "a process freezes for a while, then carries on as if no time had passed",
        definition: "Garbage collection, a VM migration, swapping or SIGSTOP: the node handles \
            nothing, its clocks keep running, and messages, requests and timers wait until it \
            resumes. In a scenario: `Pause(node: \"n1\", for: \"1s\")`.",
        breaks: "A leader that wakes up after being replaced and acts on stale beliefs (leases, \
            locks); requests that timed out at the client but are executed late, after newer \
            ones (scenarios/teaching/06-monotonic-writes.ron).",
        checked: "Pause spans in the report's timeline; divergence attributed to `paused node`.",
        scenario: teaching!("19-gc-pause-stale-leader.ron"),
        exit: 1,
        violation: Some("lease-read-safety"),
        ladder: None,
        look_for: "\"n1, leading term 1, answered a lease read of k0 with ..., but the committed \
            log holds ...\" at 3 s, when n1 wakes.",
        related: &["leader lease", "monotonic writes", "split brain"],
    },
    // Mechanisms.
    Term {
        name: "quorum intersection",
        aliases: &["quorum", "quorums", "r+w>n", "strict quorum", "overlapping quorums"],
        kind: Kind::Mechanism,
        summary: "with R + W > N every read quorum meets every write quorum",
        definition: "With N replicas per key, a write waits for W acknowledgements and a read for \
            R answers. If R + W > N, any read quorum shares a replica with any write quorum, so \
            a read that begins after a write was acknowledged meets a replica that has it.",
        breaks: "R + W <= N (chosen for speed): a read can ask only replicas the write has not \
            reached yet. A sloppy quorum counted as a strict one breaks it the same way.",
        checked: "quorum_kv's `reads-see-acknowledged-writes` invariant, after every step.",
        scenario: teaching!("10-quorum-without-intersection.ron"),
        exit: 1,
        violation: Some("reads-see-acknowledged-writes"),
        ladder: None,
        look_for: "\"r (1) + w (1) <= n (3): read and write quorums need not overlap\"; set \
            `r: 2, w: 2` and it holds.",
        related: &["sloppy quorum", "stale read", "read repair"],
    },
    Term {
        name: "sloppy quorum",
        aliases: &["sloppy", "sloppy quorums"],
        kind: Kind::Mechanism,
        summary: "other nodes stand in for unreachable replicas, so writes stay available",
        definition: "When a key's replicas cannot be reached, the coordinator asks the next \
            nodes on the ring to stand in; they keep the write as a hint for the real replica \
            (Dynamo). Writes stay available during a partition, but the R + W > N promise no \
            longer holds: readers ask the real replicas.",
        breaks: "Counting a stand-in's acknowledgement as a replica's (variant \
            `SloppyCountedAsStrict`): clients hear \"written\" for writes no quorum read is sure \
            to see.",
        checked: "quorum_kv's `reads-see-acknowledged-writes` invariant names the stand-in and \
            the replica it stood in for.",
        scenario: teaching!("11-sloppy-quorum-counted-as-strict.ron"),
        exit: 1,
        violation: Some("reads-see-acknowledged-writes"),
        ladder: None,
        look_for: "\"n1 stood in for n4\" in the violation; the replicas still converge once \
            the hints are handed back.",
        related: &["hinted handoff", "quorum intersection"],
    },
    Term {
        name: "hinted handoff",
        aliases: &["hints", "hint", "handoff"],
        kind: Kind::Mechanism,
        summary: "stand-ins hand the writes they kept back to the replica once it is reachable",
        definition: "A stand-in that accepted a write for an unreachable replica keeps it as a \
            durable hint naming that replica, and offers it again and again until the replica \
            acknowledges. After the partition the hints flow home and the replicas converge.",
        breaks: "A stand-in that loses its hints, or never retries, leaves replicas diverged; \
            handoff restores durability, not read consistency during the outage.",
        checked: "Convergence after settle; the stand-ins' `Handoff` messages in the trace \
            (`--trace FILE`).",
        scenario: "scenarios/quorum-sloppy-handoff.ron",
        exit: 0,
        violation: None,
        ladder: Some(("converged", "held")),
        look_for: "PASS: unknown writes on the minority side, no stale read, and convergence \
            after the heal.",
        related: &["sloppy quorum", "anti-entropy"],
    },
    Term {
        name: "read repair",
        aliases: &[],
        kind: Kind::Mechanism,
        summary: "a read that finds replicas disagreeing sends them the newest copy",
        definition: "When a read gathers answers from several replicas and they differ, the \
            coordinator sends the merged copy to the replicas that answered with less. It \
            repairs only the keys that are read. In a scenario: `read_repair: true` (quorum_kv, \
            lww).",
        breaks: "Without it, and without anti-entropy, a replica that missed writes while cut \
            off stays behind until the key is written again.",
        checked: "Convergence after settle (`checks: [Convergence]`).",
        scenario: "scenarios/quorum-r2w2-partition-no-repair.ron",
        exit: 1,
        violation: Some("convergence"),
        ladder: Some(("converged", "violated")),
        look_for: "the keys on which n3 still differs after settle, with repair switched off; \
            scenarios/quorum-r2w2-partition-heals.ron is the same run with repair, and passes.",
        related: &["anti-entropy", "divergence"],
    },
    Term {
        name: "anti-entropy",
        aliases: &["background repair", "merkle tree"],
        kind: Kind::Mechanism,
        summary: "replicas periodically compare what they hold and repair the differences",
        definition: "A background task compares a replica's keys with a peer's (digests, or a \
            Merkle tree) and repairs both sides, including keys nobody reads. In a scenario: \
            `anti_entropy_every: \"200ms\"` (quorum_kv, lww).",
        breaks: "Without it, updates that were sent once and lost leave replicas diverged for \
            ever.",
        checked: "Convergence after settle (`checks: [Convergence]`), and the time to converge \
            after each heal.",
        scenario: teaching!("08-divergence-without-anti-entropy.ron"),
        exit: 1,
        violation: Some("convergence"),
        ladder: Some(("converged", "violated")),
        look_for: "the `convergence` violation; add `anti_entropy_every: \"200ms\"` to the \
            protocol options and the replicas converge.",
        related: &["read repair", "divergence", "eventual consistency"],
    },
    Term {
        name: "leader lease",
        aliases: &["lease", "leases", "lease read", "lease reads"],
        kind: Kind::Mechanism,
        summary: "a leader answers reads alone while no other leader can have been elected yet",
        definition: "A leader that heard from a majority less than an election timeout ago knows \
            that no follower of that majority will vote for anyone else yet, so it may answer \
            reads from its own state without a round trip. The argument is about time measured \
            on different machines: it holds only while clocks do not jump and drift is bounded.",
        breaks: "A lease timed on a wall clock that NTP steps back (`LeaseOnWallClock`), counted \
            from when acknowledgements are handled after a pause (`LeaseFromAckArrival`), or \
            clocks drifting beyond `lease_drift_bound_ppm`.",
        checked: "Raft's `lease-read-safety` invariant, and linearizability of the reads.",
        scenario: teaching!("14-lease-read-clock-step.ron"),
        exit: 1,
        violation: Some("lease-read-safety"),
        ladder: Some(("linearizable", "violated")),
        look_for: "`lease-read-safety` naming the stale value and the committed write n1 missed, \
            and the same read as a `linearizable` violation.",
        related: &["clock step", "gc pause", "clock drift"],
    },
    Term {
        name: "figure 8",
        aliases: &["raft figure 8", "fig 8", "commit old term", "leader completeness"],
        kind: Kind::Mechanism,
        summary: "why a Raft leader commits only entries of its own term by counting replicas",
        definition: "Figure 8 of the Raft paper (Ongaro and Ousterhout, 2014): an entry of an \
            earlier term stored on a majority can still be overwritten by a later leader whose \
            last entry has a newer term. So a leader commits by counting only entries of its \
            own term; older entries commit with them.",
        breaks: "Counting replicas of an old-term entry (variant `CommitOldTermByCounting`): the \
            entry is declared committed, then overwritten, and two nodes apply different \
            commands at the same index.",
        checked: "Raft's `leader-completeness` and `state-machine-safety` invariants.",
        scenario: teaching!("18-raft-figure8.ron"),
        exit: 1,
        violation: Some("leader-completeness"),
        ladder: None,
        look_for: "`leader-completeness` when n5 leads without the entry n1 counted as \
            committed, then `state-machine-safety`.",
        related: &["split brain"],
    },
    Term {
        name: "vector clocks",
        aliases: &["vector clock", "version vector", "version vectors", "vclock", "dvv"],
        kind: Kind::Mechanism,
        summary: "per-node counters that tell ordered writes from concurrent ones, without clocks",
        definition: "Each version carries a map from node to the number of that node's writes it \
            has seen. Comparing two maps says whether one version happened before the other or \
            they are concurrent. Dotted version vectors tag each sibling with the one write (the \
            dot) that created it, so a write replaces exactly what its client read.",
        breaks: "Dropping the client's context (every write concurrent with everything), one \
            vector per key under interleaved writers (siblings pile up), a merge that unions \
            siblings without looking at the clocks (superseded values come back).",
        checked: "The vclock protocol's `clock-covers-siblings` and `no-resurrection` \
            invariants; causal consistency; convergence.",
        scenario: teaching!("15-siblings.ron"),
        exit: 0,
        violation: None,
        ladder: Some(("causal", "held")),
        look_for: "PASS: concurrent writes kept as siblings and resolved by the next writer \
            that read them.",
        related: &["siblings", "sibling explosion", "last-writer-wins"],
    },
    Term {
        name: "last-writer-wins",
        aliases: &["lww", "timestamps"],
        kind: Kind::Mechanism,
        summary: "of two versions, the one with the larger wall-clock stamp wins everywhere",
        definition: "Each write is stamped with its coordinator's wall clock (node id breaks \
            ties), and every replica keeps the version with the largest stamp. It converges and \
            needs no coordination, but the order is the clocks' opinion, not causality.",
        breaks: "Clock skew and drift: a write stamped by a clock that is behind loses to an \
            earlier write, and the client that was told \"written\" never learns.",
        checked: "`checks: [LostWrites]`; the lww protocol's `stamp-monotonic` invariant.",
        scenario: teaching!("12-lost-update-clock-skew.ron"),
        exit: 1,
        violation: Some("lost-writes"),
        ladder: Some(("no-lost-writes", "violated")),
        look_for: "the lost writes and their cause, `clock skew`.",
        related: &["clock skew", "lost update", "vector clocks"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_ignoring_case_spaces_dashes_and_underscores() {
        assert_eq!(
            find("Read_Your-Writes").map(|t| t.name),
            Some("read-your-writes")
        );
        assert_eq!(find("SPLIT brain").map(|t| t.name), Some("split brain"));
        assert_eq!(find("gc-pause").map(|t| t.name), Some("gc pause"));
        assert_eq!(find("lww").map(|t| t.name), Some("last-writer-wins"));
        assert!(find("quantum entanglement").is_none());
    }

    #[test]
    fn a_near_miss_is_suggested() {
        assert_eq!(
            suggest("linearizabilty").map(|t| t.name),
            Some("linearizability")
        );
        assert_eq!(
            suggest("monotonic read").map(|t| t.name),
            Some("monotonic reads")
        );
        assert_eq!(
            suggest("sloppyquorom").map(|t| t.name),
            Some("sloppy quorum")
        );
        assert!(suggest("xyzzy").is_none());
    }

    #[test]
    fn no_two_terms_share_a_name_or_alias() {
        let mut seen = std::collections::BTreeMap::new();
        for term in terms() {
            for name in std::iter::once(term.name).chain(term.aliases.iter().copied()) {
                if let Some(other) = seen.insert(normalize(name), term.name) {
                    panic!("{name:?} names both {other:?} and {:?}", term.name);
                }
            }
        }
    }

    #[test]
    fn related_terms_exist_and_scenarios_are_where_the_table_says() {
        for term in terms() {
            for related in term.related {
                assert!(
                    find(related).is_some(),
                    "{}: unknown related {related}",
                    term.name
                );
            }
            assert!(term.scenario.starts_with("scenarios/"), "{}", term.name);
            assert_eq!(term.exit == 0, term.violation.is_none(), "{}", term.name);
        }
        assert!(terms()
            .iter()
            .any(|t| t.scenario.starts_with("scenarios/teaching/")));
    }

    #[test]
    fn wrapping_keeps_lines_short_and_words_whole() {
        let text = wrap(&"word ".repeat(60), "  ");
        assert!(text
            .lines()
            .all(|l| l.len() <= 96 && l.starts_with("  word")));
        assert_eq!(text.split_whitespace().count(), 60);
    }
}
