//! Partitions added to an input topic while a job runs, through the map stage's real tasks:
//! no test broker here can grow a topic (tansu 0.6 answers CreatePartitions "unsupported"), so
//! the stage's side of a metadata change is tested from its task factory on. After the group
//! rebalances, the map stage creates a task for the new partition like for any other; the task
//! announces itself to every repartition partition at once (a marker at the lowest watermark),
//! and the reduce stage, which started without it, waits for it from then on and counts its
//! records. What the stage-2 property test (`shuffle_prop`) proves for any interleaving, this
//! shows with the word-count component and the tasks the runtime runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use weir::config::ServeConfig;
use weir::engine::Engine;
use weir::job::task::{Task, TaskFactory};
use weir::job::{JobContext, MapTasks, Repartition};
use weir::kafka::dead_letter::DeadLetterTopic;
use weir::outgoing::Outgoing;
use weir::record::InputRecord;
use weir::shuffle::{Reducer, ShuffleMessage, decode};

/// A word-count job with a 10 s tumbling window and a shuffle over `reduce` partitions, whose
/// input topic `in` had `partitions` partitions when it started.
pub(crate) fn job(partitions: i32, reduce: i32) -> Arc<JobContext> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("weir.toml");
    std::fs::write(
        &path,
        "[[job]]\nname = \"wc\"\nmodule = \"word-count\"\ninput = [\"in\"]\noutput = \"out\"\n\
         window = \"tumbling:10s\"\nout_of_orderness = \"1s\"\n",
    )
    .expect("the config is written");
    let config = ServeConfig::load(Some(&path)).expect("the config loads");
    let engine = Arc::new(Engine::new().expect("an engine"));
    let module = engine
        .load(&weir_guest_artifacts::bytes(weir_guest_artifacts::WORD_COUNT))
        .expect("word count loads");
    Arc::new(JobContext {
        config: config.jobs[0].clone(),
        dead_letters: DeadLetterTopic {
            topic: "dead".into(),
            job: "wc".into(),
            module: module.digest().to_string(),
        },
        engine,
        module,
        repartition: Some(Repartition {
            topic: "wc.repartition".into(),
            partitions: reduce,
        }),
        upstreams: (0..partitions).map(|p| format!("in/{p}")).collect(),
        log: Arc::new(weir::job::guest_log::JobLog::traced("wc", "m", "test/1")),
    })
}

pub(crate) fn line(partition: i32, offset: i64, second: i64, text: &str) -> InputRecord {
    InputRecord {
        key: None,
        value: Some(text.as_bytes().to_vec()),
        timestamp: 1_700_000_000_000 + second * 1000,
        headers: Vec::new(),
        partition,
        offset,
    }
}

/// What a task writes to the repartition topic, as stage 2 reads it from partition `r`.
pub(crate) fn to_partition(out: &[Outgoing], r: i32, log: &mut Vec<InputRecord>) {
    for record in out.iter().filter(|o| o.partition == Some(r)) {
        log.push(InputRecord {
            key: record.key.clone(),
            value: record.value.clone(),
            timestamp: record.timestamp.unwrap_or(0),
            headers: Vec::new(),
            partition: r,
            offset: i64::try_from(log.len()).unwrap_or(0),
        });
    }
}

#[test]
fn a_partition_added_mid_job_announces_itself_and_its_records_are_counted() {
    let context = job(2, 1);
    let tasks = MapTasks(context.clone());
    let mut old: Vec<_> = (0..2)
        .map(|p| tasks.create("in", p, None, 1).expect("a task"))
        .collect();
    let mut log = Vec::new();
    let mut out = Vec::new();
    for (p, task) in (0i32..).zip(old.iter_mut()) {
        task.process(&[line(p, 0, 1, "alpha beta")], &mut out);
        task.tick(&mut out);
        task.before_commit(&mut out);
    }
    // The topic grew: the group hands in/2 to this member, which starts its task.
    let mut added = tasks
        .create("in", 2, None, 1)
        .expect("a task for the new partition");
    added.tick(&mut out);
    to_partition(&out, 0, &mut log);
    out.clear();
    let announced = log
        .iter()
        .filter_map(|r| match decode(r) {
            Ok(ShuffleMessage::Marker {
                upstream: "in/2",
                watermark,
                ..
            }) => Some(watermark),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(
        announced,
        [i64::MIN],
        "before any record, a marker that holds the reduce stage back"
    );

    // The old partitions pass the window; the new one is still in it.
    for (p, task) in (0i32..).zip(old.iter_mut()) {
        task.process(&[line(p, 1, 15, "gamma")], &mut out);
        task.before_commit(&mut out);
    }
    added.process(&[line(2, 0, 2, "alpha alpha")], &mut out);
    added.before_commit(&mut out);
    to_partition(&out, 0, &mut log);
    out.clear();
    let mut reducer = Reducer::new(
        tasks.0.instantiate("reduce").expect("a guest"),
        context.config.window().expect("a windowed job"),
        context.lateness_ms(),
        context.upstreams.iter().cloned(),
    );
    let first = reducer.process(&log, |_, reason| panic!("undecodable: {reason}"));
    assert!(
        first.outputs.is_empty(),
        "in/2 has not passed [0 s, 10 s): {:?}",
        first.outputs
    );
    assert!(first.dead_letters.is_empty());

    // in/2 passes it too: the window fires with every partition's words.
    let from = log.len();
    added.process(&[line(2, 1, 16, "delta")], &mut out);
    added.before_commit(&mut out);
    to_partition(&out, 0, &mut log);
    let fired = reducer.process(&log[from..], |_, reason| panic!("undecodable: {reason}"));
    let counts: BTreeMap<String, u64> = fired
        .outputs
        .iter()
        .filter_map(|o| {
            let result: serde_json::Value = serde_json::from_slice(&o.value).ok()?;
            Some((result["key"].as_str()?.to_string(), result["value"].as_u64()?))
        })
        .collect();
    assert_eq!(fired.outputs.len(), counts.len(), "every result reads");
    assert_eq!(
        counts,
        BTreeMap::from([("alpha".to_string(), 4), ("beta".to_string(), 2)]),
        "alpha: one from each old partition and two from the new one"
    );
}
