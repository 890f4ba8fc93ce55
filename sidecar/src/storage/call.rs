//! Storage calls through the engine: as the request's token (RLS applies) or, for finishing
//! and aborting uploads, as the sidecar itself.

use axum::http::HeaderMap;
use serde_json::Value;

use super::error::StorageError;
use crate::state::AppState;
use crate::engine::{Access, Call, Caller};

pub async fn as_caller(state: &AppState, headers: &HeaderMap, sql: &'static str, args: Vec<Option<String>>) -> Result<Value, StorageError> {
    Ok(state.engine.call(Caller::of(headers, "POST", "/storage/v1"), Access::Write, Call::new(sql, args)).await?)
}

pub async fn as_sidecar(state: &AppState, sql: &'static str, args: Vec<Option<String>>) -> Result<Value, StorageError> {
    Ok(state.engine.call_as_sidecar(Call::new(sql, args)).await?)
}
