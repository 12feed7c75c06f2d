//! The native test guest, [`SumConcat`]: sums amounts (commutative) and joins tokens (not
//! commutative, so the fold order shows).

use super::*;

/// Values and accumulators: 8 bytes of little-endian sum, then the comma-joined tokens.
pub(super) fn encode(sum: u64, text: &str) -> Vec<u8> {
    let mut bytes = sum.to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

pub(super) fn decode(bytes: &[u8]) -> Result<(u64, String), String> {
    if bytes.len() < 8 {
        return Err(format!("value of {} bytes", bytes.len()));
    }
    let (sum, text) = bytes.split_at(8);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| "short sum".to_string())?);
    let text = String::from_utf8(text.to_vec()).map_err(|e| e.to_string())?;
    Ok((sum, text))
}

pub(super) fn join(text: &mut String, more: &str) {
    if !more.is_empty() {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(more);
    }
}

/// Sum and concatenate, natively. With `combine`, it also offers `map-combine` (as the Rust
/// SDK's modules do), so tumbling windows take the pipeline's combined path.
#[derive(Debug, Clone, Copy)]
pub(super) struct SumConcat {
    pub(super) combine: bool,
}

/// [`SumConcat`] without `map-combine`: every pair crosses the boundary.
pub(super) const PER_PAIR: SumConcat = SumConcat { combine: false };

impl SumConcat {
    /// `map-combine` the way the Rust SDK does it: map, then fold each (key, pane)'s values left
    /// to right in emission order, written independently of the SDK and of the pipeline.
    pub(super) fn map_combined(
        &mut self,
        records: &[InputRecord],
        pane: i64,
    ) -> Result<Combined, GuestError> {
        let emitted = self.map_batch(records)?;
        let mut times: Vec<Option<i64>> = vec![None; records.len()];
        // (pane, key, values in order, first source, last source) per (key, pane).
        type Slot = (i64, Vec<u8>, Vec<Vec<u8>>, u32, u32);
        let mut slots: Vec<Slot> = Vec::new();
        let mut index: BTreeMap<(i64, Vec<u8>), usize> = BTreeMap::new();
        for pair in emitted.iter() {
            let source = pair.source as usize;
            let t = pair.timestamp.unwrap_or(records[source].timestamp);
            times[source] = Some(times[source].map_or(t, |m| m.max(t)));
            let start = t - t.rem_euclid(pane);
            match index.get(&(start, pair.key.to_vec())) {
                Some(&i) => {
                    slots[i].2.push(pair.value.to_vec());
                    slots[i].4 = pair.source;
                }
                None => {
                    index.insert((start, pair.key.to_vec()), slots.len());
                    slots.push((
                        start,
                        pair.key.to_vec(),
                        vec![pair.value.to_vec()],
                        pair.source,
                        pair.source,
                    ));
                }
            }
        }
        let mut out = Combined::default();
        for (start, key, values, first, last) in slots {
            let mut input = ReduceInput::default();
            input.push_group(values.iter().map(Vec::as_slice));
            let folded = self.reduce_batch(&input)?.pop().unwrap_or_default();
            out.data.extend_from_slice(&key);
            out.data.extend_from_slice(&folded);
            out.pairs.push(CombinedPair {
                first,
                last,
                key_len: u32::try_from(key.len()).unwrap_or(u32::MAX),
                value_len: u32::try_from(folded.len()).unwrap_or(u32::MAX),
                count: u32::try_from(values.len()).unwrap_or(u32::MAX),
                pane: start,
            });
        }
        out.times = times;
        Ok(out)
    }
}

impl Guest for SumConcat {
    fn kind(&self) -> ModuleKind {
        ModuleKind::MapReduce
    }

    fn map_combine(&mut self, records: &[InputRecord], pane: i64) -> Option<Result<Combined, GuestError>> {
        self.combine.then(|| self.map_combined(records, pane))
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        let mut out = Emitted::default();
        for (index, record) in records.iter().enumerate() {
            let source = u32::try_from(index).map_err(|e| GuestError::rejected(index, e))?;
            let text = std::str::from_utf8(record.value.as_deref().unwrap_or_default())
                .map_err(|e| GuestError::rejected(index, e))?;
            for item in text.split(';').filter(|item| !item.is_empty()) {
                let fields: Vec<&str> = item.split(' ').collect();
                let [key, amount, token, time] = fields[..] else {
                    return Err(GuestError::rejected(index, format!("bad pair `{item}`")));
                };
                let amount: u64 = amount.parse().map_err(|e| GuestError::rejected(index, e))?;
                let timestamp = match time {
                    "-" => None,
                    t => Some(t.parse::<i64>().map_err(|e| GuestError::rejected(index, e))?),
                };
                out.push(source, key.as_bytes(), &encode(amount, token), timestamp);
            }
        }
        Ok(out)
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        input
            .groups()
            .into_iter()
            .enumerate()
            .map(|(index, values)| {
                // The first value may be the accumulator so far: it has the same encoding.
                let (mut sum, mut text) = (0, String::new());
                for value in values {
                    let (n, t) = decode(value).map_err(|e| GuestError::rejected(index, e))?;
                    sum += n;
                    join(&mut text, &t);
                }
                Ok(encode(sum, &text))
            })
            .collect()
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let (sum, text) = decode(&item.acc).map_err(|e| GuestError::rejected(index, e))?;
                let key = String::from_utf8(item.key.clone()).map_err(|e| GuestError::rejected(index, e))?;
                let value = serde_json::json!({
                    "start": item.window.start,
                    "end": item.window.end,
                    "key": key,
                    "sum": sum,
                    "text": text,
                });
                Ok(GuestOutput {
                    key: Some(item.key.clone()),
                    value: value.to_string().into_bytes(),
                })
            })
            .collect()
    }
}
