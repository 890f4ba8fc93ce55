//! Realtime: supabase-js channels end to end (tests/e2e/realtime_js.test.mjs, once per protocol
//! version and once across two sidecars), and the SQL side on its own: who may choose which
//! tables publish, what describe_table says, who may send from SQL, and that tables which do
//! not publish are left exactly as they were.

use std::path::PathBuf;
use std::process::Command;

use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

const USER_A: &str = "aaaaaaaa-1111-4111-8111-000000000001";
const USER_B: &str = "bbbbbbbb-2222-4222-8222-000000000002";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// notes: owners read and write their rows, anon reads rows with rank > 100, and it publishes.
/// quiet and later: the same owner policies, not published (later is enabled by the node test
/// itself, to show that enable_realtime reaches a running sidecar).
const TABLES: &str = r#"
SELECT bknd.create_table('notes', '[{"name": "title", "type": "text", "required": true},
  {"name": "body", "type": "text"}, {"name": "rank", "type": "integer", "default": 0}]');
SELECT bknd.allow('notes', 'all', 'authenticated', 'owner');
SELECT bknd.allow('notes', 'select', 'anon', 'rank > 100');
SELECT bknd.create_table('quiet', '[{"name": "title", "type": "text"}]');
SELECT bknd.allow('quiet', 'all', 'authenticated', 'owner');
SELECT bknd.create_table('later', '[{"name": "title", "type": "text"}]');
SELECT bknd.allow('later', 'all', 'authenticated', 'owner');
"#;

/// What the node tests need besides the tables. bknd.realtime_messages ships with RLS on and
/// no policies; an app writes its own, as these do:
/// - room:<uid> is its user's private room: joined (SELECT) and written (INSERT) by that user;
/// - news is a private topic every signed-in user may read and nobody may write over the API;
/// - chat is public; the INSERT policy lets a signed-in user's SQL (public.announce, called
///   as an RPC) send to it with bknd.realtime_send.
const FIXTURE: &str = r#"
SELECT bknd.enable_realtime('notes');
CREATE POLICY room_read ON bknd.realtime_messages FOR SELECT TO authenticated
  USING (bknd.realtime_topic() = 'room:' || bknd.uid()::text);
CREATE POLICY room_write ON bknd.realtime_messages FOR INSERT TO authenticated
  WITH CHECK (bknd.realtime_topic() = 'room:' || bknd.uid()::text);
CREATE POLICY news_read ON bknd.realtime_messages FOR SELECT TO authenticated
  USING (bknd.realtime_topic() = 'news');
CREATE POLICY chat_send ON bknd.realtime_messages FOR INSERT TO authenticated
  WITH CHECK (topic = 'chat');
-- SECURITY INVOKER (the default): realtime_send runs as the caller, under the policies above
CREATE FUNCTION public.announce(room text, msg text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM bknd.realtime_send(room, 'announce', jsonb_build_object('msg', msg));
  RETURN true;
END
$$;
"#;

// fields drop in order: the sidecars stop before their database is dropped
struct Env {
    sidecars: Vec<Sidecar>,
    db: TestDb,
    vars: Vec<(String, String)>,
}

/// The fixture and `count` sidecars on one database, and the variables the node test reads.
fn setup(label: &str, count: usize) -> Env {
    let db = TestDb::new(label);
    let mut admin = db.admin();
    admin.batch_execute(TABLES).unwrap();
    admin.batch_execute(FIXTURE).unwrap();
    let sidecars: Vec<Sidecar> = (0..count).map(|_| Sidecar::start(&url("authenticator", &db.name), &[])).collect();
    let mut vars = vec![
        ("BKND_URL".to_string(), sidecars[0].base.clone()),
        ("TOKEN_A".into(), db.token(json!({"sub": USER_A, "role": "authenticated"}))),
        ("TOKEN_B".into(), db.token(json!({"sub": USER_B, "role": "authenticated"}))),
        ("ANON_KEY".into(), db.token(json!({"role": "anon"}))),
        ("SERVICE_KEY".into(), db.token(json!({"role": "service_role"}))),
        ("USER_A".into(), USER_A.into()),
        ("USER_B".into(), USER_B.into()),
        // the node test runs psql with it: changes made outside the sidecar, and tokens minted
        // when a test needs them (a short-lived one must not expire while earlier tests run)
        ("ADMIN_DATABASE_URL".into(), url("postgres", &db.name)),
    ];
    if let Some(second) = sidecars.get(1) {
        vars.push(("BKND_URL_2".into(), second.base.clone()));
        // a test starts a third sidecar of its own, late
        vars.push(("BKND_BIN".into(), bknd_tests::sidecar::binary()));
        vars.push(("AUTHENTICATOR_DATABASE_URL".into(), url("authenticator", &db.name)));
    }
    Env { sidecars, db, vars }
}

/// `node --test realtime_js.test.mjs` with REALTIME_VSN = `vsn`; only the tests whose names
/// match `only`, if given.
fn run_node(env: &Env, vsn: &str, only: Option<&str>) {
    run_node_with(env, vsn, only, &[]);
}

fn run_node_with(env: &Env, vsn: &str, only: Option<&str>, extra: &[(&str, &str)]) {
    let dir = repo().join("tests/e2e");
    assert!(dir.join("node_modules/@supabase/supabase-js").exists(), "npm packages missing: run `make test`");
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).args(["--test", "--test-concurrency=1"]);
    if let Some(pattern) = only {
        cmd.arg(format!("--test-name-pattern={pattern}"));
    }
    cmd.arg("realtime_js.test.mjs").env("REALTIME_VSN", vsn);
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    cmd.envs(extra.iter().copied());
    let out = cmd.output().unwrap_or_else(|e| panic!("node: cannot start: {e} (run `make test`, which installs it)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node --test realtime_js.test.mjs (vsn {vsn}) failed:\n{stdout}\n{stderr}");
    let _ = (&env.db, &env.sidecars);
}

#[test]
fn realtime_supabase_js_over_protocol_1() {
    let env = setup("rt_js_v1", 1);
    run_node(&env, "1.0.0", None);
}

#[test]
fn realtime_supabase_js_over_protocol_2() {
    let env = setup("rt_js_v2", 1);
    run_node(&env, "2.0.0", None);
}

/// Clients of sidecar 1 speak 1.0.0, those of sidecar 2 speak 2.0.0.
#[test]
fn realtime_supabase_js_across_two_sidecars() {
    let env = setup("rt_js_two", 2);
    run_node(&env, "1.0.0", Some("^two sidecars"));
}

/// The log is durable: a client keeps the commit_timestamp of the last change it saw; the
/// sidecar stops; changes are made from psql; a new sidecar starts, and a channel joined with
/// that position gets them (those its policies allow), then live ones.
#[test]
fn realtime_replay_across_a_sidecar_restart() {
    let mut env = setup("rt_js_restart", 1);
    let position = std::env::temp_dir().join(format!("bknd-replay-{}", std::process::id()));
    let file = position.to_str().unwrap().to_string();
    run_node_with(&env, "2.0.0", Some("^replay across a restart: before"), &[("REPLAY_FILE", &file)]);
    env.sidecars.clear();
    let mut admin = env.db.admin();
    admin
        .batch_execute(&format!(
            "INSERT INTO public.notes (title, owner_id) VALUES ('rs-2', '{USER_A}');
             INSERT INTO public.notes (title, owner_id) VALUES ('rs-hidden', '{USER_B}');"
        ))
        .unwrap();
    env.sidecars.push(Sidecar::start(&url("authenticator", &env.db.name), &[]));
    env.vars[0].1 = env.sidecars[0].base.clone();
    run_node_with(&env, "1.0.0", Some("^replay across a restart: after"), &[("REPLAY_FILE", &file)]);
    let _ = std::fs::remove_file(position);
}

// ---------------------------------------------------------------------------------------------
// the SQL API, without a sidecar

fn tables(label: &str) -> TestDb {
    let db = TestDb::new(label);
    db.admin().batch_execute(TABLES).unwrap();
    db
}

fn user(db: &TestDb, id: &str) -> String {
    db.token(json!({"sub": id, "role": "authenticated"}))
}

/// Run `sql` as the holder of `token`, committed; the error's SQLSTATE, or "" on success.
fn outcome(db: &TestDb, token: &str, sql: &str) -> String {
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
    match tx.batch_execute(sql) {
        Ok(()) => {
            tx.commit().unwrap();
            String::new()
        }
        Err(e) => sqlstate(&e),
    }
}

/// describe_table's "realtime" flag, read as superuser.
fn publishes(db: &TestDb, table: &str) -> Value {
    json(&mut db.admin(), &format!("bknd.describe_table('{table}') -> 'realtime'"))
}

#[test]
fn realtime_enable_and_disable_are_for_service_role_and_describe_table_tells() {
    let db = tables("rt_enable");
    let (a, anon, service) = (user(&db, USER_A), db.token(json!({"role": "anon"})), db.token(json!({"role": "service_role"})));
    assert_eq!(publishes(&db, "notes"), json!(false), "a new table publishes");

    // neither a user nor anon may choose what publishes
    for token in [&a, &anon] {
        for sql in ["SELECT bknd.enable_realtime('notes')", "SELECT bknd.disable_realtime('notes')"] {
            assert_eq!(outcome(&db, token, sql), "42501", "{sql}");
        }
    }
    assert_eq!(publishes(&db, "notes"), json!(false));

    // service_role may, and describe_table (service_role's view too) says so
    let enabled = db.call_as(Some(&service), "bknd.enable_realtime('notes')");
    assert!(!enabled.is_null(), "enable_realtime returned NULL");
    assert_eq!(db.call_as(Some(&service), "bknd.describe_table('notes')")["realtime"], json!(true));
    assert_eq!(publishes(&db, "quiet"), json!(false), "enabling notes changed quiet");
    // once on, a user still cannot turn it off
    assert_eq!(outcome(&db, &a, "SELECT bknd.disable_realtime('notes')"), "42501");
    assert_eq!(publishes(&db, "notes"), json!(true));
    let disabled = db.call_as(Some(&service), "bknd.disable_realtime('notes')");
    assert!(!disabled.is_null(), "disable_realtime returned NULL");
    assert_eq!(publishes(&db, "notes"), json!(false));

    // superusers may (psql)
    let mut admin = db.admin();
    admin.batch_execute("SELECT bknd.enable_realtime('quiet')").unwrap();
    assert_eq!(publishes(&db, "quiet"), json!(true));
    admin.batch_execute("SELECT bknd.disable_realtime('quiet')").unwrap();
    assert_eq!(publishes(&db, "quiet"), json!(false));

    // a table that does not exist is an error, not a silent success
    let missing = admin.batch_execute("SELECT bknd.enable_realtime('no_such_table')");
    assert!(missing.is_err(), "enable_realtime of a missing table succeeded");
}

#[test]
fn realtime_send_from_sql_needs_an_insert_policy_for_api_roles() {
    let db = tables("rt_send");
    let mut admin = db.admin();
    // the message table ships with RLS on and one policy: anyone with an API key may send on a
    // public topic (as over the WebSocket); private messages need the app's INSERT policies
    let rls: bool =
        admin.query_one("SELECT relrowsecurity FROM pg_class WHERE oid = 'bknd.realtime_messages'::regclass", &[]).unwrap().get(0);
    assert!(rls, "RLS is off on bknd.realtime_messages");
    let policies = "SELECT string_agg(policyname, ',') FROM pg_policies WHERE schemaname = 'bknd' AND tablename = 'realtime_messages'";
    assert_eq!(scalar_string(&mut admin, policies).as_deref(), Some("bknd_realtime_public_send"));

    let (a, anon, service) = (user(&db, USER_A), db.token(json!({"role": "anon"})), db.token(json!({"role": "service_role"})));
    let send = |topic: &str| format!("SELECT bknd.realtime_send('{topic}', 'ev', '{{\"n\": 1}}'::jsonb)");
    let send_private = |topic: &str| format!("SELECT bknd.realtime_send('{topic}', 'ev', '{{\"n\": 1}}'::jsonb, true)");
    // public: anyone; private without a policy: refused to the API roles, allowed to service_role and superusers
    assert_eq!(outcome(&db, &anon, &send("lobby")), "");
    assert_eq!(outcome(&db, &a, &send("lobby")), "");
    assert_eq!(outcome(&db, &anon, &send_private("lobby")), "42501");
    assert_eq!(outcome(&db, &a, &send_private("lobby")), "42501");
    assert_eq!(outcome(&db, &service, &send_private("lobby")), "");
    admin.batch_execute(&send_private("lobby")).unwrap();

    // an INSERT policy opens exactly what it says: anon, topic lobby
    admin.batch_execute("CREATE POLICY lobby_send ON bknd.realtime_messages FOR INSERT TO anon WITH CHECK (topic = 'lobby')").unwrap();
    assert_eq!(outcome(&db, &anon, &send_private("lobby")), "");
    assert_eq!(outcome(&db, &anon, &send_private("elsewhere")), "42501");
    assert_eq!(outcome(&db, &a, &send_private("lobby")), "42501", "a policy for anon let authenticated send");
}

/// Everything about a table that realtime could change: its triggers, rules, replica identity
/// and the publications it is in.
fn footprint(admin: &mut Client, table: &str) -> String {
    let sql = format!(
        "SELECT concat_ws(E'\\n',
           (SELECT string_agg(pg_get_triggerdef(t.oid), E'\\n' ORDER BY t.tgname) FROM pg_trigger t
             WHERE t.tgrelid = 'public.{table}'::regclass),
           (SELECT string_agg(r.definition, E'\\n' ORDER BY r.rulename) FROM pg_rules r
             WHERE r.schemaname = 'public' AND r.tablename = '{table}'),
           (SELECT 'replica identity ' || c.relreplident::text FROM pg_class c WHERE c.oid = 'public.{table}'::regclass),
           (SELECT 'in ' || string_agg(p.pubname, ',' ORDER BY p.pubname) FROM pg_publication_tables p
             WHERE p.schemaname = 'public' AND p.tablename = '{table}'))"
    );
    scalar_string(admin, &sql).unwrap_or_default()
}

/// The row count of every table outside public and the system schemas (bknd's own tables and
/// any a change log might use).
fn rows_elsewhere(admin: &mut Client) -> Vec<(String, i64)> {
    let names: Vec<String> = admin
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('public', 'pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let mut counts = Vec::new();
    for table in names {
        let count = scalar_i64(admin, &format!("SELECT count(*) FROM {table}"));
        counts.push((table, count));
    }
    counts
}

#[test]
fn realtime_leaves_tables_that_do_not_publish_alone() {
    let db = tables("rt_quiet");
    let mut admin = db.admin();
    let before = footprint(&mut admin, "quiet");

    // publishing notes changes nothing about quiet
    admin.batch_execute("SELECT bknd.enable_realtime('notes')").unwrap();
    assert_eq!(footprint(&mut admin, "quiet"), before, "enable_realtime('notes') changed table quiet");
    assert_eq!(publishes(&db, "quiet"), json!(false));

    // writes to quiet, as a user and from psql, leave nothing behind anywhere else
    let rows = rows_elsewhere(&mut admin);
    let a = user(&db, USER_A);
    for sql in [
        "INSERT INTO public.quiet (title) VALUES ('one'), ('two')",
        "UPDATE public.quiet SET title = title || '!'",
        "DELETE FROM public.quiet WHERE title = 'one!'",
    ] {
        assert_eq!(outcome(&db, &a, sql), "", "{sql}");
    }
    admin
        .batch_execute(&format!(
            "INSERT INTO public.quiet (title, owner_id) VALUES ('three', '{USER_A}');
             UPDATE public.quiet SET title = 'four' WHERE title = 'three';
             DELETE FROM public.quiet WHERE title = 'four';"
        ))
        .unwrap();
    assert_eq!(rows_elsewhere(&mut admin), rows, "writes to a table that does not publish were recorded somewhere");
    // and they behaved as writes do: A's row is A's, under RLS
    let seen = db.call_as(Some(&a), "(SELECT jsonb_agg(jsonb_build_array(title, owner_id)) FROM public.quiet)");
    assert_eq!(seen, json!([["two!", USER_A]]));
    let b = user(&db, USER_B);
    assert_eq!(db.call_as(Some(&b), "(SELECT to_jsonb(count(*)) FROM public.quiet)"), json!(0));

    // turning quiet on and off again puts it back exactly as it was
    admin.batch_execute("SELECT bknd.enable_realtime('quiet')").unwrap();
    assert_eq!(publishes(&db, "quiet"), json!(true));
    admin.batch_execute("SELECT bknd.disable_realtime('quiet')").unwrap();
    assert_eq!(publishes(&db, "quiet"), json!(false));
    assert_eq!(footprint(&mut admin, "quiet"), before, "disable_realtime('quiet') left something behind");
}

/// bknd.realtime_topic() is inlined where a policy calls it (a SET clause made every call, once
/// per row checked, save and restore the setting and run its body), and the caller's
/// search_path cannot change its answer: an `=` of the caller's own comes first on the path
/// and says every text equals every other.
#[test]
fn realtime_topic_is_inlined_and_ignores_the_callers_operators() {
    let db = TestDb::new("rt_topic_inlined");
    let mut c = db.admin();
    let plan: Vec<String> = c
        .query("EXPLAIN (VERBOSE, COSTS OFF) SELECT 1 FROM bknd.realtime_messages WHERE topic = bknd.realtime_topic()", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("realtime_topic()") && plan.contains("current_setting('bknd.realtime_topic'"), "{plan}");

    c.batch_execute(
        "CREATE SCHEMA hostile;
         CREATE FUNCTION hostile.always(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
         CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.always);
         SET search_path = hostile, pg_catalog;",
    )
    .unwrap();
    assert!(c.query_one("SELECT 'a'::text = 'b'::text", &[]).unwrap().get::<_, bool>(0), "the hostile = is in use");
    let topic = |c: &mut Client, value: Option<&str>| -> Option<String> {
        let mut t = c.transaction().unwrap();
        if let Some(v) = value {
            t.execute("SELECT pg_catalog.set_config('bknd.realtime_topic', $1, true)", &[&v]).unwrap();
        }
        let topic = t.query_one("SELECT bknd.realtime_topic()", &[]).unwrap().get(0);
        t.rollback().unwrap();
        topic
    };
    assert_eq!(topic(&mut c, Some("room:1")).as_deref(), Some("room:1"));
    assert_eq!(topic(&mut c, Some("")), None);
    assert_eq!(topic(&mut c, None), None);
}
