//! `/v1/modules`: upload, list, inspect and delete WebAssembly components.
//!
//! An upload is validated exactly as a runtime loads it (the Weir world's exports and
//! signatures, no import beyond the inert WASI set and the log, a successful `describe`) before
//! anything is written, so a module in the registry always loads. Modules are content-addressed:
//! the id is the sha256 of the bytes. Uploading the same bytes again stores nothing new; under
//! a name they do not have yet, they gain it and keep their other names (aliases), so jobs and
//! scripts that use an old name keep working. The module's language and the tools that built it
//! are read from its producers sections at upload ([`crate::engine::producers`]).

use super::error::{ApiError, ApiResult};
use super::{ApiState, blocking, read_body};
use crate::engine::producers::producers;
use crate::engine::{Engine, ModuleError, PROCESSOR_EXPORT};
use crate::record::ModuleKind;
use crate::registry::model::{CHUNK_SIZE, Key, module_records, module_tombstones};
use crate::registry::{ModuleMeta, RegistryState, Resolve};
use crate::units::format_bytes;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::SystemTime;
use utoipa::{IntoParams, ToSchema};

/// A module as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModuleView {
    /// The sha256 of the component, in hex: its id.
    pub id: String,
    /// The name most recently given at upload.
    pub name: Option<String>,
    /// Every name it was uploaded under, the most recent first; each refers to it unless a
    /// later upload took the name.
    #[serde(default)]
    pub names: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// The WIT world it implements.
    pub world: String,
    /// `map_reduce` or `transform`.
    pub kind: String,
    /// The SDK that built it, as the module says (its `describe`).
    pub sdk: String,
    /// Its source language (`Rust`, `Python`, `JavaScript`, `C`...), from its producers
    /// sections; absent when they name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub language: Option<String>,
    /// The tools that built it, with their versions (`processed-by` of its producers sections),
    /// e.g. `rustc 1.91.1`, `wit-component 0.239.0`, `componentize-py 0.25.1`.
    #[serde(default)]
    pub processed_by: Vec<String>,
    /// When it was uploaded (RFC 3339).
    pub uploaded_at: String,
    /// The jobs that use it (now, or as a rollback target).
    pub used_by: Vec<String>,
}

/// `GET /v1/modules`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleList {
    /// Every module.
    pub modules: Vec<ModuleView>,
}

/// Query of an upload.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// A name for the module; later uploads with the same name are its newer versions. The same
    /// bytes uploaded under another name keep their earlier names too.
    pub name: Option<String>,
}

fn view(state: &RegistryState, meta: &ModuleMeta) -> ModuleView {
    ModuleView {
        id: meta.id.clone(),
        name: meta.name.clone(),
        names: meta
            .names()
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect(),
        size: meta.size,
        world: meta.world.clone(),
        kind: meta.kind.clone(),
        sdk: meta.sdk.clone(),
        language: meta.producers.as_ref().and_then(|t| t.language.clone()),
        processed_by: meta
            .producers
            .as_ref()
            .map(|t| t.processed_by.clone())
            .unwrap_or_default(),
        uploaded_at: meta.uploaded_at.clone(),
        used_by: state.users_of(&meta.id),
    }
}

/// The HTTP status of a refused module: not WebAssembly at all is a bad request; a component
/// that is not a valid Weir module is unprocessable.
fn refused(err: &ModuleError) -> ApiError {
    let status = match err {
        ModuleError::NotWasm { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, err.code(), err.to_string())
}

/// Checks an upload's name.
pub fn check_name(name: &str) -> ApiResult<()> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 128 || !name.chars().all(valid) {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("module name `{name}` must be 1 to 128 letters, digits, `-`, `_` or `.`"),
        ));
    }
    Ok(())
}

/// The world this runtime implements, e.g. `weir:processor@0.1.0`.
pub fn world() -> String {
    let (interface, version) = PROCESSOR_EXPORT
        .rsplit_once('@')
        .unwrap_or((PROCESSOR_EXPORT, ""));
    let package = interface
        .split_once('/')
        .map_or(interface, |(package, _)| package);
    format!("{package}@{version}")
}

/// Validates `bytes` as a Weir module and describes it for the registry.
pub fn validate(engine: &Engine, bytes: &[u8], name: Option<String>) -> Result<ModuleMeta, ModuleError> {
    let module = engine.load(bytes)?;
    let info = module.info();
    let uploaded_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    Ok(ModuleMeta {
        id: module.digest().to_string(),
        names: name.iter().map(|n| (n.clone(), uploaded_at.clone())).collect(),
        name,
        size: bytes.len() as u64,
        world: world(),
        kind: match info.kind {
            ModuleKind::MapReduce => "map_reduce".into(),
            ModuleKind::Transform => "transform".into(),
        },
        sdk: info.sdk.clone(),
        producers: Some(producers(bytes)),
        chunks: u32::try_from(bytes.len().div_ceil(CHUNK_SIZE)).unwrap_or(u32::MAX),
        uploaded_at,
    })
}

/// Uploads a module.
#[utoipa::path(post, path = "/v1/modules", tag = "modules", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "the component"),
    responses(
        (status = 201, description = "stored: new bytes, or bytes already uploaded under a name they did not have (they keep their other names)", body = ModuleView),
        (status = 200, description = "these exact bytes were already uploaded, and the name (if any) already means them: nothing changed", body = ModuleView),
        (status = 400, description = "not WebAssembly (`not_wasm`), bad name", body = super::error::ErrorBody),
        (status = 401, description = "no or wrong token (`unauthorized`)", body = super::error::ErrorBody),
        (status = 413, description = "larger than --max-upload (`payload_too_large`)", body = super::error::ErrorBody),
        (status = 422, description = "not a valid Weir module: `core_module`, `invalid_component`, `forbidden_import`, `world_version`, `missing_export`, `export_signature`, `start_failed`", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<ModuleView>)> {
    state.auth.check(&headers)?;
    if let Some(name) = &query.name {
        check_name(name)?;
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > state.max_upload) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the module is {}; this server accepts at most {} (--max-upload)",
                format_bytes(declared.unwrap_or_default() as u64),
                format_bytes(state.max_upload as u64)
            ),
        ));
    }
    let bytes = read_body(body, state.max_upload, "module").await?;
    let engine = Arc::clone(&state.engine);
    let (bytes, meta) = blocking(move || {
        let meta = validate(&engine, &bytes, query.name).map_err(|e| refused(&e))?;
        Ok((bytes, meta))
    })
    .await?;
    let registry = Arc::clone(&state.services()?.registry);
    blocking(move || {
        let _writing = registry.lock();
        let existing = registry.read().modules().find(|m| m.id == meta.id).cloned();
        if let Some(existing) = existing {
            let state = registry.read();
            let means_it = |name: &str| state.resolve(name).is_ok_and(|m| m.id == existing.id);
            let Some(name) = meta.name.as_deref().filter(|name| !means_it(name)) else {
                return Ok((StatusCode::OK, Json(view(&state, &existing))));
            };
            // The same bytes under another name: the module gains the name, keeps the others.
            let renamed = existing.with_name(name, &meta.uploaded_at);
            drop(state);
            let record = serde_json::to_vec(&renamed).map_err(|e| ApiError::unavailable(&e.into()))?;
            registry
                .write(vec![(Key::Module(&renamed.id).encode(), Some(record))])
                .map_err(|e| ApiError::unavailable(&e))?;
            tracing::info!(module = renamed.id, name, "module named");
            let state = registry.read();
            return Ok((StatusCode::CREATED, Json(view(&state, &renamed))));
        }
        let records = module_records(&meta, &bytes).map_err(|e| ApiError::unavailable(&e))?;
        registry.write(records).map_err(|e| ApiError::unavailable(&e))?;
        tracing::info!(
            module = meta.id,
            name = meta.name,
            size = meta.size,
            "module uploaded"
        );
        let state = registry.read();
        Ok((StatusCode::CREATED, Json(view(&state, &meta))))
    })
    .await
}

/// Lists modules, newest first.
#[utoipa::path(get, path = "/v1/modules", tag = "modules",
    responses((status = 200, description = "every module", body = ModuleList)))]
pub async fn list(State(state): State<Arc<ApiState>>) -> ApiResult<Json<ModuleList>> {
    let registry = state.services()?.registry.read();
    let mut modules: Vec<ModuleView> = registry.modules().map(|m| view(&registry, m)).collect();
    modules.sort_by(|a, b| b.uploaded_at.cmp(&a.uploaded_at).then(a.id.cmp(&b.id)));
    Ok(Json(ModuleList { modules }))
}

/// Finds a module by id, id prefix (8+ hex digits) or name (the latest upload).
pub fn resolve<'a>(state: &'a RegistryState, reference: &str) -> ApiResult<&'a ModuleMeta> {
    state.resolve(reference).map_err(|why| match why {
        Resolve::NotFound if is_short_prefix(reference) => ApiError::not_found(
            "module_not_found",
            format!(
                "no module is named `{reference}`, and as an id prefix it is too short: give 8 or \
                 more hex digits of the id; `weir module list` shows them"
            ),
        ),
        Resolve::NotFound => ApiError::not_found(
            "module_not_found",
            format!(
                "no module has the id, id prefix (8+ hex digits) or name `{reference}`; \
                 `weir module list` shows them"
            ),
        ),
        Resolve::Ambiguous => ApiError::bad_request(
            "ambiguous_module",
            format!("`{reference}` is the prefix of several module ids; give more of the id"),
        ),
    })
}

/// Whether `reference` looks like an id prefix of fewer than the 8 hex digits a prefix needs.
fn is_short_prefix(reference: &str) -> bool {
    let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
    !hex.is_empty() && hex.len() < 8 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Shows one module.
#[utoipa::path(get, path = "/v1/modules/{reference}", tag = "modules",
    params(("reference" = String, Path, description = "id, id prefix (8+ hex digits) or name")),
    responses((status = 200, body = ModuleView), (status = 404, body = super::error::ErrorBody)))]
pub async fn inspect(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
) -> ApiResult<Json<ModuleView>> {
    let registry = state.services()?.registry.read();
    let meta = resolve(&registry, &reference)?;
    Ok(Json(view(&registry, meta)))
}

/// Deletes a module no job uses.
#[utoipa::path(delete, path = "/v1/modules/{reference}", tag = "modules",
    params(("reference" = String, Path, description = "id, id prefix (8+ hex digits) or name")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "a job uses it (`module_in_use`)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<Arc<ApiState>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    state.auth.check(&headers)?;
    let registry = Arc::clone(&state.services()?.registry);
    blocking(move || {
        let _writing = registry.lock();
        let meta = resolve(&registry.read(), &reference)?.clone();
        let users = registry.read().users_of(&meta.id);
        if !users.is_empty() {
            return Err(ApiError::conflict(
                "module_in_use",
                format!(
                    "module {} is used by job(s) {} (now or as a rollback target); delete or update them first",
                    &meta.id[..12.min(meta.id.len())],
                    users.join(", ")
                ),
            ));
        }
        registry
            .write(module_tombstones(&meta))
            .map_err(|e| ApiError::unavailable(&e))?;
        tracing::info!(module = meta.id, "module deleted");
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_id_prefix_is_told_it_needs_eight_hex_digits() {
        let state = RegistryState::default();
        let err = resolve(&state, "3f2a").expect_err("nothing there");
        assert_eq!(err.code, "module_not_found");
        assert!(
            err.message.contains("give 8 or more hex digits"),
            "{}",
            err.message
        );
        let err = resolve(&state, "word-count").expect_err("nothing there");
        assert!(
            err.message
                .contains("id prefix (8+ hex digits) or name `word-count`"),
            "{}",
            err.message
        );
        assert!(!is_short_prefix("3f2a1b9c"), "8 digits is a prefix");
        assert!(is_short_prefix("sha256:abc"));
    }
}
