//! Hostile guest for the engine tests. Every record except the trigger is counted like word
//! count (key = the value text, value = 1), so a test can check the engine serves the next batch
//! correctly after the hostile one.

use weir_sdk::{Emitter, MapReduce, Record, Result};

/// Emits 8 MiB (256 values of 32 KiB) for the record `huge`.
pub struct HugeOutput;

#[weir_sdk::processor]
impl MapReduce for HugeOutput {
    type Key = String;
    type Value = Vec<u8>;

    fn map(record: &Record, out: &mut Emitter<String, Vec<u8>>) -> Result<()> {
        let text = record.text()?;
        if text == "huge" {
            for i in 0..256 {
                out.emit(format!("huge-{i}"), vec![7u8; 32 * 1024]);
            }
        } else {
            out.emit(text.to_string(), vec![1]);
        }
        Ok(())
    }

    fn reduce(mut a: Vec<u8>, b: Vec<u8>) -> Vec<u8> {
        a.extend(b);
        a
    }
}
