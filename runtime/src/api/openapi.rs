//! The OpenAPI document of the API, generated from the handlers' annotations (utoipa) and
//! served at `GET /v1/openapi.json`.

use super::{dead_letters, error, health, jobs, logs, modules, reset, rollback, runtime_info, runtimes};
use crate::job::guest_log::LogLine;
use crate::job::replay::{ReplayOutcome, Skipped};
use crate::job::reset::{MovedPartition, ResetOutcome};
use crate::registry::heartbeat::{HeldJob, HeldStage, RuntimeState};
use crate::registry::spec_diff::SpecChange;
use crate::report::{RunState, RuntimeStatus, StageStatus, StatusError};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Weir", description = "Upload WebAssembly map/reduce modules and run them as jobs on a pool of Weir runtimes over Kafka."),
    paths(
        modules::upload, modules::list, modules::inspect, modules::remove,
        jobs::create, jobs::list, jobs::get, jobs::update, jobs::pause, jobs::resume, rollback::rollback, jobs::remove,
        reset::reset, dead_letters::list, dead_letters::replay, logs::logs,
        health::metrics, health::healthz, health::readyz, runtime_info::info, runtimes::list,
    ),
    components(schemas(
        modules::ModuleView, modules::ModuleList, jobs::JobView, jobs::JobList, jobs::ModuleRef,
        jobs::RevisionView, jobs::JobStatusView, RuntimeStatus, StageStatus, StatusError, RunState,
        error::ErrorBody, error::ErrorDetail,
        reset::ResetRequest, reset::ResetView, ResetOutcome, MovedPartition,
        dead_letters::DeadLetterList, dead_letters::DeadLetterView, dead_letters::SourceView,
        dead_letters::ReplayRequest, dead_letters::ReplayView, ReplayOutcome, Skipped,
        logs::LogList, LogLine, rollback::RollbackRequest, SpecChange, runtime_info::RuntimeInfo,
        runtimes::RuntimeList, runtimes::RuntimeView, RuntimeState, HeldJob, HeldStage,
    )),
    modifiers(&BearerToken),
    tags((name = "modules"), (name = "jobs"), (name = "operations")),
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn schema(name: &str) -> Value {
        let document = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        document["components"]["schemas"][name].clone()
    }

    #[test]
    fn reset_and_dead_letters_are_documented() {
        let document = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        for (path, method) in [
            ("/v1/jobs/{name}/reset", "post"),
            ("/v1/jobs/{name}/dead-letters", "get"),
            ("/v1/jobs/{name}/dead-letters/replay", "post"),
            ("/v1/jobs/{name}/logs", "get"),
            ("/v1/runtime", "get"),
            ("/v1/runtimes", "get"),
        ] {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} is missing"
            );
        }
        let params: Vec<&str> = document["paths"]["/v1/jobs/{name}/dead-letters"]["get"]["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        for name in ["limit", "reason", "since", "after"] {
            assert!(params.contains(&name), "{name} is not documented: {params:?}");
        }
        let stage = &document["components"]["schemas"]["StageStatus"]["properties"];
        for field in ["records_out", "dead_letters", "watermark", "open_windows"] {
            assert!(stage[field].is_object(), "StageStatus.{field} is not documented");
        }
        for schema in [
            "DeadLetterView",
            "ResetView",
            "ReplayView",
            "RuntimeInfo",
            "RuntimeView",
            "HeldJob",
        ] {
            assert!(schema_exists(&document, schema), "{schema}");
        }
    }

    fn schema_exists(document: &Value, name: &str) -> bool {
        document["components"]["schemas"][name].is_object()
    }

    #[test]
    fn a_job_may_have_no_creation_time_and_then_the_field_is_absent() {
        let job = schema("JobView");
        let required: Vec<&str> = job["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for field in ["created_at", "updated_at"] {
            assert!(!required.contains(&field), "{field} is optional: {job}");
            assert_eq!(
                job["properties"][field]["type"], "string",
                "{field} is a string when present, never null: {job}"
            );
        }
        assert!(required.contains(&"name"), "{job}");
        let view = jobs::JobView {
            name: "wc".into(),
            revision: 0,
            state: "running".into(),
            source: "config".into(),
            spec: serde_json::json!({}),
            module: jobs::ModuleRef {
                id: "word-count".into(),
                name: None,
            },
            created_at: None,
            updated_at: None,
            history: Vec::new(),
            status: jobs::JobStatusView::default(),
        };
        let value = serde_json::to_value(&view).expect("serializes");
        assert!(value.get("created_at").is_none(), "{value}");
        assert!(value.get("updated_at").is_none(), "{value}");
    }
}
