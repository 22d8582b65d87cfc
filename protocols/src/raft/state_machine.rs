//! The key-value state machine every node builds by applying committed entries in order, with
//! client sessions so that a command submitted twice takes effect once (thesis §6.3).

use super::log::{Command, Session};
use sim_core::ids::{ClientId, Key, Value};
use sim_core::protocol::ReplicaView;
use std::collections::BTreeMap;

/// How many results each client session remembers. Clients have few operations in flight,
/// and a retry follows its first attempt within a redirect or two; a command older than the
/// window is answered as expired instead of being applied a second time.
pub const SESSION_RESULTS_MAX: usize = 64;

/// What applying a command did, kept per session to answer a retry the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A no-op.
    Nothing,
    /// The put took effect.
    Written,
    /// The cas matched and took effect.
    Swapped,
    /// The cas did not match: the key held `found`.
    Mismatch {
        /// What the key held.
        found: Option<Value>,
    },
    /// A read through the log saw this value.
    Read(Option<Value>),
    /// The session no longer remembers this sequence number: not applied again, outcome
    /// unknown to this node.
    Expired,
}

/// One client's recent results by sequence number.
#[derive(Clone, Debug, Default)]
struct ClientSession {
    results: BTreeMap<u64, Outcome>,
}

/// The store and the sessions.
#[derive(Clone, Debug, Default)]
pub struct KvStore {
    data: BTreeMap<Key, Value>,
    sessions: BTreeMap<ClientId, ClientSession>,
}

impl KvStore {
    /// The value of `key`, if any.
    pub fn get(&self, key: Key) -> Option<Value> {
        self.data.get(&key).copied()
    }

    /// The remembered outcome of a client command, if it has been applied (or has expired).
    pub fn outcome_of(&self, session: Session) -> Option<Outcome> {
        let remembered = self.sessions.get(&session.client)?;
        if let Some(outcome) = remembered.results.get(&session.seq) {
            return Some(*outcome);
        }
        let oldest = remembered.results.keys().next()?;
        let full = remembered.results.len() >= SESSION_RESULTS_MAX;
        (full && session.seq < *oldest).then_some(Outcome::Expired)
    }

    /// Applies one committed command; a command whose session already has a result is not
    /// applied again, and its first outcome is returned.
    pub fn apply(&mut self, command: &Command) -> Outcome {
        if let Some(session) = command.session() {
            if let Some(outcome) = self.outcome_of(session) {
                return outcome;
            }
        }
        let outcome = match *command {
            Command::Noop => return Outcome::Nothing,
            Command::Put { key, value, .. } => {
                self.data.insert(key, value);
                Outcome::Written
            }
            Command::Cas {
                key, expected, new, ..
            } => {
                let found = self.get(key);
                if found == expected {
                    self.data.insert(key, new);
                    Outcome::Swapped
                } else {
                    Outcome::Mismatch { found }
                }
            }
            Command::Get { key, .. } => Outcome::Read(self.get(key)),
        };
        if let Some(session) = command.session() {
            let results = &mut self.sessions.entry(session.client).or_default().results;
            results.insert(session.seq, outcome);
            if results.len() > SESSION_RESULTS_MAX {
                results.pop_first();
            }
        }
        outcome
    }

    /// Every key and its value, for divergence checks.
    pub fn fill_view(&self, view: &mut ReplicaView) {
        for (key, value) in &self.data {
            view.insert(*key, vec![*value]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(seq: u64) -> Session {
        Session {
            client: ClientId(0),
            seq,
        }
    }

    #[test]
    fn a_command_applied_twice_takes_effect_once_and_answers_the_same() {
        let mut store = KvStore::default();
        let put = Command::Put {
            key: Key(1),
            value: Value(10),
            session: session(1),
        };
        assert_eq!(store.apply(&put), Outcome::Written);
        let cas = Command::Cas {
            key: Key(1),
            expected: Some(Value(10)),
            new: Value(11),
            session: session(2),
        };
        assert_eq!(store.apply(&cas), Outcome::Swapped);
        assert_eq!(store.apply(&put), Outcome::Written, "the retry of seq 1");
        assert_eq!(store.get(Key(1)), Some(Value(11)), "not written again");
        assert_eq!(store.apply(&cas), Outcome::Swapped, "the retry of seq 2");
    }

    #[test]
    fn a_cas_that_does_not_match_changes_nothing_and_says_what_it_found() {
        let mut store = KvStore::default();
        let cas = Command::Cas {
            key: Key(2),
            expected: Some(Value(1)),
            new: Value(5),
            session: session(1),
        };
        assert_eq!(store.apply(&cas), Outcome::Mismatch { found: None });
        assert_eq!(store.get(Key(2)), None);
    }

    #[test]
    fn a_session_forgets_its_oldest_results_and_calls_them_expired() {
        let mut store = KvStore::default();
        for seq in 1..=SESSION_RESULTS_MAX as u64 + 1 {
            let read = Command::Get {
                key: Key(0),
                session: session(seq),
            };
            store.apply(&read);
        }
        assert_eq!(store.outcome_of(session(1)), Some(Outcome::Expired));
        assert_eq!(store.outcome_of(session(2)), Some(Outcome::Read(None)));
        assert_eq!(store.outcome_of(session(999)), None);
    }
}
