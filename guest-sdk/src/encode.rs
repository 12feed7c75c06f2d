//! [`encode_into`]: a value's postcard bytes appended to a buffer the caller keeps, with a fast
//! path for the keys modules mostly emit (strings, byte strings, integers).
//!
//! Encoding keys and values was about 11 % of `weir run`'s word count (BENCHMARKS.md), for two
//! reasons:
//! - postcard's own `to_extend` writes through `Vec::extend`, which compiles to a `memcpy` of a
//!   length known only at run time. In a WebAssembly guest that is a `memory.copy` instruction,
//!   which wasmtime runs as a call out of the guest into the host's `memmove`: for the few bytes
//!   of a word, the call costs several times the copy. [`append`] copies short slices in
//!   constant-size pieces instead, which compile to plain loads and stores.
//! - postcard's serializer writes a string's length through a 10-byte buffer on the stack and a
//!   second slice copy. [`Direct`] writes the length itself, and hands every other shape of
//!   key back to postcard.

use postcard::ser_flavors::Flavor;
use serde::Serialize;
use serde::ser::Impossible;

/// Slices up to this long are copied in fixed-size pieces; longer ones with one `memcpy`, whose
/// call then costs little beside the copy.
const INLINE_COPY_MAX: usize = 32;

/// Appends `value` to `out` in postcard's encoding: the same bytes as `postcard::to_extend`.
#[inline]
pub(crate) fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> postcard::Result<()> {
    let start = out.len();
    match value.serialize(Direct(out)) {
        Ok(()) => Ok(()),
        Err(NotDirect) => {
            out.truncate(start);
            postcard::serialize_with_flavor(value, Append(out))
        }
    }
}

/// Why [`Direct`] hands a value back to postcard: it is not a string, byte string, integer,
/// `bool`, `char`, unit or a newtype of one of them.
#[derive(Debug)]
struct NotDirect;

impl std::fmt::Display for NotDirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a scalar key")
    }
}

impl std::error::Error for NotDirect {}

impl serde::ser::Error for NotDirect {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotDirect
    }
}

/// A serializer writing postcard's bytes for scalars straight into a `Vec`: a string is its
/// length as a varint, then its bytes; an integer is a varint (zigzag for signed ones), except
/// `u8`/`i8`, which are one byte. Anything else fails with [`NotDirect`], possibly after
/// writing part of it, and [`encode_into`] then truncates and asks postcard.
struct Direct<'a>(&'a mut Vec<u8>);

/// Appends `n` as postcard's varint: seven bits a byte, low bits first, the high bit set on every
/// byte but the last (one byte below 128, as most keys' lengths are).
#[inline(always)]
fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // Truncation intended: the low 7 bits, with the continuation bit.
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends signed `n` as postcard does: zigzag (0, -1, 1, -2, ... to 0, 1, 2, 3, ...), then varint.
#[inline(always)]
fn push_zigzag(out: &mut Vec<u8>, n: i64) {
    push_varint(out, ((n << 1) ^ (n >> 63)) as u64);
}

impl Direct<'_> {
    #[inline(always)]
    fn varint(self, n: u64) -> Result<(), NotDirect> {
        push_varint(self.0, n);
        Ok(())
    }

    #[inline(always)]
    fn zigzag(self, n: i64) -> Result<(), NotDirect> {
        push_zigzag(self.0, n);
        Ok(())
    }

    #[inline(always)]
    fn length_prefixed(self, bytes: &[u8]) -> Result<(), NotDirect> {
        push_varint(self.0, bytes.len() as u64);
        append(self.0, bytes);
        Ok(())
    }
}

/// The serializer methods for the compound shapes [`Direct`] does not write.
macro_rules! not_direct {
    ($($method:ident($($arg:ty),*) -> $ok:ty;)*) => {
        $(
            #[inline(always)]
            fn $method(self, $(_: $arg),*) -> Result<$ok, NotDirect> {
                Err(NotDirect)
            }
        )*
    };
}

impl serde::Serializer for Direct<'_> {
    type Ok = ();
    type Error = NotDirect;
    type SerializeSeq = Impossible<(), NotDirect>;
    type SerializeTuple = Impossible<(), NotDirect>;
    type SerializeTupleStruct = Impossible<(), NotDirect>;
    type SerializeTupleVariant = Impossible<(), NotDirect>;
    type SerializeMap = Impossible<(), NotDirect>;
    type SerializeStruct = Impossible<(), NotDirect>;
    type SerializeStructVariant = Impossible<(), NotDirect>;

    #[inline(always)]
    fn serialize_str(self, v: &str) -> Result<(), NotDirect> {
        self.length_prefixed(v.as_bytes())
    }

    #[inline(always)]
    fn serialize_bytes(self, v: &[u8]) -> Result<(), NotDirect> {
        self.length_prefixed(v)
    }

    #[inline(always)]
    fn serialize_char(self, v: char) -> Result<(), NotDirect> {
        self.length_prefixed(v.encode_utf8(&mut [0; 4]).as_bytes())
    }

    #[inline(always)]
    fn serialize_bool(self, v: bool) -> Result<(), NotDirect> {
        self.0.push(u8::from(v));
        Ok(())
    }

    #[inline(always)]
    fn serialize_u8(self, v: u8) -> Result<(), NotDirect> {
        self.0.push(v);
        Ok(())
    }

    #[inline(always)]
    fn serialize_i8(self, v: i8) -> Result<(), NotDirect> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    #[inline(always)]
    fn serialize_u16(self, v: u16) -> Result<(), NotDirect> {
        self.varint(v.into())
    }

    #[inline(always)]
    fn serialize_u32(self, v: u32) -> Result<(), NotDirect> {
        self.varint(v.into())
    }

    #[inline(always)]
    fn serialize_u64(self, v: u64) -> Result<(), NotDirect> {
        self.varint(v)
    }

    #[inline(always)]
    fn serialize_i16(self, v: i16) -> Result<(), NotDirect> {
        self.zigzag(v.into())
    }

    #[inline(always)]
    fn serialize_i32(self, v: i32) -> Result<(), NotDirect> {
        self.zigzag(v.into())
    }

    #[inline(always)]
    fn serialize_i64(self, v: i64) -> Result<(), NotDirect> {
        self.zigzag(v)
    }

    #[inline(always)]
    fn serialize_unit(self) -> Result<(), NotDirect> {
        Ok(())
    }

    #[inline(always)]
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NotDirect> {
        Ok(())
    }

    #[inline(always)]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NotDirect> {
        value.serialize(self)
    }

    #[inline(always)]
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), NotDirect> {
        Err(NotDirect)
    }

    #[inline(always)]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotDirect> {
        Err(NotDirect)
    }

    not_direct! {
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_none() -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// A postcard flavor that appends to a borrowed `Vec` (postcard's `ExtendFlavor` owns it).
struct Append<'a>(&'a mut Vec<u8>);

impl Flavor for Append<'_> {
    type Output = ();

    #[inline(always)]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline(always)]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        append(self.0, bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends `bytes` to `out`. Up to [`INLINE_COPY_MAX`] bytes go in pieces of 8, 4, 2 and 1,
/// each a copy of a constant size, which compiles to a load and a store instead of a `memcpy`.
#[inline(always)]
pub(crate) fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() > INLINE_COPY_MAX {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(bytes.len());
    let mut rest = bytes;
    while let Some((piece, tail)) = rest.split_first_chunk::<8>() {
        out.extend_from_slice(piece);
        rest = tail;
    }
    if let Some((piece, tail)) = rest.split_first_chunk::<4>() {
        out.extend_from_slice(piece);
        rest = tail;
    }
    if let Some((piece, tail)) = rest.split_first_chunk::<2>() {
        out.extend_from_slice(piece);
        rest = tail;
    }
    if let Some(&byte) = rest.first() {
        out.push(byte);
    }
}

#[cfg(test)]
mod tests {
    use super::{Direct, INLINE_COPY_MAX, append, encode_into};
    use serde::Serialize;

    #[test]
    fn append_copies_every_length_around_the_inline_limit() {
        let source: Vec<u8> = (0..=u8::MAX).collect();
        for prefix in [0, 3] {
            for len in 0..=INLINE_COPY_MAX + 9 {
                let mut out = vec![0xEE; prefix];
                append(&mut out, &source[7..7 + len]);
                let mut want = vec![0xEE; prefix];
                want.extend_from_slice(&source[7..7 + len]);
                assert_eq!(out, want, "prefix {prefix}, length {len}");
            }
        }
    }

    /// Keys of the shapes modules use, each with postcard's bytes as the oracle.
    #[derive(Serialize)]
    struct Reading<'a> {
        sensor: &'a str,
        floor: u8,
        zone: Option<i64>,
    }

    #[derive(Serialize)]
    enum Route {
        Local,
        Remote(String, u16),
    }

    fn same_as_postcard<T: Serialize + ?Sized>(value: &T) {
        let mut out = vec![9, 9];
        encode_into(value, &mut out).expect("encodes");
        let mut want = vec![9, 9];
        want.extend(postcard::to_allocvec(value).expect("postcard encodes"));
        assert_eq!(out, want);
    }

    #[test]
    fn encodes_as_postcard_does() {
        let long = "x".repeat(300);
        for text in ["", "a", "héllo", "exactly-eight-b", long.as_str()] {
            same_as_postcard(text);
            same_as_postcard(&text.to_string());
            same_as_postcard(text.as_bytes());
        }
        same_as_postcard(&0u64);
        same_as_postcard(&u64::MAX);
        same_as_postcard(&-1i32);
        same_as_postcard(&i128::MIN);
        same_as_postcard(&1.5f64);
        same_as_postcard(&'é');
        same_as_postcard(&(String::from("eu-west"), 42u32, true));
        same_as_postcard(&vec![1u16, 300, 65_535]);
        same_as_postcard(&Reading {
            sensor: "t-1",
            floor: 3,
            zone: Some(-7),
        });
        same_as_postcard(&Route::Local);
        same_as_postcard(&Route::Remote("db".into(), 5432));
        same_as_postcard(&std::collections::BTreeMap::from([("a", 1u8), ("b", 2)]));
        same_as_postcard(&Some("late"));
        same_as_postcard(&Option::<u32>::None);
        same_as_postcard(&());
        same_as_postcard(&false);
        same_as_postcard(&Wrapped(Id(77)));
        same_as_postcard(&Wrapped(Id(-77)));
    }

    /// The fast path writes the scalar keys itself and hands every other shape to postcard.
    #[test]
    fn direct_writes_scalars_and_hands_the_rest_to_postcard() {
        fn direct<T: Serialize + ?Sized>(value: &T) -> bool {
            value.serialize(Direct(&mut Vec::new())).is_ok()
        }
        assert!(direct("word") && direct(&String::from("word")) && direct(&Bytes(b"raw")));
        assert!(direct(&7u64) && direct(&-7i32) && direct(&'x') && direct(&true) && direct(&Wrapped(Id(1))));
        assert!(
            !direct(&("a", 1u8)) && !direct(&Some(1u8)) && !direct(&1.5f64) && !direct(b"seq".as_slice())
        );
        assert!(
            !direct(&Route::Local)
                && !direct(&Reading {
                    sensor: "s",
                    floor: 0,
                    zone: None
                })
        );
    }

    #[derive(Serialize)]
    struct Wrapped(Id);

    #[derive(Serialize)]
    struct Id(i64);

    /// Every varint length of every integer type, both signs, at and around each boundary.
    #[test]
    fn encodes_integers_as_postcard_does() {
        let mut values: Vec<i128> = vec![i128::from(i64::MIN), i128::from(u64::MAX)];
        for bits in 0..64 {
            let edge = 1i128 << bits;
            values.extend([edge - 1, edge, edge + 1, -edge - 1, -edge, -edge + 1]);
        }
        for v in values {
            if let Ok(v) = u8::try_from(v) {
                same_as_postcard(&v);
            }
            if let Ok(v) = i8::try_from(v) {
                same_as_postcard(&v);
            }
            if let Ok(v) = u16::try_from(v) {
                same_as_postcard(&v);
            }
            if let Ok(v) = i16::try_from(v) {
                same_as_postcard(&v);
            }
            if let Ok(v) = u32::try_from(v) {
                same_as_postcard(&v);
            }
            if let Ok(v) = i32::try_from(v) {
                same_as_postcard(&v);
            }
            if let Ok(v) = u64::try_from(v) {
                same_as_postcard(&v);
            }
            if let Ok(v) = i64::try_from(v) {
                same_as_postcard(&v);
            }
        }
    }

    /// A string or byte string of every length around the varint and inline-copy boundaries.
    #[test]
    fn encodes_strings_of_every_boundary_length_as_postcard_does() {
        for len in (0..=40).chain(120..=135).chain(16_380..=16_390) {
            let text = "é".repeat(len / 2) + &"a".repeat(len % 2);
            same_as_postcard(text.as_str());
            same_as_postcard(text.as_bytes());
            same_as_postcard(&Bytes(text.as_bytes()));
        }
    }

    /// A byte string serialized with `serialize_bytes` (a `&[u8]` serializes as a sequence).
    struct Bytes<'a>(&'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
}
