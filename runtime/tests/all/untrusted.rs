//! Untrusted input never panics the host: mutated and truncated components are refused with a
//! `ModuleError` (or load, if the mutation is harmless), and arbitrary records reach the guest
//! or the dead letters.

use crate::support::{guest, pipeline};
use proptest::prelude::*;
use std::sync::OnceLock;
use weir::engine::{Engine, GuestLimits};
use weir::record::InputRecord;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("engine"))
}

fn word_count() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| weir_guest_artifacts::bytes(weir_guest_artifacts::WORD_COUNT))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Flipped bytes anywhere in a real component: refused with an error or loaded, never a panic.
    #[test]
    fn mutated_components_are_refused_or_loaded(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = word_count().to_vec();
        for (index, byte) in flips {
            let at = index.index(bytes.len());
            bytes[at] ^= byte | 1;
        }
        match engine().load(&bytes) {
            Ok(module) => prop_assert_eq!(module.digest().len(), 64),
            Err(err) => prop_assert!(!err.to_string().is_empty() && !err.code().is_empty()),
        }
    }

    /// Any prefix of a component, and any short byte string, is refused with an error.
    #[test]
    fn truncated_and_random_bytes_are_refused(cut in any::<prop::sample::Index>(), noise in prop::collection::vec(any::<u8>(), 0..64)) {
        let bytes = word_count();
        let prefix = &bytes[..cut.index(bytes.len())];
        prop_assert!(engine().load(prefix).is_err());
        prop_assert!(engine().load(&noise).is_err());
    }

    /// Records with arbitrary bytes, keys, headers and timestamps: each is counted or set aside.
    #[test]
    fn arbitrary_records_are_processed_or_dead_lettered(records in prop::collection::vec(
        (prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
         prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
         prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0)],
         prop::collection::vec(("[a-z]{0,4}", prop::collection::vec(any::<u8>(), 0..8)), 0..3)),
        1..40)) {
        let records: Vec<InputRecord> = records
            .into_iter()
            .enumerate()
            .map(|(i, (key, value, timestamp, headers))| InputRecord {
                key,
                value,
                timestamp,
                headers: headers
                    .into_iter()
                    .map(|(key, value)| weir::record::Header { key, value })
                    .collect(),
                partition: 0,
                offset: i as i64,
            })
            .collect();
        let mut p = pipeline(guest(engine(), weir_guest_artifacts::WORD_COUNT, GuestLimits::default()));
        let outcome = p.process(&records);
        let closed = p.close();
        let set_aside: std::collections::BTreeSet<i64> = outcome
            .dead_letters
            .iter()
            .filter_map(|d| d.record.as_ref().map(|r| r.offset))
            .collect();
        for record in &records {
            let text = record.value.as_deref().map(std::str::from_utf8);
            if let Some(Err(_)) = text {
                prop_assert!(set_aside.contains(&record.offset), "non-UTF-8 text is refused by word count");
            }
        }
        prop_assert!(closed.dead_letters.is_empty());
    }
}
