//! Helpers shared by the integration tests.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use weir::engine::{Engine, GuestLimits, WasmGuest};
use weir::pipeline::{Outcome, Pipeline, PipelineConfig, TimeMode};
use weir::record::InputRecord;
use weir::window::WindowSpec;

/// A text record at `timestamp`, with `offset`.
pub fn text(offset: i64, timestamp: i64, value: &str) -> InputRecord {
    InputRecord {
        key: None,
        value: Some(value.as_bytes().to_vec()),
        timestamp,
        headers: Vec::new(),
        partition: 0,
        offset,
    }
}

/// Text records at timestamp 0, offsets counting from `first_offset`.
pub fn texts(first_offset: i64, values: &[&str]) -> Vec<InputRecord> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| text(first_offset + i as i64, 0, v))
        .collect()
}

/// Loads a guest component built by `weir-guest-artifacts`.
pub fn guest(engine: &Engine, path: &str, limits: GuestLimits) -> WasmGuest {
    let module = engine
        .load(&weir_guest_artifacts::bytes(path))
        .expect("the test guest loads");
    engine
        .instantiate(&module, limits)
        .expect("the test guest starts")
}

/// A pipeline over one big tumbling window, so `close` reports everything.
pub fn pipeline(guest: WasmGuest) -> Pipeline<WasmGuest> {
    let config = PipelineConfig {
        window: WindowSpec::Tumbling { size: 3_600_000 },
        out_of_orderness: Duration::ZERO,
        lateness: Duration::ZERO,
        time: TimeMode::Event,
    };
    Pipeline::new(guest, &config)
}

/// Default-finish outputs as key → value.
pub fn counts(outcome: &Outcome) -> BTreeMap<String, Value> {
    outcome
        .outputs
        .iter()
        .map(|o| {
            let v: Value = serde_json::from_slice(&o.value).expect("default finish writes JSON");
            (
                v["key"].as_str().expect("string keys").to_string(),
                v["value"].clone(),
            )
        })
        .collect()
}

/// `cases` property cases, unless `PROPTEST_CASES` says otherwise; no regression files
/// written into the source tree.
pub fn proptest_config(cases: u32) -> proptest::prelude::ProptestConfig {
    let default = proptest::prelude::ProptestConfig::default();
    proptest::prelude::ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            cases
        },
        failure_persistence: None,
        ..default
    }
}
