//! One transaction per request, on a pooled connection (connected as `authenticator`):
//! BEGIN [READ ONLY] and `bknd.authenticate` go out together, then the statement runs under the
//! token's role, with RLS. The work runs in its own task, so a client that disconnects can never
//! hand a connection back to the pool in the middle of a transaction (or in someone's role).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use axum::http::StatusCode;
use tokio_postgres::Row;

use super::error::ApiError;
use super::query::Sql;
use super::request::ApiRequest;
use crate::app::AppState;

const AUTHENTICATE: &str = "SELECT pg_catalog.set_config('statement_timeout', $6::text, true), \
     bknd.authenticate($1::text, $2::text, $3::text, $4::text::jsonb, $5::text)::text";

/// Statements known to be prepared on a pooled connection, by (connection, creation time,
/// statement text hash). Such a statement can go out in the same round trip as BEGIN and
/// `bknd.authenticate`; a new one must be parsed after the role switch (the API role may have
/// schema privileges that authenticator lacks), which takes a round trip of its own.
static PREPARED: LazyLock<Mutex<HashSet<(usize, Instant, u64)>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

fn statement_key(client: &deadpool_postgres::Object, text: &str) -> (usize, Instant, u64) {
    let address = &**client as *const deadpool_postgres::ClientWrapper as usize;
    let created = deadpool_postgres::Object::metrics(client).created;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    (address, created, h.finish())
}

fn known_prepared(key: &(usize, Instant, u64)) -> bool {
    PREPARED.lock().map(|set| set.contains(key)).unwrap_or(false)
}

fn remember_prepared(key: (usize, Instant, u64)) {
    if let Ok(mut set) = PREPARED.lock() {
        if set.len() > 100_000 {
            set.clear(); // bounded: connections come and go
        }
        set.insert(key);
    }
}

/// What to do with the transaction once the statement has answered.
pub enum Finish {
    Commit,
    Rollback,
}

pub struct Statement {
    pub text: String,
    pub sql: Sql,
    pub read_only: bool,
    /// The commit does not depend on the result: send COMMIT right behind the statement (if
    /// the statement fails, COMMIT of the aborted transaction rolls it back).
    pub blind_commit: bool,
    /// An EXPLAIN (FORMAT JSON) whose top row estimate is the planned count.
    pub explain: Option<(String, Sql)>,
}

impl Statement {
    pub fn new(text: String, sql: Sql, read_only: bool, blind_commit: bool) -> Statement {
        Statement { text, sql, read_only, blind_commit, explain: None }
    }
}

pub struct Outcome {
    pub row: Row,
    /// the planner's row estimate, when the statement asked for one
    pub planned: Option<i64>,
}

/// Run `stmt` for `req`; `decide` looks at the result row and says whether to commit (an
/// error also rolls back).
pub async fn run<F>(state: &AppState, req: &ApiRequest, stmt: Statement, decide: F) -> Result<Outcome, ApiError>
where
    F: FnOnce(&Row) -> Result<Finish, ApiError> + Send + 'static,
{
    // The parser refuses NUL in names; this keeps any that slips through a 400 (the driver
    // would refuse the text, and that surfaced as a 500).
    let explain_text = stmt.explain.as_ref().map(|(t, _)| t.as_str()).unwrap_or("");
    if stmt.text.contains('\0') || explain_text.contains('\0') {
        return Err(ApiError::parse("\"failed to parse the request\"", "names cannot contain the NUL character"));
    }
    let pool = state.pool.clone();
    let token = req.token.clone();
    let method = req.method.to_string();
    let path = req.path.clone();
    let headers = req.headers_json.to_string();
    let anon_role = state.rest.anon_role.clone();
    let timeout_ms = state.rest.statement_timeout_ms;
    let anonymous = req.token.is_none();
    let pre_request = state.rest.pre_request.clone();
    let task = tokio::spawn(async move {
        let client = pool.get().await.map_err(|e| ApiError::unavailable("database pool", e))?;
        let begin = if stmt.read_only { "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY" } else { "BEGIN ISOLATION LEVEL READ COMMITTED" };
        let timeout = timeout_ms.to_string();
        let auth = client.prepare_cached(AUTHENTICATE).await.map_err(|e| db_error(&e, anonymous, "prepare authenticate"))?;
        let auth_params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [&token, &method, &path, &headers, &anon_role, &timeout];
        let key = statement_key(&client, &stmt.text);

        // One round trip: BEGIN, authenticate, the (already prepared) statement and COMMIT
        // together. If authenticate fails the statement fails too, and COMMIT rolls back.
        if known_prepared(&key) && stmt.blind_commit && stmt.explain.is_none() && pre_request.is_none() {
            let prepared = client.prepare_cached(&stmt.text).await.map_err(|e| db_error(&e, anonymous, "prepare"))?;
            let params = stmt.sql.bind();
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let (began, authenticated, result, committed) = tokio::join!(
                client.batch_execute(begin),
                client.query_one(&auth, &auth_params),
                client.query_one(&prepared, &refs),
                client.batch_execute("COMMIT")
            );
            if let Err(e) = began {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(ApiError::unavailable("begin", e));
            }
            if let Err(e) = authenticated {
                return Err(auth_error(&e, anonymous));
            }
            let row = result.map_err(|e| db_error(&e, anonymous, "statement"))?;
            committed.map_err(|e| db_error(&e, anonymous, "commit"))?;
            decide(&row)?;
            return Ok(Outcome { row, planned: None });
        }

        let (began, authenticated) = tokio::join!(client.batch_execute(begin), client.query_one(&auth, &auth_params));
        if let Err(e) = began {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(ApiError::unavailable("begin", e));
        }
        if let Err(e) = authenticated {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(auth_error(&e, anonymous));
        }
        if let Some(call) = &pre_request {
            if let Err(e) = client.batch_execute(call).await {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(db_error(&e, anonymous, "pre-request"));
            }
        }
        let mut planned = None;
        if let Some((text, sql)) = &stmt.explain {
            let params = sql.bind();
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let result = match client.prepare_cached(text).await {
                Ok(p) => client.query_one(&p, &refs).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(row) => planned = plan_rows(&row),
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Err(db_error(&e, anonymous, "explain"));
                }
            }
        }
        let params = stmt.sql.bind();
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let prepared = match client.prepare_cached(&stmt.text).await {
            Ok(p) => p,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(db_error(&e, anonymous, "prepare"));
            }
        };
        remember_prepared(key);
        if stmt.blind_commit {
            let (row, committed) = tokio::join!(client.query_one(&prepared, &refs), client.batch_execute("COMMIT"));
            let row = row.map_err(|e| db_error(&e, anonymous, "statement"))?;
            committed.map_err(|e| db_error(&e, anonymous, "commit"))?;
            decide(&row)?;
            return Ok(Outcome { row, planned });
        }
        let row = match client.query_one(&prepared, &refs).await {
            Ok(row) => row,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(db_error(&e, anonymous, "statement"));
            }
        };
        match decide(&row) {
            Ok(Finish::Commit) => client.batch_execute("COMMIT").await.map_err(|e| db_error(&e, anonymous, "commit"))?,
            Ok(Finish::Rollback) => client.batch_execute("ROLLBACK").await.map_err(|e| ApiError::internal("rollback", e))?,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(e);
            }
        }
        Ok(Outcome { row, planned })
    });
    match task.await {
        Ok(result) => result,
        Err(e) => Err(ApiError::internal("request task", e)),
    }
}

fn db_error(e: &tokio_postgres::Error, anonymous: bool, context: &str) -> ApiError {
    match e.as_db_error() {
        Some(db) => ApiError::from_db(db, anonymous),
        None if e.is_closed() => ApiError::unavailable(context, e),
        None => ApiError::internal(context, e),
    }
}

/// `bknd.authenticate` refused the token: 401 with PostgREST's codes.
fn auth_error(e: &tokio_postgres::Error, anonymous: bool) -> ApiError {
    let Some(db) = e.as_db_error() else { return ApiError::unavailable("authenticate", e) };
    if db.code().code() != "28000" {
        return ApiError::from_db(db, anonymous);
    }
    let message = db.message().to_string();
    // claims that are well-formed but not acceptable (time, role) are PGRST303
    let claims = message.starts_with("JWT expired") || message.starts_with("JWT is not valid yet") || message.contains("named in the JWT");
    let code = if claims { "PGRST303" } else { "PGRST301" };
    let mut err = ApiError::new(StatusCode::UNAUTHORIZED, code, message.clone());
    err.www_authenticate = Some(format!("Bearer error=\"invalid_token\", error_description=\"{}\"", message.replace('"', "'")));
    err
}

/// "Plan Rows" of the top plan node in EXPLAIN (FORMAT JSON) output.
fn plan_rows(row: &Row) -> Option<i64> {
    let plan: serde_json::Value = row.try_get(0).ok()?;
    plan[0]["Plan"]["Plan Rows"].as_f64().map(|f| f as i64)
}

pub fn text(row: &Row, column: &str) -> Option<String> {
    row.try_get::<_, Option<String>>(column).ok().flatten()
}

pub fn int(row: &Row, column: &str) -> Option<i64> {
    row.try_get::<_, Option<i64>>(column).ok().flatten()
}
