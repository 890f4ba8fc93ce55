//! Storage calls into the database: as the request's token (RLS applies) or, for finishing
//! and aborting uploads, as the sidecar itself.

use axum::http::HeaderMap;
use serde_json::Value;

use super::error::StorageError;
use crate::app::AppState;
use crate::db::{self, CallError, Caller};

pub async fn as_caller(state: &AppState, headers: &HeaderMap, sql: &'static str, args: Vec<Option<String>>) -> Result<Value, StorageError> {
    let caller = Caller::Token {
        token: crate::rest::request::bearer(headers),
        method: "POST".into(),
        path: "/storage/v1".into(),
        anon_role: state.rest.anon_role.clone(),
    };
    json_of(db::call(&state.pool, caller, sql, args).await)
}

pub async fn as_sidecar(state: &AppState, sql: &'static str, args: Vec<Option<String>>) -> Result<Value, StorageError> {
    json_of(db::call(&state.pool, Caller::Sidecar, sql, args).await)
}

fn json_of(result: Result<Option<String>, CallError>) -> Result<Value, StorageError> {
    match result {
        Ok(text) => Ok(text.as_deref().map(serde_json::from_str).transpose().map_err(StorageError::internal)?.unwrap_or(Value::Null)),
        Err(CallError::Pool(e)) => Err(StorageError::unavailable(e)),
        Err(CallError::Token(e)) => Err(StorageError::new(
            400,
            "InvalidJWT",
            e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| "invalid JWT".into()),
        )),
        Err(CallError::Statement(e)) => Err(StorageError::from_db(&e)),
    }
}
