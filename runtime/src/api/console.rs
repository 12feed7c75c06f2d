//! The web console: a page served at `/` by every runtime, with its scripts and styles under
//! `/console/`. The files live in `runtime/console/` and are embedded in the binary at build
//! time (`include_str!`): no CDN, no build step, no separate server.
//!
//! The console only calls the public API (`/v1/...` and `/metrics`) from the browser; it holds
//! no state of its own here. Reads need no token, as for any client; mutations send the token
//! the user typed, which the page keeps in the browser tab's `sessionStorage`.
//! See `runtime/console/README.md` for how the page is organised.

use super::error::ApiError;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// One embedded file: its name under `/console/`, content type and text.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console.
const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../console/console.css"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("../../console/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_str!("../../console/api.js"),
    },
    Asset {
        name: "charts.js",
        content_type: JS,
        body: include_str!("../../console/charts.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        body: include_str!("../../console/dom.js"),
    },
    Asset {
        name: "rates.js",
        content_type: JS,
        body: include_str!("../../console/rates.js"),
    },
    Asset {
        name: "actions.js",
        content_type: JS,
        body: include_str!("../../console/actions.js"),
    },
    Asset {
        name: "jobs.js",
        content_type: JS,
        body: include_str!("../../console/jobs.js"),
    },
    Asset {
        name: "job.js",
        content_type: JS,
        body: include_str!("../../console/job.js"),
    },
    Asset {
        name: "modules.js",
        content_type: JS,
        body: include_str!("../../console/modules.js"),
    },
    Asset {
        name: "runtimes.js",
        content_type: JS,
        body: include_str!("../../console/runtimes.js"),
    },
];

const INDEX: &str = include_str!("../../console/index.html");

/// The headers every console response carries: no caching across Weir versions, and a content
/// security policy that allows the page's own files and the API only.
fn respond(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /`: the console's page.
pub async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX)
}

/// `GET /console/{file}`: one of the console's scripts or its stylesheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(asset) => respond(asset.content_type, asset.body),
        None => {
            ApiError::not_found("no_such_file", format!("the console has no file `{file}`")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for asset in ASSETS {
            for line in asset.body.lines().filter(|l| l.starts_with("import ")) {
                let Some(from) = line.split('"').nth(1) else {
                    continue;
                };
                let name = from.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} imports {from}, which is not embedded",
                    asset.name
                );
            }
        }
        for asset in ["console.css", "app.js"] {
            assert!(INDEX.contains(&format!("/console/{asset}")), "{asset}");
        }
    }
}
