//! The PostgREST-compatible REST API at `/rest/v1`.
//!
//! request (parse, no database) -> plan (schema cache) -> query (parameterised SQL) ->
//! execute (one transaction under the token's role) -> response.

pub mod error;
pub mod execute;
pub mod openapi;
pub mod plan;
pub mod query;
pub mod relation;
pub mod request;
pub mod response;
pub mod rpc;
pub mod schema;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, Response, StatusCode};
use axum::routing::any;
use axum::Router;

use crate::state::AppState;
use error::ApiError;
use request::Target;

/// What the REST API needs from the command line.
#[derive(Debug, Clone)]
pub struct RestConfig {
    pub schemas: Vec<String>,
    pub anon_role: String,
    pub max_body_bytes: usize,
    /// `SELECT "schema"."function"()` run after authenticate, already quoted
    pub pre_request: Option<String>,
}

/// `schema.function` as quoted SQL, or None when it is not two plain names.
pub fn pre_request_call(name: &str) -> Option<String> {
    let (schema, function) = name.split_once('.')?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    (ok(schema) && ok(function)).then(|| format!("SELECT {}()", query::qualified(schema, function)))
}

/// The routes under `/rest/v1` (mounted there by crate::router).
pub fn router() -> Router<AppState> {
    Router::new().route("/", any(handle)).route("/{*path}", any(handle))
}

pub async fn handle(State(state): State<AppState>, request: Request) -> Response<Body> {
    match handle_inner(&state, request).await {
        Ok(r) => r,
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

/// One REST request handled in-process, as if it came over HTTP (the MCP data tools use the
/// same query engine, with the same token and the same RLS).
pub async fn handle_internal(state: &AppState, request: Request) -> Response<Body> {
    handle(State(state.clone()), request).await
}

async fn handle_inner(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let limit = state.rest.max_body_bytes;
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BKND413", format!("The request body is larger than the limit of {limit} bytes"))
    })?;
    // mounted under /rest/v1 the path arrives without it; the MCP data tools pass it whole
    let path = parts.uri.path();
    let rest = path.strip_prefix("/rest/v1").unwrap_or(path);
    let req = request::parse(parts.method.clone(), rest, parts.uri.query(), &parts.headers, body, &state.rest.schemas)?;
    let cache = match state.schema.wait(std::time::Duration::from_secs(5)).await {
        Some(c) => c,
        None => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PGRST002",
                "Could not query the database for the schema cache. Retrying.",
            ))
        }
    };
    // a name the cache does not know may be a table or function made a moment ago
    let knows = |cache: &schema::SchemaCache| match &req.target {
        Target::Root => true,
        Target::Relation(name) => cache.relation(&req.schema, name).is_some(),
        Target::Rpc(name) => cache.functions.contains_key(&(req.schema.clone(), name.to_string())),
    };
    let cache = if knows(&cache) { cache } else { state.schema.refresh_for_unknown(cache, std::time::Duration::from_secs(2), knows).await };
    match &req.target {
        Target::Root if !(parts.method == Method::GET || parts.method == Method::HEAD) => {
            Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "PGRST117", format!("Unsupported HTTP method: {}", parts.method)))
        }
        Target::Root => {
            let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok());
            openapi::handle(state, &cache, &req, host).await
        }
        Target::Relation(name) => relation::handle(state, &cache, &req, name).await,
        Target::Rpc(name) => rpc::handle(state, &cache, &req, name).await,
    }
}
