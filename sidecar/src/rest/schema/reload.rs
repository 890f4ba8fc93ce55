//! Keeps the schema cache current: loads it at start, then reloads on every NOTIFY on
//! `bknd_schema` (the extension's DDL event trigger) or `pgrst` (PostgREST's channel), and after
//! every reconnect. A dedicated connection LISTENs; requests read the current cache through an
//! `Arc` swap, so a reload never blocks them. A request for a table or function the cache does
//! not know asks for a reload and waits for one that began after it (`refresh`): the NOTIFY of
//! a table made a moment ago may not have arrived yet, and the next request must see it. A reload
//! that still does not find the name pauses such asks for a second (made-up names must not keep
//! a backend reading the catalog).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

use super::SchemaCache;

#[derive(Clone)]
pub struct SharedSchema {
    current: Arc<RwLock<Option<Arc<SchemaCache>>>>,
    /// Woken after every load, for tests and for a request that waits for the first load.
    pub loaded: Arc<Notify>,
    loads: Arc<AtomicU64>,
    /// loads begun (they run one at a time, so load n completes before n + 1 begins)
    begun: Arc<AtomicU64>,
    /// a request's ask for a reload (one stored permit: asks coalesce)
    wanted: Arc<Notify>,
    /// when a reload asked for by an unknown name last found it still unknown
    fruitless: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// After a reload that did not find the name a request asked for, unknown names wait this long
/// before they may ask again: every reload reads the whole catalog (tens of milliseconds of a
/// backend), so a stream of made-up names must not keep one busy. A name that a reload does find
/// (a table made a moment ago) sets no pause; the NOTIFY of DDL reloads at any time.
const PAUSE_AFTER_FRUITLESS: Duration = Duration::from_secs(1);

impl SharedSchema {
    pub fn new() -> SharedSchema {
        SharedSchema {
            current: Arc::new(RwLock::new(None)),
            loaded: Arc::new(Notify::new()),
            loads: Arc::new(AtomicU64::new(0)),
            begun: Arc::new(AtomicU64::new(0)),
            wanted: Arc::new(Notify::new()),
            fruitless: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// The cache for a request whose name (`known` tells) the current cache lacks: a reload
    /// that began after the request, unless one asked for the same reason found nothing within
    /// PAUSE_AFTER_FRUITLESS (then the current cache, at once).
    pub async fn refresh_for_unknown(
        &self,
        current: Arc<SchemaCache>,
        timeout: Duration,
        known: impl Fn(&SchemaCache) -> bool,
    ) -> Arc<SchemaCache> {
        let paused = |at: &Option<std::time::Instant>| at.is_some_and(|t| t.elapsed() < PAUSE_AFTER_FRUITLESS);
        if self.fruitless.lock().map(|at| paused(&at)).unwrap_or(false) {
            return current;
        }
        let fresh = self.refresh(timeout).await.unwrap_or(current);
        if !known(&fresh) {
            if let Ok(mut at) = self.fruitless.lock() {
                *at = Some(std::time::Instant::now());
            }
        }
        fresh
    }

    /// The cache, once it has loaded.
    pub fn get(&self) -> Option<Arc<SchemaCache>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// The cache, waiting up to `timeout` for the first load (a request right after start).
    pub async fn wait(&self, timeout: Duration) -> Option<Arc<SchemaCache>> {
        let notified = self.loaded.notified();
        if let Some(c) = self.get() {
            return Some(c);
        }
        let _ = tokio::time::timeout(timeout, notified).await;
        self.get()
    }

    /// A cache loaded after this call began, waiting up to `timeout` (then the current one).
    pub async fn refresh(&self, timeout: Duration) -> Option<Arc<SchemaCache>> {
        let target = self.begun.load(Ordering::SeqCst) + 1;
        self.wanted.notify_one();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                let notified = self.loaded.notified();
                if self.loads() >= target {
                    return;
                }
                notified.await;
            }
        });
        let _ = waited.await;
        self.get()
    }

    /// How many times the cache has loaded (shown by /health, so a client can tell a reload).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::SeqCst)
    }

    fn set(&self, cache: SchemaCache) {
        if let Ok(mut c) = self.current.write() {
            *c = Some(Arc::new(cache));
        }
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.loaded.notify_waiters();
    }
}

impl Default for SharedSchema {
    fn default() -> Self {
        Self::new()
    }
}

/// Run forever: connect, LISTEN, load, and reload on each notification.
pub async fn watch(database_url: String, schemas: Vec<String>, shared: SharedSchema) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match listen_once(&database_url, &schemas, &shared).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => tracing::warn!("schema cache: {e}; retrying in {backoff:?}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn listen_once(database_url: &str, schemas: &[String], shared: &SharedSchema) -> anyhow::Result<()> {
    // plain, or TLS as the URL's sslmode asks, like the pool's
    let (config, tls) = crate::tls::connector_for(database_url)?;
    let (client, mut connection) = config.connect(tls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    let pump = tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    let _ = tx.send(());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("schema cache: listener connection failed: {e}");
                    break;
                }
            }
        }
    });
    client.batch_execute("LISTEN bknd_schema; LISTEN pgrst").await?;
    load(&client, schemas, shared).await?;
    tracing::info!("schema cache loaded");
    loop {
        tokio::select! {
            notified = rx.recv() => {
                if notified.is_none() {
                    break;
                }
                // several DDL statements in a row notify several times: reload once for the burst
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // a request missed a name; asks for names that do not exist cost at most a reload
            // every tenth of a second
            _ = shared.wanted.notified() => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        while rx.try_recv().is_ok() {}
        load(&client, schemas, shared).await?;
        tracing::debug!("schema cache reloaded");
    }
    pump.abort();
    Ok(())
}

async fn load(client: &tokio_postgres::Client, schemas: &[String], shared: &SharedSchema) -> Result<(), tokio_postgres::Error> {
    shared.begun.fetch_add(1, Ordering::SeqCst);
    shared.set(SchemaCache::load(client, schemas).await?);
    Ok(())
}
