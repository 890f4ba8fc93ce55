//! Settings → Auth: the auth API's switches, rate limits and OAuth providers, read by every
//! member and changed by admins and owners (`bknd.configure_auth`,
//! `bknd.configure_oauth_provider`, `bknd.remove_oauth_provider` check the session's role).
//! A provider's client secret is write-only: it is never answered, and an empty one keeps it.
//!
//! - `GET /auth-settings`, `POST /auth-settings {autoconfirm?, disable_signup?,
//!   secure_email_change?, secure_password_change?, rate_limits?}`
//! - `POST /oauth-providers {name, client_id, client_secret?, kind?, issuer?, scopes?,
//!   authorize_url?, token_url?, userinfo_url?, enabled?}` (the form sends back what it does not edit),
//!   `DELETE /oauth-providers/{name}`
//! - `POST /auth-settings/test-email {to}`: one message through the configured mail (admins
//!   and owners), answering how it went out (`smtp`, `mail_dir` or `log`)

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Map, Value};

use super::api::{as_member, member_role, record};
use super::error::ConsoleError;
use super::session::{body, required};
use crate::engine::Access;
use crate::extension::auth as calls;
use crate::state::AppState;

const PATH: &str = "/console/api/auth-settings";

const SWITCHES: [&str; 4] = ["autoconfirm", "disable_signup", "secure_email_change", "secure_password_change"];

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    Ok(Json(as_member(&state, &session, PATH, "GET", Access::Read, calls::console_auth_settings()).await?))
}

/// Only the known switches (booleans) and rate limits (positive whole numbers by name).
fn checked_config(body: &Value) -> Result<Value, ConsoleError> {
    let mut config = Map::new();
    for (key, value) in body.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            (k, Value::Bool(_)) if SWITCHES.contains(&k) => {}
            ("rate_limits", Value::Object(limits)) => {
                for (name, n) in limits {
                    let ok = name.len() <= 64
                        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        && n.as_u64().is_some_and(|n| (1..=1_000_000).contains(&n));
                    if !ok {
                        return Err(ConsoleError::bad_request(format!("rate limit {name:?}: a name and a count from 1 to 1000000")));
                    }
                }
            }
            _ => {
                return Err(ConsoleError::bad_request(format!(
                    "{key}: not a setting the console changes ({})",
                    SWITCHES.join(", ") + ", rate_limits"
                )))
            }
        }
        config.insert(key.clone(), value.clone());
    }
    Ok(Value::Object(config))
}

pub async fn save(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let config = checked_config(&body(&bytes)?)?;
    as_member(&state, &session, PATH, "POST", Access::Write, calls::configure_auth(&config)).await?;
    record(&state, &session, "settings:auth".into(), None, config).await;
    Ok(Json(as_member(&state, &session, PATH, "GET", Access::Read, calls::console_auth_settings()).await?))
}

pub async fn save_provider(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let body = body(&bytes)?;
    let text = |key: &str| body[key].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let (Some(name), Some(client_id)) = (text("name"), text("client_id")) else {
        return Err(ConsoleError::bad_request("name and client_id are required"));
    };
    let secret = body["client_secret"].as_str().unwrap_or_default().to_string();
    let enabled = body["enabled"].as_bool().unwrap_or(true);
    let call = calls::configure_oauth_provider(
        name.clone(),
        client_id,
        secret.clone(),
        text("issuer"),
        text("kind"),
        text("scopes"),
        text("authorize_url"),
        text("token_url"),
        text("userinfo_url"),
        enabled,
    );
    let provider = as_member(&state, &session, PATH, "POST", Access::Write, call).await?;
    let detail = json!({"enabled": enabled, "secret_changed": !secret.is_empty()});
    record(&state, &session, "settings:oauth_provider".into(), Some(name), detail).await;
    Ok(Json(provider))
}

pub async fn remove_provider(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let removed = as_member(&state, &session, PATH, "DELETE", Access::Write, calls::remove_oauth_provider(name.clone())).await?;
    if removed != json!(true) {
        return Err(ConsoleError::new(404, "not_found", format!("no provider {name:?}")));
    }
    record(&state, &session, "settings:remove_oauth_provider".into(), Some(name), json!({})).await;
    Ok(Json(json!({"removed": true})))
}

/// `POST /auth-settings/test-email {to}`: whether auth's email goes out, as configured
/// (`--smtp-url`, else `--mail-dir`, else the log). Admins and owners, who configure auth.
pub async fn test_email(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    if !matches!(member_role(&state, &session).await?.as_deref(), Some("owner" | "admin")) {
        return Err(ConsoleError::new(403, "forbidden", "only admins and owners send test emails"));
    }
    let body = body(&bytes)?;
    let to = body["to"].as_str().map(str::trim).filter(|t| t.contains('@') && t.len() <= 320);
    let Some(to) = to else { return Err(ConsoleError::bad_request("to is the address to send the test email to")) };
    let mail = &state.auth.mail;
    let text = "This is a test email from the bknd console. If it reached you, auth's email (sign-up confirmations, magic links, \
                password resets, invitations) goes out as configured.\n"
        .to_string();
    if let Err(e) = crate::auth::mail::send(mail, to, "bknd test email", text).await {
        return Err(ConsoleError::new(502, "email_failed", format!("the test email was not sent: {e}")));
    }
    record(&state, &session, "auth:test_email".into(), None, json!({"to": to})).await;
    let via = if mail.smtp_url.is_some() {
        "smtp"
    } else if mail.mail_dir.is_some() {
        "mail_dir"
    } else {
        "log"
    };
    Ok(Json(json!({"sent": true, "via": via})))
}
