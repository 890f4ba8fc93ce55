//! A REST statement run by the engine (crate::engine). A statement whose commit does not
//! depend on its result goes out as one call, `bknd.run_as_row` (authenticate, the statement,
//! commit: one answer from the server); the others run step by step: BEGIN [READ ONLY] and
//! `bknd.authenticate` together, then the pre-request function, the EXPLAIN and the statement
//! under the token's role, with RLS, then COMMIT or ROLLBACK as the result decides.

use tokio_postgres::Row;

use super::error::ApiError;
use super::query::Sql;
use super::request::ApiRequest;
use crate::engine::call::TextRow;
use crate::engine::{Access, Caller, Failure};
use crate::state::AppState;

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

/// The statement's one row: from the driver (step by step) or as text (`bknd.run_as_row`).
pub enum StatementRow {
    Typed(Row),
    Text(TextRow),
}

pub struct Outcome {
    pub row: StatementRow,
    /// the planner's row estimate, when the statement asked for one
    pub planned: Option<i64>,
}

/// Run `stmt` for `req` through the engine; `decide` looks at the result row and says whether
/// to commit (an error also rolls back).
pub async fn run<F>(state: &AppState, req: &ApiRequest, stmt: Statement, decide: F) -> Result<Outcome, ApiError>
where
    F: FnOnce(&StatementRow) -> Result<Finish, ApiError> + Send + 'static,
{
    // The parser refuses NUL in names; this keeps any that slips through a 400 (the driver
    // would refuse the text, and that surfaced as a 500).
    let explain_text = stmt.explain.as_ref().map(|(t, _)| t.as_str()).unwrap_or("");
    if stmt.text.contains('\0') || explain_text.contains('\0') {
        return Err(ApiError::parse("\"failed to parse the request\"", "names cannot contain the NUL character"));
    }
    let engine = state.engine.clone();
    let mut caller = Caller::new(req.token.clone(), req.method.as_str(), &req.path);
    caller.headers = Some(req.headers_json.clone());
    let pre_request = state.rest.pre_request.clone();
    let access = if stmt.read_only { Access::Read } else { Access::Write };
    // the pre-request function, the EXPLAIN and the statement may each take the statement timeout
    let statements = 1 + u32::from(pre_request.is_some()) + u32::from(stmt.explain.is_some());
    if stmt.blind_commit && stmt.explain.is_none() && pre_request.is_none() {
        let row = engine
            .row_at_once(caller, access, stmt.text, stmt.sql.params)
            .await?
            .ok_or_else(|| ApiError::from(Failure::internal("a REST statement answered no row", "no row")))?;
        let row = StatementRow::Text(row);
        decide(&row)?;
        return Ok(Outcome { row, planned: None });
    }
    state
        .engine
        .with_connection(statements, move |client| {
            Box::pin(async move {
                let anonymous = caller.anonymous();
                let fail = move |e: tokio_postgres::Error| ApiError::from(Failure::from_pg(&e, anonymous));
                engine.begin(client, &caller, access).await?;
                let result = async {
                    if let Some(call) = &pre_request {
                        client.batch_execute(call).await.map_err(fail)?;
                    }
                    let mut planned = None;
                    if let Some((text, sql)) = &stmt.explain {
                        let params = sql.bind();
                        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                        let prepared = prepare(client, text).await.map_err(fail)?;
                        planned = plan_rows(&client.query_one(&prepared, &refs).await.map_err(fail)?);
                    }
                    let params = stmt.sql.bind();
                    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                    let prepared = prepare(client, &stmt.text).await.map_err(fail)?;
                    if stmt.blind_commit {
                        let (row, committed) = tokio::join!(client.query_one(&prepared, &refs), client.batch_execute("COMMIT"));
                        let row = StatementRow::Typed(row.map_err(fail)?);
                        committed.map_err(fail)?;
                        decide(&row)?;
                        return Ok((Outcome { row, planned }, None));
                    }
                    let row = StatementRow::Typed(client.query_one(&prepared, &refs).await.map_err(fail)?);
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

/// Prepared statements one pooled connection keeps for REST (each also held by its backend).
const STATEMENTS_KEPT_AT_MOST: usize = 256;

/// A REST statement, prepared once per connection. Its texts carry a page's numbers (LIMIT and
/// OFFSET), so their variety has no bound: past STATEMENTS_KEPT_AT_MOST the connection's
/// prepared statements are let go and made anew. A text that fails to prepare leaves the
/// driver's cache an empty entry its size does not count: it is taken out again.
async fn prepare(client: &deadpool_postgres::ClientWrapper, text: &str) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    if client.statement_cache.size() > STATEMENTS_KEPT_AT_MOST {
        client.statement_cache.clear();
    }
    let prepared = client.prepare_cached(text).await;
    if prepared.is_err() {
        client.statement_cache.remove(text, &[]);
    }
    prepared
}

/// "Plan Rows" of the top plan node in EXPLAIN (FORMAT JSON) output.
fn plan_rows(row: &Row) -> Option<i64> {
    let plan: serde_json::Value = row.try_get(0).ok()?;
    plan[0]["Plan"]["Plan Rows"].as_f64().map(|f| f as i64)
}

pub fn text(row: &StatementRow, column: &str) -> Option<String> {
    match row {
        StatementRow::Typed(row) => row.try_get::<_, Option<String>>(column).ok().flatten(),
        StatementRow::Text(row) => row.get(column).map(str::to_string),
    }
}

pub fn int(row: &StatementRow, column: &str) -> Option<i64> {
    match row {
        StatementRow::Typed(row) => row.try_get::<_, Option<i64>>(column).ok().flatten(),
        StatementRow::Text(row) => row.get(column).and_then(|v| v.parse().ok()),
    }
}
