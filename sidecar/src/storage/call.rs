//! Storage calls through the engine: as the request's token (RLS applies) or, for finishing
//! and aborting uploads, as the sidecar itself. Every `Call` comes from crate::extension.

use axum::http::HeaderMap;
use serde_json::Value;

use super::error::StorageError;
use crate::engine::{Access, Call, Caller};
use crate::state::AppState;

pub async fn run(state: &AppState, headers: &HeaderMap, call: Call) -> Result<Value, StorageError> {
    Ok(state.engine.call(Caller::of(headers, "POST", "/storage/v1"), Access::Write, call).await?)
}

/// The same in a READ ONLY transaction: downloads, listings, bucket reads.
pub async fn read(state: &AppState, headers: &HeaderMap, call: Call) -> Result<Value, StorageError> {
    Ok(state.engine.call(Caller::of(headers, "GET", "/storage/v1"), Access::Read, call).await?)
}

pub async fn run_as_sidecar(state: &AppState, call: Call) -> Result<Value, StorageError> {
    Ok(state.engine.call_as_sidecar(call).await?)
}
