//! Auth functions answer with JSON: the result, or `{"error": {status, code, message}}`.
//! Failures are answers, not exceptions, so the rate-limit counters and the audit log written
//! on the way commit with them.

use pgrx::JsonB;
use serde_json::{json, Value};

pub type Outcome = Result<Value, Value>;

pub fn fail(status: u16, code: &str, message: impl Into<String>) -> Value {
    json!({"status": status, "code": code, "message": message.into()})
}

pub fn answer(outcome: Outcome) -> JsonB {
    match outcome {
        Ok(v) => JsonB(v),
        Err(e) => JsonB(json!({"error": e})),
    }
}
