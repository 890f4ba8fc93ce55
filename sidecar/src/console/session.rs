//! Signing members in and out: the session cookie `bknd_console` (HttpOnly, SameSite=Strict,
//! Path=/console, Secure behind an https public URL), and setting a password through a
//! one-time link. The extension keeps sessions (as SHA-256), rate-limits sign-ins and ends
//! sessions idle for 8 hours.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ConsoleError;
use crate::extension::console as calls;
use crate::state::AppState;

const COOKIE: &str = "bknd_console";

/// The session token from the request's cookie, if any.
pub fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
        // a session token is URL-safe base64 or hex: anything else is not one of ours
        .filter(|v| v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The session, or 401.
pub fn required(headers: &HeaderMap) -> Result<String, ConsoleError> {
    session_of(headers).ok_or_else(ConsoleError::no_session)
}

fn cookie(state: &AppState, value: &str, max_age: Option<u32>) -> HeaderValue {
    let secure = if state.auth.public_url.starts_with("https://") { "; Secure" } else { "" };
    let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    let text = format!("{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}{age}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("bknd_console=; Path=/console; Max-Age=0"))
}

pub fn body(bytes: &[u8]) -> Result<Value, ConsoleError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ConsoleError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ConsoleError::bad_request(format!("the body is not valid JSON: {e}"))),
    }
}

fn text_field(body: &Value, key: &str) -> Result<String, ConsoleError> {
    body[key].as_str().map(str::to_string).ok_or_else(|| ConsoleError::bad_request(format!("{key} is required")))
}

/// The member of a session, or None when it is over.
async fn member_of(state: &AppState, session: String) -> Result<Option<Value>, ConsoleError> {
    let member = state.engine.call_as_sidecar(calls::console_session(session)).await?;
    Ok((!member.is_null()).then_some(member))
}

pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let body = body(&bytes)?;
    let (email, password) = (text_field(&body, "email")?, text_field(&body, "password")?);
    let code = body["code"].as_str().map(str::to_string);
    let answer = state.engine.call_as_sidecar(calls::console_sign_in(email, password, Some(addr.ip().to_string()), code)).await?;
    let message = answer["message"].as_str().unwrap_or_default().to_string();
    match answer["error"].as_str() {
        Some("too_many_attempts") => Err(ConsoleError::new(429, "too_many_attempts", message)),
        Some("totp_required") => Err(ConsoleError::new(401, "totp_required", message)),
        Some("invalid_code") => Err(ConsoleError::new(401, "invalid_code", message)),
        Some(_) => Err(ConsoleError::new(401, "invalid_credentials", "invalid email or password")),
        None => {
            let session = answer["session"].as_str().unwrap_or_default();
            let mut response = Json(json!({"member": answer["member"]})).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie(&state, session, None));
            Ok(response)
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ConsoleError> {
    if let Some(session) = session_of(&headers) {
        state.engine.call_as_sidecar(calls::console_sign_out(session)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(&state, "", Some(0)));
    Ok(response)
}

pub async fn current(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    match member_of(&state, required(&headers)?).await? {
        Some(member) => Ok(Json(json!({"member": member}))),
        None => Err(ConsoleError::no_session()),
    }
}

/// `POST /totp/begin`: a new secret for the member's own TOTP, to confirm with a code.
pub async fn totp_begin(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let answer = state.engine.call_as_sidecar(calls::console_totp_begin(session)).await.map_err(ended)?;
    if answer["error"].is_string() {
        return Err(ConsoleError::new(409, "already_enabled", answer["message"].as_str().unwrap_or("TOTP is on already")));
    }
    Ok(Json(answer))
}

/// `POST /totp/enable {code}` and `/totp/disable {code}`: the member's own TOTP on or off.
pub async fn totp_enable(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    totp_switch(&state, &headers, &bytes, true).await
}

pub async fn totp_disable(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    totp_switch(&state, &headers, &bytes, false).await
}

async fn totp_switch(state: &AppState, headers: &HeaderMap, bytes: &[u8], on: bool) -> Result<Json<Value>, ConsoleError> {
    let session = required(headers)?;
    let code = text_field(&body(bytes)?, "code")?;
    let call = if on { calls::console_totp_enable(session.clone(), code) } else { calls::console_totp_disable(session.clone(), code) };
    let answer = state.engine.call_as_sidecar(call).await.map_err(ended)?;
    let message = answer["message"].as_str().unwrap_or_default().to_string();
    match answer["error"].as_str() {
        Some("too_many_attempts") => Err(ConsoleError::new(429, "too_many_attempts", message)),
        Some("not_started") => Err(ConsoleError::new(409, "not_started", message)),
        Some(_) => Err(ConsoleError::new(422, "invalid_code", message)),
        None => {
            let action = if on { "enable_totp" } else { "disable_totp" };
            super::api::record(state, &session, action.to_string(), None, json!({})).await;
            Ok(Json(answer))
        }
    }
}

/// The member functions refuse an ended session with 28000.
pub fn ended(failure: crate::engine::Failure) -> ConsoleError {
    match &failure {
        crate::engine::Failure::Database(d) if d.sqlstate == "28000" => ConsoleError::no_session(),
        _ => failure.into(),
    }
}

pub async fn set_password(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    let body = body(&bytes)?;
    let (token, password) = (text_field(&body, "token")?, text_field(&body, "password")?);
    match state.engine.call_as_sidecar(calls::console_set_password(token, password)).await {
        Ok(member) => Ok(Json(json!({"member": member}))),
        Err(crate::engine::Failure::Database(d)) if d.sqlstate == "28000" => {
            Err(ConsoleError::new(400, "invalid_link", "this link is not valid: it was used, or it expired"))
        }
        Err(crate::engine::Failure::Database(d)) if d.sqlstate == "22023" => Err(ConsoleError::new(422, "weak_password", d.message)),
        Err(f) => Err(f.into()),
    }
}
