//! Laws of version vectors and of the vclock merge, by proptest: comparison is a partial
//! order; merge is commutative, associative and idempotent; replicas that receive the same
//! updates in any order end with identical siblings.

use proptest::prelude::*;
use protocols::vclock::{
    compare, join, merge, write, Causality, KeyState, VclockMode, VclockVariant, VersionVector,
};
use sim_core::ids::{NodeId, Value};

fn vv() -> impl Strategy<Value = VersionVector> {
    prop::collection::btree_map((0u32..4).prop_map(NodeId), 0u64..5, 0..4)
}

/// A step of a small replicated history over three replicas of one key.
#[derive(Clone, Debug)]
enum Step {
    /// Replica `at` coordinates a write whose client read replica `context_from` (or nothing).
    Write {
        at: usize,
        context_from: Option<usize>,
    },
    /// Replica `to` merges replica `from`'s state.
    Merge { from: usize, to: usize },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        (0usize..3, prop::option::of(0usize..3))
            .prop_map(|(at, context_from)| Step::Write { at, context_from }),
        (0usize..3, 0usize..3).prop_map(|(from, to)| Step::Merge { from, to }),
    ];
    prop::collection::vec(step, 0..24)
}

/// Plays a history and returns every state it produced (the material for the laws).
fn play(steps: &[Step], mode: VclockMode) -> Vec<KeyState> {
    let mut replicas = vec![KeyState::default(); 3];
    let mut produced = vec![KeyState::default()];
    let mut next_value = 1;
    for step in steps {
        match *step {
            Step::Write { at, context_from } => {
                let context =
                    context_from.map_or_else(VersionVector::new, |r| replicas[r].clock.clone());
                write(
                    &mut replicas[at],
                    NodeId(at as u32),
                    &context,
                    Value(next_value),
                    mode,
                );
                next_value += 1;
            }
            Step::Merge { from, to } => {
                replicas[to] = merge(&replicas[to], &replicas[from], mode, VclockVariant::Correct);
            }
        }
        produced.extend(replicas.iter().cloned());
    }
    produced
}

fn pick(states: &[KeyState], index: usize) -> &KeyState {
    &states[index % states.len()]
}

proptest! {
    #[test]
    fn comparison_is_a_partial_order(a in vv(), b in vv(), c in vv()) {
        prop_assert_eq!(compare(&a, &a), Causality::Equal);
        let ab = compare(&a, &b);
        let ba = compare(&b, &a);
        let flipped = match ab {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            other => other,
        };
        prop_assert_eq!(ba, flipped, "antisymmetry");
        let before_or_equal = |x: &VersionVector, y: &VersionVector| {
            matches!(compare(x, y), Causality::Before | Causality::Equal)
        };
        if before_or_equal(&a, &b) && before_or_equal(&b, &c) {
            prop_assert!(before_or_equal(&a, &c), "transitivity");
        }
        prop_assert!(before_or_equal(&a, &join(&a, &b)) && before_or_equal(&b, &join(&a, &b)));
    }

    #[test]
    fn dvv_merge_is_commutative_associative_and_idempotent(history in steps(), i in 0usize..100, j in 0usize..100, k in 0usize..100) {
        let states = play(&history, VclockMode::Dvv);
        let (a, b, c) = (pick(&states, i), pick(&states, j), pick(&states, k));
        let m = |x: &KeyState, y: &KeyState| merge(x, y, VclockMode::Dvv, VclockVariant::Correct);
        prop_assert_eq!(m(a, b), m(b, a));
        prop_assert_eq!(m(&m(a, b), c), m(a, &m(b, c)));
        prop_assert_eq!(m(a, a), a.clone());
    }

    #[test]
    fn any_delivery_order_gives_identical_siblings(history in steps(), order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>())) {
        let states = play(&history, VclockMode::Dvv);
        let fold = |ordered: &[KeyState]| {
            ordered.iter().fold(KeyState::default(), |acc, s| merge(&acc, s, VclockMode::Dvv, VclockVariant::Correct))
        };
        let mut shuffled = states.clone();
        // A deterministic shuffle driven by the generated number.
        let mut x = order | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(fold(&states), fold(&shuffled));
    }
}
