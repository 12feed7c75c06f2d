//! [`MeteredGuest`]: a guest whose calls are timed and whose failures are counted by kind, for
//! `weir_guest_call_duration_seconds` and `weir_guest_traps_total`.

use crate::engine::WasmGuest;
use crate::guest::{Guest, GuestError};
use crate::metrics::metrics;
use crate::record::{
    Combined, Emitted, FinishItem, GuestOutput, InputRecord, ModuleKind, Packed, ReduceInput,
};
use prometheus::Histogram;
use std::time::Instant;

/// A [`WasmGuest`] that reports its calls to the metrics.
pub struct MeteredGuest {
    guest: WasmGuest,
    job: String,
    map: Histogram,
    reduce: Histogram,
    finish: Histogram,
}

impl MeteredGuest {
    /// Meters `guest`'s calls under `job`.
    pub fn new(guest: WasmGuest, job: &str) -> Self {
        let calls = &metrics().guest_call_duration;
        MeteredGuest {
            guest,
            job: job.to_string(),
            map: calls.with_label_values(&[job, "map"]),
            reduce: calls.with_label_values(&[job, "reduce"]),
            finish: calls.with_label_values(&[job, "finish"]),
        }
    }

    fn timed<T>(
        &mut self,
        histogram: fn(&Self) -> &Histogram,
        call: impl FnOnce(&mut WasmGuest) -> Result<T, GuestError>,
    ) -> Result<T, GuestError> {
        let started = Instant::now();
        let result = call(&mut self.guest);
        self.observe(histogram(self), started, &result);
        result
    }

    /// Times a call that returned `result`, and counts its failure by kind.
    fn observe<T>(&self, histogram: &Histogram, started: Instant, result: &Result<T, GuestError>) {
        histogram.observe(started.elapsed().as_secs_f64());
        if let Err(GuestError::Failed { kind, .. }) = result {
            metrics()
                .guest_traps
                .with_label_values(&[self.job.as_str(), kind.as_str()])
                .inc();
        }
    }
}

impl Guest for MeteredGuest {
    fn kind(&self) -> ModuleKind {
        self.guest.kind()
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        self.timed(|s| &s.map, |g| g.map_batch(records))
    }

    fn map_combine(&mut self, records: &[InputRecord], pane: i64) -> Option<Result<Combined, GuestError>> {
        let started = Instant::now();
        let result = self.guest.map_combine(records, pane)?;
        self.observe(&self.map, started, &result);
        Some(result)
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        self.timed(|s| &s.reduce, |g| g.reduce_batch(input))
    }

    fn reduce_packed(&mut self, input: &ReduceInput) -> Result<Packed, GuestError> {
        self.timed(|s| &s.reduce, |g| g.reduce_packed(input))
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        self.timed(|s| &s.finish, |g| g.finish_batch(items))
    }
}
