//! One connection per sidecar LISTENs for what the database has to say to realtime clients:
//! `bknd_realtime` (a transaction that changed a table that publishes, once, at commit: so in
//! commit order), `bknd_realtime_message` (a broadcast was sent: its id and origin) and
//! `bknd_realtime_presence` (another sidecar's presence change). One task handles them in the
//! order they came, so a channel sees a table's changes in commit order. After a reconnect the
//! listener first catches up on the changes logged while it was away (those after the last it
//! delivered), and a transaction is never delivered twice.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use serde_json::Value;
use tokio_postgres::AsyncMessage;

use super::hub::Hub;
use crate::extension::{realtime as ext, TextArray};

/// At most this many transactions' changes are fetched and checked together.
const BATCH: usize = 256;
/// Transactions remembered as delivered (a catch-up and the notifications after it overlap).
const REMEMBERED: usize = 10_000;

/// Where delivery stands, across reconnects.
#[derive(Default)]
struct Cursor {
    /// the highest change id delivered
    last_id: Option<i64>,
    delivered: HashSet<String>,
    order: VecDeque<String>,
}

impl Cursor {
    /// Note `xid` as delivered; false if it was already.
    fn first_time(&mut self, xid: &str) -> bool {
        if !self.delivered.insert(xid.to_string()) {
            return false;
        }
        self.order.push_back(xid.to_string());
        if self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.delivered.remove(&old);
            }
        }
        true
    }
}

/// Run until stopped: connect, LISTEN, deliver; reconnect after a failure.
pub async fn watch(database_url: String, hub: Arc<Hub>) {
    let mut backoff = Duration::from_millis(200);
    let mut cursor = Cursor::default();
    loop {
        match listen_once(&database_url, &hub, &mut cursor).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => tracing::warn!("realtime: {e}; listening again in {backoff:?}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn listen_once(database_url: &str, hub: &Arc<Hub>, cursor: &mut Cursor) -> anyhow::Result<()> {
    let (config, tls) = crate::tls::connector_for(database_url)?;
    let (client, mut connection) = config.connect(tls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    let pump = tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send((n.channel().to_string(), n.payload().to_string())).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("realtime: listener connection failed: {e}");
                    break;
                }
            }
        }
    });
    client.batch_execute("LISTEN bknd_realtime; LISTEN bknd_realtime_message; LISTEN bknd_realtime_presence").await?;
    tracing::info!("realtime: listening");
    // what was committed while this sidecar was not listening (none on the first connection)
    if let Some(after) = cursor.last_id {
        match hub.engine().call_as_sidecar(ext::realtime_changes_after(after)).await {
            Ok(Value::Array(xids)) => {
                let mut xids: Vec<String> = xids.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
                changes(hub, &mut xids, cursor).await;
            }
            Ok(_) => {}
            Err(e) => anyhow::bail!("catching up on changes failed: {e:?}"),
        }
    }
    while let Some(first) = rx.recv().await {
        // what has arrived meanwhile joins the batch (changes of many transactions are checked
        // together); the order is kept
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(n) => batch.push(n),
                Err(_) => break,
            }
        }
        let mut xids: Vec<String> = vec![];
        for (channel, payload) in batch {
            if channel != "bknd_realtime" {
                changes(hub, &mut xids, cursor).await;
            }
            match channel.as_str() {
                "bknd_realtime" => xids.push(payload),
                "bknd_realtime_message" => {
                    let (id, origin) = payload.split_once(' ').unwrap_or((payload.as_str(), ""));
                    if let Ok(id) = id.parse::<i64>() {
                        hub.message(id, origin).await;
                    }
                }
                "bknd_realtime_presence" => {
                    if let Ok(message) = serde_json::from_str::<Value>(&payload) {
                        hub.presence_from_elsewhere(&message).await;
                    }
                }
                _ => {}
            }
        }
        changes(hub, &mut xids, cursor).await;
    }
    pump.abort();
    Ok(())
}

/// Fetch and deliver the changes of `xids` (taken), those not delivered before.
async fn changes(hub: &Hub, xids: &mut Vec<String>, cursor: &mut Cursor) {
    let taken: Vec<String> = std::mem::take(xids).into_iter().filter(|x| !cursor.delivered.contains(x)).collect();
    if taken.is_empty() {
        return;
    }
    match hub.engine().call_as_sidecar(ext::realtime_changes_in(TextArray(&taken))).await {
        Ok(Value::Array(changes)) => {
            for xid in &taken {
                cursor.first_time(xid);
            }
            if let Some(max) = changes.iter().filter_map(|c| c["id"].as_i64()).max() {
                cursor.last_id = Some(cursor.last_id.map_or(max, |last| last.max(max)));
            }
            hub.changes(changes).await
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("realtime: reading changes failed: {e:?}"),
    }
}

/// Forget old changes and messages now and then.
pub async fn prune(hub: Arc<Hub>) {
    loop {
        tokio::time::sleep(Duration::from_secs(300)).await;
        if let Err(e) = hub.engine().call_as_sidecar(ext::realtime_prune()).await {
            tracing::warn!("realtime: pruning failed: {e:?}");
        }
    }
}
