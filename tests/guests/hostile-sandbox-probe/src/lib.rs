//! Hostile guest for the engine tests: for every record it tries to reach outside its sandbox
//! (files, environment, clock, randomness) and emits what it observed, so a test can assert that
//! the sandbox gave it nothing.

use std::time::{SystemTime, UNIX_EPOCH};
use weir_sdk::{Emitter, MapReduce, Record, Result};

/// Probes the sandbox.
pub struct SandboxProbe;

#[weir_sdk::processor]
impl MapReduce for SandboxProbe {
    type Key = String;
    type Value = String;

    fn map(_record: &Record, out: &mut Emitter<String, String>) -> Result<()> {
        weir_sdk::log(weir_sdk::LogLevel::Warn, "the sandbox probe is probing");
        let file = match std::fs::read("/etc/hostname") {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("error: {e}"),
        };
        out.emit("file".into(), file);
        let dir = match std::fs::read_dir("/") {
            Ok(entries) => format!("listed {} entries", entries.count()),
            Err(e) => format!("error: {e}"),
        };
        out.emit("dir".into(), dir);
        out.emit("env".into(), format!("{} variables", std::env::vars().count()));
        out.emit("args".into(), format!("{} arguments", std::env::args().count()));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        out.emit("clock".into(), format!("{now}"));
        let mut map = std::collections::HashMap::new();
        map.insert(1u8, 1u8);
        let hasher = std::hash::BuildHasher::hash_one(map.hasher(), 42u64);
        out.emit("random".into(), format!("{hasher}"));
        Ok(())
    }

    fn reduce(a: String, _b: String) -> String {
        a
    }
}
