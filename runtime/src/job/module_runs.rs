//! [`MapCheckpoint`]: the map stage's checkpoint of an input partition, the pipeline's
//! [`Checkpoint`] plus the partition's [`ModuleRun`]s: which module read the partition from
//! which offset on. That is what decides whether a dead letter may be replayed
//! ([`replay_verdict`]) without counting its record twice.
//!
//! When a job's module changes (an update, a rollback), the new module starts on each
//! partition at the checkpoint's commit offset and reads again every record from there: a
//! record a module refused at or after that offset is read again by its successor, and must not
//! be replayed too. A record before it is never read again by the job: replaying it is the only
//! way the new module sees it. A reset ([`super::reset`]) starts the runs afresh at its offset.

use crate::pipeline::Checkpoint;
use serde::{Deserialize, Serialize};

/// Runs kept per partition (the oldest are dropped).
pub const RUNS_KEPT: usize = 20;

/// A module reading a partition from an offset on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRun {
    /// The module's id (sha256).
    pub module: String,
    /// The first offset it read (the commit offset it resumed from).
    pub from: i64,
}

/// The map stage's checkpoint of one input partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapCheckpoint {
    /// Where the pipeline stands.
    #[serde(flatten)]
    pub progress: Checkpoint,
    /// The modules that read the partition, oldest first, the current one last. Empty in
    /// checkpoints written before runs were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<ModuleRun>,
}

impl MapCheckpoint {
    /// A checkpoint that starts the partition afresh at `offset` under `module`: no window
    /// open, no watermark, nothing fired; the next owner reads from `offset` on as if the job
    /// had never read the partition.
    pub fn fresh(offset: i64, module: &str) -> Self {
        MapCheckpoint {
            progress: Checkpoint {
                commit_offset: offset,
                commit_watermark: i64::MIN,
                position: offset,
                watermark: i64::MIN,
            },
            runs: vec![ModuleRun {
                module: module.to_string(),
                from: offset,
            }],
        }
    }

    /// Notes that `module` reads the partition from `from` on, unless it already does.
    pub fn started(runs: &mut Vec<ModuleRun>, module: &str, from: i64) {
        if runs.last().is_some_and(|r| r.module == module) {
            return;
        }
        runs.push(ModuleRun {
            module: module.to_string(),
            from,
        });
        if runs.len() > RUNS_KEPT {
            runs.remove(0);
        }
    }
}

/// Whether a dead letter may be replayed into the job's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Yes: no module of the job will read its record again.
    Replay,
    /// No, and why (for people).
    Skip(String),
}

/// Whether the record at `offset` of a partition, refused by `module`, may be replayed, given
/// the partition's `runs` (the current module last). Deterministic refusals by the module the
/// job still runs are skipped (it would refuse again; update the job first), as are records a
/// later module read again when it took over (they are counted, or refused again, already).
pub fn replay_verdict(runs: &[ModuleRun], module: &str, offset: i64, deterministic: bool) -> Verdict {
    let Some(first) = runs.first() else {
        return Verdict::Replay;
    };
    let writer = runs
        .iter()
        .rposition(|r| r.module == module && r.from <= offset)
        .or_else(|| runs.iter().position(|r| r.module == module));
    let Some(writer) = writer else {
        return if offset >= first.from {
            Verdict::Skip(format!(
                "module {} read it again from offset {} on",
                short(&first.module),
                first.from
            ))
        } else {
            Verdict::Replay
        };
    };
    match runs.get(writer + 1) {
        None if deterministic => Verdict::Skip(format!(
            "the job still runs module {}, which refused it: update the job to a fixed module first",
            short(module)
        )),
        None => Verdict::Replay,
        Some(next) if offset >= next.from => Verdict::Skip(format!(
            "module {} read it again when it took over at offset {}",
            short(&next.module),
            next.from
        )),
        Some(_) => Verdict::Replay,
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(list: &[(&str, i64)]) -> Vec<ModuleRun> {
        list.iter()
            .map(|(m, from)| ModuleRun {
                module: (*m).to_string(),
                from: *from,
            })
            .collect()
    }

    #[test]
    fn a_record_before_the_fixed_module_took_over_is_replayed_and_one_after_is_not() {
        let runs = runs(&[("broken", 0), ("fixed", 100)]);
        assert_eq!(replay_verdict(&runs, "broken", 40, true), Verdict::Replay);
        assert!(matches!(
            replay_verdict(&runs, "broken", 100, true),
            Verdict::Skip(why) if why.contains("took over at offset 100")
        ));
    }

    #[test]
    fn a_refusal_by_the_current_module_waits_for_a_fix() {
        let runs = runs(&[("broken", 0)]);
        assert!(matches!(
            replay_verdict(&runs, "broken", 5, true),
            Verdict::Skip(why) if why.contains("update the job")
        ));
        assert_eq!(
            replay_verdict(&runs, "broken", 5, false),
            Verdict::Replay,
            "a timeout may pass on another try"
        );
    }

    #[test]
    fn the_run_that_refused_it_is_found_after_a_rollback() {
        let runs = runs(&[("a", 0), ("b", 50), ("a", 80), ("c", 200)]);
        // Refused by `a` in its second run (80..200): `c` took over at 200.
        assert_eq!(replay_verdict(&runs, "a", 150, true), Verdict::Replay);
        // Refused by `a` in its first run, then read again by `b` from 50 on.
        assert!(matches!(replay_verdict(&runs, "a", 60, true), Verdict::Skip(_)));
        assert_eq!(replay_verdict(&runs, "a", 10, true), Verdict::Replay);
    }

    #[test]
    fn after_a_reset_the_records_read_again_are_not_replayed() {
        let fresh = MapCheckpoint::fresh(0, "fixed");
        assert!(matches!(
            replay_verdict(&fresh.runs, "broken", 7, true),
            Verdict::Skip(_)
        ));
        let later = MapCheckpoint::fresh(30, "fixed");
        assert_eq!(replay_verdict(&later.runs, "broken", 7, true), Verdict::Replay);
    }

    #[test]
    fn runs_are_noted_once_per_module_change_and_bounded() {
        let mut list = Vec::new();
        MapCheckpoint::started(&mut list, "a", 0);
        MapCheckpoint::started(&mut list, "a", 10);
        assert_eq!(list.len(), 1);
        for i in 0..30 {
            MapCheckpoint::started(&mut list, &format!("m{i}"), i);
        }
        assert_eq!(list.len(), RUNS_KEPT);
        assert_eq!(list.last().map(|r| r.from), Some(29));
    }

    #[test]
    fn a_checkpoint_reads_with_and_without_runs_and_keeps_commit_offset_on_top() {
        let json = br#"{"commit_offset":5,"commit_watermark":1,"position":9,"watermark":3}"#;
        let old: MapCheckpoint = serde_json::from_slice(json).expect("an old checkpoint reads");
        assert!(old.runs.is_empty());
        let fresh = serde_json::to_value(MapCheckpoint::fresh(12, "m")).expect("serializes");
        assert_eq!(fresh["commit_offset"], 12);
        assert_eq!(fresh["runs"][0]["module"], "m");
    }
}
