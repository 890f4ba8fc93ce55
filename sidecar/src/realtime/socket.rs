//! One WebSocket: its frames in, its queue out. Heartbeats, joins, leaves, token updates,
//! broadcasts and presence are answered here; what other clients cause arrives through the
//! hub into this socket's bounded queue. Bad frames get an error reply and change nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::frame::{self, Frame, Vsn};
use super::hub::{Channel, Hub, Outbox};
use super::{join, replay};
use crate::engine::{Access, Caller};
use crate::extension::realtime as ext;

/// Messages waiting for a slow reader; past this the socket is dropped.
const QUEUE: usize = 1024;
pub const MAX_CHANNELS: usize = 100;
/// Pushes a socket may send per second.
pub const MAX_PER_SECOND: u32 = 100;
/// A presence meta, as JSON text.
const MAX_PRESENCE_BYTES: usize = 4096;

struct Joined {
    id: u64,
    join_ref: Option<String>,
    name: String,
    private: bool,
    ack: bool,
    may_send: bool,
    exp: Option<i64>,
    token: Option<String>,
}

pub async fn serve(ws: WebSocket, hub: Arc<Hub>, vsn: Vsn, apikey: Option<String>) {
    let (mut sink, mut stream) = ws.split();
    let (queue, mut outgoing) = mpsc::channel::<Message>(QUEUE);
    let closed = CancellationToken::new();
    let outbox = Outbox { queue, vsn, closed: closed.clone() };
    let writer_closed = closed.clone();
    let writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        writer_closed.cancel();
        let _ = sink.close().await;
    });

    let mut joined: HashMap<String, Joined> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut window, mut pushes) = (Instant::now(), 0u32);
    loop {
        tokio::select! {
            _ = closed.cancelled() => break,
            _ = tick.tick() => expire(&hub, &outbox, &mut joined).await,
            message = stream.next() => {
                let frame = match message {
                    None | Some(Ok(Message::Close(_))) => break,
                    Some(Err(e)) => {
                        // say why before closing: a frame over the limit is 1009, anything else 1002
                        let too_big = e.to_string().contains("too long");
                        let (code, reason) = if too_big { (1009, "message too big (at most 1 MiB)") } else { (1002, "malformed WebSocket frame") };
                        let _ = outbox.queue.try_send(Message::Close(Some(axum::extract::ws::CloseFrame { code, reason: reason.into() })));
                        break;
                    }
                    Some(Ok(Message::Text(text))) => frame::decode_text(&text, vsn).map(|f| (f, None)),
                    Some(Ok(Message::Binary(bytes))) => frame::decode_binary(&bytes),
                    Some(Ok(_)) => continue, // ping and pong: the library answers
                };
                let (frame, raw) = match frame {
                    Ok(f) => f,
                    Err(frame::BadFrame(why)) => {
                        outbox.send(&frame::push("phoenix", "phx_reply", json!({"status": "error", "response": {"reason": format!("malformed message: {why}")}})));
                        continue;
                    }
                };
                if window.elapsed() >= Duration::from_secs(1) {
                    (window, pushes) = (Instant::now(), 0);
                }
                pushes += 1;
                if pushes > MAX_PER_SECOND {
                    if frame.reference.is_some() {
                        outbox.send(&frame::reply(&frame, false, json!({"reason": format!("Too many messages per second (at most {MAX_PER_SECOND})")})));
                    }
                    continue;
                }
                handle(&hub, &outbox, &mut joined, frame, raw, &apikey).await;
            }
        }
    }
    for (_, channel) in joined.drain() {
        hub.remove(channel.id).await;
    }
    // the hub holds no copy of the queue now: dropping ours lets the writer send what is queued
    // (a close frame, say) and end; a reader that does not take it is not waited for long
    drop(outbox);
    let stop = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(1), writer).await.is_err() {
        stop.abort();
    }
}

/// `raw`: a broadcast's payload when it is bytes (a kind 3 frame with encoding 0).
async fn handle(
    hub: &Arc<Hub>,
    outbox: &Outbox,
    joined: &mut HashMap<String, Joined>,
    frame: Frame,
    raw: Option<Vec<u8>>,
    apikey: &Option<String>,
) {
    let refuse = |reason: String| outbox.send(&frame::reply(&frame, false, json!({"reason": reason})));
    if frame.topic == "phoenix" {
        match frame.event.as_str() {
            "heartbeat" => outbox.send(&frame::reply(&frame, true, json!({}))),
            other => refuse(format!("unknown event {other:?} on topic phoenix")),
        }
        return;
    }
    let Some(name) = frame.topic.strip_prefix("realtime:").map(str::to_string) else {
        refuse("topics are realtime:<channel name>".into());
        return;
    };
    match frame.event.as_str() {
        "phx_join" => {
            // joining again replaces the channel (as Phoenix does)
            if let Some(old) = joined.remove(&frame.topic) {
                hub.remove(old.id).await;
            }
            if joined.len() >= MAX_CHANNELS {
                refuse(format!("ChannelRateLimitReached: Too many channels (at most {MAX_CHANNELS} per connection)"));
                return;
            }
            let joining = match join::join(hub, &name, &frame.payload, apikey.clone()).await {
                Ok(j) => j,
                Err(join::Refused(reason)) => {
                    refuse(reason);
                    return;
                }
            };
            let has_bindings = !joining.bindings.is_empty();
            let replays = joining.bindings.iter().any(|b| b.replay.is_some());
            let replaying = replays.then(|| (joining.subscriber.clone(), joining.bindings.clone()));
            let replay = joining.replay;
            let presence_enabled = joining.presence_enabled;
            let (private, exp, token) = (joining.private, joining.subscriber.exp, joining.subscriber.token.clone());
            let id = hub.add(Channel {
                name: name.clone(),
                private,
                broadcast_self: joining.broadcast_self,
                presence_key: joining.presence_key,
                bindings: joining.bindings,
                subscriber: joining.subscriber,
                outbox: outbox.clone(),
                // live changes wait while the replay is sent
                held: replays.then(Vec::new),
                replayed: Default::default(),
                replayed_until: None,
            });
            joined.insert(
                frame.topic.clone(),
                Joined {
                    id,
                    join_ref: frame.join_ref.clone(),
                    name: name.clone(),
                    private,
                    ack: joining.broadcast_ack,
                    may_send: joining.may_send,
                    exp,
                    token,
                },
            );
            outbox.send(&frame::reply(&frame, true, json!({"postgres_changes": joining.echoed})));
            let from_channel = |event: &str, payload: Value| Frame {
                join_ref: frame.join_ref.clone(),
                reference: None,
                topic: frame.topic.clone(),
                event: event.into(),
                payload,
            };
            if has_bindings {
                outbox.send(&from_channel(
                    "system",
                    json!({"extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL", "channel": name}),
                ));
            }
            if let Some((subscriber, bindings)) = replaying {
                let (sent, incomplete) = replay::send(hub, outbox, &name, &subscriber, &bindings).await;
                hub.release(id, sent).await;
                if let Some(replay::Incomplete(why)) = incomplete {
                    outbox.send(&from_channel(
                        "system",
                        json!({"extension": "postgres_changes", "status": "error", "message": why, "channel": name}),
                    ));
                }
            }
            if presence_enabled {
                outbox.send(&from_channel("presence_state", hub.presence_state(private, &name)));
            }
            if let Some((since, limit)) = replay {
                let token = joined.get(&frame.topic).and_then(|j| j.token.clone());
                let caller = Caller::new(token, "GET", "/realtime/v1/websocket");
                match hub.engine().call(caller, Access::Read, ext::realtime_replay(name.clone(), since, limit)).await {
                    Ok(Value::Array(messages)) => {
                        for m in messages {
                            let meta = json!({"id": m["id"].to_string(), "replayed": true});
                            let event = m["event"].as_str().unwrap_or("");
                            match super::hub::bytes_of(&m) {
                                Some(bytes) => outbox.send_bytes(&frame.topic, event, Some(&meta), &bytes),
                                None => outbox.send(&frame::push(
                                    &frame.topic,
                                    "broadcast",
                                    json!({"type": "broadcast", "event": event, "payload": m["payload"], "meta": meta}),
                                )),
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("realtime: replaying {name} failed: {e:?}"),
                }
            }
        }
        event => {
            let Some(channel) = joined.get(&frame.topic) else {
                refuse("unmatched topic".into());
                return;
            };
            match event {
                "phx_leave" => {
                    let channel = joined.remove(&frame.topic).expect("present");
                    hub.remove(channel.id).await;
                    outbox.send(&frame::reply(&frame, true, json!({})));
                    outbox.send(&close(&frame.topic, &channel.join_ref));
                }
                "access_token" => {
                    let token =
                        frame.payload["access_token"].as_str().filter(|t| !t.is_empty() && !t.starts_with("sb_")).map(str::to_string);
                    if token.is_none() || token == channel.token {
                        return;
                    }
                    match join::subscriber(hub, token).await {
                        Ok(subscriber) => {
                            let channel = joined.get_mut(&frame.topic).expect("present");
                            channel.exp = subscriber.exp;
                            channel.token = subscriber.token.clone();
                            hub.update_subscriber(channel.id, subscriber);
                        }
                        Err(join::Refused(reason)) => {
                            let channel = joined.remove(&frame.topic).expect("present");
                            hub.remove(channel.id).await;
                            end(outbox, &frame.topic, &channel, &reason);
                        }
                    }
                }
                "broadcast" => {
                    let (ack, may_send, private, id, token) =
                        (channel.ack, channel.may_send, channel.private, channel.id, channel.token.clone());
                    let event_name = frame.payload["event"].as_str().unwrap_or("").to_string();
                    if event_name.is_empty() {
                        refuse("a broadcast names its event".into());
                        return;
                    }
                    if !may_send {
                        if ack {
                            refuse(format!("Unauthorized: You do not have permissions to write to this Channel topic: {name}"));
                        }
                        return;
                    }
                    let caller = Caller::new(token, "POST", "/realtime/v1/websocket");
                    let call = match raw {
                        Some(bytes) => ext::realtime_send_bytes(hub.origin(id), name.clone(), event_name, bytes, private),
                        None => {
                            let payload = frame.payload.get("payload").cloned().unwrap_or(json!({}));
                            ext::realtime_send_from(hub.origin(id), name.clone(), event_name, &payload, private)
                        }
                    };
                    let sent = hub.engine().call(caller, Access::Write, call).await;
                    if ack {
                        match sent {
                            Ok(_) => outbox.send(&frame::reply(&frame, true, json!({}))),
                            Err(e) => refuse(super::reason(&e)),
                        }
                    }
                }
                "presence" => {
                    let (id, private, may_send) = (channel.id, channel.private, channel.may_send);
                    if private && !may_send {
                        refuse(format!("Unauthorized: You do not have permissions to track presence on this Channel topic: {name}"));
                        return;
                    }
                    match frame.payload["event"].as_str().map(str::to_ascii_lowercase).as_deref() {
                        Some("track") => {
                            let meta = frame.payload.get("payload").cloned().unwrap_or(json!({}));
                            if !meta.is_object() {
                                refuse("Presence track payload must be a map".into());
                            } else if meta.to_string().len() > MAX_PRESENCE_BYTES {
                                refuse(format!("Track message size exceeded (at most {MAX_PRESENCE_BYTES} bytes)"));
                            } else {
                                hub.track(id, Some(meta)).await;
                                outbox.send(&frame::reply(&frame, true, json!({})));
                            }
                        }
                        Some("untrack") => {
                            hub.track(id, None).await;
                            outbox.send(&frame::reply(&frame, true, json!({})));
                        }
                        _ => refuse("a presence message is track or untrack".into()),
                    }
                }
                other => refuse(format!("unknown event {other:?}")),
            }
        }
    }
}

fn close(topic: &str, join_ref: &Option<String>) -> Frame {
    Frame { join_ref: join_ref.clone(), reference: join_ref.clone(), topic: topic.into(), event: "phx_close".into(), payload: json!({}) }
}

/// End a channel for a reason the client should hear: a system error, then phx_close (the
/// client does not rejoin).
fn end(outbox: &Outbox, topic: &str, channel: &Joined, reason: &str) {
    outbox.send(&Frame {
        join_ref: channel.join_ref.clone(),
        reference: None,
        topic: topic.into(),
        event: "system".into(),
        payload: json!({"extension": "system", "status": "error", "message": reason, "channel": channel.name}),
    });
    outbox.send(&close(topic, &channel.join_ref));
}

/// Channels whose token has expired end.
async fn expire(hub: &Hub, outbox: &Outbox, joined: &mut HashMap<String, Joined>) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let expired: Vec<String> = joined.iter().filter(|(_, c)| c.exp.is_some_and(|exp| exp <= now)).map(|(t, _)| t.clone()).collect();
    for topic in expired {
        if let Some(channel) = joined.remove(&topic) {
            hub.remove(channel.id).await;
            let ago = now - channel.exp.unwrap_or(now);
            end(outbox, &topic, &channel, &format!("Token has expired {ago} seconds ago"));
        }
    }
}
