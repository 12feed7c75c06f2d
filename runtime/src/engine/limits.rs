//! [`GuestLimits`]: the resources one guest instance may use.

use std::time::Duration;

/// Per-job limits on a guest instance. A call that hits one fails that batch, not the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestLimits {
    /// Largest linear memory, in bytes (default 64 MiB).
    pub memory_bytes: usize,
    /// Longest a single batch call may run (default 1 s), enforced by epoch interruption.
    pub call_timeout: Duration,
    /// Most bytes of keys and values one call may return (default 16 MiB).
    pub output_bytes: usize,
}

impl Default for GuestLimits {
    fn default() -> Self {
        GuestLimits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(1),
            output_bytes: 16 << 20,
        }
    }
}
