//! The request engine: the one way every surface (REST, auth, storage, MCP, and later realtime,
//! webhooks and the console) runs work as a caller.
//!
//! caller (token from the request) -> a pooled connection (within --pool-timeout) -> BEGIN
//! [READ ONLY] -> `bknd.authenticate` (role and claims, transaction-local) -> the work, under
//! the session's statement timeout -> COMMIT or ROLLBACK -> a `Failure` classified once
//! (`sqlstate`) for each surface to render in its own format.
//!
//! The work runs in a task of its own, so a client that disconnects can never hand a
//! connection back to the pool in the middle of a transaction (or in someone's role).

pub mod call;
pub mod caller;
pub mod failure;
pub mod sqlstate;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use deadpool_postgres::{ClientWrapper, Object, Pool, PoolError};
use tracing::Instrument;

pub use call::Call;
pub use caller::Caller;
pub use failure::Failure;

/// Read work runs in a READ ONLY transaction (PostgreSQL refuses a write with 25006: 405).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn begin(self) -> &'static str {
        match self {
            Access::Read => "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY",
            Access::Write => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }

    /// How `caller`'s transaction begins, and what follows authenticating: a console session
    /// begins read-write (authenticating records that it is in use) and is then made read-only.
    pub fn begin_for(self, caller: &Caller) -> (&'static str, Option<&'static str>) {
        match self {
            Access::Read if caller.is_console() => (Access::Write.begin(), Some("SET LOCAL transaction_read_only = on")),
            _ => (self.begin(), None),
        }
    }

    pub fn of_method(method: &str) -> Access {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            Access::Read
        } else {
            Access::Write
        }
    }
}

/// What runs right after `bknd.authenticate`, if anything (`Access::begin_for`).
pub async fn after_authenticating(client: &ClientWrapper, statement: Option<&'static str>) -> Result<(), tokio_postgres::Error> {
    match statement {
        Some(sql) => client.batch_execute(sql).await,
        None => Ok(()),
    }
}

/// `bknd.authenticate(token, method, path, headers, anon_role)`: verifies the token in the
/// database, sets the claims and switches role for the rest of the transaction.
pub const AUTHENTICATE: &str = "SELECT bknd.authenticate($1::text, $2::text, $3::text, $4::text::jsonb, $5::text)::text";

#[derive(Clone)]
pub struct Engine {
    pool: Pool,
    anon_role: Arc<str>,
    /// how long one statement's work may take before the database counts as not answering:
    /// the statement timeout and a second for the round trips around it (none when the
    /// statement timeout is 0, PostgreSQL's "no timeout": then a year)
    work_limit: Duration,
}

/// A future borrowing the connection it runs on.
pub type Work<'c, T, E> = BoxFuture<'c, Result<T, E>>;

impl Engine {
    pub fn new(pool: Pool, anon_role: &str, statement_timeout_ms: u64) -> Engine {
        let work_limit = match statement_timeout_ms {
            0 => Duration::from_secs(365 * 86400),
            ms => Duration::from_millis(ms.saturating_add(1000)),
        };
        Engine { pool, anon_role: anon_role.into(), work_limit }
    }

    pub fn anon_role(&self) -> &str {
        &self.anon_role
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The limit for one statement's work (see `work_limit`).
    pub fn work_limit(&self) -> Duration {
        self.work_limit
    }

    /// A pooled connection, or `Unavailable` once --pool-timeout has passed (or at once when
    /// the database refuses connections).
    pub async fn connection(&self) -> Result<Object, Failure> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(_) => Failure::unavailable("no database connection within --pool-timeout", e),
            e => Failure::unavailable("database connection", e),
        })
    }

    /// Run `work` in a task of its own (see the module's note), in the request's span.
    pub async fn spawn<T, E, Fut>(&self, work: Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Failure> + Send + 'static,
    {
        match tokio::spawn(work.instrument(tracing::Span::current())).await {
            Ok(result) => result,
            Err(e) => Err(E::from(Failure::internal("request task", e))),
        }
    }

    /// `work` (of `statements` statements) on a pooled connection, in a task of its own,
    /// within the work limit. When the database does not answer in time (frozen, a network
    /// partition) the answer is 504: what was sent may still run, so the outcome is unknown.
    /// That connection may be in the middle of a transaction, so it is closed, never handed
    /// back to the pool; so is one whose work panicked.
    pub async fn with_connection<T, E, F>(&self, statements: u32, work: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c Object) -> Work<'c, T, E> + Send + 'static,
        T: Send + 'static,
        E: From<Failure> + Send + 'static,
    {
        let engine = self.clone();
        let limit = self.work_limit.saturating_mul(statements.max(1));
        self.spawn(async move {
            let client = engine.connection().await?;
            let run = std::panic::AssertUnwindSafe(async { tokio::time::timeout(limit, work(&client)).await.ok() });
            match run.catch_unwind().await {
                Ok(Some(result)) => result,
                Ok(None) => {
                    drop(Object::take(client));
                    Err(E::from(Failure::no_answer()))
                }
                Err(_) => {
                    drop(Object::take(client));
                    Err(E::from(Failure::internal("request", "the work on a connection panicked")))
                }
            }
        })
        .await
    }

    /// BEGIN and `bknd.authenticate`, pipelined (one round trip). Authenticate's answer (the
    /// claims) as JSON text. On failure the transaction is rolled back.
    pub async fn begin(&self, client: &ClientWrapper, caller: &Caller, access: Access) -> Result<Option<String>, Failure> {
        let auth = client.prepare_cached(AUTHENTICATE).await.map_err(|e| Failure::from_pg(&e, caller.anonymous()))?;
        let params = authenticate_params(caller, &self.anon_role);
        let auth_refs = params.refs();
        let (begin, then) = access.begin_for(caller);
        let (began, authenticated, made_read_only) =
            tokio::join!(client.batch_execute(begin), client.query_one(&auth, &auth_refs), after_authenticating(client, then));
        let failure = match (began, authenticated, made_read_only) {
            (Err(e), _, _) => Failure::from_pg(&e, caller.anonymous()),
            (_, Err(e), _) => token_failure(&e, caller.anonymous()),
            (_, _, Err(e)) => Failure::from_pg(&e, caller.anonymous()),
            (Ok(()), Ok(row), Ok(())) => return Ok(row.try_get(0).ok().flatten()),
        };
        let _ = client.batch_execute("ROLLBACK").await;
        Err(failure)
    }

    /// COMMIT when the work succeeded, else ROLLBACK; the work's result either way.
    pub async fn finish<T, E: From<Failure>>(&self, client: &ClientWrapper, anonymous: bool, result: Result<T, E>) -> Result<T, E> {
        match result {
            Ok(value) => {
                client.batch_execute("COMMIT").await.map_err(|e| E::from(Failure::from_pg(&e, anonymous)))?;
                Ok(value)
            }
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }
}

/// `bknd.authenticate`'s parameters for a caller.
pub struct AuthenticateParams {
    token: Option<String>,
    method: String,
    path: String,
    headers: Option<String>,
    anon_role: String,
}

impl AuthenticateParams {
    pub fn refs(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 5] {
        [&self.token, &self.method, &self.path, &self.headers, &self.anon_role]
    }
}

pub fn authenticate_params(caller: &Caller, anon_role: &str) -> AuthenticateParams {
    AuthenticateParams {
        token: caller.token.clone(),
        method: caller.method.clone(),
        path: caller.path.clone(),
        headers: caller.headers.clone(),
        anon_role: anon_role.to_string(),
    }
}

/// `bknd.authenticate` failed: a refused token (28000) is `Failure::Token`; anything else is
/// classified like any database error.
pub fn token_failure(e: &tokio_postgres::Error, anonymous: bool) -> Failure {
    match e.as_db_error() {
        Some(db) if db.code().code() == "28000" => Failure::Token(db.message().to_string()),
        _ => Failure::from_pg(e, anonymous),
    }
}
