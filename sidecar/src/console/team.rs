//! The team from the console (Settings → Team): every member sees it; owners invite, change
//! roles and remove, which the database checks (`bknd.console_*_member`). An invitation answers
//! the one-time link to give the new member; it is not sent by email.
//!
//! - `GET /members`, `POST /members {email, role}` -> `{member, link}`,
//!   `POST /members/{id}/role {role}`, `DELETE /members/{id}`

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::api::{as_member, record};
use super::error::ConsoleError;
use super::session::{body, required};
use crate::engine::Access;
use crate::extension::console as calls;
use crate::state::AppState;

const PATH: &str = "/console/api/members";

fn text(body: &Value, key: &str) -> Result<String, ConsoleError> {
    body[key].as_str().map(str::to_string).ok_or_else(|| ConsoleError::bad_request(format!("{key} is required")))
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    Ok(Json(as_member(&state, &session, PATH, "GET", Access::Read, calls::console_team()).await?))
}

pub async fn invite(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let body = body(&bytes)?;
    let (email, role) = (text(&body, "email")?, text(&body, "role")?);
    let answer =
        as_member(&state, &session, PATH, "POST", Access::Write, calls::console_invite_member(email.clone(), role.clone())).await?;
    let token = answer["set_password_token"].as_str().unwrap_or_default();
    // the token rides in the fragment, which browsers never send to a server or a log
    let link = format!("{}/console/set-password#token={token}", state.auth.public_url.trim_end_matches('/'));
    record(&state, &session, "member:invite".into(), Some(email), json!({"role": role})).await;
    Ok(Json(json!({"member": answer["member"], "link": link})))
}

pub async fn set_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let role = text(&body(&bytes)?, "role")?;
    let member = as_member(&state, &session, PATH, "POST", Access::Write, calls::console_set_member_role(id, role.clone())).await?;
    record(&state, &session, "member:role".into(), member["email"].as_str().map(str::to_string), json!({"role": role})).await;
    Ok(Json(member))
}

pub async fn remove(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let member = as_member(&state, &session, PATH, "DELETE", Access::Write, calls::console_remove_member(id)).await?;
    record(&state, &session, "member:remove".into(), member["email"].as_str().map(str::to_string), json!({})).await;
    Ok(Json(member))
}
