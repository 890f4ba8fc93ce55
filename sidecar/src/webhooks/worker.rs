//! The delivery worker: claims due deliveries from the log, sends each, reports how it went.
//!
//! A connection named `bknd webhooks <worker>` stays open while the worker lives and LISTENs on
//! `bknd_webhook` (a change logged deliveries, at commit: sent at once). Claims are leases the
//! database hands out with SKIP LOCKED, so two sidecars never send the same delivery; a
//! sidecar that dies loses its claims the moment its connection goes, and the next claim (on
//! a restart, or on another sidecar) sends them again with the same webhook-id. Nothing is
//! claimed while that connection is down, as others would then take the claims over. Retries
//! come due in the database; the worker also polls once a second for them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};
use tokio_postgres::AsyncMessage;

use super::send::{Delivery, Sender, TIMEOUT};
use super::WebhookConfig;
use crate::engine::Engine;
use crate::extension::webhooks as ext;

/// Deliveries in flight on one sidecar at most.
const IN_FLIGHT: usize = 64;
/// Deliveries in flight to one endpoint at most (across sidecars).
const PER_ENDPOINT: i64 = 8;
/// How long a claim holds: the send's timeout and time to report.
const LEASE: Duration = Duration::from_secs(TIMEOUT.as_secs() + 15);
/// How often due retries are looked for when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);
/// application_name prefix `bknd.webhook_claim` looks for.
const NAME_PREFIX: &str = "bknd webhooks ";

pub async fn run(database_url: String, engine: Engine, config: WebhookConfig) {
    let sender = match Sender::new(config.allow.clone()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!("webhooks: cannot build the HTTP client: {e}");
            return;
        }
    };
    let worker = uuid::Uuid::new_v4().simple().to_string();
    let wake = Arc::new(Notify::new());
    let alive = Arc::new(AtomicBool::new(false));
    // stopped with the worker (the app's shutdown drops this future)
    let _presence = AbortOnDrop(tokio::spawn(stay_present(database_url, worker.clone(), wake.clone(), alive.clone())));
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut last_prune: Option<Instant> = None;
    loop {
        if alive.load(Ordering::Acquire) {
            let free = slots.available_permits();
            let claimed = if free > 0 { claim(&engine, &worker, free).await } else { vec![] };
            let full = claimed.len() == free && free > 0;
            for delivery in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else { break };
                let (engine, sender, worker, wake) = (engine.clone(), sender.clone(), worker.clone(), wake.clone());
                tokio::spawn(async move {
                    attempt(&engine, &sender, &worker, delivery).await;
                    drop(permit);
                    // the endpoint has room again: its next delivery may go
                    wake.notify_one();
                });
            }
            if last_prune.is_none_or(|at| at.elapsed() > Duration::from_secs(600)) {
                last_prune = Some(Instant::now());
                if let Err(e) = engine.call_as_sidecar(ext::webhook_prune(config.retention_hours)).await {
                    tracing::warn!("webhooks: pruning the delivery log failed: {e:?}");
                }
            }
            if full {
                continue;
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn claim(engine: &Engine, worker: &str, free: usize) -> Vec<Delivery> {
    let call = ext::webhook_claim(worker.to_string(), free as i64, PER_ENDPOINT, LEASE.as_secs() as i64);
    match engine.call_as_sidecar(call).await {
        Ok(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| match serde_json::from_value::<Delivery>(item) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::error!("webhooks: a claimed delivery is malformed: {e}");
                    None
                }
            })
            .collect(),
        Ok(_) => vec![],
        Err(e) => {
            tracing::warn!("webhooks: claiming deliveries failed: {e:?}");
            vec![]
        }
    }
}

/// Send one delivery and report it. A report that fails leaves the claim to run out: the
/// delivery is sent again (at least once).
async fn attempt(engine: &Engine, sender: &Sender, worker: &str, delivery: Delivery) {
    let started = Instant::now();
    let outcome = sender.send(&delivery).await;
    let latency_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i64;
    if let Some(error) = &outcome.error {
        tracing::info!(delivery = delivery.id, event = %delivery.event_id, "webhooks: attempt failed: {error}");
    }
    let report =
        ext::webhook_result(delivery.id, worker.to_string(), outcome.status.map(i64::from), outcome.error, latency_ms, outcome.retry_after);
    if let Err(e) = engine.call_as_sidecar(report).await {
        tracing::warn!(delivery = delivery.id, "webhooks: recording an attempt failed: {e:?}");
    }
}

/// Keep the named connection open (reconnecting after a pause), and wake the worker on
/// `bknd_webhook`.
async fn stay_present(database_url: String, worker: String, wake: Arc<Notify>, alive: Arc<AtomicBool>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match present_once(&database_url, &worker, &wake, &alive).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => tracing::warn!("webhooks: {e}; connecting again in {backoff:?}"),
        }
        alive.store(false, Ordering::Release);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn present_once(database_url: &str, worker: &str, wake: &Notify, alive: &AtomicBool) -> anyhow::Result<()> {
    let (mut config, tls) = crate::tls::connector_for(database_url)?;
    config.application_name(format!("{NAME_PREFIX}{worker}"));
    let (client, mut connection) = config.connect(tls).await?;
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    let pump = tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    let _ = tx.send(Ok(()));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    break;
                }
            }
        }
    });
    client.batch_execute("LISTEN bknd_webhook").await?;
    alive.store(true, Ordering::Release);
    tracing::info!("webhooks: delivering");
    wake.notify_one();
    let result = loop {
        match rx.recv().await {
            Some(Ok(())) => wake.notify_one(),
            Some(Err(e)) => break Err(anyhow::anyhow!("the worker's connection failed: {e}")),
            None => break Ok(()),
        }
    };
    pump.abort();
    drop(client);
    result
}
