//! The RON scenario format: one file describes a run — cluster, protocol, clocks, network,
//! faults, workload, settle and checks — and is read in two passes so that every error,
//! including cross-field ones ("node n7 does not exist", "fault after the end of the run"),
//! names the file, line and column.
//!
//! Pass 1 reads the file with no context and learns the protocol name, the node count and
//! the duration; pass 2 reads it again knowing them, and the field types below check
//! themselves against that context as they are read, so the RON parser attaches the
//! position of the offending value to the error.

mod errors;

use crate::clock::NodeClock;
use crate::engine::{Limits, SettleConfig, SimConfig, StorageConfig};
use crate::fault::{CutKind, FaultAction, FaultOrigin, NemesisConfig, ScheduledFault};
use crate::ids::NodeId;
use crate::network::{Cut, Delivery, Latency, LinkConfig, Mixture};
use crate::protocol::Protocol;
use crate::rng::Probability;
use crate::time::{parse_duration, parse_signed_nanos, SignedDuration, SimDuration, SimTime};
use crate::workload::{KeyDistribution, LoadMode, Target, WorkloadConfig, PPM_ONE};
use serde::de::{
    self, DeserializeOwned, Deserializer, EnumAccess, MapAccess, VariantAccess, Visitor,
};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// The largest cluster a scenario may describe.
pub const NODES_MAX: u32 = 64;
/// The most clients a workload may have.
pub const CLIENTS_MAX: u32 = 10_000;
/// Operations per second per client when the workload does not say.
pub const DEFAULT_RATE_PER_S: f64 = 10.0;
/// The largest clock drift, either way, in parts per million (10%).
pub const DRIFT_PPM_MAX: f64 = 100_000.0;

/// A scenario that could not be read: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, as the user named it.
    pub file: String,
    /// 1-based line (0 when the error concerns the whole file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

// ----- the parse context ---------------------------------------------------------------------

/// Checks a protocol's options once they are read (the protocol's `validate_config`).
type ConfigValidator = Box<dyn Fn(&dyn Any) -> Result<(), String>>;

/// What pass 2 knows while it reads, so that field types can check themselves.
struct ParseContext {
    node_count: Option<u32>,
    duration: Option<SimDuration>,
    protocol_names: Vec<&'static str>,
    supports_cas: bool,
    has_settle: Option<bool>,
    validate_protocol: Option<ConfigValidator>,
    /// The protocol's message classes, and its name for messages about them (pass 2 only).
    message_classes: Option<(&'static str, &'static [&'static str])>,
}

thread_local! {
    // Parsing only: set for the duration of one `from_str` call and cleared after. The
    // simulation never reads it.
    static CONTEXT: RefCell<Option<ParseContext>> = const { RefCell::new(None) };
}

fn with_context<R>(read: impl FnOnce(&ParseContext) -> R) -> Option<R> {
    CONTEXT.with(|cell| cell.borrow().as_ref().map(read))
}

fn parse_with_context<T: DeserializeOwned>(
    file: &str,
    text: &str,
    context: ParseContext,
) -> Result<T, ScenarioError> {
    CONTEXT.with(|cell| *cell.borrow_mut() = Some(context));
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let result: Result<T, ron::error::SpannedError> = options.from_str(text);
    CONTEXT.with(|cell| *cell.borrow_mut() = None);
    result.map_err(|error| errors::describe_error(file, text, error))
}

// ----- self-checking field types ------------------------------------------------------------

/// A non-negative duration written as a string: "250ms", "2s".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub SimDuration);

impl serde::Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::time::format_nanos_exact(self.0 .0 as i128))
    }
}

impl serde::Serialize for PositiveDur {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::time::format_nanos_exact(self.0 .0 as i128))
    }
}

/// Newtypes written back the way people write them (durations as text, nodes by name).
macro_rules! serialize_as {
    ($type:ty, |$value:ident| $body:expr) => {
        impl Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let $value = self;
                $body.serialize(serializer)
            }
        }
    };
}

serialize_as!(SignedDur, |d| crate::time::format_nanos_exact(
    d.0 .0 as i128
));
serialize_as!(Prob, |p| p.0);
serialize_as!(NodeName, |n| n.0.to_string());
serialize_as!(FaultTime, |t| crate::time::format_nanos_exact(
    t.0 .0 as i128
));
serialize_as!(NodeCount, |n| n.0);
serialize_as!(PerMinute, |r| r.0);
serialize_as!(Drift, |d| d.0);
serialize_as!(Checks, |c| &c.0);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map(Dur).map_err(de::Error::custom)
    }
}

/// A signed duration written as a string: "-50ms".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDur(pub SignedDuration);

impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let nanos = parse_signed_nanos(&text).map_err(de::Error::custom)?;
        Ok(SignedDur(SignedDuration(nanos as i64)))
    }
}

/// A probability in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prob(pub f64);

impl<'de> Deserialize<'de> for Prob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Probability::from_f64(value).map_err(de::Error::custom)?;
        Ok(Prob(value))
    }
}

impl Prob {
    fn probability(self) -> Probability {
        Probability::from_f64(self.0).expect("checked when read")
    }

    fn ppm(self) -> u32 {
        (self.0 * PPM_ONE as f64).round() as u32
    }
}

/// A node named "n1".."nN"; in pass 2, N is the scenario's node count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeName(pub NodeId);

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let Some(node) = NodeId::parse(&text) else {
            return Err(de::Error::custom(format!(
                "expected a node name such as \"n1\", found \"{text}\""
            )));
        };
        if node.to_string() != text {
            // "n+1" and "n 1" parse as numbers, but nobody names a node that way.
            return Err(de::Error::custom(format!(
                "expected a node name such as \"n1\", found \"{text}\""
            )));
        }
        if let Some(Some(count)) = with_context(|c| c.node_count) {
            if node.0 >= count {
                return Err(de::Error::custom(format!(
                    "node \"{text}\" does not exist: this scenario has {count} nodes, n1 to n{count}"
                )));
            }
        }
        Ok(NodeName(node))
    }
}

/// The time a pinned fault happens; in pass 2 it must fall inside the fault phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultTime(pub SimDuration);

impl<'de> Deserialize<'de> for FaultTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Dur(at) = Dur::deserialize(deserializer)?;
        if let Some(Some(duration)) = with_context(|c| c.duration) {
            if at >= duration {
                return Err(de::Error::custom(format!(
                    "a fault at {at} is after the end of the run: faults must happen before `duration` ({duration}); the settle phase heals everything by itself"
                )));
            }
        }
        Ok(FaultTime(at))
    }
}

/// The node count: 1 to [`NODES_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeCount(pub u32);

impl<'de> Deserialize<'de> for NodeCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let count = u32::deserialize(deserializer)?;
        if count == 0 || count > NODES_MAX {
            return Err(de::Error::custom(format!(
                "expected between 1 and {NODES_MAX} nodes, found {count}"
            )));
        }
        Ok(NodeCount(count))
    }
}

/// A rate per minute: a finite number >= 0 (0 switches the generator off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerMinute(pub f64);

impl<'de> Deserialize<'de> for PerMinute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let rate = f64::deserialize(deserializer)?;
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(de::Error::custom(format!(
                "expected a rate per minute >= 0, found {rate}"
            )));
        }
        Ok(PerMinute(rate))
    }
}

impl PerMinute {
    /// The mean time between events, or None when the rate is 0.
    fn mean_interval(self) -> Option<SimDuration> {
        (self.0 > 0.0).then(|| SimDuration((60e9 / self.0).round().max(1.0) as u64))
    }
}

// ----- the protocol section -----------------------------------------------------------------

/// `protocol: Lww(replicate_every: "20ms")`: a protocol name and its options.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolSection<C> {
    /// The name as written.
    pub name: String,
    /// The options.
    pub config: C,
}

/// Stands in for the protocol section while the rest of a scenario is written as RON; see
/// [`ScenarioFile::to_ron`].
const PROTOCOL_PLACEHOLDER: &str = "FaultlineProtocolSection";

impl<C> Serialize for ProtocolSection<C> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit_variant("Protocol", 0, PROTOCOL_PLACEHOLDER)
    }
}

impl<C: Serialize> ScenarioFile<C> {
    /// The scenario as RON that reads back to the same runs (what `shrink` writes).
    pub fn to_ron(&self) -> Result<String, String> {
        let style = ron::ser::PrettyConfig::new()
            .struct_names(false)
            .compact_maps(true);
        let text = ron::ser::to_string_pretty(self, style).map_err(|e| e.to_string())?;
        // A protocol section reads as `Name(option: value, ...)`: the options struct written
        // without a name is exactly the parenthesized part.
        let options = ron::ser::to_string_pretty(
            &self.protocol.config,
            ron::ser::PrettyConfig::new()
                .struct_names(false)
                .compact_structs(true)
                .compact_arrays(true),
        )
        .map_err(|e| e.to_string())?;
        let options = if options.starts_with('(') {
            options
        } else {
            "()".to_string()
        };
        let section = format!("{}{}", self.protocol.name, options);
        Ok(format!(
            "Scenario{}\n",
            text.replacen(PROTOCOL_PLACEHOLDER, &section, 1)
        ))
    }
}

struct Ident(String);

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdentVisitor;
        impl Visitor<'_> for IdentVisitor {
            type Value = Ident;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a protocol name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ident, E> {
                Ok(Ident(v.to_string()))
            }
        }
        deserializer.deserialize_identifier(IdentVisitor)
    }
}

impl<'de, C: DeserializeOwned + Default + 'static> Deserialize<'de> for ProtocolSection<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SectionVisitor<C>(PhantomData<C>);
        impl<'de, C: DeserializeOwned + Default + 'static> Visitor<'de> for SectionVisitor<C> {
            type Value = ProtocolSection<C>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a protocol such as Lww(replicate_every: \"20ms\")")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
                let (Ident(name), variant) = access.variant()?;
                if let Some(known) = with_context(|c| c.protocol_names.clone()) {
                    if known.is_empty() {
                        return Err(de::Error::custom(format!(
                            "unknown protocol `{name}`: this program has no protocols registered"
                        )));
                    }
                    if !known.iter().any(|k| same_protocol_name(k, &name)) {
                        return Err(de::Error::custom(format!(
                            "unknown protocol `{name}`, expected one of: {}",
                            known.join(", ")
                        )));
                    }
                }
                let config = variant.struct_variant(&[], OptionsVisitor::<C>(PhantomData))?;
                if let Some(Some(error)) = with_context(|c| {
                    c.validate_protocol
                        .as_ref()
                        .and_then(|validate| validate(&config as &dyn Any).err())
                }) {
                    return Err(de::Error::custom(format!("in {name}(...): {error}")));
                }
                Ok(ProtocolSection { name, config })
            }
        }
        struct OptionsVisitor<C>(PhantomData<C>);
        impl<'de, C: DeserializeOwned + Default> Visitor<'de> for OptionsVisitor<C> {
            type Value = C;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("protocol options in parentheses")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<C, A::Error> {
                C::deserialize(de::value::MapAccessDeserializer::new(map))
            }
            fn visit_unit<E: de::Error>(self) -> Result<C, E> {
                Ok(C::default())
            }
        }
        deserializer.deserialize_enum("Protocol", &[], SectionVisitor(PhantomData))
    }
}

/// Whether a name written in a scenario (`PrimaryBackup`) names a registered protocol
/// (`primary-backup`): case, `-` and `_` do not matter, since RON identifiers cannot hold `-`.
pub fn same_protocol_name(registered: &str, written: &str) -> bool {
    let normal = |name: &str| {
        name.chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    normal(registered) == normal(written)
}

/// Protocol options read without knowing the protocol: everything is accepted and ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnyOptions;

impl<'de> Deserialize<'de> for AnyOptions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(deserializer)?;
        Ok(AnyOptions)
    }
}

// ----- the file's shape ---------------------------------------------------------------------

/// A whole scenario file as written. `C` is the protocol's options type.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(rename = "Scenario", deny_unknown_fields)]
#[serde(bound(
    deserialize = "C: DeserializeOwned + Default + 'static",
    serialize = "C: Serialize"
))]
pub struct ScenarioFile<C> {
    /// A short name for reports.
    pub name: String,
    /// The seed; `--seed` overrides it, and a scenario without one gets a random one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Number of nodes, named n1..nN.
    pub nodes: NodeCount,
    /// Length of the fault phase.
    pub duration: PositiveDur,
    /// The protocol and its options.
    pub protocol: ProtocolSection<C>,
    /// Per-node clock offsets and drift.
    #[serde(default, deserialize_with = "check_clocks")]
    pub clocks: BTreeMap<NodeName, ClockSpec>,
    /// Network defaults and per-link overrides.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Disk behaviour.
    #[serde(default)]
    pub storage: StorageSpec,
    /// The pinned fault schedule.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Random faults drawn from the seed.
    #[serde(default, deserialize_with = "check_nemesis")]
    pub nemesis: Option<NemesisSpec>,
    /// The clients.
    #[serde(default, deserialize_with = "check_workload")]
    pub workload: WorkloadSpec,
    /// How long to wait for convergence after the fault phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Dur>,
    /// Finer control of the settle phase.
    #[serde(default)]
    pub settle_options: SettleOptions,
    /// Checks run on the history after the run; when left out, LostWrites, plus Convergence
    /// if the scenario has a settle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// How often divergence is sampled for reports.
    #[serde(default = "default_sample_every")]
    pub sample_every: PositiveDur,
    /// Bounds on the run.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Drift budgets: how much divergence the design promises at most; exceeding one is a
    /// violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<BudgetsSpec>,
}

/// `budgets: (keys_diverged_max: 3, convergence_after_heal_max: "500ms",
/// stale_read_rate_max: 0.01, lost_writes_max: 0)`; every field is optional.
#[derive(Deserialize, Serialize, Debug, Clone, Default, PartialEq)]
// Named as written, so that RON's messages about this section say "budgets".
#[serde(rename = "budgets", deny_unknown_fields)]
pub struct BudgetsSpec {
    /// Most keys whose replicas may differ at any one divergence sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_diverged_max: Option<u32>,
    /// Longest time from a heal to the first sample at which every replica agrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence_after_heal_max: Option<Dur>,
    /// Highest share of successful reads that may be stale, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_read_rate_max: Option<Prob>,
    /// Most acknowledged writes that may be lost (replaces the LostWrites check's zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes_max: Option<u64>,
}

/// A scenario's drift budgets, resolved: None leaves that measure unbudgeted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    /// Most keys diverged at one sample.
    pub keys_diverged_max: Option<u32>,
    /// Longest time from a heal to convergence, in ns.
    pub convergence_after_heal_ns_max: Option<u64>,
    /// Highest stale-read rate, in [0, 1].
    pub stale_read_rate_max: Option<f64>,
    /// Most lost writes.
    pub lost_writes_max: Option<u64>,
}

impl Budgets {
    /// True when no budget is declared.
    pub fn is_empty(&self) -> bool {
        *self == Budgets::default()
    }
}

fn default_sample_every() -> PositiveDur {
    PositiveDur(SimDuration::from_millis(100))
}

/// A history or state check a scenario asks for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
pub enum CheckName {
    /// After settle, every replica of every key holds the same versions.
    Convergence,
    /// No acknowledged write vanished without a later write superseding it.
    LostWrites,
    /// The history is linearizable, key by key (a budgeted search: out of budget is unknown).
    Linearizable,
    /// The history is sequentially consistent, key by key (same search, no real-time order).
    Sequential,
    /// The history is causally consistent (CC, for histories with unique write values).
    Causal,
    /// Each client reads its own completed writes or newer.
    ReadYourWrites,
    /// Each client's reads of a key never go back to an older version.
    MonotonicReads,
    /// Each client's writes take effect in the order it made them.
    MonotonicWrites,
    /// A client's write is ordered after the writes it had read.
    WritesFollowReads,
    /// No read returned a value overwritten by a write that completed before the read began.
    StaleReads,
}

/// `(offset: "-50ms", drift_ppm: 20)`.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// How far the wall clock starts from true time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<SignedDur>,
    /// Parts per million fast (negative: slow).
    #[serde(default)]
    pub drift_ppm: Drift,
    /// Timers fire up to this much late, uniformly (scheduler delay, timer coalescing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_slack: Option<TimerSlack>,
}

/// The most a node's timers fire late: at most [`TIMER_SLACK_MAX`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimerSlack(pub SimDuration);

/// The largest timer slack a scenario may give (beyond it, "late" means a pause: use `Pause`).
pub const TIMER_SLACK_MAX: SimDuration = SimDuration(1_000_000_000);

impl<'de> Deserialize<'de> for TimerSlack {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Dur(slack) = Dur::deserialize(deserializer)?;
        if slack > TIMER_SLACK_MAX {
            return Err(de::Error::custom(format!(
                "expected a timer slack of at most {TIMER_SLACK_MAX}, found {slack}; a node that stops for longer is a `Pause` fault"
            )));
        }
        Ok(TimerSlack(slack))
    }
}

impl Serialize for TimerSlack {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Dur(self.0).serialize(serializer)
    }
}

/// Clock drift in ppm, at most [`DRIFT_PPM_MAX`] either way.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Drift(pub f64);

impl<'de> Deserialize<'de> for Drift {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ppm = f64::deserialize(deserializer)?;
        if !(ppm.is_finite() && ppm.abs() <= DRIFT_PPM_MAX) {
            return Err(de::Error::custom(format!(
                "expected a drift between -{DRIFT_PPM_MAX} and {DRIFT_PPM_MAX} ppm, found {ppm}"
            )));
        }
        Ok(Drift(ppm))
    }
}

/// A latency distribution as written.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(try_from = "LatencyRaw", into = "LatencyRaw")]
pub struct LatencySpec(pub Latency);

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
enum LatencyRaw {
    Constant(Dur),
    Uniform {
        min: Dur,
        max: Dur,
    },
    Normal {
        mean: Dur,
        stddev: Dur,
    },
    LogNormal {
        median: Dur,
        sigma: f64,
    },
    Exponential {
        mean: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<Dur>,
    },
    Pareto {
        min: Dur,
        shape: f64,
    },
    Mixture(Vec<(f64, LatencySpec)>),
    Shifted {
        by: Dur,
        latency: Box<LatencySpec>,
    },
}

impl TryFrom<LatencyRaw> for LatencySpec {
    type Error = String;
    fn try_from(raw: LatencyRaw) -> Result<Self, String> {
        let latency = match raw {
            LatencyRaw::Constant(d) => Latency::Constant(d.0),
            LatencyRaw::Uniform { min, max } => Latency::Uniform {
                min: min.0,
                max: max.0,
            },
            LatencyRaw::Normal { mean, stddev } => Latency::Normal {
                mean: mean.0,
                stddev: stddev.0,
            },
            LatencyRaw::LogNormal { median, sigma } => Latency::LogNormal {
                median: median.0,
                sigma,
            },
            LatencyRaw::Exponential { mean, min } => Latency::Exponential {
                min: min.map_or(SimDuration::ZERO, |d| d.0),
                mean: mean.0,
            },
            LatencyRaw::Pareto { min, shape } => Latency::Pareto { min: min.0, shape },
            LatencyRaw::Mixture(components) => Latency::Mixture(Mixture::new(
                components.into_iter().map(|(w, c)| (w, c.0)).collect(),
            )?),
            LatencyRaw::Shifted { by, latency } => Latency::Shifted {
                by: by.0,
                latency: Box::new(latency.0),
            },
        };
        latency.validate()?;
        Ok(LatencySpec(latency))
    }
}

impl From<LatencySpec> for LatencyRaw {
    fn from(spec: LatencySpec) -> LatencyRaw {
        match spec.0 {
            Latency::Constant(d) => LatencyRaw::Constant(Dur(d)),
            Latency::Uniform { min, max } => LatencyRaw::Uniform {
                min: Dur(min),
                max: Dur(max),
            },
            Latency::Normal { mean, stddev } => LatencyRaw::Normal {
                mean: Dur(mean),
                stddev: Dur(stddev),
            },
            Latency::LogNormal { median, sigma } => LatencyRaw::LogNormal {
                median: Dur(median),
                sigma,
            },
            Latency::Exponential { min, mean } => LatencyRaw::Exponential {
                mean: Dur(mean),
                min: (min != SimDuration::ZERO).then_some(Dur(min)),
            },
            Latency::Pareto { min, shape } => LatencyRaw::Pareto {
                min: Dur(min),
                shape,
            },
            Latency::Mixture(mixture) => LatencyRaw::Mixture(
                mixture
                    .components()
                    .iter()
                    .map(|(w, c)| (*w, LatencySpec(c.clone())))
                    .collect(),
            ),
            Latency::Shifted { by, latency } => LatencyRaw::Shifted {
                by: Dur(by),
                latency: Box::new(LatencySpec(*latency)),
            },
        }
    }
}

impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec(Latency::Constant(SimDuration::from_millis(1)))
    }
}

/// `network: (latency: ..., drop: 0.01, links: [...])`.
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Default latency of every link.
    #[serde(default)]
    pub latency: LatencySpec,
    /// Latency of every link by message class, over `latency`.
    #[serde(
        default,
        deserialize_with = "check_class_latency",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub class_latency: BTreeMap<ClassName, LatencySpec>,
    /// Default loss probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<Prob>,
    /// Default duplication probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Prob>,
    /// Default ordering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliverySpec>,
    /// Per-link overrides.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// Latency between clients and nodes (clients are never partitioned).
    #[serde(default)]
    pub client_latency: LatencySpec,
}

/// A message class the protocol names (`"write"`); in pass 2, one of
/// [`Protocol::message_classes`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClassName(pub String);

serialize_as!(ClassName, |c| &c.0);

impl<'de> Deserialize<'de> for ClassName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if let Some(Some((protocol, known))) = with_context(|c| c.message_classes) {
            if known.is_empty() {
                return Err(de::Error::custom(format!(
                    "unknown message class \"{name}\": {protocol} names no message classes, so it takes no class_latency"
                )));
            }
            if !known.contains(&name.as_str()) {
                return Err(de::Error::custom(format!(
                    "unknown message class \"{name}\" for {protocol}, expected one of: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(ClassName(name))
    }
}

/// Reads a `class_latency` map, refusing a class listed twice (a map would silently keep the
/// last entry).
fn check_class_latency<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<ClassName, LatencySpec>, D::Error> {
    deserializer.deserialize_map(UniqueKeys {
        expecting: "a map from message class to latency such as { \"write\": Constant(\"2ms\") }",
        duplicate: |class: &ClassName| {
            format!(
                "message class \"{}\" is listed twice in `class_latency`; give each class one entry",
                class.0
            )
        },
        entries: PhantomData,
    })
}

/// A map whose keys must be distinct: RON (like serde's maps) would silently keep the last of
/// two entries for one key, and a scenario's author meant one of them.
struct UniqueKeys<K, V> {
    expecting: &'static str,
    duplicate: fn(&K) -> String,
    entries: PhantomData<V>,
}

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for UniqueKeys<K, V> {
    type Value = BTreeMap<K, V>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some(key) = map.next_key::<K>()? {
            if entries.contains_key(&key) {
                return Err(de::Error::custom((self.duplicate)(&key)));
            }
            entries.insert(key, map.next_value::<V>()?);
        }
        Ok(entries)
    }
}

/// FIFO or reordering delivery.
#[derive(Deserialize, Serialize, Debug, Clone, Copy)]
pub enum DeliverySpec {
    /// In send order (TCP).
    Fifo,
    /// Each message on its own (UDP).
    Reorder,
}

/// One per-link override.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The sending node.
    pub from: NodeName,
    /// The receiving node.
    pub to: NodeName,
    /// Apply to the reverse direction too.
    #[serde(default)]
    pub both_ways: bool,
    /// Latency of this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySpec>,
    /// Latency of this link by message class, over everything else.
    #[serde(
        default,
        deserialize_with = "check_class_latency",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub class_latency: BTreeMap<ClassName, LatencySpec>,
    /// Loss probability of this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<Prob>,
    /// Duplication probability of this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Prob>,
    /// Ordering of this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliverySpec>,
}

/// `storage: (sync_latency: "2ms", lose_unsynced_on_crash: true)`.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// How long a sync takes.
    #[serde(default = "zero_dur")]
    pub sync_latency: Dur,
    /// Whether a crash loses unsynced writes.
    #[serde(default = "yes")]
    pub lose_unsynced_on_crash: bool,
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec {
            sync_latency: zero_dur(),
            lose_unsynced_on_crash: true,
        }
    }
}

fn zero_dur() -> Dur {
    Dur(SimDuration::ZERO)
}

fn yes() -> bool {
    true
}

/// One pinned fault: `At("2s", Crash("n1"))`.
#[derive(Deserialize, Serialize, Debug, Clone)]
pub enum FaultSpec {
    /// A fault at a time.
    At(FaultTime, FaultKindSpec),
}

/// What a pinned fault does.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(try_from = "FaultRaw", into = "FaultRaw")]
pub struct FaultKindSpec(pub FaultRaw);

impl From<FaultKindSpec> for FaultRaw {
    fn from(spec: FaultKindSpec) -> FaultRaw {
        spec.0
    }
}

/// The fault kinds as written; see docs/scenarios.md.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub enum FaultRaw {
    /// A clean split into groups; unlisted nodes form one more group.
    Partition(Vec<Vec<NodeName>>),
    /// `from` cannot reach `to`; `to` still reaches `from`.
    OneWay {
        /// Senders whose messages are blocked.
        from: Vec<NodeName>,
        /// Receivers that stop hearing them.
        to: Vec<NodeName>,
    },
    /// `left` and `right` cannot talk, but both talk to `via`.
    Bridge {
        /// One side.
        left: Vec<NodeName>,
        /// The other side.
        right: Vec<NodeName>,
        /// The node both sides still reach.
        via: NodeName,
    },
    /// Cut one node off both ways.
    Isolate(NodeName),
    /// One directed link down.
    LinkDown {
        /// Sender.
        from: NodeName,
        /// Receiver.
        to: NodeName,
    },
    /// Heal every cut.
    Heal,
    /// Crash a node.
    Crash(NodeName),
    /// Restart a crashed node.
    Restart(NodeName),
    /// Stop-the-world pause.
    Pause {
        /// The node.
        node: NodeName,
        /// How long.
        #[serde(rename = "for")]
        duration: Dur,
    },
    /// Jump a wall clock.
    ClockStep {
        /// The node.
        node: NodeName,
        /// How far (negative: back).
        by: SignedDur,
    },
    /// Correct a wall clock gradually.
    ClockSlew {
        /// The node.
        node: NodeName,
        /// The total correction.
        by: SignedDur,
        /// Rate in ppm of true time (default 500, ntpd's maximum).
        #[serde(default = "default_slew_rate")]
        rate_ppm: u32,
    },
    /// Block these directed links until `HealCut(id)` (or `Heal`); what `shrink` writes for
    /// the random nemesis's network faults.
    Cut {
        /// A number naming this cut, for `HealCut`.
        id: u64,
        /// What kind of fault it models, for reports.
        kind: CutKind,
        /// The blocked (from, to) links.
        links: Vec<(NodeName, NodeName)>,
    },
    /// Heal the cut with this id only.
    HealCut(u64),
}

/// Ids of explicit `Cut`s live apart from the ids the engine gives pinned and random cuts.
const EXPLICIT_CUT_ID_BASE: u64 = 1 << 60;

fn default_slew_rate() -> u32 {
    500
}

impl TryFrom<FaultRaw> for FaultKindSpec {
    type Error = String;
    fn try_from(raw: FaultRaw) -> Result<Self, String> {
        match &raw {
            FaultRaw::Partition(groups) => {
                let mut seen = Vec::new();
                for node in groups.iter().flatten() {
                    if seen.contains(node) {
                        return Err(format!(
                            "node {} appears in two groups of the partition; each node belongs to at most one group",
                            node.0
                        ));
                    }
                    seen.push(*node);
                }
                if groups.iter().any(|g| g.is_empty()) {
                    return Err(
                        "a partition group is empty; list at least one node per group".into(),
                    );
                }
            }
            FaultRaw::OneWay { from, to } if from.is_empty() || to.is_empty() => {
                return Err("a one-way cut needs at least one node in `from` and in `to`".into());
            }
            FaultRaw::LinkDown { from, to } if from == to => {
                return Err(format!("a link from {} to itself cannot be cut", from.0));
            }
            FaultRaw::ClockSlew { rate_ppm: 0, .. } => {
                return Err(
                    "a slew rate of 0 ppm never corrects anything; expected rate_ppm > 0".into(),
                );
            }
            _ => {}
        }
        Ok(FaultKindSpec(raw))
    }
}

/// `nemesis: Some((partitions_per_min: 2, pauses_per_min: 1))`.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    /// Clean partitions isolating a random minority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions_per_min: Option<PerMinute>,
    /// One-way cuts between two random sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_way_per_min: Option<PerMinute>,
    /// Flapping links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaps_per_min: Option<PerMinute>,
    /// Crashes (each restarted after the fault duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crashes_per_min: Option<PerMinute>,
    /// GC pauses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauses_per_min: Option<PerMinute>,
    /// Wall-clock steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_steps_per_min: Option<PerMinute>,
    /// Shortest fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_duration_min: Option<Dur>,
    /// Longest fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_duration_max: Option<Dur>,
    /// Largest clock step either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_step_max: Option<Dur>,
    /// How long a flapping link stays up or down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flap_period: Option<PositiveDur>,
}

/// `workload: (clients: 3, keys: 5, writes: 0.5, rate_per_s: 100, timeout: "500ms")`.
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Number of clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u32>,
    /// Number of keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u32>,
    /// Key popularity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_distribution: Option<KeyDistributionSpec>,
    /// Share of puts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<Prob>,
    /// Share of compare-and-sets (protocols that support them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cas: Option<Prob>,
    /// Closed or open loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeSpec>,
    /// Operations per second per client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// Client timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    /// Where clients send operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
    /// Stop each client after this many operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_client_max: Option<u64>,
    /// How long after the start of the run clients begin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<Dur>,
    /// Redirects followed per operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirects_max: Option<u32>,
    /// Open loop: most operations in flight per client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outstanding_max: Option<u32>,
}

/// Key popularity as written.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub enum KeyDistributionSpec {
    /// Every key equally likely.
    Uniform,
    /// Zipf with the given exponent.
    Zipf {
        /// Skew; 1.0 is classic Zipf.
        exponent: f64,
    },
}

/// Closed or open loop as written.
#[derive(Deserialize, Serialize, Debug, Clone, Copy)]
pub enum ModeSpec {
    /// One operation at a time per client.
    Closed,
    /// Poisson arrivals regardless of completions.
    Open,
}

/// Target node policy as written.
#[derive(Deserialize, Serialize, Debug, Clone, Copy)]
pub enum TargetSpec {
    /// A random node per operation.
    Random,
    /// Client i always talks to node i mod n.
    Sticky,
    /// Follow redirects to the leader.
    Leader,
}

/// `settle_options: (check_every: "10ms", restart_crashed: true)`.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SettleOptions {
    /// How often replicas are compared during settle.
    #[serde(default = "default_check_every")]
    pub check_every: PositiveDur,
    /// Whether crashed nodes restart when settle begins.
    #[serde(default = "yes")]
    pub restart_crashed: bool,
}

impl Default for SettleOptions {
    fn default() -> Self {
        SettleOptions {
            check_every: default_check_every(),
            restart_crashed: true,
        }
    }
}

fn default_check_every() -> PositiveDur {
    PositiveDur(SimDuration::from_millis(10))
}

/// `limits: (events_max: 10000000, trace_window_events: 4096)`.
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Stop after this many events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_max: Option<u64>,
    /// Recent events kept for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_window_events: Option<usize>,
}

// ----- loading ------------------------------------------------------------------------------

/// A validated scenario for protocol `P`: what the file said, ready to become engine configs.
pub struct Scenario<P: Protocol> {
    /// The file it came from.
    pub file: String,
    /// The scenario's name.
    pub name: String,
    /// The seed written in the file, if any.
    pub seed: Option<u64>,
    /// The checks to run after the run.
    pub checks: Vec<CheckName>,
    /// Whether the scenario has a settle phase.
    pub has_settle: bool,
    parsed: ScenarioFile<P::Config>,
}

/// Reads just enough of a scenario to learn which protocol it runs, checking the rest of the
/// file's structure (everything but the protocol's own options) on the way.
pub fn read_protocol_name(
    file: &str,
    text: &str,
    known: &[&'static str],
) -> Result<String, ScenarioError> {
    let context = ParseContext {
        node_count: None,
        duration: None,
        protocol_names: known.to_vec(),
        supports_cas: true,
        has_settle: None,
        validate_protocol: None,
        message_classes: None,
    };
    let head: ScenarioFile<AnyOptions> = parse_with_context(file, text, context)?;
    Ok(head.protocol.name)
}

/// Reads and validates a scenario for protocol `P`.
pub fn load<P: Protocol>(file: &str, text: &str) -> Result<Scenario<P>, ScenarioError> {
    let head: ScenarioFile<AnyOptions> = parse_with_context(
        file,
        text,
        ParseContext {
            node_count: None,
            duration: None,
            protocol_names: vec![P::NAME],
            supports_cas: true,
            has_settle: None,
            validate_protocol: None,
            message_classes: None,
        },
    )?;
    let node_count = head.nodes.0;
    let context = ParseContext {
        node_count: Some(node_count),
        duration: Some(head.duration.0),
        protocol_names: vec![P::NAME],
        supports_cas: P::SUPPORTS_CAS,
        has_settle: Some(head.settle.is_some()),
        validate_protocol: Some(Box::new(move |config: &dyn Any| {
            let config = config
                .downcast_ref::<P::Config>()
                .expect("the section was read as this protocol's options");
            P::validate_config(config, node_count)
        })),
        message_classes: Some((P::NAME, P::message_classes())),
    };
    let parsed: ScenarioFile<P::Config> = parse_with_context(file, text, context)?;
    Ok(Scenario {
        file: file.to_string(),
        name: parsed.name.clone(),
        seed: parsed.seed,
        checks: match &parsed.checks {
            Some(checks) => checks.0.clone(),
            None if parsed.settle.is_some() => vec![CheckName::Convergence, CheckName::LostWrites],
            None => vec![CheckName::LostWrites],
        },
        has_settle: parsed.settle.is_some(),
        parsed,
    })
}

fn check_workload<'de, D: Deserializer<'de>>(deserializer: D) -> Result<WorkloadSpec, D::Error> {
    let workload = WorkloadSpec::deserialize(deserializer)?;
    validate_workload(&workload)
        .map_err(|message| de::Error::custom(format!("workload: {message}")))?;
    Ok(workload)
}

fn validate_workload(workload: &WorkloadSpec) -> Result<(), String> {
    let writes = workload.writes.map_or(0.5, |p| p.0);
    let cas = workload.cas.map_or(0.0, |p| p.0);
    if writes + cas > 1.0 + 1e-9 {
        return Err(format!(
            "writes ({writes}) + cas ({cas}) add up to more than 1; the rest of the operations are reads"
        ));
    }
    if cas > 0.0 && with_context(|c| c.supports_cas) == Some(false) {
        return Err(format!(
            "cas is {cas}, but this protocol does not support compare-and-set; expected cas: 0.0"
        ));
    }
    if let Some(rate) = workload.rate_per_s {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!("rate_per_s must be a number > 0, found {rate}"));
        }
    }
    if let Some(clients) = workload.clients.filter(|c| *c > CLIENTS_MAX) {
        return Err(format!("at most {CLIENTS_MAX} clients, found {clients}"));
    }
    if workload.keys == Some(0) {
        return Err("keys must be at least 1".into());
    }
    if let Some(KeyDistributionSpec::Zipf { exponent }) = &workload.key_distribution {
        if !(exponent.is_finite() && *exponent >= 0.0) {
            return Err(format!(
                "the Zipf exponent must be a number >= 0, found {exponent}"
            ));
        }
    }
    if workload.timeout.is_some_and(|t| t.0 == SimDuration::ZERO) {
        return Err("timeout must be longer than 0s".into());
    }
    if let (Some(start), Some(Some(duration))) =
        (workload.start_after, with_context(|c| c.duration))
    {
        if start.0 >= duration {
            return Err(format!(
                "start_after ({}) must be before the end of the fault phase (duration {duration}): clients issue operations only then",
                start.0
            ));
        }
    }
    Ok(())
}

fn check_nemesis<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NemesisSpec>, D::Error> {
    let nemesis = Option::<NemesisSpec>::deserialize(deserializer)?;
    if let Some(spec) = &nemesis {
        let config = nemesis_config(spec);
        if config.duration_min > config.duration_max {
            return Err(de::Error::custom(format!(
                "nemesis: fault_duration_min ({}) is longer than fault_duration_max ({})",
                config.duration_min, config.duration_max
            )));
        }
    }
    Ok(nemesis)
}

/// Reads `clocks`, refusing a node listed twice (a map would silently keep the last entry).
fn check_clocks<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<NodeName, ClockSpec>, D::Error> {
    deserializer.deserialize_map(UniqueKeys {
        expecting: "a map from node to clock such as { \"n2\": (offset: \"-50ms\") }",
        duplicate: |node: &NodeName| {
            format!(
                "node {} is listed twice in `clocks`; give each node one entry",
                node.0
            )
        },
        entries: PhantomData,
    })
}

/// The list of checks; Convergence needs a settle phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checks(pub Vec<CheckName>);

impl<'de> Deserialize<'de> for Checks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Checked element by element, so that the error points at `Convergence` itself.
        struct ChecksVisitor;
        impl<'de> Visitor<'de> for ChecksVisitor {
            type Value = Checks;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of checks such as [Convergence, LostWrites]")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checks, A::Error> {
                let mut checks = Vec::new();
                while let Some(CheckEntry(check)) = seq.next_element()? {
                    checks.push(check);
                }
                Ok(Checks(checks))
            }
        }
        deserializer.deserialize_seq(ChecksVisitor)
    }
}

/// One entry of `checks`, checked as it is read (before RON moves past it).
struct CheckEntry(CheckName);

impl<'de> Deserialize<'de> for CheckEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let check = CheckName::deserialize(deserializer)?;
        if check == CheckName::Convergence && with_context(|c| c.has_settle) == Some(Some(false)) {
            return Err(de::Error::custom(
                "Convergence needs a settle phase (add settle: Some(\"5s\")): without one, replicas would be compared mid-flight",
            ));
        }
        Ok(CheckEntry(check))
    }
}

/// A duration longer than zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositiveDur(pub SimDuration);

impl<'de> Deserialize<'de> for PositiveDur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Dur(duration) = Dur::deserialize(deserializer)?;
        if duration == SimDuration::ZERO {
            return Err(de::Error::custom("expected a duration longer than 0s"));
        }
        Ok(PositiveDur(duration))
    }
}

/// A change to a scenario, as the shrinker makes them.
#[derive(Clone, Debug, Default)]
pub struct ScenarioEdit {
    /// Keep only the pinned faults at these positions (in order); None keeps all.
    pub keep_faults: Option<Vec<usize>>,
    /// A new client count.
    pub clients: Option<u32>,
    /// A new per-client operation limit.
    pub ops_per_client_max: Option<u64>,
    /// A new fault-phase length; faults at or after it are dropped.
    pub duration: Option<SimDuration>,
    /// Pin this seed in the file.
    pub seed: Option<u64>,
    /// Move every pinned fault, and the clients' start, to `time * numerator / denominator`
    /// (earlier, when < 1).
    pub time_scale: Option<(u64, u64)>,
    /// A new key count.
    pub keys: Option<u32>,
    /// A new time for clients to begin.
    pub start_after: Option<SimDuration>,
    /// Multiply each client's operation rate by `numerator / denominator` (slower, when < 1).
    pub rate_scale: Option<(u64, u64)>,
    /// A new operation mix: the share of puts and of compare-and-sets (the rest are reads).
    pub mix: Option<OperationMix>,
}

/// The shares of puts and compare-and-sets in a workload, as [`ScenarioEdit::mix`] sets them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OperationMix {
    /// Share of puts, in [0, 1].
    pub writes: f64,
    /// Share of compare-and-sets, in [0, 1 - writes].
    pub cas: f64,
}

impl<P: Protocol> Scenario<P> {
    /// The scenario as RON that reads back to the same runs.
    pub fn to_ron(&self) -> String {
        self.parsed
            .to_ron()
            .expect("a scenario that was read can be written")
    }

    /// The same runs of `seed` with the random nemesis replaced by the explicit faults it
    /// draws for that seed, appended to the pinned ones: what a shrinker edits.
    pub fn with_explicit_faults(&self, seed: u64) -> Result<Scenario<P>, ScenarioError> {
        let mut parsed = self.parsed.clone();
        if let Some(nemesis) = parsed.nemesis.take() {
            let end = SimTime::ZERO + parsed.duration.0;
            let drawn = nemesis_config(&nemesis).materialize(seed, parsed.nodes.0, end);
            parsed.faults.extend(drawn.iter().map(explicit_fault));
            // The engine orders faults by time, pinned first at equal times; a stable sort of
            // pinned-then-drawn keeps exactly that order.
            parsed.faults.sort_by_key(|FaultSpec::At(at, _)| at.0);
        }
        parsed.seed = Some(seed);
        self.reread(&parsed)
    }

    /// The scenario with `edit` applied, validated as if read from a file.
    pub fn edited(&self, edit: &ScenarioEdit) -> Result<Scenario<P>, ScenarioError> {
        let mut parsed = self.parsed.clone();
        if let Some(keep) = &edit.keep_faults {
            parsed.faults = keep.iter().map(|i| parsed.faults[*i].clone()).collect();
        }
        if let Some(clients) = edit.clients {
            parsed.workload.clients = Some(clients);
        }
        if let Some(limit) = edit.ops_per_client_max {
            parsed.workload.ops_per_client_max = Some(limit);
        }
        if let Some(duration) = edit.duration {
            parsed.duration = PositiveDur(duration);
            parsed.faults.retain(|FaultSpec::At(at, _)| at.0 < duration);
        }
        if let Some(seed) = edit.seed {
            parsed.seed = Some(seed);
        }
        if let Some((numerator, denominator)) = edit.time_scale {
            let scale = |time: SimDuration| {
                let scaled =
                    time.as_nanos() as u128 * numerator as u128 / denominator.max(1) as u128;
                SimDuration(scaled.min(u64::MAX as u128) as u64)
            };
            for FaultSpec::At(at, _) in &mut parsed.faults {
                at.0 = scale(at.0);
            }
            if let Some(start) = &mut parsed.workload.start_after {
                start.0 = scale(start.0);
            }
        }
        if let Some(keys) = edit.keys {
            parsed.workload.keys = Some(keys);
        }
        if let Some(start) = edit.start_after {
            parsed.workload.start_after = Some(Dur(start));
        }
        if let Some(mix) = edit.mix {
            parsed.workload.writes = Some(Prob(mix.writes));
            parsed.workload.cas =
                (mix.cas > 0.0 || parsed.workload.cas.is_some()).then_some(Prob(mix.cas));
        }
        if let Some((numerator, denominator)) = edit.rate_scale {
            let rate = parsed.workload.rate_per_s.unwrap_or(DEFAULT_RATE_PER_S);
            parsed.workload.rate_per_s = Some(rate * numerator as f64 / denominator.max(1) as f64);
        }
        self.reread(&parsed)
    }

    fn reread(&self, parsed: &ScenarioFile<P::Config>) -> Result<Scenario<P>, ScenarioError> {
        let text = parsed.to_ron().map_err(|message| ScenarioError {
            file: self.file.clone(),
            line: 0,
            column: 0,
            message,
        })?;
        load::<P>(&self.file, &text)
    }

    /// The pinned faults (after [`Scenario::with_explicit_faults`], all of them).
    pub fn fault_count(&self) -> usize {
        self.parsed.faults.len()
    }

    /// Whether the scenario draws random faults.
    pub fn has_nemesis(&self) -> bool {
        self.parsed.nemesis.is_some()
    }

    /// The client count.
    pub fn clients(&self) -> u32 {
        self.parsed
            .workload
            .clients
            .unwrap_or(WorkloadConfig::default().clients)
    }

    /// The key count.
    pub fn keys(&self) -> u32 {
        self.parsed
            .workload
            .keys
            .unwrap_or(WorkloadConfig::default().keys)
    }

    /// The share of puts and of compare-and-sets.
    pub fn operation_mix(&self) -> OperationMix {
        let workload = &self.parsed.workload;
        OperationMix {
            writes: workload.writes.map_or(0.5, |p| p.0),
            cas: workload.cas.map_or(0.0, |p| p.0),
        }
    }

    /// How long after the start of the run clients begin.
    pub fn clients_start_after(&self) -> SimDuration {
        self.parsed
            .workload
            .start_after
            .map_or(SimDuration::ZERO, |d| d.0)
    }

    /// The drift budgets the scenario declares (all None when it declares none).
    pub fn budgets(&self) -> Budgets {
        self.parsed
            .budgets
            .as_ref()
            .map_or(Budgets::default(), |spec| Budgets {
                keys_diverged_max: spec.keys_diverged_max,
                convergence_after_heal_ns_max: spec.convergence_after_heal_max.map(|d| d.0 .0),
                stale_read_rate_max: spec.stale_read_rate_max.map(|p| p.0),
                lost_writes_max: spec.lost_writes_max,
            })
    }

    /// The protocol's options as read.
    pub fn protocol_config(&self) -> &P::Config {
        &self.parsed.protocol.config
    }

    /// The node count.
    pub fn node_count(&self) -> u32 {
        self.parsed.nodes.0
    }

    /// Length of the fault phase.
    pub fn duration(&self) -> SimDuration {
        self.parsed.duration.0
    }

    /// Number of pinned faults.
    pub fn pinned_fault_count(&self) -> usize {
        self.parsed.faults.len()
    }

    /// The engine configuration for one run with `seed`.
    pub fn sim_config(&self, seed: u64) -> SimConfig<P> {
        let parsed = &self.parsed;
        let n = parsed.nodes.0;
        let clocks = (0..n)
            .map(|i| match parsed.clocks.get(&NodeName(NodeId(i))) {
                Some(spec) => NodeClock::with_drift_ppb(
                    spec.offset.map_or(SignedDuration(0), |o| o.0),
                    (spec.drift_ppm.0 * 1_000.0).round() as i64,
                )
                .with_timer_slack(spec.timer_slack.map_or(SimDuration::ZERO, |s| s.0)),
                None => NodeClock::perfect(),
            })
            .collect();
        let end = SimTime::ZERO + parsed.duration.0;
        let mut schedule = self.pinned_schedule();
        if let Some(nemesis) = &parsed.nemesis {
            schedule.extend(nemesis_config(nemesis).materialize(seed, n, end));
        }
        // Stable: pinned faults come before random ones at the same instant.
        schedule.sort_by_key(|fault| fault.at);
        SimConfig {
            seed,
            node_count: n,
            protocol: parsed.protocol.config.clone(),
            clocks,
            links: self.links(),
            storage: StorageConfig {
                sync_latency: parsed.storage.sync_latency.0,
                lose_unsynced_on_crash: parsed.storage.lose_unsynced_on_crash,
            },
            schedule,
            workload: self.workload(),
            duration: parsed.duration.0,
            settle: parsed.settle.map(|d| SettleConfig {
                duration_max: d.0,
                check_every: parsed.settle_options.check_every.0,
                restart_crashed: parsed.settle_options.restart_crashed,
            }),
            limits: Limits {
                events_max: parsed
                    .limits
                    .events_max
                    .unwrap_or(Limits::default().events_max),
                trace_window_events: parsed
                    .limits
                    .trace_window_events
                    .unwrap_or(Limits::default().trace_window_events),
            },
            sample_every: parsed.sample_every.0,
        }
    }

    /// One config per directed link. Latency precedence, most specific first: a link's own
    /// class latency, the link's own latency, the network's class latency, the network's
    /// latency. A link that sets its own `latency` therefore drops the network's class
    /// latencies: an override of a link says what that link is, whatever the message.
    fn links(&self) -> Vec<LinkConfig> {
        let network = &self.parsed.network;
        let n = self.parsed.nodes.0 as usize;
        let classes = |map: &BTreeMap<ClassName, LatencySpec>| {
            map.iter()
                .map(|(class, latency)| (class.0.clone(), latency.0.clone()))
                .collect::<BTreeMap<String, Latency>>()
        };
        let base = LinkConfig {
            latency: network.latency.0.clone(),
            class_latency: BTreeMap::new(),
            drop: network.drop.map_or(Probability::NEVER, Prob::probability),
            duplicate: network
                .duplicate
                .map_or(Probability::NEVER, Prob::probability),
            delivery: delivery(network.delivery),
        };
        let mut links = vec![base; n * n];
        // Per link: its own latency and class latencies, resolved after every entry is read
        // (later entries override the settings they name).
        let mut own: Vec<(Option<Latency>, BTreeMap<String, Latency>)> =
            vec![(None, BTreeMap::new()); n * n];
        for spec in &network.links {
            let mut directions = vec![(spec.from.0, spec.to.0)];
            if spec.both_ways {
                directions.push((spec.to.0, spec.from.0));
            }
            for (from, to) in directions {
                let index = from.index() * n + to.index();
                let link = &mut links[index];
                if let Some(latency) = &spec.latency {
                    own[index].0 = Some(latency.0.clone());
                }
                own[index].1.extend(classes(&spec.class_latency));
                if let Some(drop) = spec.drop {
                    link.drop = drop.probability();
                }
                if let Some(duplicate) = spec.duplicate {
                    link.duplicate = duplicate.probability();
                }
                if spec.delivery.is_some() {
                    link.delivery = delivery(spec.delivery);
                }
            }
        }
        let global_classes = classes(&network.class_latency);
        for (link, (latency, own_classes)) in links.iter_mut().zip(own) {
            match latency {
                Some(latency) => {
                    link.latency = latency;
                    link.class_latency = own_classes;
                }
                None => {
                    link.class_latency = global_classes.clone();
                    link.class_latency.extend(own_classes);
                }
            }
        }
        links
    }

    fn workload(&self) -> WorkloadConfig {
        let spec = &self.parsed.workload;
        let defaults = WorkloadConfig::default();
        let rate = spec.rate_per_s.unwrap_or(DEFAULT_RATE_PER_S);
        WorkloadConfig {
            clients: spec.clients.unwrap_or(defaults.clients),
            keys: spec.keys.unwrap_or(defaults.keys),
            key_distribution: match &spec.key_distribution {
                None | Some(KeyDistributionSpec::Uniform) => KeyDistribution::Uniform,
                Some(KeyDistributionSpec::Zipf { exponent }) => KeyDistribution::Zipf {
                    exponent: *exponent,
                },
            },
            put_ppm: spec.writes.map_or(defaults.put_ppm, Prob::ppm),
            cas_ppm: spec.cas.map_or(0, Prob::ppm),
            mode: match spec.mode {
                None | Some(ModeSpec::Closed) => LoadMode::Closed,
                Some(ModeSpec::Open) => LoadMode::Open,
            },
            interval_mean: SimDuration((1e9 / rate).round().max(1.0) as u64),
            timeout: spec.timeout.map_or(defaults.timeout, |d| d.0),
            target: match spec.target {
                None | Some(TargetSpec::Random) => Target::Random,
                Some(TargetSpec::Sticky) => Target::Sticky,
                Some(TargetSpec::Leader) => Target::Leader,
            },
            ops_per_client_max: spec.ops_per_client_max,
            start_after: spec.start_after.map_or(SimDuration::ZERO, |d| d.0),
            redirects_max: spec.redirects_max.unwrap_or(defaults.redirects_max),
            outstanding_max: spec
                .outstanding_max
                .unwrap_or(defaults.outstanding_max)
                .max(1),
            client_latency: self.parsed.network.client_latency.0.clone(),
        }
    }

    /// The pinned faults as engine actions, in file order.
    fn pinned_schedule(&self) -> Vec<ScheduledFault> {
        let n = self.parsed.nodes.0 as usize;
        let names = |nodes: &[NodeName]| nodes.iter().map(|n| n.0).collect::<Vec<_>>();
        self.parsed
            .faults
            .iter()
            .enumerate()
            .map(|(index, FaultSpec::At(at, FaultKindSpec(raw)))| {
                let id = index as u64 + 1;
                let action = match raw {
                    FaultRaw::Partition(groups) => FaultAction::Cut {
                        id,
                        kind: CutKind::Partition,
                        cut: Cut::split(&groups.iter().map(|g| names(g)).collect::<Vec<_>>(), n),
                    },
                    FaultRaw::OneWay { from, to } => FaultAction::Cut {
                        id,
                        kind: CutKind::OneWay,
                        cut: Cut::one_way(&names(from), &names(to)),
                    },
                    FaultRaw::Bridge { left, right, via } => FaultAction::Cut {
                        id,
                        kind: CutKind::Bridge,
                        cut: Cut::bridge(&names(left), &names(right), via.0),
                    },
                    FaultRaw::Isolate(node) => FaultAction::Cut {
                        id,
                        kind: CutKind::Isolate,
                        cut: Cut::isolate(node.0, n),
                    },
                    FaultRaw::LinkDown { from, to } => FaultAction::Cut {
                        id,
                        kind: CutKind::Link,
                        cut: Cut::one_way(&[from.0], &[to.0]),
                    },
                    FaultRaw::Heal => FaultAction::HealAll,
                    FaultRaw::Crash(node) => FaultAction::Crash(node.0),
                    FaultRaw::Restart(node) => FaultAction::Restart(node.0),
                    FaultRaw::Pause { node, duration } => FaultAction::Pause {
                        node: node.0,
                        duration: duration.0,
                    },
                    FaultRaw::ClockStep { node, by } => FaultAction::ClockStep {
                        node: node.0,
                        by: by.0,
                    },
                    FaultRaw::ClockSlew { node, by, rate_ppm } => FaultAction::ClockSlew {
                        node: node.0,
                        by: by.0,
                        rate_ppm: *rate_ppm,
                    },
                    FaultRaw::Cut { id, kind, links } => FaultAction::Cut {
                        id: EXPLICIT_CUT_ID_BASE + id,
                        kind: *kind,
                        cut: Cut {
                            links: links.iter().map(|(a, b)| (a.0, b.0)).collect(),
                        },
                    },
                    FaultRaw::HealCut(id) => FaultAction::Heal {
                        id: EXPLICIT_CUT_ID_BASE + id,
                    },
                };
                ScheduledFault {
                    at: SimTime::ZERO + at.0,
                    action,
                    origin: FaultOrigin::Pinned { index },
                }
            })
            .collect()
    }
}

/// A drawn fault written the way a scenario pins one.
fn explicit_fault(fault: &ScheduledFault) -> FaultSpec {
    let raw = match &fault.action {
        FaultAction::Cut { id, kind, cut } => FaultRaw::Cut {
            id: *id,
            kind: *kind,
            links: cut
                .links
                .iter()
                .map(|(a, b)| (NodeName(*a), NodeName(*b)))
                .collect(),
        },
        FaultAction::Heal { id } => FaultRaw::HealCut(*id),
        FaultAction::HealAll => FaultRaw::Heal,
        FaultAction::Crash(node) => FaultRaw::Crash(NodeName(*node)),
        FaultAction::Restart(node) => FaultRaw::Restart(NodeName(*node)),
        FaultAction::Pause { node, duration } => FaultRaw::Pause {
            node: NodeName(*node),
            duration: Dur(*duration),
        },
        FaultAction::ClockStep { node, by } => FaultRaw::ClockStep {
            node: NodeName(*node),
            by: SignedDur(*by),
        },
        FaultAction::ClockSlew { node, by, rate_ppm } => FaultRaw::ClockSlew {
            node: NodeName(*node),
            by: SignedDur(*by),
            rate_ppm: *rate_ppm,
        },
    };
    FaultSpec::At(FaultTime(fault.at.since(SimTime::ZERO)), FaultKindSpec(raw))
}

fn delivery(spec: Option<DeliverySpec>) -> Delivery {
    match spec {
        None | Some(DeliverySpec::Fifo) => Delivery::Fifo,
        Some(DeliverySpec::Reorder) => Delivery::Reorder,
    }
}

fn nemesis_config(spec: &NemesisSpec) -> NemesisConfig {
    let defaults = NemesisConfig::default();
    let every = |rate: Option<PerMinute>| rate.and_then(PerMinute::mean_interval);
    NemesisConfig {
        partition_every: every(spec.partitions_per_min),
        one_way_every: every(spec.one_way_per_min),
        flap_every: every(spec.flaps_per_min),
        crash_every: every(spec.crashes_per_min),
        pause_every: every(spec.pauses_per_min),
        clock_step_every: every(spec.clock_steps_per_min),
        duration_min: spec
            .fault_duration_min
            .map_or(defaults.duration_min, |d| d.0),
        duration_max: spec
            .fault_duration_max
            .map_or(defaults.duration_max, |d| d.0),
        clock_step_max: spec.clock_step_max.map_or(defaults.clock_step_max, |d| d.0),
        flap_period: spec.flap_period.map_or(defaults.flap_period, |d| d.0),
    }
}
