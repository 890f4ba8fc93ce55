//! The application's one state, built in one place for every way bknd runs (`serve`, stdio
//! `mcp`), and the background tasks it owns (schema reload, storage sweeper, realtime listener, webhook worker, request counts), which stop when
//! it shuts down. Areas take what they need from `AppState`; none imports the server.

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::AuthConfig;
use crate::config::Config;
use crate::engine::Engine;
use crate::mcp::http::McpConfig;
use crate::rest::schema::reload::{watch, SharedSchema};
use crate::rest::RestConfig;
use crate::storage::StorageConfig;

/// The state every handler takes: one shared value, so the router's per-request clones of it
/// (each layer and extractor takes one) are one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub engine: Engine,
    pub pool: deadpool_postgres::Pool,
    pub rest: Arc<RestConfig>,
    pub schema: SharedSchema,
    pub auth: Arc<AuthConfig>,
    pub storage: Arc<StorageConfig>,
    pub mcp: Arc<McpConfig>,
    /// the realtime channels joined on this sidecar
    pub realtime: Arc<crate::realtime::hub::Hub>,
}

/// The state and the tasks that run beside the requests.
pub struct App {
    pub state: AppState,
    pub cors: Arc<crate::cors::Origins>,
    pub background: Background,
}

impl App {
    /// Everything but the listener: the pool and engine, the areas' settings, and the
    /// background tasks, started.
    pub fn build(config: Config) -> anyhow::Result<App> {
        let statement_timeout_ms = config.pool.statement_timeout_ms;
        let pool = crate::db::pool(&config.database_url, config.pool)?;
        let engine = Engine::new(pool.clone(), &config.rest.anon_role, statement_timeout_ms);
        let (store, local) = crate::storage::backend::open(config.storage.as_deref())?;
        let storage = StorageConfig { store, local, max_upload_bytes: config.max_upload_bytes };
        let state = AppState(Arc::new(Shared {
            engine: engine.clone(),
            pool,
            rest: Arc::new(config.rest),
            schema: SharedSchema::new(),
            auth: Arc::new(config.auth),
            storage: Arc::new(storage),
            mcp: Arc::new(config.mcp),
            realtime: crate::realtime::hub::Hub::new(engine.clone()),
        }));
        let mut background = Background::default();
        background.spawn(watch(config.database_url.clone(), state.rest.schemas.clone(), state.schema.clone()));
        background.spawn(crate::realtime::listen::watch(config.database_url.clone(), state.realtime.clone()));
        background.spawn(crate::realtime::listen::prune(state.realtime.clone()));
        if config.sweep_storage {
            background.spawn(crate::storage::sweep(state.clone()));
        }
        if let Some(every) = config.request_stats {
            background.spawn(crate::traffic::record(state.engine.clone(), every));
        }
        if let Some(webhooks) = config.webhooks {
            background.spawn(crate::webhooks::worker::run(config.database_url.clone(), engine, webhooks));
        }
        Ok(App { state, cors: config.cors, background })
    }
}

/// Tasks that live as long as the application; `shutdown` stops them and waits.
#[derive(Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = task => {}
            }
        }));
    }

    /// A token that is cancelled at shutdown, for tasks that stop on their own terms.
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
