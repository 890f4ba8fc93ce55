//! The Phoenix wire formats supabase-js speaks (docs/realtime.md): vsn 1.0.0 sends JSON
//! objects, vsn 2.0.0 JSON arrays `[join_ref, ref, topic, event, payload]` plus binary frames,
//! of which the client sends kind 3 (a user broadcast). This server sends text, and kind 4 (a
//! user broadcast) for a broadcast whose payload is bytes, which only 2.0.0 can carry.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vsn {
    V1,
    V2,
}

impl Vsn {
    /// `vsn` from the query string; absent means 1.0.0, as Phoenix has it.
    pub fn parse(vsn: Option<&str>) -> Option<Vsn> {
        match vsn {
            None | Some("1.0.0") => Some(Vsn::V1),
            Some("2.0.0") => Some(Vsn::V2),
            Some(_) => None,
        }
    }
}

/// One Phoenix message.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub join_ref: Option<String>,
    pub reference: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

#[derive(Debug, PartialEq)]
pub struct BadFrame(pub String);

fn string_or_null(v: &Value, what: &str) -> Result<Option<String>, BadFrame> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(BadFrame(format!("{what} must be a string or null"))),
    }
}

fn required_string(v: &Value, what: &str) -> Result<String, BadFrame> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(BadFrame(format!("{what} must be a string"))),
    }
}

/// A text frame from the client.
pub fn decode_text(text: &str, vsn: Vsn) -> Result<Frame, BadFrame> {
    let value: Value = serde_json::from_str(text).map_err(|e| BadFrame(format!("not JSON: {e}")))?;
    match vsn {
        Vsn::V2 => {
            let Value::Array(items) = value else { return Err(BadFrame("a 2.0.0 message is a JSON array".into())) };
            if items.len() < 5 {
                return Err(BadFrame("a 2.0.0 message has five elements: [join_ref, ref, topic, event, payload]".into()));
            }
            Ok(Frame {
                join_ref: string_or_null(&items[0], "join_ref")?,
                reference: string_or_null(&items[1], "ref")?,
                topic: required_string(&items[2], "topic")?,
                event: required_string(&items[3], "event")?,
                payload: items[4].clone(),
            })
        }
        Vsn::V1 => {
            let Value::Object(map) = value else { return Err(BadFrame("a 1.0.0 message is a JSON object".into())) };
            let null = Value::Null;
            Ok(Frame {
                join_ref: string_or_null(map.get("join_ref").unwrap_or(&null), "join_ref")?,
                reference: string_or_null(map.get("ref").unwrap_or(&null), "ref")?,
                topic: required_string(map.get("topic").unwrap_or(&null), "topic")?,
                event: required_string(map.get("event").unwrap_or(&null), "event")?,
                payload: map.get("payload").cloned().unwrap_or(Value::Null),
            })
        }
    }
}

/// A binary frame from the client: kind 3, a user broadcast, as the `broadcast` push it stands
/// for, and its payload when that is bytes (the push's `payload` is then null).
/// `3, join_ref len, ref len, topic len, event len, meta len, encoding, join_ref, ref,
/// topic, event, meta, payload` (lengths one byte each; encoding 1 is JSON, 0 raw bytes).
pub fn decode_binary(bytes: &[u8]) -> Result<(Frame, Option<Vec<u8>>), BadFrame> {
    let short = || BadFrame("binary message is shorter than its header says".into());
    let (&kind, rest) = bytes.split_first().ok_or_else(short)?;
    if kind != 3 {
        return Err(BadFrame(format!("binary message kind {kind} is not accepted (only 3, a broadcast)")));
    }
    if rest.len() < 6 {
        return Err(short());
    }
    let lengths: Vec<usize> = rest[..5].iter().map(|&b| b as usize).collect();
    let encoding = rest[5];
    let mut at = 6;
    let mut take = |n: usize| -> Result<&[u8], BadFrame> {
        let piece = rest.get(at..at + n).ok_or_else(short)?;
        at += n;
        Ok(piece)
    };
    let text = |b: &[u8], what: &str| String::from_utf8(b.to_vec()).map_err(|_| BadFrame(format!("{what} is not UTF-8")));
    let join_ref = text(take(lengths[0])?, "join_ref")?;
    let reference = text(take(lengths[1])?, "ref")?;
    let topic = text(take(lengths[2])?, "topic")?;
    let event = text(take(lengths[3])?, "event")?;
    let meta = take(lengths[4])?.to_vec();
    let body = &rest[at..];
    let (payload, raw) = match encoding {
        1 => (serde_json::from_slice::<Value>(body).map_err(|e| BadFrame(format!("broadcast payload is not JSON: {e}")))?, None),
        0 => (Value::Null, Some(body.to_vec())),
        other => return Err(BadFrame(format!("unknown payload encoding {other}"))),
    };
    let mut push = json!({"type": "broadcast", "event": event, "payload": payload});
    if !meta.is_empty() {
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&meta) {
            push["meta"] = Value::Object(m);
        }
    }
    let frame = Frame {
        join_ref: Some(join_ref).filter(|s| !s.is_empty()),
        reference: Some(reference).filter(|s| !s.is_empty()),
        topic,
        event: "broadcast".into(),
        payload: push,
    };
    Ok((frame, raw))
}

/// A broadcast whose payload is bytes, as kind 4 carries it to a 2.0.0 client: `4, topic len,
/// event len, meta len, encoding 0, topic, event, meta, payload`. None when a name is too long
/// for its one-byte length (topics and events are at most 255 bytes when sent).
pub fn encode_bytes(topic: &str, event: &str, meta: Option<&Value>, payload: &[u8]) -> Option<Vec<u8>> {
    let meta = meta.map(Value::to_string).unwrap_or_default();
    let (t, e, m) = (u8::try_from(topic.len()).ok()?, u8::try_from(event.len()).ok()?, u8::try_from(meta.len()).ok()?);
    let mut out = Vec::with_capacity(5 + topic.len() + event.len() + meta.len() + payload.len());
    out.extend_from_slice(&[4, t, e, m, 0]);
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(meta.as_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// A message to the client, as text.
pub fn encode(frame: &Frame, vsn: Vsn) -> String {
    match vsn {
        Vsn::V2 => json!([frame.join_ref, frame.reference, frame.topic, frame.event, frame.payload]).to_string(),
        // 1.0.0 carries no join_ref to the client (Phoenix's V1 serializer)
        Vsn::V1 => json!({"topic": frame.topic, "event": frame.event, "payload": frame.payload, "ref": frame.reference}).to_string(),
    }
}

/// A reply to the push `to`: `phx_reply` with its refs.
pub fn reply(to: &Frame, ok: bool, response: Value) -> Frame {
    Frame {
        join_ref: to.join_ref.clone(),
        reference: to.reference.clone(),
        topic: to.topic.clone(),
        event: "phx_reply".into(),
        payload: json!({"status": if ok { "ok" } else { "error" }, "response": response}),
    }
}

/// A message from the server to every subscriber of `topic` (no refs).
pub fn push(topic: &str, event: &str, payload: Value) -> Frame {
    Frame { join_ref: None, reference: None, topic: topic.into(), event: event.into(), payload }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_decode_and_encode() {
        let v2 = decode_text(r#"["1","2","realtime:room","phx_join",{"config":{}}]"#, Vsn::V2).unwrap();
        assert_eq!((v2.join_ref.as_deref(), v2.reference.as_deref(), v2.topic.as_str()), (Some("1"), Some("2"), "realtime:room"));
        let v1 = decode_text(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"9"}"#, Vsn::V1).unwrap();
        assert_eq!((v1.join_ref.as_deref(), v1.reference.as_deref(), v1.event.as_str()), (None, Some("9"), "heartbeat"));
        let r = reply(&v1, true, json!({}));
        assert_eq!(encode(&r, Vsn::V1), r#"{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"9"}"#);
        assert_eq!(encode(&r, Vsn::V2), r#"[null,"9","phoenix","phx_reply",{"status":"ok","response":{}}]"#);
    }

    #[test]
    fn malformed_text_is_refused_with_a_reason() {
        for (text, vsn) in
            [("{", Vsn::V2), ("{}", Vsn::V2), ("[1,2]", Vsn::V2), ("[]", Vsn::V1), (r#"{"topic": 5, "event": "x"}"#, Vsn::V1)]
        {
            assert!(decode_text(text, vsn).is_err(), "{text}");
        }
    }

    #[test]
    fn a_kind_3_broadcast_decodes_as_captured_from_supabase_js() {
        // 03 01 01 0e 02 00 01 "6" "7" "realtime:room1" "ev" (no meta) {"hello":"wörld"}
        let mut bytes = vec![3, 1, 1, 14, 2, 0, 1];
        bytes.extend_from_slice(b"67realtime:room1ev");
        bytes.extend_from_slice("{\"hello\":\"wörld\"}".as_bytes());
        let (f, raw) = decode_binary(&bytes).unwrap();
        assert_eq!(raw, None);
        assert_eq!(f.event, "broadcast");
        assert_eq!(f.topic, "realtime:room1");
        assert_eq!((f.join_ref.as_deref(), f.reference.as_deref()), (Some("6"), Some("7")));
        assert_eq!(f.payload, json!({"type": "broadcast", "event": "ev", "payload": {"hello": "wörld"}}));
        // truncated, other kinds, unknown encodings: refused
        assert!(decode_binary(&bytes[..10]).is_err());
        assert!(decode_binary(&[0, 1, 2]).is_err());
        assert!(decode_binary(&[]).is_err());
        let mut other = bytes.clone();
        other[6] = 7;
        assert!(decode_binary(&other).is_err());
    }

    #[test]
    fn a_broadcast_of_bytes_decodes_and_encodes() {
        let mut bytes = vec![3, 0, 1, 1, 3, 0, 0];
        bytes.extend_from_slice(b"7tbin");
        bytes.extend_from_slice(&[0, 1, 255]);
        let (f, raw) = decode_binary(&bytes).unwrap();
        assert_eq!(raw.as_deref(), Some(&[0u8, 1, 255][..]));
        assert_eq!(f.payload, json!({"type": "broadcast", "event": "bin", "payload": null}));
        let out = encode_bytes("realtime:t", "bin", Some(&json!({"id": "1"})), &[0, 1, 255]).unwrap();
        assert_eq!(&out[..5], &[4, 10, 3, 10, 0]);
        assert_eq!(&out[5..], b"realtime:tbin{\"id\":\"1\"}\x00\x01\xff");
        assert!(encode_bytes(&"x".repeat(300), "bin", None, &[]).is_none());
    }
}
