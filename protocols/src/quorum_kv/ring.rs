//! The consistent-hash ring that places each key on `n` replicas.
//!
//! Each node owns `vnodes` tokens on a ring of 64-bit positions; a key sits at its own
//! position, and walking clockwise from it, the first `n` distinct nodes met are the key's
//! replicas (its preference list, in that order), and the nodes met after them are the
//! fallbacks a sloppy quorum asks to stand in.
//!
//! The hash is fixed and documented so that every machine, and every version of Rust, places
//! keys the same way (never `DefaultHasher` or `RandomState`): with SplitMix64 (the mixer in
//! `sim_core::rng::splitmix64`),
//!
//! - the position of key `k` is `splitmix64(KEY_DOMAIN ^ k)`,
//! - token `v` of node index `i` (n1 is 0) is `splitmix64(TOKEN_DOMAIN ^ (i << 32 | v))`,
//!
//! and a key's walk starts at the first token at or after its position (wrapping), ties
//! between equal tokens broken by node index.

use sim_core::ids::{Key, NodeId};
use sim_core::rng::splitmix64;

/// Mixed into key positions so they never coincide with tokens by construction ("key_pos!").
pub const KEY_DOMAIN: u64 = 0x6b65_795f_706f_7321;

/// Mixed into node tokens ("token__!").
pub const TOKEN_DOMAIN: u64 = 0x746f_6b65_6e5f_5f21;

/// The most virtual nodes a node may own; more buys no balance at 64 nodes.
pub const VNODES_MAX: u32 = 1_024;

/// Where key `k` sits on the ring.
pub fn key_position(key: Key) -> u64 {
    splitmix64(KEY_DOMAIN ^ key.0 as u64)
}

/// Where virtual node `vnode` of `node` sits on the ring.
pub fn token(node: NodeId, vnode: u32) -> u64 {
    splitmix64(TOKEN_DOMAIN ^ ((node.0 as u64) << 32 | vnode as u64))
}

/// Every node's tokens, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    tokens: Vec<(u64, NodeId)>,
    node_count: u32,
}

impl Ring {
    /// The ring of `node_count` nodes with `vnodes` tokens each.
    pub fn new(node_count: u32, vnodes: u32) -> Ring {
        assert!(
            node_count > 0 && vnodes > 0,
            "a ring needs nodes and tokens"
        );
        let mut tokens: Vec<(u64, NodeId)> = (0..node_count)
            .flat_map(|node| (0..vnodes).map(move |v| (token(NodeId(node), v), NodeId(node))))
            .collect();
        tokens.sort();
        Ring { tokens, node_count }
    }

    /// Every node, in the order a clockwise walk from the key's position first meets it: the
    /// key's replicas first, then its fallbacks.
    pub fn walk(&self, key: Key) -> Vec<NodeId> {
        let position = key_position(key);
        let start = self.tokens.partition_point(|(token, _)| *token < position);
        let mut met = Vec::with_capacity(self.node_count as usize);
        for offset in 0..self.tokens.len() {
            let (_, node) = self.tokens[(start + offset) % self.tokens.len()];
            if !met.contains(&node) {
                met.push(node);
                if met.len() == self.node_count as usize {
                    break;
                }
            }
        }
        met
    }

    /// The key's `n` replicas, in preference order.
    pub fn preference_list(&self, key: Key, n: u32) -> Vec<NodeId> {
        let mut walk = self.walk(key);
        walk.truncate(n as usize);
        walk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_documented_one() {
        // If these change, every key moves: only on purpose.
        assert_eq!(key_position(Key(0)), splitmix64(KEY_DOMAIN));
        assert_eq!(
            token(NodeId(2), 5),
            splitmix64(TOKEN_DOMAIN ^ (2 << 32 | 5))
        );
        let ring = Ring::new(5, 8);
        assert_eq!(
            (0..6)
                .map(|k| ring.preference_list(Key(k), 3))
                .collect::<Vec<_>>(),
            golden_lists()
        );
    }

    /// The preference lists of k0..k5 on five nodes with 8 tokens each, as first computed.
    fn golden_lists() -> Vec<Vec<NodeId>> {
        [
            [0, 4, 2],
            [3, 4, 1],
            [4, 0, 1],
            [2, 3, 0],
            [3, 4, 1],
            [1, 0, 2],
        ]
        .iter()
        .map(|list| list.iter().map(|i| NodeId(*i)).collect())
        .collect()
    }

    #[test]
    fn a_walk_meets_every_node_once_and_starts_with_the_preference_list() {
        let ring = Ring::new(7, 4);
        for k in 0..200 {
            let walk = ring.walk(Key(k));
            let mut sorted = walk.clone();
            sorted.sort();
            assert_eq!(sorted, (0..7).map(NodeId).collect::<Vec<_>>());
            assert_eq!(ring.preference_list(Key(k), 3), walk[..3].to_vec());
        }
    }

    #[test]
    fn virtual_nodes_spread_keys_over_every_node() {
        let ring = Ring::new(5, 16);
        let mut first = [0u32; 5];
        for k in 0..5_000 {
            first[ring.preference_list(Key(k), 1)[0].index()] += 1;
        }
        assert!(first.iter().all(|count| *count > 500), "{first:?}");
    }

    #[test]
    fn with_as_many_replicas_as_nodes_every_node_holds_every_key() {
        let ring = Ring::new(3, 8);
        for k in 0..50 {
            let mut list = ring.preference_list(Key(k), 3);
            list.sort();
            assert_eq!(list, vec![NodeId(0), NodeId(1), NodeId(2)]);
        }
    }
}
