//! One auth call: a transaction that authenticates the caller's token and runs one `bknd.*`
//! auth function, all pipelined. The function answers JSON, or `{"error": {...}}`.

use serde_json::Value;
use tokio_postgres::types::ToSql;

use super::error::AuthError;
use crate::app::AppState;

const AUTHENTICATE: &str = "SELECT bknd.authenticate($1::text, $2::text, $3::text, NULL, $4::text)";

pub async fn call(state: &AppState, token: Option<String>, path: &str, sql: &'static str, args: Vec<Option<String>>) -> Result<Value, AuthError> {
    let pool = state.pool.clone();
    let anon_role = state.rest.anon_role.clone();
    let path = path.to_string();
    let anonymous = token.is_none();
    let task = tokio::spawn(async move {
        let client = pool.get().await.map_err(|e| AuthError::unavailable(e))?;
        let auth = client.prepare_cached(AUTHENTICATE).await.map_err(AuthError::internal)?;
        let stmt = client.prepare_cached(sql).await.map_err(AuthError::internal)?;
        let method = "POST".to_string();
        let auth_params: [&(dyn ToSql + Sync); 4] = [&token, &method, &path, &anon_role];
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let (began, authenticated, result, committed) = tokio::join!(
            client.batch_execute("BEGIN"),
            client.query_one(&auth, &auth_params),
            client.query_one(&stmt, &refs),
            client.batch_execute("COMMIT")
        );
        began.map_err(AuthError::unavailable)?;
        if let Err(e) = authenticated {
            return Err(AuthError::bad_jwt(&e));
        }
        let row = result.map_err(|e| AuthError::from_db(&e, anonymous))?;
        committed.map_err(AuthError::internal)?;
        answer_of(&row)
    });
    task.await.map_err(AuthError::internal)?
}

/// A call as authenticator itself, with no role switch: for the functions only the sidecar may
/// call (they return secrets to send by email).
pub async fn call_privileged(state: &AppState, sql: &'static str, args: Vec<Option<String>>) -> Result<Value, AuthError> {
    let pool = state.pool.clone();
    let task = tokio::spawn(async move {
        let client = pool.get().await.map_err(AuthError::unavailable)?;
        let stmt = client.prepare_cached(sql).await.map_err(AuthError::internal)?;
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let (began, result, committed) =
            tokio::join!(client.batch_execute("BEGIN"), client.query_one(&stmt, &refs), client.batch_execute("COMMIT"));
        began.map_err(AuthError::unavailable)?;
        let row = result.map_err(|e| AuthError::from_db(&e, false))?;
        committed.map_err(AuthError::internal)?;
        answer_of(&row)
    });
    task.await.map_err(AuthError::internal)?
}

/// An auth function's answer: its JSON, or the `{"error": ...}` it gave as an AuthError.
fn answer_of(row: &tokio_postgres::Row) -> Result<Value, AuthError> {
    let text: Option<String> = row.try_get(0).map_err(AuthError::internal)?;
    let value: Value = text.as_deref().map(serde_json::from_str).transpose().map_err(AuthError::internal)?.unwrap_or(Value::Null);
    match value.get("error") {
        Some(err) => Err(AuthError::from_answer(err)),
        None => Ok(value),
    }
}
