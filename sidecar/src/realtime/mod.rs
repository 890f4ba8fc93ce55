//! Realtime: the Supabase Realtime protocol at `/realtime/v1/websocket`, so
//! `supabase.channel()` works unmodified, and `POST /realtime/v1/api/broadcast`. The pipeline:
//! frame (wire formats) -> socket (one connection's frames) -> join (who, which channel, which
//! bindings) -> hub (the channels joined here, delivery) <- listen (what PostgreSQL notifies:
//! changes in commit order, messages, presence). Every change a client receives is one the
//! database says that client may read (docs/realtime.md).

pub mod filter;
pub mod frame;
pub mod hub;
pub mod join;
pub mod listen;
pub mod replay;
pub mod socket;

use std::collections::HashMap;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::engine::{Access, Caller, Failure};
use crate::extension::realtime as ext;
use crate::state::AppState;

/// The largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Messages in one REST broadcast.
pub const MAX_BATCH: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/websocket", get(websocket)).route("/api/broadcast", post(broadcast))
}

/// What a client reads of a failed database call: its mistake in the database's words, else a
/// fixed text (the details of a server-side failure are in the log).
pub fn reason(e: &Failure) -> String {
    match e {
        Failure::Token(why) => format!("InvalidJWTToken: {why}"),
        Failure::Database(db) if db.status < 500 => db.message.clone(),
        Failure::Unavailable => "the database is busy; try again".into(),
        _ => "internal error".into(),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message, "message": message}))).into_response()
}

async fn websocket(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(vsn) = frame::Vsn::parse(query.get("vsn").map(String::as_str)) else {
        return error(StatusCode::BAD_REQUEST, "vsn must be 1.0.0 or 2.0.0");
    };
    // the connection's key: the default token of its channels (a join may carry its own)
    let apikey = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.get("apikey").cloned())
        .filter(|k| !k.is_empty());
    let hub = state.realtime.clone();
    upgrade.max_message_size(MAX_FRAME_BYTES).max_frame_size(MAX_FRAME_BYTES).on_upgrade(move |ws| socket::serve(ws, hub, vsn, apikey))
}

/// `{messages: [{topic, event, payload, private}]}`: each sent as the caller (private ones need
/// the INSERT policies of bknd.realtime_messages), 202 when all were.
async fn broadcast(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let caller = Caller::of(&headers, "POST", "/realtime/v1/api/broadcast");
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let Some(messages) = body["messages"].as_array() else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "messages must be a list");
    };
    if messages.len() > MAX_BATCH {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("at most {MAX_BATCH} messages at once"));
    }
    let mut calls = vec![];
    for m in messages {
        let (Some(topic), Some(event)) = (m["topic"].as_str(), m["event"].as_str()) else {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "each message has a topic and an event");
        };
        if !m["payload"].is_object() {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "each message's payload is an object");
        }
        let private = m["private"].as_bool().unwrap_or(false);
        calls.push(ext::realtime_send(topic.to_string(), event.to_string(), &m["payload"], private));
    }
    for call in calls {
        if let Err(e) = state.engine.call(caller.clone(), Access::Write, call).await {
            let status = match &e {
                Failure::Token(_) => StatusCode::UNAUTHORIZED,
                Failure::Database(db) if db.status < 500 => StatusCode::from_u16(db.status).unwrap_or(StatusCode::BAD_REQUEST),
                Failure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let message = match &e {
                Failure::Token(why) => why.clone(),
                other => reason(other),
            };
            return error(status, &message);
        }
    }
    StatusCode::ACCEPTED.into_response()
}
