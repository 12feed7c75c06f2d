//! `/v1/jobs/{name}/dead-letters`: a job's recent dead letters, read from its dead-letter topic
//! (why, where the record came from, a printable head of it), and their replay into the job's
//! input once its module is fixed (`POST .../dead-letters/replay`, see [`crate::job::replay`]).

use super::error::{ApiError, ApiResult};
use super::jobs::{api_record, job_not_found, now, parts, save};
use super::{ApiState, MAX_SPEC, blocking, read_body};
use crate::job::replay::{self, ReplayError, ReplayJob, ReplayOutcome, Replayed};
use crate::kafka::dead_letter_reader::{
    self, DeadLetterReader, Filter, StoredDeadLetter, format_cursor, parse_cursor,
};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use utoipa::{IntoParams, ToSchema};

/// Dead letters listed when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;
/// The most a list returns.
const MAX_LIMIT: usize = 1000;
/// How far back (records per partition) a list looks for matches.
const MAX_SCAN: i64 = 100_000;
/// Characters of a key or value shown.
const HEAD: usize = 200;
/// Every `weir.reason` a dead letter may have.
pub const REASONS: &[&str] = &[
    "rejected",
    "late",
    "timeout",
    "memory_limit",
    "output_limit",
    "panic",
    "trap",
    "contract",
    "undecodable",
    "too_large",
];

/// Where a dead letter's record was read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceView {
    /// The input topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// A dead letter as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    /// Its partition in the dead-letter topic.
    pub partition: i32,
    /// Its offset in the dead-letter topic.
    pub offset: i64,
    /// When it was set aside (RFC 3339, ms), or the record's time for older dead letters.
    pub at: Option<String>,
    /// `weir.reason`: `rejected`, `late`, `timeout`, `memory_limit`, `output_limit`, `panic`,
    /// `trap`, `contract`, `undecodable`, `too_large`.
    pub reason: String,
    /// `weir.stage`: `map`, `window`, `reduce`, `finish`, `shuffle`, `sink`.
    pub stage: Option<String>,
    /// `weir.error`: the module's message, the limit, the watermark.
    pub error: Option<String>,
    /// `weir.module`: the id of the module that ran.
    pub module: Option<String>,
    /// Where the record was read (absent for a window whose finish failed, or a record Weir
    /// meant to write).
    pub source: Option<SourceView>,
    /// The record's timestamp (RFC 3339, ms).
    pub timestamp: Option<String>,
    /// `weir.window`: `start,end` in ms, for a (window, key) whose finish failed.
    pub window: Option<String>,
    /// The key, printable (bytes that are not UTF-8 escaped as `\xNN`), its head.
    pub key: Option<String>,
    /// The value, printable, its first 200 characters.
    pub value: Option<String>,
    /// The value's size in bytes.
    pub value_bytes: usize,
    /// Whether `value` shows only the head of the value.
    pub value_truncated: bool,
    /// `weir.truncated`: the record was cut to fit the dead-letter topic (what was cut).
    pub truncated: Option<String>,
    /// The original record's headers, printable.
    pub headers: BTreeMap<String, String>,
    /// Whether it was replayed into the input already.
    pub replayed: bool,
}

/// `GET /v1/jobs/{name}/dead-letters`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterList {
    /// The job.
    pub job: String,
    /// Its dead-letter topic.
    pub topic: String,
    /// The dead letters, oldest first.
    pub dead_letters: Vec<DeadLetterView>,
    /// Pass as `after` to get the dead letters written since (`partition:offset,...`).
    pub next: String,
    /// Whether older ones (that the filter keeps) were left out.
    pub more: bool,
}

/// Query of a dead-letter list.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ListQuery {
    /// How many (the newest), 1 to 1000; default 100.
    pub limit: Option<String>,
    /// Only these reasons, comma-separated (`rejected,panic`).
    pub reason: Option<String>,
    /// Only those set aside since: a duration back from now (`10m`), an RFC 3339 time or ms
    /// since the epoch.
    pub since: Option<String>,
    /// Only those after this cursor (a list's `next`), oldest first: how to follow the topic.
    pub after: Option<String>,
}

/// Body of a replay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayRequest {
    /// Only these reasons, comma-separated (default: every reason but `late`).
    pub reason: Option<String>,
    /// Only those set aside since (a duration back from now, RFC 3339 or ms).
    pub since: Option<String>,
    /// Say what would be replayed, publish nothing.
    pub dry_run: bool,
}

/// What a replay did, and the job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplayView {
    /// The job.
    pub job: String,
    /// What was replayed and skipped.
    #[serde(flatten)]
    pub outcome: ReplayOutcome,
}

fn bad_filter(message: String) -> ApiError {
    ApiError::bad_request("invalid_filter", message)
}

/// Parses `since`: a duration back from now, an RFC 3339 time or ms since the epoch.
fn parse_since(text: &str) -> ApiResult<i64> {
    if let Ok(back) = crate::units::parse_duration(text) {
        let at = SystemTime::now()
            .checked_sub(back)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        return Ok(i64::try_from(at.as_millis()).unwrap_or(i64::MAX));
    }
    crate::units::parse_timestamp(text).map_err(|_| {
        bad_filter(format!(
            "`since`: `{text}` is not a duration back from now (10m), an RFC 3339 time \
             (2026-11-27T18:00:00Z) or ms since the epoch"
        ))
    })
}

/// The filter of `reason` and `since`, checked.
fn filter(reason: Option<&str>, since: Option<&str>) -> ApiResult<Filter> {
    let reasons: Vec<String> = reason
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(unknown) = reasons.iter().find(|r| !REASONS.contains(&r.as_str())) {
        return Err(bad_filter(format!(
            "`reason`: `{unknown}` is not a dead-letter reason; reasons are {}",
            REASONS.join(", ")
        )));
    }
    Ok(Filter {
        reasons,
        since: since.map(parse_since).transpose()?,
    })
}

/// Bytes as printable text: UTF-8 as it is (control characters escaped), other bytes as
/// `\xNN`; at most `HEAD` characters, and whether it was cut.
pub fn printable(bytes: &[u8]) -> (String, bool) {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text
            .chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect::<String>(),
        Err(_) => bytes.escape_ascii().to_string(),
    };
    let cut = text.chars().count() > HEAD;
    (text.chars().take(HEAD).collect(), cut)
}

fn time(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

/// The view of one dead letter.
pub fn view(dead: &StoredDeadLetter, replayed: &Replayed) -> DeadLetterView {
    let value = dead.value.as_deref().map(printable);
    DeadLetterView {
        partition: dead.partition,
        offset: dead.offset,
        at: dead.at().map(time),
        reason: dead.header("weir.reason").unwrap_or_default(),
        stage: dead.header("weir.stage"),
        error: dead.header("weir.error"),
        module: dead.header("weir.module"),
        source: dead.source().map(|s| SourceView {
            topic: s.topic,
            partition: s.partition,
            offset: s.offset,
        }),
        timestamp: dead.timestamp.map(time),
        window: dead.header("weir.window"),
        key: dead.key.as_deref().map(|k| printable(k).0),
        value_bytes: dead.value.as_ref().map_or(0, Vec::len),
        value_truncated: value.as_ref().is_some_and(|(_, cut)| *cut),
        value: value.map(|(text, _)| text),
        truncated: dead.header("weir.truncated"),
        headers: dead
            .original_headers()
            .map(|(k, v)| (k.clone(), printable(v).0))
            .collect(),
        replayed: replayed.contains(dead.partition, dead.offset),
    }
}

/// The dead-letter topic of job `name` (an API or a config-file job) and what it replayed.
fn job_topic(state: &ApiState, name: &str) -> ApiResult<(String, Replayed)> {
    if let Some(spec) = state.file_jobs.iter().find(|j| j.name == name) {
        return Ok((spec.dead_letter_topic(), Replayed::default()));
    }
    let services = state.services()?;
    let registry = services.registry.read();
    let record = registry.job(name).ok_or_else(|| job_not_found(name))?;
    Ok((
        record.spec.dead_letter_topic(),
        record.replayed_dead_letters.clone(),
    ))
}

fn unreadable(topic: &str, err: &anyhow::Error) -> ApiError {
    let message = format!("{err:#}");
    if message.contains("does not exist") {
        ApiError::not_found(
            "topic_not_found",
            format!(
                "the job's dead-letter topic `{topic}` does not exist yet: the job has not started \
                 anywhere (it is created when the job starts)"
            ),
        )
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "brokers_unavailable",
            format!(
                "cannot read the dead-letter topic `{topic}`: {message}; retry once the brokers are reachable"
            ),
        )
    }
}

/// Lists a job's recent dead letters, oldest first.
#[utoipa::path(get, path = "/v1/jobs/{name}/dead-letters", tag = "jobs",
    params(("name" = String, Path), ListQuery),
    responses((status = 200, body = DeadLetterList),
        (status = 400, description = "`invalid_filter`", body = super::error::ErrorBody),
        (status = 404, description = "`job_not_found`, `topic_not_found` (the job never started)", body = super::error::ErrorBody),
        (status = 503, description = "`brokers_unavailable`", body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<DeadLetterList>> {
    let (registry, _) = parts(&state)?;
    blocking(move || {
        let (topic, replayed) = job_topic(&state, &name)?;
        let limit = match query.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    bad_filter(format!(
                        "`limit`: `{text}` is not a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?,
        };
        let filter = filter(query.reason.as_deref(), query.since.as_deref())?;
        let reader = DeadLetterReader::new(registry.brokers(), &topic).map_err(|e| unreadable(&topic, &e))?;
        let page = match query.after.as_deref() {
            Some(after) => {
                let cursor = parse_cursor(after).ok_or_else(|| {
                    bad_filter(format!(
                        "`after`: `{after}` is not a cursor (`partition:offset,...`, a list's `next`)"
                    ))
                })?;
                dead_letter_reader::after(&reader, &cursor, &filter, limit)
            }
            None => dead_letter_reader::recent(&reader, &filter, limit, MAX_SCAN),
        }
        .map_err(|e| unreadable(&topic, &e))?;
        Ok(Json(DeadLetterList {
            job: name,
            dead_letters: page.dead_letters.iter().map(|d| view(d, &replayed)).collect(),
            topic,
            next: format_cursor(&page.next),
            more: page.more,
        }))
    })
    .await
}

/// Replays a job's dead letters into its input topics, with their original keys, values,
/// timestamps and headers: those whose records no module of the job will read again, once the
/// module that refused them has been replaced (see the docs). None is replayed twice.
#[utoipa::path(post, path = "/v1/jobs/{name}/dead-letters/replay", tag = "jobs",
    params(("name" = String, Path)),
    request_body(content = ReplayRequest, description = "optional: reason, since, dry_run"),
    responses((status = 200, body = ReplayView),
        (status = 400, description = "`invalid_filter`, `bad_body`", body = super::error::ErrorBody),
        (status = 404, description = "`job_not_found`, `topic_not_found`", body = super::error::ErrorBody),
        (status = 409, description = "`job_defined_in_config`, `revision_starting`", body = super::error::ErrorBody),
        (status = 503, description = "`brokers_unavailable`", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ReplayView>> {
    state.auth.check(&headers)?;
    let body = read_body(body, MAX_SPEC, "replay request").await?;
    let request: ReplayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReplayRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "bad_body",
                format!("a replay request is {{\"reason\", \"since\", \"dry_run\"}}: {e}"),
            )
        })?
    };
    let filter = filter(request.reason.as_deref(), request.since.as_deref())?;
    let (registry, _) = parts(&state)?;
    blocking(move || {
        let _writing = registry.lock();
        let mut record = api_record(&state, &registry, &name, |name| {
            ApiError::conflict(
                "job_defined_in_config",
                format!(
                    "job `{name}` comes from a runtime's config file: the registry cannot record \
                     which of its dead letters were replayed, so they are not replayed from here \
                     (create the job over the API to replay them; `weir dead-letters list {name}` \
                     shows them)"
                ),
            )
        })?;
        let module = record.module();
        let job = ReplayJob {
            brokers: registry.brokers(),
            inputs: &record.spec.input,
            module: &module,
            paused: record.paused,
            dead_letter_topic: record.spec.dead_letter_topic(),
            progress_topic: record.spec.progress_topic(),
        };
        let mut replayed = record.replayed_dead_letters.clone();
        let outcome =
            replay::replay(&job, &filter, &mut replayed, request.dry_run).map_err(|err| match err {
                ReplayError::RevisionStarting(_) => {
                    ApiError::conflict("revision_starting", format!("{name}: {err}"))
                }
                ReplayError::Kafka(err) => unreadable(&job.dead_letter_topic, &err),
            })?;
        if replayed != record.replayed_dead_letters {
            record.replayed_dead_letters = replayed;
            record.updated_at = now();
            save(&registry, &record)?;
        }
        tracing::info!(job = name, replayed = outcome.replayed, "dead letters replayed");
        Ok(Json(ReplayView { job: name, outcome }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_text_with_escapes_and_a_head() {
        assert_eq!(printable(b"reject"), ("reject".to_string(), false));
        assert_eq!(printable(b"a\nb"), ("a\\nb".to_string(), false));
        assert_eq!(printable(&[0xff, b'a']), ("\\xffa".to_string(), false));
        let (head, cut) = printable(&[b'x'; 500]);
        assert_eq!((head.len(), cut), (HEAD, true));
    }

    #[test]
    fn filters_refuse_unknown_reasons_and_times_with_the_choices() {
        let err = filter(Some("rejected,rejectd"), None).expect_err("a typo");
        assert_eq!(err.code, "invalid_filter");
        assert!(
            err.message.contains("rejectd") && err.message.contains("late"),
            "{}",
            err.message
        );
        let err = filter(None, Some("last tuesday")).expect_err("not a time");
        assert!(err.message.contains("10m"), "{}", err.message);
        let kept = filter(Some("rejected, panic"), Some("10m")).expect("a filter");
        assert_eq!(kept.reasons, vec!["rejected", "panic"]);
        let ten_minutes_ago = i64::try_from(
            (SystemTime::now() - Duration::from_secs(600))
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(0);
        assert!(kept.since.is_some_and(|s| (s - ten_minutes_ago).abs() < 5_000));
    }
}
