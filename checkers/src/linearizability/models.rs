//! Sequential models: a compare-and-set register (also our own per-key KV histories), a
//! string key-value store with append (Porcupine's kv), the same store as one map-valued state
//! without the per-key split, a mutex, and Knossos's multi-register.

use super::witness::or_list;
use super::{Case, Model, Operation, Step};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// A register with read, write and compare-and-set, one per key when operations carry one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CasRegister {
    /// The value before any write (None: nil, absent).
    pub init: Option<i64>,
}

/// A register operation, with the key it touches (None: the only register).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegisterInput {
    /// The key, for histories of many registers.
    pub key: Option<String>,
    /// What was asked.
    pub op: RegisterOp,
}

/// What a register operation asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// Read the value.
    Read,
    /// Set the value.
    Write(i64),
    /// Set `new` if the value is `expected` (None: nil or absent).
    Cas {
        /// The value required.
        expected: Option<i64>,
        /// The value written.
        new: i64,
    },
}

/// What a register operation was told.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// A read's value (None: nil, absent).
    Read(Option<i64>),
    /// A read that returned several sibling versions: no register can do that.
    Siblings(Vec<i64>),
    /// A write took effect, or a cas matched and took effect.
    Done,
    /// A cas whose compare did not match: the value was not `expected` (Porcupine's etcd logs).
    CasMismatch,
}

fn show(value: Option<i64>) -> String {
    value.map_or_else(|| "nil".to_string(), |v| v.to_string())
}

impl Model for CasRegister {
    type State = Option<i64>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Option<i64> {
        self.init
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Step<Option<i64>> {
        use RegisterOutput as Out;
        match (input.op, output) {
            (RegisterOp::Read, None) => Step::Unchanged,
            (RegisterOp::Read, Some(Out::Read(v))) if v == state => Step::Unchanged,
            (RegisterOp::Read, Some(_)) => Step::Illegal,
            (RegisterOp::Write(v), None | Some(Out::Done)) => Step::To(Some(v)),
            (RegisterOp::Cas { expected, new }, None | Some(Out::Done)) => {
                if *state == expected {
                    Step::To(Some(new))
                } else if output.is_none() {
                    Step::Unchanged
                } else {
                    Step::Illegal
                }
            }
            (RegisterOp::Cas { expected, .. }, Some(Out::CasMismatch)) if *state != expected => {
                Step::Unchanged
            }
            _ => Step::Illegal,
        }
    }

    fn partition(&self, input: &RegisterInput) -> Option<String> {
        input.key.clone()
    }

    fn is_read_only(&self, input: &RegisterInput) -> bool {
        input.op == RegisterOp::Read
    }

    fn describe(&self, input: &RegisterInput, output: Option<&RegisterOutput>) -> String {
        let key = input.key.as_deref().unwrap_or("the register");
        match (input.op, output) {
            (RegisterOp::Read, Some(RegisterOutput::Read(Some(v)))) => {
                format!("read of {key} returned {v}")
            }
            (RegisterOp::Read, Some(RegisterOutput::Read(None))) => {
                format!("read of {key} returned nil")
            }
            (RegisterOp::Read, Some(RegisterOutput::Siblings(vs))) => {
                let vs: Vec<String> = vs.iter().map(i64::to_string).collect();
                format!("read of {key} returned siblings {}", vs.join(", "))
            }
            (RegisterOp::Read, _) => format!("read of {key} (result unknown)"),
            (RegisterOp::Write(v), Some(_)) => format!("write of {v} to {key}"),
            (RegisterOp::Write(v), None) => format!("write of {v} to {key} (outcome unknown)"),
            (RegisterOp::Cas { expected, new }, out) => {
                let result = match out {
                    Some(RegisterOutput::Done) => "succeeded",
                    Some(RegisterOutput::CasMismatch) => "failed",
                    _ => "outcome unknown",
                };
                format!("cas of {key} from {} to {new} ({result})", show(expected))
            }
        }
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        show(*state)
    }

    fn explain(&self, case: &Case<'_, Self>) -> Option<String> {
        explain_register(self, case)
    }
}

/// Register explanations, from the most specific pattern to the least.
fn explain_register(model: &CasRegister, case: &Case<'_, CasRegister>) -> Option<String> {
    let culprit = case.culprit?;
    let key = case.key.unwrap_or("the register");
    let said = model.describe(&culprit.input, culprit.output.as_ref());
    let when = format!(
        "at {} (invoked {})",
        case.completed(culprit),
        case.invoked(culprit)
    );
    let could = or_list(&case.states.iter().map(|s| show(*s)).collect::<Vec<_>>());
    let seen = match (culprit.input.op, culprit.output.as_ref()?) {
        (_, RegisterOutput::Siblings(_)) => {
            return Some(format!(
                "{said} {when}: a linearizable register holds one value at a time, so the \
                 store exposed concurrent versions (siblings) instead of ordering the writes"
            ));
        }
        (RegisterOp::Cas { expected, .. }, RegisterOutput::CasMismatch) => {
            return Some(format!(
                "{said} {when}, claiming {key} did not hold {}, but every order of the \
                 operations before it leaves {key} holding {could}",
                show(expected)
            ));
        }
        (RegisterOp::Read, RegisterOutput::Read(v)) => *v,
        (RegisterOp::Cas { expected, .. }, RegisterOutput::Done) => expected,
        _ => return None,
    };
    // A cas known to have failed wrote nothing.
    let writes = |value: Option<i64>, op: &Operation<RegisterInput, RegisterOutput>| match (
        op.input.op,
        &op.output,
    ) {
        (RegisterOp::Cas { .. }, Some(RegisterOutput::CasMismatch)) => false,
        (RegisterOp::Write(v) | RegisterOp::Cas { new: v, .. }, _) => Some(v) == value,
        (RegisterOp::Read, _) => false,
    };
    let writers: Vec<_> = case.all.iter().filter(|op| writes(seen, op)).collect();
    if seen.is_some() && seen != model.init {
        if writers.is_empty() {
            return Some(format!(
                "{said} {when}, but no operation ever wrote {}",
                show(seen)
            ));
        }
        let ret = culprit.ret?;
        if writers.iter().all(|w| w.call > ret) {
            let first = writers.iter().min_by_key(|w| w.call)?;
            return Some(format!(
                "{said} {when}, but the write of {} only began at {}, after that",
                show(seen),
                case.invoked(first)
            ));
        }
    }
    // The last write of the value seen (within the witness, which holds every write of it
    // that could matter), then evidence that the register held something else after it and
    // before the culprit began: an overwrite, a failed cas expecting it, or a read of another.
    let source = case
        .ops
        .iter()
        .filter(|(op, _)| writes(seen, op))
        .filter_map(|(op, _)| op.ret.map(|ret| (ret, *op)))
        .max_by_key(|(ret, _)| *ret);
    if source.is_none() && seen != model.init {
        return None;
    }
    let after_source = |op: &Operation<RegisterInput, RegisterOutput>| {
        source.is_none_or(|(source_ret, _)| op.call > source_ret)
    };
    let (evidence, _) = case
        .ops
        .iter()
        .filter(|(op, used)| *used && after_source(op))
        .filter(|(op, _)| op.ret.is_some_and(|ret| ret < culprit.call))
        .filter(|(op, _)| match (op.input.op, op.output.as_ref()) {
            (RegisterOp::Write(v), _) => Some(v) != seen,
            (RegisterOp::Cas { new, .. }, Some(RegisterOutput::Done)) => Some(new) != seen,
            (RegisterOp::Cas { expected, .. }, Some(RegisterOutput::CasMismatch)) => {
                expected == seen
            }
            (RegisterOp::Read, Some(RegisterOutput::Read(v))) => *v != seen,
            _ => false,
        })
        .max_by_key(|(op, _)| op.ret)?;
    let began = match culprit.input.op {
        RegisterOp::Read => "before the read began",
        _ => "before the cas began",
    };
    let at = case.completed(evidence);
    let v = show(seen);
    let what = match source {
        Some((_, op)) if matches!(op.input.op, RegisterOp::Cas { .. }) => {
            format!("the cas that set {v} (completed at {})", case.completed(op))
        }
        Some((_, op)) => format!(
            "the last write of {v} (completed at {})",
            case.completed(op)
        ),
        None => format!("the initial value {v}"),
    };
    let happened = match (evidence.input.op, evidence.output.as_ref()) {
        (RegisterOp::Write(u), _) => {
            return Some(format!(
                "{said} {when}, but {what} was overwritten by the write of {u}, which completed \
                 at {at}, {began}"
            ))
        }
        (RegisterOp::Cas { expected, new }, Some(RegisterOutput::Done)) => {
            return Some(format!(
                "{said} {when}, but {what} was overwritten by the cas from {} to {new}, which \
                 completed at {at}, {began}",
                show(expected)
            ))
        }
        (RegisterOp::Cas { new, .. }, _) => {
            format!("the cas from {v} to {new} failed at {at}, showing {key} no longer held {v}")
        }
        (RegisterOp::Read, _) => format!(
            "a read returned {} at {at}",
            model.describe_state(&match evidence.output {
                Some(RegisterOutput::Read(u)) => u,
                _ => None,
            })
        ),
    };
    Some(format!(
        "{said} {when}, but after {what}, {happened}, {began}, and nothing wrote {v} again"
    ))
}

/// Porcupine's key-value store: each key a string, initially empty, with get, put and append.
/// Partitioned by key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kv;

/// A key-value operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvInput {
    /// The key.
    pub key: String,
    /// What was asked.
    pub op: KvOp,
}

/// What a key-value operation asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// Read the key's string.
    Get,
    /// Set it.
    Put(String),
    /// Concatenate onto it.
    Append(String),
}

/// What a key-value operation was told.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutput {
    /// A get's string.
    Value(String),
    /// A put or append took effect.
    Done,
}

fn kv_step(current: &str, op: &KvOp, output: Option<&KvOutput>) -> Step<String> {
    match (op, output) {
        (KvOp::Get, None) => Step::Unchanged,
        (KvOp::Get, Some(KvOutput::Value(v))) if v == current => Step::Unchanged,
        (KvOp::Get, Some(_)) => Step::Illegal,
        (KvOp::Put(v), None | Some(KvOutput::Done)) => Step::To(v.clone()),
        (KvOp::Append(v), None | Some(KvOutput::Done)) => {
            let mut next = String::with_capacity(current.len() + v.len());
            next.push_str(current);
            next.push_str(v);
            Step::To(next)
        }
        _ => Step::Illegal,
    }
}

/// Long strings shortened for people: the end is where appends differ.
fn quote(value: &str) -> String {
    const SHOWN_CHARS_MAX: usize = 40;
    let count = value.chars().count();
    if count <= SHOWN_CHARS_MAX {
        format!("{value:?}")
    } else {
        let tail: String = value.chars().skip(count - SHOWN_CHARS_MAX).collect();
        format!("\"…{}\" ({count} chars)", tail.escape_debug())
    }
}

fn kv_describe(input: &KvInput, output: Option<&KvOutput>) -> String {
    let key = format!("{:?}", input.key);
    match (&input.op, output) {
        (KvOp::Get, Some(KvOutput::Value(v))) => format!("get of {key} returned {}", quote(v)),
        (KvOp::Get, _) => format!("get of {key} (result unknown)"),
        (KvOp::Put(v), _) => format!("put of {} to {key}", quote(v)),
        (KvOp::Append(v), _) => format!("append of {} to {key}", quote(v)),
    }
}

impl Model for Kv {
    type State = KvValue;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvValue {
        KvValue::empty_with_arena()
    }

    fn step(&self, state: &KvValue, input: &KvInput, output: Option<&KvOutput>) -> Step<KvValue> {
        match (&input.op, output) {
            (KvOp::Get, None) => Step::Unchanged,
            (KvOp::Get, Some(KvOutput::Value(v))) if state.eq_str(v) => Step::Unchanged,
            (KvOp::Get, Some(_)) => Step::Illegal,
            (KvOp::Put(v), None | Some(KvOutput::Done)) => Step::To(state.replaced(v)),
            (KvOp::Append(v), None | Some(KvOutput::Done)) if v.is_empty() => Step::Unchanged,
            (KvOp::Append(v), None | Some(KvOutput::Done)) => Step::To(state.append(v)),
            _ => Step::Illegal,
        }
    }

    fn partition(&self, input: &KvInput) -> Option<String> {
        // Quoted as `{:?}` would, without its escaping machinery for the usual plain key
        // (printable ASCII needs no escape but for the quote and the backslash).
        let key = &input.key;
        if key
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            let mut quoted = String::with_capacity(key.len() + 2);
            quoted.push('"');
            quoted.push_str(key);
            quoted.push('"');
            Some(quoted)
        } else {
            Some(format!("{key:?}"))
        }
    }

    fn is_read_only(&self, input: &KvInput) -> bool {
        input.op == KvOp::Get
    }

    fn describe(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        kv_describe(input, output)
    }

    fn describe_state(&self, state: &KvValue) -> String {
        quote(&state.to_string())
    }
}

/// A key's string in [`Kv`], kept as the chain of the put and the appends that built it: a
/// step then costs the length of what it appends, not a copy of the whole string, and a state
/// costs a link, not a copy. (Porcupine's kv histories append to strings of hundreds of bytes,
/// and the search makes and keeps a new state at nearly every append it tries.) The links of
/// all the values grown from one [`Kv::init`] live in one shared arena, freed with the last of
/// them. Two values are equal when their strings are, however they were built.
///
/// Not `Send`: the arena is shared without locks, as one search shares it.
#[derive(Clone)]
pub struct KvValue {
    arena: Option<Rc<RefCell<Arena>>>,
    /// The last link, or `NO_LINK` for the empty string.
    link: u32,
    /// The string's length in bytes (below 4 GiB, as the arena holding its texts is).
    len: u32,
    /// The string's polynomial hash (see [`KvValue::hash_on`]).
    hash: u64,
}

/// Links and their texts.
#[derive(Default)]
struct Arena {
    links: Vec<Link>,
    bytes: Vec<u8>,
}

/// One put or append: its text (in the arena's bytes) and the link before it.
#[derive(Clone, Copy)]
struct Link {
    before: u32,
    text_start: u32,
    text_len: u32,
}

const NO_LINK: u32 = u32::MAX;

impl Arena {
    fn text(&self, link: &Link) -> &[u8] {
        &self.bytes[link.text_start as usize..][..link.text_len as usize]
    }

    /// The texts of the chain ending at `link`, last first.
    fn texts_backward(&self, mut link: u32) -> impl Iterator<Item = &[u8]> {
        std::iter::from_fn(move || {
            let at = *self.links.get(link as usize)?;
            link = at.before;
            Some(self.text(&at))
        })
    }
}

impl KvValue {
    /// The empty string, with an arena of its own for the values grown from it.
    fn empty_with_arena() -> Self {
        KvValue {
            arena: Some(Rc::default()),
            link: NO_LINK,
            len: 0,
            hash: 0,
        }
    }

    /// The string's length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// This string with `text` appended.
    pub fn append(&self, text: &str) -> KvValue {
        self.link_after(self.link, self.len, self.hash, text)
    }

    /// `text` alone, in this value's arena.
    fn replaced(&self, text: &str) -> KvValue {
        self.link_after(NO_LINK, 0, 0, text)
    }

    fn link_after(&self, before: u32, len: u32, hash: u64, text: &str) -> KvValue {
        let arena = self.arena.clone().unwrap_or_default();
        let link = {
            let mut a = arena.borrow_mut();
            let link = Link {
                before,
                text_start: u32::try_from(a.bytes.len()).expect("kv arena below 4 GiB"),
                text_len: u32::try_from(text.len()).expect("kv text below 4 GiB"),
            };
            a.bytes.extend_from_slice(text.as_bytes());
            a.links.push(link);
            u32::try_from(a.links.len() - 1).expect("fewer than 2^32 kv links")
        };
        KvValue {
            arena: Some(arena),
            link,
            len: u32::try_from(len as usize + text.len()).expect("kv value below 4 GiB"),
            hash: Self::hash_on(hash, text.as_bytes()),
        }
    }

    /// The polynomial hash of a string continued by `text`: the hash of `a` followed by `b` is
    /// `hash_on(hash_on(0, a), b)`, so each link extends the hash of the value before it.
    fn hash_on(hash: u64, text: &[u8]) -> u64 {
        const BASE: u64 = 0x100_0000_01B3;
        text.iter().fold(hash, |h, &b| {
            h.wrapping_mul(BASE).wrapping_add(u64::from(b))
        })
    }

    /// Whether the string is `other`, compared from the end, where appends differ.
    pub fn eq_str(&self, other: &str) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let Some(arena) = &self.arena else {
            return true;
        };
        let arena = arena.borrow();
        let mut rest = other.as_bytes();
        for text in arena.texts_backward(self.link) {
            let (head, tail) = rest.split_at(rest.len() - text.len());
            if tail != text {
                return false;
            }
            rest = head;
        }
        true
    }
}

impl Default for KvValue {
    /// The empty string.
    fn default() -> Self {
        KvValue {
            arena: None,
            link: NO_LINK,
            len: 0,
            hash: 0,
        }
    }
}

impl From<&str> for KvValue {
    fn from(text: &str) -> Self {
        KvValue::default().append(text)
    }
}

impl PartialEq for KvValue {
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len || self.hash != other.hash {
            return false;
        }
        let (Some(a_arena), Some(b_arena)) = (&self.arena, &other.arena) else {
            return self.len == 0;
        };
        let same_arena = Rc::ptr_eq(a_arena, b_arena);
        if same_arena && self.link == other.link {
            return true;
        }
        let (a_arena, b_arena) = (a_arena.borrow(), b_arena.borrow());
        // Walk both chains from the end; links need not line up.
        let (mut a_at, mut b_at) = (self.link, other.link);
        let (mut a, mut b): (&[u8], &[u8]) = (&[], &[]);
        loop {
            if a.is_empty() && b.is_empty() && same_arena && a_at == b_at {
                // The rest is shared (the search appends to its interned states, so this is
                // the usual way two values agree).
                return true;
            }
            while a.is_empty() {
                let Some(link) = a_arena.links.get(a_at as usize) else {
                    break;
                };
                (a, a_at) = (a_arena.text(link), link.before);
            }
            while b.is_empty() {
                let Some(link) = b_arena.links.get(b_at as usize) else {
                    break;
                };
                (b, b_at) = (b_arena.text(link), link.before);
            }
            // The lengths are equal, so both run out together.
            if a.is_empty() || b.is_empty() {
                return a.is_empty() && b.is_empty();
            }
            let n = a.len().min(b.len());
            let (a_head, a_tail) = a.split_at(a.len() - n);
            let (b_head, b_tail) = b.split_at(b.len() - n);
            if a_tail != b_tail {
                return false;
            }
            (a, b) = (a_head, b_head);
        }
    }
}

impl Eq for KvValue {}

impl Hash for KvValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.len);
        state.write_u64(self.hash);
    }
}

impl fmt::Display for KvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(arena) = &self.arena else {
            return Ok(());
        };
        let arena = arena.borrow();
        let texts: Vec<&[u8]> = arena.texts_backward(self.link).collect();
        let bytes: Vec<u8> = texts
            .iter()
            .rev()
            .flat_map(|text| text.iter().copied())
            .collect();
        // Every text came from a whole &str, so the bytes are UTF-8.
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}

impl fmt::Debug for KvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

/// The same store as one map-valued state, without the per-key split: as exact, much slower.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvWholeMap;

impl Model for KvWholeMap {
    type State = BTreeMap<String, String>;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> Self::State {
        BTreeMap::new()
    }

    fn step(
        &self,
        state: &Self::State,
        input: &KvInput,
        output: Option<&KvOutput>,
    ) -> Step<Self::State> {
        let current = state.get(&input.key).map_or("", String::as_str);
        match kv_step(current, &input.op, output) {
            Step::Illegal => Step::Illegal,
            Step::Unchanged => Step::Unchanged,
            Step::To(value) => {
                let mut next = state.clone();
                next.insert(input.key.clone(), value);
                Step::To(next)
            }
        }
    }

    fn is_read_only(&self, input: &KvInput) -> bool {
        input.op == KvOp::Get
    }

    fn describe(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        kv_describe(input, output)
    }

    fn describe_state(&self, state: &Self::State) -> String {
        let entries: Vec<String> = state
            .iter()
            .map(|(k, v)| format!("{k:?}: {}", quote(v)))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

/// A lock: acquire succeeds only when free, release only when held (Knossos's mutex).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutex;

/// A mutex operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutexOp {
    /// Take the lock.
    Acquire,
    /// Free it.
    Release,
}

impl Model for Mutex {
    type State = bool;
    type Input = MutexOp;
    type Output = ();

    fn init(&self) -> bool {
        false
    }

    fn step(&self, held: &bool, input: &MutexOp, _output: Option<&()>) -> Step<bool> {
        match (input, *held) {
            (MutexOp::Acquire, false) => Step::To(true),
            (MutexOp::Release, true) => Step::To(false),
            _ => Step::Illegal,
        }
    }

    fn describe(&self, input: &MutexOp, output: Option<&()>) -> String {
        let verb = match input {
            MutexOp::Acquire => "acquire",
            MutexOp::Release => "release",
        };
        match output {
            Some(()) => format!("{verb} of the lock"),
            None => format!("{verb} of the lock (outcome unknown)"),
        }
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held { "held" } else { "free" }.to_string()
    }
}

/// Several named registers updated by transactions of reads and writes (Knossos's
/// multi-register). A read of nil always succeeds: Knossos writes unknown reads that way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultiRegister {
    /// The registers' values before any transaction.
    pub init: BTreeMap<String, i64>,
}

/// One step of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MicroOp {
    /// Read a register: the value seen (None: unknown).
    Read(String, Option<i64>),
    /// Write a register.
    Write(String, i64),
}

impl Model for MultiRegister {
    type State = BTreeMap<String, i64>;
    type Input = Vec<MicroOp>;
    type Output = ();

    fn init(&self) -> Self::State {
        self.init.clone()
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Vec<MicroOp>,
        _output: Option<&()>,
    ) -> Step<Self::State> {
        let mut next: Option<Self::State> = None;
        for micro in input {
            let now = next.as_ref().unwrap_or(state);
            match micro {
                MicroOp::Read(_, None) => {}
                MicroOp::Read(key, Some(v)) => {
                    if now.get(key) != Some(v) {
                        return Step::Illegal;
                    }
                }
                MicroOp::Write(key, v) => {
                    next.get_or_insert_with(|| state.clone())
                        .insert(key.clone(), *v);
                }
            }
        }
        next.map_or(Step::Unchanged, Step::To)
    }

    fn is_read_only(&self, input: &Vec<MicroOp>) -> bool {
        input.iter().all(|m| matches!(m, MicroOp::Read(..)))
    }

    fn describe(&self, input: &Vec<MicroOp>, _output: Option<&()>) -> String {
        let parts: Vec<String> = input
            .iter()
            .map(|m| match m {
                MicroOp::Read(k, v) => format!("read {k} = {}", show(*v)),
                MicroOp::Write(k, v) => format!("write {k} = {v}"),
            })
            .collect();
        format!("txn [{}]", parts.join(", "))
    }

    fn describe_state(&self, state: &Self::State) -> String {
        let parts: Vec<String> = state.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn built(pieces: &[&str]) -> KvValue {
        pieces
            .iter()
            .fold(KvValue::default(), |value, piece| value.append(piece))
    }

    #[test]
    fn kv_values_are_equal_when_their_strings_are_however_they_were_built() {
        let hasher = foldhash::fast::FixedState::with_seed(1);
        let whole = "x 1 0 yx 22 0 yx 3 1 y";
        let init = Kv.init();
        let ways = [
            built(&[whole]),
            built(&["x 1 0 y", "x 22 0 y", "x 3 1 y"]),
            built(&["", "x 1 0 yx 2", "", "2 0 yx 3 1", " y"]),
            KvValue::from("x 1 0 yx 22 0 y").append("x 3 1 y"),
            // Chains sharing one arena, as in a search.
            init.append("x 1 0 yx 22 0 y").append("x 3 1 y"),
            init.append("x 1 0 y").replaced(whole),
            init.append(whole),
        ];
        for a in &ways {
            assert!(a.eq_str(whole));
            assert_eq!(a.to_string(), whole);
            assert_eq!(format!("{a:?}"), format!("{whole:?}"));
            for b in &ways {
                assert_eq!(a, b);
                assert_eq!(hasher.hash_one(a), hasher.hash_one(b));
            }
        }
        // Same length, different strings, differing first at the start, middle or end.
        for other in [
            "y 1 0 yx 22 0 yx 3 1 y",
            "x 1 0 yx 23 0 yx 3 1 y",
            "x 1 0 yx 22 0 yx 3 1 z",
        ] {
            let split = built(&[&other[..5], &other[5..]]);
            for a in &ways {
                assert_ne!(a, &split, "{other}");
                assert!(!a.eq_str(other));
            }
        }
        assert_ne!(built(&["ab"]), built(&["abc"]));
        assert_eq!(KvValue::default(), built(&["", ""]));
        assert!(KvValue::default().eq_str(""));
    }

    /// A value built by puts and appends from pieces of a small alphabet, beside the string.
    fn build(init: &KvValue, steps: &[(bool, String)]) -> (KvValue, String) {
        steps.iter().fold(
            (init.clone(), String::new()),
            |(value, string), (put, text)| {
                if *put {
                    (value.replaced(text), text.clone())
                } else {
                    (value.append(text), string + text)
                }
            },
        )
    }

    proptest::proptest! {
        #[test]
        fn kv_values_compare_and_hash_as_their_strings(
            a in proptest::collection::vec((proptest::bool::weighted(0.1), "[ab]{0,3}"), 0..8),
            b in proptest::collection::vec((proptest::bool::weighted(0.1), "[ab]{0,3}"), 0..8),
            shared in proptest::bool::ANY,
        ) {
            let hasher = foldhash::fast::FixedState::with_seed(3);
            let init = Kv.init();
            let other = if shared { init.clone() } else { Kv.init() };
            let ((x, xs), (y, ys)) = (build(&init, &a), build(&other, &b));
            proptest::prop_assert_eq!(x == y, xs == ys);
            proptest::prop_assert!(x.eq_str(&xs) && y.eq_str(&ys));
            proptest::prop_assert_eq!(x.eq_str(&ys), xs == ys);
            proptest::prop_assert_eq!(x.to_string(), xs.clone());
            if xs == ys {
                proptest::prop_assert_eq!(hasher.hash_one(&x), hasher.hash_one(&y));
            }
        }
    }

    #[test]
    fn kv_keys_are_quoted_as_debug_quotes_them() {
        for key in [
            "0",
            "a key",
            "",
            "quote\"d",
            "back\\slash",
            "tab\t",
            "é",
            "\u{301}x",
        ] {
            let input = KvInput {
                key: key.to_string(),
                op: KvOp::Get,
            };
            assert_eq!(Kv.partition(&input), Some(format!("{key:?}")));
        }
    }

    #[test]
    fn a_long_chain_of_appends_compares_and_prints_without_recursion() {
        assert_eq!(Kv.init().append("a").replaced("bc"), KvValue::from("bc"));
        let init = Kv.init();
        let (mut short, mut long) = (init.clone(), init);
        for _ in 0..100_000 {
            short = short.append("a").append("b");
            long = long.append("ab");
        }
        assert_eq!(short, long);
        assert_ne!(short.append("a"), long.append("b"));
        assert_eq!(short.to_string().len(), 200_000);
        assert!(long.eq_str(&"ab".repeat(100_000)));
    }
}
