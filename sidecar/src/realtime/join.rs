//! `phx_join`: the channel's configuration, who joins (the token is checked by the database),
//! whether a private channel's policies let them in, and the `postgres_changes` bindings,
//! echoed back as the client sent them with an id each (supabase-js compares them one by one).

use serde_json::{json, Map, Value};

use super::filter::{Event, Filter};
use super::hub::{Binding, Hub, Replay, Subscriber};
use crate::engine::{Access, Caller, Failure};
use crate::extension::realtime as ext;

pub const MAX_BINDINGS: usize = 100;
/// A binding's replay sends at most this many changes (and 100 when it does not say).
pub const MAX_REPLAY: usize = 1000;

pub struct Joining {
    pub name: String,
    pub private: bool,
    pub broadcast_self: bool,
    pub broadcast_ack: bool,
    pub presence_enabled: bool,
    pub presence_key: String,
    pub bindings: Vec<Binding>,
    /// the bindings as the client sent them, each with its id: the join reply
    pub echoed: Vec<Value>,
    pub subscriber: Subscriber,
    /// may send on a private channel (its INSERT policies); public ones: anyone
    pub may_send: bool,
    /// `config.broadcast.replay`: the private channel's broadcasts since this time (ms since
    /// the epoch), at most this many, are sent after the join
    pub replay: Option<(i64, i64)>,
}

/// Why a join is refused: the reason the join reply carries.
pub struct Refused(pub String);

fn flag(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s == "true",
        _ => false,
    }
}

/// A token's subscriber: the claims the database accepts for it (its verdict on the token).
pub async fn subscriber(hub: &Hub, token: Option<String>) -> Result<Subscriber, Refused> {
    if token.as_deref().is_some_and(crate::console::outside::names_console_token) {
        return Err(Refused("a console session is used only through the console".into()));
    }
    let caller = Caller::new(token.clone(), "GET", "/realtime/v1/websocket");
    match hub.engine().call(caller, Access::Read, ext::claims()).await {
        Ok(Value::Object(claims)) => {
            let exp = claims.get("exp").and_then(Value::as_i64);
            let mut key = claims.clone();
            for transient in ["iat", "exp", "nbf", "jti"] {
                key.remove(transient);
            }
            Ok(Subscriber { token, claims: Value::Object(claims), claims_key: Value::Object(key).to_string(), exp })
        }
        Ok(_) => Ok(Subscriber { token, claims: json!({"role": "anon"}), claims_key: "{}".into(), exp: None }),
        Err(Failure::Token(why)) => Err(Refused(format!("InvalidJWTToken: {why}"))),
        Err(e) => Err(Refused(format!("Unable to check the token: {}", super::reason(&e)))),
    }
}

/// A stable, nonzero id for a binding (the same binding gets the same id on every join).
fn binding_id(binding: &Value) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in binding.to_string().bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h & 0x7fff_ffff).max(1)
}

/// A binding's `replay: {since, limit}`: since is ms since the epoch (a change's
/// commit_timestamp, as `Date.parse` reads it), limit at most MAX_REPLAY.
fn replay_position(r: &Value) -> Result<Replay, Refused> {
    let bad = || Refused(format!("UnableToReplayChanges: replay is {{since: ms since the epoch, limit: 1 to {MAX_REPLAY}}}"));
    let since = r.get("since").and_then(Value::as_i64).filter(|s| *s >= 0).ok_or_else(bad)?;
    let limit = match r.get("limit") {
        None | Some(Value::Null) => 100,
        Some(l) => l.as_u64().filter(|l| (1..=MAX_REPLAY as u64).contains(l)).ok_or_else(bad)? as usize,
    };
    Ok(Replay { since, limit })
}

pub async fn join(hub: &Hub, name: &str, payload: &Value, fallback_token: Option<String>) -> Result<Joining, Refused> {
    if name.is_empty() {
        return Err(Refused("TopicNameRequired: You must provide a topic name".into()));
    }
    if name.len() > 255 {
        return Err(Refused("TopicNameTooLong: a topic name has at most 255 bytes".into()));
    }
    let config = &payload["config"];
    let private = flag(&config["private"]);
    let token = match payload.get("access_token").and_then(Value::as_str) {
        // supabase-js's opaque keys (sb_...) are not JWTs: the connection's key speaks then
        Some(t) if !t.is_empty() && !t.starts_with("sb_") => Some(t.to_string()),
        _ => fallback_token,
    };
    let subscriber = subscriber(hub, token).await?;

    let mut may_send = true;
    if private {
        let caller = Caller::new(subscriber.token.clone(), "GET", "/realtime/v1/websocket");
        let verdict = hub
            .engine()
            .call(caller, Access::Write, ext::realtime_authorize(name.to_string()))
            .await
            .map_err(|e| Refused(format!("Unauthorized: {}", super::reason(&e))))?;
        if !flag(&verdict["read"]) {
            return Err(Refused(format!("Unauthorized: You do not have permissions to read from this Channel topic: {name}")));
        }
        may_send = flag(&verdict["write"]);
    }

    let requested = match &config["postgres_changes"] {
        Value::Null => vec![],
        Value::Array(list) => list.iter().filter(|b| !b.is_null()).cloned().collect(),
        _ => return Err(Refused("InvalidBindings: postgres_changes must be a list".into())),
    };
    if requested.len() > MAX_BINDINGS {
        return Err(Refused(format!("InvalidBindings: at most {MAX_BINDINGS} postgres_changes bindings per channel")));
    }
    let published = if requested.is_empty() { vec![] } else { hub.published().await };
    let mut bindings = vec![];
    let mut echoed = vec![];
    for wanted in requested {
        let Value::Object(fields) = &wanted else {
            return Err(Refused("InvalidBindings: each postgres_changes binding is an object".into()));
        };
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
        let event = Event::parse(&text("event").unwrap_or_else(|| "*".into())).map_err(|e| Refused(format!("InvalidBindings: {e}")))?;
        let schema = text("schema").unwrap_or_else(|| "public".into());
        let Some(table) = text("table") else {
            return Err(Refused("InvalidBindings: a postgres_changes binding names its table (wildcards are not supported)".into()));
        };
        if schema == "*" || table == "*" {
            return Err(Refused("InvalidBindings: wildcard schemas and tables are not supported; name the table".into()));
        }
        let filter = match text("filter").filter(|f| !f.trim().is_empty()) {
            Some(f) => Some(Filter::parse(&f).map_err(|e| Refused(format!("InvalidFilter: {e}")))?),
            None => None,
        };
        if !published.contains(&format!("{schema}.{table}")) {
            return Err(Refused(format!(
                "TableNotPublished: {schema}.{table} does not exist or does not publish its changes (bknd.enable_realtime)"
            )));
        }
        let replay = match fields.get("replay") {
            None | Some(Value::Null) => None,
            Some(r) => Some(replay_position(r)?),
        };
        let id = binding_id(&wanted);
        let mut echo: Map<String, Value> = fields.clone();
        echo.insert("id".into(), json!(id));
        echoed.push(Value::Object(echo));
        bindings.push(Binding { id, event, schema, table, filter, replay });
    }

    let replay = match &config["broadcast"]["replay"] {
        Value::Null => None,
        Value::Object(r) if private => {
            let since = r
                .get("since")
                .and_then(Value::as_i64)
                .ok_or_else(|| Refused("UnableToReplayMessages: replay.since is a time in milliseconds".into()))?;
            Some((since, r.get("limit").and_then(Value::as_i64).unwrap_or(25).clamp(1, 25)))
        }
        Value::Object(_) => return Err(Refused("UnableToReplayMessages: Replay is not allowed for public channels".into())),
        _ => return Err(Refused("UnableToReplayMessages: replay is {since, limit}".into())),
    };
    let presence = &config["presence"];
    let presence_key =
        presence["key"].as_str().filter(|k| !k.is_empty()).map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if presence_key.len() > 255 {
        return Err(Refused("InvalidPresenceKey: a presence key has at most 255 bytes".into()));
    }
    Ok(Joining {
        name: name.to_string(),
        private,
        broadcast_self: flag(&config["broadcast"]["self"]),
        broadcast_ack: flag(&config["broadcast"]["ack"]),
        presence_enabled: flag(&presence["enabled"]),
        presence_key,
        bindings,
        echoed,
        subscriber,
        may_send,
        replay,
    })
}
