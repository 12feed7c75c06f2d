//! Hostile guests, built from `tests/guests/`: each gets its precise error, and the engine then
//! serves the next batch correctly.

use crate::support::{counts, guest, pipeline, texts};
use serde_json::json;
use std::time::Duration;
use weir::engine::{Engine, GuestLimits, ModuleError};
use weir::guest::FailureKind;
use weir::pipeline::{Reason, Stage};

fn limits() -> GuestLimits {
    GuestLimits {
        call_timeout: Duration::from_millis(200),
        ..GuestLimits::default()
    }
}

/// Runs `poisoned` then a clean batch through `path`; returns the poisoned batch's dead letter
/// and checks every other record was counted, before and after.
fn poison_then_clean(path: &str, limits: GuestLimits, poison: &str) -> weir::pipeline::DeadLetter {
    let engine = Engine::new().expect("engine");
    let mut p = pipeline(guest(&engine, path, limits));
    let first = p.process(&texts(0, &["a", "b", poison, "a", "c"]));
    assert_eq!(
        first.dead_letters.len(),
        1,
        "exactly the poison record is set aside: {first:?}"
    );
    let dead = first.dead_letters[0].clone();
    assert_eq!(
        dead.record.as_ref().map(|r| r.offset),
        Some(2),
        "the dead letter names the poison record"
    );
    let second = p.process(&texts(5, &["a", "d"]));
    assert!(second.dead_letters.is_empty(), "{second:?}");
    let done = p.close();
    let got = counts(&done);
    let value = |n: u64| {
        if path == weir_guest_artifacts::HOSTILE_HUGE_OUTPUT {
            json!(vec![1; n as usize])
        } else {
            json!(n)
        }
    };
    let want = [("a", value(3)), ("b", value(1)), ("c", value(1)), ("d", value(1))]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(
        got, want,
        "the records around the poison one, and the next batch, are all counted"
    );
    dead
}

#[test]
fn an_infinite_loop_times_out_and_only_its_record_is_lost() {
    let dead = poison_then_clean(weir_guest_artifacts::HOSTILE_SPIN, limits(), "spin");
    assert_eq!(dead.reason, Reason::Failed(FailureKind::Timeout));
    assert_eq!(dead.stage, Stage::Map);
    assert!(dead.message.contains("deadline"), "{}", dead.message);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let limits = GuestLimits {
        memory_bytes: 16 << 20,
        ..limits()
    };
    let dead = poison_then_clean(weir_guest_artifacts::HOSTILE_MEMORY_BOMB, limits, "bomb");
    assert_eq!(dead.reason, Reason::Failed(FailureKind::MemoryLimit));
    assert!(dead.message.contains("the limit is 16 MiB"), "{}", dead.message);
}

#[test]
fn a_panic_in_map_reports_the_guests_own_message() {
    let dead = poison_then_clean(weir_guest_artifacts::HOSTILE_PANIC, limits(), "panic-map");
    assert_eq!(dead.reason, Reason::Failed(FailureKind::Panic));
    assert_eq!(dead.stage, Stage::Map);
    assert!(dead.message.contains("map was told to panic"), "{}", dead.message);
    assert!(
        dead.message.contains("src/lib.rs"),
        "the panic location is kept: {}",
        dead.message
    );
}

#[test]
fn a_panic_in_reduce_is_traced_to_its_record() {
    let dead = poison_then_clean(weir_guest_artifacts::HOSTILE_PANIC, limits(), "panic-reduce");
    assert_eq!(dead.reason, Reason::Failed(FailureKind::Panic));
    assert_eq!(dead.stage, Stage::Reduce);
    assert!(
        dead.message.contains("reduce was given a zero"),
        "{}",
        dead.message
    );
}

#[test]
fn a_panic_in_finish_sets_aside_that_window_and_key_only() {
    let engine = Engine::new().expect("engine");
    let mut p = pipeline(guest(&engine, weir_guest_artifacts::HOSTILE_PANIC, limits()));
    let first = p.process(&texts(0, &["a", "panic-finish", "b"]));
    assert!(first.dead_letters.is_empty(), "{first:?}");
    let done = p.close();
    assert_eq!(done.dead_letters.len(), 1, "{done:?}");
    let dead = &done.dead_letters[0];
    assert_eq!(
        (dead.reason, dead.stage),
        (Reason::Failed(FailureKind::Panic), Stage::Finish)
    );
    assert!(
        dead.message.contains("finish was told to panic"),
        "{}",
        dead.message
    );
    assert_eq!(dead.window.map(|w| (w.start, w.end)), Some((0, 3_600_000)));
    assert!(dead.key.is_some() && dead.record.is_none());
    let want = [("a".to_string(), json!(1)), ("b".to_string(), json!(1))]
        .into_iter()
        .collect();
    assert_eq!(counts(&done), want, "the other keys of the window are written");
}

#[test]
fn a_record_the_module_refuses_carries_its_message() {
    let dead = poison_then_clean(weir_guest_artifacts::HOSTILE_PANIC, limits(), "reject");
    assert_eq!(dead.reason, Reason::Rejected);
    assert_eq!(dead.message, "this record is refused on purpose");
}

#[test]
fn a_huge_output_hits_the_output_limit() {
    // A deadline far beyond the time to build the output, so that only the output limit can
    // stop this call: on a loaded CI machine the 200 ms one fired first once.
    let limits = GuestLimits {
        output_bytes: 1 << 20,
        call_timeout: Duration::from_secs(120),
        ..limits()
    };
    let dead = poison_then_clean(weir_guest_artifacts::HOSTILE_HUGE_OUTPUT, limits, "huge");
    assert_eq!(dead.reason, Reason::Failed(FailureKind::OutputLimit));
    assert!(
        dead.message.contains("output limit is 1048576 bytes"),
        "{}",
        dead.message
    );
}

#[test]
fn guest_logs_reach_the_host_tracing_under_target_weir_guest() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let engine = Engine::new().expect("engine");
        let mut p = pipeline(guest(
            &engine,
            weir_guest_artifacts::HOSTILE_SANDBOX_PROBE,
            limits(),
        ));
        assert!(p.process(&texts(0, &["probe"])).dead_letters.is_empty());
    });
    let logged = String::from_utf8(capture.0.lock().expect("capture lock").clone()).expect("utf-8 logs");
    let line = logged
        .lines()
        .find(|l| l.contains("the sandbox probe is probing"))
        .expect("the guest's log line");
    assert!(line.contains("WARN") && line.contains("weir::guest"), "{line}");
}

#[test]
fn the_sandbox_gives_no_files_environment_clock_or_randomness() {
    let engine = Engine::new().expect("engine");
    let run = || {
        let mut p = pipeline(guest(
            &engine,
            weir_guest_artifacts::HOSTILE_SANDBOX_PROBE,
            limits(),
        ));
        let first = p.process(&texts(0, &["probe"]));
        assert!(first.dead_letters.is_empty(), "{first:?}");
        counts(&p.close())
    };
    let seen = run();
    let text = |k: &str| seen[k].as_str().expect("string").to_string();
    assert!(
        text("file").starts_with("error:"),
        "reading /etc/hostname must fail: {}",
        text("file")
    );
    assert!(
        text("dir").starts_with("error:"),
        "listing / must fail: {}",
        text("dir")
    );
    assert_eq!(text("env"), "0 variables");
    assert_eq!(text("args"), "0 arguments");
    assert_eq!(text("clock"), "0", "the wall clock is frozen at the epoch");
    assert_eq!(
        run()["random"],
        seen["random"],
        "randomness is a fixed seed: a fresh instance sees the same"
    );
}

fn load_error(bytes: &[u8]) -> ModuleError {
    match Engine::new().expect("engine").load(bytes) {
        Ok(_) => panic!("the module should be refused"),
        Err(err) => err,
    }
}

fn wat(file: &str) -> Vec<u8> {
    let path = format!("{}/../tests/guests/wat/{file}", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn garbage_is_not_wasm() {
    let err = load_error(b"GIF89a definitely not a module");
    assert!(matches!(err, ModuleError::NotWasm { .. }), "{err}");
    assert!(
        err.to_string().contains("0x47494638"),
        "names the bytes it saw: {err}"
    );
    assert!(matches!(load_error(b""), ModuleError::NotWasm { .. }));
}

#[test]
fn a_core_module_is_not_a_component() {
    let err = load_error(&wat("core-module.wat"));
    assert!(matches!(err, ModuleError::CoreModule), "{err}");
    assert!(
        err.to_string().contains("wasm32-wasip2"),
        "says how to build a component: {err}"
    );
}

#[test]
fn a_truncated_component_is_invalid() {
    let bytes = weir_guest_artifacts::bytes(weir_guest_artifacts::WORD_COUNT);
    let err = load_error(&bytes[..bytes.len() / 2]);
    assert!(matches!(err, ModuleError::Invalid(_)), "{err}");
}

#[test]
fn an_ungranted_capability_is_refused_by_name() {
    let err = load_error(&wat("forbidden-import.wat"));
    match &err {
        ModuleError::ForbiddenImport { import, .. } => assert_eq!(import, "wasi:http/outgoing-handler@0.2.0"),
        other => panic!("expected a forbidden import, got {other}"),
    }
    assert!(err.to_string().contains("no network access"), "{err}");
}

#[test]
fn a_component_of_another_world_is_refused_with_what_it_exports() {
    let err = load_error(&wat("other-world.wat"));
    assert!(matches!(err, ModuleError::MissingExport { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("weir:processor/processor@0.1.0") && text.contains("wasi:cli/run@0.2.0"),
        "{text}"
    );
}

#[test]
fn a_module_for_another_world_version_is_refused_with_both_versions() {
    let err = load_error(&wat("future-version.wat"));
    match &err {
        ModuleError::WorldVersion { found, expected } => {
            assert_eq!(found, "weir:processor/processor@9.0.0");
            assert_eq!(expected, "weir:processor/processor@0.1.0");
        }
        other => panic!("expected a world version error, got {other}"),
    }
}

#[test]
fn a_processor_without_one_of_its_functions_is_refused_by_name() {
    let err = load_error(&wat("missing-function.wat"));
    match &err {
        ModuleError::MissingExport { missing, .. } => {
            assert_eq!(missing, "weir:processor/processor@0.1.0#finish-batch");
        }
        other => panic!("expected a missing export, got {other}"),
    }
}

#[test]
fn a_function_with_the_wrong_signature_is_refused_by_name() {
    let err = load_error(&wat("wrong-signature.wat"));
    match &err {
        ModuleError::ExportSignature { function, .. } => assert_eq!(function, "describe"),
        other => panic!("expected a signature error, got {other}"),
    }
    assert!(err.to_string().contains("wrong signature"), "{err}");
}

#[test]
fn loading_the_same_bytes_twice_hits_the_compile_cache() {
    let engine = Engine::new().expect("engine");
    let bytes = weir_guest_artifacts::bytes(weir_guest_artifacts::WORD_COUNT);
    let first = engine.load(&bytes).expect("loads");
    let second = engine.load(&bytes).expect("loads");
    assert_eq!(engine.cache_hits(), 1);
    assert!(std::sync::Arc::ptr_eq(&first, &second));
    assert_eq!(first.digest().len(), 64);
    assert_eq!(first.info().sdk, "weir-sdk-rust/0.1.0");
}
