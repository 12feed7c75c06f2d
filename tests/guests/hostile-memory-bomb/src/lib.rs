//! Hostile guest for the engine tests. Every record except the trigger is counted like word
//! count (key = the value text, value = 1), so a test can check the engine serves the next batch
//! correctly after the hostile one.

use weir_sdk::{Emitter, MapReduce, Record, Result};

/// Allocates without bound on the record `bomb`.
pub struct MemoryBomb;

#[weir_sdk::processor]
impl MapReduce for MemoryBomb {
    type Key = String;
    type Value = u64;

    fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
        let text = record.text()?;
        if text == "bomb" {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        out.emit(text.to_string(), 1);
        Ok(())
    }

    fn reduce(a: u64, b: u64) -> u64 {
        a + b
    }
}
