//! Hostile guest for the engine tests. Every record except the trigger is counted like word
//! count (key = the value text, value = 1), so a test can check the engine serves the next batch
//! correctly after the hostile one.

use weir_sdk::{Emitter, MapReduce, Record, Result};

/// Loops forever on the record `spin`.
pub struct Spin;

#[weir_sdk::processor]
impl MapReduce for Spin {
    type Key = String;
    type Value = u64;

    fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
        let text = record.text()?;
        if text == "spin" {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        out.emit(text.to_string(), 1);
        Ok(())
    }

    fn reduce(a: u64, b: u64) -> u64 {
        a + b
    }
}
