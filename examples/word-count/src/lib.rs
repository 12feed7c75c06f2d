//! Hadoop's word count as a Weir module: each line maps to `(word, 1)` per word, reduce sums.
//!
//! Words are the maximal runs of letters and digits (Unicode-aware), lower-cased.

use std::borrow::Cow;
use weir_sdk::{Emitter, MapReduce, Record, Result};

/// The word-count module.
pub struct WordCount;

#[weir_sdk::processor]
impl MapReduce for WordCount {
    type Key = String;
    type Value = u64;

    fn map(record: &Record, out: &mut Emitter<String, u64>) -> Result<()> {
        for word in words(record.text()?) {
            match word {
                Cow::Borrowed(word) => out.emit_borrowed(word, 1),
                Cow::Owned(word) => out.emit(word, 1),
            }
        }
        Ok(())
    }

    fn reduce(a: u64, b: u64) -> u64 {
        a + b
    }
}

/// The lower-cased words of a line: runs of Unicode letters and digits. A word that is lower
/// case already is borrowed from the line, not copied.
pub fn words(line: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                Cow::Borrowed(w)
            } else {
                Cow::Owned(w.to_lowercase())
            }
        })
}

#[cfg(test)]
mod tests {
    use super::words;
    use std::borrow::Cow;

    #[test]
    fn splits_on_anything_but_letters_and_digits() {
        let got: Vec<Cow<'_, str>> = words("Hello, hello WORLD! l'été 2024—Ünïcode_x").collect();
        assert_eq!(
            got,
            ["hello", "hello", "world", "l", "été", "2024", "ünïcode", "x"]
        );
    }
}
