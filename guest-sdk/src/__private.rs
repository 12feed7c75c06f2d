//! Glue between the WIT bindings and the author's [`MapReduce`] or [`Transform`] impl.
//! Used by the code `#[weir_sdk::processor]` generates; not a public API.

use crate::bindings::exports::weir::processor::processor::Guest;
use crate::bindings::weir::processor::types::{
    Emitted, FinishItem, InputRecord, ItemError, ModuleInfo, ModuleKind, OutputRecord, ReduceGroup,
};
use crate::{Emitter, Error, MapReduce, Outputs, Record, Transform, Window};
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
        index: u32::try_from(index).unwrap_or(u32::MAX),
        message: message.to_string(),
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::msg(format_args!("cannot decode {what}: {e}")))
}

fn encode<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>, Error> {
    postcard::to_allocvec(value).map_err(|e| Error::msg(format_args!("cannot encode {what}: {e}")))
}

impl<P: MapReduce> Guest for MapReduceGuest<P> {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            kind: ModuleKind::MapReduce,
            sdk: SDK.to_string(),
        }
    }

    fn map_batch(records: Vec<InputRecord>) -> Result<Vec<Emitted>, ItemError> {
        let mut out = Emitter::<P::Key, P::Value>::new();
        for (index, record) in records.into_iter().enumerate() {
            out.source = u32::try_from(index).unwrap_or(u32::MAX);
            let record = Record::new(record);
            P::map(&record, &mut out).map_err(|e| item_error(index, e))?;
            if let Some(e) = out.error.take() {
                return Err(item_error(index, e));
            }
        }
        Ok(out.pairs)
    }

    fn reduce_batch(groups: Vec<ReduceGroup>) -> Result<Vec<Vec<u8>>, ItemError> {
        groups
            .into_iter()
            .enumerate()
            .map(|(index, group)| fold_group::<P>(&group).map_err(|e| item_error(index, e)))
            .collect()
    }

    fn finish_batch(items: Vec<FinishItem>) -> Result<Vec<OutputRecord>, ItemError> {
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| finish_item::<P>(&item).map_err(|e| item_error(index, e)))
            .collect()
    }
}

fn fold_group<P: MapReduce>(group: &ReduceGroup) -> Result<Vec<u8>, Error> {
    let mut values = group.values.iter();
    let mut acc: P::Value = match &group.acc {
        Some(acc) => decode(acc, "the accumulator")?,
        None => match values.next() {
            Some(first) => decode(first, "a value")?,
            None => return Err(Error::msg("a reduce group with no accumulator and no values")),
        },
    };
    for value in values {
        acc = P::reduce(acc, decode(value, "a value")?);
    }
    encode(&acc, "the accumulator")
}

fn finish_item<P: MapReduce>(item: &FinishItem) -> Result<OutputRecord, Error> {
    let key: P::Key = decode(&item.key, "the key")?;
    let value: P::Value = decode(&item.acc, "the accumulator")?;
    let window = Window {
        start: item.window.start,
        end: item.window.end,
    };
    let output = P::finish(window, key, value)?;
    Ok(OutputRecord {
        key: output.key,
        value: output.value,
    })
}

impl<T: Transform> Guest for TransformGuest<T> {
    fn describe() -> ModuleInfo {
        ModuleInfo {
            kind: ModuleKind::Transform,
            sdk: SDK.to_string(),
        }
    }

    fn map_batch(records: Vec<InputRecord>) -> Result<Vec<Emitted>, ItemError> {
        let mut out = Outputs::new();
        for (index, record) in records.into_iter().enumerate() {
            out.source = u32::try_from(index).unwrap_or(u32::MAX);
            T::transform(&Record::new(record), &mut out).map_err(|e| item_error(index, e))?;
        }
        Ok(out.pairs)
    }

    fn reduce_batch(_groups: Vec<ReduceGroup>) -> Result<Vec<Vec<u8>>, ItemError> {
        Err(item_error(0, "a transform module has no reduce"))
    }

    fn finish_batch(_items: Vec<FinishItem>) -> Result<Vec<OutputRecord>, ItemError> {
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
        let pairs = MapReduceGuest::<Count>::map_batch(vec![record("a b"), record("c")]).expect("maps");
        let got: Vec<(u32, String, u64)> = pairs
            .iter()
            .map(|p| {
                let key: String = postcard::from_bytes(&p.key).expect("key");
                let value: u64 = postcard::from_bytes(&p.value).expect("value");
                (p.source, key, value)
            })
            .collect();
        assert_eq!(got, [(0, "a".into(), 1), (0, "b".into(), 1), (1, "c".into(), 1)]);
        assert!(pairs.iter().all(|p| p.timestamp.is_none()));
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
    fn reduce_folds_the_accumulator_then_the_values() {
        let groups = vec![
            ReduceGroup {
                acc: Some(enc(&10u64)),
                values: vec![enc(&1u64), enc(&2u64)],
            },
            ReduceGroup {
                acc: None,
                values: vec![enc(&5u64)],
            },
        ];
        let accs = MapReduceGuest::<Count>::reduce_batch(groups).expect("reduces");
        let accs: Vec<u64> = accs
            .iter()
            .map(|a| postcard::from_bytes(a).expect("acc"))
            .collect();
        assert_eq!(accs, [13, 5]);
        let broken = vec![ReduceGroup {
            acc: None,
            values: vec![vec![0xff; 11]],
        }];
        let err = MapReduceGuest::<Count>::reduce_batch(broken).expect_err("undecodable");
        assert!(err.message.contains("cannot decode a value"), "{}", err.message);
    }

    #[test]
    fn finish_writes_the_default_window_json() {
        let items = vec![FinishItem {
            window: crate::bindings::weir::processor::types::Window { start: 0, end: 10 },
            key: enc(&"w".to_string()),
            acc: enc(&3u64),
        }];
        let out = MapReduceGuest::<Count>::finish_batch(items).expect("finishes");
        assert_eq!(
            out[0].value,
            br#"{"window_start":0,"window_end":10,"key":"w","value":3}"#
        );
        assert_eq!(
            out[0].key.as_deref(),
            Some(&br#"{"window_start":0,"window_end":10,"key":"w"}"#[..])
        );
    }

    #[test]
    fn transforms_emit_raw_outputs_and_refuse_reduce() {
        let out = TransformGuest::<Upper>::map_batch(vec![record("hi")]).expect("maps");
        assert_eq!(
            (out[0].key.as_slice(), out[0].value.as_slice()),
            (&b"k"[..], &b"HI"[..])
        );
        assert_eq!(TransformGuest::<Upper>::describe().kind, ModuleKind::Transform);
        assert!(TransformGuest::<Upper>::reduce_batch(Vec::new()).is_err());
    }
}
