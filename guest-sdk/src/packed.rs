//! [`take`]: walking the packed byte buffers of the contract (records, reduce values, finish
//! entries), where each item is the next `len` bytes.

/// Splits the next `len` bytes off the front of `rest`; `None` when fewer remain, so lengths from
/// the host can never index past its data.
pub(crate) fn take<'a>(rest: &mut &'a [u8], len: u32) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(len as usize)?;
    *rest = tail;
    Some(head)
}
