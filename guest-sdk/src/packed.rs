//! The contract's packed byte buffers (records, pairs, reduce values, finish entries), where
//! each item is the next `len` bytes: [`take`] walks them, [`len32`] writes their lengths.

/// Splits the next `len` bytes off the front of `rest`; `None` when fewer remain, so lengths from
/// the host can never index past its data.
pub(crate) fn take<'a>(rest: &mut &'a [u8], len: u32) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(len as usize)?;
    *rest = tail;
    Some(head)
}

/// `len` as the contract's `u32` length or index, saturated: a guest's batch never holds 4 GiB,
/// and the host refuses a length past the data rather than trusting it.
pub(crate) fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
