//! One `bknd.*` function call (SQL answering JSON text, arguments as text with the casts in
//! the SQL) run by the engine: as a caller in its own transaction, as one statement through
//! `bknd.run_as`, or as the sidecar itself. `crate::extension` builds every `Call`.

use serde_json::Value;

use super::{authenticate_params, token_failure, Access, Caller, Engine, Failure, AUTHENTICATE};

#[derive(Debug, Clone)]
pub struct Call {
    pub sql: &'static str,
    pub args: Vec<Option<String>>,
}

impl Call {
    pub fn new(sql: &'static str, args: Vec<Option<String>>) -> Call {
        Call { sql, args }
    }

    /// The arguments as the driver takes them, for a connection the engine does not run.
    pub fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        refs(&self.args)
    }
}

const RUN_AS: &str = "SELECT bknd.run_as($1::text, $2::text, $3::text, $4::text, $5::text, $6::text[])";
const RUN_AS_ROW: &str = "SELECT bknd.run_as_row($1::text, $2::text, $3::text, $4::text::jsonb, $5::text, $6::bool, $7::text, $8::text[])";

/// A statement's one row as `bknd.run_as_row` answers it: each column's name and its value as text.
#[derive(Debug, Clone, Default)]
pub struct TextRow(pub Vec<(String, Option<String>)>);

impl TextRow {
    pub fn get(&self, column: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| name == column).and_then(|(_, v)| v.as_deref())
    }
}

impl Engine {
    /// BEGIN [READ ONLY], authenticate, the call and COMMIT, pipelined: one round trip.
    pub async fn call(&self, caller: Caller, access: Access, call: Call) -> Result<Value, Failure> {
        let anon_role = self.anon_role().to_string();
        self.with_connection(1, move |client| {
            Box::pin(async move {
                let anonymous = caller.anonymous();
                let stmt = client.prepare_cached(call.sql).await.map_err(|e| Failure::from_pg(&e, anonymous))?;
                let auth = client.prepare_cached(AUTHENTICATE).await.map_err(|e| Failure::from_pg(&e, anonymous))?;
                let params = authenticate_params(&caller, &anon_role);
                let auth_refs = params.refs();
                let args = refs(&call.args);
                // if authenticate fails the call fails too, and COMMIT of the aborted transaction rolls back
                let (begin, then) = access.begin_for(&caller);
                let (began, authenticated, made_read_only, result, committed) = tokio::join!(
                    client.batch_execute(begin),
                    client.query_one(&auth, &auth_refs),
                    super::after_authenticating(client, then),
                    client.query_one(&stmt, &args),
                    client.batch_execute("COMMIT")
                );
                began.map_err(|e| Failure::from_pg(&e, anonymous))?;
                authenticated.map_err(|e| token_failure(&e, anonymous))?;
                made_read_only.map_err(|e| Failure::from_pg(&e, anonymous))?;
                let row = result.map_err(|e| Failure::from_pg(&e, anonymous))?;
                committed.map_err(|e| Failure::from_pg(&e, anonymous))?;
                json_of(&row)
            })
        })
        .await
    }

    /// The same as one statement, `bknd.run_as`, in an implicit transaction: Postgres answers
    /// once, after the commit, where the pipeline's four Syncs get four answers. Only for
    /// functions that never raise 28000 themselves (bknd's auth functions): here it means the
    /// token was refused.
    pub async fn call_at_once(&self, caller: Caller, call: Call) -> Result<Value, Failure> {
        let anon_role = self.anon_role().to_string();
        self.with_connection(1, move |client| {
            Box::pin(async move {
                let anonymous = caller.anonymous();
                let run_as = client.prepare_cached(RUN_AS).await.map_err(|e| Failure::from_pg(&e, anonymous))?;
                let row = client
                    .query_one(&run_as, &[&caller.token, &caller.method, &caller.path, &anon_role, &call.sql, &call.args])
                    .await
                    .map_err(|e| token_failure(&e, anonymous))?;
                json_of(&row)
            })
        })
        .await
    }

    /// Any one statement (parameters typed as PostgreSQL infers them from their use, sent as
    /// text) as the caller, through `bknd.run_as_row` in an implicit transaction (READ ONLY
    /// for reads): one answer from the server. Its first row, or None when it has none.
    pub async fn row_at_once(
        &self,
        caller: Caller,
        access: Access,
        sql: String,
        args: Vec<Option<String>>,
    ) -> Result<Option<TextRow>, Failure> {
        let anon_role = self.anon_role().to_string();
        self.with_connection(1, move |client| {
            Box::pin(async move {
                let anonymous = caller.anonymous();
                let run_as_row = client.prepare_cached(RUN_AS_ROW).await.map_err(|e| Failure::from_pg(&e, anonymous))?;
                let read_only = matches!(access, Access::Read);
                let row = client
                    .query_one(
                        &run_as_row,
                        &[&caller.token, &caller.method, &caller.path, &caller.headers, &anon_role, &read_only, &sql, &args],
                    )
                    .await
                    .map_err(|e| statement_or_token_failure(&e, anonymous))?;
                let flat: Option<Vec<Option<String>>> = row.try_get(0).map_err(|e| Failure::internal("reading a row's columns", e))?;
                Ok(flat.map(|flat| {
                    let mut flat = flat.into_iter();
                    let mut columns = Vec::with_capacity(flat.len() / 2);
                    while let Some(name) = flat.next() {
                        columns.push((name.unwrap_or_default(), flat.next().flatten()));
                    }
                    TextRow(columns)
                }))
            })
        })
        .await
    }

    /// A call as the sidecar's own role (`authenticator`), with no role switch: for the
    /// functions only the sidecar may call (finishing uploads, secrets to send by email).
    pub async fn call_as_sidecar(&self, call: Call) -> Result<Value, Failure> {
        self.with_connection(1, move |client| {
            Box::pin(async move {
                let stmt = client.prepare_cached(call.sql).await.map_err(|e| Failure::from_pg(&e, false))?;
                let row = client.query_one(&stmt, &refs(&call.args)).await.map_err(|e| Failure::from_pg(&e, false))?;
                json_of(&row)
            })
        })
        .await
    }
}

/// An error `bknd.run_as_row` raised from the statement carries this context line
/// (src/statement_error.rs); a 28000 without it is `bknd.authenticate` refusing the token.
const STATEMENT_CONTEXT: &str = "bknd.run_as_row: the statement";

fn statement_or_token_failure(e: &tokio_postgres::Error, anonymous: bool) -> Failure {
    match e.as_db_error() {
        Some(db) if db.where_().is_some_and(|w| w.contains(STATEMENT_CONTEXT)) => Failure::from_pg(e, anonymous),
        _ => token_failure(e, anonymous),
    }
}

fn refs(args: &[Option<String>]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync)).collect()
}

/// The first column: JSON text, or NULL.
fn json_of(row: &tokio_postgres::Row) -> Result<Value, Failure> {
    let text: Option<String> = row.try_get(0).map_err(|e| Failure::internal("reading a call's answer", e))?;
    match text {
        None => Ok(Value::Null),
        Some(t) => serde_json::from_str(&t).map_err(|e| Failure::internal("a call's answer is not JSON", e)),
    }
}
