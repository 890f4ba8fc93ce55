//! The HTTP application: one state, one router per area.

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use deadpool_postgres::Pool;

use crate::cli::ServeArgs;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
}

pub fn app(state: AppState) -> Router {
    Router::new().route("/health", get(crate::health::health)).with_state(state)
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let pool = crate::db::pool(&args.database_url, args.pool_size)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!("bknd listening on http://{address}");
    axum::serve(listener, app(AppState { pool }))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("bknd shutting down");
}
