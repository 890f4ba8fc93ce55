//! One auth call: the caller's token authenticated and one `bknd.*` auth function run, as one
//! statement (`bknd.run_as`, crate::db::call). The function answers JSON, or
//! `{"error": {...}}`.

use serde_json::Value;

use super::error::AuthError;
use crate::app::AppState;
use crate::db::{self, CallError, Caller};

pub async fn call(
    state: &AppState,
    token: Option<String>,
    path: &str,
    sql: &'static str,
    args: Vec<Option<String>>,
) -> Result<Value, AuthError> {
    let anonymous = token.is_none();
    let caller = Caller::TokenAtOnce { token, method: "POST".into(), path: path.into(), anon_role: state.rest.anon_role.clone() };
    answer_of(db::call(&state.pool, caller, sql, args).await, anonymous)
}

/// A call as authenticator itself, with no role switch: for the functions only the sidecar may
/// call (they return secrets to send by email).
pub async fn call_privileged(state: &AppState, sql: &'static str, args: Vec<Option<String>>) -> Result<Value, AuthError> {
    answer_of(db::call(&state.pool, Caller::Sidecar, sql, args).await, false)
}

/// An auth function's answer: its JSON, or the `{"error": ...}` it gave as an AuthError.
fn answer_of(result: Result<Option<String>, CallError>, anonymous: bool) -> Result<Value, AuthError> {
    let text = match result {
        Ok(text) => text,
        Err(CallError::Pool(e)) => return Err(AuthError::unavailable(e)),
        Err(CallError::Token(e)) => return Err(AuthError::bad_jwt(&e)),
        Err(CallError::Statement(e)) => return Err(AuthError::from_db(&e, anonymous)),
    };
    let value: Value = text.as_deref().map(serde_json::from_str).transpose().map_err(AuthError::internal)?.unwrap_or(Value::Null);
    match value.get("error") {
        Some(err) => Err(AuthError::from_answer(err)),
        None => Ok(value),
    }
}
