//! The console's API over HTTP (sidecar/src/console): sessions in HttpOnly SameSite=Strict
//! cookies, state changes only from the console's own page, and work that runs as the
//! member's PostgreSQL role, so the database refuses what a member may not do and records who
//! did what. The browser drives the same API in console_browser.rs.

use std::process::Command;
use std::time::Duration;

use bknd_tests::sidecar::{binary, Sidecar};
use bknd_tests::*;
use serde_json::{json, Value};

struct Console {
    sidecar: Sidecar,
    db: TestDb,
}

fn add_member(db: &TestDb, email: &str, role: &str, password: &str) {
    let out = Command::new(binary())
        .args(["members", "add", email, "--role", role, "--password", password, "--database-url", &url("postgres", &db.name)])
        .output()
        .unwrap();
    assert!(out.status.success(), "members add: {}", String::from_utf8_lossy(&out.stderr));
}

fn start(label: &str) -> Console {
    start_with(label, &[])
}

/// An owner, a developer and a viewer, and a sidecar started with `args`.
fn start_with(label: &str, args: &[&str]) -> Console {
    let db = TestDb::new(label);
    add_member(&db, "owner@example.com", "owner", "owner password 1");
    add_member(&db, "dev@example.com", "developer", "developer password 1");
    add_member(&db, "viewer@example.com", "viewer", "viewer password 1");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), args);
    Console { sidecar, db }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A request as the console's page sends it (or not: `headers` replaces the defaults).
fn send(c: &Console, method: &str, path: &str, cookie: Option<&str>, headers: &[(&str, &str)], body: Option<Value>) -> Answer {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).redirects(0).build();
    let mut req = agent.request(method, &c.sidecar.url(path));
    if let Some(session) = cookie {
        req = req.set("cookie", &format!("bknd_console={session}"));
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_string(&b.to_string()),
        None => req.call(),
    };
    answer(method, path, result)
}

/// The answer to a request, whatever its status.
fn answer(method: &str, path: &str, result: Result<ureq::Response, ureq::Error>) -> Answer {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let headers =
        response.headers_names().iter().filter_map(|n| response.header(n).map(|v| (n.to_ascii_lowercase(), v.to_string()))).collect();
    let text = response.into_string().unwrap_or_default();
    Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

const PAGE: [(&str, &str); 2] = [("content-type", "application/json"), ("x-bknd-console", "1")];

/// Signing in to the app (`/auth/v1`, a user's password) with `body` {email, password}.
fn app_sign_in(c: &Console, anon_key: &str, body: Value) -> Answer {
    send(c, "POST", "/auth/v1/token?grant_type=password", None, &[("apikey", anon_key), ("content-type", "application/json")], Some(body))
}

fn post(c: &Console, path: &str, cookie: &str, body: Value) -> Answer {
    send(c, "POST", path, Some(cookie), &PAGE, Some(body))
}

fn sign_in(c: &Console, email: &str, password: &str) -> String {
    let a = send(c, "POST", "/console/api/sign-in", None, &PAGE, Some(json!({"email": email, "password": password})));
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a.header("set-cookie").unwrap().to_string();
    let session = cookie.split(';').next().unwrap().strip_prefix("bknd_console=").unwrap().to_string();
    assert!(!session.is_empty());
    session
}

#[test]
fn members_sign_in_with_a_strict_cookie_and_cross_site_requests_change_nothing() {
    let c = start("console_api_session");
    // never open: the page loads, the API answers nothing without a session
    let root = send(&c, "GET", "/", None, &[], None);
    assert_eq!((root.status, root.header("location")), (307, Some("/console/")));
    let page = send(&c, "GET", "/console/", None, &[("accept-encoding", "gzip")], None);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    assert!(page.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(send(&c, "GET", "/console/tables/notes", None, &[], None).status, 200, "every console path is the app");
    let script = send(&c, "GET", "/console/assets/app.js", None, &[], None);
    assert_eq!((script.status, script.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert_eq!(send(&c, "GET", "/console/assets/../../etc/passwd", None, &[], None).status / 100, 4);
    assert_eq!(send(&c, "GET", "/console/api/session", None, &[], None).status, 401);
    assert_eq!(send(&c, "POST", "/console/api/tools/list_tables", None, &PAGE, Some(json!({}))).status, 401);
    assert_eq!(send(&c, "POST", "/console/api/tools/list_tables", Some("made-up"), &PAGE, Some(json!({}))).status, 401);

    // a wrong password and an unknown member are the same refusal
    for (email, password) in [("owner@example.com", "wrong password"), ("nobody@example.com", "owner password 1")] {
        let a = send(&c, "POST", "/console/api/sign-in", None, &PAGE, Some(json!({"email": email, "password": password})));
        assert_eq!((a.status, a.body["code"].as_str()), (401, Some("invalid_credentials")));
        assert!(a.header("set-cookie").is_none());
    }
    let a =
        send(&c, "POST", "/console/api/sign-in", None, &PAGE, Some(json!({"email": "owner@example.com", "password": "owner password 1"})));
    assert_eq!(a.status, 200);
    assert_eq!(a.body["member"]["role"], "owner");
    let cookie = a.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure over plain http: {cookie}");
    let session = cookie.split(';').next().unwrap().strip_prefix("bknd_console=").unwrap().to_string();
    let me = send(&c, "GET", "/console/api/session", Some(&session), &[], None);
    assert_eq!((me.status, me.body["member"]["email"].as_str()), (200, Some("owner@example.com")));
    assert_eq!(me.header("cache-control"), Some("no-store"));

    // cross-site: a form post, a script elsewhere, a request the browser marks cross-site
    let create = json!({"table": "planted", "columns": {"title": {"type": "text"}}});
    let forms = [
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![("content-type", "text/plain"), ("x-bknd-console", "1")],
        vec![("content-type", "application/json")],
        vec![("content-type", "application/json"), ("x-bknd-console", "1"), ("origin", "https://evil.example")],
        vec![("content-type", "application/json"), ("x-bknd-console", "1"), ("sec-fetch-site", "cross-site")],
    ];
    for headers in &forms {
        let a = send(&c, "POST", "/console/api/tools/create_table", Some(&session), headers, Some(create.clone()));
        assert_eq!((a.status, a.body["code"].as_str()), (403, Some("cross_site")), "{headers:?}");
    }
    let a = send(&c, "POST", "/console/api/sign-out", Some(&session), &[("content-type", "text/plain")], Some(json!({})));
    assert_eq!(a.status, 403, "signing out is a change too");
    assert_eq!(scalar_i64(&mut c.db.admin(), "SELECT count(*) FROM pg_tables WHERE tablename = 'planted'"), 0);

    // malformed bodies are refused plainly
    let a = send(&c, "POST", "/console/api/tools/create_table", Some(&session), &PAGE, None);
    assert_eq!(a.status, 400);
    let agent = ureq::AgentBuilder::new().build();
    let raw = agent
        .post(&c.sidecar.url("/console/api/tools/list_tables"))
        .set("cookie", &format!("bknd_console={session}"))
        .set("content-type", "application/json")
        .set("x-bknd-console", "1")
        .send_string("{not json");
    match raw {
        Err(ureq::Error::Status(400, r)) => assert!(r.into_string().unwrap().contains("not valid JSON")),
        other => panic!("{other:?}"),
    }
    assert_eq!(post(&c, "/console/api/tools/no_such_tool", &session, json!({})).status, 404);

    // signing out ends the session in the database
    let out = post(&c, "/console/api/sign-out", &session, json!({}));
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(send(&c, "GET", "/console/api/session", Some(&session), &[], None).status, 401);
    assert_eq!(post(&c, "/console/api/tools/list_tables", &session, json!({})).status, 401);
}

#[test]
fn the_database_enforces_each_members_role_and_records_who() {
    let c = start("console_api_roles");
    let owner = sign_in(&c, "owner@example.com", "owner password 1");
    let dev = sign_in(&c, "dev@example.com", "developer password 1");
    let viewer = sign_in(&c, "viewer@example.com", "viewer password 1");

    // a developer builds: a table, a column, a policy; the history names the member
    let created = post(
        &c,
        "/console/api/tools/create_table",
        &dev,
        json!({"table": "notes", "columns": {"title": {"type": "text", "required": true}}}),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        post(&c, "/console/api/tools/add_column", &dev, json!({"table": "notes", "column": "body", "spec": {"type": "text"}})).status,
        200
    );
    assert_eq!(
        post(&c, "/console/api/tools/rename_column", &dev, json!({"table": "notes", "column": "body", "new_name": "text"})).status,
        200
    );
    let by: Vec<(String, String)> =
        c.db.admin()
            .query("SELECT by_role, by_sub FROM bknd.schema_history ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(by.len(), 3, "{by:?}");
    assert!(by.iter().all(|(role, sub)| role == "bknd_console_developer" && sub == "console:dev@example.com"), "{by:?}");
    let history = post(&c, "/console/api/tools/schema_history", &viewer, json!({}));
    assert_eq!(history.status, 200, "a viewer reads the history: {}", history.body);

    // rows through the REST API as the member (no RLS for the team, as service_role)
    let insert = send(
        &c,
        "POST",
        "/console/api/rest/notes",
        Some(&dev),
        &[PAGE[0], PAGE[1], ("prefer", "return=representation")],
        Some(json!({"title": "first"})),
    );
    assert_eq!(insert.status, 201, "{}", insert.body);
    let read = send(&c, "GET", "/console/api/rest/notes?select=title", Some(&viewer), &[], None);
    assert_eq!((read.status, read.body.clone()), (200, json!([{"title": "first"}])));

    // a viewer changes nothing, whichever way it asks; the database is what says no
    let refused = post(&c, "/console/api/tools/create_table", &viewer, json!({"table": "viewers", "columns": {"a": {"type": "text"}}}));
    assert_eq!((refused.status, refused.body["code"].as_str()), (403, Some("forbidden")), "{}", refused.body);
    let refused = send(&c, "POST", "/console/api/rest/notes", Some(&viewer), &PAGE, Some(json!({"title": "no"})));
    assert!(refused.status >= 400 && refused.status < 500, "{} {}", refused.status, refused.body);
    let refused = post(&c, "/console/api/tools/execute_sql", &viewer, json!({"query": "DELETE FROM notes", "read_only": false}));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("read-only"), "{}", refused.body);
    let refused = post(&c, "/console/api/tools/execute_sql", &viewer, json!({"query": "SET TRANSACTION READ WRITE", "read_only": false}));
    assert!(refused.status >= 400, "{}", refused.body);
    assert_eq!(scalar_i64(&mut c.db.admin(), "SELECT count(*) FROM notes"), 1);
    assert_eq!(scalar_i64(&mut c.db.admin(), "SELECT count(*) FROM pg_tables WHERE tablename = 'viewers'"), 0);

    // SQL: read-only unless asked; errors say where
    let counted = post(&c, "/console/api/tools/execute_sql", &viewer, json!({"query": "select count(*) as n from notes"}));
    assert_eq!(counted.body["result"]["results"][0]["rows"], json!([{"n": "1"}]), "{}", counted.body);
    let wrong = post(&c, "/console/api/tools/execute_sql", &dev, json!({"query": "select nope from notes"}));
    assert_eq!(wrong.status, 400);
    assert!(wrong.body["message"].as_str().unwrap().contains("at character 8"), "{}", wrong.body);
    let ro = post(&c, "/console/api/tools/execute_sql", &dev, json!({"query": "delete from notes"}));
    assert_eq!(ro.status, 403, "read-only by default: {}", ro.body);
    let rw = post(&c, "/console/api/tools/execute_sql", &dev, json!({"query": "update notes set text = 'x'", "read_only": false}));
    assert_eq!(rw.status, 200, "{}", rw.body);

    // keys: everyone sees the anon key; only admins and owners the service_role key, and only
    // they may sign tokens at all
    let project = send(&c, "GET", "/console/api/project", Some(&dev), &[], None);
    assert_eq!(project.status, 200, "{}", project.body);
    assert!(project.body["anon_key"].as_str().unwrap().starts_with("eyJ"));
    assert_eq!(project.body["can_reveal_service_role_key"], false);
    assert_eq!(post(&c, "/console/api/project/service-role-key", &dev, json!({})).status, 403);
    let signed = post(&c, "/console/api/tools/execute_sql", &dev, json!({"query": "select bknd.jwt_sign('{\"role\":\"service_role\"}')"}));
    assert_eq!(signed.status, 403, "{}", signed.body);
    // the app's users are managed by admins and owners, not developers
    let create_user = json!({"query": "select bknd.admin_create_user('{\"email\": \"made@example.com\", \"password\": \"made password 1\"}')", "read_only": false});
    let refused = post(&c, "/console/api/tools/execute_sql", &dev, create_user.clone());
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("only console admins and owners"), "{}", refused.body);
    let made = post(&c, "/console/api/tools/execute_sql", &owner, create_user);
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(scalar_i64(&mut c.db.admin(), "SELECT count(*) FROM bknd.users WHERE email = 'made@example.com'"), 1);
    let key = post(&c, "/console/api/project/service-role-key", &owner, json!({}));
    assert_eq!(key.status, 200, "{}", key.body);
    let service = key.body["service_role_key"].as_str().unwrap();
    let (status, _) = c.sidecar.get_with_token("/rest/v1/notes", service);
    assert_eq!(status, 200);

    // every change made through the console is recorded with its member; reads and refusals are not
    let audit: Vec<(String, String, Option<String>)> =
        c.db.admin()
            .query("SELECT email, action, target FROM bknd.console_audit ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    let dev_email = "dev@example.com".to_string();
    let owner_email = "owner@example.com".to_string();
    assert_eq!(
        audit,
        vec![
            (dev_email.clone(), "tool:create_table".into(), Some("notes".into())),
            (dev_email.clone(), "tool:add_column".into(), Some("notes".into())),
            (dev_email.clone(), "tool:rename_column".into(), Some("notes".into())),
            (dev_email.clone(), "rest:POST".into(), Some("notes".into())),
            (dev_email, "tool:execute_sql".into(), None),
            (owner_email.clone(), "tool:execute_sql".into(), None),
            (owner_email, "reveal_service_role_key".into(), None),
        ],
    );
    let sql: String =
        c.db.admin()
            .query_one("SELECT detail->>'query' FROM bknd.console_audit WHERE action = 'tool:execute_sql' ORDER BY id LIMIT 1", &[])
            .unwrap()
            .get(0);
    assert_eq!(sql, "update notes set text = 'x'");

    // a console role is only ever taken through a session: a token naming one is refused
    let forged = c.db.token(json!({"role": "bknd_console_owner"}));
    let (status, _) = c.sidecar.get_with_token("/rest/v1/notes", &forged);
    assert_eq!(status, 401);
}

#[test]
fn view_as_shows_what_each_caller_sees_under_rls() {
    let c = start("console_api_view_as");
    let mut admin = c.db.admin();
    let ann: String = admin
        .query_one("SELECT bknd.admin_create_user('{\"email\": \"ann@example.com\", \"password\": \"ann password 1\", \"email_confirm\": true}')->>'id'", &[])
        .unwrap()
        .get(0);
    let bob: String = admin
        .query_one("SELECT bknd.admin_create_user('{\"email\": \"bob@example.com\", \"password\": \"bob password 1\", \"email_confirm\": true}')->>'id'", &[])
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "SELECT bknd.create_table('notes', '{{\"title\": {{\"type\": \"text\"}}}}'); SELECT bknd.allow('notes', 'select', 'authenticated', 'owner');
             INSERT INTO notes (title, owner_id) VALUES ('ann 1', '{ann}'), ('ann 2', '{ann}'), ('bob 1', '{bob}')"
        ))
        .unwrap();
    let viewer = sign_in(&c, "viewer@example.com", "viewer password 1");
    let titles = |view_as: Option<&str>| -> (u16, Value) {
        let mut headers = vec![];
        if let Some(v) = view_as {
            headers.push(("x-bknd-view-as", v));
        }
        let a = send(&c, "GET", "/console/api/rest/notes?select=title&order=title", Some(&viewer), &headers, None);
        (a.status, a.body)
    };
    assert_eq!(titles(None), (200, json!([{"title": "ann 1"}, {"title": "ann 2"}, {"title": "bob 1"}])));
    assert_eq!(titles(Some("anon")).1, json!([]));
    assert_eq!(titles(Some("authenticated")).1, json!([]), "no sub: owner_id = uid() holds for none");
    assert_eq!(titles(Some("user:ann@example.com")).1, json!([{"title": "ann 1"}, {"title": "ann 2"}]));
    assert_eq!(titles(Some("user:BOB@example.com")).1, json!([{"title": "bob 1"}]));
    assert_eq!(titles(Some("user:nobody@example.com")).0 / 100, 4);
    // a role of the app's own, under its policies; never one that bypasses them
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'console_view_editor') THEN \
               CREATE ROLE console_view_editor NOLOGIN; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             GRANT console_view_editor TO authenticator; GRANT USAGE ON SCHEMA public TO console_view_editor;
             GRANT SELECT ON notes TO console_view_editor;
             CREATE POLICY editors_read_ann ON notes FOR SELECT TO console_view_editor USING (title LIKE 'ann%')",
        )
        .unwrap();
    assert_eq!(titles(Some("role:console_view_editor")), (200, json!([{"title": "ann 1"}, {"title": "ann 2"}])));
    for privileged in ["role:service_role", "role:bknd_console_owner", "role:postgres", "role:authenticator", "role:no_such_role"] {
        assert_eq!(titles(Some(privileged)).0 / 100, 4, "{privileged}");
    }
    assert_eq!(titles(Some("role:x;drop")).0, 400);
    assert_eq!(titles(Some("service_role")).0, 400);
    assert_eq!(titles(Some("user:ann@example.com|anon")).0, 400);
    // a view is read-only, even for an owner
    let owner = sign_in(&c, "owner@example.com", "owner password 1");
    let write = send(
        &c,
        "POST",
        "/console/api/rest/notes",
        Some(&owner),
        &[PAGE[0], PAGE[1], ("x-bknd-view-as", "user:ann@example.com")],
        Some(json!({"title": "as ann"})),
    );
    assert!(write.status >= 400 && write.status < 500, "{} {}", write.status, write.body);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM notes"), 3);
}

#[test]
fn snippets_belong_to_their_member() {
    let c = start("console_api_snippets");
    let owner = sign_in(&c, "owner@example.com", "owner password 1");
    let viewer = sign_in(&c, "viewer@example.com", "viewer password 1");
    let saved = post(&c, "/console/api/snippets", &owner, json!({"name": "count", "sql": "select count(*) from notes"}));
    assert_eq!(saved.status, 200, "{}", saved.body);
    let again = post(&c, "/console/api/snippets", &owner, json!({"name": "count", "sql": "select 2"}));
    assert_eq!(again.body["id"], saved.body["id"], "the same name replaces");
    assert_eq!(post(&c, "/console/api/snippets", &viewer, json!({"name": "mine", "sql": "select 1"})).status, 200);
    let list = send(&c, "GET", "/console/api/snippets", Some(&owner), &[], None);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["sql"], "select 2");
    let id = saved.body["id"].as_str().unwrap();
    let theirs = send(&c, "DELETE", &format!("/console/api/snippets/{id}"), Some(&viewer), &PAGE, None);
    assert_eq!(theirs.status, 404, "another member's snippet is not there for them");
    assert_eq!(post(&c, "/console/api/snippets", &owner, json!({"name": "", "sql": "x"})).status, 400);
    let mine = send(&c, "DELETE", &format!("/console/api/snippets/{id}"), Some(&owner), &PAGE, None);
    assert_eq!(mine.status, 204);
    assert_eq!(send(&c, "GET", "/console/api/snippets", Some(&owner), &[], None).body, json!([]));
}

#[test]
fn one_time_links_idle_sessions_and_sign_in_limits_over_http() {
    let c = start("console_api_links");
    // a member without a password gets a one-time link
    let out = Command::new(binary())
        .args(["members", "add", "new@example.com", "--role", "developer", "--database-url", &url("postgres", &c.db.name)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let token = stdout
        .split("/console/set-password#token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link: {stdout}"));
    let refused =
        send(&c, "POST", "/console/api/sign-in", None, &PAGE, Some(json!({"email": "new@example.com", "password": "anything at all"})));
    assert_eq!((refused.status, refused.body["code"].as_str()), (401, Some("invalid_credentials")), "no password yet");

    let set =
        |password: &str| send(&c, "POST", "/console/api/set-password", None, &PAGE, Some(json!({"token": token, "password": password})));
    let weak = set("short");
    assert_eq!((weak.status, weak.body["code"].as_str()), (422, Some("weak_password")), "{}", weak.body);
    let done = set("new member password 1");
    assert_eq!((done.status, done.body["member"]["role"].as_str()), (200, Some("developer")), "{}", done.body);
    let again = set("another password 1");
    assert_eq!((again.status, again.body["code"].as_str()), (400, Some("invalid_link")), "once: {}", again.body);
    let forged =
        send(&c, "POST", "/console/api/set-password", None, &PAGE, Some(json!({"token": "made-up", "password": "another password 1"})));
    assert_eq!(forged.status, 400);
    let cross = send(
        &c,
        "POST",
        "/console/api/set-password",
        None,
        &[("content-type", "text/plain")],
        Some(json!({"token": token, "password": "x"})),
    );
    assert_eq!((cross.status, cross.body["code"].as_str()), (403, Some("cross_site")));

    // a session idle for more than 8 hours is over
    let session = sign_in(&c, "new@example.com", "new member password 1");
    assert_eq!(post(&c, "/console/api/tools/list_tables", &session, json!({})).status, 200);
    c.db.admin().batch_execute("UPDATE bknd.console_sessions SET last_seen_at = now() - interval '9 hours'").unwrap();
    let idle = post(&c, "/console/api/tools/list_tables", &session, json!({}));
    assert_eq!((idle.status, idle.body["code"].as_str()), (401, Some("no_session")), "{}", idle.body);
    assert_eq!(send(&c, "GET", "/console/api/session", Some(&session), &[], None).status, 401);
    let ended = send(&c, "GET", "/console/api/snippets", Some(&session), &[], None);
    assert_eq!((ended.status, ended.body["code"].as_str()), (401, Some("no_session")));

    // ten wrong passwords for one email from one address, then even the right one waits
    for _ in 0..10 {
        let a =
            send(&c, "POST", "/console/api/sign-in", None, &PAGE, Some(json!({"email": "dev@example.com", "password": "wrong password"})));
        assert_eq!(a.status, 401);
    }
    let limited = send(
        &c,
        "POST",
        "/console/api/sign-in",
        None,
        &PAGE,
        Some(json!({"email": "dev@example.com", "password": "developer password 1"})),
    );
    assert_eq!((limited.status, limited.body["code"].as_str()), (429, Some("too_many_attempts")), "{}", limited.body);
    assert!(limited.header("set-cookie").is_none());
    // another member from the same address is not locked out by it
    sign_in(&c, "viewer@example.com", "viewer password 1");
}

#[test]
fn sql_a_member_writes_cannot_take_a_higher_role() {
    let c = start("console_api_escalation");
    let dev = sign_in(&c, "dev@example.com", "developer password 1");
    let viewer = sign_in(&c, "viewer@example.com", "viewer password 1");
    let sql = |session: &str, query: &str| post(&c, "/console/api/tools/execute_sql", session, json!({"query": query, "read_only": false}));

    // a function that switches to the owner's role, called over REST (where role changes are
    // allowed: the login role is a member of every API role), may not read the keys as the owner
    let loads = bknd_tests::conformance::schema_loads(&c.sidecar);
    let made = sql(
        &dev,
        "CREATE FUNCTION public.up() RETURNS text LANGUAGE plpgsql AS $$ BEGIN \
           PERFORM set_config('role', 'bknd_console_owner', true); RETURN bknd.console_api_keys(true)::text; END $$",
    );
    assert_eq!(made.status, 200, "{}", made.body);
    bknd_tests::conformance::wait_for_reload(&c.sidecar, loads);
    let up = send(&c, "POST", "/console/api/rest/rpc/up", Some(&dev), &PAGE, Some(json!({})));
    assert_eq!(up.status / 100, 4, "{} {}", up.status, up.body);
    assert!(up.body.to_string().contains("the role changed after bknd.authenticate"), "{}", up.body);
    assert!(!up.body.to_string().contains("eyJ"), "no key: {}", up.body);

    // nor, back as the login role (RESET ROLE), call what only the sidecar may: an email
    // token for any user would take over that user's account
    let loads = bknd_tests::conformance::schema_loads(&c.sidecar);
    let made = sql(
        &dev,
        "CREATE FUNCTION public.down() RETURNS text LANGUAGE plpgsql AS $$ BEGIN \
           RESET ROLE; RETURN bknd.request_email_token('ann@example.com', 'magiclink', true, NULL, NULL, NULL)::text; END $$",
    );
    assert_eq!(made.status, 200, "{}", made.body);
    bknd_tests::conformance::wait_for_reload(&c.sidecar, loads);
    let down = send(&c, "POST", "/console/api/rest/rpc/down", Some(&dev), &PAGE, Some(json!({})));
    assert_eq!(down.status / 100, 4, "{} {}", down.status, down.body);
    assert!(down.body.to_string().contains("the role changed after bknd.authenticate"), "{}", down.body);

    // a SECURITY DEFINER function handed to service_role still acts for the developer
    assert_eq!(
        sql(&dev, "CREATE FUNCTION public.mint() RETURNS text LANGUAGE sql SECURITY DEFINER AS $$ SELECT bknd.jwt_sign('{\"role\": \"service_role\"}') $$")
            .status,
        200
    );
    assert_eq!(sql(&dev, "ALTER FUNCTION public.mint() OWNER TO service_role").status, 200);
    let minted = sql(&dev, "SELECT public.mint()");
    assert_eq!(minted.status, 403, "{}", minted.body);
    assert!(!minted.body.to_string().contains("eyJ"), "no key: {}", minted.body);

    // app users never hold a role that bypasses RLS for View as to hand out
    let mut admin = c.db.admin();
    let console_user = admin
        .query_one("SELECT bknd.admin_create_user('{\"email\": \"x@example.com\", \"password\": \"x password 1\", \"role\": \"bknd_console_owner\"}')::text", &[])
        .unwrap()
        .get::<_, String>(0);
    assert!(console_user.contains("error") || console_user.contains("422") || console_user.contains("400"), "{console_user}");
    admin
        .batch_execute("SELECT bknd.admin_create_user('{\"email\": \"svc@example.com\", \"password\": \"svc password 1\", \"role\": \"service_role\"}')")
        .unwrap();
    let viewed = send(
        &c,
        "POST",
        "/console/api/tools/execute_sql",
        Some(&viewer),
        &[PAGE[0], PAGE[1], ("x-bknd-view-as", "user:svc@example.com")],
        Some(json!({"query": "select bknd.jwt_sign('{\"role\": \"service_role\"}')"})),
    );
    assert_eq!(viewed.status / 100, 4, "{} {}", viewed.status, viewed.body);
    assert!(!viewed.body.to_string().contains("eyJ"), "no key: {}", viewed.body);
    // a session's token is the console's own: refused on every other surface
    let token = format!("bknd-console:{dev}");
    for path in ["/rest/v1/", "/auth/v1/user", "/storage/v1/bucket"] {
        let (status, body) = c.sidecar.get_with_token(path, &token);
        assert_eq!((status, body["code"].as_str()), (401, Some("console_token")), "{path}: {body}");
    }
    let mcp = send(
        &c,
        "POST",
        "/mcp",
        None,
        &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")],
        Some(json!({})),
    );
    assert_eq!(mcp.status, 401, "{}", mcp.body);
    let query = send(&c, "GET", &format!("/rest/v1/?apikey=bknd-console%3A{dev}"), None, &[], None);
    assert_eq!(query.status, 401, "{}", query.body);

    // a view-as value that is not ASCII text is refused, not ignored
    use std::io::{Read, Write};
    let address = c.sidecar.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let mut request =
        format!("GET /console/api/rest/notes HTTP/1.1\r\nHost: {address}\r\nCookie: bknd_console={viewer}\r\nConnection: close\r\n")
            .into_bytes();
    request.extend_from_slice(b"x-bknd-view-as: user:jos\xe9@example.com\r\n\r\n");
    stream.write_all(&request).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[test]
fn members_may_sign_in_with_totp() {
    let c = start("console_api_totp");
    let owner = sign_in(&c, "owner@example.com", "owner password 1");
    assert_eq!(send(&c, "GET", "/console/api/session", Some(&owner), &[], None).body["member"]["totp"], json!(false));
    // not without a session, nor from another site
    assert_eq!(send(&c, "POST", "/console/api/totp/begin", None, &PAGE, Some(json!({}))).status, 401);
    let cross = send(&c, "POST", "/console/api/totp/begin", Some(&owner), &[("content-type", "text/plain")], Some(json!({})));
    assert_eq!(cross.status, 403);
    let early = post(&c, "/console/api/totp/enable", &owner, json!({"code": "123456"}));
    assert_eq!((early.status, early.body["code"].as_str()), (409, Some("not_started")), "{}", early.body);

    let begun = post(&c, "/console/api/totp/begin", &owner, json!({}));
    assert_eq!(begun.status, 200, "{}", begun.body);
    let secret = begun.body["secret"].as_str().unwrap().to_string();
    assert!(begun.body["uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert!(begun.body["qr_code"].as_str().unwrap().starts_with("<?xml") || begun.body["qr_code"].as_str().unwrap().contains("<svg"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let wrong = if totp::code_at(&secret, now) == "000000" { "111111" } else { "000000" };
    let refused = post(&c, "/console/api/totp/enable", &owner, json!({"code": wrong}));
    assert_eq!((refused.status, refused.body["code"].as_str()), (422, Some("invalid_code")), "{}", refused.body);
    assert_eq!(send(&c, "GET", "/console/api/session", Some(&owner), &[], None).body["member"]["totp"], json!(false));
    let first = totp::code_at(&secret, now);
    let on = post(&c, "/console/api/totp/enable", &owner, json!({"code": first}));
    assert_eq!((on.status, &on.body["member"]["totp"]), (200, &json!(true)), "{}", on.body);
    // a session alone cannot swap the secret for one of its own: off first, with a code
    let again = post(&c, "/console/api/totp/begin", &owner, json!({}));
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("already_enabled")), "{}", again.body);
    let twice = post(&c, "/console/api/totp/enable", &owner, json!({"code": first}));
    assert_eq!(twice.status, 409, "{}", twice.body);

    // signing in now takes a code; the password alone, a wrong code or a used one do not do
    let try_sign_in = |code: Option<&str>| {
        let mut body = json!({"email": "owner@example.com", "password": "owner password 1"});
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        send(&c, "POST", "/console/api/sign-in", None, &PAGE, Some(body))
    };
    let bare = try_sign_in(None);
    assert_eq!((bare.status, bare.body["code"].as_str()), (401, Some("totp_required")), "{}", bare.body);
    assert!(bare.header("set-cookie").is_none());
    let bad = try_sign_in(Some(wrong));
    assert_eq!((bad.status, bad.body["code"].as_str()), (401, Some("invalid_code")));
    let replayed = try_sign_in(Some(&first));
    assert_eq!((replayed.status, replayed.body["code"].as_str()), (401, Some("invalid_code")), "a code works once");
    // a wrong password with a right code is the plain refusal
    let next = totp::code_at(&secret, now + 30);
    let wrong_password = send(
        &c,
        "POST",
        "/console/api/sign-in",
        None,
        &PAGE,
        Some(json!({"email": "owner@example.com", "password": "wrong password", "code": next})),
    );
    assert_eq!(wrong_password.body["code"], "invalid_credentials");
    let signed = try_sign_in(Some(&next));
    assert_eq!(signed.status, 200, "{}", signed.body);
    assert!(signed.header("set-cookie").unwrap().starts_with("bknd_console="));

    // turning it off takes a code too (the clock moves on: forget the last step used)
    c.db.admin().batch_execute("UPDATE bknd.console_members SET totp_last_step = NULL WHERE email = 'owner@example.com'").unwrap();
    let off_refused = post(&c, "/console/api/totp/disable", &owner, json!({"code": wrong}));
    assert_eq!(off_refused.status, 422);
    let off = post(&c, "/console/api/totp/disable", &owner, json!({"code": totp::code_at(&secret, now)}));
    assert_eq!((off.status, &off.body["member"]["totp"]), (200, &json!(false)), "{}", off.body);
    sign_in(&c, "owner@example.com", "owner password 1");

    // recorded with the member; no API role may call the functions, and the secret is no one's to read
    let mut admin = c.db.admin();
    let actions: Vec<String> = admin
        .query("SELECT action FROM bknd.console_audit WHERE action LIKE '%totp' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["enable_totp", "disable_totp"]);
    for role in ["anon", "authenticated", "service_role", "bknd_console_owner"] {
        let e = admin.batch_execute(&format!("SET ROLE {role}; SELECT bknd.console_totp_begin('x')")).unwrap_err();
        assert_eq!(sqlstate(&e), "42501", "{role}");
        admin.batch_execute("RESET ROLE").unwrap();
        let e = admin.batch_execute(&format!("SET ROLE {role}; SELECT totp_secret FROM bknd.console_members")).unwrap_err();
        assert_eq!(sqlstate(&e), "42501", "{role}");
        admin.batch_execute("RESET ROLE").unwrap();
    }
}

#[test]
fn export_streams_every_row_the_caller_may_read() {
    let c = start("console_api_export");
    let mut admin = c.db.admin();
    let ann: String = admin
        .query_one("SELECT bknd.admin_create_user('{\"email\": \"ann@example.com\", \"password\": \"ann password 1\", \"email_confirm\": true}')->>'id'", &[])
        .unwrap()
        .get(0);
    // more rows than three of the export's pages; every third is ann's
    admin
        .batch_execute(&format!(
            "SELECT bknd.create_table('items', '{{\"title\": {{\"type\": \"text\"}}, \"n\": {{\"type\": \"integer\"}}, \"meta\": {{\"type\": \"json\"}}}}');
             SELECT bknd.allow('items', 'select', 'authenticated', 'owner');
             INSERT INTO items (title, n, meta, owner_id)
               SELECT 'item ' || i, i, jsonb_build_object('i', i), CASE WHEN i % 3 = 0 THEN '{ann}'::uuid END FROM generate_series(1, 12345) i;
             INSERT INTO items (title, n) VALUES (E'a \"quoted\", two\\nline title', 0)"
        ))
        .unwrap();
    let viewer = sign_in(&c, "viewer@example.com", "viewer password 1");
    let export = |query: &str| send(&c, "GET", &format!("/console/api/export/items?{query}"), Some(&viewer), &[], None);

    let csv = export("format=csv");
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.header("content-disposition"), Some("attachment; filename=\"items.csv\""));
    let text = csv.body.as_str().unwrap();
    let header = text.split("\r\n").next().unwrap();
    assert!(header.starts_with("id,") && header.contains(",title,") && header.contains(",meta"), "{header}");
    assert!(text.contains("\"a \"\"quoted\"\", two\nline title\""), "quoted as RFC 4180 says");
    assert!(text.contains("\"{\"\"i\"\":7}\""), "JSON as its text");
    assert_eq!(text.matches("\r\n").count(), 1 + 12346, "the header and every row once");

    let json_export = export("format=json");
    assert_eq!(json_export.header("content-type"), Some("application/json"));
    let rows = json_export.body.as_array().unwrap_or_else(|| panic!("a JSON array: {}", json_export.body));
    assert_eq!(rows.len(), 12346);
    let mut ids: Vec<String> = rows.iter().map(|r| r["id"].to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12346, "keyset pages neither repeat nor skip");
    assert!(rows.iter().any(|r| r["meta"] == json!({"i": 6})));

    // the grid's filter, and View as: the same RLS as every surface
    let filtered = export(&format!("format=json&filter={}", "n%3Dlt.100%26title%3Dlike.item*"));
    assert_eq!(filtered.body.as_array().map(Vec::len), Some(99), "{}", filtered.body);
    let as_ann = export("format=json&view_as=user%3Aann%40example.com");
    assert_eq!(as_ann.body.as_array().map(Vec::len), Some(4115));
    assert!(as_ann.body.as_array().unwrap().iter().all(|r| r["owner_id"] == json!(ann)));
    let as_anon = export("format=csv&view_as=anon");
    assert_eq!((as_anon.status, as_anon.body.as_str().unwrap().matches("\r\n").count()), (200, 1), "the header only");
    let empty = export("format=json&filter=n%3Dlt.0");
    assert_eq!(empty.body, json!([]));

    // mistakes are errors before anything streams; nothing else is taken for a filter
    assert_eq!(export("format=csv&probe=1").status, 204);
    for (query, status) in [
        ("format=xml", 400),
        ("format=csv&filter=n%3Dfoo.1&probe=1", 400),
        ("format=csv&filter=limit%3D5", 400),
        ("format=csv&order=n.desc", 400),
        ("format=csv&view_as=service_role", 400),
        ("format=csv&view_as=role%3Aservice_role&probe=1", 403),
    ] {
        let a = export(query);
        assert_eq!(a.status / 100, status / 100, "{query}: {} {}", a.status, a.body);
        assert!(a.body["code"].is_string(), "{query}: {}", a.body);
    }
    assert_eq!(send(&c, "GET", "/console/api/export/items?format=csv", None, &[], None).status, 401);
    let hostile = send(&c, "GET", "/console/api/export/items%22%3B%20drop%20table%20items%3B--?format=csv", Some(&viewer), &[], None);
    assert_eq!(hostile.status, 404, "{}", hostile.body);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM items"), 12346);
    let recorded = scalar_i64(&mut admin, "SELECT count(*) FROM bknd.console_audit WHERE action = 'export' AND target = 'public.items'");
    assert!(recorded >= 6, "exports are recorded: {recorded}");
}

#[test]
fn users_are_listed_by_any_member_and_changed_by_admins_and_owners() {
    let c = start("console_api_users");
    add_member(&c.db, "admin@example.com", "admin", "admin password 1");
    let mut admin = c.db.admin();
    // 120 users, made a microsecond apart so the order is known; ann signs in with a password
    admin
        .batch_execute(
            "INSERT INTO bknd.users (email, created_at, email_confirmed_at) \
             SELECT 'user' || lpad(i::text, 3, '0') || '@example.com', now() - make_interval(secs => 1000 - i), now() \
             FROM generate_series(1, 120) i",
        )
        .unwrap();
    let (owner, dev, viewer) = (
        sign_in(&c, "owner@example.com", "owner password 1"),
        sign_in(&c, "dev@example.com", "developer password 1"),
        sign_in(&c, "viewer@example.com", "viewer password 1"),
    );

    // any member may look: keyset pages, newest first, none twice
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..4 {
        let path = match &after {
            Some(a) => format!("/console/api/users?limit=50&after={}", percent(a)),
            None => "/console/api/users?limit=50".to_string(),
        };
        let page = send(&c, "GET", &path, Some(&viewer), &[], None);
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(page.body["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()));
        match page.body["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
    let first = send(&c, "GET", "/console/api/users?limit=1", Some(&viewer), &[], None);
    assert_eq!(first.body["estimate"], json!(120), "small tables are counted: {}", first.body);
    assert_eq!(seen.first().map(String::as_str), Some("user120@example.com"));
    assert_eq!(seen.last().map(String::as_str), Some("user001@example.com"));
    let search = |q: &str| send(&c, "GET", &format!("/console/api/users?search={}", percent(q)), Some(&viewer), &[], None).body;
    assert_eq!(search("USER11").as_object().unwrap()["users"].as_array().unwrap().len(), 10, "user110..user119, case aside");
    assert_eq!(search("%").as_object().unwrap()["users"].as_array().unwrap().len(), 0, "% is a character, not a wildcard");
    assert_eq!(search("user_0").as_object().unwrap()["users"].as_array().unwrap().len(), 0, "_ too");

    // a viewer and a developer change nothing: the database refuses them
    let anon_key = c.db.token(json!({"role": "anon"}));
    let create =
        |session: &str, email: &str| post(&c, "/console/api/users", session, json!({"email": email, "password": "a user password 1"}));
    for session in [&viewer, &dev] {
        let refused = create(session, "planted@example.com");
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    // an owner adds ann; ann signs in through the auth API
    let made = create(&owner, "ann@example.com");
    assert_eq!(made.status, 200, "{}", made.body);
    let ann = made.body["id"].as_str().unwrap().to_string();
    let sign_in_ann = || app_sign_in(&c, &anon_key, json!({"email": "ann@example.com", "password": "a user password 1"})).status;
    assert_eq!(sign_in_ann(), 200);
    let detail = send(&c, "GET", &format!("/console/api/users/{ann}"), Some(&viewer), &[], None);
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert_eq!(detail.body["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(detail.body["identities"][0]["provider"], "email");
    assert!(detail.body["audit"].as_array().unwrap().iter().any(|a| a["action"] == "login"), "{}", detail.body["audit"]);
    assert!(!detail.body.to_string().contains("password_hash"));

    // a developer cannot ban; an owner can, and then ann cannot sign in until unbanned
    for session in [&viewer, &dev] {
        assert_eq!(post(&c, &format!("/console/api/users/{ann}/ban"), session, json!({})).status, 403);
    }
    assert_eq!(post(&c, &format!("/console/api/users/{ann}/ban"), &owner, json!({})).status, 200);
    assert_ne!(sign_in_ann(), 200, "a banned user is refused");
    assert_eq!(post(&c, &format!("/console/api/users/{ann}/unban"), &owner, json!({})).status, 200);
    assert_eq!(sign_in_ann(), 200);
    let ended = post(&c, &format!("/console/api/users/{ann}/sign-out"), &owner, json!({}));
    assert_eq!((ended.status, &ended.body["sessions_ended"]), (200, &json!(1)), "{}", ended.body);
    let meta = post(&c, &format!("/console/api/users/{ann}/metadata"), &owner, json!({"app_metadata": {"plan": "pro"}}));
    assert_eq!((meta.status, &meta.body["app_metadata"]["plan"]), (200, &json!("pro")), "{}", meta.body);
    assert_eq!(post(&c, &format!("/console/api/users/{ann}/metadata"), &owner, json!({"app_metadata": "x"})).status, 400);
    assert_eq!(post(&c, &format!("/console/api/users/{ann}/explode"), &owner, json!({})).status, 404);

    // an admin deletes ann (a developer may not); then her sign-in fails
    let delete = |session: &str| {
        send(&c, "DELETE", &format!("/console/api/users/{ann}"), Some(session), &[PAGE[0], PAGE[1]], Some(json!({}))).status
    };
    assert_eq!(delete(&dev), 403);
    let admin_session = sign_in(&c, "admin@example.com", "admin password 1");
    assert_eq!(delete(&admin_session), 200);
    assert_ne!(sign_in_ann(), 200);
    assert_eq!(delete(&admin_session), 404);
    assert_eq!(send(&c, "GET", "/console/api/users/not-a-uuid", Some(&viewer), &[], None).status, 404);

    let actions: Vec<String> = admin
        .query("SELECT action FROM bknd.console_audit WHERE action LIKE 'user:%' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["user:create", "user:ban", "user:unban", "user:sign-out", "user:metadata", "user:delete"]);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.users WHERE email = 'planted@example.com'"), 0);
}

#[test]
fn logs_page_newest_first_with_filters_and_the_members_actions_for_admins_and_owners() {
    let c = start("console_api_logs");
    let mut admin = c.db.admin();
    let (owner, dev, viewer) = (
        sign_in(&c, "owner@example.com", "owner password 1"),
        sign_in(&c, "dev@example.com", "developer password 1"),
        sign_in(&c, "viewer@example.com", "viewer password 1"),
    );
    let anon_key = c.db.token(json!({"role": "anon"}));
    let mut user_ids = Vec::new();
    for email in ["ann@example.com", "bob@example.com"] {
        let made = post(&c, "/console/api/users", &owner, json!({"email": email, "password": "a user password 1"}));
        assert_eq!(made.status, 200, "{}", made.body);
        user_ids.push(made.body["id"].as_str().unwrap().to_string());
    }
    for email in ["ann@example.com", "ann@example.com", "bob@example.com"] {
        let body = json!({"email": email, "password": "a user password 1"});
        let signed = app_sign_in(&c, &anon_key, body);
        assert_eq!(signed.status, 200);
    }
    assert_eq!(
        post(&c, "/console/api/tools/create_table", &dev, json!({"table": "notes", "columns": {"t": {"type": "text"}}})).status,
        200
    );
    let logs = |session: &str, query: &str| send(&c, "GET", &format!("/console/api/logs?{query}"), Some(session), &[], None);
    let actions = |a: &Answer| -> Vec<String> {
        a.body["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", a.body))
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };

    // auth events, newest first; by user; by action; pages
    let auth = logs(&viewer, "log=auth");
    assert_eq!(auth.status, 200, "{}", auth.body);
    let ids: Vec<i64> = auth.body["entries"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let ann = logs(&viewer, "log=auth&actor=ANN%40example.com&action=login");
    assert_eq!(actions(&ann), ["login", "login"], "{}", ann.body);
    assert!(ann.body["entries"].as_array().unwrap().iter().all(|e| e["actor"] == "ann@example.com"));
    let by_id = logs(&viewer, &format!("log=auth&actor={}&action=login", user_ids[0].to_uppercase()));
    assert_eq!(actions(&by_id), ["login", "login"], "by the user's id too: {}", by_id.body);
    let first = logs(&viewer, "log=auth&action=login&limit=2");
    assert_eq!(actions(&first).len(), 2);
    let next = first.body["next"].as_i64().expect("a next page");
    let rest = logs(&viewer, &format!("log=auth&action=login&limit=2&before={next}"));
    assert_eq!((actions(&rest).len(), &rest.body["next"]), (1, &Value::Null));
    // a time range: the future holds nothing, nor does the distant past
    assert_eq!(actions(&logs(&viewer, "log=auth&since=2999-01-01T00:00:00Z")).len(), 0);
    assert_eq!(actions(&logs(&viewer, "log=auth&until=2000-01-01")).len(), 0);
    assert_eq!(actions(&logs(&viewer, "log=auth&since=2000-01-01&until=2999-01-01&action=login")).len(), 3);

    // schema changes name the member
    let schema = logs(&viewer, "log=schema&actor=dev%40example.com");
    assert_eq!(schema.body["entries"][0]["target"], "notes", "{}", schema.body);
    assert_eq!(schema.body["entries"][0]["actor"], "console:dev@example.com");

    // webhook deliveries, by webhook
    let hook = json!({"name": "notes-hook", "url": "https://hooks.example.invalid/notes", "events": ["notes.*"]});
    assert_eq!(post(&c, "/console/api/tools/create_webhook", &owner, hook).status, 200);
    let inserted = send(&c, "POST", "/console/api/rest/notes", Some(&dev), &PAGE, Some(json!({"t": "hello"})));
    assert_eq!(inserted.status, 201, "{}", inserted.body);
    let deliveries = logs(&viewer, "log=webhooks&actor=notes-hook");
    assert_eq!(deliveries.status, 200, "{}", deliveries.body);
    let entries = deliveries.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", deliveries.body);
    assert_eq!(
        (entries[0]["action"].as_str(), entries[0]["actor"].as_str()),
        (Some("notes.insert"), Some("notes-hook")),
        "{}",
        deliveries.body
    );
    assert_eq!(actions(&logs(&viewer, "log=webhooks&actor=another-hook")).len(), 0);

    // the members' own actions: admins and owners only, whatever a member asks
    for session in [&viewer, &dev] {
        assert_eq!(logs(session, "log=console").status, 403);
    }
    let console = logs(&owner, "log=console&action=user");
    assert_eq!(actions(&console), ["user:create", "user:create"], "{}", console.body);
    let e =
        admin.batch_execute("SET ROLE service_role; SELECT bknd.console_logs('console')").expect_err("service_role is not a console admin");
    assert_eq!(sqlstate(&e), "42501");
    admin.batch_execute("RESET ROLE").unwrap();

    // mistakes are 400s
    for query in ["log=secrets", "log=auth&since=yesterday", "log=auth&before=x", "log=auth&since=2026-13-45"] {
        let a = logs(&viewer, query);
        assert_eq!(a.status, 400, "{query}: {}", a.body);
    }
    assert_eq!(send(&c, "GET", "/console/api/logs?log=auth", None, &[], None).status, 401);
}

#[test]
fn owners_manage_the_team_and_the_last_owner_stays() {
    let c = start("console_api_team");
    add_member(&c.db, "admin@example.com", "admin", "admin password 1");
    let (owner, admin_session, dev) = (
        sign_in(&c, "owner@example.com", "owner password 1"),
        sign_in(&c, "admin@example.com", "admin password 1"),
        sign_in(&c, "dev@example.com", "developer password 1"),
    );
    // every member sees the team
    let team = send(&c, "GET", "/console/api/members", Some(&dev), &[], None);
    assert_eq!(team.status, 200, "{}", team.body);
    let emails: Vec<&str> = team.body.as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["admin@example.com", "dev@example.com", "owner@example.com", "viewer@example.com"]);
    let id_of = |email: &str| -> String {
        let team = send(&c, "GET", "/console/api/members", Some(&owner), &[], None);
        team.body.as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["id"].as_str().unwrap().to_string()
    };

    // only owners invite, change roles and remove: the database refuses the others
    for session in [&admin_session, &dev] {
        let invite = post(&c, "/console/api/members", session, json!({"email": "eve@example.com", "role": "owner"}));
        assert_eq!(invite.status, 403, "{}", invite.body);
        let promote = post(&c, &format!("/console/api/members/{}/role", id_of("dev@example.com")), session, json!({"role": "owner"}));
        assert_eq!(promote.status, 403, "{}", promote.body);
        let remove =
            send(&c, "DELETE", &format!("/console/api/members/{}", id_of("viewer@example.com")), Some(session), &PAGE, Some(json!({})));
        assert_eq!(remove.status, 403);
    }
    // an invitation: a one-time link that sets the password, then the new member signs in
    let invite = post(&c, "/console/api/members", &owner, json!({"email": "New@Example.com", "role": "developer"}));
    assert_eq!(invite.status, 200, "{}", invite.body);
    assert_eq!(
        (invite.body["member"]["email"].as_str(), invite.body["member"]["has_password"].as_bool()),
        (Some("new@example.com"), Some(false))
    );
    let link = invite.body["link"].as_str().unwrap();
    let token = link.split("/console/set-password#token=").nth(1).unwrap_or_else(|| panic!("{link}"));
    let set =
        send(&c, "POST", "/console/api/set-password", None, &PAGE, Some(json!({"token": token, "password": "new member password 1"})));
    assert_eq!(set.status, 200, "{}", set.body);
    let newcomer = sign_in(&c, "new@example.com", "new member password 1");
    assert_eq!(
        post(&c, "/console/api/members", &owner, json!({"email": "new@example.com", "role": "viewer"})).status,
        409,
        "a member already"
    );
    assert_eq!(post(&c, "/console/api/members", &owner, json!({"email": "x@example.com", "role": "superuser"})).status, 400);
    assert_eq!(post(&c, "/console/api/members", &owner, json!({"email": "not an email", "role": "viewer"})).status, 400);

    // a role change takes effect on the member's next request
    let demoted = post(&c, &format!("/console/api/members/{}/role", id_of("new@example.com")), &owner, json!({"role": "viewer"}));
    assert_eq!((demoted.status, demoted.body["role"].as_str()), (200, Some("viewer")), "{}", demoted.body);
    let write = post(&c, "/console/api/tools/create_table", &newcomer, json!({"table": "t1", "columns": {"a": {"type": "text"}}}));
    assert_eq!(write.status, 403, "a viewer now: {}", write.body);

    // the last owner can be neither demoted nor removed; with a second owner, both can go
    let me = id_of("owner@example.com");
    let last = post(&c, &format!("/console/api/members/{me}/role"), &owner, json!({"role": "admin"}));
    assert_eq!(last.status / 100, 4, "{}", last.body);
    assert!(last.body["message"].as_str().unwrap().contains("last owner"), "{}", last.body);
    let gone = send(&c, "DELETE", &format!("/console/api/members/{me}"), Some(&owner), &PAGE, Some(json!({})));
    assert_eq!(gone.status / 100, 4);
    assert_eq!(
        post(&c, &format!("/console/api/members/{}/role", id_of("admin@example.com")), &owner, json!({"role": "owner"})).status,
        200
    );
    let removed = send(&c, "DELETE", &format!("/console/api/members/{}", id_of("new@example.com")), Some(&owner), &PAGE, Some(json!({})));
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(send(&c, "GET", "/console/api/session", Some(&newcomer), &[], None).status, 401, "a removed member's session ends");
    let unknown = send(&c, "DELETE", "/console/api/members/00000000-0000-0000-0000-000000000000", Some(&owner), &PAGE, Some(json!({})));
    assert_eq!(unknown.status, 404);
    let mut admin = c.db.admin();
    let actions: Vec<String> = admin
        .query("SELECT action FROM bknd.console_audit WHERE action LIKE 'member:%' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["member:invite", "member:role", "member:role", "member:remove"]);
}

#[test]
fn admins_and_owners_change_auth_settings_and_secrets_stay_write_only() {
    let c = start("console_api_auth_settings");
    add_member(&c.db, "admin@example.com", "admin", "admin password 1");
    let (admin_session, dev, viewer) = (
        sign_in(&c, "admin@example.com", "admin password 1"),
        sign_in(&c, "dev@example.com", "developer password 1"),
        sign_in(&c, "viewer@example.com", "viewer password 1"),
    );
    let anon_key = c.db.token(json!({"role": "anon"}));
    let sign_up = |email: &str| {
        send(
            &c,
            "POST",
            "/auth/v1/signup",
            None,
            &[("apikey", &anon_key), ("content-type", "application/json")],
            Some(json!({"email": email, "password": "a user password 1"})),
        )
        .status
    };
    let shown = send(&c, "GET", "/console/api/auth-settings", Some(&viewer), &[], None);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!((&shown.body["autoconfirm"], &shown.body["disable_signup"]), (&json!(true), &json!(false)));
    assert_eq!(sign_up("first@example.com"), 200);

    // viewers and developers change nothing; an admin turns sign-ups off and the API follows
    for session in [&viewer, &dev] {
        assert_eq!(post(&c, "/console/api/auth-settings", session, json!({"disable_signup": true})).status, 403);
        let provider = post(&c, "/console/api/oauth-providers", session, json!({"name": "github", "client_id": "x", "client_secret": "y"}));
        assert_eq!(provider.status, 403);
    }
    let saved =
        post(&c, "/console/api/auth-settings", &admin_session, json!({"disable_signup": true, "rate_limits": {"sign_in_email_ip": 20}}));
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!((&saved.body["disable_signup"], &saved.body["rate_limits"]["sign_in_email_ip"]), (&json!(true), &json!(20)));
    assert_ne!(sign_up("second@example.com"), 200, "sign-ups are off");
    assert_eq!(post(&c, "/console/api/auth-settings", &admin_session, json!({"disable_signup": false})).status, 200);
    assert_eq!(sign_up("third@example.com"), 200);
    for bad in [json!({"site_url": "https://evil.example"}), json!({"autoconfirm": "yes"}), json!({"rate_limits": {"x": -1}})] {
        assert_eq!(post(&c, "/console/api/auth-settings", &admin_session, bad.clone()).status, 400, "{bad}");
    }

    // a provider: the secret is stored, never answered, and kept when left empty
    let github = post(
        &c,
        "/console/api/oauth-providers",
        &admin_session,
        json!({"name": "github", "client_id": "id-1", "client_secret": "s3cret-1"}),
    );
    assert_eq!(github.status, 200, "{}", github.body);
    assert!(!github.body.to_string().contains("s3cret"));
    let edited = post(
        &c,
        "/console/api/oauth-providers",
        &admin_session,
        json!({"name": "github", "client_id": "id-2", "client_secret": "", "enabled": false}),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    let mut admin = c.db.admin();
    assert_eq!(
        scalar_string(&mut admin, "SELECT client_secret || '/' || client_id FROM bknd.oauth_providers WHERE name = 'github'").as_deref(),
        Some("s3cret-1/id-2")
    );
    // pointed at another endpoint, the stored secret is not kept (it would go to that endpoint)
    let moved = post(
        &c,
        "/console/api/oauth-providers",
        &admin_session,
        json!({"name": "github", "client_id": "id-2", "client_secret": "", "kind": "oidc", "issuer": "https://evil.example"}),
    );
    assert_eq!(moved.status, 400, "{}", moved.body);
    assert_eq!(
        scalar_string(&mut admin, "SELECT kind || ' ' || client_secret FROM bknd.oauth_providers WHERE name = 'github'").as_deref(),
        Some("github s3cret-1")
    );
    let listed = send(&c, "GET", "/console/api/auth-settings", Some(&viewer), &[], None);
    assert_eq!(listed.body["oauth_providers"][0]["client_id"], "id-2");
    assert!(!listed.body.to_string().contains("s3cret"), "{}", listed.body);
    let no_secret = post(
        &c,
        "/console/api/oauth-providers",
        &admin_session,
        json!({"name": "okta", "client_id": "x", "issuer": "https://example.okta.com"}),
    );
    assert_eq!(no_secret.status, 400, "a new provider needs its secret: {}", no_secret.body);
    let removed = send(&c, "DELETE", "/console/api/oauth-providers/github", Some(&admin_session), &PAGE, Some(json!({})));
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(send(&c, "DELETE", "/console/api/oauth-providers/github", Some(&admin_session), &PAGE, Some(json!({}))).status, 404);

    // recorded, without the secret
    let audit = scalar_string(
        &mut admin,
        "SELECT string_agg(action || ' ' || detail::text, '; ' ORDER BY id) FROM bknd.console_audit WHERE action LIKE 'settings:%'",
    )
    .unwrap();
    assert!(audit.contains("settings:auth") && audit.contains("settings:oauth_provider") && !audit.contains("s3cret"), "{audit}");
    // and psql's superuser keeps configuring as before; service_role does not
    admin.batch_execute("SELECT bknd.configure_auth('{\"autoconfirm\": false}')").unwrap();
    let e = admin.batch_execute("SET ROLE service_role; SELECT bknd.configure_auth('{\"autoconfirm\": true}')").unwrap_err();
    assert_eq!(sqlstate(&e), "42501");
    admin.batch_execute("RESET ROLE").unwrap();
}

#[test]
fn only_owners_rotate_the_jwt_secret_and_old_keys_stop_working() {
    let c = start("console_api_rotate");
    add_member(&c.db, "admin@example.com", "admin", "admin password 1");
    let (owner, admin_session, dev) = (
        sign_in(&c, "owner@example.com", "owner password 1"),
        sign_in(&c, "admin@example.com", "admin password 1"),
        sign_in(&c, "dev@example.com", "developer password 1"),
    );
    let old_key = send(&c, "GET", "/console/api/project", Some(&owner), &[], None).body["anon_key"].as_str().unwrap().to_string();
    let rest = |key: &str| send(&c, "GET", "/rest/v1/", None, &[("apikey", key), ("authorization", &format!("Bearer {key}"))], None).status;
    assert_eq!(rest(&old_key), 200);
    for session in [&admin_session, &dev] {
        let refused = post(&c, "/console/api/project/rotate-jwt-secret", session, json!({"confirm": "rotate"}));
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    assert_eq!(post(&c, "/console/api/project/rotate-jwt-secret", &owner, json!({})).status, 400, "it must be confirmed");
    assert_eq!(rest(&old_key), 200, "nothing changed yet");
    let rotated = post(&c, "/console/api/project/rotate-jwt-secret", &owner, json!({"confirm": "rotate"}));
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_key = rotated.body["anon_key"].as_str().unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(rest(&old_key), 401, "the old key stops working");
    assert_eq!(rest(new_key), 200);
    assert_eq!(send(&c, "GET", "/console/api/session", Some(&owner), &[], None).status, 200, "console sessions go on");
    let mut admin = c.db.admin();
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.console_audit WHERE action = 'rotate_jwt_secret'"), 1);
}

#[test]
fn home_shows_what_the_app_holds_and_what_happened_today() {
    let c = start_with("console_api_home", &["--request-stats-interval-ms", "200"]);
    let mut admin = c.db.admin();
    admin
        .batch_execute(
            "SELECT bknd.create_table('notes', '{\"title\": {\"type\": \"text\"}}');
             SELECT bknd.create_bucket('files', false, NULL, NULL);
             INSERT INTO bknd.objects (bucket_id, name, status, size) VALUES ('files', 'a.txt', 'ready', 1000), ('files', 'b.txt', 'ready', 24),
               ('files', 'half-way.bin', 'pending', 99999)",
        )
        .unwrap();
    let viewer = sign_in(&c, "viewer@example.com", "viewer password 1");
    let owner = sign_in(&c, "owner@example.com", "owner password 1");
    assert_eq!(post(&c, "/console/api/users", &owner, json!({"email": "ann@example.com", "password": "a user password 1"})).status, 200);
    let anon_key = c.db.token(json!({"role": "anon"}));
    let body = json!({"email": "ann@example.com", "password": "a user password 1"});
    let signed = app_sign_in(&c, &anon_key, body);
    assert_eq!(signed.status, 200);

    let home = send(&c, "GET", "/console/api/overview", Some(&viewer), &[], None);
    assert_eq!(home.status, 200, "{}", home.body);
    assert_eq!((&home.body["tables"], &home.body["users"]), (&json!(1), &json!(1)), "{}", home.body);
    assert_eq!(home.body["files"], json!({"count": 2, "bytes": 1024, "estimated": false}), "pending uploads do not count");
    let sign_ins = home.body["sign_ins"].as_array().unwrap();
    assert_eq!(sign_ins.len(), 24, "one bar per hour");
    assert_eq!(sign_ins.last().unwrap()["count"], json!(1), "{}", home.body["sign_ins"]);
    assert!(home.body["recent_changes"].as_array().unwrap().iter().any(|c| c["operation"] == "create_table" && c["table"] == "notes"));
    assert_eq!(send(&c, "GET", "/console/api/overview", None, &[], None).status, 401);

    // the requests the sidecars answered: this one's, and another's added to the same hour
    let this_hour = |home: &Value| home["requests"].as_array().unwrap().last().unwrap().clone();
    let counted = poll(|| {
        let home = send(&c, "GET", "/console/api/overview", Some(&viewer), &[], None).body;
        (this_hour(&home)["count"].as_i64().unwrap_or(0) >= 5).then_some(home)
    });
    assert_eq!(counted["requests"].as_array().unwrap().len(), 24);
    let before = this_hour(&counted)["count"].as_i64().unwrap();
    let added = "SELECT bknd.record_requests('[{\"surface\": \"rest\", \"requests\": 1000, \"errors\": 7}]')";
    assert_eq!(scalar_i64(&mut admin, added), 1);
    let home = send(&c, "GET", "/console/api/overview", Some(&viewer), &[], None).body;
    let now = this_hour(&home);
    assert!(now["count"].as_i64().unwrap() >= before + 1000, "{now}");
    assert!(now["errors"].as_i64().unwrap() >= 7, "{now}");
    expect_error(&mut admin, "SELECT bknd.record_requests('[{\"surface\": \"x\", \"requests\": 1, \"errors\": 0}]')", "22023");
    expect_error(&mut admin, "SELECT bknd.record_requests('[{\"surface\": \"rest\", \"requests\": 1, \"errors\": 2}]')", "22023");
    let mut api = c.db.connect_as("authenticator");
    api.batch_execute("SET ROLE service_role").unwrap();
    expect_error(&mut api, "SELECT bknd.record_requests('[]')", "42501");
}

/// `check`'s answer once it has one, within 10 s.
fn poll<T>(check: impl Fn() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(answer) = check() {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no answer within 10 s");
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A request with raw bytes for a body (an upload), as the console's page sends it.
fn send_bytes(c: &Console, method: &str, path: &str, session: &str, headers: &[(&str, &str)], bytes: &[u8]) -> Answer {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).redirects(0).build();
    let mut req = agent.request(method, &c.sidecar.url(path)).set("cookie", &format!("bknd_console={session}"));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    answer(method, path, req.send_bytes(bytes))
}

#[test]
fn storage_through_the_console_runs_as_the_member_and_is_recorded() {
    let c = start("console_api_storage");
    let (owner, viewer) = (sign_in(&c, "owner@example.com", "owner password 1"), sign_in(&c, "viewer@example.com", "viewer password 1"));
    let made = post(&c, "/console/api/storage/bucket", &owner, json!({"name": "docs", "public": false, "file_size_limit": 1048576}));
    assert_eq!(made.status, 200, "{}", made.body);
    let refused = post(&c, "/console/api/storage/bucket", &viewer, json!({"name": "viewers"}));
    assert!(refused.status >= 400 && refused.status < 500, "a viewer changes nothing: {} {}", refused.status, refused.body);
    let listed = send(&c, "GET", "/console/api/storage/bucket", Some(&viewer), &[], None);
    assert_eq!(listed.status, 200);
    let names: Vec<&str> = listed.body.as_array().unwrap().iter().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(names, ["docs"], "{}", listed.body);

    // an upload sends the file's bytes, not JSON; it still needs the console's header and origin
    let upload = "/console/api/storage/object/docs/notes/hello%20world.txt";
    let text = [("x-bknd-console", "1"), ("content-type", "text/plain")];
    let cross = send_bytes(&c, "POST", upload, &owner, &[("content-type", "text/plain")], b"forged");
    assert_eq!((cross.status, cross.body["code"].as_str()), (403, Some("cross_site")), "{}", cross.body);
    let other_site = send_bytes(&c, "POST", upload, &owner, &[text[0], text[1], ("origin", "https://evil.example")], b"forged");
    assert_eq!(other_site.status, 403);
    let by_viewer = send_bytes(&c, "POST", upload, &viewer, &text, b"by a viewer");
    assert!(by_viewer.status >= 400 && by_viewer.status < 500, "{} {}", by_viewer.status, by_viewer.body);
    let put = send_bytes(&c, "POST", upload, &owner, &text, b"hello world");
    assert_eq!(put.status, 200, "{}", put.body);
    let got = send(&c, "GET", upload.replace("/object/", "/object/authenticated/").as_str(), Some(&viewer), &[], None);
    assert_eq!((got.status, got.body.as_str()), (200, Some("hello world")), "a viewer reads");
    // an uploaded file never runs script on this origin
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert!(got.header("content-security-policy").is_some_and(|p| p.contains("sandbox") && p.contains("default-src 'none'")));
    let too_big = send_bytes(&c, "POST", "/console/api/storage/object/docs/big.bin", &owner, &text, &vec![7u8; 1048577]);
    assert!(too_big.status == 413 || too_big.status == 400, "the bucket's limit holds: {}", too_big.status);

    // a resumable upload's address points back through the console
    let meta = "bucketName ZG9jcw==,objectName cmVzdW1lZC5iaW4=";
    let tus = [("x-bknd-console", "1"), ("tus-resumable", "1.0.0")];
    let created = send_bytes(
        &c,
        "POST",
        "/console/api/storage/upload/resumable",
        &owner,
        &[tus[0], tus[1], ("upload-length", "10"), ("upload-metadata", meta)],
        b"",
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap().to_string();
    assert!(location.starts_with("/console/api/storage/upload/resumable/"), "{location}");
    let patch = [tus[0], tus[1], ("upload-offset", "0"), ("content-type", "application/offset+octet-stream")];
    // a viewer may not write into (or cancel) someone's pending upload, whose id it can read
    let forged = send_bytes(&c, "PATCH", &location, &viewer, &patch, b"by a viewer");
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(send_bytes(&c, "DELETE", &location, &viewer, &tus, b"").status, 403);
    let patched = send_bytes(&c, "PATCH", &location, &owner, &patch, b"0123456789");
    assert_eq!((patched.status, patched.header("upload-offset")), (204, Some("10")), "{}", patched.body);
    let listed = post(&c, "/console/api/storage/object/list/docs", &viewer, json!({"prefix": ""}));
    let names: Vec<&str> = listed.body.as_array().unwrap().iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["notes", "resumed.bin"], "{}", listed.body);

    // a signed URL works without the console; a move keeps the bytes
    let signed = post(&c, "/console/api/storage/object/sign/docs/notes/hello%20world.txt", &viewer, json!({"expiresIn": 60}));
    assert_eq!(signed.status, 200, "{}", signed.body);
    let fetched = send(&c, "GET", &format!("/storage/v1{}", signed.body["signedURL"].as_str().unwrap()), None, &[], None);
    assert_eq!((fetched.status, fetched.body.as_str()), (200, Some("hello world")));
    let moved = post(
        &c,
        "/console/api/storage/object/move",
        &owner,
        json!({"bucketId": "docs", "sourceKey": "notes/hello world.txt", "destinationKey": "hello.txt"}),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let got = send(&c, "GET", "/console/api/storage/object/authenticated/docs/hello.txt", Some(&owner), &[], None);
    assert_eq!(got.body.as_str(), Some("hello world"));

    // policies from the presets; View as shows what a caller sees under them
    let as_anon = || {
        let listed = send(
            &c,
            "POST",
            "/console/api/storage/object/list/docs",
            Some(&owner),
            &[PAGE[0], PAGE[1], ("x-bknd-view-as", "anon")],
            Some(json!({"prefix": ""})),
        );
        listed.body.as_array().map(Vec::len).unwrap_or(0)
    };
    assert_eq!(as_anon(), 0, "no policy: anon sees nothing");
    let denied =
        post(&c, "/console/api/tools/allow_storage", &viewer, json!({"bucket": "docs", "operations": "select", "to_role": "anon"}));
    assert_eq!(denied.status, 403, "{}", denied.body);
    let allowed =
        post(&c, "/console/api/tools/allow_storage", &owner, json!({"bucket": "docs", "operations": "select", "to_role": "anon"}));
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(as_anon(), 2);
    let policies = post(&c, "/console/api/tools/list_storage_policies", &viewer, json!({"bucket": "docs"}));
    let policies = policies.body["result"].as_array().unwrap().clone();
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!((policies[0]["command"].as_str(), &policies[0]["roles"]), (Some("select"), &json!(["anon"])));
    let name = policies[0]["name"].as_str().unwrap();
    let elsewhere = post(&c, "/console/api/tools/drop_storage_policy", &owner, json!({"bucket": "other", "name": name}));
    assert_ne!(elsewhere.status, 200, "a policy is dropped only through its own bucket");
    let dropped = post(&c, "/console/api/tools/drop_storage_policy", &owner, json!({"bucket": "docs", "name": name}));
    assert_eq!(dropped.status, 200, "{}", dropped.body);
    assert_eq!(as_anon(), 0);

    // emptied and deleted; every change recorded with its member
    assert_eq!(post(&c, "/console/api/storage/bucket/docs/empty", &owner, json!({})).status, 200);
    assert_eq!(send(&c, "DELETE", "/console/api/storage/bucket/docs", Some(&owner), &PAGE, Some(json!({}))).status, 200);
    let mut admin = c.db.admin();
    let recorded = json(
        &mut admin,
        "SELECT jsonb_agg(action || ' ' || target ORDER BY id) FROM bknd.console_audit WHERE action LIKE 'storage:%' AND email = 'owner@example.com'",
    );
    let recorded: Vec<&str> = recorded.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for expected in [
        "storage:POST bucket",
        "storage:POST object/docs/notes/hello%20world.txt",
        "storage:POST upload/resumable",
        "storage:POST object/move",
        "storage:POST bucket/docs/empty",
        "storage:DELETE bucket/docs",
    ] {
        assert!(recorded.contains(&expected), "{expected} in {recorded:?}");
    }
    assert_eq!(
        scalar_i64(&mut admin, "SELECT count(*) FROM bknd.console_audit WHERE action = 'storage:PATCH'"),
        0,
        "chunks are not recorded"
    );
}

#[test]
fn admins_invite_users_by_email_and_send_a_test_email() {
    let db = TestDb::new("console_api_invite");
    add_member(&db, "owner@example.com", "owner", "owner password 1");
    add_member(&db, "dev@example.com", "developer", "developer password 1");
    let sink = bknd_tests::mail::MailSink::start();
    let site = "http://app.example.test";
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &["--smtp-url", &sink.url(), "--site-url", site]);
    let c = Console { sidecar, db };
    let (owner, dev) = (sign_in(&c, "owner@example.com", "owner password 1"), sign_in(&c, "dev@example.com", "developer password 1"));

    // an invitation: a user without a password, mailed a link that signs them in at the app
    let refused = post(&c, "/console/api/users/invite", &dev, json!({"email": "zoe@example.com"}));
    assert_eq!(refused.status, 403, "developers do not manage users: {}", refused.body);
    let mut admin = c.db.admin();
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.users"), 0);
    let invited = post(&c, "/console/api/users/invite", &owner, json!({"email": "zoe@example.com"}));
    assert_eq!(invited.status, 200, "{}", invited.body);
    assert_eq!(invited.body["user"]["email"], json!("zoe@example.com"));
    let mail = sink.nth("zoe@example.com", 1);
    assert!(mail.contains("You have been invited"), "{mail}");
    let at = mail.find("/auth/v1/verify?").expect("a link");
    let link = &mail[at..mail[at..].find(char::is_whitespace).map(|e| at + e).unwrap_or(mail.len())];
    assert!(link.contains("type=recovery") && link.contains(&percent(site)), "{link}");
    let landed = send(&c, "GET", link, None, &[], None);
    assert_eq!(landed.status, 303, "{}", landed.body);
    let to = landed.header("location").unwrap();
    assert!(to.starts_with(site), "{to}");
    let fragment = to.split_once('#').unwrap().1;
    let token = fragment.split('&').find_map(|p| p.strip_prefix("access_token=")).unwrap();
    let anon_key = c.db.token(json!({"role": "anon"}));
    let auth = format!("Bearer {token}");
    let chose = send(
        &c,
        "PUT",
        "/auth/v1/user",
        None,
        &[("apikey", &anon_key), ("authorization", &auth), ("content-type", "application/json")],
        Some(json!({"password": "zoe's own password 1"})),
    );
    assert_eq!(chose.status, 200, "the invited user chooses a password: {}", chose.body);
    let signed = app_sign_in(&c, &anon_key, json!({"email": "zoe@example.com", "password": "zoe's own password 1"}));
    assert_eq!(signed.status, 200, "{}", signed.body);
    let again = post(&c, "/console/api/users/invite", &owner, json!({"email": "zoe@example.com"}));
    assert_eq!(again.status, 422, "an existing user is not invited twice: {}", again.body);

    // a test email through the configured SMTP
    assert_eq!(post(&c, "/console/api/auth-settings/test-email", &dev, json!({"to": "ops@example.com"})).status, 403);
    assert_eq!(post(&c, "/console/api/auth-settings/test-email", &owner, json!({"to": "not an address"})).status, 400);
    let sent = post(&c, "/console/api/auth-settings/test-email", &owner, json!({"to": "ops@example.com"}));
    assert_eq!((sent.status, &sent.body), (200, &json!({"sent": true, "via": "smtp"})));
    assert!(sink.nth("ops@example.com", 1).contains("bknd test email"));
    assert_eq!(sink.to("ops@example.com").len(), 1, "the refused ones sent nothing");
    let recorded = json(&mut admin, "SELECT jsonb_agg(action ORDER BY id) FROM bknd.console_audit WHERE email = 'owner@example.com'");
    assert_eq!(recorded, json!(["user:invite", "auth:test_email"]));
}
