//! The OpenAPI document of the API, generated from the handlers' annotations (utoipa) and
//! served at `GET /v1/openapi.json`.

use super::{error, health, jobs, modules};
use crate::job::status::{RunState, RuntimeStatus, StageStatus, StatusError};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Weir", description = "Upload WebAssembly map/reduce modules and run them as jobs on a pool of Weir runtimes over Kafka."),
    paths(
        modules::upload, modules::list, modules::inspect, modules::remove,
        jobs::create, jobs::list, jobs::get, jobs::update, jobs::pause, jobs::resume, jobs::rollback, jobs::remove,
        health::metrics, health::healthz, health::readyz,
    ),
    components(schemas(
        modules::ModuleView, modules::ModuleList, jobs::JobView, jobs::JobList, jobs::ModuleRef,
        jobs::RevisionView, jobs::JobStatusView, RuntimeStatus, StageStatus, StatusError, RunState,
        error::ErrorBody, error::ErrorDetail,
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
