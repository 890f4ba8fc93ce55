//! Replay positions for database changes: a `postgres_changes` binding with `replay: {since,
//! limit}` first gets the changes of its table committed at or after `since` (ms since the
//! epoch; a change's commit_timestamp is one), oldest first, then the live ones. The log
//! (`bknd.realtime_changes`, kept an hour) is durable, so nothing committed while a sidecar was
//! down, or before the client joined, is lost. Each replayed change is checked against the
//! subscriber's policies now, as a live one is. While the replay is sent the channel's live
//! changes wait (hub `held`); a change sent by both is sent once.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use super::frame::{self, Frame};
use super::hub::{change_data, Binding, Hub, Outbox, Subscriber};
use crate::extension::realtime as ext;

/// Changes read from the log per call.
const PAGE: i64 = 500;
/// At most this many of a table's logged changes are read for one replay (visible to the
/// subscriber or not); past it the replay stops and says so.
const MAX_READ: usize = 20_000;
/// How far back the log goes (`bknd.realtime_prune`'s default, run by the sidecar).
const KEPT_MS: i64 = 3_600_000;
/// How long a replay waits for the listener to catch up (after a sidecar or database restart).
const CATCH_UP: Duration = Duration::from_secs(10);

/// Why a replay did not send everything it was asked for: the client hears it as a `system`
/// message with status error (the channel stays joined and gets live changes).
pub struct Incomplete(pub String);

/// Send `topic`'s replay to `outbox`: each replaying binding's table, in commit order. The ids
/// of the changes sent (the live path skips them).
pub async fn send(
    hub: &Hub,
    outbox: &Outbox,
    topic: &str,
    subscriber: &Subscriber,
    bindings: &[Binding],
) -> (HashSet<i64>, Option<Incomplete>) {
    let mut sent = HashSet::new();
    // by table: the earliest position and the largest limit of its replaying bindings
    let mut tables: BTreeMap<(String, String), (i64, usize)> = BTreeMap::new();
    for b in bindings {
        if let Some(r) = b.replay {
            let entry = tables.entry((b.schema.clone(), b.table.clone())).or_insert((r.since, r.limit));
            *entry = (entry.0.min(r.since), entry.1.max(r.limit));
        }
    }
    if tables.is_empty() {
        return (sent, None);
    }
    // what committed before the listener caught up is stamped only then: wait for it, so that
    // nothing committed falls between the replay and the live changes
    if !hub.wait_caught_up(CATCH_UP).await {
        return (sent, Some(Incomplete("UnableToReplayChanges: the database is not reachable; changes are replayed once it is".into())));
    }
    let mut incomplete = None;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    if tables.values().any(|(since, _)| *since < now_ms - KEPT_MS) {
        incomplete = Some(Incomplete("ReplayTruncated: the log keeps an hour of changes; older ones are not replayed".into()));
    }
    for ((schema, table), (since, limit)) in tables {
        if let Err(why) = replay_table(hub, outbox, topic, subscriber, bindings, (&schema, &table), since, limit, &mut sent).await {
            incomplete.get_or_insert(why);
        }
    }
    (sent, incomplete)
}

#[allow(clippy::too_many_arguments)]
async fn replay_table(
    hub: &Hub,
    outbox: &Outbox,
    topic: &str,
    subscriber: &Subscriber,
    bindings: &[Binding],
    (schema, table): (&str, &str),
    since: i64,
    limit: usize,
    sent: &mut HashSet<i64>,
) -> Result<(), Incomplete> {
    let group = [(subscriber.claims_key.clone(), subscriber.as_checked())];
    let (mut cursor_at, mut cursor_id): (Option<String>, Option<i64>) = (None, None);
    let (mut read, mut delivered) = (0usize, 0usize);
    loop {
        let call = ext::realtime_replay_changes(schema.into(), table.into(), since, cursor_at.clone(), cursor_id, PAGE);
        let page = match hub.engine().call_as_sidecar(call).await {
            Ok(Value::Array(page)) => page,
            Ok(_) => vec![],
            Err(e) => {
                tracing::warn!("realtime: replaying {schema}.{table} failed: {e:?}");
                return Err(Incomplete(format!("UnableToReplayChanges: reading the changes of {schema}.{table} failed")));
            }
        };
        if page.is_empty() {
            return Ok(());
        }
        read += page.len();
        // readable now (the row is there and its policies admit it) and as it was logged (the
        // policies admit the row as the replay sends it)
        let checked = async {
            let now = hub.visible(schema, table, &page, &group, false).await?.remove(&subscriber.claims_key).unwrap_or_default();
            let then = hub.visible(schema, table, &page, &group, true).await?.remove(&subscriber.claims_key).unwrap_or_default();
            Ok::<_, crate::engine::Failure>(now.into_iter().filter(|p| then.contains(p)).collect::<Vec<usize>>())
        };
        let visible = checked.await.map_err(|e| {
            tracing::warn!("realtime: checking a replay of {schema}.{table} failed: {e:?}");
            Incomplete(format!("UnableToReplayChanges: checking the changes of {schema}.{table} failed"))
        })?;
        for position in visible {
            let change = &page[position];
            let committed = change["committed_ms"].as_i64().unwrap_or(i64::MAX);
            let (kind, row, data) = change_data(schema, table, change);
            let ids: Vec<u32> = bindings
                .iter()
                .filter(|b| b.replay.is_some_and(|r| r.since <= committed) && b.takes(schema, table, kind, row))
                .map(|b| b.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            if delivered == limit {
                return Err(Incomplete(format!(
                    "ReplayTruncated: more than {limit} changes of {schema}.{table} since {since}; the rest from commit_timestamp {} were not replayed",
                    change["commit_timestamp"].as_str().unwrap_or("")
                )));
            }
            if !outbox.send_waiting(&push(topic, json!({"ids": ids, "data": data}))).await {
                return Ok(()); // the client has gone
            }
            if let Some(id) = change["id"].as_i64() {
                sent.insert(id);
            }
            delivered += 1;
        }
        // every change of the page was read, so none of them is sent live either
        sent.extend(page.iter().filter_map(|c| c["id"].as_i64()));
        if (page.len() as i64) < PAGE {
            return Ok(());
        }
        if read >= MAX_READ {
            return Err(Incomplete(format!("ReplayTruncated: {schema}.{table} has more than {MAX_READ} changes since {since}")));
        }
        let last = &page[page.len() - 1];
        cursor_at = last["committed_at"].as_str().map(str::to_string);
        cursor_id = last["id"].as_i64();
    }
}

fn push(topic: &str, payload: Value) -> Frame {
    frame::push(&format!("realtime:{topic}"), "postgres_changes", payload)
}
