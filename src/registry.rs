//! Protocols by name. The CLI consults a [`Registry`]; a user's own binary builds one with its
//! protocol added and hands it to [`crate::cli::main_with`], reusing every subcommand.

use sim_core::engine::{RunOptions, RunResult, Simulation};
use sim_core::protocol::Protocol;
use sim_core::scenario::{self, CheckName, OperationMix, Scenario, ScenarioEdit, ScenarioError};
use sim_core::time::SimDuration;
use sim_core::trace::TraceSink;
use std::marker::PhantomData;

/// A scenario loaded for its protocol, ready to run with any seed; the protocol type is
/// hidden behind this trait once, at the top, so the event loop itself is monomorphized.
pub trait LoadedScenario: Send + Sync {
    /// The scenario's name.
    fn name(&self) -> &str;
    /// The file it came from.
    fn file(&self) -> &str;
    /// The protocol's registry name.
    fn protocol(&self) -> &'static str;
    /// The protocol's options, as text.
    fn protocol_config(&self) -> String;
    /// The seed written in the file, if any.
    fn seed(&self) -> Option<u64>;
    /// The checks the scenario asks for.
    fn checks(&self) -> &[CheckName];
    /// Length of the fault phase.
    fn duration(&self) -> SimDuration;
    /// Runs the scenario once.
    fn run(&self, seed: u64, options: RunOptions, sink: Option<&mut dyn TraceSink>) -> RunResult;
    /// The scenario as RON that reads back to the same runs.
    fn to_ron(&self) -> String;
    /// The same runs of `seed`, with the random nemesis turned into explicit faults.
    fn with_explicit_faults(&self, seed: u64) -> Result<Box<dyn LoadedScenario>, ScenarioError>;
    /// The scenario with an edit applied (re-validated).
    fn edited(&self, edit: &ScenarioEdit) -> Result<Box<dyn LoadedScenario>, ScenarioError>;
    /// Pinned faults in the file.
    fn fault_count(&self) -> usize;
    /// Whether the scenario draws random faults.
    fn has_nemesis(&self) -> bool;
    /// The client count.
    fn clients(&self) -> u32;
    /// Whether the run ends with a settle phase.
    fn has_settle(&self) -> bool;
    /// The key count.
    fn keys(&self) -> u32;
    /// How long after the start of the run clients begin.
    fn clients_start_after(&self) -> SimDuration;
    /// The share of puts and of compare-and-sets.
    fn operation_mix(&self) -> OperationMix;
    /// The drift budgets the scenario declares.
    fn budgets(&self) -> scenario::Budgets {
        scenario::Budgets::default()
    }
}

struct Loaded<P: Protocol>(Scenario<P>);

impl<P: Protocol> LoadedScenario for Loaded<P> {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn file(&self) -> &str {
        &self.0.file
    }
    fn protocol(&self) -> &'static str {
        P::NAME
    }
    fn protocol_config(&self) -> String {
        // RON, as the user would write it; Debug only if the options cannot be written as RON.
        let style = ron::ser::PrettyConfig::new()
            .compact_structs(true)
            .compact_arrays(true)
            .compact_maps(true);
        ron::ser::to_string_pretty(self.0.protocol_config(), style)
            .unwrap_or_else(|_| format!("{:?}", self.0.protocol_config()))
    }
    fn seed(&self) -> Option<u64> {
        self.0.seed
    }
    fn checks(&self) -> &[CheckName] {
        &self.0.checks
    }
    fn duration(&self) -> SimDuration {
        self.0.duration()
    }
    fn run(&self, seed: u64, options: RunOptions, sink: Option<&mut dyn TraceSink>) -> RunResult {
        let simulation = Simulation::<P>::new(self.0.sim_config(seed), options);
        match sink {
            Some(sink) => simulation.with_sink(sink).run(),
            None => simulation.run(),
        }
    }
    fn to_ron(&self) -> String {
        self.0.to_ron()
    }
    fn with_explicit_faults(&self, seed: u64) -> Result<Box<dyn LoadedScenario>, ScenarioError> {
        Ok(Box::new(Loaded(self.0.with_explicit_faults(seed)?)))
    }
    fn edited(&self, edit: &ScenarioEdit) -> Result<Box<dyn LoadedScenario>, ScenarioError> {
        Ok(Box::new(Loaded(self.0.edited(edit)?)))
    }
    fn fault_count(&self) -> usize {
        self.0.fault_count()
    }
    fn has_nemesis(&self) -> bool {
        self.0.has_nemesis()
    }
    fn clients(&self) -> u32 {
        self.0.clients()
    }
    fn has_settle(&self) -> bool {
        self.0.has_settle
    }
    fn keys(&self) -> u32 {
        self.0.keys()
    }
    fn clients_start_after(&self) -> SimDuration {
        self.0.clients_start_after()
    }
    fn operation_mix(&self) -> OperationMix {
        self.0.operation_mix()
    }
    fn budgets(&self) -> scenario::Budgets {
        self.0.budgets()
    }
}

/// One protocol the registry can load scenarios for.
pub trait RegisteredProtocol {
    /// The name scenarios use (matched ignoring case, `-` and `_`).
    fn name(&self) -> &'static str;
    /// One line on what it is.
    fn summary(&self) -> &'static str;
    /// Reads and validates a scenario for this protocol.
    fn load(&self, file: &str, text: &str) -> Result<Box<dyn LoadedScenario>, ScenarioError>;
    /// The names of the invariants the engine checks after every step, with default options.
    fn invariants(&self) -> Vec<&'static str> {
        Vec::new()
    }
}

struct Entry<P>(PhantomData<P>);

impl<P: Protocol> RegisteredProtocol for Entry<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn summary(&self) -> &'static str {
        P::SUMMARY
    }
    fn load(&self, file: &str, text: &str) -> Result<Box<dyn LoadedScenario>, ScenarioError> {
        Ok(Box::new(Loaded(scenario::load::<P>(file, text)?)))
    }
    fn invariants(&self) -> Vec<&'static str> {
        P::invariants(&P::Config::default())
            .iter()
            .map(|invariant| invariant.name())
            .collect()
    }
}

/// The protocols a binary knows.
#[derive(Default)]
pub struct Registry {
    entries: Vec<Box<dyn RegisteredProtocol>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The protocols that ship with faultline.
    pub fn builtin() -> Registry {
        Registry::new()
            .with::<protocols::lww::Lww>()
            .with::<protocols::vclock::Vclock>()
            .with::<protocols::raft::Raft>()
            .with::<protocols::quorum_kv::QuorumKv>()
    }

    /// Adds protocol `P`; a later protocol with the same name replaces an earlier one.
    pub fn with<P: Protocol>(mut self) -> Registry {
        self.entries
            .retain(|entry| !scenario::same_protocol_name(entry.name(), P::NAME));
        self.entries.push(Box::new(Entry::<P>(PhantomData)));
        self
    }

    /// Every registered protocol, in registration order.
    pub fn protocols(&self) -> impl Iterator<Item = &dyn RegisteredProtocol> {
        self.entries.iter().map(|entry| entry.as_ref())
    }

    /// Reads a scenario from text, picking the protocol it names.
    pub fn load_text(
        &self,
        file: &str,
        text: &str,
    ) -> Result<Box<dyn LoadedScenario>, ScenarioError> {
        let names: Vec<&'static str> = self.entries.iter().map(|e| e.name()).collect();
        let name = scenario::read_protocol_name(file, text, &names)?;
        let entry = self
            .entries
            .iter()
            .find(|entry| scenario::same_protocol_name(entry.name(), &name))
            .expect("read_protocol_name accepts only registered names");
        entry.load(file, text)
    }

    /// Reads a scenario file.
    pub fn load_file(&self, path: &str) -> Result<Box<dyn LoadedScenario>, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
            file: path.to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read the scenario: {error}"),
        })?;
        self.load_text(path, &text)
    }
}
