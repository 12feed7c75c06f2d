//! The letter-and-digit tables of the Python, JavaScript and C word counts: Rust's
//! `char::is_alphanumeric` as ranges of code points, rendered for each language, so the four
//! word counts split text the same way. The tests check the files still match the standard
//! library (`WEIR_BLESS=1` rewrites them).

/// Inclusive ranges of the code points for which `char::is_alphanumeric` holds.
pub fn ranges() -> Vec<(u32, u32)> {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
        if !c.is_alphanumeric() {
            continue;
        }
        let code = c as u32;
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == code => *end = code,
            _ => ranges.push((code, code)),
        }
    }
    ranges
}

const ABOUT: [&str; 3] = [
    "Which characters are letters or digits: exactly Rust's `char::is_alphanumeric` (Unicode",
    "Alphabetic, or a number: Nd, Nl, No), as ranges of code points, so this word count splits",
    "text as the Rust one (examples/word-count) does, whatever the language's own tables say.",
];
const GENERATED: &str = "Generated from Rust's standard library by runtime/tests/all/languages/tables.rs, which checks it still matches (WEIR_BLESS=1 rewrites it).";

fn rows(ranges: &[(u32, u32)], open: &str, close: &str, indent: &str) -> String {
    ranges
        .chunks(6)
        .map(|chunk| {
            let items: Vec<String> = chunk
                .iter()
                .map(|(a, b)| format!("{open}0x{a:x}, 0x{b:x}{close}"))
                .collect();
            format!("{indent}{},", items.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn comment_lines(prefix: &str) -> String {
    let mut text: Vec<String> = ABOUT.iter().map(|l| format!("{prefix}{l}")).collect();
    text.push(prefix.trim_end().to_string());
    text.push(format!("{prefix}{GENERATED}"));
    text.join("\n")
}

/// `examples/word-count-py/alphanumeric.py`.
pub fn python(ranges: &[(u32, u32)]) -> String {
    format!(
        "\"\"\"\n{}\n\"\"\"\n\nimport re\n\nRANGES = (\n{}\n)\n\n\
         #: A run of letters and digits (the character class is compiled once, when the component is built).\n\
         WORD = re.compile(\"[\" + \"\".join(f\"{{re.escape(chr(a))}}-{{re.escape(chr(b))}}\" for a, b in RANGES) + \"]+\")\n",
        comment_lines(""),
        rows(ranges, "(", ")", "    "),
    )
}

/// `examples/word-count-js/alphanumeric.js`.
pub fn js(ranges: &[(u32, u32)]) -> String {
    format!(
        "{}\n// (componentize-js's engine, StarlingMonkey, has no Unicode property escapes such as\n\
         // \\p{{Alphabetic}}, so the class is spelled out.)\n\n\
         export const RANGES = [\n{}\n];\n\n\
         const hex = (code) => `\\\\u{{${{code.toString(16)}}}}`;\n\
         const CLASS = RANGES.map(([a, b]) => `${{hex(a)}}-${{hex(b)}}`).join(\"\");\n\n\
         /** A run of letters and digits (global: use with String.prototype.match). */\n\
         export const WORD = new RegExp(`[${{CLASS}}]+`, \"gu\");\n",
        comment_lines("// "),
        rows(ranges, "[", "]", "  "),
    )
}

/// `examples/word-count-c/alphanumeric.h`.
pub fn c(ranges: &[(u32, u32)]) -> String {
    format!(
        "/*\n{}\n */\n#ifndef ALPHANUMERIC_H\n#define ALPHANUMERIC_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n\
         static const uint32_t ALPHANUMERIC[][2] = {{\n{}\n}};\n\n\
         /* Whether the code point is a letter or a digit (binary search). */\n\
         static inline int is_alphanumeric(uint32_t c) {{\n\
         \x20   size_t lo = 0, hi = sizeof ALPHANUMERIC / sizeof ALPHANUMERIC[0];\n\
         \x20   while (lo < hi) {{\n\
         \x20       size_t mid = lo + (hi - lo) / 2;\n\
         \x20       if (c < ALPHANUMERIC[mid][0]) hi = mid;\n\
         \x20       else if (c > ALPHANUMERIC[mid][1]) lo = mid + 1;\n\
         \x20       else return 1;\n\
         \x20   }}\n\
         \x20   return 0;\n\
         }}\n\n#endif\n",
        comment_lines(" * "),
        rows(ranges, "{", "}", "    "),
    )
}
