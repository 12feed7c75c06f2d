//! `GET /v1/jobs/{name}/logs`: the recent log lines of a job's guests, from every runtime of
//! the pool, read from the job's logs topic (see [`crate::job::guest_log`]).

use super::error::{ApiError, ApiResult};
use super::jobs::{job_not_found, parts};
use super::{ApiState, blocking};
use crate::job::guest_log::LogLine;
use crate::kafka::topic_reader::{Cursor, TopicReader, format_cursor, parse_cursor};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Lines returned when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;
/// The most a request returns.
const MAX_LIMIT: usize = 1000;

/// `GET /v1/jobs/{name}/logs`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogList {
    /// The job.
    pub job: String,
    /// Its logs topic.
    pub topic: String,
    /// The lines, oldest first.
    pub lines: Vec<LogLine>,
    /// Pass as `after` to get the lines written since (`partition:offset,...`).
    pub next: String,
}

/// Query of a log read.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct LogQuery {
    /// How many (the newest), 1 to 1000; default 100.
    pub limit: Option<String>,
    /// Only the lines after this cursor (a read's `next`), oldest first: how to follow them.
    pub after: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request("invalid_filter", message)
}

fn unreadable(topic: &str, err: &anyhow::Error) -> ApiError {
    let message = format!("{err:#}");
    if message.contains("does not exist") {
        ApiError::not_found(
            "topic_not_found",
            format!(
                "the job's logs topic `{topic}` does not exist yet: the job has not started \
                 anywhere since it got one (it is created when the job starts)"
            ),
        )
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "brokers_unavailable",
            format!("cannot read the logs topic `{topic}`: {message}; retry once the brokers are reachable"),
        )
    }
}

/// Reads the lines of `[start, end)` of every partition; the ends read.
fn read(
    reader: &TopicReader,
    start: impl Fn(i32, i64, i64) -> i64,
) -> anyhow::Result<(Vec<LogLine>, Cursor)> {
    let mut lines = Vec::new();
    let mut next = Cursor::new();
    for (partition, (low, high)) in reader.bounds()? {
        let from = start(partition, low, high).clamp(low, high);
        reader.range(partition, from, high, &mut |message| {
            if let Some(line) =
                rdkafka::Message::payload(message).and_then(|v| serde_json::from_slice::<LogLine>(v).ok())
            {
                lines.push(line);
            }
        })?;
        next.insert(partition, high);
    }
    lines.sort_by(|a, b| a.at.cmp(&b.at));
    Ok((lines, next))
}

/// A job's recent guest log lines, from every runtime, oldest first.
#[utoipa::path(get, path = "/v1/jobs/{name}/logs", tag = "jobs",
    params(("name" = String, Path), LogQuery),
    responses((status = 200, body = LogList),
        (status = 400, description = "`invalid_filter`", body = super::error::ErrorBody),
        (status = 404, description = "`job_not_found`, `topic_not_found` (the job never started)", body = super::error::ErrorBody),
        (status = 503, description = "`brokers_unavailable`", body = super::error::ErrorBody)))]
pub async fn logs(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> ApiResult<Json<LogList>> {
    let (registry, _) = parts(&state)?;
    blocking(move || {
        let topic = match state.file_jobs.iter().find(|j| j.name == name) {
            Some(spec) => spec.logs_topic(),
            None => registry
                .read()
                .job(&name)
                .map(|r| r.spec.logs_topic())
                .ok_or_else(|| job_not_found(&name))?,
        };
        let limit = match query.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "`limit`: `{text}` is not a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?,
        };
        let reader = TopicReader::new(registry.brokers(), &topic).map_err(|e| unreadable(&topic, &e))?;
        let back = i64::try_from(limit).unwrap_or(i64::MAX);
        let following = query.after.is_some();
        let (mut lines, next) = match query.after.as_deref() {
            Some(after) => {
                let cursor = parse_cursor(after).ok_or_else(|| {
                    bad(format!(
                        "`after`: `{after}` is not a cursor (`partition:offset,...`, a read's `next`)"
                    ))
                })?;
                read(&reader, |p, low, _| cursor.get(&p).copied().unwrap_or(low))
            }
            None => read(&reader, |_, _, high| high.saturating_sub(back)),
        }
        .map_err(|e| unreadable(&topic, &e))?;
        if !following {
            let skip = lines.len().saturating_sub(limit);
            lines.drain(..skip);
        }
        Ok(Json(LogList {
            job: name,
            topic,
            lines,
            next: format_cursor(&next),
        }))
    })
    .await
}
