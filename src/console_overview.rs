//! The console's Home: what the app holds and what happened lately, in one call that stays
//! cheap on big databases (planner estimates, exact counts only where they are small, sums
//! over a sample where the table is large).

use pgrx::prelude::*;
use serde_json::json;

use crate::errors;

/// `{tables, users, files: {count, bytes, estimated}, sign_ins: [{hour, count}] (the last 24
/// hours), sign_ups: [...], requests: [{hour, count, errors}] (as the sidecars counted them),
/// recent_changes: [{at, operation, table, by}]}`. Console members.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_overview() -> pgrx::JsonB {
    let sql = "WITH est AS ( \
         SELECT c.oid, greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0)) AS rows FROM pg_class c \
         LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid WHERE c.oid IN ('bknd.users'::regclass, 'bknd.objects'::regclass)), \
       users AS (SELECT CASE WHEN rows < 10000 THEN (SELECT count(*) FROM bknd.users) ELSE rows END AS n \
                 FROM est WHERE oid = 'bknd.users'::regclass), \
       files AS (SELECT CASE WHEN rows < 100000 \
                   THEN (SELECT jsonb_build_object('count', count(*), 'bytes', coalesce(sum(size), 0), 'estimated', false) \
                         FROM bknd.objects WHERE status = 'ready') \
                   ELSE (SELECT jsonb_build_object('count', rows, 'bytes', (coalesce(avg(size), 0) * rows)::bigint, 'estimated', true) \
                         FROM bknd.objects TABLESAMPLE SYSTEM (1) WHERE status = 'ready') END AS f \
                 FROM est WHERE oid = 'bknd.objects'::regclass), \
       hours AS (SELECT generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') AS h), \
       events AS (SELECT date_trunc('hour', at) AS h, action FROM bknd.audit_log \
                  WHERE at >= date_trunc('hour', now()) - interval '23 hours' AND action IN ('login', 'user_signedup')) \
       SELECT jsonb_build_object( \
         'tables', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')), \
         'users', (SELECT n FROM users), \
         'files', (SELECT f FROM files), \
         'sign_ins', (SELECT jsonb_agg(jsonb_build_object('hour', h, 'count', \
                       (SELECT count(*) FROM events e WHERE e.h = hours.h AND e.action = 'login')) ORDER BY h) FROM hours), \
         'sign_ups', (SELECT jsonb_agg(jsonb_build_object('hour', h, 'count', \
                       (SELECT count(*) FROM events e WHERE e.h = hours.h AND e.action = 'user_signedup')) ORDER BY h) FROM hours), \
         'requests', (SELECT jsonb_agg(jsonb_build_object('hour', h, 'count', coalesce(r.requests, 0), 'errors', coalesce(r.errors, 0)) ORDER BY h) \
                      FROM hours LEFT JOIN (SELECT hour, sum(requests) AS requests, sum(errors) AS errors FROM bknd.request_stats \
                        WHERE hour >= date_trunc('hour', now()) - interval '23 hours' GROUP BY hour) r ON r.hour = hours.h), \
         'recent_changes', (SELECT coalesce(jsonb_agg(jsonb_build_object('at', at, 'operation', operation, \
                       'table', coalesce(arguments->>'table_name', arguments->>'from_table', arguments->>'table'), \
                       'by', coalesce(by_sub, by_role)) ORDER BY id DESC), '[]') \
                     FROM (SELECT * FROM bknd.schema_history ORDER BY id DESC LIMIT 8) r))";
    pgrx::JsonB(errors::spi(crate::plans::get_one::<pgrx::JsonB>(sql, &[])).map(|j| j.0).unwrap_or(json!({})))
}

/// The surfaces the sidecar counts (sidecar/src/traffic.rs).
const SURFACES: [&str; 6] = ["rest", "auth", "storage", "realtime", "mcp", "console"];

/// The sidecar's own: add `counts` (`[{surface, requests, errors}]`, what one sidecar answered
/// since its last call) to this hour's rows, so every sidecar on the database adds up; rows
/// older than 30 days go. Answers the rows written.
#[pg_extern(volatile, strict, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn record_requests(counts: pgrx::JsonB) -> i64 {
    let mut surfaces = Vec::new();
    let mut requests = Vec::new();
    let mut failed = Vec::new();
    for c in counts.0.as_array().into_iter().flatten() {
        let (Some(surface), Some(n), Some(e)) = (c["surface"].as_str(), c["requests"].as_i64(), c["errors"].as_i64()) else {
            errors::invalid("counts are [{surface, requests, errors}]");
        };
        if !SURFACES.contains(&surface) || n < 0 || e < 0 || e > n {
            errors::invalid(format!("not a count: {c}"));
        }
        surfaces.push(surface.to_string());
        requests.push(n);
        failed.push(e);
    }
    let written = errors::spi(crate::plans::get_one::<i64>(
        "WITH added AS (INSERT INTO bknd.request_stats AS r (hour, surface, requests, errors) \
           SELECT date_trunc('hour', now()), s, n, e FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(s, n, e) \
           ON CONFLICT (hour, surface) DO UPDATE SET requests = r.requests + EXCLUDED.requests, errors = r.errors + EXCLUDED.errors \
           RETURNING 1) SELECT count(*) FROM added",
        &[surfaces.into(), requests.into(), failed.into()],
    ));
    errors::spi(Spi::run("DELETE FROM bknd.request_stats WHERE hour < now() - interval '30 days'"));
    written.unwrap_or(0)
}
