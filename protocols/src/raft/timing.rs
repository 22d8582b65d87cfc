//! How long a cluster goes without a leader (paper §9.3, Figure 16): the notes a Raft node
//! writes in the trace when it takes the lead or starts following a leader, and a trace sink
//! that reads them back with the true time at which each was written.
//!
//! Figure 16 measures "the time from when the old leader crashed until the other servers
//! received the new leader's first heartbeat". A follower writes its note in the handler of
//! the first `AppendEntries` it accepts from a leader of a new term, so the note's true time
//! is exactly that reception; [`LeadershipLog::downtime_after`] takes the latest such note
//! among the survivors.

use sim_core::ids::NodeId;
use sim_core::time::{SimDuration, SimTime};
use sim_core::trace::{TraceKind, TraceRecord, TraceSink};

/// The note a node writes when it becomes leader.
pub fn leads(node: NodeId, term: u64) -> String {
    format!("{node} leads term {term}")
}

/// The note a node writes when it first hears from the leader of a term.
pub fn follows(node: NodeId, leader: NodeId, term: u64) -> String {
    format!("{node} follows {leader} in term {term}")
}

/// The note a leader writes when check-quorum makes it step down.
pub fn steps_down(node: NodeId, term: u64) -> String {
    format!("{node} steps down in term {term}: no majority answered within the minimum election timeout")
}

/// A leadership note, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leadership {
    /// `node` became leader of `term`.
    Leads {
        /// The leader.
        node: NodeId,
        /// Its term.
        term: u64,
    },
    /// `node` heard from `leader` of `term` for the first time.
    Follows {
        /// The follower.
        node: NodeId,
        /// The leader it heard.
        leader: NodeId,
        /// The leader's term.
        term: u64,
    },
}

/// Reads a note written by [`leads`] or [`follows`]; None for any other text.
pub fn parse(text: &str) -> Option<Leadership> {
    let words: Vec<&str> = text.split(' ').collect();
    match words.as_slice() {
        [node, "leads", "term", term] => Some(Leadership::Leads {
            node: NodeId::parse(node)?,
            term: term.parse().ok()?,
        }),
        [node, "follows", leader, "in", "term", term] => Some(Leadership::Follows {
            node: NodeId::parse(node)?,
            leader: NodeId::parse(leader)?,
            term: term.parse().ok()?,
        }),
        _ => None,
    }
}

/// A trace sink that keeps the leadership notes of a run, in order, with their true times.
#[derive(Clone, Debug, Default)]
pub struct LeadershipLog {
    events: Vec<(SimTime, Leadership)>,
}

impl TraceSink for LeadershipLog {
    fn event(&mut self, record: &TraceRecord, description: &str) {
        if record.kind == TraceKind::Annotation {
            if let Some(event) = parse(description) {
                self.events.push((record.time, event));
            }
        }
    }
}

impl LeadershipLog {
    /// Every note, in trace order.
    pub fn events(&self) -> &[(SimTime, Leadership)] {
        &self.events
    }

    /// The time from `crash` until every node in `survivors` other than the new leader heard
    /// from the first leader elected after the crash that reached them all; None when none
    /// did before the run ended (a censored trial).
    pub fn downtime_after(&self, crash: SimTime, survivors: &[NodeId]) -> Option<SimDuration> {
        let after = self.events.iter().filter(|(at, _)| *at >= crash);
        for (elected_at, event) in after.clone() {
            let Leadership::Leads { node: leader, term } = *event else {
                continue;
            };
            let mut last = *elected_at;
            let reached_all = survivors.iter().filter(|s| **s != leader).all(|survivor| {
                let heard = after.clone().find_map(|(at, event)| {
                    let wanted = Leadership::Follows {
                        node: *survivor,
                        leader,
                        term,
                    };
                    (*event == wanted).then_some(*at)
                });
                heard.inspect(|at| last = last.max(*at)).is_some()
            });
            if reached_all {
                return Some(last.since(crash));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_read_back_as_written() {
        assert_eq!(
            parse(&leads(NodeId(2), 7)),
            Some(Leadership::Leads {
                node: NodeId(2),
                term: 7
            })
        );
        assert_eq!(
            parse(&follows(NodeId(0), NodeId(4), 12)),
            Some(Leadership::Follows {
                node: NodeId(0),
                leader: NodeId(4),
                term: 12
            })
        );
        assert_eq!(parse(&steps_down(NodeId(0), 3)), None);
        assert_eq!(parse("n1 leads term x"), None);
    }

    #[test]
    fn downtime_runs_until_the_last_survivor_hears_a_leader_that_reached_them_all() {
        let mut log = LeadershipLog::default();
        let at = |ms: u64| SimTime(ms * 1_000_000);
        let n = NodeId;
        log.events = vec![
            (
                at(50),
                Leadership::Leads {
                    node: n(0),
                    term: 1,
                },
            ),
            // n2 wins term 3 but only n3 hears it before n4 takes term 4.
            (
                at(1_200),
                Leadership::Leads {
                    node: n(1),
                    term: 3,
                },
            ),
            (
                at(1_201),
                Leadership::Follows {
                    node: n(2),
                    leader: n(1),
                    term: 3,
                },
            ),
            (
                at(1_300),
                Leadership::Leads {
                    node: n(3),
                    term: 4,
                },
            ),
            (
                at(1_302),
                Leadership::Follows {
                    node: n(1),
                    leader: n(3),
                    term: 4,
                },
            ),
            (
                at(1_303),
                Leadership::Follows {
                    node: n(2),
                    leader: n(3),
                    term: 4,
                },
            ),
        ];
        let survivors = [n(1), n(2), n(3)];
        assert_eq!(
            log.downtime_after(at(1_000), &survivors),
            Some(SimDuration::from_millis(303))
        );
        assert_eq!(log.downtime_after(at(1_301), &survivors), None);
    }
}
