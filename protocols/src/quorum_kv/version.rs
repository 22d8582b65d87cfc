//! Versions of one key's value, in the two forms a scenario can choose.
//!
//! **Dotted version vectors** (`versions: VectorClocks`, after Preguiça, Baquero, Almeida,
//! Fonte and Gonçalves, "Dotted Version Vectors", 2012). Every write gets a *dot* `(n, c)`: the
//! coordinating node `n` and that node's next counter for the key, and carries its causal
//! *past*: the version vector of the context the client read before writing. A version `x` is
//! superseded by `y` when `x`'s dot is in `y`'s past. A key holds the versions no other version
//! supersedes (the siblings, pairwise concurrent), and two copies merge by keeping the
//! maximal versions of their union. A read returns every sibling and, as its causal context,
//! the join of the siblings' pasts and dots; a write that sends that context back supersedes
//! exactly what the read saw.
//!
//! Version vectors summarise a node's dots by the highest counter, so they stay correct only if
//! any copy that shows dot `(n, c)` also holds, or supersedes, every earlier dot of `n` for the
//! key. The protocol keeps that true in two ways: only a replica of the key coordinates its
//! writes (it holds all of its own dots), and copies always travel whole, never one sibling
//! at a time.
//!
//! **Timestamps** (`versions: Timestamps`): last writer wins by the coordinator's wall clock,
//! node id and then value breaking ties. Clock skew loses updates, as in `lww`.

use serde::{Deserialize, Serialize};
use sim_core::ids::{NodeId, Value};
use sim_core::protocol::CausalContext;
use sim_core::rng::splitmix64;
use std::collections::BTreeMap;
use std::fmt;

/// How a key's versions are ordered: chosen once per scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// Dotted version vectors: concurrent writes are kept as siblings.
    #[default]
    VectorClocks,
    /// The coordinator's wall clock: the last writer wins, concurrent writes are dropped.
    Timestamps,
}

/// One write event: the node that coordinated it and that node's counter for the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    /// The coordinating node.
    pub node: NodeId,
    /// Its count of writes it coordinated for this key, from 1.
    pub counter: u64,
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.counter)
    }
}

/// Per coordinating node, how many of its writes of a key are known: a causal history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionVector(BTreeMap<NodeId, u64>);

impl VersionVector {
    /// The highest counter of `node` in the history (0: none).
    pub fn get(&self, node: NodeId) -> u64 {
        self.0.get(&node).copied().unwrap_or(0)
    }

    /// Whether the history includes `dot`.
    pub fn covers(&self, dot: Dot) -> bool {
        self.get(dot.node) >= dot.counter
    }

    /// Adds `dot` (and, by contiguity, every earlier dot of its node).
    pub fn add(&mut self, dot: Dot) {
        if dot.counter == 0 {
            return; // A zero entry says nothing; leaving it out keeps equal histories equal.
        }
        let entry = self.0.entry(dot.node).or_insert(0);
        *entry = (*entry).max(dot.counter);
    }

    /// The union of two histories (pointwise maximum).
    pub fn join(&mut self, other: &VersionVector) {
        for (node, counter) in &other.0 {
            self.add(Dot {
                node: *node,
                counter: *counter,
            });
        }
    }

    /// Whether this history includes all of `other`.
    pub fn descends(&self, other: &VersionVector) -> bool {
        other
            .0
            .iter()
            .all(|(node, counter)| self.get(*node) >= *counter)
    }

    /// The entries, in node order.
    pub fn entries(&self) -> impl Iterator<Item = Dot> + '_ {
        self.0.iter().map(|(node, counter)| Dot {
            node: *node,
            counter: *counter,
        })
    }

    /// The opaque context a client carries: node and counter, pair after pair, in node order.
    pub fn to_context(&self) -> CausalContext {
        CausalContext(
            self.0
                .iter()
                .flat_map(|(node, counter)| [node.0 as u64, *counter])
                .collect(),
        )
    }

    /// Reads a context written by [`VersionVector::to_context`]; rejects anything else.
    pub fn from_context(context: &CausalContext, node_count: u32) -> Result<VersionVector, String> {
        let words = &context.0;
        if words.len() % 2 != 0 {
            return Err(format!(
                "a context has node and counter pairs, found {} words",
                words.len()
            ));
        }
        let mut vector = VersionVector::default();
        for pair in words.chunks(2) {
            if pair[0] >= node_count as u64 {
                return Err(format!("a context names node index {}", pair[0]));
            }
            vector.add(Dot {
                node: NodeId(pair[0] as u32),
                counter: pair[1],
            });
        }
        Ok(vector)
    }
}

impl fmt::Display for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (index, dot) in self.entries().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{dot}")?;
        }
        f.write_str("]")
    }
}

/// One version under vector clocks: its dot, what its writer had seen, and the value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sibling {
    /// The write's own event.
    pub dot: Dot,
    /// The causal context the client sent with the write (its dot is not in it).
    pub past: VersionVector,
    /// The value written.
    pub value: Value,
}

impl Sibling {
    /// Whether this version supersedes `other`: `other`'s write is in this one's past.
    pub fn supersedes(&self, other: &Sibling) -> bool {
        self.past.covers(other.dot)
    }
}

/// A key's versions under vector clocks: the siblings no other known version supersedes,
/// sorted by dot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Siblings(Vec<Sibling>);

impl Siblings {
    /// One version.
    pub fn one(sibling: Sibling) -> Siblings {
        Siblings(vec![sibling])
    }

    /// Builds a set from versions, keeping only the maximal ones (what a merge would keep).
    pub fn from_versions(versions: Vec<Sibling>) -> Siblings {
        let mut siblings = Siblings::default();
        siblings.merge(&Siblings(versions));
        siblings
    }

    /// Test support: a set taken as given, superseded versions and all.
    #[cfg(test)]
    pub(crate) fn unchecked(mut versions: Vec<Sibling>) -> Siblings {
        versions.sort_by_key(|s| s.dot);
        Siblings(versions)
    }

    /// The siblings, in dot order.
    pub fn iter(&self) -> impl Iterator<Item = &Sibling> {
        self.0.iter()
    }

    /// How many siblings there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no version at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The causal context a read hands the client: every sibling's past and dot.
    pub fn context(&self) -> VersionVector {
        let mut context = VersionVector::default();
        for sibling in &self.0 {
            context.join(&sibling.past);
            context.add(sibling.dot);
        }
        context
    }

    /// Whether the set holds `dot` or a version that supersedes it.
    pub fn holds_or_supersedes(&self, dot: Dot) -> bool {
        self.0
            .iter()
            .any(|sibling| sibling.dot == dot || sibling.past.covers(dot))
    }

    /// Merges `other` in: keeps the versions of the union that nothing in it supersedes.
    /// Returns whether this set changed.
    ///
    /// A correct coordinator never gives one dot to two writes; if a faulty one did, the
    /// version with the larger value is kept (so merging still commutes), and the
    /// `dots-unique` invariant reports the collision.
    pub fn merge(&mut self, other: &Siblings) -> bool {
        let mut union: BTreeMap<Dot, &Sibling> = self.0.iter().map(|s| (s.dot, s)).collect();
        for sibling in &other.0 {
            let kept = union.entry(sibling.dot).or_insert(sibling);
            if sibling.value > kept.value {
                *kept = sibling;
            }
        }
        let maximal: Vec<Sibling> = union
            .values()
            .filter(|candidate| !union.values().any(|other| other.supersedes(candidate)))
            .map(|sibling| (*sibling).clone())
            .collect();
        let changed = maximal != self.0;
        self.0 = maximal;
        changed
    }
}

/// A wall-clock stamp: the coordinator's wall clock when it accepted the write, then its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// The coordinator's wall clock, in ns.
    pub wall_ns: i64,
    /// The coordinator.
    pub node: NodeId,
}

/// A value with its stamp; ordered by stamp, then by value, so any two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamped {
    /// What orders versions.
    pub stamp: Stamp,
    /// The value written.
    pub value: Value,
}

/// What a replica holds for one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Object {
    /// Vector clocks: the concurrent siblings.
    Siblings(Siblings),
    /// Timestamps: the one version with the largest stamp.
    Stamped(Stamped),
}

/// The version one write created: what a read must cover once the write is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// Vector clocks: the write's dot.
    Dot(Dot),
    /// Timestamps: the write's stamp and value.
    Stamped(Stamped),
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Dot(dot) => write!(f, "dot {dot}"),
            Version::Stamped(stamped) => write!(
                f,
                "stamp {} ns by {}",
                stamped.stamp.wall_ns, stamped.stamp.node
            ),
        }
    }
}

impl Object {
    /// Merges `other` in; returns whether this copy changed.
    ///
    /// # Panics
    ///
    /// When the two copies use different versioning: one run uses one kind.
    pub fn merge(&mut self, other: &Object) -> bool {
        match (self, other) {
            (Object::Siblings(mine), Object::Siblings(theirs)) => mine.merge(theirs),
            (Object::Stamped(mine), Object::Stamped(theirs)) => {
                let newer = *theirs > *mine;
                if newer {
                    *mine = *theirs;
                }
                newer
            }
            (mine, theirs) => panic!("cannot merge {mine:?} with {theirs:?}"),
        }
    }

    /// The values a read returns, sorted.
    pub fn values(&self) -> Vec<Value> {
        match self {
            Object::Siblings(siblings) => {
                let mut values: Vec<Value> = siblings.iter().map(|s| s.value).collect();
                values.sort();
                values.dedup();
                values
            }
            Object::Stamped(stamped) => vec![stamped.value],
        }
    }

    /// The causal context a read of this copy hands the client (vector clocks only).
    pub fn read_context(&self) -> Option<CausalContext> {
        match self {
            Object::Siblings(siblings) => Some(siblings.context().to_context()),
            Object::Stamped(_) => None,
        }
    }

    /// Whether this copy holds `version` or a version that supersedes it. (Stricter than
    /// "the read context includes the dot", which also counts later dots of the same node:
    /// for correct copies the two agree, and the strict form catches copies that do not.)
    pub fn covers(&self, version: Version) -> bool {
        match (self, version) {
            (Object::Siblings(siblings), Version::Dot(dot)) => siblings.holds_or_supersedes(dot),
            (Object::Stamped(mine), Version::Stamped(theirs)) => *mine >= theirs,
            _ => false,
        }
    }

    /// Each version this copy holds, for the invariants' evidence.
    pub fn versions(&self) -> Vec<(Version, Value)> {
        match self {
            Object::Siblings(siblings) => siblings
                .iter()
                .map(|s| (Version::Dot(s.dot), s.value))
                .collect(),
            Object::Stamped(stamped) => vec![(Version::Stamped(*stamped), stamped.value)],
        }
    }

    /// A fixed 64-bit summary of the versions, for anti-entropy and handoff acknowledgements:
    /// SplitMix64 folded over the fields in order (never `DefaultHasher`, whose output may
    /// change between Rust releases).
    pub fn digest(&self) -> u64 {
        let fold = |state: u64, word: u64| splitmix64(state ^ word);
        match self {
            Object::Siblings(siblings) => siblings.iter().fold(1, |state, sibling| {
                let state = fold(state, sibling.dot.node.0 as u64);
                let state = fold(state, sibling.dot.counter);
                let state = sibling.past.entries().fold(state, |state, dot| {
                    fold(fold(state, dot.node.0 as u64), dot.counter)
                });
                fold(fold(state, u64::MAX), sibling.value.0)
            }),
            Object::Stamped(stamped) => {
                let state = fold(2, stamped.stamp.wall_ns as u64);
                let state = fold(state, stamped.stamp.node.0 as u64);
                fold(state, stamped.value.0)
            }
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, (version, value)) in self.versions().into_iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            match version {
                Version::Dot(dot) => write!(f, "{value} ({dot})")?,
                Version::Stamped(stamped) => write!(f, "{value} ({} ns)", stamped.stamp.wall_ns)?,
            }
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dot(node: u32, counter: u64) -> Dot {
        Dot {
            node: NodeId(node),
            counter,
        }
    }

    fn vv(dots: &[(u32, u64)]) -> VersionVector {
        let mut vector = VersionVector::default();
        for (node, counter) in dots {
            vector.add(dot(*node, *counter));
        }
        vector
    }

    fn sibling(node: u32, counter: u64, past: &[(u32, u64)], value: u64) -> Sibling {
        Sibling {
            dot: dot(node, counter),
            past: vv(past),
            value: Value(value),
        }
    }

    #[test]
    fn concurrent_writes_become_siblings_and_a_write_with_their_context_supersedes_both() {
        let mut replica = Siblings::one(sibling(0, 1, &[], 10));
        assert!(replica.merge(&Siblings::one(sibling(1, 1, &[], 11))));
        assert_eq!(replica.len(), 2);
        let context = replica.context();
        assert_eq!(context, vv(&[(0, 1), (1, 1)]));
        assert!(replica.merge(&Siblings::one(sibling(0, 2, &[(0, 1), (1, 1)], 12))));
        assert_eq!(replica, Siblings::one(sibling(0, 2, &[(0, 1), (1, 1)], 12)));
        // An old copy merged in again changes nothing: its versions are superseded.
        assert!(!replica.merge(&Siblings::one(sibling(1, 1, &[], 11))));
    }

    #[test]
    fn a_write_supersedes_only_what_its_context_saw() {
        let mut replica =
            Siblings::from_versions(vec![sibling(0, 1, &[], 10), sibling(0, 2, &[], 11)]);
        assert_eq!(replica.len(), 2, "two blind writes are concurrent");
        replica.merge(&Siblings::one(sibling(0, 3, &[(0, 1)], 12)));
        let values: Vec<u64> = replica.iter().map(|s| s.value.0).collect();
        assert_eq!(values, vec![11, 12]);
    }

    #[test]
    fn contexts_round_trip_and_bad_ones_are_rejected() {
        let vector = vv(&[(0, 3), (2, 1)]);
        let context = vector.to_context();
        assert_eq!(context, CausalContext(vec![0, 3, 2, 1]));
        assert_eq!(VersionVector::from_context(&context, 3), Ok(vector));
        assert!(VersionVector::from_context(&CausalContext(vec![0]), 3).is_err());
        assert!(VersionVector::from_context(&CausalContext(vec![5, 1]), 3).is_err());
    }

    #[test]
    fn stamps_keep_the_largest_and_cover_smaller_ones() {
        let older = Stamped {
            stamp: Stamp {
                wall_ns: 5,
                node: NodeId(1),
            },
            value: Value(1),
        };
        let newer = Stamped {
            stamp: Stamp {
                wall_ns: 5,
                node: NodeId(2),
            },
            value: Value(2),
        };
        let mut object = Object::Stamped(older);
        assert!(object.merge(&Object::Stamped(newer)));
        assert!(!object.merge(&Object::Stamped(older)));
        assert_eq!(object.values(), vec![Value(2)]);
        assert!(object.covers(Version::Stamped(older)));
        assert_eq!(object.read_context(), None);
    }

    #[test]
    fn digests_differ_when_versions_differ() {
        let a = Object::Siblings(Siblings::one(sibling(0, 1, &[], 10)));
        let b = Object::Siblings(Siblings::one(sibling(0, 1, &[(1, 1)], 10)));
        let c = Object::Siblings(Siblings::one(sibling(0, 2, &[], 10)));
        assert_ne!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert_eq!(a.digest(), a.clone().digest());
    }

    /// A small replicated store driven by a random script, the way the protocol uses versions:
    /// a write at replica `i` takes its dot from `i`'s own copy and its past from a read of
    /// replica `j`, and copies travel whole.
    #[derive(Clone, Debug)]
    enum Step {
        Write { at: usize, read_from: usize },
        Copy { from: usize, to: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3usize, 0..3usize).prop_map(|(at, read_from)| Step::Write { at, read_from }),
            (0..3usize, 0..3usize).prop_map(|(from, to)| Step::Copy { from, to }),
        ]
    }

    fn run(script: &[Step]) -> (Vec<Siblings>, Vec<Siblings>) {
        let mut replicas = vec![Siblings::default(); 3];
        let mut written = Vec::new();
        for (index, step) in script.iter().enumerate() {
            match step {
                Step::Write { at, read_from } => {
                    let past = replicas[*read_from].context();
                    let node = NodeId(*at as u32);
                    let counter = replicas[*at].context().get(node) + 1;
                    let new = Siblings::one(Sibling {
                        dot: Dot { node, counter },
                        past,
                        value: Value(index as u64),
                    });
                    replicas[*at].merge(&new);
                    written.push(replicas[*at].clone());
                }
                Step::Copy { from, to } => {
                    let copy = replicas[*from].clone();
                    replicas[*to].merge(&copy);
                }
            }
        }
        (replicas, written)
    }

    proptest! {
        #[test]
        fn merge_is_commutative_associative_and_idempotent(script in prop::collection::vec(step(), 0..40)) {
            let (replicas, _) = run(&script);
            let merged = |a: &Siblings, b: &Siblings| {
                let mut out = a.clone();
                out.merge(b);
                out
            };
            let [a, b, c] = [&replicas[0], &replicas[1], &replicas[2]];
            prop_assert_eq!(merged(a, b), merged(b, a));
            prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
            prop_assert_eq!(merged(a, a), a.clone());
        }

        #[test]
        fn siblings_stay_pairwise_concurrent(script in prop::collection::vec(step(), 0..40)) {
            let (replicas, _) = run(&script);
            for replica in &replicas {
                for x in replica.iter() {
                    for y in replica.iter() {
                        prop_assert!(x.dot == y.dot || !x.supersedes(y), "{x:?} supersedes {y:?}");
                    }
                }
            }
        }

        #[test]
        fn every_delivery_order_of_the_same_copies_ends_in_the_same_siblings(
            script in prop::collection::vec(step(), 0..40),
            order in any::<u64>(),
        ) {
            let (_, written) = run(&script);
            let mut forward = Siblings::default();
            for copy in &written {
                forward.merge(copy);
            }
            let mut shuffled = written.clone();
            // A deterministic shuffle from the generated word.
            let mut state = order;
            for i in (1..shuffled.len()).rev() {
                state = splitmix64(state);
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut other = Siblings::default();
            for copy in &shuffled {
                other.merge(copy);
            }
            prop_assert_eq!(forward, other);
        }

        #[test]
        fn version_vector_order_is_a_partial_order(
            a in prop::collection::btree_map(0..3u32, 0..4u64, 0..3),
            b in prop::collection::btree_map(0..3u32, 0..4u64, 0..3),
            c in prop::collection::btree_map(0..3u32, 0..4u64, 0..3),
        ) {
            let make = |m: &BTreeMap<u32, u64>| {
                let mut v = VersionVector::default();
                for (node, counter) in m {
                    v.add(dot(*node, *counter));
                }
                v
            };
            let (a, b, c) = (make(&a), make(&b), make(&c));
            prop_assert!(a.descends(&a));
            if a.descends(&b) && b.descends(&a) {
                prop_assert_eq!(&a, &b);
            }
            if a.descends(&b) && b.descends(&c) {
                prop_assert!(a.descends(&c));
            }
        }
    }
}
