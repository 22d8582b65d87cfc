//! The search's memory: the set of linearized operations, interned model states, and the cache
//! of (set, state) configurations already explored.
//!
//! A configuration is stored compactly, so that a 100,000-operation history does not cost a
//! 12 KB bitset per cache entry. With `m` operations linearized, the set S is written as the
//! prefix `[0, m)` of operation indices plus its symmetric difference D with S. Operations are
//! numbered in invocation order and the search linearizes them roughly in that order, so D
//! holds only the few operations of the current window of concurrency (and the unknown-outcome
//! operations left behind), whatever the length of the history. (m, D) determines S exactly,
//! so two cache entries are equal exactly when their sets and states are. A search of at most
//! `DENSE_OPS_MAX` operations (every key of the conformance histories) stores the bitset
//! itself instead: at most 64 bytes, and nothing to maintain as operations come and go.
//!
//! The hash of a set is Zobrist's: the XOR of a fixed random key per operation, updated in O(1)
//! as operations are linearized and undone.
//!
//! Neither table is ever iterated: lookups are by hash and equality only, so the order of a
//! hash table cannot leak into a verdict (the reason clippy.toml forbids std's HashMap and
//! HashSet elsewhere).

use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

/// SplitMix64: a named, portable mixer for the Zobrist keys (fixed seed, so every run of the
/// checker hashes the same way).
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Searches of at most this many operations keep whole bitsets in the cache.
const DENSE_OPS_MAX: usize = 512;

/// The set of linearized operations, with its Zobrist hash and the form the cache stores kept
/// current: the bitset itself for a small search, the (m, D) form otherwise.
pub(crate) struct LinSet {
    bits: Vec<u32>,
    keys: Vec<u64>,
    hash: u64,
    count: u32,
    /// Whether the (m, D) form is kept.
    sparse: bool,
    diff: Vec<u32>,
    /// Dense form: the words before `low` are full and those from `high` on are empty, so
    /// `count` and the words between determine the set (the full words number
    /// `(count - their ones) / 32`).
    low: usize,
    high: usize,
}

impl LinSet {
    /// An empty set over `len` operations.
    pub(crate) fn new(len: usize) -> Self {
        Self::with_form(len, len > DENSE_OPS_MAX)
    }

    fn with_form(len: usize, sparse: bool) -> Self {
        let keys = (0..len as u64)
            .map(|i| splitmix64(i ^ 0x5EED_0F11_AE00))
            .collect();
        LinSet {
            bits: vec![0; len.div_ceil(32)],
            keys,
            hash: 0,
            count: 0,
            sparse,
            diff: Vec::new(),
            low: 0,
            high: 0,
        }
    }

    /// Whether operation `i` is linearized.
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.bits[i / 32] & (1 << (i % 32)) != 0
    }

    /// The words the cache stores and compares: with `count`, they determine the set.
    fn key(&self) -> &[u32] {
        if self.sparse {
            &self.diff
        } else {
            &self.bits[self.low..self.high]
        }
    }

    /// How many operations are linearized.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.count as usize
    }

    /// Adds operation `i`, which must be absent.
    pub(crate) fn insert(&mut self, i: usize) {
        debug_assert!(!self.contains(i));
        let word = i / 32;
        self.bits[word] |= 1 << (i % 32);
        self.hash ^= self.keys[i];
        if !self.sparse {
            self.high = self.high.max(word + 1);
            while self.low < self.bits.len() && self.bits[self.low] == u32::MAX {
                self.low += 1;
            }
        }
        // With m = count before the insertion: if i == m the prefix simply grows; otherwise
        // m changes sides (it is now inside the prefix) and so does i.
        let m = self.count;
        if self.sparse && i as u32 != m {
            toggle(&mut self.diff, m);
            toggle(&mut self.diff, i as u32);
        }
        self.count += 1;
    }

    /// Removes operation `i`, which must be present: the exact inverse of `insert`.
    pub(crate) fn remove(&mut self, i: usize) {
        debug_assert!(self.contains(i));
        let word = i / 32;
        self.bits[word] &= !(1 << (i % 32));
        self.hash ^= self.keys[i];
        if !self.sparse {
            self.low = self.low.min(word);
            while self.high > self.low && self.bits[self.high - 1] == 0 {
                self.high -= 1;
            }
        }
        self.count -= 1;
        let m = self.count;
        if self.sparse && i as u32 != m {
            toggle(&mut self.diff, m);
            toggle(&mut self.diff, i as u32);
        }
    }
}

/// Adds `x` to the sorted vector, or removes it if present.
fn toggle(diff: &mut Vec<u32>, x: u32) {
    // The vector is usually a handful of operations (the window of concurrency), and a scan
    // beats a binary search there; operations left behind with unknown outcomes can make it
    // long.
    const SCANNED_LEN_MAX: usize = 16;
    let found = if diff.len() <= SCANNED_LEN_MAX {
        let at = diff.iter().position(|&d| d >= x).unwrap_or(diff.len());
        if diff.get(at) == Some(&x) {
            Ok(at)
        } else {
            Err(at)
        }
    } else {
        diff.binary_search(&x)
    };
    match found {
        Ok(at) => {
            diff.remove(at);
        }
        Err(at) => diff.insert(at, x),
    }
}

/// A hash kept in 32 bits, to keep table entries small (the tables hold far fewer than 2^32
/// entries, and equality, not the hash, decides).
fn short(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A kept 32-bit hash as the 64 bits the table wants: hashbrown takes its bucket from the low
/// bits and its tag from the top seven, so both must vary.
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Interned model states: the search and the cache refer to states by a small id.
pub(crate) struct States<S> {
    states: Vec<S>,
    /// (hash, id): the hash is kept so that growing the table never hashes a state again.
    index: HashTable<(u32, u32)>,
    hasher: foldhash::fast::FixedState,
}

impl<S: Eq + Hash> States<S> {
    pub(crate) fn new() -> Self {
        States {
            states: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x57A7E5),
        }
    }

    /// The id of `state`, adding it if new.
    pub(crate) fn intern(&mut self, state: S) -> u32 {
        self.intern_new(state).0
    }

    /// The id of `state`, adding it if new, and whether it was.
    pub(crate) fn intern_new(&mut self, state: S) -> (u32, bool) {
        let hash = short(self.hasher.hash_one(&state));
        let states = &self.states;
        let same = |&(h, id): &(u32, u32)| h == hash && states[id as usize] == state;
        if let Some(&(_, id)) = self.index.find(spread(hash), same) {
            return (id, false);
        }
        let id = u32::try_from(self.states.len()).expect("fewer than 2^32 distinct model states");
        self.states.push(state);
        self.index
            .insert_unique(spread(hash), (hash, id), |&(h, _)| spread(h));
        (id, true)
    }

    /// The state with id `id`.
    pub(crate) fn get(&self, id: u32) -> &S {
        &self.states[id as usize]
    }

    /// How many distinct states were seen.
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }
}

/// One explored configuration: the set as `count` and its key words (in the arena: D, or the
/// whole bitset), and the state id.
#[derive(Clone, Copy)]
struct Entry {
    hash: u32,
    state: u32,
    count: u32,
    diff_start: u32,
    diff_len: u32,
}

/// The configurations already explored.
pub(crate) struct Memo {
    table: HashTable<Entry>,
    arena: Vec<u32>,
}

impl Memo {
    pub(crate) fn new() -> Self {
        Memo {
            table: HashTable::new(),
            arena: Vec::new(),
        }
    }

    /// Records (set, state); false when it was already there.
    pub(crate) fn insert(&mut self, set: &LinSet, state: u32) -> bool {
        let hash = short(splitmix64(
            set.hash ^ u64::from(state).wrapping_mul(0xA24B_AED4_963E_E407),
        ));
        let arena = &self.arena;
        let same = |entry: &Entry| {
            entry.hash == hash
                && entry.state == state
                && entry.count == set.count
                && entry.diff_len as usize == set.key().len()
                && arena[entry.diff_start as usize..][..entry.diff_len as usize] == *set.key()
        };
        if self.table.find(spread(hash), same).is_some() {
            return false;
        }
        let diff_start = u32::try_from(self.arena.len()).expect("memo arena below 2^32 words");
        self.arena.extend_from_slice(set.key());
        let entry = Entry {
            hash,
            state,
            count: set.count,
            diff_start,
            diff_len: set.key().len() as u32,
        };
        self.table
            .insert_unique(spread(hash), entry, |e| spread(e.hash));
        true
    }

    /// Entries stored.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes held by the table and the arena (for the memory benchmark and reports).
    pub(crate) fn bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<Entry>() + 1)
            + self.arena.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (m, D) form, rebuilt from scratch.
    fn naive_diff(set: &LinSet) -> Vec<u32> {
        let m = set.len();
        (0..set.keys.len())
            .filter(|&i| set.contains(i) != (i < m))
            .map(|i| i as u32)
            .collect()
    }

    #[test]
    fn the_difference_form_tracks_every_insert_and_remove() {
        let mut set = LinSet::with_form(20, true);
        let order = [3, 0, 1, 7, 2, 19, 4, 5, 6];
        for &i in &order {
            set.insert(i);
            assert_eq!(set.diff, naive_diff(&set), "after inserting {i}");
        }
        for &i in order.iter().rev().step_by(2) {
            set.remove(i);
            assert_eq!(set.diff, naive_diff(&set), "after removing {i}");
        }
    }

    #[test]
    fn equal_sets_reached_in_different_orders_hit_the_cache() {
        for sparse in [false, true] {
            let mut memo = Memo::new();
            let mut a = LinSet::with_form(70, sparse);
            for i in [0, 4, 2, 65] {
                a.insert(i);
            }
            assert!(memo.insert(&a, 7));
            let mut b = LinSet::with_form(70, sparse);
            for i in [2, 0, 9, 65, 4] {
                b.insert(i);
            }
            b.remove(9);
            assert!(!memo.insert(&b, 7), "same set, same state");
            assert!(memo.insert(&b, 8), "same set, another state");
            b.insert(1);
            assert!(memo.insert(&b, 7), "another set");
            b.remove(1);
            b.remove(65);
            b.insert(66);
            assert!(memo.insert(&b, 7), "another set of the same size");
            assert_eq!(memo.len(), 4);
        }
    }

    /// The dense form's words, rebuilt from scratch.
    fn naive_window(set: &LinSet) -> &[u32] {
        let low = set.bits.iter().take_while(|&&w| w == u32::MAX).count();
        let high = set.bits.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        &set.bits[low..high.max(low)]
    }

    #[test]
    fn the_dense_form_tracks_every_insert_and_remove() {
        let mut set = LinSet::with_form(100, false);
        let order: Vec<usize> = (0..100).map(|i| (i * 37) % 100).collect();
        for (n, &i) in order.iter().enumerate() {
            set.insert(i);
            assert_eq!(set.key(), naive_window(&set), "after inserting {i}");
            if n % 3 == 2 {
                set.remove(order[n - 1]);
                assert_eq!(set.key(), naive_window(&set), "after removing");
                set.insert(order[n - 1]);
            }
        }
        assert_eq!(
            set.key(),
            [0b1111],
            "every word full but the last, of 4 operations"
        );
        for &i in order.iter().rev() {
            set.remove(i);
            assert_eq!(set.key(), naive_window(&set), "after removing {i}");
        }
        assert!(set.key().is_empty(), "every word empty");
    }

    #[test]
    fn small_searches_keep_whole_bitsets_and_large_ones_the_difference_form() {
        assert!(!LinSet::new(DENSE_OPS_MAX).sparse);
        assert!(LinSet::new(DENSE_OPS_MAX + 1).sparse);
        let mut dense = LinSet::new(100);
        dense.insert(3);
        dense.insert(40);
        assert!(dense.diff.is_empty(), "nothing to maintain");
        assert_eq!(dense.key(), [1 << 3, 1 << 8]);
    }
}
