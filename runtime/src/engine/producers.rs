//! [`Producers`]: the language a component was written in and the tools that built it, read
//! from its `producers` custom sections (the WebAssembly tool conventions: fields `language`
//! and `processed-by`, which rustc, clang, wit-component, componentize-py and componentize-js
//! write). The API shows it beside the SDK a module names itself (its `describe`), so the
//! Modules page can say "Rust" or "Python" for any component, built with a Weir SDK or not.
//!
//! A component holds a section per core module and one of its own; the language is decided from
//! all of them: the component's own section or a componentizer of an interpreted language names
//! it (componentize-js, componentize-py: their components embed an interpreter written in C,
//! C++ or Rust; componentize-py 0.25 is known by the CPython its modules link); otherwise it is
//! the language of the largest core module that names one (the module with the user's code,
//! rather than a small WASI adapter written in Rust). Sections are custom, so they are hints
//! that any tool may write or strip: a component without them, or with a malformed one, has an
//! unknown language, never a refused upload.
//!
//! Seen on the components `weir build` makes (producers of the largest core module, then the
//! component's): Rust `Rust, C11` by rustc and clang; C `C99` by clang, beside a 10 KB WASI
//! adapter in `Rust`; JavaScript `JavaScript` in the component's own section, by
//! `ComponentizeJS`; Python no language at all, but modules that link `libpython3.14.so`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wasmparser::{Dylink0Subsection, Encoding, KnownCustom, Parser, Payload};

/// At most this many tools are kept (the sections are untrusted input).
const MAX_ENTRIES: usize = 16;
/// Names and versions are cut to this many characters.
const MAX_TEXT: usize = 100;

/// What a component's producers sections say about how it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Producers {
    /// The source language, e.g. `Rust`, `Python`, `JavaScript`, `C`; absent when no section
    /// names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The tools that processed it, with their versions (`processed-by`), e.g.
    /// `rustc 1.91.1`, `wit-component 0.239.0`, `componentize-py 0.25.1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processed_by: Vec<String>,
}

/// One producers section: the size of the core module holding it (`None` for a component's
/// own), and its fields as (field, name, version).
struct Section {
    module_size: Option<u64>,
    entries: Vec<(String, String, String)>,
}

impl Section {
    fn values<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(f, _, _)| f == field)
            .map(|(_, name, _)| name.as_str())
    }
}

/// What the custom sections of a component say: its producers sections, and the shared
/// libraries its core modules link (`dylink.0` sections: componentize-py links CPython).
#[derive(Default)]
struct Findings {
    sections: Vec<Section>,
    needed: Vec<String>,
}

/// Reads the producers sections of `bytes` (a component or a core module, nested ones
/// included). Malformed sections, or bytes that do not parse past some point, yield what was
/// read before.
pub fn producers(bytes: &[u8]) -> Producers {
    let findings = findings(bytes);
    let mut found = Producers {
        language: language(&findings),
        ..Producers::default()
    };
    let tools = findings
        .sections
        .iter()
        .flat_map(|s| &s.entries)
        .filter(|(field, _, _)| field == "processed-by");
    for (_, name, version) in tools {
        let entry = cut(format!("{name} {version}").trim());
        let list = &mut found.processed_by;
        if list.len() < MAX_ENTRIES && !list.contains(&entry) {
            list.push(entry);
        }
    }
    found
}

fn cut(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

/// Every producers section, with the size of the core module that holds it, and the libraries
/// the core modules link.
fn findings(bytes: &[u8]) -> Findings {
    // The enclosing modules and components: the size of each core module, `None` for components.
    let mut stack: Vec<Option<u64>> = Vec::new();
    let mut found = Findings::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::Version { encoding, .. } if stack.is_empty() => {
                let whole = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                stack.push(match encoding {
                    Encoding::Module => Some(whole),
                    Encoding::Component => None,
                });
            }
            Payload::ModuleSection { unchecked_range, .. } => {
                stack.push(Some(unchecked_range.end.saturating_sub(unchecked_range.start)));
            }
            Payload::ComponentSection { .. } => stack.push(None),
            Payload::End(_) => {
                stack.pop();
            }
            Payload::CustomSection(custom) => match custom.as_known() {
                KnownCustom::Producers(reader) => {
                    let mut entries = Vec::new();
                    for field in reader.into_iter().map_while(Result::ok) {
                        for value in field.values.into_iter().map_while(Result::ok) {
                            entries.push((cut(field.name), cut(value.name), cut(value.version)));
                        }
                    }
                    found.sections.push(Section {
                        module_size: stack.last().copied().flatten(),
                        entries,
                    });
                }
                KnownCustom::Dylink0(reader) => {
                    for subsection in reader.map_while(Result::ok) {
                        if let Dylink0Subsection::Needed(libraries) = subsection {
                            let room = MAX_ENTRIES.saturating_sub(found.needed.len());
                            found.needed.extend(libraries.into_iter().take(room).map(cut));
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    found
}

/// The language, by the first rule that decides:
/// 1. a language the component names itself, outside its core modules (componentize-js);
/// 2. a componentizer of an interpreted language among the tools (componentize-py,
///    componentize-js), or a core module that links CPython (componentize-py 0.25 names
///    itself nowhere, but its modules link `libpython3.N.so`);
/// 3. the language of the largest core module that names one; of several in a module, the
///    first that is not C (C is the libc every language links).
fn language(findings: &Findings) -> Option<String> {
    let sections = &findings.sections;
    let own = sections
        .iter()
        .filter(|s| s.module_size.is_none())
        .find_map(|s| s.values("language").next());
    if let Some(language) = own {
        return Some(language_name(language));
    }
    for tool in sections.iter().flat_map(|s| s.values("processed-by")) {
        let tool = tool.to_ascii_lowercase();
        if tool.contains("componentize-py") {
            return Some("Python".into());
        }
        if tool.contains("componentize-js") || tool.contains("componentizejs") {
            return Some("JavaScript".into());
        }
    }
    if findings.needed.iter().any(|l| l.starts_with("libpython")) {
        return Some("Python".into());
    }
    sections
        .iter()
        .filter_map(|s| {
            let languages: Vec<String> = s.values("language").map(language_name).collect();
            let main = languages
                .iter()
                .find(|l| *l != "C")
                .or_else(|| languages.first())?
                .clone();
            Some((s.module_size.unwrap_or(0), main))
        })
        .max_by_key(|(size, _)| *size)
        .map(|(_, language)| language)
}

/// A language as people name it: clang's `C11` is C, `C++14` and `C_plus_plus_14` are C++;
/// others as written.
fn language_name(name: &str) -> String {
    let versioned = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|v| v.trim_start_matches('_').chars().all(|c| c.is_ascii_digit()))
    };
    if versioned("C++") || versioned("C_plus_plus") {
        "C++".into()
    } else if versioned("C") {
        "C".into()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leb(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn string(text: &str) -> Vec<u8> {
        [leb(text.len()), text.as_bytes().to_vec()].concat()
    }

    fn section(id: u8, content: &[u8]) -> Vec<u8> {
        [vec![id], leb(content.len()), content.to_vec()].concat()
    }

    /// A producers custom section with these (field, [(name, version)]).
    fn producers_section(fields: &[(&str, &[(&str, &str)])]) -> Vec<u8> {
        let mut content = string("producers");
        content.extend(leb(fields.len()));
        for (field, values) in fields {
            content.extend(string(field));
            content.extend(leb(values.len()));
            for (name, version) in *values {
                content.extend(string(name));
                content.extend(string(version));
            }
        }
        section(0, &content)
    }

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";
    const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    /// A core module of about `size` bytes (padding in another custom section) with `extra`.
    fn module(size: usize, extra: &[u8]) -> Vec<u8> {
        let pad = section(0, &[string("pad"), vec![0; size]].concat());
        [MODULE, &pad, extra].concat()
    }

    /// A component made of these core modules (core module sections, id 1), then `extra`.
    fn component(modules: &[Vec<u8>], extra: &[u8]) -> Vec<u8> {
        let mut bytes = COMPONENT.to_vec();
        for m in modules {
            bytes.extend(section(1, m));
        }
        bytes.extend(extra);
        bytes
    }

    #[test]
    fn a_rust_component_is_rust_even_beside_a_smaller_adapter() {
        let user = module(
            4000,
            &producers_section(&[
                ("language", &[("Rust", "")]),
                ("processed-by", &[("rustc", "1.91.1")]),
            ]),
        );
        let adapter = module(
            500,
            &producers_section(&[("language", &[("C11", "")]), ("processed-by", &[("clang", "14")])]),
        );
        let own = producers_section(&[("processed-by", &[("wit-component", "0.239.0")])]);
        let found = producers(&component(&[adapter, user], &own));
        assert_eq!(found.language.as_deref(), Some("Rust"));
        assert_eq!(
            found.processed_by,
            ["clang 14", "rustc 1.91.1", "wit-component 0.239.0"]
        );
    }

    #[test]
    fn a_componentizer_names_the_language_over_its_interpreters() {
        let python = module(9000, &producers_section(&[("language", &[("C11", "")])]));
        let own = producers_section(&[
            ("processed-by", &[("componentize-py", "0.25.1")]),
            ("sdk", &[("weir-sdk-python", "0.1.0")]),
        ]);
        let found = producers(&component(&[python], &own));
        assert_eq!(found.language.as_deref(), Some("Python"));
        assert_eq!(
            found.processed_by,
            ["componentize-py 0.25.1"],
            "the sdk field is not a tool"
        );
        let js = producers_section(&[("processed-by", &[("ComponentizeJS", "0.23.0")])]);
        assert_eq!(
            producers(&component(&[], &js)).language.as_deref(),
            Some("JavaScript")
        );
    }

    #[test]
    fn the_components_own_language_wins_over_its_interpreters() {
        // componentize-js: StarlingMonkey in C, Rust and C++, the component says JavaScript.
        let engine = module(
            9000,
            &producers_section(&[("language", &[("C11", ""), ("Rust", ""), ("C_plus_plus_14", "")])]),
        );
        let own = producers_section(&[
            ("processed-by", &[("wit-component", "0.259.0")]),
            ("language", &[("JavaScript", "")]),
        ]);
        assert_eq!(
            producers(&component(&[engine], &own)).language.as_deref(),
            Some("JavaScript")
        );
    }

    /// A `dylink.0` custom section whose `needed` subsection (id 2) lists `libraries`.
    fn dylink_needing(libraries: &[&str]) -> Vec<u8> {
        let mut needed = leb(libraries.len());
        for library in libraries {
            needed.extend(string(library));
        }
        let subsection = [vec![2], leb(needed.len()), needed].concat();
        section(0, &[string("dylink.0"), subsection].concat())
    }

    #[test]
    fn a_component_linking_cpython_is_python() {
        // componentize-py 0.25: no language anywhere; a tiny adapter says Rust; libraries link
        // CPython.
        let adapter = module(400, &producers_section(&[("language", &[("Rust", "")])]));
        let runtime = module(9000, &dylink_needing(&["libc.so", "libpython3.14.so"]));
        let libc = module(2000, &dylink_needing(&["libc.so"]));
        let found = producers(&component(&[adapter.clone(), runtime], &[]));
        assert_eq!(found.language.as_deref(), Some("Python"));
        assert_eq!(
            producers(&component(&[adapter, libc], &[])).language.as_deref(),
            Some("Rust"),
            "libc alone decides nothing"
        );
    }

    #[test]
    fn of_several_languages_in_a_module_the_first_that_is_not_libcs_c() {
        let user = module(
            100,
            &producers_section(&[("language", &[("C11", ""), ("Rust", "")])]),
        );
        assert_eq!(
            producers(&component(&[user], &[])).language.as_deref(),
            Some("Rust")
        );
        let c = module(
            100,
            &producers_section(&[("language", &[("C11", ""), ("C99", "")])]),
        );
        assert_eq!(producers(&component(&[c], &[])).language.as_deref(), Some("C"));
    }

    #[test]
    fn the_bundled_word_count_is_rust_built_by_rustc_and_wit_component() {
        let bytes = weir_guest_artifacts::bundled("word-count").expect("bundled");
        let found = producers(bytes);
        assert_eq!(found.language.as_deref(), Some("Rust"), "{found:?}");
        assert!(
            found.processed_by.iter().any(|t| t.starts_with("rustc "))
                && found.processed_by.iter().any(|t| t.starts_with("wit-component ")),
            "{found:?}"
        );
    }

    #[test]
    fn languages_read_as_people_name_them() {
        assert_eq!(language_name("C11"), "C");
        assert_eq!(language_name("C++17"), "C++");
        assert_eq!(language_name("C_plus_plus_14"), "C++", "as clang 21 writes it");
        assert_eq!(language_name("C"), "C");
        assert_eq!(language_name("Rust"), "Rust");
        assert_eq!(language_name("Cobol"), "Cobol");
        let core = module(10, &producers_section(&[("language", &[("C99", "")])]));
        assert_eq!(
            producers(&core).language.as_deref(),
            Some("C"),
            "a core module alone"
        );
    }

    #[test]
    fn nothing_to_read_is_an_unknown_language_never_an_error() {
        assert_eq!(producers(b"not wasm at all"), Producers::default());
        assert_eq!(producers(&component(&[], &[])), Producers::default());
        // A producers section cut short: what came before it is kept, nothing panics.
        let good = producers_section(&[("processed-by", &[("wit-component", "1")])]);
        let mut broken = producers_section(&[("language", &[("Rust", "")])]);
        let cut_at = broken.len() - 3;
        broken.truncate(cut_at);
        let found = producers(&component(&[], &[good, broken].concat()));
        assert_eq!(found.processed_by, ["wit-component 1"]);
    }

    #[test]
    fn untrusted_sections_are_bounded() {
        let long = "x".repeat(1000);
        let many: Vec<(String, String)> = (0..40).map(|i| (format!("tool{i}"), long.clone())).collect();
        let values: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let found = producers(&component(&[], &producers_section(&[("processed-by", &values)])));
        assert_eq!(found.processed_by.len(), MAX_ENTRIES);
        assert!(found.processed_by.iter().all(|e| e.chars().count() <= MAX_TEXT));
    }

    proptest::proptest! {
        /// Untrusted bytes: any bytes, and the bundled word count with bytes overwritten (the
        /// producers sections are near its end), never panic and stay within the bounds.
        #[test]
        fn any_bytes_read_without_panic_within_bounds(
            random in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            patch in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..16),
        ) {
            let mut mutated = weir_guest_artifacts::bundled("word-count").expect("bundled").to_vec();
            let start = at.index(mutated.len());
            for (i, byte) in patch.iter().enumerate() {
                if let Some(b) = mutated.get_mut(start + i) {
                    *b = *byte;
                }
            }
            for bytes in [random, mutated] {
                let found = producers(&bytes);
                proptest::prop_assert!(found.processed_by.len() <= MAX_ENTRIES);
                proptest::prop_assert!(found.processed_by.iter().all(|t| t.chars().count() <= MAX_TEXT));
            }
        }
    }
}
