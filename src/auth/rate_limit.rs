//! Fixed-window rate limits per key (`sign_in:email:...`, `sign_in:ip:...`). Too many hits
//! answer 429 and are written to the audit log.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::audit;
use super::outcome::fail;
use crate::errors;

/// Count a hit on `key`; an error when more than `max` fell in the last `window_seconds`.
pub fn hit(key: &str, max: i32, window_seconds: i32, ip: Option<&str>) -> Result<(), Value> {
    let hits = errors::spi(Spi::get_one_with_args::<i32>(
        "INSERT INTO bknd.rate_limits AS r (key, window_start, hits) VALUES ($1, now(), 1) \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN r.window_start < now() - make_interval(secs => $2) THEN 1 ELSE r.hits + 1 END, \
           window_start = CASE WHEN r.window_start < now() - make_interval(secs => $2) THEN now() ELSE r.window_start END \
         RETURNING hits",
        &[key.into(), window_seconds.into()],
    ))
    .unwrap_or(0);
    if hits > max {
        audit::log(None, "rate_limited", ip, json!({"key": key}));
        return Err(fail(429, "over_request_rate_limit", "Request rate limit reached"));
    }
    Ok(())
}
