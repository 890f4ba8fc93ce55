//! The connection pool. Connections are made as the URL's user (`authenticator` in production)
//! and every request switches role inside its own transaction with `bknd.authenticate`.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

pub fn pool(database_url: &str, size: usize) -> anyhow::Result<Pool> {
    let config: tokio_postgres::Config = database_url.parse().context("invalid --database-url")?;
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(size)
        // the most recently used connection first: its backend has the kept plans, caches and
        // argon2's 19 MiB at hand, where round-robin would cycle every backend's out of cache
        .queue_mode(QueueMode::Lifo)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(Duration::from_secs(10)),
            create: Some(Duration::from_secs(5)),
            recycle: Some(Duration::from_secs(5)),
        })
        .build()
        .context("cannot build the connection pool")
}

/// One connection outside the pool, for the CLI commands.
pub async fn connect(database_url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(database_url, NoTls).await.context("cannot connect to the database")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("database connection closed: {e}");
        }
    });
    Ok(client)
}

/// Why a call failed: the pool, the caller's token (`bknd.authenticate`), or the statement.
pub enum CallError {
    Pool(String),
    Token(tokio_postgres::Error),
    Statement(tokio_postgres::Error),
}

/// Who a call runs as: the holder of `token` (None: the anon role) after `bknd.authenticate`,
/// or, for the functions only the sidecar may call, `authenticator` itself.
pub enum Caller {
    /// BEGIN, authenticate, the statement and COMMIT, pipelined.
    Token {
        token: Option<String>,
        method: String,
        path: String,
        anon_role: String,
    },
    /// The same as one statement, `bknd.run_as`, in an implicit transaction: Postgres answers
    /// once, after the commit, where the pipeline's four Syncs get four answers (four writes,
    /// four wake-ups of this process). Only for statements that never raise SQLSTATE 28000
    /// themselves (bknd's auth functions): here it means the token was refused.
    TokenAtOnce {
        token: Option<String>,
        method: String,
        path: String,
        anon_role: String,
    },
    Sidecar,
}

const AUTHENTICATE: &str = "SELECT bknd.authenticate($1::text, $2::text, $3::text, NULL, $4::text)";
const RUN_AS: &str = "SELECT bknd.run_as($1::text, $2::text, $3::text, $4::text, $5::text, $6::text[])";

/// One statement with text arguments in its own transaction: for a token, pipelined (BEGIN,
/// authenticate, the statement, COMMIT) or as one (`Caller::TokenAtOnce`); for the sidecar,
/// the statement alone. Its first column as text (JSON for bknd's functions).
pub async fn call(pool: &Pool, caller: Caller, sql: &'static str, args: Vec<Option<String>>) -> Result<Option<String>, CallError> {
    use tokio_postgres::types::ToSql;
    let pool = pool.clone();
    let task = tokio::spawn(async move {
        let client = pool.get().await.map_err(|e| CallError::Pool(e.to_string()))?;
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let row = match caller {
            Caller::TokenAtOnce { token, method, path, anon_role } => {
                let run_as = client.prepare_cached(RUN_AS).await.map_err(CallError::Statement)?;
                let refused = |e: tokio_postgres::Error| match e.code() {
                    Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION) => CallError::Token(e),
                    _ => CallError::Statement(e),
                };
                client.query_one(&run_as, &[&token, &method, &path, &anon_role, &sql, &args]).await.map_err(refused)?
            }
            Caller::Token { token, method, path, anon_role } => {
                let stmt = client.prepare_cached(sql).await.map_err(CallError::Statement)?;
                let auth = client.prepare_cached(AUTHENTICATE).await.map_err(CallError::Statement)?;
                let auth_params: [&(dyn ToSql + Sync); 4] = [&token, &method, &path, &anon_role];
                let (began, authenticated, result, committed) = tokio::join!(
                    client.batch_execute("BEGIN"),
                    client.query_one(&auth, &auth_params),
                    client.query_one(&stmt, &refs),
                    client.batch_execute("COMMIT")
                );
                began.map_err(|e| CallError::Pool(e.to_string()))?;
                authenticated.map_err(CallError::Token)?;
                let row = result.map_err(CallError::Statement)?;
                committed.map_err(CallError::Statement)?;
                row
            }
            Caller::Sidecar => {
                // one statement: its implicit transaction is all it needs
                let stmt = client.prepare_cached(sql).await.map_err(CallError::Statement)?;
                client.query_one(&stmt, &refs).await.map_err(CallError::Statement)?
            }
        };
        row.try_get::<_, Option<String>>(0).map_err(CallError::Statement)
    });
    task.await.map_err(|e| CallError::Pool(e.to_string()))?
}
