//! The on-disk compile cache: a second process (here, a second engine) with the same cache
//! directory loads a module without compiling it, runs it the same, and a damaged cache entry
//! costs a compilation, never a wrong or failed load.

use crate::support::{counts, guest, pipeline, texts};
use weir::engine::{CompileCache, Engine, GuestLimits};

fn word_counts(engine: &Engine) -> Vec<(String, serde_json::Value)> {
    let mut p = pipeline(guest(
        engine,
        weir_guest_artifacts::WORD_COUNT,
        GuestLimits::default(),
    ));
    p.process(&texts(0, &["the cat", "The dog", "a cat"]));
    counts(&p.close()).into_iter().collect()
}

fn cache_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at)
            .expect("read the cache directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_none() {
                // Entries are named by a hash; the worker's statistics files have extensions.
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn a_second_engine_loads_compiled_code_from_the_cache_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = CompileCache::Dir(dir.path().to_path_buf());

    let first = Engine::with_compile_cache(&cache).expect("an engine with a cache");
    let expected = word_counts(&first);
    assert_eq!(first.disk_hits(), 0, "nothing was cached yet");
    assert!(
        !cache_files(dir.path()).is_empty(),
        "the compiled module was written"
    );
    assert_eq!(
        expected.iter().find(|(k, _)| k == "cat").map(|(_, v)| v.clone()),
        Some(serde_json::json!(2))
    );

    let second = Engine::with_compile_cache(&cache).expect("another engine, same directory");
    assert_eq!(word_counts(&second), expected);
    assert_eq!(second.disk_hits(), 1, "the second engine did not compile");

    let uncached = Engine::new().expect("an engine without a cache");
    assert_eq!(word_counts(&uncached), expected);
    assert_eq!(uncached.disk_hits(), 0);
}

#[test]
fn a_damaged_cache_entry_is_compiled_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = CompileCache::Dir(dir.path().to_path_buf());
    let expected = word_counts(&Engine::with_compile_cache(&cache).expect("engine"));
    let files = cache_files(dir.path());
    assert!(!files.is_empty(), "the compiled module was written");
    for file in &files {
        let mut bytes = std::fs::read(file).expect("read an entry");
        bytes.truncate(bytes.len() / 2);
        std::fs::write(file, bytes).expect("damage an entry");
    }

    let engine = Engine::with_compile_cache(&cache).expect("engine");
    assert_eq!(word_counts(&engine), expected);
    assert_eq!(engine.disk_hits(), 0, "a damaged entry is not a hit");
}

#[test]
fn an_unusable_cache_directory_is_refused_and_open_falls_back_to_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").expect("write a file");
    let cache = CompileCache::Dir(file.join("compiled"));

    let refused = Engine::with_compile_cache(&cache)
        .err()
        .expect("a file is not a directory");
    assert!(
        format!("{refused:#}").contains("as the compile cache"),
        "{refused:#}"
    );
    let engine = Engine::open(&cache).expect("open falls back to no cache");
    assert_eq!(word_counts(&engine).len(), 4);
}
