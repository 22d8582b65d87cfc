//! quorum_kv's message classes through the scenario reader: every message has a declared
//! class, and the network's latency precedence (a link's class latency, the link's latency,
//! the network's class latency, the network's latency) resolves as documented.

use protocols::quorum_kv::{QuorumKv, MESSAGE_CLASSES};
use sim_core::network::Latency;
use sim_core::protocol::Protocol;
use sim_core::scenario::load;
use sim_core::time::SimDuration;

fn constant(ms: u64) -> Latency {
    Latency::Constant(SimDuration::from_millis(ms))
}

#[test]
fn the_declared_classes_are_what_scenarios_accept() {
    assert_eq!(QuorumKv::message_classes(), &MESSAGE_CLASSES);
}

#[test]
fn latency_precedence_is_link_class_then_link_then_network_class_then_network() {
    let text = r#"Scenario(
    name: "precedence",
    nodes: 3,
    duration: "1s",
    protocol: QuorumKv(),
    network: (
        latency: Constant("1ms"),
        class_latency: {"write": Constant("2ms"), "read": Constant("3ms")},
        links: [
            (from: "n1", to: "n2", latency: Constant("4ms")),
            (from: "n1", to: "n2", class_latency: {"read": Constant("5ms")}),
            (from: "n2", to: "n3", class_latency: {"write": Constant("6ms")}),
        ],
    ),
)"#;
    let scenario = load::<QuorumKv>("precedence.ron", text).unwrap_or_else(|e| panic!("{e}"));
    let links = scenario.sim_config(1).links;
    let link = |from: usize, to: usize| &links[from * 3 + to];
    // An untouched link: the network's latency and class latencies.
    assert_eq!(link(0, 2).latency, constant(1));
    assert_eq!(link(0, 2).class_latency["write"], constant(2));
    assert_eq!(link(0, 2).class_latency["read"], constant(3));
    // n1 -> n2 sets its own latency: the network's classes no longer apply, its own does.
    assert_eq!(link(0, 1).latency, constant(4));
    assert!(!link(0, 1).class_latency.contains_key("write"));
    assert_eq!(link(0, 1).class_latency["read"], constant(5));
    // n2 -> n3 overrides one class and keeps the network's others.
    assert_eq!(link(1, 2).latency, constant(1));
    assert_eq!(link(1, 2).class_latency["write"], constant(6));
    assert_eq!(link(1, 2).class_latency["read"], constant(3));
    // The file reads back the same.
    let again = load::<QuorumKv>("again.ron", &scenario.to_ron()).unwrap();
    assert_eq!(again.sim_config(1).links, links);
}

#[test]
fn mixtures_and_shifts_read_back_the_same() {
    let text = r#"Scenario(
    name: "mixture",
    nodes: 3,
    duration: "1s",
    protocol: QuorumKv(),
    network: (
        latency: Mixture([(0.9122, Pareto(min: "0.235ms", shape: 10.0)), (0.0878, Exponential(mean: "602.4us"))]),
        class_latency: {"write": Shifted(by: "75ms", latency: Mixture([(0.38, Pareto(min: "1.05ms", shape: 1.51)), (0.62, Exponential(mean: "5.464ms"))]))},
    ),
)"#;
    let scenario = load::<QuorumKv>("mixture.ron", text).unwrap_or_else(|e| panic!("{e}"));
    let written = scenario.to_ron();
    assert!(written.contains("Mixture(["), "{written}");
    let again = load::<QuorumKv>("again.ron", &written).unwrap();
    assert_eq!(again.sim_config(1).links, scenario.sim_config(1).links);
}
