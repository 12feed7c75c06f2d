//! The control-plane client under `weir module` and `weir job`: where the server URL and the
//! token come from, one blocking HTTP call per request, and the server's errors decoded into
//! what the user reads (`error: module_in_use: ...`).
//!
//! Precedence, highest first: `--server`/`--token`, then `WEIR_SERVER`/`WEIR_TOKEN`, then the
//! client config file (`$WEIR_CLIENT_CONFIG`, else `$XDG_CONFIG_HOME/weir/config.toml`, else
//! `~/.config/weir/config.toml`, with `server = "..."` and `token = "..."`), then
//! `http://localhost:8080` and no token.
//!
//! This file knows the API's base path, its auth header and its error shape (v1); it does not
//! know modules or jobs (`module.rs`, `job.rs`). HTTP is `ureq`: blocking, no async runtime to
//! start for one request, rustls for `https://` servers.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;
use ureq::http::{self, StatusCode};

/// The server a client talks to when nothing says otherwise.
pub const DEFAULT_SERVER: &str = "http://localhost:8080";

/// Uploads at least this big get a progress bar (when stderr is a terminal).
const PROGRESS_FROM: u64 = 1 << 20;

/// The largest response body read (a long job list with statuses is far below this).
const MAX_RESPONSE: u64 = 64 << 20;

/// How to reach the server: flags shared by every `weir module` and `weir job` command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientArgs {
    /// URL of a `weir serve` runtime's API [default: http://localhost:8080].
    /// Also WEIR_SERVER, or `server = "URL"` in the client config file.
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token for changes (uploads, creates, updates, deletes). Also WEIR_TOKEN, or
    /// `token = "..."` in the client config file (both better than the flag, which `ps` shows).
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// The client config file: `server` and `token`, both optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The server's URL.
    pub server: Option<String>,
    /// The API token.
    pub token: Option<String>,
}

/// Where a setting came from, so that messages say which knob to turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The client config file.
    File(PathBuf),
    /// Nothing set it.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("from the command line"),
            Source::Env(var) => write!(f, "from {var}"),
            Source::File(path) => write!(f, "from {}", path.display()),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// The server and token a command uses, and where each came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL without a trailing slash, e.g. `http://localhost:8080`.
    pub server: String,
    /// Where `server` came from.
    pub server_source: Source,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// Where the config file is (or would be), for messages.
    pub config_path: Option<PathBuf>,
}

/// The client config file's path, and whether the user named it (then it must exist).
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
    if let Some(path) = env("WEIR_CLIENT_CONFIG") {
        return Some((PathBuf::from(path), true));
    }
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some((base.join("weir").join("config.toml"), false))
}

/// Reads the client config file: `None` when the default file does not exist, an error when a
/// named one does not, or when either does not parse.
pub fn load_config(path: &Path, named: bool) -> Result<Option<ClientConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !named => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "cannot read the client config file {} (named by WEIR_CLIENT_CONFIG)",
                    path.display()
                )
            });
        }
    };
    let config = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid client config (expected `server = \"URL\"` and `token = \"...\"`)",
            path.display()
        )
    })?;
    Ok(Some(config))
}

/// Resolves the server and token: flags, then environment, then the config file, then the
/// default. `env` reads an environment variable (empty counts as unset).
pub fn resolve(args: &ClientArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let located = config_path(&env);
    let file = match &located {
        Some((path, named)) => load_config(path, *named)?,
        None => None,
    };
    let file_path = || located.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let (server, server_source) = if let Some(s) = &args.server {
        (s.clone(), Source::Flag)
    } else if let Some(s) = env("WEIR_SERVER") {
        (s, Source::Env("WEIR_SERVER"))
    } else if let Some(s) = file.as_ref().and_then(|f| f.server.clone()) {
        (s, Source::File(file_path()))
    } else {
        (DEFAULT_SERVER.to_string(), Source::Default)
    };
    let token = args
        .token
        .clone()
        .or_else(|| env("WEIR_TOKEN"))
        .or_else(|| file.as_ref().and_then(|f| f.token.clone()))
        .filter(|t| !t.is_empty());
    if token
        .as_deref()
        .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_graphic()))
    {
        bail!(
            "the API token has spaces or characters an HTTP header cannot carry; check --token, WEIR_TOKEN or the client config file"
        );
    }
    Ok(Endpoint {
        server: normalize_server(&server).with_context(|| format!("server `{server}` ({server_source})"))?,
        server_source,
        token,
        config_path: located.map(|(p, _)| p),
    })
}

/// `host:port` → `http://host:port`; a trailing slash goes; other schemes are refused.
pub fn normalize_server(server: &str) -> Result<String> {
    let server = server.trim();
    let (scheme, rest) = match server.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
        Some((scheme, _)) => bail!("use an http:// or https:// URL, not `{scheme}://`"),
        None => ("http", server),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        bail!("the server URL `{server}` names no host");
    }
    Ok(format!("{scheme}://{rest}"))
}

/// Percent-encodes one path segment (a module ref or a job name).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

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

/// A successful response: its status and JSON body (`Value::Null` when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status (200, 201, 204).
    pub status: u16,
    /// The decoded body.
    pub body: Value,
}

impl Reply {
    /// The body as `T`, with the request named on failure.
    pub fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_value(self.body.clone())
            .with_context(|| format!("the server's answer to {what} is not what this client expects"))
    }
}

/// A blocking client of one server's v1 API.
pub struct Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
}

impl Client {
    /// A client for the endpoint that flags, environment and config file name.
    pub fn from_args(args: &ClientArgs) -> Result<Self> {
        Ok(Self::new(resolve(args, &|name| std::env::var(name).ok())?))
    }

    /// A client for `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            endpoint,
        }
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1{path}", self.endpoint.server)
    }

    fn bearer(&self) -> Option<String> {
        self.endpoint.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// `GET /v1{path}`.
    pub fn get(&self, path: &str) -> Result<Reply> {
        let request = self.agent.get(self.url(path));
        self.finish(request.call())
    }

    /// `POST`/`PUT /v1{path}` with a JSON body (or none), authenticated.
    pub fn send_json(&self, method: http::Method, path: &str, body: Option<&Value>) -> Result<Reply> {
        let url = self.url(path);
        let mut request = match method {
            http::Method::PUT => self.agent.put(url),
            http::Method::POST => self.agent.post(url),
            other => bail!("internal: {other} does not send JSON"),
        };
        if let Some(bearer) = self.bearer() {
            request = request.header("Authorization", bearer);
        }
        let result = match body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).context("cannot encode the request")?;
                request.content_type("application/json").send(&bytes[..])
            }
            None => request.send_empty(),
        };
        self.finish(result)
    }

    /// `DELETE /v1{path}`, authenticated.
    pub fn delete(&self, path: &str) -> Result<Reply> {
        let mut request = self.agent.delete(self.url(path));
        if let Some(bearer) = self.bearer() {
            request = request.header("Authorization", bearer);
        }
        self.finish(request.call())
    }

    /// `POST /v1/modules[?name=NAME]` with the file's bytes, with a progress bar for a large
    /// file when stderr is a terminal.
    pub fn upload(&self, file: &Path, name: Option<&str>) -> Result<Reply> {
        // `Expect: 100-continue`: a server that refuses the upload from its headers (too large,
        // no token) answers before the body is sent, so the client reads that answer instead
        // of failing on a closed connection halfway through the body.
        let mut request = self
            .agent
            .post(self.url("/modules"))
            .content_type("application/wasm")
            .header("Expect", "100-continue");
        if let Some(name) = name {
            request = request.query("name", name);
        }
        if let Some(bearer) = self.bearer() {
            request = request.header("Authorization", bearer);
        }
        let mut opened =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let len = opened
            .metadata()
            .with_context(|| format!("cannot read {}", file.display()))?
            .len();
        let result = if len >= PROGRESS_FROM && std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(len).with_style(
                indicatif::ProgressStyle::with_template(
                    "uploading {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} {eta}",
                )
                .context("progress bar template")?,
            );
            let reader = bar.wrap_read(opened);
            let result = request
                .header("Content-Length", len.to_string())
                .send(ureq::SendBody::from_owned_reader(reader));
            bar.finish_and_clear();
            result
        } else {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            opened
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {}", file.display()))?;
            request.send(&bytes[..])
        };
        self.finish(result)
    }

    /// Turns a transport failure into "cannot reach", an error status into [`ApiError`], and a
    /// success into a [`Reply`].
    fn finish(&self, result: Result<http::Response<ureq::Body>, ureq::Error>) -> Result<Reply> {
        let mut response = result.map_err(|err| self.unreachable(&err))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|err| self.unreachable(&err))?;
        if status >= 400 {
            let mut error = decode_error(status, &body);
            if status == 401 && self.endpoint.token.is_none() {
                error.message.push_str(
                    " (this client sent no token: set --token, WEIR_TOKEN or `token = \"...\"` in the client config file)",
                );
            }
            return Err(error.into());
        }
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&body).with_context(|| {
                format!(
                    "{} answered HTTP {status} with a body that is not JSON: is it a Weir server?",
                    self.endpoint.server
                )
            })?
        };
        Ok(Reply { status, body })
    }

    fn unreachable(&self, err: &ureq::Error) -> anyhow::Error {
        unreachable_message(&self.endpoint, &err.to_string()).into()
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
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn write_config(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("weir").join("config.toml");
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
        std::fs::write(&path, text).expect("write config");
        path
    }

    #[test]
    fn flags_beat_env_beat_file_beat_default() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_config(dir.path(), "server = \"http://file:1\"\ntoken = \"file-token\"\n");
        let xdg = dir.path().to_str().expect("utf-8 path");
        let flags = ClientArgs {
            server: Some("http://flag:1".into()),
            token: Some("flag-token".into()),
        };
        let full_env = [
            ("XDG_CONFIG_HOME", xdg),
            ("WEIR_SERVER", "http://env:1"),
            ("WEIR_TOKEN", "env-token"),
        ];

        let e = resolve(&flags, &env_of(&full_env)).expect("resolves");
        assert_eq!(
            (e.server.as_str(), e.token.as_deref()),
            ("http://flag:1", Some("flag-token"))
        );
        assert_eq!(e.server_source, Source::Flag);

        let e = resolve(&ClientArgs::default(), &env_of(&full_env)).expect("resolves");
        assert_eq!(
            (e.server.as_str(), e.token.as_deref()),
            ("http://env:1", Some("env-token"))
        );
        assert_eq!(e.server_source, Source::Env("WEIR_SERVER"));

        let e = resolve(&ClientArgs::default(), &env_of(&[("XDG_CONFIG_HOME", xdg)])).expect("resolves");
        assert_eq!(
            (e.server.as_str(), e.token.as_deref()),
            ("http://file:1", Some("file-token"))
        );
        assert_eq!(e.server_source, Source::File(path.clone()));
        assert_eq!(e.config_path, Some(path));

        let empty = tempfile::tempdir().expect("temp dir");
        let e = resolve(
            &ClientArgs::default(),
            &env_of(&[("HOME", empty.path().to_str().expect("utf-8 path"))]),
        )
        .expect("a missing default config file is fine");
        assert_eq!((e.server.as_str(), e.token), (DEFAULT_SERVER, None));
        assert_eq!(e.server_source, Source::Default);
        assert_eq!(e.config_path, Some(empty.path().join(".config/weir/config.toml")));
    }

    #[test]
    fn each_setting_falls_back_on_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_config(dir.path(), "token = \"file-token\"\n");
        let env = env_of(&[
            ("XDG_CONFIG_HOME", dir.path().to_str().expect("utf-8 path")),
            ("WEIR_SERVER", "env:9"),
            ("WEIR_TOKEN", ""),
        ]);
        let e = resolve(&ClientArgs::default(), &env).expect("resolves");
        assert_eq!(e.server, "http://env:9", "a bare host:port gets http://");
        assert_eq!(
            e.token.as_deref(),
            Some("file-token"),
            "an empty WEIR_TOKEN counts as unset"
        );
    }

    #[test]
    fn a_named_config_file_must_exist_and_parse() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope.toml");
        let err = resolve(
            &ClientArgs::default(),
            &env_of(&[("WEIR_CLIENT_CONFIG", missing.to_str().expect("utf-8 path"))]),
        )
        .expect_err("a named file that is missing is an error");
        assert!(format!("{err:#}").contains("nope.toml"), "{err:#}");

        let typo = dir.path().join("typo.toml");
        std::fs::write(&typo, "sever = \"http://x\"\n").expect("write");
        let err = resolve(
            &ClientArgs::default(),
            &env_of(&[("WEIR_CLIENT_CONFIG", typo.to_str().expect("utf-8 path"))]),
        )
        .expect_err("an unknown key is an error");
        assert!(format!("{err:#}").contains("sever"), "{err:#}");

        let named = dir.path().join("named.toml");
        std::fs::write(&named, "server = \"https://weir.example:8443/\"\n").expect("write");
        let e = resolve(
            &ClientArgs::default(),
            &env_of(&[
                ("WEIR_CLIENT_CONFIG", named.to_str().expect("utf-8 path")),
                ("XDG_CONFIG_HOME", "/nonexistent"),
            ]),
        )
        .expect("resolves");
        assert_eq!(e.server, "https://weir.example:8443");
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_refused() {
        let args = ClientArgs {
            server: None,
            token: Some("two words\n".into()),
        };
        let err = resolve(&args, &env_of(&[])).expect_err("refused");
        assert!(err.to_string().contains("token"), "{err}");
    }

    #[test]
    fn server_urls_are_normalized_or_refused() {
        assert_eq!(normalize_server("http://h:8080/").expect("ok"), "http://h:8080");
        assert_eq!(normalize_server("h:8080").expect("ok"), "http://h:8080");
        assert_eq!(normalize_server("https://h").expect("ok"), "https://h");
        assert!(normalize_server("ftp://h").is_err());
        assert!(normalize_server("  ").is_err());
        assert!(normalize_server("http://").is_err());
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("word-count_v1.2~x"), "word-count_v1.2~x");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment("é"), "%C3%A9");
    }

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

    #[test]
    fn a_server_that_is_down_is_reported_as_unreachable() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let client = Client::new(Endpoint {
            server: format!("http://127.0.0.1:{port}"),
            server_source: Source::Flag,
            token: None,
            config_path: None,
        });
        let err = client.get("/modules").expect_err("nothing listens");
        let unreachable = err.downcast_ref::<Unreachable>().expect("an Unreachable error");
        assert_eq!(unreachable.server, format!("http://127.0.0.1:{port}"));
        assert_eq!(unreachable.origin, "from the command line");
    }
}
