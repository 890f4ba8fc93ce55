//! The connection pool. Connections are made as the URL's user (`authenticator` in production)
//! and every request switches role inside its own transaction with `bknd.authenticate`.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod, Runtime, Timeouts};

/// How the pool behaves: its size, how long a request waits for a connection, and the
/// statement timeout every session starts with (so it holds on every surface, for every call).
pub struct PoolSettings {
    pub size: usize,
    pub wait: Duration,
    pub statement_timeout_ms: u64,
}

pub fn pool(database_url: &str, settings: PoolSettings) -> anyhow::Result<Pool> {
    // plain, or TLS as the URL's sslmode asks (crate::tls); a certificate refused stops us here
    let (mut config, tls, mode) = crate::tls::settings(database_url)?;
    crate::tls::check_at_start(&config, &tls, mode)?;
    let options = format!("{} -c statement_timeout={}", config.get_options().unwrap_or(""), settings.statement_timeout_ms);
    config.options(options.trim());
    let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(settings.size)
        // the most recently used connection first: its backend has the kept plans, caches and
        // argon2's 19 MiB at hand, where round-robin would cycle every backend's out of cache
        .queue_mode(QueueMode::Lifo)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts { wait: Some(settings.wait), create: Some(Duration::from_secs(5)), recycle: Some(Duration::from_secs(5)) })
        .build()
        .context("cannot build the connection pool")
}

/// One connection outside the pool, for the CLI commands.
pub async fn connect(database_url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (config, tls) = crate::tls::connector_for(database_url)?;
    let (client, connection) = config.connect(tls).await.context("cannot connect to the database")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("database connection closed: {e}");
        }
    });
    Ok(client)
}

/// For the CLI's commands (`bknd keys`, `bknd gen types`): a transaction as the URL's user if it
/// is a superuser, else as service_role (authenticator may become it); `why` says what needs it.
pub async fn as_service_role<'a>(client: &'a mut tokio_postgres::Client, why: &str) -> anyhow::Result<tokio_postgres::Transaction<'a>> {
    let tx = client.transaction().await?;
    let superuser: bool = tx.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[]).await?.get(0);
    if !superuser {
        tx.batch_execute("SET LOCAL ROLE service_role")
            .await
            .with_context(|| format!("only a superuser or a member of service_role {why}"))?;
    }
    Ok(tx)
}
