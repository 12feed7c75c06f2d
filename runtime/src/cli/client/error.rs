//! What a request that failed says: the server's error decoded from its v1 shape
//! (`error: module_in_use: ...`), or, when no answer came, which server could not be reached,
//! where its URL came from and how to point the client elsewhere.

use super::endpoint::Endpoint;
use serde::Deserialize;
use ureq::http::StatusCode;

/// An error the server returned: its status, code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The stable snake_case code, e.g. `module_in_use`.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

/// The v1 error body: `{"error": {"code": ..., "message": ...}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorFields,
}

#[derive(Deserialize)]
struct ErrorFields {
    code: String,
    #[serde(default)]
    message: String,
}

/// Decodes an error response. A body in the API's error shape gives its code and message; any
/// other body (a proxy's HTML page, plain text) gets a code from the status and its first line.
pub fn decode_error(status: u16, body: &[u8]) -> ApiError {
    if let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) {
        return ApiError {
            status,
            code: error.code,
            message: error.message,
        };
    }
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unexpected status");
    let code = reason
        .chars()
        .filter_map(|c| match c {
            ' ' | '-' => Some('_'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let text = String::from_utf8_lossy(body);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut message = format!("HTTP {status} {reason}");
    if !first.is_empty() {
        let cut: String = first.chars().take(200).collect();
        message.push_str(&format!(": {cut}"));
    }
    ApiError {
        status,
        code,
        message,
    }
}

/// Why a request never got an answer, naming the server, where its URL came from, and how to
/// point the client elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot reach the Weir server at {server} ({origin}): {reason}. Is `weir serve` running there? \
     Point the client at it with --server URL, WEIR_SERVER, or `server = \"URL\"` in {config}"
)]
pub struct Unreachable {
    /// The server's URL.
    pub server: String,
    /// Where that URL came from.
    pub origin: String,
    /// The transport's reason.
    pub reason: String,
    /// The client config file.
    pub config: String,
}

/// The [`Unreachable`] error for `endpoint`.
pub fn unreachable_message(endpoint: &Endpoint, reason: &str) -> Unreachable {
    Unreachable {
        server: endpoint.server.clone(),
        origin: endpoint.server_source.to_string(),
        reason: reason.to_string(),
        config: endpoint.config_path.as_ref().map_or_else(
            || "~/.config/weir/config.toml".to_string(),
            |p| p.display().to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::endpoint::Source;
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn api_errors_decode_to_code_and_message() {
        let body =
            br#"{"error": {"code": "module_in_use", "message": "used by job wc; delete the job first"}}"#;
        let err = decode_error(409, body);
        assert_eq!(err.code, "module_in_use");
        assert_eq!(err.status, 409);
        assert_eq!(
            err.to_string(),
            "module_in_use: used by job wc; delete the job first"
        );
    }

    #[test]
    fn other_error_bodies_get_a_code_from_the_status() {
        let err = decode_error(
            502,
            b"<html>\n<head><title>502 Bad Gateway</title></head>\n</html>",
        );
        assert_eq!(err.code, "bad_gateway");
        assert_eq!(err.message, "HTTP 502 Bad Gateway: <html>");
        let err = decode_error(413, b"");
        assert_eq!(err.to_string(), "payload_too_large: HTTP 413 Payload Too Large");
        let err = decode_error(404, br#"{"error": "not the v1 shape"}"#);
        assert_eq!(err.code, "not_found");
        let err = decode_error(599, b"weird");
        assert_eq!(err.code, "unexpected_status");
    }

    #[test]
    fn an_unreachable_server_is_named_with_how_to_change_it() {
        let endpoint = Endpoint {
            server: "http://localhost:8080".into(),
            server_source: Source::Default,
            token: None,
            config_path: Some(PathBuf::from("/home/u/.config/weir/config.toml")),
        };
        let text = unreachable_message(&endpoint, "Connection refused").to_string();
        assert!(
            text.starts_with("cannot reach the Weir server at http://localhost:8080 (the default)"),
            "{text}"
        );
        for hint in [
            "--server",
            "WEIR_SERVER",
            "/home/u/.config/weir/config.toml",
            "Connection refused",
        ] {
            assert!(text.contains(hint), "{hint} missing from: {text}");
        }
    }
}
