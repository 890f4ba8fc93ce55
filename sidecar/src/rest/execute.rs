//! A REST statement run by the engine (crate::engine): BEGIN [READ ONLY] and
//! `bknd.authenticate` go out together, then the statement runs under the token's role, with
//! RLS. A statement this connection has prepared before goes out in the same round trip.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use tokio_postgres::Row;

use super::error::ApiError;
use super::query::Sql;
use super::request::ApiRequest;
use crate::engine::{authenticate_params, token_failure, Access, Caller, Failure, AUTHENTICATE};
use crate::state::AppState;

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

/// Run `stmt` for `req` through the engine; `decide` looks at the result row and says whether
/// to commit (an error also rolls back).
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
    let anon_role = state.engine.anon_role().to_string();
    let engine = state.engine.clone();
    let mut caller = Caller::new(req.token.clone(), req.method.as_str(), &req.path);
    caller.headers = Some(req.headers_json.to_string());
    let pre_request = state.rest.pre_request.clone();
    let access = if stmt.read_only { Access::Read } else { Access::Write };
    // the pre-request function, the EXPLAIN and the statement may each take the statement timeout
    let statements = 1 + u32::from(pre_request.is_some()) + u32::from(stmt.explain.is_some());
    state
        .engine
        .with_connection(statements, move |client| {
            Box::pin(async move {
                let anonymous = caller.anonymous();
                let fail = move |e: tokio_postgres::Error| ApiError::from(Failure::from_pg(&e, anonymous));
                let key = statement_key(client, &stmt.text);

                // One round trip: BEGIN, authenticate, the (already prepared) statement and COMMIT
                // together. If authenticate fails the statement fails too, and COMMIT rolls back.
                if known_prepared(&key) && stmt.blind_commit && stmt.explain.is_none() && pre_request.is_none() {
                    let auth = client.prepare_cached(AUTHENTICATE).await.map_err(fail)?;
                    let auth_params = authenticate_params(&caller, &anon_role);
                    let auth_refs = auth_params.refs();
                    let prepared = client.prepare_cached(&stmt.text).await.map_err(fail)?;
                    let params = stmt.sql.bind();
                    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                    let (began, authenticated, result, committed) = tokio::join!(
                        client.batch_execute(access.begin()),
                        client.query_one(&auth, &auth_refs),
                        client.query_one(&prepared, &refs),
                        client.batch_execute("COMMIT")
                    );
                    if let Err(e) = began {
                        let _ = client.batch_execute("ROLLBACK").await;
                        return Err(fail(e));
                    }
                    authenticated.map_err(|e| ApiError::from(token_failure(&e, anonymous)))?;
                    let row = result.map_err(fail)?;
                    committed.map_err(fail)?;
                    decide(&row)?;
                    return Ok(Outcome { row, planned: None });
                }

                engine.begin(client, &caller, access).await?;
                let result = async {
                    if let Some(call) = &pre_request {
                        client.batch_execute(call).await.map_err(fail)?;
                    }
                    let mut planned = None;
                    if let Some((text, sql)) = &stmt.explain {
                        let params = sql.bind();
                        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                        let prepared = client.prepare_cached(text).await.map_err(fail)?;
                        planned = plan_rows(&client.query_one(&prepared, &refs).await.map_err(fail)?);
                    }
                    let params = stmt.sql.bind();
                    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                    let prepared = client.prepare_cached(&stmt.text).await.map_err(fail)?;
                    remember_prepared(key);
                    if stmt.blind_commit {
                        let (row, committed) = tokio::join!(client.query_one(&prepared, &refs), client.batch_execute("COMMIT"));
                        let row = row.map_err(fail)?;
                        committed.map_err(fail)?;
                        decide(&row)?;
                        return Ok((Outcome { row, planned }, None));
                    }
                    let row = client.query_one(&prepared, &refs).await.map_err(fail)?;
                    let finish = decide(&row)?;
                    Ok((Outcome { row, planned }, Some(finish)))
                }
                .await;
                match result {
                    // committed already (blind commit)
                    Ok((outcome, None)) => Ok(outcome),
                    Ok((outcome, Some(Finish::Commit))) => engine.finish(client, anonymous, Ok(outcome)).await,
                    Ok((outcome, Some(Finish::Rollback))) => {
                        client.batch_execute("ROLLBACK").await.map_err(fail)?;
                        Ok(outcome)
                    }
                    Err(e) => {
                        let _ = client.batch_execute("ROLLBACK").await;
                        Err(e)
                    }
                }
            })
        })
        .await
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
