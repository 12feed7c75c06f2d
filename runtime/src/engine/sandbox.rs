//! The guest's sandbox: the store data every instance runs with.
//!
//! Guests get no ambient capability. WASI is linked so that language runtimes load, but with
//! nothing behind it: no preopened directories (every file operation fails), no sockets (every
//! address is denied, name lookup is off), an empty environment and argument list, a wall clock
//! frozen at the Unix epoch and a monotonic clock frozen at zero, and randomness from a fixed
//! seed (so a module's output depends on its input alone). stdout and stderr are captured (the
//! last 16 KiB of each call) so a panic message reaches the error report; the `log` import
//! goes to the job's log sink (see [`super::guest_log`]), or to the host's tracing,
//! rate-limited.

use super::guest_log::{CallSite, GuestLogSink};
use super::limits::GuestLimits;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// How many bytes of guest stdout/stderr are kept per call.
const CAPTURE_BYTES: usize = 16 << 10;
/// Guest log lines allowed per second per instance; the rest are counted and dropped.
const LOG_LINES_PER_SECOND: u32 = 100;

/// Store data of one guest instance.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) output: CapturedOutput,
    pub(crate) log: LogBudget,
    /// Where the job's guest log lines go; `None`: the host's tracing, under `log`'s budget.
    pub(crate) log_sink: Option<Arc<dyn GuestLogSink>>,
    /// The call running now.
    pub(crate) site: CallSite,
}

impl Sandbox {
    /// A sandbox with nothing granted and these limits.
    pub fn new(limits: &GuestLimits) -> Self {
        let output = CapturedOutput::default();
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(FrozenWallClock)
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(wasmtime_wasi::Deterministic::new(SEED.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(SEED.to_vec()))
            .insecure_random_seed(0x5745_4952)
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        Sandbox {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            output,
            log: LogBudget::default(),
            log_sink: None,
            site: CallSite::default(),
        }
    }
}

/// The fixed bytes behind the guest's "random" numbers.
const SEED: [u8; 16] = *b"weir-fixed-seed!";

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Caps linear memory and remembers that the cap was hit, so the trap can be named.
pub(crate) struct MemoryLimiter {
    limit: usize,
    pub(crate) exceeded: Option<usize>,
}

impl MemoryLimiter {
    fn new(limit: usize) -> Self {
        MemoryLimiter {
            limit,
            exceeded: None,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = Some(desired);
            wasmtime::bail!("linear memory limit exceeded");
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// The tail of what the guest wrote to stdout and stderr during the current call.
#[derive(Clone, Default)]
pub(crate) struct CapturedOutput {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl CapturedOutput {
    fn append(&self, bytes: &[u8]) {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        buf.extend_from_slice(bytes);
        if buf.len() > 2 * CAPTURE_BYTES {
            let cut = buf.len() - CAPTURE_BYTES;
            buf.drain(..cut);
        }
    }

    /// Takes what was captured since the last call, as text.
    pub(crate) fn take(&self) -> String {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        let start = buf.len().saturating_sub(CAPTURE_BYTES);
        let text = String::from_utf8_lossy(&buf[start..]).into_owned();
        buf.clear();
        text
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

/// A per-instance rate limit on guest log lines.
pub(crate) struct LogBudget {
    window_start: Instant,
    used: u32,
    pub(crate) dropped: u64,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            window_start: Instant::now(),
            used: 0,
            dropped: 0,
        }
    }
}

impl LogBudget {
    /// Whether one more line may be logged now.
    pub(crate) fn admit(&mut self) -> bool {
        self.admit_at(Instant::now())
    }

    /// Whether one more line may be logged at `now`: at most `LOG_LINES_PER_SECOND` per
    /// one-second window.
    fn admit_at(&mut self, now: Instant) -> bool {
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.used = 0;
        }
        if self.used < LOG_LINES_PER_SECOND {
            self.used += 1;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_logs_are_limited_per_second_and_dropped_lines_counted() {
        let mut budget = LogBudget::default();
        let start = budget.window_start;
        let admitted = (0..150).filter(|_| budget.admit_at(start)).count();
        assert_eq!(admitted, LOG_LINES_PER_SECOND as usize);
        assert_eq!(budget.dropped, 50);
        assert!(
            budget.admit_at(start + Duration::from_secs(1)),
            "a new second, a new budget"
        );
    }

    #[test]
    fn captured_output_keeps_the_tail_and_empties_on_take() {
        let out = CapturedOutput::default();
        out.append(&vec![b'a'; 3 * CAPTURE_BYTES]);
        out.append(b"the end");
        let text = out.take();
        assert_eq!(text.len(), CAPTURE_BYTES);
        assert!(text.ends_with("the end"));
        assert_eq!(out.take(), "");
    }
}
