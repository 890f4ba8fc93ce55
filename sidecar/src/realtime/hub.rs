//! The channels joined on this sidecar, and delivery to them: database changes (checked once
//! per table and distinct set of claims for a whole batch, as those subscribers, under RLS),
//! broadcasts and presence. Everything that must reach the clients of every sidecar goes
//! through PostgreSQL (listen.rs): a change's transaction, a sent message and a presence change
//! each NOTIFY, and every sidecar delivers to its own channels.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Message;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::filter::{Event, Filter};
use super::frame::{self, Vsn};
use crate::engine::{Engine, Failure};
use crate::extension::realtime as ext;

/// One `postgres_changes` binding of a channel.
#[derive(Debug, Clone)]
pub struct Binding {
    pub id: u32,
    pub event: Event,
    pub schema: String,
    pub table: String,
    pub filter: Option<Filter>,
    /// a replay position: this binding also gets the changes committed since then
    pub replay: Option<Replay>,
}

/// `replay: {since, limit}` on a binding: the changes committed at or after `since` (ms since
/// the epoch, as a change's commit_timestamp gives it), at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replay {
    pub since: i64,
    pub limit: usize,
}

impl Binding {
    /// Does this binding take a change of `kind` to `row` of schema.table?
    pub fn takes(&self, schema: &str, table: &str, kind: &str, row: &Value) -> bool {
        self.schema == schema && self.table == table && self.event.matches(kind) && self.filter.as_ref().is_none_or(|f| f.matches(row))
    }
}

/// Who a channel runs as: its token and the claims the database accepted for it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub token: Option<String>,
    /// the claims as `bknd.authenticate` set them (with the role it chose)
    pub claims: Value,
    /// the claims that decide what RLS shows (without iat, exp, nbf, jti): channels whose
    /// claims are equal are checked together
    pub claims_key: String,
    pub exp: Option<i64>,
}

impl Subscriber {
    /// What `bknd.realtime_visible_to` takes to check changes as this subscriber.
    pub fn as_checked(&self) -> Value {
        let role = self.claims["role"].as_str().unwrap_or("anon");
        json!({"role": role, "claims": self.claims})
    }
}

/// A socket's way out: its bounded queue, and a token to end it (a slow reader is dropped).
#[derive(Clone)]
pub struct Outbox {
    pub queue: mpsc::Sender<Message>,
    pub vsn: Vsn,
    pub closed: CancellationToken,
}

impl Outbox {
    /// Queue `frame`; a full queue ends the socket rather than slowing everyone else.
    pub fn send(&self, frame: &frame::Frame) {
        self.queue_message(Message::Text(frame::encode(frame, self.vsn).into()));
    }

    /// Queue a broadcast whose payload is bytes: kind 4 for 2.0.0; 1.0.0 carries only JSON, so
    /// there the payload is `{"base64": ...}`.
    pub fn send_bytes(&self, topic: &str, event: &str, meta: Option<&Value>, bytes: &[u8]) {
        use base64::Engine as _;
        match (self.vsn, frame::encode_bytes(topic, event, meta, bytes)) {
            (Vsn::V2, Some(encoded)) => self.queue_message(Message::Binary(encoded.into())),
            _ => {
                let mut payload = json!({"type": "broadcast", "event": event,
                    "payload": {"base64": base64::engine::general_purpose::STANDARD.encode(bytes)}});
                if let Some(meta) = meta {
                    payload["meta"] = meta.clone();
                }
                self.send(&frame::push(topic, "broadcast", payload));
            }
        }
    }

    /// Queue `frame`, waiting for room (a replay's many messages); false when the socket has
    /// gone or its reader has not made room for a long while (then it is ended).
    pub async fn send_waiting(&self, frame: &frame::Frame) -> bool {
        let message = Message::Text(frame::encode(frame, self.vsn).into());
        match tokio::time::timeout(std::time::Duration::from_secs(10), self.queue.send(message)).await {
            Ok(Ok(())) => true,
            _ => {
                self.closed.cancel();
                false
            }
        }
    }

    fn queue_message(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            self.closed.cancel();
        }
    }
}

pub struct Channel {
    /// the channel's name (the wire topic without `realtime:`)
    pub name: String,
    pub private: bool,
    pub broadcast_self: bool,
    pub presence_key: String,
    pub bindings: Vec<Binding>,
    pub subscriber: Subscriber,
    pub outbox: Outbox,
    /// while a replay is being sent, live changes wait here (change id, message)
    pub held: Option<Vec<(i64, frame::Frame)>>,
    /// the changes a replay read: not sent again live to its bindings
    pub replayed: HashSet<i64>,
    /// until when `replayed` matters (the listener has delivered past the replay by then)
    pub replayed_until: Option<std::time::Instant>,
}

impl Channel {
    fn wire_topic(&self) -> String {
        format!("realtime:{}", self.name)
    }
}

/// One presence: its key's meta as tracked, with the `phx_ref` that names it.
#[derive(Debug, Clone)]
struct Presence {
    key: String,
    meta: Value,
    /// the channel that tracked it: "<sidecar>:<channel>"
    owner: String,
}

#[derive(Default)]
struct Registry {
    channels: HashMap<u64, Channel>,
    /// (private, channel name) -> presences by phx_ref
    presence: HashMap<(bool, String), BTreeMap<String, Presence>>,
    /// presences another sidecar said have left, and when: an answer to this sidecar's question
    /// may be older than the leave and must not bring them back
    left: HashMap<String, std::time::Instant>,
    /// the owners of presences here whose sidecar was not listening at the last sweep
    absent: HashSet<String>,
}

pub struct Hub {
    /// this sidecar's name in origins and presence owners
    pub id: String,
    engine: Engine,
    next: AtomicU64,
    registry: Mutex<Registry>,
    /// the listener is connected and has caught up on what it missed
    caught_up: tokio::sync::watch::Sender<bool>,
}

impl Hub {
    pub fn new(engine: Engine) -> Arc<Hub> {
        Arc::new(Hub {
            id: uuid::Uuid::new_v4().simple().to_string(),
            engine,
            next: AtomicU64::new(1),
            registry: Mutex::new(Registry::default()),
            caught_up: tokio::sync::watch::channel(false).0,
        })
    }

    /// The listener says whether it is connected and has caught up.
    pub fn set_caught_up(&self, caught_up: bool) {
        self.caught_up.send_replace(caught_up);
    }

    /// Wait, at most `limit`, until the listener has caught up; whether it has.
    pub async fn wait_caught_up(&self, limit: std::time::Duration) -> bool {
        let mut caught_up = self.caught_up.subscribe();
        tokio::time::timeout(limit, caught_up.wait_for(|c| *c)).await.is_ok_and(|r| r.is_ok())
    }

    /// A replay has been sent: the channel's held changes follow, but those the replay sent to
    /// the same bindings, at the pace the client reads them; then live changes flow again.
    pub async fn release(&self, id: u64, replayed: HashSet<i64>) {
        let (outbox, replaying) = {
            let mut registry = self.registry();
            let Some(channel) = registry.channels.get_mut(&id) else { return };
            let replaying: HashSet<u32> = channel.bindings.iter().filter(|b| b.replay.is_some()).map(|b| b.id).collect();
            channel.replayed.clone_from(&replayed);
            channel.replayed_until = Some(std::time::Instant::now() + REPLAYED_FOR);
            (channel.outbox.clone(), replaying)
        };
        loop {
            let held = {
                let mut registry = self.registry();
                let Some(channel) = registry.channels.get_mut(&id) else { return };
                match channel.held.as_mut() {
                    Some(held) if !held.is_empty() => std::mem::take(held),
                    _ => {
                        channel.held = None;
                        return;
                    }
                }
            };
            for (change, mut message) in held {
                // held before the replay's ids were known: what the replay read is not sent
                // again to the replaying bindings
                if replayed.contains(&change) {
                    if let Some(ids) = message.payload["ids"].as_array_mut() {
                        ids.retain(|i| i.as_u64().is_none_or(|i| !replaying.contains(&(i as u32))));
                        if ids.is_empty() {
                            continue;
                        }
                    }
                }
                if !outbox.send_waiting(&message).await {
                    return;
                }
            }
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What a channel of this sidecar sends and owns under: "<sidecar id>:<channel>".
    pub fn origin(&self, channel: u64) -> String {
        format!("{}:{channel}", self.id)
    }

    /// The channel an origin names, when this sidecar made it.
    fn own_channel(&self, origin: &str) -> Option<u64> {
        let (sidecar, channel) = split_origin(origin);
        if sidecar == self.id {
            channel.parse().ok()
        } else {
            None
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add(&self, channel: Channel) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.registry().channels.insert(id, channel);
        id
    }

    /// Take a channel away; its presences leave.
    pub async fn remove(&self, id: u64) {
        let removed = {
            let mut registry = self.registry();
            let Some(channel) = registry.channels.remove(&id) else { return };
            let owner = self.origin(id);
            let topic = (channel.private, channel.name.clone());
            let left: Vec<Presence> = match registry.presence.get_mut(&topic) {
                Some(entries) => {
                    let refs: Vec<String> = entries.iter().filter(|(_, p)| p.owner == owner).map(|(r, _)| r.clone()).collect();
                    refs.iter().filter_map(|r| entries.remove(r).map(|p| (r, p))).map(|(r, p)| with_ref(p, r)).collect()
                }
                None => vec![],
            };
            (topic, left)
        };
        let ((private, name), left) = removed;
        if !left.is_empty() {
            self.presence_changed(private, &name, vec![], left, true).await;
        }
    }

    pub fn update_subscriber(&self, id: u64, subscriber: Subscriber) {
        if let Some(channel) = self.registry().channels.get_mut(&id) {
            channel.subscriber = subscriber;
        }
    }

    /// The tables that publish now, as "schema.table" (asked once per join: a table may stop).
    pub async fn published(&self) -> Vec<String> {
        match self.engine.call_as_sidecar(ext::realtime_tables()).await {
            Ok(Value::Array(tables)) => tables.into_iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
            _ => vec![],
        }
    }

    /// The presences of a topic, as `presence_state` sends them.
    pub fn presence_state(&self, private: bool, name: &str) -> Value {
        let registry = self.registry();
        let mut state = Map::new();
        if let Some(entries) = registry.presence.get(&(private, name.to_string())) {
            for (phx_ref, p) in entries {
                let metas = state.entry(p.key.clone()).or_insert_with(|| json!({"metas": []}));
                if let Some(list) = metas["metas"].as_array_mut() {
                    list.push(meta_with_ref(&p.meta, phx_ref));
                }
            }
        }
        Value::Object(state)
    }

    /// A channel tracks `meta` under its key (replacing what it tracked before) or, with None,
    /// untracks. The diff goes to this sidecar's channels and, through PostgreSQL, the others'.
    pub async fn track(&self, id: u64, meta: Option<Value>) {
        let owner = self.origin(id);
        let (private, name, joins, leaves) = {
            let mut registry = self.registry();
            let Some(channel) = registry.channels.get(&id) else { return };
            let (private, name, key) = (channel.private, channel.name.clone(), channel.presence_key.clone());
            let entries = registry.presence.entry((private, name.clone())).or_default();
            let old: Vec<String> = entries.iter().filter(|(_, p)| p.owner == owner).map(|(r, _)| r.clone()).collect();
            let leaves: Vec<Presence> = old.iter().filter_map(|r| entries.remove(r).map(|p| with_ref(p, r))).collect();
            let mut joins = vec![];
            if let Some(meta) = meta {
                let phx_ref = uuid::Uuid::new_v4().simple().to_string();
                let p = Presence { key, meta, owner: owner.clone() };
                entries.insert(phx_ref.clone(), p.clone());
                joins.push(with_ref(p, &phx_ref));
            }
            (private, name, joins, leaves)
        };
        self.presence_changed(private, &name, joins, leaves, true).await;
    }

    /// Send a presence diff to this sidecar's channels of the topic, and relay it to the others.
    async fn presence_changed(&self, private: bool, name: &str, joins: Vec<Presence>, leaves: Vec<Presence>, relay: bool) {
        let diff = json!({"joins": group(&joins), "leaves": group(&leaves)});
        self.deliver_to_topic(private, name, None, &frame::push(&format!("realtime:{name}"), "presence_diff", diff));
        if relay {
            let list = |ps: &[Presence]| ps.iter().map(|p| json!({"key": p.key, "meta": p.meta, "owner": p.owner})).collect::<Vec<_>>();
            let message = json!({"origin": self.id, "private": private, "topic": name, "joins": list(&joins), "leaves": list(&leaves)});
            // a leave and a join of 4 KiB metas each would pass PostgreSQL's limit on a
            // notification: then they go one after the other
            let messages = if notified_size(message.to_string().len()) < NOTIFY_BYTES {
                vec![message]
            } else {
                vec![
                    json!({"origin": self.id, "private": private, "topic": name, "joins": [], "leaves": list(&leaves)}),
                    json!({"origin": self.id, "private": private, "topic": name, "joins": list(&joins), "leaves": []}),
                ]
            };
            for message in messages {
                if let Err(e) = self.engine.call_as_sidecar(ext::realtime_presence_relay(&message)).await {
                    tracing::warn!("realtime: relaying a presence change failed: {e:?}");
                }
            }
        }
    }

    /// Ask the other sidecars for the presences they track: this one has just begun listening,
    /// so what they tracked before is not known here.
    pub async fn ask_presence(&self) {
        let message = json!({"origin": self.id, "sync": true});
        if let Err(e) = self.engine.call_as_sidecar(ext::realtime_presence_relay(&message)).await {
            tracing::warn!("realtime: asking the other sidecars for their presences failed: {e:?}");
        }
    }

    /// Tell every sidecar the presences tracked here (after this one's listener was away, they
    /// may have swept them).
    pub async fn announce_presence(&self) {
        self.answer_presence("*").await;
    }

    /// Presences owned by sidecars whose listener is not connected, in this sweep and the one
    /// before (a listener that reconnects is not gone), leave: a sidecar that was killed could
    /// not say so itself.
    pub async fn sweep_presence(&self, live: &[String]) {
        let gone: Vec<((bool, String), Vec<Presence>)> = {
            let mut guard = self.registry();
            let registry = &mut *guard;
            let owner_of = |p: &Presence| split_origin(&p.owner).0.to_string();
            let absent: HashSet<String> = registry
                .presence
                .values()
                .flat_map(|entries| entries.values().map(owner_of))
                .filter(|o| *o != self.id && !live.contains(o))
                .collect();
            let sweep: HashSet<String> = absent.intersection(&registry.absent).cloned().collect();
            registry.absent = absent;
            if sweep.is_empty() {
                return;
            }
            let mut gone = vec![];
            for (topic, entries) in registry.presence.iter_mut() {
                let refs: Vec<String> = entries.iter().filter(|(_, p)| sweep.contains(&owner_of(p))).map(|(r, _)| r.clone()).collect();
                let left: Vec<Presence> = refs.iter().filter_map(|r| entries.remove(r).map(|p| with_ref(p, r))).collect();
                if !left.is_empty() {
                    gone.push((topic.clone(), left));
                }
            }
            gone
        };
        for ((private, name), left) in gone {
            // every sidecar sweeps for itself: nothing to relay
            self.presence_changed(private, &name, vec![], left, false).await;
        }
    }

    /// Tell sidecar `to` the presences tracked here, as joins addressed to it: a topic at a time,
    /// in notifications that stay under PostgreSQL's limit on a payload.
    async fn answer_presence(&self, to: &str) {
        let ours = format!("{}:", self.id);
        let mut messages = vec![];
        {
            let registry = self.registry();
            for ((private, topic), entries) in &registry.presence {
                let mut joins: Vec<Value> = vec![];
                let mut size = 0;
                for (phx_ref, p) in entries.iter().filter(|(_, p)| p.owner.starts_with(&ours)) {
                    let join = json!({"key": p.key, "meta": meta_with_ref(&p.meta, phx_ref), "owner": p.owner});
                    let length = join.to_string().len();
                    if notified_size(size + length + ENVELOPE_BYTES) >= NOTIFY_BYTES && !joins.is_empty() {
                        messages
                            .push(json!({"origin": self.id, "to": to, "private": private, "topic": topic, "joins": joins, "leaves": []}));
                        (joins, size) = (vec![], 0);
                    }
                    size += length;
                    joins.push(join);
                }
                if !joins.is_empty() {
                    messages.push(json!({"origin": self.id, "to": to, "private": private, "topic": topic, "joins": joins, "leaves": []}));
                }
            }
        }
        for message in messages {
            if let Err(e) = self.engine.call_as_sidecar(ext::realtime_presence_relay(&message)).await {
                tracing::warn!("realtime: telling sidecar {to} our presences failed: {e:?}");
            }
        }
    }

    /// A presence change another sidecar relayed, its question for ours, or its answer to ours.
    pub async fn presence_from_elsewhere(&self, message: &Value) {
        let Some(origin) = message["origin"].as_str().filter(|o| *o != self.id) else { return };
        if message["sync"] == true {
            self.answer_presence(origin).await;
            return;
        }
        if message["to"].as_str().is_some_and(|to| to != self.id && to != "*") {
            return;
        }
        let (Some(private), Some(name)) = (message["private"].as_bool(), message["topic"].as_str()) else { return };
        let read = |list: &Value| -> Vec<Presence> {
            list.as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|p| {
                            Some(Presence {
                                key: p["key"].as_str()?.to_string(),
                                meta: p["meta"].clone(),
                                owner: p["owner"].as_str()?.to_string(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (mut joins, leaves) = (read(&message["joins"]), read(&message["leaves"]));
        {
            let mut guard = self.registry();
            let registry = &mut *guard;
            let now = std::time::Instant::now();
            registry.left.retain(|_, at| now.duration_since(*at) < LEFT_FOR);
            let entries = registry.presence.entry((private, name.to_string())).or_default();
            for p in &leaves {
                if let Some(r) = p.meta.get("phx_ref").and_then(Value::as_str) {
                    entries.remove(r);
                    registry.left.insert(r.to_string(), now);
                }
            }
            // what is known already (an answer may repeat a join relayed meanwhile) is not news,
            // and what has left does not come back
            joins.retain(|p| {
                p.meta.get("phx_ref").and_then(Value::as_str).is_none_or(|r| !entries.contains_key(r) && !registry.left.contains_key(r))
            });
            for p in &joins {
                if let Some(r) = p.meta.get("phx_ref").and_then(Value::as_str) {
                    let mut meta = p.meta.clone();
                    if let Some(m) = meta.as_object_mut() {
                        m.remove("phx_ref");
                    }
                    entries.insert(r.to_string(), Presence { key: p.key.clone(), meta, owner: p.owner.clone() });
                }
            }
        }
        if joins.is_empty() && leaves.is_empty() {
            return;
        }
        let diff = json!({"joins": group(&joins), "leaves": group(&leaves)});
        self.deliver_to_topic(private, name, None, &frame::push(&format!("realtime:{name}"), "presence_diff", diff));
    }

    /// A broadcast (by id, from the notification): to every channel of its topic and kind,
    /// but not back to the channel that sent it unless that one asked to hear itself.
    pub async fn message(&self, id: i64, origin: &str) {
        let message = match self.engine.call_as_sidecar(ext::realtime_message(id)).await {
            Ok(m) if m.is_object() => m,
            Ok(_) => return, // pruned already
            Err(e) => {
                tracing::warn!("realtime: reading message {id} failed: {e:?}");
                return;
            }
        };
        let (Some(topic), Some(event)) = (message["topic"].as_str(), message["event"].as_str()) else { return };
        let private = message["private"].as_bool().unwrap_or(false);
        let sender = self.own_channel(origin);
        let wire_topic = format!("realtime:{topic}");
        match bytes_of(&message) {
            Some(bytes) => self.for_topic(private, topic, sender, |outbox| outbox.send_bytes(&wire_topic, event, None, &bytes)),
            None => {
                let payload = json!({"type": "broadcast", "event": event, "payload": message["payload"]});
                self.deliver_to_topic(private, topic, sender, &frame::push(&wire_topic, "broadcast", payload));
            }
        }
    }

    fn deliver_to_topic(&self, private: bool, name: &str, sender: Option<u64>, message: &frame::Frame) {
        self.for_topic(private, name, sender, |outbox| outbox.send(message));
    }

    /// `send` to every channel of a topic, but the sender unless it asked to hear itself.
    fn for_topic(&self, private: bool, name: &str, sender: Option<u64>, send: impl Fn(&Outbox)) {
        let registry = self.registry();
        for (id, channel) in &registry.channels {
            if channel.private != private || channel.name != name {
                continue;
            }
            if Some(*id) == sender && !channel.broadcast_self {
                continue;
            }
            send(&channel.outbox);
        }
    }

    /// Changes of committed transactions, in commit order: each to the channels whose bindings
    /// match it and whose subscriber may SELECT the row now.
    pub async fn changes(&self, changes: Vec<Value>) {
        // by table, in order
        let mut tables: Vec<((String, String), Vec<Value>)> = vec![];
        for change in changes {
            let key = (change["schema"].as_str().unwrap_or("").to_string(), change["table"].as_str().unwrap_or("").to_string());
            match tables.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(change),
                None => tables.push((key, vec![change])),
            }
        }
        for ((schema, table), changes) in tables {
            self.table_changes(&schema, &table, &changes).await;
        }
    }

    async fn table_changes(&self, schema: &str, table: &str, changes: &[Value]) {
        // the subscribers of this table, grouped by their claims (one check per group)
        let mut groups: Vec<(String, Value)> = vec![];
        {
            let registry = self.registry();
            for channel in registry.channels.values() {
                if !channel.bindings.iter().any(|b| b.schema == schema && b.table == table) {
                    continue;
                }
                let s = &channel.subscriber;
                if !groups.iter().any(|(key, _)| *key == s.claims_key) {
                    groups.push((s.claims_key.clone(), s.as_checked()));
                }
            }
        }
        if groups.is_empty() {
            return;
        }
        let visible = self.visible(schema, table, changes, &groups, false).await.unwrap_or_else(|e| {
            tracing::warn!("realtime: checking who may see changes of {schema}.{table} failed: {e:?}");
            HashMap::new()
        });

        let mut registry = self.registry();
        let mut slow = vec![];
        for (position, change) in changes.iter().enumerate() {
            let (kind, row, data) = change_data(schema, table, change);
            let change_id = change["id"].as_i64().unwrap_or(0);
            for (id, channel) in registry.channels.iter_mut() {
                if channel.replayed_until.is_some_and(|until| until < std::time::Instant::now()) {
                    channel.replayed = HashSet::new();
                    channel.replayed_until = None;
                }
                if !visible.get(&channel.subscriber.claims_key).is_some_and(|seen| seen.contains(&position)) {
                    continue;
                }
                // a change the replay read went to the replaying bindings then (or was not theirs)
                let replayed = channel.replayed.contains(&change_id);
                let ids: Vec<u32> = channel
                    .bindings
                    .iter()
                    .filter(|b| !(replayed && b.replay.is_some()) && b.takes(schema, table, kind, row))
                    .map(|b| b.id)
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let message = frame::push(&channel.wire_topic(), "postgres_changes", json!({"ids": ids, "data": data}));
                match &mut channel.held {
                    // a reader that falls this far behind during its replay is a slow reader
                    Some(held) if held.len() >= HELD => slow.push(*id),
                    Some(held) => held.push((change_id, message)),
                    None => channel.outbox.send(&message),
                }
            }
        }
        for id in slow {
            if let Some(channel) = registry.channels.get(&id) {
                channel.outbox.closed.cancel();
            }
        }
    }

    /// Which of one table's `changes` each group of subscribers may SELECT now: positions (from
    /// 0) by claims key. Every group's check in one call: the database switches to each group's
    /// role and claims. `as_logged`: check the rows as the log has them against the policies
    /// instead of looking them up (a replay sends rows as they were, which must have been
    /// readable too, not only the rows as they are).
    pub async fn visible(
        &self,
        schema: &str,
        table: &str,
        changes: &[Value],
        groups: &[(String, Value)],
        as_logged: bool,
    ) -> Result<HashMap<String, Vec<usize>>, Failure> {
        // the rows to look for (a key's one value, or its object when it has several columns),
        // and the rows to check against the policies (deleted ones, whose row is gone)
        let mut keys = vec![];
        let mut rows = vec![];
        for (i, c) in changes.iter().enumerate() {
            if c["type"] == "DELETE" || as_logged {
                keys.push(Value::Null);
                let row = if c["type"] == "DELETE" { &c["deleted_row"] } else { &c["record"] };
                rows.push(json!({"ord": i + 1, "row": row}));
            } else {
                keys.push(match &c["primary_key"] {
                    Value::Object(k) if k.len() == 1 => k.values().next().cloned().unwrap_or(Value::Null),
                    other => other.clone(),
                });
            }
        }
        let probes = json!({"keys": keys, "deleted": rows});
        let subscribers: Value = groups.iter().map(|(_, s)| s.clone()).collect();
        let call = ext::realtime_visible_to(schema.to_string(), table.to_string(), &probes, &subscribers);
        let answers = match self.engine.call_as_sidecar(call).await? {
            Value::Array(answers) => answers,
            _ => vec![],
        };
        Ok(groups
            .iter()
            .zip(answers.iter())
            .map(|((key, _), seen)| {
                let positions =
                    seen.as_array().map(|p| p.iter().filter_map(Value::as_u64).map(|p| p as usize - 1).collect()).unwrap_or_default();
                (key.clone(), positions)
            })
            .collect())
    }
}

/// A stored broadcast's payload when it is bytes (`binary`, base64, in the database's answer).
pub fn bytes_of(message: &Value) -> Option<Vec<u8>> {
    use base64::Engine as _;
    message["binary"].as_str().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
}

/// How long a presence that left elsewhere is remembered as gone.
const LEFT_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// What a notification's payload may carry: PostgreSQL takes under 8,000 bytes. One presence
/// (a meta of at most 4 KiB, a key of at most 255 bytes) always fits with room to spare.
const NOTIFY_BYTES: usize = 7900;
/// An answer's fields besides its presences (two ids, a topic of at most 255 bytes), as JSON.
const ENVELOPE_BYTES: usize = 400;

/// The size of compact JSON once PostgreSQL has written it out as jsonb text, at most: jsonb
/// adds a space after every `:` and `,`, and a separator follows at least one other byte.
fn notified_size(compact: usize) -> usize {
    compact * 3 / 2
}

/// How long a replay's change ids are kept to keep live delivery from repeating them: the
/// changes committed before the replay read the log reach the hub long before.
const REPLAYED_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Live changes a channel may hold while its replay is sent.
const HELD: usize = 4096;

/// A logged change as the Realtime server sends it: its kind, the row its filters look at, and
/// the `data` of the message (DELETEs carry only the primary key).
pub fn change_data<'a>(schema: &str, table: &str, change: &'a Value) -> (&'a str, &'a Value, Value) {
    let kind = change["type"].as_str().unwrap_or("");
    let row = if kind == "DELETE" { &change["old_record"] } else { &change["record"] };
    let mut data = json!({
        "schema": schema, "table": table, "commit_timestamp": change["commit_timestamp"], "type": kind,
        "columns": change["columns"], "errors": Value::Null,
    });
    if kind != "DELETE" {
        data["record"] = change["record"].clone();
    }
    if kind != "INSERT" {
        data["old_record"] = change["old_record"].clone();
    }
    (kind, row, data)
}

/// An origin's sidecar id and channel ("<sidecar id>:<channel>", see `Hub::origin`).
fn split_origin(origin: &str) -> (&str, &str) {
    origin.split_once(':').unwrap_or((origin, ""))
}

fn meta_with_ref(meta: &Value, phx_ref: &str) -> Value {
    let mut m = match meta {
        Value::Object(m) => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other.clone());
            m
        }
    };
    m.insert("phx_ref".into(), Value::String(phx_ref.to_string()));
    Value::Object(m)
}

fn with_ref(p: Presence, phx_ref: &str) -> Presence {
    Presence { meta: meta_with_ref(&p.meta, phx_ref), ..p }
}

/// `{key: {metas: [...]}}`, as presence_state and presence_diff carry presences.
fn group(list: &[Presence]) -> Value {
    let mut out = Map::new();
    for p in list {
        let entry = out.entry(p.key.clone()).or_insert_with(|| json!({"metas": []}));
        if let Some(metas) = entry["metas"].as_array_mut() {
            metas.push(p.meta.clone());
        }
    }
    Value::Object(out)
}
