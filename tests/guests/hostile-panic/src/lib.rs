//! Hostile guest for the engine tests. Every record except the trigger is counted like word
//! count (key = the value text, value = 1), so a test can check the engine serves the next batch
//! correctly after the hostile one.

use weir_sdk::{Emitter, Error, MapReduce, Output, Record, Result, Window};

/// Panics in map on `panic-map`, in reduce when a value is 0 (the record `panic-reduce`
/// emits two), in finish for the key `panic-finish`, and refuses the record `reject`.
pub struct Panicky;

#[weir_sdk::processor]
impl MapReduce for Panicky {
    type Key = String;
    type Value = u64;

    fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
        match record.text()? {
            "panic-map" => panic!("map was told to panic"),
            "reject" => return Err(Error::msg("this record is refused on purpose")),
            "panic-reduce" => {
                out.emit("panic-reduce".to_string(), 0);
                out.emit("panic-reduce".to_string(), 0);
            }
            text => out.emit(text.to_string(), 1),
        }
        Ok(())
    }

    fn reduce(a: u64, b: u64) -> u64 {
        assert!(a != 0 && b != 0, "reduce was given a zero");
        a + b
    }

    fn finish(window: Window, key: String, value: u64) -> Result<Output> {
        assert!(key != "panic-finish", "finish was told to panic");
        Output::window_json(window, &key, &value)
    }
}
