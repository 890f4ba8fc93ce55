//! The Users screen's API: the app's users through the engine as the member, so the database
//! decides (any member may look; only admins and owners change users, refused in
//! `bknd.admin_*` otherwise; a viewer's transaction is read-only besides). Every change is
//! recorded in the console's audit log.
//!
//! - `GET /users?search=&after=&limit=` keyset pages, newest first (`bknd.admin_search_users`)
//! - `GET /users/{id}`: identities, sessions, factors, audit trail (`bknd.admin_user_detail`)
//! - `POST /users {email, password?, email_confirm?}` (`bknd.admin_create_user`)
//! - `POST /users/invite {email}`: a user without a password, mailed a one-time link
//!   (`crate::auth::send_invite`)
//! - `POST /users/{id}/ban|unban|confirm|sign-out|remove-factors`, `POST /users/{id}/metadata
//!   {app_metadata?, user_metadata?}`, `DELETE /users/{id}`

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::api::{as_member, record};
use super::error::ConsoleError;
use super::session::{body, required};
use crate::engine::Access;
use crate::extension::auth as calls;
use crate::extension::Call;
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

/// Run one `bknd.admin_*` call as the member; their `{error: {status, code, message}}` answers
/// become the console's errors.
async fn run(state: &AppState, session: &str, method: &str, access: Access, call: Call) -> Result<Value, ConsoleError> {
    let answer = as_member(state, session, "/console/api/users", method, access, call).await?;
    if let Some(error) = answer.get("error").filter(|e| e.is_object()) {
        let status = error["status"].as_u64().unwrap_or(400) as u16;
        let code = match error["code"].as_str() {
            Some("user_not_found") => "not_found",
            Some("email_exists") => "email_exists",
            Some("weak_password") => "weak_password",
            _ if status == 404 => "not_found",
            _ if status == 403 => "forbidden",
            _ => "bad_request",
        };
        return Err(ConsoleError::new(status, code, error["message"].as_str().unwrap_or("refused")));
    }
    Ok(answer)
}

pub async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let search = q.search.filter(|s| s.len() <= 320);
    let call = calls::admin_search_users(search, q.after, q.limit.unwrap_or(50).clamp(1, 200));
    Ok(Json(run(&state, &session, "GET", Access::Read, call).await?))
}

pub async fn detail(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    Ok(Json(run(&state, &session, "GET", Access::Read, calls::admin_user_detail(id)).await?))
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let body = body(&bytes)?;
    let Some(email) = body["email"].as_str() else { return Err(ConsoleError::bad_request("email is required")) };
    let mut attributes = json!({"email": email, "email_confirm": body["email_confirm"].as_bool().unwrap_or(true)});
    if let Some(password) = body["password"].as_str().filter(|p| !p.is_empty()) {
        attributes["password"] = json!(password);
    }
    let user = run(&state, &session, "POST", Access::Write, calls::admin_create_user(&attributes)).await?;
    let target = user["id"].as_str().map(str::to_string);
    record(&state, &session, "user:create".into(), target, json!({"email": email, "with_password": attributes.get("password").is_some()}))
        .await;
    Ok(Json(user))
}

/// A new user invited by email: created as the member (admins and owners; the database
/// decides), then mailed a link that signs them in at the app to choose a password.
pub async fn invite(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let body = body(&bytes)?;
    let Some(email) = body["email"].as_str() else { return Err(ConsoleError::bad_request("email is required")) };
    let attributes = json!({"email": email, "email_confirm": false});
    let user = run(&state, &session, "POST", Access::Write, calls::admin_create_user(&attributes)).await?;
    let id = user["id"].as_str().unwrap_or("").to_string();
    // rate-limited like any emailed link: per address, and per the member's address
    if let Err(e) = crate::auth::send_invite(&state, email, Some(addr.ip().to_string())).await {
        // not invited: the user goes again, so inviting them later is not refused as taken
        if let Err(undo) = run(&state, &session, "DELETE", Access::Write, calls::admin_delete_user(id.clone())).await {
            tracing::warn!(failure = %undo.message, "console: an invited user whose email failed could not be removed");
        }
        let status = if e.status.as_u16() == 429 { 429 } else { 502 };
        return Err(ConsoleError::new(status, "invite_not_sent", format!("the invitation was not sent: {}", e.message)));
    }
    record(&state, &session, "user:invite".into(), Some(id), json!({"email": email})).await;
    Ok(Json(json!({"user": user, "invited": true})))
}

pub async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let body = body(&bytes)?;
    let (call, detail) = match action.as_str() {
        // GoTrue's "forever": a hundred years
        "ban" => (calls::admin_update_user(id.clone(), &json!({"ban_duration": "876000h"})), json!({})),
        "unban" => (calls::admin_update_user(id.clone(), &json!({"ban_duration": "none"})), json!({})),
        "confirm" => (calls::admin_update_user(id.clone(), &json!({"email_confirm": true})), json!({})),
        "sign-out" => (calls::admin_sign_out_user(id.clone()), json!({})),
        "remove-factors" => (calls::admin_remove_factors(id.clone()), json!({})),
        "metadata" => {
            let mut attributes = json!({});
            for key in ["app_metadata", "user_metadata"] {
                match &body[key] {
                    Value::Null => {}
                    v @ Value::Object(_) => attributes[key] = v.clone(),
                    _ => return Err(ConsoleError::bad_request(format!("{key} must be a JSON object"))),
                }
            }
            (calls::admin_update_user(id.clone(), &attributes), attributes)
        }
        _ => return Err(ConsoleError::new(404, "not_found", "no such user action")),
    };
    let answer = run(&state, &session, "POST", Access::Write, call).await?;
    record(&state, &session, format!("user:{action}"), Some(id), detail).await;
    Ok(Json(answer))
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let user = run(&state, &session, "DELETE", Access::Write, calls::admin_delete_user(id.clone())).await?;
    record(&state, &session, "user:delete".into(), Some(id), json!({"email": user["email"]})).await;
    Ok(Json(user))
}
