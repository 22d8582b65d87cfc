//! The replicated log: entries numbered from 1, each stamped with the term of the leader that
//! created it, and the commands the key-value state machine applies.

use sim_core::ids::{ClientId, Key, Value};

/// Who asked for a command, for deduplicating retries: the client and its own sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Session {
    /// The client.
    pub client: ClientId,
    /// The client's sequence number for the operation (from `RequestId::seq`).
    pub seq: u64,
}

/// What an entry asks the state machine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Nothing: a new leader's first entry, which commits everything before it (thesis §6.4).
    Noop,
    /// Write `value` to `key`.
    Put {
        /// The key.
        key: Key,
        /// The value (unique in the run).
        value: Value,
        /// Who asked.
        session: Session,
    },
    /// Write `new` to `key` if it holds `expected`.
    Cas {
        /// The key.
        key: Key,
        /// The value the key must hold (None: absent).
        expected: Option<Value>,
        /// The value written.
        new: Value,
        /// Who asked.
        session: Session,
    },
    /// Read `key` through the log (the `reads: Log` mode).
    Get {
        /// The key.
        key: Key,
        /// Who asked.
        session: Session,
    },
}

impl Command {
    /// The key a command writes, if it may write one.
    pub fn written_key(&self) -> Option<Key> {
        match self {
            Command::Put { key, .. } | Command::Cas { key, .. } => Some(*key),
            Command::Noop | Command::Get { .. } => None,
        }
    }

    /// The session of a client command.
    pub fn session(&self) -> Option<Session> {
        match self {
            Command::Noop => None,
            Command::Put { session, .. }
            | Command::Cas { session, .. }
            | Command::Get { session, .. } => Some(*session),
        }
    }
}

/// One log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The term of the leader that created it.
    pub term: u64,
    /// What it does.
    pub command: Command,
}

/// Where a follower's log disagrees with a leader's previous entry: the hint the leader uses
/// to skip back a whole term at a time instead of one entry per round trip (Raft paper §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConflictHint {
    /// The term of the follower's entry at the leader's previous index, or None when the
    /// follower's log is shorter than that index.
    pub term: Option<u64>,
    /// The first index the follower holds with `term`, or its last index + 1 when shorter.
    pub first_index: u64,
}

/// A node's log in memory, with a record of every truncation so that the invariants can find
/// what changed since they last looked without comparing whole logs.
#[derive(Clone, Debug, Default)]
pub struct Log {
    entries: Vec<Entry>,
    /// The first index removed by each truncation, in order (truncations are rare: a
    /// follower dropping a deposed leader's uncommitted suffix).
    truncations: Vec<u64>,
}

impl Log {
    /// A log holding `entries` (from disk), numbered from 1.
    pub fn from_entries(entries: Vec<Entry>) -> Log {
        Log {
            entries,
            truncations: Vec::new(),
        }
    }

    /// Every entry, index 1 first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The index of the last entry (0: empty).
    pub fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The term of the last entry (0: empty).
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(0, |entry| entry.term)
    }

    /// The entry at `index` (from 1), if the log holds it.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        if index == 0 {
            return None;
        }
        self.entries.get(index as usize - 1)
    }

    /// The term at `index`: 0 for index 0 (the empty prefix), None beyond the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        self.get(index).map(|entry| entry.term)
    }

    /// The first index of a truncation, for each truncation so far.
    pub fn truncations(&self) -> &[u64] {
        &self.truncations
    }

    /// Entries from `from` (at least 1) up to `count` of them.
    pub fn slice(&self, from: u64, count_max: usize) -> &[Entry] {
        let start = (from.max(1) - 1) as usize;
        if start >= self.entries.len() {
            return &[];
        }
        let end = self.entries.len().min(start + count_max);
        &self.entries[start..end]
    }

    /// Appends one entry and returns its index.
    pub fn push(&mut self, entry: Entry) -> u64 {
        self.entries.push(entry);
        self.last_index()
    }

    /// Whether the log is at least as up to date as one ending with (`last_term`,
    /// `last_index`): the voter's check of Raft paper §5.4.1, seen from the voter.
    pub fn is_ahead_of(&self, last_term: u64, last_index: u64) -> bool {
        (self.last_term(), self.last_index()) > (last_term, last_index)
    }

    /// Why this log cannot take entries after `prev_index`, `prev_term`: None when it can.
    pub fn conflict(&self, prev_index: u64, prev_term: u64) -> Option<ConflictHint> {
        match self.term_at(prev_index) {
            Some(term) if term == prev_term => None,
            Some(term) => Some(ConflictHint {
                term: Some(term),
                first_index: self.first_index_of_term(term, prev_index),
            }),
            None => Some(ConflictHint {
                term: None,
                first_index: self.last_index() + 1,
            }),
        }
    }

    /// The first index of the run of `term` entries that ends at `index`.
    fn first_index_of_term(&self, term: u64, index: u64) -> u64 {
        let mut first = index;
        while first > 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index holding an entry of `term`, if any (searched from the end: the leader
    /// asks about terms near its tail).
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        let position = self.entries.iter().rposition(|entry| entry.term == term)?;
        Some(position as u64 + 1)
    }

    /// Stores `entries` after `prev_index` (which must match): entries the log already holds
    /// are kept, the first conflicting one and everything after it is replaced. Returns the
    /// index from which the log changed and the entries written there, for the disk; None when
    /// nothing changed (a duplicate or reordered message must not truncate anything).
    pub fn merge(&mut self, prev_index: u64, entries: &[Entry]) -> Option<(u64, Vec<Entry>)> {
        debug_assert!(
            prev_index <= self.last_index(),
            "merge after a matched prefix"
        );
        for (offset, entry) in entries.iter().enumerate() {
            let index = prev_index + 1 + offset as u64;
            match self.term_at(index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    self.truncate_from(index);
                    self.entries.extend_from_slice(&entries[offset..]);
                    return Some((index, entries[offset..].to_vec()));
                }
                None => {
                    self.entries.extend_from_slice(&entries[offset..]);
                    return Some((index, entries[offset..].to_vec()));
                }
            }
        }
        None
    }

    /// Drops `index` and everything after it.
    fn truncate_from(&mut self, index: u64) {
        debug_assert!(index >= 1 && index <= self.last_index());
        self.entries.truncate(index as usize - 1);
        self.truncations.push(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(terms: &[u64]) -> Log {
        Log::from_entries(
            terms
                .iter()
                .map(|&term| Entry {
                    term,
                    command: Command::Noop,
                })
                .collect(),
        )
    }

    fn entries(terms: &[u64]) -> Vec<Entry> {
        log(terms).entries
    }

    #[test]
    fn a_conflict_hint_names_the_first_index_of_the_conflicting_term() {
        let log = log(&[1, 1, 2, 2, 2]);
        assert_eq!(log.conflict(4, 2), None);
        assert_eq!(
            log.conflict(5, 3),
            Some(ConflictHint {
                term: Some(2),
                first_index: 3
            })
        );
        assert_eq!(
            log.conflict(7, 3),
            Some(ConflictHint {
                term: None,
                first_index: 6
            })
        );
        assert_eq!(log.conflict(0, 0), None);
    }

    #[test]
    fn merge_keeps_matching_entries_and_replaces_from_the_first_conflict() {
        let mut follower = log(&[1, 1, 2, 2]);
        assert_eq!(follower.merge(1, &entries(&[1, 2])), None, "already held");
        assert_eq!(
            follower.merge(2, &entries(&[3, 3])),
            Some((3, entries(&[3, 3])))
        );
        assert_eq!(follower.entries(), &entries(&[1, 1, 3, 3])[..]);
        assert_eq!(follower.truncations(), &[3]);
        assert_eq!(follower.merge(4, &entries(&[3])), Some((5, entries(&[3]))));
        assert_eq!(follower.truncations(), &[3], "an append truncates nothing");
    }

    #[test]
    fn up_to_date_compares_the_last_term_first_then_the_length() {
        let log = log(&[1, 2]);
        assert!(log.is_ahead_of(1, 9));
        assert!(!log.is_ahead_of(2, 2));
        assert!(log.is_ahead_of(2, 1));
        assert!(!log.is_ahead_of(3, 1));
        assert_eq!(log.last_index_of_term(1), Some(1));
        assert_eq!(log.last_index_of_term(3), None);
    }
}
