//! Webhooks: managing endpoints in SQL (who may, bad input, what is logged), the retry schedule,
//! and delivery end to end: receivers verifying signatures with the official `standardwebhooks`
//! packages from npm (tests/e2e/webhooks.test.mjs) and PyPI (tests/e2e/webhook_receiver.py), a
//! sidecar killed mid-send, and two sidecars sharing the work.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use postgres::Client;
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const TABLES: &str = r#"
SELECT bknd.create_table('todos', '[{"name": "title", "type": "text"}, {"name": "body", "type": "text"},
  {"name": "done", "type": "boolean", "default": false}]');
SELECT bknd.allow('todos', 'all', 'authenticated', 'owner');
SELECT bknd.create_table('quiet', '[{"name": "title", "type": "text"}]');
SELECT bknd.configure_auth('{"autoconfirm": true}');
"#;

fn tables(label: &str) -> TestDb {
    let db = TestDb::new(label);
    db.admin().batch_execute(TABLES).unwrap();
    db
}

/// A connection as `role` (through authenticator, as the sidecar's would be).
fn as_role(db: &TestDb, role: &str) -> Client {
    let mut c = db.connect_as("authenticator");
    c.batch_execute(&format!("SET ROLE {role}")).unwrap();
    c
}

fn create(c: &mut Client, name: &str, url: &str, events: &str, options: &str) -> Value {
    json(c, &format!("bknd.create_webhook('{name}', '{url}', '{events}'::text[], '{options}')"))
}

// ---------------------------------------------------------------------------------------------
// managing endpoints

#[test]
fn create_list_update_delete_and_the_secret_is_shown_once() {
    let db = tables("wh_manage");
    let mut svc = as_role(&db, "service_role");
    let made = create(&mut svc, "orders", "https://hooks.example.com/in", "{todos.insert,public.todos.update,user.created}", "{}");
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 44, "{secret}");
    // schema-qualified public tables are stored as the payloads name them
    assert_eq!(made["events"], json!(["todos.insert", "todos.update", "user.created"]));
    assert_eq!((made["format"].as_str(), made["enabled"].as_bool()), (Some("standard"), Some(true)));

    let listed = json(&mut svc, "bknd.list_webhooks()");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(secret) && listed[0].get("secret").is_none(), "{listed}");
    // nobody reads the endpoints' table, not even service_role
    expect_error(&mut svc, "SELECT * FROM bknd.webhooks", "42501");

    let changed = json(
        &mut svc,
        r#"bknd.update_webhook('orders', '{"name": "orders2", "events": ["todos.*"], "format": "supabase", "headers": {"X-Key": "1"}, "enabled": false}')"#,
    );
    assert_eq!(changed["name"], "orders2");
    assert_eq!(changed["events"], json!(["todos.*"]));
    assert_eq!(changed["headers"], json!({"X-Key": "1"}));
    assert_eq!(changed["enabled"], false);
    assert!(changed.get("secret").is_none());

    let rotated = json(&mut svc, "bknd.rotate_webhook_secret('orders2')");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(!rotated["previous_secret_until"].is_null());
    assert!(!json(&mut svc, "bknd.list_webhooks()")[0]["previous_secret_until"].is_null());

    assert_eq!(json(&mut svc, "bknd.delete_webhook('orders2')"), json!(true));
    assert_eq!(json(&mut svc, "bknd.list_webhooks()"), json!([]));
    expect_error(&mut svc, "SELECT bknd.delete_webhook('orders2')", "P0002");
}

#[test]
fn bad_input_gets_a_stable_sqlstate_and_creates_nothing() {
    let db = tables("wh_bad_input");
    let mut svc = as_role(&db, "service_role");
    create(&mut svc, "taken", "https://a.example/x", "{todos.insert}", "{}");
    for (sql, code) in [
        ("SELECT bknd.create_webhook('taken', 'https://a.example/x', '{todos.insert}')", "23505"),
        ("SELECT bknd.create_webhook('bad name!', 'https://a.example/x', '{todos.insert}')", "22023"),
        ("SELECT bknd.create_webhook('', 'https://a.example/x', '{todos.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'ftp://a.example/x', '{todos.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'not a url', '{todos.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://user:pw@a.example/x', '{todos.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x#frag', '{todos.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.upsert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{user.exploded}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{nope.insert}')", "42P01"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{bknd.users.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{a.b.c.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"format\": \"xml\"}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"retries\": 3}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"enabled\": \"yes\"}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"headers\": {\"Bad Name\": \"x\"}}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"headers\": {\"X-A\": \"a\\r\\nb\"}}')", "22023"),
        (
            "SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"headers\": {\"webhook-signature\": \"v1,x\"}}')",
            "22023",
        ),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"headers\": {\"X-A\": 1}}')", "22023"),
        ("SELECT bknd.update_webhook('missing', '{\"enabled\": true}')", "P0002"),
        ("SELECT bknd.update_webhook('taken', '{\"secret\": \"whsec_x\"}')", "22023"),
        ("SELECT bknd.update_webhook('taken', '{\"events\": \"todos.insert\"}')", "22023"),
        ("SELECT bknd.update_webhook('taken', '{\"url\": \"javascript:alert(1)\"}')", "22023"),
        ("SELECT bknd.test_webhook('missing')", "P0002"),
        ("SELECT bknd.resend_webhook_delivery(424242)", "P0002"),
        ("SELECT bknd.webhook_deliveries_of('taken', 'lost')", "22023"),
    ] {
        expect_error(&mut svc, sql, code);
    }
    // views, partitioned tables and tables service_role may not read are not watched
    svc.batch_execute("CREATE VIEW public.todo_titles AS SELECT title FROM public.todos").unwrap();
    let mut admin = db.admin();
    admin
        .batch_execute(
            "CREATE TABLE public.parts (id bigint, at date) PARTITION BY RANGE (at);
             CREATE TABLE public.hidden (id bigint PRIMARY KEY); REVOKE ALL ON public.hidden FROM service_role;",
        )
        .unwrap();
    for (sql, code) in [
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todo_titles.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{parts.insert}')", "22023"),
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{hidden.insert}')", "42501"),
        // a value reqwest could never send would fail every attempt
        ("SELECT bknd.create_webhook('w', 'https://a.example/x', '{todos.insert}', '{\"headers\": {\"X-A\": \"café\"}}')", "22023"),
    ] {
        expect_error(&mut svc, sql, code);
    }
    expect_error(&mut admin, "SELECT bknd.create_webhook('w', 'https://a.example/x', '{hidden.insert}')", "42501");
    // only the first one exists, unchanged
    let listed = json(&mut svc, "bknd.list_webhooks()");
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["url"], "https://a.example/x");
    assert_eq!(listed[0]["events"], json!(["todos.insert"]));
    // a disabled endpoint is not tested
    admin.batch_execute("INSERT INTO todos (title) VALUES ('x')").unwrap();
    json(&mut svc, r#"bknd.update_webhook('taken', '{"enabled": false}')"#);
    expect_error(&mut svc, "SELECT bknd.test_webhook('taken')", "55000");
    expect_error(&mut svc, "SELECT bknd.resend_webhook_delivery((SELECT min(id) FROM bknd.webhook_deliveries))", "55000");
}

/// A column type may have a cast to json: to_jsonb calls it. The capture triggers run as the
/// writer, so such a cast never runs as the extension's owner; and the functions that write
/// the logs refuse to be called except by their triggers.
#[test]
fn capture_runs_as_the_writer_and_the_log_writers_refuse_direct_calls() {
    let db = tables("wh_writer");
    let mut svc = as_role(&db, "service_role");
    svc.batch_execute(
        "CREATE TYPE public.mood AS ENUM ('ok');
         CREATE FUNCTION public.mood_json(public.mood) RETURNS json LANGUAGE sql AS $$ SELECT json_build_object('by', current_user) $$;
         CREATE CAST (public.mood AS json) WITH FUNCTION public.mood_json(public.mood);
         CREATE TABLE public.moods (id bigint PRIMARY KEY, m public.mood);",
    )
    .unwrap();
    let mut admin = db.admin();
    create(&mut admin, "moods", "https://a.example/x", "{moods.insert}", "{}");
    json(&mut admin, "bknd.enable_realtime('moods')");
    svc.batch_execute("INSERT INTO public.moods VALUES (1, 'ok')").unwrap();
    let payload = json(&mut admin, "(SELECT payload FROM bknd.webhook_deliveries)");
    assert_eq!(payload["data"]["record"]["m"], json!({"by": "service_role"}), "{payload}");
    let record = json(&mut admin, "(SELECT record FROM bknd.realtime_changes)");
    assert_eq!(record["m"], json!({"by": "service_role"}), "{record}");
    for role in ["anon", "authenticated", "service_role"] {
        let mut c = as_role(&db, role);
        expect_error(&mut c, "SELECT bknd.webhook_log_change('public.moods'::regclass, 'INSERT', '{\"id\": 2}', NULL)", "42501");
        expect_error(
            &mut c,
            "SELECT bknd.realtime_log_change('public.moods'::regclass, 'INSERT', '{}', NULL, '{\"id\": 2}', NULL)",
            "42501",
        );
    }
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.webhook_deliveries"), 1);
}

#[test]
fn only_service_role_manages_webhooks_and_nobody_writes_the_log() {
    let db = tables("wh_roles");
    let mut admin = db.admin();
    create(&mut admin, "h", "https://a.example/x", "{todos.*}", "{}");
    admin.batch_execute("INSERT INTO todos (title) VALUES ('x')").unwrap();
    for role in ["anon", "authenticated"] {
        let mut c = as_role(&db, role);
        for sql in [
            "SELECT bknd.create_webhook('x', 'https://a.example/x', '{todos.insert}')",
            "SELECT bknd.list_webhooks()",
            "SELECT bknd.update_webhook('h', '{\"enabled\": false}')",
            "SELECT bknd.delete_webhook('h')",
            "SELECT bknd.rotate_webhook_secret('h')",
            "SELECT bknd.test_webhook('h')",
            "SELECT bknd.resend_webhook_delivery(1)",
            "SELECT bknd.webhook_deliveries_of()",
            "SELECT * FROM bknd.webhook_deliveries",
            "SELECT * FROM bknd.webhooks",
            "SELECT bknd.webhook_claim('w', 10, 8, 30)",
        ] {
            expect_error(&mut c, sql, "42501");
        }
    }
    let mut svc = as_role(&db, "service_role");
    assert_eq!(scalar_i64(&mut svc, "SELECT count(*) FROM bknd.webhook_deliveries"), 1);
    for sql in [
        "UPDATE bknd.webhook_deliveries SET status = 'delivered'",
        "DELETE FROM bknd.webhook_deliveries",
        "INSERT INTO bknd.webhook_deliveries (event_id, webhook_id, event_type, payload) SELECT event_id, webhook_id, event_type, payload FROM bknd.webhook_deliveries",
        // the worker's functions are the sidecar's: service_role never sees a signature it could replay
        "SELECT bknd.webhook_claim('w', 10, 8, 30)",
        "SELECT bknd.webhook_result(1, 'w', 200, NULL, 1, NULL)",
        "SELECT bknd.webhook_signature(ARRAY['whsec_AAAA'], 'x')",
    ] {
        expect_error(&mut svc, sql, "42501");
    }
    let log = json(&mut svc, "bknd.webhook_deliveries_of('h')");
    assert_eq!(log[0]["event_type"], "todos.insert");
    assert_eq!(log[0]["status"], "pending");
}

#[test]
fn changes_are_logged_in_their_transaction_only_for_subscribed_tables_and_events() {
    let db = tables("wh_capture");
    let mut admin = db.admin();
    let trigger_on = |c: &mut Client, t: &str| {
        scalar_i64(c, &format!("SELECT count(*) FROM pg_trigger WHERE tgname = 'bknd_webhooks' AND tgrelid = 'public.{t}'::regclass"))
    };
    assert_eq!(trigger_on(&mut admin, "todos"), 0);
    create(&mut admin, "ins", "https://a.example/x", "{todos.insert}", "{}");
    create(&mut admin, "all", "https://a.example/y", "{todos.*}", r#"{"format": "supabase"}"#);
    create(&mut admin, "off", "https://a.example/z", "{todos.*}", r#"{"enabled": false}"#);
    assert_eq!((trigger_on(&mut admin, "todos"), trigger_on(&mut admin, "quiet")), (1, 0));

    // a rolled-back change logs nothing
    admin.batch_execute("BEGIN; INSERT INTO todos (title) VALUES ('gone'); ROLLBACK;").unwrap();
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.webhook_deliveries"), 0);
    admin.batch_execute("INSERT INTO todos (title) VALUES ('a'); UPDATE todos SET done = true; DELETE FROM todos; INSERT INTO quiet (title) VALUES ('q')").unwrap();
    let rows = admin
        .query(
            "SELECT w.name, d.event_type, d.event_id, d.payload::text, d.status FROM bknd.webhook_deliveries d \
             JOIN bknd.webhooks w ON w.id = d.webhook_id ORDER BY d.id",
            &[],
        )
        .unwrap();
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let want = [("ins", "todos.insert"), ("all", "todos.insert"), ("all", "todos.update"), ("all", "todos.delete")];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
    // one event, one id, whichever endpoints it goes to
    assert_eq!(rows[0].get::<_, String>(2), rows[1].get::<_, String>(2));
    assert!(rows[0].get::<_, String>(2).starts_with("msg_"));
    let standard: Value = serde_json::from_str(&rows[0].get::<_, String>(3)).unwrap();
    assert_eq!(standard["type"], "todos.insert");
    assert_eq!(standard["data"]["table"], "todos");
    assert_eq!(standard["data"]["schema"], "public");
    assert_eq!(standard["data"]["record"]["title"], "a");
    assert!(standard["data"]["old_record"].is_null());
    let supabase: Value = serde_json::from_str(&rows[2].get::<_, String>(3)).unwrap();
    assert_eq!(supabase["type"], "UPDATE");
    assert_eq!(supabase["record"]["done"], true);
    assert_eq!(supabase["old_record"]["done"], false);
    let deleted: Value = serde_json::from_str(&rows[3].get::<_, String>(3)).unwrap();
    assert!(deleted["record"].is_null() && deleted["old_record"]["title"] == "a");

    // the trigger goes when no endpoint names the table any more
    json(&mut admin, "bknd.update_webhook('ins', '{\"events\": [\"user.created\"]}')");
    json(&mut admin, "bknd.delete_webhook('all')");
    json(&mut admin, "bknd.delete_webhook('off')");
    assert_eq!(trigger_on(&mut admin, "todos"), 0);
    // (and deleting an endpoint deletes its log)
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.webhook_deliveries"), 1);
}

#[test]
fn user_events_carry_no_secrets_and_big_rows_are_sent_thin() {
    let db = tables("wh_payloads");
    let mut admin = db.admin();
    create(&mut admin, "users", "https://a.example/x", "{user.created,user.updated,user.deleted}", "{}");
    create(&mut admin, "big", "https://a.example/y", "{todos.insert}", "{}");
    let user = json(
        &mut admin,
        r#"bknd.admin_create_user('{"email": "wh@example.com", "password": "correct horse battery", "email_confirm": true}')"#,
    );
    let id = user["id"].as_str().unwrap().to_string();
    admin.batch_execute(&format!("UPDATE bknd.users SET user_metadata = '{{\"nick\": \"w\"}}' WHERE id = '{id}'")).unwrap();
    // what a user is did not change: no event
    admin.batch_execute(&format!("UPDATE bknd.users SET last_sign_in_at = now() WHERE id = '{id}'")).unwrap();
    admin.batch_execute(&format!("DELETE FROM bknd.users WHERE id = '{id}'")).unwrap();
    let hash = "$argon2id$";
    let rows = admin
        .query("SELECT event_type, payload::text FROM bknd.webhook_deliveries WHERE event_type LIKE 'user.%' ORDER BY id", &[])
        .unwrap();
    let types: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(types, ["user.created", "user.updated", "user.deleted"]);
    for r in &rows {
        let text: String = r.get(1);
        assert!(!text.contains(hash) && !text.contains("password") && !text.contains("token"), "{text}");
        let payload: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(payload["data"]["user"]["id"], id.as_str());
        assert_eq!(payload["data"]["user"]["email"], "wh@example.com");
    }

    let big = "x".repeat(300 * 1024);
    let row_id: String = admin.query_one("INSERT INTO todos (title, body) VALUES ('big', $1) RETURNING id::text", &[&big]).unwrap().get(0);
    let payload = json(&mut admin, "(SELECT payload FROM bknd.webhook_deliveries WHERE event_type = 'todos.insert')");
    assert_eq!(payload["data"]["thin"], true);
    assert_eq!(payload["data"]["record"], json!({"id": row_id}));
    assert!(payload.to_string().len() < 4096);
}

#[test]
fn failed_attempts_follow_the_standard_webhooks_schedule_then_die() {
    let db = tables("wh_schedule");
    let mut admin = db.admin();
    create(&mut admin, "h", "https://a.example/x", "{todos.insert}", "{}");
    admin.batch_execute("INSERT INTO todos (title) VALUES ('a')").unwrap();
    // a worker's claim and report, as the sidecar makes them (its connection is not there, so
    // every claim of its is free to take again: this test claims as if it were the sidecar)
    let mut sidecar = db.connect_as("authenticator");
    let expected = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0];
    for (n, seconds) in expected.iter().enumerate() {
        let claimed = json(&mut sidecar, "bknd.webhook_claim('w', 10, 8, 30)");
        assert_eq!(claimed.as_array().unwrap().len(), 1, "attempt {}: {claimed}", n + 1);
        assert_eq!(claimed[0]["attempt"], n + 1);
        let status: String = sidecar
            .query_one("SELECT bknd.webhook_result($1, 'w', 503, NULL, 10, NULL)", &[&claimed[0]["id"].as_i64().unwrap()])
            .unwrap()
            .get(0);
        assert_eq!(status, "failed");
        let delay: f64 =
            admin.query_one("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM bknd.webhook_deliveries", &[]).unwrap().get(0);
        assert!(delay >= seconds * 0.89 && delay <= seconds * 1.11, "after failure {}: {delay} s, want about {seconds}", n + 1);
        // nothing is due before its time
        assert_eq!(json(&mut sidecar, "bknd.webhook_claim('w', 10, 8, 30)"), json!([]));
        admin.batch_execute("UPDATE bknd.webhook_deliveries SET next_attempt_at = now()").unwrap();
    }
    let claimed = json(&mut sidecar, "bknd.webhook_claim('w', 10, 8, 30)");
    let id = claimed[0]["id"].as_i64().unwrap();
    let status: String =
        sidecar.query_one("SELECT bknd.webhook_result($1, 'w', NULL, 'connection refused', 3, NULL)", &[&id]).unwrap().get(0);
    assert_eq!(status, "dead");
    let row = admin.query_one("SELECT attempts, last_error, next_attempt_at IS NULL FROM bknd.webhook_deliveries", &[]).unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, String>(1), row.get::<_, bool>(2)), (8, "connection refused".into(), true));

    // Retry-After wins over the schedule (at most a day); a report from a worker that does not
    // hold the claim changes nothing
    admin.batch_execute("INSERT INTO todos (title) VALUES ('b')").unwrap();
    let claimed = json(&mut sidecar, "bknd.webhook_claim('w', 10, 8, 30)");
    let id = claimed[0]["id"].as_i64().unwrap();
    let status: String = sidecar.query_one("SELECT bknd.webhook_result($1, 'other', 200, NULL, 3, NULL)", &[&id]).unwrap().get(0);
    assert_eq!(status, "pending");
    let status: String = sidecar.query_one("SELECT bknd.webhook_result($1, 'w', 429, NULL, 3, 120)", &[&id]).unwrap().get(0);
    assert_eq!(status, "failed");
    let delay: f64 = admin
        .query_one("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM bknd.webhook_deliveries WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert!((119.0..=121.0).contains(&delay), "{delay}");

    // the log keeps pending work and forgets finished work after the retention
    admin.batch_execute("UPDATE bknd.webhook_deliveries SET created_at = now() - interval '8 days'").unwrap();
    let pruned: i64 = sidecar.query_one("SELECT bknd.webhook_prune(interval '7 days')", &[]).unwrap().get(0);
    assert_eq!(pruned, 1);
    assert_eq!(scalar_string(&mut admin, "SELECT string_agg(status, ',') FROM bknd.webhook_deliveries").as_deref(), Some("failed"));
}

#[test]
fn signatures_match_the_standard_webhooks_reference() {
    let db = TestDb::new("wh_signature");
    let mut admin = db.admin();
    // the example of the Standard Webhooks reference libraries' tests
    let signature = scalar_string(
        &mut admin,
        r#"SELECT bknd.webhook_signature(ARRAY['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}')"#,
    );
    assert_eq!(signature.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    let two =
        scalar_string(&mut admin, "SELECT bknd.webhook_signature(ARRAY['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_AAAA'], 'x')")
            .unwrap();
    assert_eq!(two.split(' ').filter(|s| s.starts_with("v1,")).count(), 2);
}

// ---------------------------------------------------------------------------------------------
// delivery, end to end

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    body: String,
}

/// An HTTP receiver on 127.0.0.1: answers 200, except that it holds the first `hang` requests
/// without ever answering (a receiver that is slow while the sidecar is killed).
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(hang: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let shared = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let got = shared.clone();
                std::thread::spawn(move || serve(stream, &got, hang));
            }
        });
        Receiver { port, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until `n` requests have arrived.
    fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(stream: TcpStream, got: &Mutex<Vec<Received>>, hang: usize) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut headers = HashMap::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let count = {
            let mut got = got.lock().unwrap();
            got.push(Received { id: headers.get("webhook-id").cloned().unwrap_or_default(), body: String::from_utf8_lossy(&body).into() });
            got.len()
        };
        if count <= hang {
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        if writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

fn allow_loopback() -> [&'static str; 2] {
    ["--webhook-allow-hosts", "127.0.0.1"]
}

fn wait_until(within: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ok()
}

#[test]
fn a_sidecar_killed_mid_send_resends_on_restart_with_the_same_webhook_id() {
    let db = tables("wh_killed");
    let mut admin = db.admin();
    let receiver = Receiver::start(1);
    create(&mut admin, "h", &receiver.url(), "{todos.insert}", "{}");
    let first = Sidecar::start(&url("authenticator", &db.name), &allow_loopback());
    admin.batch_execute("INSERT INTO todos (title) VALUES ('once')").unwrap();
    let got = receiver.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "the first send did not arrive");
    drop(first); // killed while the receiver holds the request
    let _second = Sidecar::start(&url("authenticator", &db.name), &allow_loopback());
    let got = receiver.wait_for(2, Duration::from_secs(30));
    assert_eq!(got.len(), 2, "the restarted sidecar did not resend");
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(got[0].body, got[1].body);
    assert!(wait_until(Duration::from_secs(10), || {
        scalar_string(&mut admin, "SELECT status FROM bknd.webhook_deliveries").as_deref() == Some("delivered")
    }));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(receiver.received().len(), 2);
}

#[test]
fn two_sidecars_split_the_work_and_never_both_send_an_event() {
    let db = tables("wh_two");
    let mut admin = db.admin();
    let receiver = Receiver::start(0);
    create(&mut admin, "h", &receiver.url(), "{todos.insert}", "{}");
    let _a = Sidecar::start(&url("authenticator", &db.name), &allow_loopback());
    let _b = Sidecar::start(&url("authenticator", &db.name), &allow_loopback());
    std::thread::sleep(Duration::from_millis(500));
    // many transactions, so both sidecars are woken many times and race for the claims
    for i in 0..150 {
        admin.batch_execute(&format!("INSERT INTO todos (title) VALUES ('t{i}')")).unwrap();
    }
    let got = receiver.wait_for(150, Duration::from_secs(60));
    assert_eq!(got.len(), 150, "not all arrived");
    std::thread::sleep(Duration::from_secs(2));
    let got = receiver.received();
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (150, 150), "an event was delivered twice");
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.webhook_deliveries WHERE status = 'delivered' AND attempts = 1"), 150);
}

/// A receiver that never answers is given up on after 15 seconds, and meanwhile another
/// endpoint's events go on arriving; a redirect is an answer, not a new target.
#[test]
fn a_slow_endpoint_times_out_without_holding_up_another_and_redirects_are_not_followed() {
    let db = tables("wh_slow");
    let mut admin = db.admin();
    let slow = Receiver::start(usize::MAX);
    let quick = Receiver::start(0);
    // answers 307 to the quick receiver: following it would deliver there
    let redirect = TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect_port = redirect.local_addr().unwrap().port();
    let location = quick.url();
    std::thread::spawn(move || {
        for mut stream in redirect.incoming().flatten() {
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let answer = format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    create(&mut admin, "slow", &slow.url(), "{todos.insert}", "{}");
    create(&mut admin, "quick", &quick.url(), "{todos.insert}", "{}");
    create(&mut admin, "moved", &format!("http://127.0.0.1:{redirect_port}/hook"), "{quiet.insert}", "{}");
    let _sidecar = Sidecar::start(&url("authenticator", &db.name), &allow_loopback());
    let started = Instant::now();
    for i in 0..10 {
        admin.batch_execute(&format!("INSERT INTO todos (title) VALUES ('t{i}')")).unwrap();
    }
    admin.batch_execute("INSERT INTO quiet (title) VALUES ('q')").unwrap();
    assert_eq!(quick.wait_for(10, Duration::from_secs(10)).len(), 10, "the quick endpoint waited for the slow one");
    assert!(started.elapsed() < Duration::from_secs(10));
    let status = |c: &mut Client, name: &str| {
        scalar_string(
            c,
            &format!(
                "SELECT d.status || ' ' || coalesce(d.last_status::text, '-') || ' ' || coalesce(d.last_error, '') FROM bknd.webhook_deliveries d \
                 JOIN bknd.webhooks w ON w.id = d.webhook_id WHERE w.name = '{name}' ORDER BY d.id LIMIT 1"
            ),
        )
        .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(10), || status(&mut admin, "moved").starts_with("failed 307")),
        "{}",
        status(&mut admin, "moved")
    );
    assert_eq!(quick.received().len(), 10, "the redirect was followed");
    assert!(
        wait_until(Duration::from_secs(25), || status(&mut admin, "slow").contains("no answer within 15 seconds")),
        "{}",
        status(&mut admin, "slow")
    );
}

/// A name is checked where it is resolved: https://localhost resolves to 127.0.0.1, which this
/// sidecar does not allow, so nothing connects there.
#[test]
fn a_name_that_resolves_to_a_refused_address_is_never_connected() {
    let db = tables("wh_dns");
    let mut admin = db.admin();
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = trap.local_addr().unwrap().port();
    let connections = Arc::new(Mutex::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for _ in trap.incoming() {
            *counted.lock().unwrap() += 1;
        }
    });
    create(&mut admin, "dns", &format!("https://localhost:{port}/hook"), "{todos.insert}", "{}");
    let _sidecar = Sidecar::start(&url("authenticator", &db.name), &["--webhook-allow-hosts", "127.0.0.2"]);
    admin.batch_execute("INSERT INTO todos (title) VALUES ('x')").unwrap();
    let error = || scalar_string(&mut db.admin(), "SELECT max(last_error) FROM bknd.webhook_deliveries WHERE status = 'failed'");
    assert!(wait_until(Duration::from_secs(10), || error().is_some()), "no failed attempt");
    let error = error().unwrap();
    assert!(error.starts_with("refused: localhost is ") && error.contains("a loopback address"), "{error}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(*connections.lock().unwrap(), 0, "the sidecar connected to a refused address");
}

#[test]
fn a_python_receiver_verifies_signatures_with_the_standardwebhooks_package() {
    let db = tables("wh_python");
    let mut admin = db.admin();
    let python = repo().join(".tools/venv/bin/python");
    assert!(python.exists(), "the Python packages are missing: run `make test`");
    let mut child = Command::new(python)
        .arg(repo().join("tests/e2e/webhook_receiver.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port = first.strip_prefix("PORT ").unwrap_or_else(|| panic!("receiver said {first:?}"));
    let made = create(&mut admin, "py", &format!("http://127.0.0.1:{port}/hook"), "{todos.*}", "{}");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", made["secret"].as_str().unwrap()).unwrap();
    stdin.flush().unwrap();
    let _sidecar = Sidecar::start(&url("authenticator", &db.name), &allow_loopback());
    admin.batch_execute("INSERT INTO todos (title) VALUES ('from python''s view')").unwrap();
    admin.batch_execute("UPDATE todos SET done = true").unwrap();
    // (up to 8 go to one endpoint at once, so the two may arrive in either order)
    let mut types = vec![];
    for _ in 0..2 {
        let line = lines.next().expect("the receiver ended").unwrap();
        let report: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(report["verified"], true, "{report}");
        assert_eq!(report["tampered_rejected"], true, "{report}");
        assert!(report["id"].as_str().unwrap().starts_with("msg_"));
        types.push(report["payload"]["type"].as_str().unwrap_or_default().to_string());
    }
    types.sort();
    assert_eq!(types, ["todos.insert", "todos.update"]);
    drop(stdin);
    let _ = child.wait();
}

/// tests/e2e/webhooks.test.mjs: receivers verifying with the npm `standardwebhooks` package,
/// every event kind, both formats, retries, 410, rotation, resend, SSRF refusals.
#[test]
fn the_node_suite_with_the_standardwebhooks_package() {
    let db = tables("wh_node");
    let mut admin = db.admin();
    admin
        .batch_execute(
            "SELECT bknd.create_bucket('files', false);
             SELECT bknd.allow_storage('files', 'all', 'authenticated', 'folder');",
        )
        .unwrap();
    let dir = std::env::temp_dir().join(format!("bknd-wh-{}", std::process::id()));
    let storage = format!("file://{}", dir.display());
    let args = ["--webhook-allow-hosts", "127.0.0.1", "--storage", storage.as_str()];
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &args);
    let e2e = repo().join("tests/e2e");
    assert!(e2e.join("node_modules/standardwebhooks").exists(), "npm packages missing: run `make test`");
    let out = Command::new("node")
        .current_dir(&e2e)
        .args(["--test", "--test-concurrency=1", "webhooks.test.mjs"])
        .env("BKND_URL", &sidecar.base)
        .env("ANON_KEY", db.token(json!({"role": "anon"})))
        .env("SERVICE_KEY", db.token(json!({"role": "service_role"})))
        .env("ADMIN_DATABASE_URL", url("postgres", &db.name))
        .output()
        .expect("node");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "node --test webhooks.test.mjs failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // every test ran (none skipped), and passed
    let count = |what: &str| stdout.lines().find_map(|l| l.strip_prefix(&format!("# {what} "))?.trim().parse::<u32>().ok());
    assert!(count("pass") >= Some(14) && count("fail") == Some(0) && count("skipped") == Some(0), "{stdout}");
}
