//! [`MapPool`]: worker threads, each with its own instance of a module, that map and combine
//! several batches at once (one per partition of a stage's poll), so a stage's guest work uses
//! every core instead of the stage's one thread.
//!
//! A worker returns a batch's combined map ([`crate::guest::Guest::map_combine`]) or nothing
//! (the call failed, or the module does not combine); the stage's task then maps the batch
//! itself, which is where failing records are isolated and reported. Results do not depend on
//! which worker mapped what.

use crate::record::{Combined, InputRecord};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// One worker's map: records and a pane size in, the combined map out (`None`: not made).
pub type Premapper = Box<dyn FnMut(&[InputRecord], i64) -> Option<Combined> + Send>;

/// Makes a worker's [`Premapper`] on the worker's thread (`None`: the worker maps nothing).
pub type MakePremapper = Arc<dyn Fn() -> Option<Premapper> + Send + Sync>;

struct Job {
    index: usize,
    records: Vec<InputRecord>,
    pane: i64,
}

struct Done {
    index: usize,
    records: Vec<InputRecord>,
    combined: Option<Combined>,
}

/// Worker threads mapping batches in parallel; see [`MapPool::map_all`].
pub struct MapPool {
    workers: Vec<SyncSender<Job>>,
    results: Receiver<Done>,
    /// Kept so that `results` never reports every worker gone while a job is out.
    _results_sender: Sender<Done>,
}

impl MapPool {
    /// Starts `threads` workers (at least one), named `weir-map-{name}-N`.
    pub fn start(threads: usize, name: &str, make: MakePremapper) -> std::io::Result<Self> {
        let (results_sender, results) = mpsc::channel();
        let mut workers = Vec::new();
        for n in 0..threads.max(1) {
            let (to_worker, jobs) = mpsc::sync_channel::<Job>(1);
            let (make, done) = (make.clone(), results_sender.clone());
            std::thread::Builder::new()
                .name(format!("weir-map-{name}-{n}"))
                .spawn(move || work(&make, &jobs, &done))?;
            workers.push(to_worker);
        }
        Ok(MapPool {
            workers,
            results,
            _results_sender: results_sender,
        })
    }

    /// Maps every batch (records, pane size) on the workers at once, and returns each batch
    /// with its combined map, in the order given.
    pub fn map_all(
        &self,
        batches: Vec<(Vec<InputRecord>, i64)>,
    ) -> Vec<(Vec<InputRecord>, Option<Combined>)> {
        let mut out: Vec<Option<(Vec<InputRecord>, Option<Combined>)>> = Vec::with_capacity(batches.len());
        let mut pending = 0;
        for (index, (records, pane)) in batches.into_iter().enumerate() {
            out.push(None);
            let job = Job { index, records, pane };
            match self.workers[index % self.workers.len()].send(job) {
                Ok(()) => pending += 1,
                // A worker that has gone maps nothing: its batch is mapped by the task.
                Err(mpsc::SendError(job)) => out[index] = Some((job.records, None)),
            }
        }
        for _ in 0..pending {
            let Ok(done) = self.results.recv() else { break };
            if let Some(slot) = out.get_mut(done.index) {
                *slot = Some((done.records, done.combined));
            }
        }
        out.into_iter().flatten().collect()
    }
}

/// A worker's loop: its premapper maps each job; one that panics is dropped (the worker then
/// passes batches on unmapped), so every job comes back.
fn work(make: &MakePremapper, jobs: &Receiver<Job>, done: &Sender<Done>) {
    let mut premap = catch_unwind(AssertUnwindSafe(|| make())).ok().flatten();
    for job in jobs {
        let combined = match premap.as_mut() {
            Some(p) => match catch_unwind(AssertUnwindSafe(|| p(&job.records, job.pane))) {
                Ok(combined) => combined,
                Err(_) => {
                    premap = None;
                    None
                }
            },
            None => None,
        };
        let result = Done {
            index: job.index,
            records: job.records,
            combined,
        };
        if done.send(result).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::CombinedPair;

    fn records(n: usize) -> Vec<InputRecord> {
        (0..n)
            .map(|i| InputRecord {
                key: None,
                value: None,
                timestamp: 0,
                headers: Vec::new(),
                partition: 0,
                offset: i64::try_from(i).unwrap_or(0),
            })
            .collect()
    }

    /// A combined map that says how many records and which pane it saw.
    fn counting() -> Option<Premapper> {
        Some(Box::new(|records: &[InputRecord], pane| {
            if pane < 0 {
                panic!("told to panic");
            }
            Some(Combined {
                data: Vec::new(),
                pairs: vec![CombinedPair {
                    first: 0,
                    last: 0,
                    key_len: 0,
                    value_len: 0,
                    count: u32::try_from(records.len()).unwrap_or(0),
                    pane,
                }],
                times: Vec::new(),
            })
        }))
    }

    #[test]
    fn batches_come_back_in_order_each_with_its_own_map() -> std::io::Result<()> {
        let pool = MapPool::start(3, "test", Arc::new(counting))?;
        for _ in 0..3 {
            let batches: Vec<(Vec<InputRecord>, i64)> =
                (1..=7).map(|n| (records(n), n as i64 * 10)).collect();
            let got = pool.map_all(batches);
            let seen: Vec<(usize, Option<(u32, i64)>)> = got
                .iter()
                .map(|(r, c)| (r.len(), c.as_ref().map(|c| (c.pairs[0].count, c.pairs[0].pane))))
                .collect();
            let want: Vec<(usize, Option<(u32, i64)>)> =
                (1..=7).map(|n| (n, Some((n as u32, n as i64 * 10)))).collect();
            assert_eq!(seen, want);
        }
        Ok(())
    }

    #[test]
    fn a_worker_that_panics_hands_its_batches_back_unmapped() -> std::io::Result<()> {
        let pool = MapPool::start(1, "test", Arc::new(counting))?;
        let got = pool.map_all(vec![(records(2), -1), (records(3), 5)]);
        assert_eq!(got.len(), 2);
        assert!(
            got.iter().all(|(_, c)| c.is_none()),
            "the panicking premapper is dropped"
        );
        assert_eq!(got[1].0.len(), 3, "records come back");
        let none = MapPool::start(2, "test", Arc::new(|| None))?;
        assert!(none.map_all(vec![(records(1), 1)])[0].1.is_none());
        Ok(())
    }
}
