//! Fixed-window rate limits per key (`sign_in:email_ip:...`, `sign_in:ip:...`). Too many hits
//! answer 429 and are written to the audit log.

use serde_json::{json, Value};

use super::audit;
use super::outcome::fail;
use crate::errors;

/// The limit's name: the key's first two segments (`sign_in:ip:10.0.0.1` -> `sign_in_ip`).
fn limit_name(key: &str) -> String {
    key.splitn(3, ':').take(2).collect::<Vec<_>>().join("_")
}

/// `bknd.configure_auth('{"rate_limits": {"sign_in_email_ip": 20}}')` overrides a default by name.
fn max_for(key: &str, default: i32) -> i32 {
    let limits = &super::settings()["rate_limits"];
    let name = limit_name(key);
    // before 0.5.0 failed sign-ins were counted per email, under the name sign_in_email: a
    // setting made then still applies to the per email and address pair that replaced it
    let configured =
        limits[name.as_str()].as_i64().or_else(|| (name == "sign_in_email_ip").then(|| limits["sign_in_email"].as_i64()).flatten());
    configured.map(|m| m.clamp(0, i32::MAX as i64) as i32).unwrap_or(default)
}

/// A refusal for `key`, written to the audit log.
fn refused(key: &str, ip: Option<&str>) -> Value {
    audit::log(None, "rate_limited", ip, json!({"key": key}));
    fail(429, "over_request_rate_limit", "Request rate limit reached")
}

/// Refuse if any of `keys` (each with its `max`) already used up its hits in the window, in one
/// statement, without counting and without taking a lock: an expensive step (argon2) can run
/// between `check` and `hit_all` while other requests for the same keys go on.
pub fn check(keys: &[(&str, i32)], window_seconds: i32, ip: Option<&str>) -> Result<(), Value> {
    let names: Vec<String> = keys.iter().map(|(k, _)| k.to_string()).collect();
    let counted = errors::spi_or(
        crate::plans::get_one::<pgrx::JsonB>(
            "SELECT jsonb_object_agg(key, hits) FROM bknd.rate_limits \
             WHERE key = ANY($1::text[]) AND window_start >= now() - make_interval(secs => $2)",
            &[names.into(), window_seconds.into()],
        ),
        None,
    )
    .map_or(Value::Null, |j| j.0);
    over(keys, &counted, |hits, max| hits >= max, ip)
}

/// The refusal for the first of `keys` whose count in `counted` is `too_many` for its limit.
fn over(keys: &[(&str, i32)], counted: &Value, too_many: impl Fn(i64, i64) -> bool, ip: Option<&str>) -> Result<(), Value> {
    for (key, max) in keys {
        if too_many(counted[*key].as_i64().unwrap_or(0), max_for(key, *max) as i64) {
            return Err(refused(key, ip));
        }
    }
    Ok(())
}

/// Count a hit on each of `keys` (with its `max`) in one statement; an error when any went over.
pub fn hit_all(keys: &[(&str, i32)], window_seconds: i32, ip: Option<&str>) -> Result<(), Value> {
    let names: Vec<String> = keys.iter().map(|(k, _)| k.to_string()).collect();
    let counted = errors::spi(crate::plans::get_one::<pgrx::JsonB>(
        "WITH h AS (INSERT INTO bknd.rate_limits AS r (key, window_start, hits) \
           SELECT k, now(), 1 FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN r.window_start < now() - make_interval(secs => $2) THEN 1 ELSE r.hits + 1 END, \
           window_start = CASE WHEN r.window_start < now() - make_interval(secs => $2) THEN now() ELSE r.window_start END \
         RETURNING key, hits) \
         SELECT jsonb_object_agg(key, hits) FROM h",
        &[names.into(), window_seconds.into()],
    ))
    .map_or(Value::Null, |j| j.0);
    over(keys, &counted, |hits, max| hits > max, ip)
}

/// Count a hit on `key`; an error when more than `max` fell in the last `window_seconds`.
pub fn hit(key: &str, max: i32, window_seconds: i32, ip: Option<&str>) -> Result<(), Value> {
    hit_all(&[(key, max)], window_seconds, ip)
}
