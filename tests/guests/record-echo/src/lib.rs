//! Guest for the engine tests: emits one pair per record, keyed by everything `map` can read of
//! it (key, value or tombstone, timestamp, partition, offset, every header and the first
//! `trace` header), value 1. A test maps the same batch through `map-batch` and through
//! `map-combine-packed` and compares the keys: both forms must show `map` the same records.

use weir_sdk::{Emitter, MapReduce, Record, Result};

/// Keys each record by its fields (see the crate's documentation).
pub struct Echo;

#[weir_sdk::processor]
impl MapReduce for Echo {
    type Key = String;
    type Value = u64;

    fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
        let headers: Vec<String> = record
            .headers()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect();
        let value = if record.value().is_empty() {
            None
        } else {
            Some(record.value())
        };
        out.emit(
            format!(
                "key {:?} value {:?} at {} from {}/{} headers [{}] trace {:?}",
                record.key(),
                value,
                record.timestamp(),
                record.partition(),
                record.offset(),
                headers.join(", "),
                record.header("trace"),
            ),
            1,
        );
        Ok(())
    }

    fn reduce(a: u64, b: u64) -> u64 {
        a + b
    }
}
