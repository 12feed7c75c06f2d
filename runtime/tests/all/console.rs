//! The web console as the router serves it, without a broker: the page at `/`, its embedded
//! scripts under `/console/` with their content types and a content security policy, a 404
//! JSON error for an unknown file, `GET /v1/runtime`, which the console's Runtimes page reads
//! (whether mutations need a token), and `GET /v1/runtimes`, a JSON 503 until the brokers are
//! reached.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;
use weir::api::{ApiState, auth::Auth, router};
use weir::config::ServeConfig;
use weir::engine::Engine;

/// GETs `path` from a router whose token is `token`; the status, content type and body.
fn get(path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let config = ServeConfig::default();
    let state = Arc::new(ApiState {
        services: OnceLock::new(),
        engine: Arc::new(Engine::new().expect("the engine starts")),
        auth: Auth::new(token),
        max_upload: config.max_upload,
        max_limits: config.max_limits,
        file_jobs: Vec::new(),
        ready: Arc::new(AtomicBool::new(false)),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let request = Request::get(path).body(Body::empty()).expect("a request");
        let response = router(state).oneshot(request).await.expect("a response");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let csp = response.headers().get(header::CONTENT_SECURITY_POLICY).is_some();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        let body = String::from_utf8_lossy(&body).into_owned();
        let marked = if csp { format!("csp\n{body}") } else { body };
        (status, content_type, marked)
    })
}

#[test]
fn the_console_page_and_its_scripts_are_served_from_the_binary() {
    let (status, content_type, body) = get("/", None);
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        body.starts_with("csp\n"),
        "no content security policy on the page"
    );
    assert!(
        body.contains("/console/app.js") && body.contains("<main"),
        "{body}"
    );
    for (file, kind) in [
        ("app.js", "text/javascript"),
        ("console.css", "text/css"),
        ("job.js", "text/javascript"),
    ] {
        let (status, content_type, body) = get(&format!("/console/{file}"), None);
        assert_eq!(status, StatusCode::OK, "{file}");
        assert!(content_type.starts_with(kind), "{file}: {content_type}");
        assert!(body.len() > 100, "{file} is empty");
    }
    let (status, _, body) = get("/console/secrets.txt", None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no_such_file"), "{body}");
    let (status, _, body) = get("/console/../Cargo.toml", None);
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[test]
fn the_runtime_endpoint_says_whether_changes_need_a_token() {
    let (status, _, body) = get("/v1/runtime", Some("s3cret"));
    assert_eq!(status, StatusCode::OK, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(info["token_required"], true, "{info}");
    assert_eq!(info["registry"], false, "no broker here: {info}");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"), "{info}");
    let (_, _, body) = get("/v1/runtime", None);
    assert!(body.contains("\"token_required\":false"), "{body}");
}

#[test]
fn before_the_brokers_are_reached_the_runtime_list_is_a_json_error() {
    let (status, _, body) = get("/v1/runtimes", None);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["error"]["code"], "registry_unavailable", "{body}");
}
