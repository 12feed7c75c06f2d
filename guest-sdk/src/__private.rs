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
            .map(|(index, group)| fold_group::<P>(group).map_err(|e| item_error(index, e)))
            .collect()
    }

    fn finish_batch(items: Vec<FinishItem>) -> Result<Vec<OutputRecord>, ItemError> {
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| finish_item::<P>(item).map_err(|e| item_error(index, e)))
            .collect()
    }
}

fn fold_group<P: MapReduce>(group: ReduceGroup) -> Result<Vec<u8>, Error> {
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

fn finish_item<P: MapReduce>(item: FinishItem) -> Result<OutputRecord, Error> {
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
