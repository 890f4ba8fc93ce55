//! One auth call through the engine: the caller's token authenticated and one `bknd.*` auth
//! function run, as one statement (`Engine::call_at_once`). The function answers JSON, or
//! `{"error": {...}}`.

use serde_json::Value;

use super::error::AuthError;
use crate::engine::{Call, Caller};
use crate::state::AppState;

pub async fn call(state: &AppState, token: Option<String>, path: &str, call: Call) -> Result<Value, AuthError> {
    answer_of(state.engine.call_at_once(Caller::new(token, "POST", path), call).await?)
}

/// A call as authenticator itself, with no role switch: for the functions only the sidecar may
/// call (they return secrets to send by email).
pub async fn call_privileged(state: &AppState, call: Call) -> Result<Value, AuthError> {
    answer_of(state.engine.call_as_sidecar(call).await?)
}

/// An auth function's answer: its JSON, or the `{"error": ...}` it gave as an AuthError.
fn answer_of(value: Value) -> Result<Value, AuthError> {
    match value.get("error") {
        Some(err) => Err(AuthError::from_answer(err)),
        None => Ok(value),
    }
}
