//! `bknd.realtime_visible_to`: which changes each of many subscribers may read, in one call.
//! The sidecar checks a batch of a table's changes once per distinct set of claims among its
//! subscribers; one round trip per subscriber would cost more than the checks. Here, for each
//! subscriber, the role and claims switch as `bknd.authenticate` would switch them, and the
//! table's visibility statement (`bknd.realtime_visibility_sql`, one text per table and role)
//! runs through a plan kept for the backend's life, so subscribers of one role share it.

use std::collections::HashMap;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use crate::errors;
use crate::jwt::{check_assumable, set_local};

/// `changes`: `{"keys": [...], "deleted": [...]}` as `bknd.realtime_visibility_sql` takes them;
/// `subscribers`: `[{"role": ..., "claims": {...}}, ...]`. Answers, in that order, each one's
/// visible positions (from 1). Only the sidecar may call it (it vouches for the claims, which it
/// had the database verify when each subscriber joined).
#[pg_extern(volatile, parallel_unsafe)]
fn realtime_visible_to(schema_name: &str, table_name: &str, changes: JsonB, subscribers: JsonB) -> JsonB {
    let JsonB(Value::Array(subscribers)) = subscribers else {
        errors::invalid("subscribers must be a JSON array");
    };
    let empty = Value::Array(vec![]);
    // parsed once, for every subscriber's statement
    let keys = crate::plans::jsonb_from_text(&changes.0.get("keys").unwrap_or(&empty).to_string());
    let deleted = crate::plans::jsonb_from_text(&changes.0.get("deleted").unwrap_or(&empty).to_string());
    let mut statements: HashMap<String, Option<String>> = HashMap::new();
    let mut answers = Vec::with_capacity(subscribers.len());
    for subscriber in &subscribers {
        let role = subscriber["role"].as_str().unwrap_or("anon");
        check_assumable(role);
        set_local("request.jwt.claims", &subscriber["claims"].to_string());
        set_local("role", role);
        let statement = statements.entry(role.to_string()).or_insert_with(|| {
            let args = [schema_name.into(), table_name.into()];
            errors::spi_or(crate::plans::get_one::<String>("SELECT bknd.realtime_visibility_sql($1, $2)", &args), None)
        });
        let seen: Vec<i64> = match statement {
            None => vec![],
            Some(sql) => {
                let args = unsafe { [DatumWithOid::new(keys, pg_sys::JSONBOID), DatumWithOid::new(deleted, pg_sys::JSONBOID)] };
                let text = errors::spi_or(crate::plans::get_one::<String>(sql, &args), None).unwrap_or_default();
                text.trim_matches(|c| c == '{' || c == '}').split(',').filter_map(|p| p.trim().parse().ok()).collect()
            }
        };
        answers.push(Value::from(seen));
    }
    JsonB(Value::Array(answers))
}
