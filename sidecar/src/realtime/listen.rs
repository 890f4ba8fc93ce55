//! One connection per sidecar LISTENs for what the database has to say to realtime clients:
//! `bknd_realtime` (a transaction that changed a table that publishes, once, at commit: so in
//! commit order), `bknd_realtime_message` (a broadcast was sent: its id and origin) and
//! `bknd_realtime_presence` (another sidecar's presence change). One task handles them in the
//! order they came, so a channel sees a table's changes in commit order.
//!
//! A notification sent while the listener is away is lost, so after a reconnect the listener
//! catches up from the log: every transaction from its horizon on that it has not delivered.
//! The horizon is the oldest transaction still running at a check made on the listening
//! connection, once a later check there has answered: everything older had committed (or
//! aborted) before, and its notification had arrived before that later answer. Transaction ids,
//! not change ids: a transaction that began first and committed while the listener was away has
//! the lower change id. A transaction is never delivered twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use serde_json::Value;
use tokio_postgres::AsyncMessage;

use super::hub::Hub;
use crate::extension::{realtime as ext, TextArray};

/// The listening connection's application_name.
pub const LISTENER_NAME: &str = "bknd realtime listener";
/// At most this many transactions' changes are fetched and checked together.
const BATCH: usize = 256;
/// How often the listening connection checks which transactions are still running.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// Delivered transactions remembered at most (a long-running transaction elsewhere holds the
/// horizon back; past this, the oldest are forgotten and could be delivered again).
const REMEMBERED: usize = 1_000_000;
/// Transactions a catch-up asks for at a time (`bknd.realtime_changes_since`'s default).
const CATCH_UP_PAGE: usize = 1000;

/// Where delivery stands, across reconnects.
#[derive(Default)]
struct Cursor {
    /// every transaction below this had ended, and been heard of, while the listener listened
    horizon: Option<u64>,
    /// the last check's oldest running transaction, made the horizon by the next check
    checked: Option<u64>,
    /// transactions delivered, from the horizon on
    delivered: BTreeSet<u64>,
    /// transactions heard of whose changes could not be read yet
    unread: Vec<String>,
}

impl Cursor {
    fn is_delivered(&self, xid: &str) -> bool {
        xid.parse().is_ok_and(|x: u64| self.delivered.contains(&x))
    }

    fn note_delivered(&mut self, xid: &str) {
        if let Ok(x) = xid.parse::<u64>() {
            self.delivered.insert(x);
            if self.delivered.len() > REMEMBERED {
                self.delivered.pop_first();
            }
        }
    }

    /// A check on the listening connection answered `oldest_running`: the previous check's
    /// answer becomes the horizon, and what lies below it need not be remembered.
    fn checked(&mut self, oldest_running: u64) {
        if let Some(previous) = self.checked.replace(oldest_running) {
            let horizon = self.horizon.map_or(previous, |h| h.max(previous));
            self.horizon = Some(horizon);
            self.delivered = self.delivered.split_off(&horizon);
        }
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
        hub.set_caught_up(false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Every this many checks, presences of sidecars that no longer listen are swept.
const SWEEP_EVERY_TICKS: u32 = 5;

/// The sidecars whose listener is connected to this database now, by their hub ids.
async fn live_sidecars(client: &tokio_postgres::Client) -> anyhow::Result<Vec<String>> {
    let prefix = format!("{LISTENER_NAME} ");
    let row = client
        .query_one(
            "SELECT coalesce(array_agg(substr(application_name, length($1) + 1)), '{}') FROM pg_stat_activity
             WHERE datname = current_database() AND starts_with(application_name, $1)",
            &[&prefix],
        )
        .await?;
    Ok(row.get(0))
}

/// The oldest transaction still running, as the connection sees it now.
async fn oldest_running(client: &tokio_postgres::Client) -> anyhow::Result<u64> {
    let row = client.query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", &[]).await?;
    Ok(row.get::<_, String>(0).parse()?)
}

async fn listen_once(database_url: &str, hub: &Arc<Hub>, cursor: &mut Cursor) -> anyhow::Result<()> {
    let (mut config, tls) = crate::tls::connector_for(database_url)?;
    // named, so an operator (or a test) can tell it in pg_stat_activity, and the other sidecars
    // can tell that this one is alive (its presences stay theirs to show)
    config.application_name(format!("{LISTENER_NAME} {}", hub.id));
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
    // the first time, what ended before listening began is not this sidecar's to deliver
    if cursor.horizon.is_none() {
        cursor.horizon = Some(oldest_running(&client).await?);
    }
    // a check from an earlier connection is not one whose notifications have all arrived
    cursor.checked = None;
    client.batch_execute("LISTEN bknd_realtime; LISTEN bknd_realtime_message; LISTEN bknd_realtime_presence").await?;
    tracing::info!("realtime: listening");
    // what committed while no sidecar listened, or whose stamp a crash lost, is stamped, so a
    // replay finds it
    if let Err(e) = hub.engine().call_as_sidecar(ext::realtime_stamp_unheard()).await {
        anyhow::bail!("stamping the changes no sidecar has heard of failed: {e:?}");
    }
    catch_up(hub, cursor).await?;
    hub.set_caught_up(true);
    // what the other sidecars track began before this one listened, and what this one tracks
    // may have been swept by them while it was away
    hub.ask_presence().await;
    hub.announce_presence().await;
    let mut check = tokio::time::interval(CHECK_EVERY);
    let mut ticks = 0u32;
    loop {
        let first = tokio::select! {
            // what has arrived goes first: a check made while notifications wait would move the
            // horizon past transactions that are heard of but not yet delivered
            biased;
            n = rx.recv() => match n {
                Some(n) => n,
                None => break,
            },
            _ = check.tick() => {
                // a failed check means the connection is gone: what it heard is drained first
                if rx.is_empty() {
                    if let Ok(oldest) = oldest_running(&client).await {
                        cursor.checked(oldest);
                    }
                }
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(SWEEP_EVERY_TICKS) {
                    if let Ok(live) = live_sidecars(&client).await {
                        hub.sweep_presence(&live).await;
                    }
                }
                continue;
            }
        };
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
                changes(hub, &mut xids, cursor).await?;
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
        changes(hub, &mut xids, cursor).await?;
    }
    pump.abort();
    Ok(())
}

/// Deliver what was logged from the horizon on and not delivered: the transactions that
/// committed while this sidecar was not listening (and, harmlessly, some it heard of).
async fn catch_up(hub: &Hub, cursor: &mut Cursor) -> anyhow::Result<()> {
    let Some(mut since) = cursor.horizon else { return Ok(()) };
    loop {
        let page = match hub.engine().call_as_sidecar(ext::realtime_changes_since(since.to_string())).await {
            Ok(Value::Array(xids)) => xids,
            Ok(_) => return Ok(()),
            Err(e) => anyhow::bail!("catching up on changes failed: {e:?}"),
        };
        let mut xids: Vec<String> = page.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
        let last = xids.iter().filter_map(|x| x.parse::<u64>().ok()).max();
        changes(hub, &mut xids, cursor).await?;
        match last {
            Some(last) if page.len() >= CATCH_UP_PAGE => since = last + 1,
            _ => return Ok(()),
        }
    }
}

/// Fetch and deliver the changes of `xids` (taken), those not delivered before. When they
/// cannot be read, they are kept for the next try and the listener starts over (a failed
/// read must not let the horizon pass them).
async fn changes(hub: &Hub, xids: &mut Vec<String>, cursor: &mut Cursor) -> anyhow::Result<()> {
    let mut wanted = std::mem::take(&mut cursor.unread);
    wanted.append(xids);
    let taken: Vec<String> = wanted.into_iter().filter(|x| !cursor.is_delivered(x)).collect();
    if taken.is_empty() {
        return Ok(());
    }
    match hub.engine().call_as_sidecar(ext::realtime_changes_in(TextArray(&taken))).await {
        Ok(Value::Array(changes)) => {
            for xid in &taken {
                cursor.note_delivered(xid);
            }
            hub.changes(changes).await;
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => {
            cursor.unread = taken;
            anyhow::bail!("reading changes failed: {e:?}")
        }
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

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn the_horizon_is_the_check_before_the_last_and_what_is_below_it_is_forgotten() {
        let mut cursor = Cursor { horizon: Some(100), ..Cursor::default() };
        for xid in ["100", "105", "120", "not a number"] {
            cursor.note_delivered(xid);
        }
        assert!(cursor.is_delivered("105") && !cursor.is_delivered("106") && !cursor.is_delivered("x"));
        // one check is not yet a horizon: its notifications may still be on the way
        cursor.checked(110);
        assert_eq!(cursor.horizon, Some(100));
        cursor.checked(130);
        assert_eq!(cursor.horizon, Some(110));
        assert!(!cursor.is_delivered("105") && cursor.is_delivered("120"));
        // the horizon never moves back (a check may see an older transaction than before)
        cursor.checked(90);
        assert_eq!(cursor.horizon, Some(130));
        cursor.checked(95);
        assert_eq!(cursor.horizon, Some(130));
    }
}
