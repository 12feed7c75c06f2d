//! `map-combine-packed` shows `map` the same records as `map-batch`: every field of a record
//! (key or none, value or tombstone, timestamp, partition, offset, headers in order) crosses the
//! boundary packed exactly as it does listed, through the Rust SDK's real component. A module
//! built before `map-combine-packed` still combines, through `map-combine`.

use crate::support::{counts, guest, pipeline, texts};
use std::collections::BTreeMap;
use weir::engine::{Engine, GuestLimits};
use weir::guest::Guest;
use weir::record::{Header, InputRecord};

fn header(key: &str, value: &[u8]) -> Header {
    Header {
        key: key.to_string(),
        value: value.to_vec(),
    }
}

/// Records of every shape `map` can see, offsets distinct so each keys a pair of its own.
fn records() -> Vec<InputRecord> {
    let record = |offset: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: Vec<Header>| InputRecord {
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        timestamp: 1_700_000_000_000 + offset * 7,
        headers,
        partition: 3,
        offset,
    };
    vec![
        record(
            10,
            Some(b"k1"),
            Some(b"hello"),
            vec![
                header("trace", b"abc"),
                header("n", b""),
                header("trace", b"second"),
            ],
        ),
        record(11, None, None, Vec::new()),
        record(12, Some(b""), Some(b"no headers, empty key"), Vec::new()),
        record(
            13,
            Some(&[0, 255, 7]),
            Some(&[1, 2, 3]),
            vec![header("\u{fc}ber", &[0, 255])],
        ),
        record(14, None, Some(b"tombstone before"), vec![header("only", b"x")]),
    ]
}

fn decode(key: &[u8]) -> String {
    postcard::from_bytes(key).expect("the echo's keys are postcard strings")
}

#[test]
fn a_packed_batch_shows_map_every_field_of_every_record_as_a_listed_one_does() {
    let engine = Engine::new().expect("engine");
    let mut echo = guest(&engine, weir_guest_artifacts::RECORD_ECHO, GuestLimits::default());
    let records = records();

    let listed = echo.map_batch(&records).expect("map-batch");
    let listed: Vec<String> = listed.iter().map(|pair| decode(pair.key)).collect();

    let combined = echo
        .map_combine(&records, 10_000)
        .expect("the Rust SDK's module combines")
        .expect("map-combine-packed");
    let mut packed: BTreeMap<u32, String> = BTreeMap::new();
    for (pair, key, _) in combined.checked(records.len()).expect("a well-formed batch") {
        assert_eq!(pair.first, pair.last, "every record keys a pair of its own");
        packed.insert(pair.first, decode(key));
    }
    let packed: Vec<String> = packed.into_values().collect();

    assert_eq!(packed, listed);
    assert_eq!(
        listed[0],
        "key Some([107, 49]) value Some([104, 101, 108, 108, 111]) at 1700000000070 from 3/10 \
         headers [trace=[97, 98, 99], n=[], trace=[115, 101, 99, 111, 110, 100]] trace Some([97, 98, 99])"
    );
    assert_eq!(
        listed[1],
        "key None value None at 1700000000077 from 3/11 headers [] trace None"
    );
    assert_eq!(
        listed[3],
        "key Some([0, 255, 7]) value Some([1, 2, 3]) at 1700000000091 from 3/13 headers \
         [\u{fc}ber=[0, 255]] trace None"
    );
}

#[test]
fn packing_reuses_its_buffers_across_batches_of_different_shapes() {
    let engine = Engine::new().expect("engine");
    let mut echo = guest(&engine, weir_guest_artifacts::RECORD_ECHO, GuestLimits::default());
    let records = records();
    // A batch, a smaller one (the kept buffers must not leak the first batch's tail), the first
    // again: each must see exactly its own records.
    for batch in [&records[..], &records[1..2], &records[..]] {
        let combined = echo
            .map_combine(batch, 10_000)
            .expect("combines")
            .expect("map-combine-packed");
        let keys: Vec<String> = combined
            .checked(batch.len())
            .expect("well-formed")
            .into_iter()
            .map(|(_, key, _)| decode(key))
            .collect();
        let listed: Vec<String> = echo
            .map_batch(batch)
            .expect("map-batch")
            .iter()
            .map(|pair| decode(pair.key))
            .collect();
        assert_eq!(keys, listed);
    }
}

/// The word count as the SDK built it before `map-combine-packed` (see `tests/fixtures`).
const WORD_COUNT_BEFORE_PACKED: &[u8] = include_bytes!("../fixtures/word-count-before-packed.wasm");

#[test]
fn a_module_built_before_packed_records_still_combines_and_counts_the_same() {
    let name = b"map-combine-packed";
    assert!(
        !WORD_COUNT_BEFORE_PACKED.windows(name.len()).any(|w| w == name),
        "the fixture must not export map-combine-packed"
    );
    let engine = Engine::new().expect("engine");
    let module = engine
        .load(WORD_COUNT_BEFORE_PACKED)
        .expect("the older module loads");
    let mut older = engine
        .instantiate(&module, GuestLimits::default())
        .expect("the older module starts");
    let lines = ["the cat", "The dog and the cat", "", "a b c a"];
    let records = texts(0, &lines);
    let combined = older
        .map_combine(&records, 10_000)
        .expect("it exports the combiner (map-combine alone)")
        .expect("map-combine");
    assert!(combined.checked(records.len()).is_ok());

    let current = guest(&engine, weir_guest_artifacts::WORD_COUNT, GuestLimits::default());
    let count = |guest| {
        let mut p = pipeline(guest);
        let first = p.process(&records);
        assert!(first.dead_letters.is_empty(), "{first:?}");
        counts(&p.close())
    };
    let (older, current) = (count(older), count(current));
    assert_eq!(older, current);
    assert_eq!(older.get("the"), Some(&serde_json::json!(3)));
    assert_eq!(older.len(), 7, "{older:?}");
}
