//! Stage 1 of the shuffle says a window is complete as soon as it fires it: the partials of
//! the windows a batch closes are followed, in the same batch's output, by a watermark marker
//! to every repartition partition, so the reduce stage fires them without waiting for the map
//! stage's next commit.

use crate::growth::{job, line, to_partition};
use std::collections::BTreeMap;
use weir::job::MapTasks;
use weir::job::task::{Task, TaskFactory};
use weir::shuffle::{Reducer, ShuffleMessage, decode};

#[test]
fn a_fired_window_is_followed_by_a_marker_before_the_next_commit() {
    let reduce = 2;
    let context = job(1, reduce);
    let tasks = MapTasks(context.clone());
    let mut task = tasks.create("in", 0, None, 1).expect("a task");
    let mut out = Vec::new();
    task.process(&[line(0, 0, 1, "alpha beta alpha")], &mut out);
    task.tick(&mut out);
    task.before_commit(&mut out);
    let mut logs = vec![Vec::new(); reduce as usize];
    for (r, log) in (0..reduce).zip(logs.iter_mut()) {
        to_partition(&out, r, log);
    }
    out.clear();

    // 12 s with 1 s of out-of-orderness: the watermark passes [0 s, 10 s), which fires. No
    // commit follows.
    task.process(&[line(0, 1, 12, "gamma")], &mut out);
    task.tick(&mut out);
    // `line`'s times start at 1,700,000,000,000 ms, a multiple of 10 s: the window ends 10 s on.
    let window_end = 1_700_000_010_000;
    let mut counts = BTreeMap::new();
    for (r, log) in (0..reduce).zip(logs.iter_mut()) {
        let from = log.len();
        to_partition(&out, r, log);
        let written: Vec<_> = log[from..]
            .iter()
            .map(|record| decode(record).expect("a shuffle record"))
            .collect();
        match written.last() {
            Some(ShuffleMessage::Marker { watermark, .. }) => assert!(
                *watermark >= window_end,
                "partition {r}: the marker says {watermark}, before the window's end"
            ),
            other => panic!("partition {r}: the batch that fired ends with {other:?}, not a marker"),
        }
        let mut reducer = Reducer::new(
            tasks.0.instantiate("reduce").expect("a guest"),
            context.config.window().expect("a windowed job"),
            context.lateness_ms(),
            context.upstreams.iter().cloned(),
        );
        let fired = reducer.process(log, |_, reason| panic!("undecodable: {reason}"));
        for output in fired.outputs {
            let result: serde_json::Value = serde_json::from_slice(&output.value).expect("JSON");
            let key = result["key"].as_str().expect("a key").to_string();
            counts.insert(key, result["value"].as_u64().expect("a count"));
        }
    }
    assert_eq!(
        counts,
        BTreeMap::from([("alpha".to_string(), 2), ("beta".to_string(), 1)]),
        "the reduce stage fires the window from what the map stage wrote before its commit"
    );
}
