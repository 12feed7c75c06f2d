//! What a job spec sent to the API must be, checked before anything is written: it decodes
//! (with an error naming the field and the problem, never a parser's position), its limits are
//! within the pool's `max_limits` (said in units: `100 GiB`, not bytes), and its input topics
//! exist. Module refs and revisions are `jobs.rs`'s.

use super::error::{ApiError, ApiResult};
use crate::config::{JobConfig, LimitsConfig};
use crate::kafka::TopicError;
use crate::kafka::admin::Admin;
use crate::units::{format_bytes, format_duration};
use axum::http::StatusCode;

/// Decodes a job spec, with an error that names the field and what is wrong with it
/// (`limits.memory: `lots` is not a size like 64MiB`), never a parser's line and column.
pub fn decode_spec(body: &[u8]) -> ApiResult<JobConfig> {
    let invalid =
        |why: String| ApiError::bad_request("invalid_job", format!("the job spec is not valid: {why}"));
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("it is not JSON ({e})")))?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let field = err.path().to_string();
        invalid(field_problem(&field, &err.inner().to_string()))
    })
}

/// serde's message about `field` (a path like `limits.memory`, `.` for the spec itself) as a
/// sentence naming the field.
fn field_problem(field: &str, message: &str) -> String {
    const FIELDS: &str = "name, module, input, output, window, dead_letters, out_of_orderness, \
        lateness, idle_timeout, time, shuffle, reduce_partitions, batch_size, commit_interval, limits";
    if let Some(missing) = message.strip_prefix("missing field ") {
        return format!("{missing} is missing");
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let unknown = rest.split(',').next().unwrap_or(rest);
        // The path ends with the unknown field itself.
        let field = field.rsplit_once('.').map_or(".", |(parent, _)| parent);
        let within = if field == "." {
            format!("a job spec has {FIELDS}")
        } else if field == "limits" {
            "limits has memory, timeout and max_output".to_string()
        } else {
            format!("in `{field}`")
        };
        return format!("unknown field {unknown} ({within})");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((got, want)) = rest.split_once(", expected ")
    {
        let want = match want {
            "usize" | "u64" | "u32" | "u16" | "u8" | "i64" | "i32" => "a whole number",
            "a boolean" => "true or false",
            "a sequence" => "a list",
            w if w.starts_with("struct ") => "an object",
            w => w,
        };
        return format!("`{field}` must be {want}, not {got}");
    }
    if field == "." {
        message.to_string()
    } else {
        format!("`{field}`: {message}")
    }
}

/// Refuses limits above what the operator allows (`max_limits`), in units people read.
pub fn check_limits(asked: &LimitsConfig, max: &LimitsConfig) -> ApiResult<()> {
    let over = |what: &str, asked: String, max: String| {
        Err(ApiError::bad_request(
            "limits_exceeded",
            format!("the job asks for {what} = {asked}, above this pool's maximum of {max} (max_limits)"),
        ))
    };
    let bytes = |n: usize| format_bytes(u64::try_from(n).unwrap_or(u64::MAX));
    if asked.memory > max.memory {
        return over("memory", bytes(asked.memory), bytes(max.memory));
    }
    if asked.timeout > max.timeout {
        return over(
            "timeout",
            format_duration(asked.timeout),
            format_duration(max.timeout),
        );
    }
    if asked.max_output > max.max_output {
        return over("max_output", bytes(asked.max_output), bytes(max.max_output));
    }
    Ok(())
}

/// Refuses input topics the brokers do not know: a typo would otherwise make a job that waits
/// for its topic forever (or, on a broker that creates topics on first use, reads an empty
/// one). The lookup never creates a topic.
pub fn check_inputs(admin: &Admin, inputs: &[String]) -> ApiResult<()> {
    for topic in inputs {
        match admin.topic(topic) {
            Ok(_) => {}
            Err(TopicError::Missing { .. }) => {
                return Err(ApiError::not_found(
                    "topic_not_found",
                    format!(
                        "input topic `{topic}` does not exist: check its name, or create it first \
                         (`weir produce --create --topic {topic}`, or the Kafka cluster's own tools)"
                    ),
                ));
            }
            Err(err) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "brokers_unavailable",
                    format!(
                        "cannot check input topic `{topic}`: {err}; retry once the Kafka brokers are reachable"
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn problem(body: &str) -> String {
        match decode_spec(body.as_bytes()) {
            Ok(spec) => panic!("decoded: {spec:?}"),
            Err(err) => {
                assert_eq!((err.status, err.code), (StatusCode::BAD_REQUEST, "invalid_job"));
                err.message
            }
        }
    }

    const GOOD: &str = r#""name":"wc","module":"m","input":["in"],"output":"out","window":"tumbling:10s""#;

    #[test]
    fn a_bad_spec_names_the_field_and_the_problem_never_a_parser_position() {
        for (extra, expected) in [
            (
                r#","limits":{"memory":"lots"}"#,
                "`limits.memory`: `lots` is not a size like 64MiB",
            ),
            (
                r#","limits":{"timeout":"soon"}"#,
                "`limits.timeout`: `soon` is not a duration like 10s, 500ms or 1m",
            ),
            (
                r#","batch_size":"many""#,
                "`batch_size` must be a whole number, not string \"many\"",
            ),
            (
                r#","shuffle":"yes""#,
                "`shuffle` must be true or false, not string \"yes\"",
            ),
            (r#","lateness":5"#, "`lateness` must be a string, not integer `5`"),
            (
                r#","windw":"x""#,
                "unknown field `windw` (a job spec has name, module",
            ),
            (
                r#","limits":{"memroy":1}"#,
                "unknown field `memroy` (limits has memory, timeout and max_output)",
            ),
        ] {
            let message = problem(&format!("{{{GOOD}{extra}}}"));
            assert!(message.contains(expected), "{extra}: {message}");
            assert!(
                !message.contains("line 1") && !message.contains(" at 0"),
                "{message}"
            );
        }
        let message = problem(r#"{"name":"wc","module":"m","input":["in"]}"#);
        assert!(message.ends_with("`output` is missing"), "{message}");
        let window = problem(&format!("{{{}}}", GOOD.replace("tumbling:10s", "tumbling:soon")));
        assert!(
            window.contains("`window`: invalid window `tumbling:soon`"),
            "{window}"
        );
        assert!(problem("{not json").contains("it is not JSON"));
    }

    #[test]
    fn limits_over_the_maximum_print_in_units() {
        let max = LimitsConfig {
            memory: 512 << 20,
            timeout: Duration::from_secs(30),
            max_output: 256 << 20,
        };
        let asked = LimitsConfig {
            memory: 100 << 30,
            ..max
        };
        let err = check_limits(&asked, &max).expect_err("over");
        assert_eq!(
            err.message,
            "the job asks for memory = 100 GiB, above this pool's maximum of 512 MiB (max_limits)"
        );
        let asked = LimitsConfig {
            timeout: Duration::from_secs(90),
            ..max
        };
        let err = check_limits(&asked, &max).expect_err("over");
        assert!(
            err.message
                .contains("timeout = 1m 30s, above this pool's maximum of 30s"),
            "{}",
            err.message
        );
    }
}
