//! `weir module upload`'s request: the component's bytes streamed to `POST /v1/modules`, with
//! a progress bar for a large file when stderr is a terminal.

use super::http::{Client, Reply};
use anyhow::{Context, Result};
use std::io::{IsTerminal, Read};
use std::path::Path;

/// Uploads at least this big get a progress bar (when stderr is a terminal).
const PROGRESS_FROM: u64 = 1 << 20;

impl Client {
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
}
