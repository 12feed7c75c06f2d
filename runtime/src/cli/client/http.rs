//! One blocking HTTP call per request to a server's v1 API (`ureq`: no async runtime to start
//! for one request, rustls for `https://` servers): the base path, the bearer token on
//! changes, the response read within a limit and its JSON decoded. Failures become the errors
//! of [`error`](super::error).

use super::endpoint::{ClientArgs, Endpoint, resolve};
use super::error::{decode_error, unreachable_message};
use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use ureq::http;

/// The largest response body read (a long job list with statuses is far below this).
const MAX_RESPONSE: u64 = 64 << 20;

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
    pub(super) agent: ureq::Agent,
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

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/v1{path}", self.endpoint.server)
    }

    pub(super) fn bearer(&self) -> Option<String> {
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

    /// Turns a transport failure into "cannot reach", an error status into [`ApiError`](super::ApiError), and a
    /// success into a [`Reply`].
    pub(super) fn finish(&self, result: Result<http::Response<ureq::Body>, ureq::Error>) -> Result<Reply> {
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

#[cfg(test)]
mod tests {
    use super::super::endpoint::Source;
    use super::super::error::Unreachable;
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("word-count_v1.2~x"), "word-count_v1.2~x");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment("é"), "%C3%A9");
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
