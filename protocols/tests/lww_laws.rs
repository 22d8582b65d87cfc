//! LWW replicas that receive the same updates, in any order, end identical.

use proptest::prelude::*;
use protocols::lww::{Lww, LwwConfig, LwwDisk, LwwMessage, Stamp, Versioned};
use sim_core::ids::{Key, NodeId, Value};
use sim_core::protocol::{Protocol, TestCtx};

fn updates() -> impl Strategy<Value = Vec<(Key, Versioned)>> {
    let update = (0u32..3, 0i64..20, 0u32..3).prop_map(|(key, wall, node)| {
        let stamp = Stamp {
            wall_ns: wall,
            node: NodeId(node),
        };
        // Values are unique per stamp, as in a real run (a stamp names one write).
        let value = Value(wall as u64 * 10 + node as u64);
        (Key(key), Versioned { stamp, value })
    });
    prop::collection::vec(update, 0..30)
}

fn deliver(updates: &[(Key, Versioned)]) -> Vec<(Key, Versioned)> {
    let mut test = TestCtx::<Lww>::new(NodeId(2), 3);
    let mut node = Lww::start(&LwwConfig::default(), &LwwDisk::default(), &mut test.ctx());
    for update in updates {
        node.on_message(
            NodeId(0),
            LwwMessage::Update(vec![*update]),
            &mut test.ctx(),
        );
    }
    node.versions().collect()
}

proptest! {
    #[test]
    fn any_delivery_order_ends_identical(updates in updates(), seed: u64) {
        let mut shuffled = updates.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(deliver(&updates), deliver(&shuffled));
    }
}
