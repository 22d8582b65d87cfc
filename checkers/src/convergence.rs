//! Convergence: after settle, every replica of every key holds the same versions.

use serde::Serialize;
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::ReplicaView;

/// One key on which replicas disagree, with what each holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DivergentKey {
    /// The key.
    pub key: Key,
    /// Each live replica and the versions it holds (empty: absent).
    pub replicas: Vec<(NodeId, Vec<Value>)>,
}

/// The verdict of the convergence check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConvergenceVerdict {
    /// Keys on which live replicas disagree at the end.
    pub divergent: Vec<DivergentKey>,
    /// Replicas that were down at the end and could not be compared.
    pub down: Vec<NodeId>,
}

impl ConvergenceVerdict {
    /// True when every live replica agrees on every key.
    pub fn converged(&self) -> bool {
        self.divergent.is_empty()
    }
}

/// Compares the final views of the replicas of each key.
///
/// `final_views[n]` is node n's view (None: down at the end); `key_replicas[k]` lists the
/// nodes meant to hold key k.
pub fn check(
    final_views: &[Option<ReplicaView>],
    key_replicas: &[Vec<NodeId>],
) -> ConvergenceVerdict {
    let empty = Vec::new();
    let mut divergent = Vec::new();
    for (index, replicas) in key_replicas.iter().enumerate() {
        let key = Key(index as u32);
        let held: Vec<(NodeId, Vec<Value>)> = replicas
            .iter()
            .filter_map(|node| {
                final_views[node.index()]
                    .as_ref()
                    .map(|view| (*node, view.get(&key).unwrap_or(&empty).clone()))
            })
            .collect();
        if held.windows(2).any(|pair| pair[0].1 != pair[1].1) {
            divergent.push(DivergentKey {
                key,
                replicas: held,
            });
        }
    }
    let down = final_views
        .iter()
        .enumerate()
        .filter(|(_, view)| view.is_none())
        .map(|(index, _)| NodeId(index as u32))
        .collect();
    ConvergenceVerdict { divergent, down }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(entries: &[(u32, &[u64])]) -> Option<ReplicaView> {
        Some(
            entries
                .iter()
                .map(|(k, vs)| (Key(*k), vs.iter().map(|v| Value(*v)).collect()))
                .collect(),
        )
    }

    #[test]
    fn equal_replicas_converge_and_a_difference_is_named() {
        let all = vec![vec![NodeId(0), NodeId(1), NodeId(2)]; 2];
        let same = [
            view(&[(0, &[1]), (1, &[2])]),
            view(&[(0, &[1]), (1, &[2])]),
            None,
        ];
        let verdict = check(&same, &all);
        assert!(verdict.converged());
        assert_eq!(verdict.down, vec![NodeId(2)]);
        let differ = [
            view(&[(0, &[1])]),
            view(&[(0, &[1]), (1, &[2])]),
            view(&[(0, &[1]), (1, &[2])]),
        ];
        let verdict = check(&differ, &all);
        assert!(!verdict.converged());
        assert_eq!(verdict.divergent.len(), 1);
        assert_eq!(verdict.divergent[0].key, Key(1));
        assert_eq!(verdict.divergent[0].replicas[0], (NodeId(0), vec![]));
    }

    #[test]
    fn only_the_replicas_of_a_key_are_compared() {
        let replicas = vec![vec![NodeId(0), NodeId(1)]];
        let views = [view(&[(0, &[1])]), view(&[(0, &[1])]), view(&[])];
        assert!(check(&views, &replicas).converged());
    }
}
