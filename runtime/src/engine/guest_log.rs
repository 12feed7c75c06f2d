//! What a guest's `log` import hands the host: [`GuestLogLine`] (the level, the message, and
//! where the guest was: which call, over which partition and offsets), and [`GuestLogSink`],
//! where a job sends it. Without a sink (`weir run`, upload validation) lines go to the host's
//! tracing, rate-limited per instance.

/// A log line's level, as the guest gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestLogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info`.
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
}

impl GuestLogLevel {
    /// Its name in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestLogLevel::Trace => "trace",
            GuestLogLevel::Debug => "debug",
            GuestLogLevel::Info => "info",
            GuestLogLevel::Warn => "warn",
            GuestLogLevel::Error => "error",
        }
    }
}

/// Where the guest was when it logged: the call, and for a call over input records, their
/// partition and first and last offsets (the import does not say which record of the batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallSite {
    /// `map`, `reduce`, `finish` or `describe`.
    pub call: &'static str,
    /// The partition of the batch's records.
    pub partition: Option<i32>,
    /// The first and last offsets of the batch.
    pub offsets: Option<(i64, i64)>,
}

impl CallSite {
    /// The site of a call over `records` (all of one partition, in offset order).
    pub fn over(call: &'static str, records: &[crate::record::InputRecord]) -> Self {
        CallSite {
            call,
            partition: records.first().map(|r| r.partition),
            offsets: records
                .first()
                .zip(records.last())
                .map(|(a, b)| (a.offset, b.offset)),
        }
    }
}

/// One line a guest logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLogLine {
    /// Its level.
    pub level: GuestLogLevel,
    /// What the guest said.
    pub message: String,
    /// Where it was.
    pub site: CallSite,
}

/// Where a job's guest log lines go (its own rate limit, its logs topic).
pub trait GuestLogSink: Send + Sync {
    /// Takes one line.
    fn log(&self, line: GuestLogLine);
}
