//! `GET /console/api/logs?log=auth|schema|webhooks|console[&before=ID][&since=T][&until=T]
//! [&actor=A][&action=X][&limit=N]`: one page of a log, newest first (`bknd.console_logs`), as
//! the member: the database refuses the members' own actions to all but admins and owners.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::api::as_member;
use super::error::ConsoleError;
use super::session::required;
use crate::engine::Access;
use crate::extension::console as calls;
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct LogQuery {
    log: Option<String>,
    before: Option<i64>,
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    limit: Option<i64>,
}

pub async fn page(State(state): State<AppState>, Query(q): Query<LogQuery>, headers: HeaderMap) -> Result<Json<Value>, ConsoleError> {
    let session = required(&headers)?;
    let log = q.log.unwrap_or_else(|| "auth".to_string());
    if !matches!(log.as_str(), "auth" | "schema" | "webhooks" | "console") {
        return Err(ConsoleError::bad_request("log is auth, schema, webhooks or console"));
    }
    // a time is checked here, so a typo is a clear 400 rather than the database's cast error
    for t in [&q.since, &q.until].into_iter().flatten() {
        if !looks_like_iso_time(t) {
            return Err(ConsoleError::bad_request(format!("{t:?} is not a time such as 2026-12-01T10:00:00Z")));
        }
    }
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let call = calls::console_logs(
        log,
        q.limit.unwrap_or(100).clamp(1, 500),
        q.before,
        nonempty(q.since),
        nonempty(q.until),
        nonempty(q.actor).filter(|a| a.len() <= 320),
        nonempty(q.action).filter(|a| a.len() <= 100),
    );
    Ok(Json(as_member(&state, &session, "/console/api/logs", "GET", Access::Read, call).await?))
}

/// `2026-12-01`, `2026-12-01T10:00`, `2026-12-01T10:00:00.5Z`, `...+02:00`: digits and the
/// separators of ISO 8601 only (the database parses it; this keeps other text out).
fn looks_like_iso_time(t: &str) -> bool {
    t.len() >= 10
        && t.len() <= 40
        && t.as_bytes()[..10].iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
        && t.bytes().all(|b| b.is_ascii_digit() || b"-:.TZ+ ".contains(&b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_times_only() {
        for ok in ["2026-12-01", "2026-12-01T10:00", "2026-12-01T10:00:00.5Z", "2026-12-01 10:00:00+02:00"] {
            assert!(super::looks_like_iso_time(ok), "{ok}");
        }
        for bad in ["yesterday", "2026-1-01", "2026-12-01; drop", "now"] {
            assert!(!super::looks_like_iso_time(bad), "{bad}");
        }
    }
}
