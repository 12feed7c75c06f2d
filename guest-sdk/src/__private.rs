//! Glue between the WIT bindings and the author's [`MapReduce`] or [`Transform`] impl.
//! Used by the code `#[weir_sdk::processor]` generates; not a public API.

use crate::bindings::exports::weir::processor::combiner::{Combined, Guest as CombinerGuest, PackedRecords};
use crate::bindings::exports::weir::processor::processor::Guest;
use crate::bindings::weir::processor::types::{
    Emitted, FinishInput, InputRecord, ItemError, ModuleInfo, ModuleKind, OutputBatch, OutputEntry, Packed,
    ReduceInput,
};
use crate::emitter::Sink;
use crate::encode::encode_into;
use crate::packed::{len32, take};
use crate::record::{self, Record};
use crate::{Emitter, Error, MapReduce, Outputs, Transform, Window};
use std::marker::PhantomData;

pub use crate::bindings::__export_guest as export_guest;

/// The SDK name and version a module reports in `describe`.
const SDK: &str = concat!("weir-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// Exports a [`MapReduce`] impl as the `processor` interface.
pub struct MapReduceGuest<P>(PhantomData<P>);

/// Exports a [`Transform`] impl as the `processor` interface.
pub struct TransformGuest<T>(PhantomData<T>);

fn item_error(index: usize, message: impl std::fmt::Display) -> ItemError {
    ItemError {
        index: len32(index),
        message: message.to_string(),
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::msg(format_args!("cannot decode {what}: {e}")))
}

impl<P: MapReduce> Guest for MapReduceGuest<P> {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            kind: ModuleKind::MapReduce,
            sdk: SDK.to_string(),
        }
    }

    fn map_batch(records: Vec<InputRecord>) -> Result<Emitted, ItemError> {
        match map_into::<P>(records.iter().map(|r| Ok(Record::listed(r))), Emitter::new())? {
            Sink::Packed(emitted) => Ok(emitted),
            Sink::Combining(_) => Err(item_error(0, "map-batch made a combined batch")),
        }
    }

    fn reduce_batch(input: ReduceInput) -> Result<Packed, ItemError> {
        let mut values = Values::new(&input);
        let mut out = Packed {
            data: Vec::new(),
            lengths: Vec::with_capacity(input.groups.len()),
        };
        for (index, &count) in input.groups.iter().enumerate() {
            let start = out.data.len();
            fold_group::<P>(&mut values, count, &mut out.data).map_err(|e| item_error(index, e))?;
            out.lengths.push(len32(out.data.len() - start));
        }
        Ok(out)
    }

    fn finish_batch(input: FinishInput) -> Result<OutputBatch, ItemError> {
        let mut rest = input.data.as_slice();
        let mut out = OutputBatch {
            data: Vec::new(),
            entries: Vec::with_capacity(input.entries.len()),
        };
        for (index, entry) in input.entries.iter().enumerate() {
            let (Some(key), Some(acc)) = (take(&mut rest, entry.key_len), take(&mut rest, entry.acc_len))
            else {
                return Err(item_error(index, "a finish entry runs past the data"));
            };
            let window = Window {
                start: entry.window.start,
                end: entry.window.end,
            };
            let output = finish_item::<P>(window, key, acc).map_err(|e| item_error(index, e))?;
            out.entries.push(OutputEntry {
                key_len: output.key.as_ref().map(|k| len32(k.len())),
                value_len: len32(output.value.len()),
            });
            out.data
                .extend_from_slice(output.key.as_deref().unwrap_or_default());
            out.data.extend_from_slice(&output.value);
        }
        Ok(out)
    }
}

/// Runs `map` over a batch into `out`'s sink; an error names the record that failed.
fn map_into<'a, P: MapReduce>(
    records: impl Iterator<Item = Result<Record<'a>, Error>>,
    mut out: Emitter<P::Key, P::Value>,
) -> Result<Sink<P::Value>, ItemError> {
    for (index, record) in records.enumerate() {
        let record = record.map_err(|e| item_error(index, e))?;
        out.source = len32(index);
        out.record_time = record.timestamp();
        if let Sink::Combining(combining) = &mut out.sink {
            combining.times.push(None);
        }
        P::map(&record, &mut out).map_err(|e| item_error(index, e))?;
        if let Some(e) = out.error.take() {
            return Err(item_error(index, e));
        }
    }
    Ok(out.sink)
}

/// Maps and combines a batch (either form of the contract's `map-combine`).
fn map_combine_records<'a, P: MapReduce>(
    records: impl Iterator<Item = Result<Record<'a>, Error>>,
    count: usize,
    pane_size: i64,
) -> Result<Combined, ItemError> {
    let last = count.saturating_sub(1);
    match map_into::<P>(records, Emitter::combining(pane_size, P::reduce))? {
        Sink::Combining(combining) => combining.finish().map_err(|e| item_error(last, e)),
        Sink::Packed(_) => Err(item_error(0, "map-combine made an uncombined batch")),
    }
}

impl<P: MapReduce> CombinerGuest for MapReduceGuest<P> {
    fn map_combine(records: Vec<InputRecord>, pane_size: i64) -> Result<Combined, ItemError> {
        map_combine_records::<P>(
            records.iter().map(|r| Ok(Record::listed(r))),
            records.len(),
            pane_size,
        )
    }

    fn map_combine_packed(records: PackedRecords, pane_size: i64) -> Result<Combined, ItemError> {
        map_combine_records::<P>(record::unpack(&records), records.records.len(), pane_size)
    }
}

impl<T: Transform> CombinerGuest for TransformGuest<T> {
    fn map_combine(_records: Vec<InputRecord>, _pane_size: i64) -> Result<Combined, ItemError> {
        Err(item_error(0, "a transform module does not combine"))
    }

    fn map_combine_packed(_records: PackedRecords, _pane_size: i64) -> Result<Combined, ItemError> {
        Err(item_error(0, "a transform module does not combine"))
    }
}

/// Walks the values of a packed reduce input in order.
struct Values<'a> {
    data: &'a [u8],
    lengths: std::slice::Iter<'a, u32>,
}

impl<'a> Values<'a> {
    fn new(input: &'a ReduceInput) -> Self {
        Values {
            data: &input.data,
            lengths: input.lengths.iter(),
        }
    }

    fn next(&mut self) -> Result<&'a [u8], Error> {
        let len = *self
            .lengths
            .next()
            .ok_or_else(|| Error::msg("a reduce group runs past the values"))?;
        take(&mut self.data, len).ok_or_else(|| Error::msg("a reduce value runs past the data"))
    }
}

/// Folds the next `count` values and appends the encoded result to `out`.
fn fold_group<P: MapReduce>(values: &mut Values<'_>, count: u32, out: &mut Vec<u8>) -> Result<(), Error> {
    if count == 0 {
        return Err(Error::msg("an empty reduce group"));
    }
    let mut acc: P::Value = decode(values.next()?, "a value")?;
    for _ in 1..count {
        acc = P::reduce(acc, decode(values.next()?, "a value")?);
    }
    encode_into(&acc, out).map_err(|e| Error::msg(format_args!("cannot encode the accumulator: {e}")))
}

fn finish_item<P: MapReduce>(window: Window, key: &[u8], acc: &[u8]) -> Result<crate::Output, Error> {
    let key: P::Key = decode(key, "the key")?;
    let value: P::Value = decode(acc, "the accumulator")?;
    P::finish(window, key, value)
}

impl<T: Transform> Guest for TransformGuest<T> {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            kind: ModuleKind::Transform,
            sdk: SDK.to_string(),
        }
    }

    fn map_batch(records: Vec<InputRecord>) -> Result<Emitted, ItemError> {
        let mut out = Outputs::new();
        for (index, record) in records.iter().enumerate() {
            out.source = len32(index);
            T::transform(&Record::listed(record), &mut out).map_err(|e| item_error(index, e))?;
        }
        Ok(out.out)
    }

    fn reduce_batch(_input: ReduceInput) -> Result<Packed, ItemError> {
        Err(item_error(0, "a transform module has no reduce"))
    }

    fn finish_batch(_input: FinishInput) -> Result<OutputBatch, ItemError> {
        Err(item_error(0, "a transform module has no finish"))
    }
}

#[cfg(test)]
mod tests {
    //! The glue runs natively too: these tests call it as the host would, without a component.

    use super::*;
    use crate::{Output, Result};

    struct Count;

    impl MapReduce for Count {
        type Key = String;
        type Value = u64;

        fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
            let text = record.text()?;
            if text == "bad" {
                return Err(Error::msg("bad record"));
            }
            for word in text.split(' ') {
                out.emit(word.to_string(), 1);
            }
            Ok(())
        }

        fn reduce(a: u64, b: u64) -> u64 {
            a + b
        }
    }

    struct Upper;

    impl Transform for Upper {
        fn transform(record: &Record, out: &mut Outputs) -> Result<()> {
            out.emit(Output::new(record.text()?.to_uppercase()).with_key("k"));
            Ok(())
        }
    }

    fn record(value: &str) -> InputRecord {
        InputRecord {
            key: None,
            value: Some(value.as_bytes().to_vec()),
            timestamp: 7,
            headers: Vec::new(),
            partition: 0,
            offset: 0,
        }
    }

    fn enc<T: serde::Serialize>(v: &T) -> Vec<u8> {
        postcard::to_allocvec(v).expect("encodes")
    }

    #[test]
    fn map_emits_postcard_pairs_tagged_with_their_record() {
        let out = MapReduceGuest::<Count>::map_batch(vec![record("a b"), record("c")]).expect("maps");
        let mut data = out.data.as_slice();
        let mut got: Vec<(u32, String, u64)> = Vec::new();
        for p in &out.pairs {
            let (key, rest) = data.split_at(p.key_len as usize);
            let (value, rest) = rest.split_at(p.value_len as usize);
            data = rest;
            let key: String = postcard::from_bytes(key).expect("key");
            let value: u64 = postcard::from_bytes(value).expect("value");
            got.push((p.source, key, value));
        }
        assert!(data.is_empty(), "the pairs account for every byte");
        assert_eq!(got, [(0, "a".into(), 1), (0, "b".into(), 1), (1, "c".into(), 1)]);
        assert!(out.pairs.iter().all(|p| p.timestamp.is_none()));
    }

    /// Decodes a combined batch into (first, last, pane, key, folded value).
    fn combined_pairs(out: &Combined) -> Vec<(u32, u32, i64, String, u64)> {
        let mut data = out.data.as_slice();
        let mut got = Vec::new();
        for p in &out.pairs {
            let (key, rest) = data.split_at(p.key_len as usize);
            let (value, rest) = rest.split_at(p.value_len as usize);
            data = rest;
            got.push((
                p.first,
                p.last,
                p.pane,
                postcard::from_bytes(key).expect("key"),
                postcard::from_bytes(value).expect("value"),
            ));
        }
        assert!(data.is_empty(), "the pairs account for every byte");
        got
    }

    #[test]
    fn map_combine_folds_each_key_per_pane_and_reports_record_times() {
        let at = |value: &str, timestamp: i64| InputRecord {
            timestamp,
            ..record(value)
        };
        let batch = vec![at("a b a", 3), at("", 4), at("b a", 12), at("a", 9), at("a", -1)];
        let out = MapReduceGuest::<Count>::map_combine(batch, 10).expect("combines");
        assert_eq!(
            combined_pairs(&out),
            [
                (0, 3, 0, "a".to_string(), 3),
                (0, 0, 0, "b".to_string(), 1),
                (1, 1, 0, String::new(), 1),
                (2, 2, 10, "b".to_string(), 1),
                (2, 2, 10, "a".to_string(), 1),
                (4, 4, -10, "a".to_string(), 1),
            ]
        );
        assert_eq!(out.times, [Some(3), Some(4), Some(12), Some(9), Some(-1)]);
        let counts: Vec<u32> = out.pairs.iter().map(|p| p.count).collect();
        assert_eq!(counts, [3, 1, 1, 1, 1, 1], "pairs folded into each");
        let err =
            MapReduceGuest::<Count>::map_combine(vec![record("ok"), record("bad")], 10).expect_err("refused");
        assert_eq!(err.index, 1);
        let near_min = vec![at("x", i64::MIN), at("x", i64::MIN + 1)];
        let out = MapReduceGuest::<Count>::map_combine(near_min, 10).expect("no overflow");
        assert_eq!(
            out.pairs.len(),
            2,
            "a pane starting before i64::MIN combines nothing"
        );
    }

    #[test]
    fn map_errors_and_bad_text_name_the_record() {
        let err = MapReduceGuest::<Count>::map_batch(vec![record("ok"), record("bad")]).expect_err("refused");
        assert_eq!((err.index, err.message.as_str()), (1, "bad record"));
        let mut invalid = record("");
        invalid.value = Some(vec![b'o', 0xff]);
        let err = MapReduceGuest::<Count>::map_batch(vec![invalid]).expect_err("not UTF-8");
        assert!(
            err.message
                .contains("not UTF-8 text (invalid byte at position 1)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn reduce_folds_each_group_left_to_right() {
        let values = [enc(&10u64), enc(&1u64), enc(&2u64), enc(&300u64)];
        let input = ReduceInput {
            data: values.concat(),
            lengths: values.iter().map(|v| v.len() as u32).collect(),
            groups: vec![3, 1],
        };
        let out = MapReduceGuest::<Count>::reduce_batch(input).expect("reduces");
        assert_eq!(out.lengths.len(), 2);
        let (first, second) = out.data.split_at(out.lengths[0] as usize);
        assert_eq!(postcard::from_bytes::<u64>(first).expect("acc"), 13);
        assert_eq!(postcard::from_bytes::<u64>(second).expect("acc"), 300);
        let broken = ReduceInput {
            data: vec![0xff; 11],
            lengths: vec![11],
            groups: vec![1],
        };
        let err = MapReduceGuest::<Count>::reduce_batch(broken).expect_err("undecodable");
        assert!(err.message.contains("cannot decode a value"), "{}", err.message);
        let short = ReduceInput {
            data: vec![1],
            lengths: vec![1],
            groups: vec![2],
        };
        let err = MapReduceGuest::<Count>::reduce_batch(short).expect_err("runs past");
        assert!(err.message.contains("runs past the values"), "{}", err.message);
    }

    #[test]
    fn finish_writes_the_default_window_json() {
        use crate::bindings::weir::processor::types::{FinishEntry, Window as WitWindow};
        let (key, acc) = (enc(&"w".to_string()), enc(&3u64));
        let input = FinishInput {
            data: [key.clone(), acc.clone()].concat(),
            entries: vec![FinishEntry {
                window: WitWindow { start: 0, end: 10 },
                key_len: key.len() as u32,
                acc_len: acc.len() as u32,
            }],
        };
        let out = MapReduceGuest::<Count>::finish_batch(input).expect("finishes");
        let want_key = br#"{"window_start":0,"window_end":10,"key":"w"}"#;
        let want_value = br#"{"window_start":0,"window_end":10,"key":"w","value":3}"#;
        assert_eq!(out.entries[0].key_len, Some(want_key.len() as u32));
        assert_eq!(out.entries[0].value_len, want_value.len() as u32);
        assert_eq!(out.data, [&want_key[..], &want_value[..]].concat());
    }

    #[test]
    fn transforms_emit_raw_outputs_and_refuse_reduce() {
        let out = TransformGuest::<Upper>::map_batch(vec![record("hi")]).expect("maps");
        assert_eq!(out.data, b"kHI");
        assert_eq!((out.pairs[0].key_len, out.pairs[0].value_len), (1, 2));
        assert_eq!(TransformGuest::<Upper>::describe().kind, ModuleKind::Transform);
        let empty = ReduceInput {
            data: Vec::new(),
            lengths: Vec::new(),
            groups: Vec::new(),
        };
        assert!(TransformGuest::<Upper>::reduce_batch(empty).is_err());
    }

    /// Packs records as the host does for `map-combine-packed`.
    fn pack(records: &[InputRecord]) -> PackedRecords {
        use crate::bindings::exports::weir::processor::combiner::{PackedHeader, PackedRecord};
        let mut out = PackedRecords {
            data: Vec::new(),
            records: Vec::new(),
            headers: Vec::new(),
        };
        for r in records {
            let mut put = |bytes: &[u8]| {
                out.data.extend_from_slice(bytes);
                bytes.len() as u32
            };
            let key_len = r.key.as_deref().map(&mut put);
            let value_len = r.value.as_deref().map(&mut put);
            for h in &r.headers {
                let name_len = put(h.key.as_bytes());
                let value_len = put(&h.value);
                out.headers.push(PackedHeader { name_len, value_len });
            }
            out.records.push(PackedRecord {
                key_len,
                value_len,
                timestamp: r.timestamp,
                partition: r.partition,
                offset: r.offset,
                headers: r.headers.len() as u32,
            });
        }
        out
    }

    /// Keys each record by what `map` reads of it.
    struct Fields;

    impl MapReduce for Fields {
        type Key = String;
        type Value = u64;

        fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
            let headers: Vec<String> = record.headers().map(|(n, v)| format!("{n}={v:?}")).collect();
            out.emit(
                format!(
                    "{:?} {:?} {} {}/{} [{}] {:?}",
                    record.key(),
                    record.value(),
                    record.timestamp(),
                    record.partition(),
                    record.offset(),
                    headers.join(","),
                    record.header("b"),
                ),
                1,
            );
            Ok(())
        }

        fn reduce(a: u64, b: u64) -> u64 {
            a + b
        }
    }

    fn fields_records() -> Vec<InputRecord> {
        let header = |key: &str, value: &[u8]| crate::bindings::weir::processor::types::Header {
            key: key.to_string(),
            value: value.to_vec(),
        };
        vec![
            InputRecord {
                key: Some(b"k".to_vec()),
                headers: vec![header("a", b"1"), header("b", b""), header("b", b"3")],
                partition: 2,
                offset: 5,
                ..record("x y")
            },
            InputRecord {
                value: None,
                offset: 6,
                ..record("")
            },
            InputRecord {
                key: Some(Vec::new()),
                headers: vec![header("\u{e9}", &[0, 255])],
                offset: 7,
                ..record("z")
            },
        ]
    }

    #[test]
    fn a_packed_batch_maps_and_combines_as_the_listed_one() {
        let records = fields_records();
        let listed = MapReduceGuest::<Fields>::map_combine(records.clone(), 10).expect("combines");
        let packed = MapReduceGuest::<Fields>::map_combine_packed(pack(&records), 10).expect("combines");
        assert_eq!(combined_pairs(&packed), combined_pairs(&listed));
        assert_eq!(packed.times, listed.times);
        assert_eq!(
            combined_pairs(&packed)[0].3,
            "Some([107]) [120, 32, 121] 7 2/5 [a=[49],b=[],b=[51]] Some([])"
        );
        assert_eq!(combined_pairs(&packed)[1].3, "None [] 7 0/6 [] None");
        let words = MapReduceGuest::<Count>::map_combine_packed(pack(&[record("a b a"), record("b")]), 10)
            .expect("combines");
        let listed =
            MapReduceGuest::<Count>::map_combine(vec![record("a b a"), record("b")], 10).expect("combines");
        assert_eq!(combined_pairs(&words), combined_pairs(&listed));
    }

    #[test]
    fn a_packed_batch_whose_lengths_run_past_its_data_is_refused_at_that_record() {
        let mut batch = pack(&fields_records());
        batch.records[1].value_len = Some(1_000);
        let err = MapReduceGuest::<Fields>::map_combine_packed(batch, 10).expect_err("refused");
        assert_eq!(err.index, 1);
        assert!(err.message.contains("runs past"), "{}", err.message);

        let mut batch = pack(&fields_records());
        batch.records[2].headers = 5;
        let err = MapReduceGuest::<Fields>::map_combine_packed(batch, 10).expect_err("refused");
        assert_eq!(err.index, 2);

        let mut batch = pack(&fields_records());
        let name_at = batch.data.len() - 4; // the first byte of the last header's name, then [0, 255]
        batch.data[name_at] = 0xff;
        let err = MapReduceGuest::<Fields>::map_combine_packed(batch, 10).expect_err("refused");
        assert_eq!(
            (err.index, err.message.as_str()),
            (2, "a header name is not UTF-8")
        );
    }
}
