//! The upload path of the HTTP API, without a broker: whatever bytes arrive, the answer is a
//! 4xx with a JSON error and a stable code (or, for a valid module, 503 until the registry is
//! reachable), never a panic or a 500. Property tests feed it random bytes and mutated copies
//! of a real component.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, OnceLock};
use tower::ServiceExt;
use weir::api::{ApiState, auth::Auth, router};
use weir::config::ServeConfig;
use weir::engine::Engine;

const TOKEN: &str = "t0ken";

/// Codes an upload may be refused with.
const CODES: &[&str] = &[
    "not_wasm",
    "core_module",
    "invalid_component",
    "forbidden_import",
    "world_version",
    "missing_export",
    "export_signature",
    "start_failed",
    "payload_too_large",
    "unauthorized",
];

static ENGINE: LazyLock<Arc<Engine>> = LazyLock::new(|| Arc::new(Engine::new().expect("the engine starts")));

fn state(max_upload: usize) -> Arc<ApiState> {
    let config = ServeConfig::default();
    Arc::new(ApiState {
        services: OnceLock::new(),
        engine: Arc::clone(&ENGINE),
        auth: Auth::new(Some(TOKEN)),
        max_upload,
        max_limits: config.max_limits,
        file_jobs: Vec::new(),
        ready: Arc::new(AtomicBool::new(false)),
    })
}

/// POSTs `bytes` as a module; returns the status and the error code, if any.
fn upload(bytes: Vec<u8>, token: Option<&str>, max_upload: usize) -> (StatusCode, Option<String>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let mut request = Request::post("/v1/modules?name=probe").header("content-type", "application/wasm");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(bytes)).expect("a request");
        let response = router(state(max_upload))
            .oneshot(request)
            .await
            .expect("a response");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let code = json
            .as_ref()
            .and_then(|j| j["error"]["code"].as_str())
            .map(str::to_string);
        (status, code)
    })
}

fn word_count() -> Vec<u8> {
    weir_guest_artifacts::bytes(weir_guest_artifacts::WORD_COUNT)
}

fn wat(name: &str) -> Vec<u8> {
    let path = format!("{}/../tests/guests/wat/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A refusal must be a 4xx with a known code.
fn assert_refused(status: StatusCode, code: Option<&str>) {
    assert!(status.is_client_error(), "status {status}, code {code:?}");
    let code = code.unwrap_or("<no JSON error>");
    assert!(CODES.contains(&code), "unknown code {code}");
}

#[test]
fn each_bad_upload_gets_its_status_and_code() {
    /// What is uploaded, with which token and limit, and the status and code it must get.
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, usize, StatusCode, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "garbage",
            b"garbage".to_vec(),
            Some(TOKEN),
            1 << 20,
            StatusCode::BAD_REQUEST,
            "not_wasm",
        ),
        (
            "empty",
            Vec::new(),
            Some(TOKEN),
            1 << 20,
            StatusCode::BAD_REQUEST,
            "not_wasm",
        ),
        (
            "core module",
            wat("core-module"),
            Some(TOKEN),
            1 << 20,
            StatusCode::UNPROCESSABLE_ENTITY,
            "core_module",
        ),
        (
            "other world",
            wat("other-world"),
            Some(TOKEN),
            1 << 20,
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_export",
        ),
        (
            "future version",
            wat("future-version"),
            Some(TOKEN),
            1 << 20,
            StatusCode::UNPROCESSABLE_ENTITY,
            "world_version",
        ),
        (
            "forbidden import",
            wat("forbidden-import"),
            Some(TOKEN),
            1 << 20,
            StatusCode::UNPROCESSABLE_ENTITY,
            "forbidden_import",
        ),
        (
            "too big",
            word_count(),
            Some(TOKEN),
            64 << 10,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "no token",
            word_count(),
            None,
            1 << 20,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "wrong token",
            word_count(),
            Some("guess"),
            1 << 20,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ];
    for (what, bytes, token, max, want_status, want_code) in cases {
        let (status, code) = upload(bytes, token, max);
        assert_eq!(
            (status, code.as_deref()),
            (want_status, Some(want_code)),
            "{what}"
        );
    }
}

#[test]
fn a_valid_module_passes_validation_and_waits_for_the_registry() {
    let (status, code) = upload(word_count(), Some(TOKEN), 1 << 20);
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("registry_unavailable"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused_with_a_code(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048),
            // Past the header check: a component preamble, then noise.
            proptest::collection::vec(any::<u8>(), 0..2048)
                .prop_map(|tail| [b"\0asm\x0d\0\x01\0".to_vec(), tail].concat()),
        ]
    ) {
        let (status, code) = upload(body, Some(TOKEN), 1 << 20);
        assert_refused(status, code.as_deref());
    }
}

proptest! {
    // Each case validates (and may compile) a 130 KB component: few cases, real coverage.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_component_is_refused_or_still_a_valid_module(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = word_count();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value | 1;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let (status, code) = upload(bytes, Some(TOKEN), 1 << 20);
        if status != StatusCode::SERVICE_UNAVAILABLE {
            assert_refused(status, code.as_deref());
        }
    }
}
