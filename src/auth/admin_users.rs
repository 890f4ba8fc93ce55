//! The console's view of the app's users (service_role and the console roles, which are its
//! members): keyset pages that stay fast at millions of users, one user's whole picture
//! (identities, sessions, factors, audit trail), and ending a user's sessions or removing their
//! factors. Changes are for console admins and owners, as in admin.rs.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::admin::{existing, uuid_like};
use super::outcome::{answer, Outcome};
use super::{audit, user};
use crate::errors;

/// One row of the list: what the Users screen shows.
const ROW: &str = "jsonb_build_object('id', u.id, 'email', u.email, 'role', u.role, 'created_at', u.created_at, \
    'last_sign_in_at', u.last_sign_in_at, 'email_confirmed_at', u.email_confirmed_at, 'banned_until', u.banned_until, \
    'is_anonymous', u.is_anonymous, \
    'mfa', EXISTS (SELECT 1 FROM bknd.mfa_factors f WHERE f.user_id = u.id AND f.status = 'verified'), \
    'providers', coalesce((SELECT jsonb_agg(DISTINCT i.provider) FROM bknd.identities i WHERE i.user_id = u.id), '[]'))";

/// Users newest first, `max` (1..=200) at a time: `{users, next, estimate}`. `search` is an
/// email prefix (or a user's id); `after` is the previous page's `next`. Keyset pages over
/// (created_at, id) and a prefix index on the email, never a count of the whole table:
/// `estimate` is the planner's.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_search_users(
    search: default!(Option<&str>, "NULL"),
    after: default!(Option<&str>, "NULL"),
    max: default!(i32, 50),
) -> pgrx::JsonB {
    let max = max.clamp(1, 200) as i64;
    let search = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
    // the cursor is "created_at|id" as this function gave it; anything else starts over
    let cursor = after.and_then(|a| a.split_once('|')).filter(|(_, id)| uuid_like(id));
    let (at, id) = cursor.map(|(a, i)| (Some(a.to_string()), Some(i.to_string()))).unwrap_or((None, None));
    let by_id = search.as_deref().filter(|s| uuid_like(s)).map(str::to_string);
    let prefix = search
        .filter(|_| by_id.is_none())
        .map(|s| (s.clone(), format!("{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))));
    // only the conditions in use, each its own statement text: a cached generic plan of
    // "$1 IS NULL OR ..." could use no index
    let mut conditions = Vec::new();
    let mut args: Vec<pgrx::datum::DatumWithOid> = Vec::new();
    if let Some(id) = &by_id {
        args.push(id.as_str().into());
        conditions.push(format!("u.id = ${}::uuid", args.len()));
    }
    if let Some((low, pattern)) = &prefix {
        // a range the prefix index answers, then LIKE for the exact match
        args.push(low.as_str().into());
        args.push(pattern.as_str().into());
        let (l, p) = (args.len() - 1, args.len());
        conditions.push(format!("lower(u.email) ~>=~ ${l} AND lower(u.email) ~<~ (${l} || chr(1114111)) AND lower(u.email) LIKE ${p}"));
    }
    if let (Some(at), Some(id)) = (&at, &id) {
        args.push(at.as_str().into());
        args.push(id.as_str().into());
        let (a, i) = (args.len() - 1, args.len());
        conditions.push(format!("(u.created_at, u.id) < (${a}::timestamptz, ${i}::uuid)"));
    }
    args.push((max + 1).into());
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!(
        "SELECT coalesce(jsonb_agg({ROW} ORDER BY u.created_at DESC, u.id DESC), '[]') FROM ( \
           SELECT * FROM bknd.users u {filter} ORDER BY u.created_at DESC, u.id DESC LIMIT ${}) u",
        args.len()
    );
    let users = errors::spi(crate::plans::get_one::<pgrx::JsonB>(&sql, &args)).map(|j| j.0).unwrap_or(json!([]));
    let mut users = match users {
        Value::Array(a) => a,
        _ => vec![],
    };
    let next = if users.len() as i64 > max {
        users.truncate(max as usize);
        users.last().map(|u| format!("{}|{}", u["created_at"].as_str().unwrap_or_default(), u["id"].as_str().unwrap_or_default()))
    } else {
        None
    };
    // the statistics lag behind the first writes: below 10,000 rows counting is cheap and right
    let estimate = errors::spi(crate::plans::get_one::<i64>(
        "SELECT CASE WHEN e < 10000 THEN (SELECT count(*) FROM bknd.users) ELSE e END FROM ( \
           SELECT greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0)) AS e FROM pg_class c \
           LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid WHERE c.oid = 'bknd.users'::regclass) x",
        &[],
    ))
    .unwrap_or(0);
    pgrx::JsonB(json!({"users": users, "next": next, "estimate": estimate}))
}

/// One user's whole picture: the user (as the admin API shows it), identities, sessions,
/// MFA factors (never their secrets) and the newest 100 entries of their audit trail.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_user_detail(id: &str) -> pgrx::JsonB {
    answer((|| -> Outcome {
        let id = existing(id)?;
        let rest = errors::spi(crate::plans::get_one::<pgrx::JsonB>(
            "SELECT jsonb_build_object( \
               'identities', coalesce((SELECT jsonb_agg(jsonb_build_object('provider', provider, 'provider_id', provider_id, \
                  'created_at', created_at, 'last_sign_in_at', last_sign_in_at) ORDER BY created_at) \
                  FROM bknd.identities WHERE user_id = $1::uuid), '[]'), \
               'sessions', coalesce((SELECT jsonb_agg(jsonb_build_object('id', id, 'aal', aal, 'ip', host(ip), \
                  'user_agent', user_agent, 'created_at', created_at, 'updated_at', updated_at) ORDER BY created_at DESC) \
                  FROM bknd.sessions WHERE user_id = $1::uuid), '[]'), \
               'factors', coalesce((SELECT jsonb_agg(jsonb_build_object('id', id, 'friendly_name', friendly_name, \
                  'factor_type', factor_type, 'status', status, 'created_at', created_at) ORDER BY created_at) \
                  FROM bknd.mfa_factors WHERE user_id = $1::uuid), '[]'), \
               'audit', coalesce((SELECT jsonb_agg(jsonb_build_object('at', a.at, 'action', a.action, 'ip', host(a.ip), \
                  'detail', a.detail) ORDER BY a.id DESC) \
                  FROM (SELECT * FROM bknd.audit_log WHERE user_id = $1::uuid ORDER BY id DESC LIMIT 100) a), '[]'))",
            &[id.as_str().into()],
        ))
        .map(|j| j.0)
        .unwrap_or(json!({}));
        let mut detail = rest;
        detail["user"] = user::json(&id);
        Ok(detail)
    })())
}

/// End every session of a user now (their refresh tokens stop working; access tokens run out
/// on their own). Console admins and owners, and service_role.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_sign_out_user(id: &str) -> pgrx::JsonB {
    super::console::refuse_developers_and_viewers("sign users out");
    remove_all(id, "bknd.sessions", "sessions_ended_by_admin", "sessions_ended")
}

/// Remove a user's MFA factors (a lost phone): signing in takes the password alone again.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_remove_factors(id: &str) -> pgrx::JsonB {
    super::console::refuse_developers_and_viewers("remove users' factors");
    remove_all(id, "bknd.mfa_factors", "factors_removed_by_admin", "factors_removed")
}

/// Delete every row of `table` that belongs to user `id`, audited as `action`: `{counted: n}`.
fn remove_all(id: &str, table: &str, action: &str, counted: &str) -> pgrx::JsonB {
    answer((|| -> Outcome {
        let id = existing(id)?;
        let removed = errors::spi(crate::plans::get_one::<i64>(
            &format!("WITH gone AS (DELETE FROM {table} WHERE user_id = $1::uuid RETURNING 1) SELECT count(*) FROM gone"),
            &[id.as_str().into()],
        ))
        .unwrap_or(0);
        let mut answer = serde_json::Map::new();
        answer.insert(counted.to_string(), json!(removed));
        audit::log(Some(&id), action, None, Value::Object(answer.clone()));
        Ok(Value::Object(answer))
    })())
}
