//! [`MapAhead`]: other instances of a module map batches on other threads, ahead of the
//! pipeline, so that the guest's largest share of the work (map, and combining its pairs) uses
//! the machine's other cores while the pipeline windows the batch before.
//!
//! Batches come out in the order they went in, each with its combined map when a worker made
//! one ([`Guest::map_combine`]); [`super::Pipeline::process_premapped`] takes the two. A worker
//! whose call failed passes the batch on without a map, and the pipeline maps it itself, which is
//! where records a guest fails on are isolated and reported. The pipeline's results do not depend
//! on which thread mapped what.

use crate::guest::Guest;
use crate::record::{Combined, InputRecord};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

/// Batches in flight per worker: enough to keep each busy, few enough to bound memory.
const DEPTH: usize = 2;

/// A batch, and the combined map a worker made of it (if it could).
pub struct Mapped<P> {
    /// The batch as it went in.
    pub batch: P,
    /// Its combined map, for [`super::Pipeline::process_premapped`].
    pub combined: Option<Combined>,
}

/// Workers mapping batches ahead of the pipeline; read them back in order with
/// [`MapAhead::recv_timeout`].
pub struct MapAhead<P> {
    outputs: Vec<Receiver<Mapped<P>>>,
    next: usize,
}

impl<P: Send + 'static> MapAhead<P> {
    /// Starts `threads` workers (at least one) over `input`, combining each batch's records
    /// (`records(&batch)`) over panes of `pane` ms with a guest that `make` creates on the
    /// worker's thread. A worker whose guest cannot start passes its batches on unmapped.
    pub fn start<G, F>(
        input: Receiver<P>,
        threads: usize,
        pane: i64,
        records: fn(&P) -> &[InputRecord],
        make: F,
    ) -> std::io::Result<Self>
    where
        G: Guest,
        F: Fn() -> Option<G> + Send + Sync + 'static,
    {
        let threads = threads.max(1);
        let make = std::sync::Arc::new(make);
        let mut inputs: Vec<SyncSender<P>> = Vec::with_capacity(threads);
        let mut outputs = Vec::with_capacity(threads);
        for n in 0..threads {
            let (to_worker, from_dispatch) = mpsc::sync_channel::<P>(DEPTH);
            let (to_pipeline, from_worker) = mpsc::sync_channel::<Mapped<P>>(DEPTH);
            let make = make.clone();
            std::thread::Builder::new()
                .name(format!("weir-map-{n}"))
                .spawn(move || {
                    let mut guest = make();
                    for batch in from_dispatch {
                        let combined = guest
                            .as_mut()
                            .and_then(|g| g.map_combine(records(&batch), pane))
                            .and_then(Result::ok);
                        if to_pipeline.send(Mapped { batch, combined }).is_err() {
                            break;
                        }
                    }
                })?;
            inputs.push(to_worker);
            outputs.push(from_worker);
        }
        std::thread::Builder::new()
            .name("weir-map-dispatch".into())
            .spawn(move || {
                // Round robin: batch i goes to worker i % threads, and is read back from it.
                for (i, batch) in input.into_iter().enumerate() {
                    if inputs[i % inputs.len()].send(batch).is_err() {
                        break;
                    }
                }
            })?;
        Ok(MapAhead { outputs, next: 0 })
    }

    /// The next batch in input order, waiting up to `timeout`. `Disconnected` once the input
    /// has ended and every batch has come out.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Mapped<P>, RecvTimeoutError> {
        let mapped = self.outputs[self.next].recv_timeout(timeout)?;
        self.next = (self.next + 1) % self.outputs.len();
        Ok(mapped)
    }
}
