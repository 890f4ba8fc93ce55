//! The console's work, as the signed-in member through the engine: the MCP server's tools
//! (schema, policies, realtime, webhooks, SQL), the REST API (the data grid, optionally viewed
//! as another caller) and the project's keys. The session cookie becomes a console bearer
//! token (`bknd-console:SESSION[|VIEW_AS]`) that only `bknd.authenticate` understands.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ConsoleError;
use super::session::{body, ended, required};
use crate::engine::{Access, Call, Caller};
use crate::extension::console as calls;
use crate::state::AppState;

pub fn console_token(session: &str, view_as: Option<&str>) -> String {
    match view_as {
        Some(v) => format!("bknd-console:{session}|{v}"),
        None => format!("bknd-console:{session}"),
    }
}

/// `x-bknd-view-as`: `anon`, `authenticated`, `role:NAME` or `user:EMAIL`; anything else is refused.
pub(super) fn view_as(headers: &HeaderMap) -> Result<Option<String>, ConsoleError> {
    let Some(value) = headers.get("x-bknd-view-as") else { return Ok(None) };
    // not text: refused, never read as "no view" (which would show the member's own)
    let text = value.to_str().map_err(|_| ConsoleError::bad_request(VIEW_AS))?;
    parse_view_as(text)
}

const VIEW_AS: &str = "x-bknd-view-as is anon, authenticated, role:NAME or user:EMAIL";

/// A View as choice (header or query): empty is none; anything unknown is refused.
pub fn parse_view_as(text: &str) -> Result<Option<String>, ConsoleError> {
    let text = text.trim();
    let ok = match text {
        "" => return Ok(None),
        "anon" | "authenticated" => true,
        other => match (other.strip_prefix("user:"), other.strip_prefix("role:")) {
            (Some(email), _) => {
                !email.is_empty() && email.len() <= 320 && email.contains('@') && !email.chars().any(|c| c == '|' || c.is_control())
            }
            (_, Some(role)) => !role.is_empty() && role.len() <= 63 && role.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            _ => false,
        },
    };
    if !ok {
        return Err(ConsoleError::bad_request(VIEW_AS));
    }
    Ok(Some(text.to_string()))
}

/// One extension call through the engine as the session's member: how the console's own
/// screens reach the database (`path` names the request in the logs).
pub async fn as_member(
    state: &AppState,
    session: &str,
    path: &str,
    method: &str,
    access: Access,
    call: Call,
) -> Result<Value, ConsoleError> {
    let caller = Caller::new(Some(console_token(session, None)), method, path);
    Ok(state.engine.call(caller, access, call).await?)
}

pub async fn project(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let keys = as_member(&state, &session, "/console/api/project", "GET", Access::Read, calls::console_api_keys(false)).await?;
    Ok(Json(json!({
        "urls": crate::mcp::context::urls(&state.auth.public_url),
        "anon_key": keys["anon_key"],
        "can_reveal_service_role_key": matches!(member_role(&state, &session).await?.as_deref(), Some("owner" | "admin")),
    })))
}

/// The member's role, for what the page offers (the database decides what it allows).
pub(super) async fn member_role(state: &AppState, session: &str) -> Result<Option<String>, ConsoleError> {
    let member = state.engine.call_as_sidecar(calls::console_session(session.to_string())).await?;
    Ok(member["role"].as_str().map(str::to_string))
}

pub async fn service_role_key(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let path = "/console/api/project/service-role-key";
    let keys = as_member(&state, &session, path, "POST", Access::Read, calls::console_api_keys(true)).await?;
    record(&state, &session, "reveal_service_role_key".to_string(), None, json!({})).await;
    Ok(Json(json!({"service_role_key": keys["service_role_key"]})))
}

/// `GET /overview`: the Home screen's figures (`bknd.console_overview`), as the member.
pub async fn overview(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    Ok(Json(as_member(&state, &session, "/console/api/overview", "GET", Access::Read, calls::console_overview()).await?))
}

/// `POST /project/rotate-jwt-secret {confirm: "rotate"}`: a new JWT secret (owners; the
/// database checks), answering the new anon key. Every key and access token signed with the
/// old secret stops working at once.
pub async fn rotate_jwt_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    if body(&bytes)?["confirm"] != json!("rotate") {
        return Err(ConsoleError::bad_request("confirm with {\"confirm\": \"rotate\"}: every key and access token stops working"));
    }
    let path = "/console/api/project/rotate-jwt-secret";
    as_member(&state, &session, path, "POST", Access::Write, calls::console_rotate_jwt_secret()).await?;
    record(&state, &session, "rotate_jwt_secret".to_string(), None, json!({})).await;
    let keys = as_member(&state, &session, path, "GET", Access::Read, calls::console_api_keys(false)).await?;
    Ok(Json(json!({"anon_key": keys["anon_key"]})))
}

/// One of the MCP server's tools, as the member. A read-only transaction's refusal (a viewer
/// changing something) is the database saying no: 403.
pub async fn tool(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let args = body(&bytes)?;
    let token = console_token(&session, view_as(&headers)?.as_deref());
    let changes = crate::mcp::changes(&name, &args);
    let detail = changes.then(|| audit_detail(&args));
    match crate::mcp::call(&state, Some(token), &name, args).await {
        Ok(result) => {
            if let Some(detail) = detail {
                let target = detail["table"].as_str().or(detail["name"].as_str()).map(str::to_string);
                record(&state, &session, format!("tool:{name}"), target, detail).await;
            }
            Ok(Json(json!({"result": result})))
        }
        Err(e) => Err(match e.status {
            401 if e.message.starts_with("invalid token") => ConsoleError::no_session(),
            401 | 403 | 405 => ConsoleError::new(403, "forbidden", e.message),
            404 => ConsoleError::new(404, "not_found", e.message),
            status if status >= 500 => ConsoleError::new(status, "server_error", e.message),
            status => ConsoleError::new(status, "tool_error", e.message),
        }),
    }
}

/// The REST API as the member (or as whom the grid views the data as), in PostgREST's format.
pub async fn rest(State(state): State<AppState>, request: Request) -> Result<Response<Body>, ConsoleError> {
    let (parts, body) = request.into_parts();
    let session = required(&parts.headers)?;
    let token = console_token(&session, view_as(&parts.headers)?.as_deref());
    let path = parts.uri.path().strip_prefix("/console/api/rest").unwrap_or(parts.uri.path());
    let path = path.strip_prefix("/rest").unwrap_or(path);
    let uri = match parts.uri.query() {
        Some(q) => format!("/rest/v1{path}?{q}"),
        None => format!("/rest/v1{path}"),
    };
    let mut forwarded = Request::builder().method(parts.method.clone()).uri(uri);
    for name in ["content-type", "prefer", "accept", "range", "range-unit", "accept-profile", "content-profile", "x-request-id"] {
        if let Some(v) = parts.headers.get(name) {
            forwarded = forwarded.header(name, v.clone());
        }
    }
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ConsoleError::no_session())?;
    let forwarded = forwarded.header(header::AUTHORIZATION, bearer).body(body).map_err(|e| ConsoleError::bad_request(e.to_string()))?;
    let response = crate::rest::handle_internal(&state, forwarded).await;
    let reads = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
    if !reads && response.status().is_success() {
        let detail =
            json!({"method": parts.method.as_str(), "query": parts.uri.query().unwrap_or(""), "status": response.status().as_u16()});
        let table = path.trim_start_matches('/').to_string();
        record(&state, &session, format!("rest:{}", parts.method), Some(table), detail).await;
    }
    Ok(response)
}

/// Arguments whose values are secrets (a user's password, a webhook's headers) are recorded
/// as `[redacted]`.
const SECRET_KEYS: [&str; 7] = ["password", "secret", "token", "headers", "authorization", "apikey", "api_key"];

/// A change's arguments as recorded: secrets redacted, long texts (SQL, bodies) cut to 4,000
/// characters.
fn audit_detail(args: &Value) -> Value {
    match args {
        Value::String(s) if s.chars().count() > 4000 => Value::String(format!("{}…", s.chars().take(4000).collect::<String>())),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = SECRET_KEYS.iter().any(|s| k.to_ascii_lowercase().contains(s));
                    (k.clone(), if secret { json!("[redacted]") } else { audit_detail(v) })
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().take(100).map(audit_detail).collect()),
        other => other.clone(),
    }
}

/// Record a change the member made (bknd.console_audit). It is done by then: a failure to
/// record is logged, not turned into the request's failure.
pub async fn record(state: &AppState, session: &str, action: String, target: Option<String>, detail: Value) {
    let call = calls::console_record(session.to_string(), action.clone(), target, detail.to_string());
    if let Err(e) = state.engine.call_as_sidecar(call).await {
        tracing::warn!(%action, failure = ?e, "console: the change was made but not recorded in bknd.console_audit");
    }
}

pub async fn snippets(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    Ok(Json(state.engine.call_as_sidecar(calls::console_snippets(session)).await.map_err(ended)?))
}

pub async fn save_snippet(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let body = body(&bytes)?;
    let (Some(name), Some(sql)) = (body["name"].as_str(), body["sql"].as_str()) else {
        return Err(ConsoleError::bad_request("name and sql are required"));
    };
    let call = calls::console_save_snippet(session, name.to_string(), sql.to_string());
    Ok(Json(state.engine.call_as_sidecar(call).await.map_err(ended)?))
}

pub async fn delete_snippet(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<axum::http::StatusCode, ConsoleError> {
    let session = required(&headers)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ConsoleError::new(404, "not_found", "no such snippet"));
    }
    let deleted = state.engine.call_as_sidecar(calls::console_delete_snippet(session, id)).await.map_err(ended)?;
    match deleted.as_bool() {
        Some(true) => Ok(axum::http::StatusCode::NO_CONTENT),
        _ => Err(ConsoleError::new(404, "not_found", "no such snippet")),
    }
}

pub async fn not_found() -> ConsoleError {
    ConsoleError::new(404, "not_found", "no such console API")
}
