//! Names of the things a run is made of: nodes, clients, keys, values and operations.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A simulated node, numbered from 0; shown to people as "n1", "n2", ...
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

/// A workload client, numbered from 0; shown as "c1", "c2", ...
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub u32);

/// A key of the replicated key-value store; shown as "k0", "k1", ...
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Key(pub u32);

/// A value written by a client. Every write in a run writes a different value, so a read
/// names the write it saw.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Value(pub u64);

/// One client operation in the history, numbered in invocation order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub u64);

impl NodeId {
    /// The node's index into per-node tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Parses "n3" into NodeId(2).
    pub fn parse(name: &str) -> Option<NodeId> {
        let number: u32 = name.strip_prefix('n')?.parse().ok()?;
        if number == 0 || name.starts_with("n0") {
            return None;
        }
        Some(NodeId(number - 1))
    }
}

impl ClientId {
    /// The client's index into per-client tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

macro_rules! display_with_prefix {
    ($type:ty, $prefix:literal, $offset:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0 as u64 + $offset)
            }
        }
        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

display_with_prefix!(NodeId, "n", 1);
display_with_prefix!(ClientId, "c", 1);
display_with_prefix!(Key, "k", 0);
display_with_prefix!(Value, "v", 0);
display_with_prefix!(OpId, "op", 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_round_trip() {
        assert_eq!(NodeId::parse("n1"), Some(NodeId(0)));
        assert_eq!(NodeId(4).to_string(), "n5");
        for bad in ["n0", "1", "n", "nx", "n01", "m1"] {
            assert_eq!(NodeId::parse(bad), None, "{bad}");
        }
    }
}
