//! The HTTP application: one state, one router per area.

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use deadpool_postgres::Pool;

use std::sync::Arc;

use crate::cli::ServeArgs;
use crate::rest::schema::reload::{watch, SharedSchema};
use crate::rest::RestConfig;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub rest: Arc<RestConfig>,
    pub schema: SharedSchema,
    pub auth: Arc<crate::auth::AuthConfig>,
    pub storage: Arc<crate::storage::StorageConfig>,
    pub mcp: Arc<crate::mcp::http::McpConfig>,
}

pub fn app(state: AppState, cors: Arc<crate::cors::Origins>) -> Router {
    Router::new()
        .merge(crate::mcp::http::router(state.clone()))
        .route("/health", get(crate::health::health))
        .route("/", get(crate::welcome::page))
        .merge(crate::cors::wrap(crate::rest::router(), &cors))
        .merge(crate::cors::wrap(crate::auth::router(), &cors))
        .merge(crate::cors::wrap(crate::storage::router(), &cors))
        .with_state(state)
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let pool = crate::db::pool(&args.database_url, args.pool_size)?;
    let cors = Arc::new(crate::cors::Origins::parse(&args.cors_allow_origin)?);
    let rest = Arc::new(RestConfig {
        schemas: args.queries.schemas.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        anon_role: args.queries.anon_role.clone(),
        statement_timeout_ms: args.queries.statement_timeout_ms,
        max_body_bytes: args.max_body_bytes,
        pre_request: match &args.pre_request {
            None => None,
            Some(name) => {
                Some(crate::rest::pre_request_call(name).with_context(|| format!("--pre-request {name:?} is not schema.function"))?)
            }
        },
    });
    if let Some(url) = &args.smtp_url {
        // fail at start, not at the first email (the error does not repeat the URL: it may hold a password)
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("--smtp-url is not usable: {e}"))?;
    }
    let schema = SharedSchema::new();
    tokio::spawn(watch(args.database_url.clone(), rest.schemas.clone(), schema.clone()));
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    // answers go out as soon as they are written, not held back for a delayed ACK
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    tracing::info!("bknd listening on http://{address}");
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
    let auth = Arc::new(crate::auth::AuthConfig {
        mail: crate::auth::mail::MailConfig {
            smtp_url: args.smtp_url.clone(),
            from: args.smtp_from.clone(),
            mail_dir: args.mail_dir.clone(),
        },
        site_url: args.site_url.clone().unwrap_or_else(|| public_url.clone()),
        public_url,
        redirect_allow: args.redirect_allow.clone(),
        oauth: Default::default(),
    });
    let (store, local) = crate::storage::backend::open(args.storage.as_deref())?;
    let storage =
        Arc::new(crate::storage::StorageConfig { store, local, max_upload_bytes: args.max_upload_bytes, tus_locks: Default::default() });
    let mcp =
        Arc::new(crate::mcp::http::McpConfig { allow_origins: args.mcp_allow_origin.clone(), allow_hosts: args.mcp_allow_host.clone() });
    let state = AppState { pool, rest, schema, auth, storage, mcp };
    crate::storage::spawn_sweeper(state.clone());
    let service = app(state, cors).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await.context("server failed")
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
