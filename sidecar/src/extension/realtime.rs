//! Realtime: who a subscriber is, which changes and messages it may see, sending
//! (`sql/realtime.sql`).

use serde_json::Value;

use super::{calls, Call, TextArray};

calls! {
    fn enable_realtime(table: String) = "SELECT bknd.enable_realtime($1::text)::text";
    fn disable_realtime(table: String) = "SELECT bknd.disable_realtime($1::text)::text";
    /// the caller's claims, once bknd.authenticate has accepted its token
    fn claims() = "SELECT bknd.claims()::text";
    fn realtime_authorize(topic: String) = "SELECT bknd.realtime_authorize($1::text)::text";
    /// the sidecar's own: each subscriber's visible changes, in one call
    fn realtime_visible_to(schema: String, table: String, changes: &Value, subscribers: &Value) =
        "SELECT bknd.realtime_visible_to($1::text, $2::text, $3::text::jsonb, $4::text::jsonb)::text";
    /// the sidecar's own
    fn realtime_tables() = "SELECT to_jsonb(bknd.realtime_tables())::text";
    /// the sidecar's own
    fn realtime_changes_in(xids: TextArray) =
        "SELECT bknd.realtime_changes_in(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))::text";
    /// the sidecar's own: transactions logged from a transaction id on, to catch up after a reconnect
    fn realtime_changes_since(since: String) = "SELECT bknd.realtime_changes_since($1::text::xid8)::text";
    /// a private channel's missed broadcasts, as the caller may read them
    fn realtime_replay(topic: String, since_ms: i64, limit: i64) =
        "SELECT bknd.realtime_replay($1::text, to_timestamp($2::text::bigint / 1000.0), $3::text::integer)::text";
    /// the sidecar's own: stamp what committed while no sidecar listened
    fn realtime_stamp_unheard() = "SELECT to_jsonb(bknd.realtime_stamp_unheard())::text";
    /// the sidecar's own: one table's changes committed since a replay position, a page at a time
    fn realtime_replay_changes(schema: String, table: String, since_ms: i64, after_at: Option<String>, after_id: Option<i64>, max: i64) =
        "SELECT bknd.realtime_replay_changes($1::text, $2::text, $3::text::bigint, $4::text::timestamptz, $5::text::bigint, $6::text::integer)::text";
    fn realtime_send(topic: String, event: String, payload: &Value, private: bool) =
        "SELECT to_jsonb(bknd.realtime_send($1::text, $2::text, $3::text::jsonb, $4::text::boolean))::text";
    /// a client's broadcast: `origin` names the sending channel, so it can skip its own
    fn realtime_send_from(origin: String, topic: String, event: String, payload: &Value, private: bool) =
        "SELECT to_jsonb(bknd.realtime_send_from($1::text, $2::text, $3::text, $4::text::jsonb, $5::text::boolean))::text";
    /// a client's broadcast whose payload is bytes
    fn realtime_send_bytes(origin: String, topic: String, event: String, payload: Vec<u8>, private: bool) =
        "SELECT to_jsonb(bknd.realtime_send_bytes($1::text, $2::text, $3::text, decode($4::text, 'base64'), $5::text::boolean))::text";
    /// the sidecar's own
    fn realtime_message(id: i64) = "SELECT bknd.realtime_message($1::text::bigint)::text";
    /// the sidecar's own: a presence change to the other sidecars
    fn realtime_presence_relay(diff: &Value) = "SELECT to_jsonb(bknd.realtime_presence_relay($1::text::jsonb))::text";
    /// the sidecar's own
    fn realtime_prune() = "SELECT to_jsonb(bknd.realtime_prune())::text";
}
