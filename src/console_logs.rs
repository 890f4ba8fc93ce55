//! What happened, for the console's Logs screen: the auth audit log, the schema history,
//! webhook deliveries and the console members' own actions, newest first, in keyset pages
//! over each log's id (fast on millions of rows: a time range becomes an id range through the
//! log's time index). Console members' actions are for console admins and owners only (the
//! role `bknd.authenticate` took, which SQL cannot switch past).

use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::errors::{self, Code};

/// (table, time column, the entry as JSON, the actor filter, the action filter)
fn source(name: &str) -> Option<(&'static str, &'static str, &'static str, &'static str, &'static str)> {
    Some(match name {
        "auth" => (
            "bknd.audit_log",
            "at",
            "jsonb_build_object('id', l.id, 'at', l.at, 'action', l.action, \
               'actor', coalesce((SELECT u.email FROM bknd.users u WHERE u.id = l.user_id), l.user_id::text), \
               'user_id', l.user_id, 'ip', host(l.ip), 'detail', l.detail)",
            // by email here; by id (a UUID) in console_logs, each through its own index
            "l.user_id = (SELECT u.id FROM bknd.users u WHERE lower(u.email) = lower($A) LIMIT 1)",
            "l.action = $B",
        ),
        "schema" => (
            "bknd.schema_history",
            "at",
            "jsonb_build_object('id', l.id, 'at', l.at, 'action', l.operation, 'actor', coalesce(l.by_sub, l.by_role), \
               'target', coalesce(l.arguments->>'table_name', l.arguments->>'from_table', l.arguments->>'table'), 'detail', jsonb_build_object('arguments', l.arguments, 'ddl', to_jsonb(l.ddl)))",
            "(l.by_sub = $A OR l.by_sub = 'console:' || $A OR l.by_role = $A)",
            "l.operation = $B",
        ),
        "webhooks" => (
            "bknd.webhook_deliveries",
            "created_at",
            "jsonb_build_object('id', l.id, 'at', l.created_at, 'action', l.event_type, \
               'actor', (SELECT w.name FROM bknd.webhooks w WHERE w.id = l.webhook_id), 'target', l.status, \
               'detail', jsonb_build_object('event_id', l.event_id, 'attempts', l.attempts, 'last_status', l.last_status, \
                 'last_error', l.last_error, 'latency_ms', l.latency_ms, 'delivered_at', l.delivered_at))",
            "l.webhook_id = (SELECT w.id FROM bknd.webhooks w WHERE w.name = $A)",
            "l.event_type = $B",
        ),
        "console" => (
            "bknd.console_audit",
            "at",
            "jsonb_build_object('id', l.id, 'at', l.at, 'action', l.action, 'actor', l.email, 'role', l.role, \
               'target', l.target, 'detail', l.detail)",
            "lower(l.email) = lower($A)",
            "(l.action = $B OR l.action LIKE $B || ':%')",
        ),
        _ => return None,
    })
}

/// One page of log `source` (`auth`, `schema`, `webhooks`, `console`), newest first:
/// `{entries: [{id, at, action, actor, target?, ip?, detail}], next}`; `before` is the previous
/// page's `next`. Filters: `since` / `until` (a time range), `actor` (a user's email or id, a
/// member's email, a webhook's name) and `action`.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn console_logs(
    log: &str,
    max: default!(i32, 100),
    before: default!(Option<i64>, "NULL"),
    since: default!(Option<pgrx::datum::TimestampWithTimeZone>, "NULL"),
    until: default!(Option<pgrx::datum::TimestampWithTimeZone>, "NULL"),
    actor: default!(Option<&str>, "NULL"),
    action: default!(Option<&str>, "NULL"),
) -> pgrx::JsonB {
    let Some((table, at, entry, by_actor, by_action)) = source(log) else {
        errors::raise_hint(Code::ERRCODE_INVALID_PARAMETER_VALUE, format!("no log {log:?}"), "auth, schema, webhooks or console");
    };
    if log == "console" {
        crate::identity::require_console_role("read the console members' actions", &["owner", "admin"]);
    }
    let max = max.clamp(1, 500) as i64;
    let (actor, action) = (actor.map(str::trim).filter(|s| !s.is_empty()), action.map(str::trim).filter(|s| !s.is_empty()));
    // only the conditions in use, each its own statement (see admin_search_users). A time bound
    // is also an id bound, found through the log's time index, so a page reads only its id
    // range; ids follow time but for entries written out of step (concurrent or long
    // transactions): 1,000 ids of slack, and the exact time test on top
    let mut conditions = Vec::new();
    let mut args: Vec<pgrx::datum::DatumWithOid> = Vec::new();
    if let Some(b) = before {
        let p = param(&mut args, b.into());
        conditions.push(format!("l.id < {p}"));
    }
    if let Some(s) = since {
        let p = param(&mut args, s.into());
        conditions.push(format!(
            "l.{at} >= {p} AND l.id >= coalesce((SELECT x.id FROM {table} x WHERE x.{at} >= {p} ORDER BY x.{at}, x.id LIMIT 1), 0) - 1000"
        ));
    }
    if let Some(u) = until {
        let p = param(&mut args, u.into());
        conditions.push(format!(
            "l.{at} < {p} AND l.id <= coalesce((SELECT x.id FROM {table} x WHERE x.{at} >= {p} ORDER BY x.{at}, x.id LIMIT 1), 9223372036854774807) + 1000"
        ));
    }
    if let Some(a) = actor {
        let by_id = log == "auth" && crate::auth::admin::uuid_like(a);
        let p = param(&mut args, a.into());
        conditions.push(if by_id { format!("l.user_id = {p}::uuid") } else { by_actor.replace("$A", &p) });
    }
    if let Some(a) = action {
        let p = param(&mut args, a.into());
        conditions.push(by_action.replace("$B", &p));
    }
    let limit = param(&mut args, (max + 1).into());
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!(
        "SELECT coalesce(jsonb_agg({entry} ORDER BY l.id DESC), '[]') FROM \
           (SELECT * FROM {table} l {filter} ORDER BY l.id DESC LIMIT {limit}) l"
    );
    let entries = errors::spi(crate::plans::get_one::<pgrx::JsonB>(&sql, &args)).map(|j| j.0).unwrap_or(json!([]));
    let mut entries = match entries {
        Value::Array(a) => a,
        _ => vec![],
    };
    let next = if entries.len() as i64 > max {
        entries.truncate(max as usize);
        entries.last().and_then(|e| e["id"].as_i64())
    } else {
        None
    };
    pgrx::JsonB(json!({"entries": entries, "next": next}))
}

/// Add a bind parameter; its placeholder.
fn param<'a>(args: &mut Vec<pgrx::datum::DatumWithOid<'a>>, value: pgrx::datum::DatumWithOid<'a>) -> String {
    args.push(value);
    format!("${}", args.len())
}
