//! REST behaviour beyond the conformance cases: counts, schema reload, profiles.

use std::time::{Duration, Instant};

use bknd_tests::conformance::{request, HttpResponse};
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// GET `path` until it answers `status` (within 10 s, else fail saying `what`).
fn until_status(base: &str, path: &str, status: u16, what: &str) -> HttpResponse {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = request(base, "GET", path, &[], None);
        if r.status == status {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: {} {}", r.status, r.body);
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn total(r: &HttpResponse) -> i64 {
    header(r, "content-range").and_then(|v| v.rsplit('/').next()).and_then(|t| t.parse().ok()).unwrap_or(-1)
}

#[test]
fn exact_planned_and_estimated_counts() {
    let db = TestDb::new("counts");
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('events', '{"kind": {"type": "integer"}}', '{"id": "bigint", "owner": false}');
               SELECT bknd.allow('events', 'select', 'anon');
               INSERT INTO events (kind) SELECT g % 500 FROM generate_series(1, 5000) g;
               ANALYZE events;"#,
        )
        .unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let get = |path: &str, count: &str| {
        let h = vec![("Prefer".to_string(), format!("count={count}"))];
        request(&sidecar.base, "GET", &format!("/rest/v1{path}"), &h, None)
    };
    let exact = get("/events?limit=10", "exact");
    assert_eq!((exact.status, header(&exact, "content-range")), (206, Some("0-9/5000")));
    let planned = get("/events?limit=10", "planned");
    assert_eq!(planned.status, 206);
    assert!((4500..=5500).contains(&total(&planned)), "planned estimate {:?}", header(&planned, "content-range"));
    // estimated: exact while small ...
    let small = get("/events?kind=eq.7", "estimated");
    assert_eq!(header(&small, "content-range"), Some("0-9/10"));
    // ... the planner's figure when large
    let large = get("/events?limit=5", "estimated");
    assert!((4500..=5500).contains(&total(&large)), "estimated {:?}", header(&large, "content-range"));
}

/// A page's LIMIT and OFFSET are numbers in the statement's text, so paging makes a new text
/// for every offset: a connection lets its prepared statements go past a bound (256) and keeps
/// answering. Planned counts take the step-by-step path, whose statements the driver prepares;
/// one connection, so every page lands on it.
#[test]
fn paging_through_many_offsets_keeps_answering() {
    let db = TestDb::new("paging");
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('pages', '{"n": {"type": "integer"}}', '{"id": "bigint", "owner": false}');
               SELECT bknd.allow('pages', 'select', 'anon');
               INSERT INTO pages (n) SELECT g FROM generate_series(1, 400) g;
               ANALYZE pages;
               CREATE FUNCTION prepared_here() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM pg_prepared_statements';
               GRANT EXECUTE ON FUNCTION prepared_here() TO anon;"#,
        )
        .unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &["--pool-size", "1"]);
    let planned = vec![("Prefer".to_string(), "count=planned".to_string())];
    for offset in 0..400 {
        let r = request(&sidecar.base, "GET", &format!("/rest/v1/pages?select=n&order=n&limit=1&offset={offset}"), &planned, None);
        assert_eq!((r.status, r.body.clone()), (206, format!(r#"[{{"n":{}}}]"#, offset + 1)), "offset {offset}");
    }
    let r = request(&sidecar.base, "GET", "/rest/v1/pages?select=n&order=n.desc&limit=2&offset=1", &[], None);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!((r.status, body), (200, serde_json::json!([{"n": 399}, {"n": 398}])));
    let r = request(&sidecar.base, "POST", "/rest/v1/rpc/prepared_here", &[], Some("{}"));
    let held: i64 = r.body.trim().parse().unwrap_or_else(|_| panic!("{} {}", r.status, r.body));
    assert!(held <= 260, "the connection holds {held} prepared statements after 400 pages");
}

#[test]
fn the_schema_cache_reloads_without_a_restart() {
    let db = TestDb::new("reload");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    assert_eq!(request(&sidecar.base, "GET", "/rest/v1/late", &[], None).status, 404);
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('late', '{"v": {"type": "text"}}');
               SELECT bknd.allow('late', 'select', 'anon');
               INSERT INTO late (v) VALUES ('here');"#,
        )
        .unwrap();
    let r = until_status(&sidecar.base, "/rest/v1/late?select=v", 200, "the new table never appeared");
    assert_eq!(r.body, r#"[{"v":"here"}]"#);
    // and a dropped one disappears
    db.admin().batch_execute("SELECT bknd.drop_table('late')").unwrap();
    until_status(&sidecar.base, "/rest/v1/late", 404, "the dropped table is still served");
}

#[test]
fn profiles_choose_among_exposed_schemas() {
    let db = TestDb::new("profiles");
    db.admin()
        .batch_execute(
            r#"CREATE SCHEMA app; GRANT USAGE ON SCHEMA app TO anon;
               SELECT bknd.create_table('things', '{"v": {"type": "text"}}');
               SELECT bknd.create_table('app.things', '{"v": {"type": "text"}}');
               SELECT bknd.allow('things', 'select,insert', 'anon');
               SELECT bknd.allow('app.things', 'select,insert', 'anon');
               INSERT INTO public.things (v) VALUES ('public'); INSERT INTO app.things (v) VALUES ('app');"#,
        )
        .unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &["--schemas", "public,app"]);
    let r = request(&sidecar.base, "GET", "/rest/v1/things?select=v", &[], None);
    assert_eq!(r.body, r#"[{"v":"public"}]"#);
    let h = vec![("Accept-Profile".to_string(), "app".to_string())];
    let r = request(&sidecar.base, "GET", "/rest/v1/things?select=v", &h, None);
    assert_eq!((r.body.as_str(), header(&r, "content-profile")), (r#"[{"v":"app"}]"#, Some("app")));
    let h = vec![("Content-Profile".to_string(), "app".to_string()), ("Content-Type".to_string(), "application/json".to_string())];
    assert_eq!(request(&sidecar.base, "POST", "/rest/v1/things", &h, Some(r#"{"v": "app2"}"#)).status, 201);
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM app.things"), 2);
    let h = vec![("Accept-Profile".to_string(), "bknd".to_string())];
    assert_eq!(request(&sidecar.base, "GET", "/rest/v1/secrets", &h, None).status, 406);
}

#[test]
fn one_connection_stays_clean_across_failures_and_roles() {
    // one pooled connection, so every request after the first takes the one-round-trip path
    let db = TestDb::new("fast_path");
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('notes', '{"rank": {"type": "integer"}}');
               SELECT bknd.allow('notes', 'all', 'authenticated', 'owner');
               INSERT INTO notes (rank, owner_id) VALUES (1, 'aaaaaaaa-0000-4000-8000-000000000001');"#,
        )
        .unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &["--pool-size", "1"]);
    let alice = db.token(serde_json::json!({"sub": "aaaaaaaa-0000-4000-8000-000000000001"}));
    let bob = db.token(serde_json::json!({"sub": "bbbbbbbb-0000-4000-8000-000000000002"}));
    let get = |token: Option<&str>, q: &str| {
        let h: Vec<(String, String)> = token.map(|t| vec![("Authorization".to_string(), format!("Bearer {t}"))]).unwrap_or_default();
        request(&sidecar.base, "GET", &format!("/rest/v1/notes?select=rank&rank=eq.{q}"), &h, None)
    };
    for _ in 0..2 {
        assert_eq!(get(Some(&alice), "1").body, r#"[{"rank":1}]"#);
    }
    // a bad token on a prepared statement: 401, and the connection is not left in a transaction
    assert_eq!(get(Some("garbage"), "1").status, 401);
    // the statement fails at execution (22P02) on the fast path
    assert_eq!(get(Some(&alice), "abc").status, 400);
    // roles do not leak from one request to the next on the same connection
    assert_eq!(get(Some(&bob), "1").body, "[]");
    assert_eq!(get(None, "1").body, "[]");
    assert_eq!(get(Some(&alice), "1").body, r#"[{"rank":1}]"#);
    let mut c = db.admin();
    let idle_in_tx =
        scalar_i64(&mut c, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'authenticator' AND state LIKE 'idle in transaction%'");
    assert_eq!(idle_in_tx, 0);
}

#[test]
fn a_table_or_function_made_a_moment_ago_is_there_for_the_next_request() {
    let db = TestDb::new("fresh_names");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let service = vec![("Authorization".to_string(), format!("Bearer {}", db.token(serde_json::json!({"role": "service_role"}))))];
    // wait for the first load, so what follows is a reload's race, not the start's
    assert_eq!(request(&sidecar.base, "GET", "/rest/v1/", &service, None).status, 200);
    let mut admin = db.admin();
    for i in 0..15 {
        admin.batch_execute(&format!(r#"SELECT bknd.create_table('fresh_{i}', '{{"n": {{"type": "integer"}}}}')"#)).unwrap();
        let r = request(&sidecar.base, "POST", &format!("/rest/v1/fresh_{i}"), &service, Some(r#"{"n": 1}"#));
        assert_eq!(r.status, 201, "fresh_{i}: {}", r.body);
        admin.batch_execute(&format!("CREATE FUNCTION public.fresh_fn_{i}() RETURNS int LANGUAGE sql AS 'SELECT {i}'")).unwrap();
        let r = request(&sidecar.base, "POST", &format!("/rest/v1/rpc/fresh_fn_{i}"), &service, Some("{}"));
        assert_eq!((r.status, r.body.trim()), (200, i.to_string().as_str()), "fresh_fn_{i}");
    }
    // a name that does not exist is still a clean 404
    let r = request(&sidecar.base, "GET", "/rest/v1/never_made", &service, None);
    assert_eq!(r.status, 404);
    assert!(r.body.contains("PGRST205"), "{}", r.body);
}

/// Names that exist nowhere do not reload the schema cache on every request: a reload reads the
/// whole catalog, so after one finds nothing such requests are answered from the cache for a
/// second. DDL still reaches the cache at once through its notification.
#[test]
fn made_up_names_do_not_reload_the_schema_each_time() {
    let db = TestDb::new("made_up_names");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let loads = || -> i64 {
        let r = request(&sidecar.base, "GET", "/health", &[], None);
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["schema_cache_loads"].as_i64().unwrap()
    };
    assert_eq!(request(&sidecar.base, "GET", "/rest/v1/", &[], None).status, 200);
    let before = loads();
    for i in 0..30 {
        let r = request(&sidecar.base, "GET", &format!("/rest/v1/made_up_{i}"), &[], None);
        assert_eq!(r.status, 404, "{}", r.body);
        assert!(r.body.contains("PGRST205"), "{}", r.body);
    }
    let reloads = loads() - before;
    assert!(reloads <= 3, "30 made-up names reloaded the schema {reloads} times");
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('real_one', '{"n": {"type": "integer"}}'); SELECT bknd.allow('real_one', 'select', 'anon');"#,
        )
        .unwrap();
    until_status(&sidecar.base, "/rest/v1/real_one", 200, "a table made during the pause never appeared");
}

/// The plans `bknd.run_as_row` keeps are bounded, and a full set makes room for new statements
/// (the one used longest ago goes): paging through offsets (numbers in the text) neither fills
/// memory nor stops the statements in use from being kept.
#[test]
fn kept_plans_stay_bounded_and_make_room() {
    let db = TestDb::new("kept_plans");
    let mut c = db.admin();
    let run = |c: &mut postgres::Client, sql: &str| {
        // each its own implicit transaction: run_as_row's role lasts until its commit
        c.query_one("SELECT bknd.run_as_row(NULL, 'GET', '/x', NULL, 'anon', true, $1, '{}')::text", &[&sql]).unwrap();
    };
    run(&mut c, "SELECT 1 AS n /* in use */");
    for i in 1..=300 {
        run(&mut c, &format!("SELECT {i} AS n /* one-off */"));
        if i % 50 == 0 {
            run(&mut c, "SELECT 1 AS n /* in use */");
        }
    }
    let row = c
        .query_one(
            // the texts as parameters: this statement's own plan must not match them
            "SELECT count(*) FILTER (WHERE ident LIKE $1), bool_or(ident = $2), bool_or(ident = $3), bool_or(ident = $4)
             FROM pg_backend_memory_contexts WHERE name = 'CachedPlanSource'",
            &[&"%one-off%", &"SELECT 1 AS n /* in use */", &"SELECT 300 AS n /* one-off */", &"SELECT 1 AS n /* one-off */"],
        )
        .unwrap();
    let (one_offs, in_use, newest, oldest): (i64, bool, bool, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert!(one_offs < 256, "{one_offs} plans kept");
    assert!(in_use, "the statement in use lost its plan");
    assert!(newest, "a statement coming to a full set was not kept");
    assert!(!oldest, "the plan used longest ago was kept");
}

/// A read commits nothing: no transaction id is taken, so no commit record is written and
/// flushed to disk for a GET, and reads do not use up ids toward wraparound. Seen from inside
/// the request's own transaction (a view that shows its id), so other tests running at the same
/// time cannot disturb it; a write must still take one.
#[test]
fn reads_take_no_transaction_id() {
    let db = TestDb::new("reads_no_xid");
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('notes', '{"rank": {"type": "integer"}}');
               SELECT bknd.allow('notes', 'all', 'authenticated', 'owner');
               SELECT bknd.allow('notes', 'select', 'anon');
               CREATE VIEW xid_probe WITH (security_invoker) AS
                 SELECT pg_current_xact_id_if_assigned()::text AS xid, (SELECT count(*) FROM notes) AS notes;
               GRANT SELECT ON xid_probe TO anon, authenticated;"#,
        )
        .unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let alice = db.token(serde_json::json!({"sub": "aaaaaaaa-0000-4000-8000-000000000001", "role": "authenticated"}));
    let bearer = vec![("Authorization".to_string(), format!("Bearer {alice}"))];
    let h = [bearer.clone(), vec![("Content-Type".to_string(), "application/json".to_string())]].concat();
    let r = request(&sidecar.base, "POST", "/rest/v1/notes", &h, Some(r#"{"rank": 1}"#));
    assert_eq!(r.status, 201, "{}", r.body);
    // the one-statement REST read, as a user and as anon
    for headers in [&bearer[..], &[]] {
        let r = request(&sidecar.base, "GET", "/rest/v1/xid_probe?select=xid,notes", headers, None);
        assert_eq!((r.status, r.body.as_str()), (200, r#"[{"xid":null,"notes":1}]"#));
    }
    // the extension's own reads (the auth API's profile read here), as the sidecar calls them
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT bknd.authenticate($1, 'GET', '/user', NULL, 'anon')", &[&alice]).unwrap();
    let user: Option<String> = tx.query_one("SELECT bknd.get_user()::text", &[]).unwrap().get(0);
    assert!(user.is_some_and(|u| u.contains("user_not_found")), "no such user here: read all the same");
    let xid: Option<String> = tx.query_one("SELECT pg_current_xact_id_if_assigned()::text", &[]).unwrap().get(0);
    assert_eq!(xid, None, "bknd.get_user took a transaction id");
    tx.rollback().unwrap();
    // a write still takes its id and commits
    let r = request(&sidecar.base, "POST", "/rest/v1/notes", &h, Some(r#"{"rank": 2}"#));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM notes WHERE rank = 2"), 1);
}
