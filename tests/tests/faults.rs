//! Faults and load: PostgreSQL restarted, and frozen, under a serving sidecar, clients that hang up in the
//! middle of a request, an upload or a download, a pool exhausted past `--pool-timeout`, and
//! mixed load beyond the pool's size. What a client sees: 503 with `Retry-After` quickly while
//! the database cannot serve it (never a hang, never another 5xx), every surface working again
//! afterwards without a restart of the sidecar, no lost write, nothing left behind.
//!
//! The tests run one at a time (their timings would disturb each other on a small machine).
//! `BKND_LOAD_SECONDS` sets the load test's length (default 20).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bknd_tests::cluster::Cluster;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const PASSWORD: &str = "correct horse battery staple";

/// Tables, policies, a bucket and a slow function, as an app would have them.
const FIXTURE: &str = r#"
SELECT bknd.create_table('notes', '{"body": {"type": "text"}}');
SELECT bknd.allow('notes', 'all', 'authenticated', 'owner');
SELECT bknd.create_table('items', '{"n": {"type": "integer"}, "writer": {"type": "integer"}}');
SELECT bknd.allow('items', 'all', 'authenticated', 'owner');
SELECT bknd.create_bucket('files');
SELECT bknd.allow_storage('files', 'all', 'authenticated', 'folder');
CREATE FUNCTION public.slow(seconds float8) RETURNS text LANGUAGE sql VOLATILE AS 'SELECT pg_sleep(seconds)::text';
SELECT bknd.configure_auth('{"rate_limits": {"sign_in_email_ip": 1000000000, "sign_in_ip": 1000000000, "sign_up_ip": 1000000000}}');
"#;

// ---------------------------------------------------------------------------------------------
// HTTP as a client sees it

#[derive(Debug, Clone)]
struct Answer {
    /// 0: no HTTP answer (connection refused or reset, timed out)
    status: u16,
    retry_after: Option<String>,
    body: String,
    elapsed: Duration,
    /// the transport error, when there was no answer
    error: Option<String>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn is_503_with_retry_after(&self) -> bool {
        self.status == 503 && self.retry_after.as_deref().is_some_and(|v| v.trim().parse::<u64>().is_ok())
    }

    fn show(&self) -> String {
        let body: String = self.body.chars().take(300).collect();
        match &self.error {
            Some(e) => format!("no answer after {} ms: {e}", self.elapsed.as_millis()),
            None => format!(
                "{} after {} ms, Retry-After {:?}, body {body:?}",
                self.status,
                self.elapsed.as_millis(),
                self.retry_after.as_deref().unwrap_or("none")
            ),
        }
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(timeout).redirects(0).build()
}

fn send(agent: &ureq::Agent, method: &str, url: &str, headers: &[(&str, String)], body: Option<&[u8]>) -> Answer {
    let started = Instant::now();
    let mut request = agent.request(method, url);
    for (k, v) in headers {
        request = request.set(k, v);
    }
    let result = match body {
        Some(b) => request.send_bytes(b),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => {
            return Answer { status: 0, retry_after: None, body: String::new(), elapsed: started.elapsed(), error: Some(e.to_string()) }
        }
    };
    let status = response.status();
    let retry_after = response.header("retry-after").map(str::to_string);
    let mut bytes = Vec::new();
    let read = response.into_reader().take(64 * 1024 * 1024).read_to_end(&mut bytes);
    let error = read.err().map(|e| format!("reading the body: {e}"));
    Answer { status, retry_after, body: String::from_utf8_lossy(&bytes).into_owned(), elapsed: started.elapsed(), error }
}

/// A request to try: what it is, method, URL, headers, body.
type Probe<B> = (&'static str, &'static str, String, Vec<(&'static str, String)>, Option<B>);

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

fn json_type() -> (&'static str, String) {
    ("Content-Type", "application/json".to_string())
}

/// A signed-up user: email, id and access token.
#[derive(Clone)]
struct User {
    email: String,
    id: String,
    token: String,
}

fn sign_up(base: &str, email: &str) -> User {
    let a = send(
        &agent(Duration::from_secs(30)),
        "POST",
        &format!("{base}/auth/v1/signup"),
        &[json_type()],
        Some(json!({"email": email, "password": PASSWORD}).to_string().as_bytes()),
    );
    assert_eq!(a.status, 200, "sign up {email}: {}", a.show());
    let v = a.json();
    let token = v["access_token"].as_str().unwrap_or_else(|| panic!("sign up {email} gave no session: {}", a.show())).to_string();
    User { email: email.to_string(), id: v["user"]["id"].as_str().unwrap().to_string(), token }
}

fn sign_in(agent: &ureq::Agent, base: &str, email: &str) -> Answer {
    send(
        agent,
        "POST",
        &format!("{base}/auth/v1/token?grant_type=password"),
        &[json_type()],
        Some(json!({"email": email, "password": PASSWORD}).to_string().as_bytes()),
    )
}

// ---------------------------------------------------------------------------------------------
// MCP over Streamable HTTP, as a client does it: initialize, initialized, tools/call

struct Mcp {
    base: String,
    token: String,
    session: String,
    next_id: AtomicU64,
}

fn mcp_post(base: &str, token: &str, session: Option<&str>, message: &Value, timeout: Duration) -> (Answer, Option<String>, Value) {
    let started = Instant::now();
    let mut request = agent(timeout)
        .post(&format!("{base}/mcp"))
        .set("Content-Type", "application/json")
        .set("Accept", "application/json, text/event-stream")
        .set("Authorization", &format!("Bearer {token}"));
    if let Some(s) = session {
        request = request.set("Mcp-Session-Id", s);
    }
    let response = match request.send_string(&message.to_string()) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => {
            let a = Answer { status: 0, retry_after: None, body: String::new(), elapsed: started.elapsed(), error: Some(e.to_string()) };
            return (a, None, Value::Null);
        }
    };
    let status = response.status();
    let retry_after = response.header("retry-after").map(str::to_string);
    let session = response.header("mcp-session-id").map(str::to_string);
    let body = response.into_string().unwrap_or_default();
    // the answer to a request: a JSON body, or the `data:` line of an event stream carrying its id
    let id = message.get("id").cloned();
    let reply = serde_json::from_str::<Value>(&body).ok().or_else(|| {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| id.is_some() && v.get("id") == id.as_ref())
    });
    let a = Answer { status, retry_after, body, elapsed: started.elapsed(), error: None };
    (a, session, reply.unwrap_or(Value::Null))
}

impl Mcp {
    fn connect(base: &str, token: &str) -> Mcp {
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "bknd-faults", "version": "0"}}});
        let (a, session, reply) = mcp_post(base, token, None, &init, Duration::from_secs(30));
        assert_eq!(a.status, 200, "MCP initialize: {}", a.show());
        assert!(reply["result"]["serverInfo"].is_object(), "MCP initialize: {}", a.show());
        let session = session.unwrap_or_else(|| panic!("MCP initialize gave no Mcp-Session-Id: {}", a.show()));
        let (a, _, _) = mcp_post(
            base,
            token,
            Some(&session),
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            Duration::from_secs(30),
        );
        assert!(a.status == 202 || a.status == 200, "MCP notifications/initialized: {}", a.show());
        Mcp { base: base.to_string(), token: token.to_string(), session, next_id: AtomicU64::new(2) }
    }

    /// tools/call: (the HTTP answer, the tool's result when it succeeded).
    fn call(&self, tool: &str, arguments: Value, timeout: Duration) -> (Answer, Option<Value>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let message = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}});
        let (a, _, reply) = mcp_post(&self.base, &self.token, Some(&self.session), &message, timeout);
        let result = &reply["result"];
        let ok = a.status == 200 && result.is_object() && result["isError"] != json!(true);
        let value = ok.then(|| match &result["structuredContent"]["result"] {
            Value::Null => result["content"][0]["text"].as_str().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null),
            structured => structured.clone(),
        });
        (a, value)
    }
}

// ---------------------------------------------------------------------------------------------
// The storage directory, and what is left in it

struct StorageDir {
    path: PathBuf,
}

impl StorageDir {
    fn new(label: &str) -> StorageDir {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target").join(format!("faults-storage-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        StorageDir { path }
    }

    fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    /// Every file under the directory, as paths relative to it.
    fn files(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path, &self.path, &mut out);
        out
    }

    /// Staging files (`<object>#<digits>`) of uploads in flight or abandoned.
    fn staging(&self) -> Vec<String> {
        self.files().into_iter().filter(|f| f.contains('#')).collect()
    }
}

impl Drop for StorageDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Wait up to `limit` for `done`; whether it became true.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// 1. PostgreSQL restarted while the sidecar serves

/// One request of each kind on every surface, as `user`; what went wrong (empty: all worked).
fn every_surface(base: &str, user: &User, mcp: &Mcp, round: &str) -> Vec<String> {
    let http = agent(Duration::from_secs(15));
    let mut problems = Vec::new();
    let auth = bearer(&user.token);
    let mut check = |what: &str, ok: bool, a: &Answer| {
        if !ok {
            problems.push(format!("{round}: {what}: {}", a.show()));
        }
    };
    // REST write and read
    let a = send(
        &http,
        "POST",
        &format!("{base}/rest/v1/notes"),
        &[auth.clone(), json_type(), ("Prefer", "return=representation".into())],
        Some(json!({"body": round}).to_string().as_bytes()),
    );
    check("REST insert", a.status == 201 && a.json()[0]["body"] == round, &a);
    let a = send(&http, "GET", &format!("{base}/rest/v1/notes?select=body&body=eq.{round}"), std::slice::from_ref(&auth), None);
    check("REST select", a.status == 200 && a.json() == json!([{"body": round}]), &a);
    // auth: sign-in and the signed-in user
    let a = sign_in(&http, base, &user.email);
    check("auth sign-in", a.status == 200 && a.json()["access_token"].is_string(), &a);
    let a = send(&http, "GET", &format!("{base}/auth/v1/user"), std::slice::from_ref(&auth), None);
    check("auth user", a.status == 200 && a.json()["id"] == user.id.as_str(), &a);
    // storage: upload and download
    let object = format!("{base}/storage/v1/object/files/{}/{round}.txt", user.id);
    let content = format!("the bytes of {round}");
    let a = send(&http, "POST", &object, &[auth.clone(), ("Content-Type", "text/plain".into())], Some(content.as_bytes()));
    check("storage upload", a.status == 200, &a);
    let a = send(&http, "GET", &object, std::slice::from_ref(&auth), None);
    check("storage download", a.status == 200 && a.body == content, &a);
    // MCP: a data tool under the user's token
    let (a, result) = mcp.call("select", json!({"table": "notes", "filters": {"body": format!("eq.{round}")}}), Duration::from_secs(15));
    let seen = result.as_ref().is_some_and(|r| r.to_string().contains(round));
    check("MCP tools/call select", seen, &a);
    problems
}

#[test]
fn postgres_restarted_while_the_sidecar_serves() {
    let _serial = serial();
    let cluster = Cluster::start("faults-restart");
    cluster.database_with_extension("app").batch_execute(FIXTURE).unwrap();
    let storage = StorageDir::new("restart");
    let sidecar = Sidecar::start(&cluster.url("authenticator", "app"), &["--pool-timeout", "2", "--storage", &storage.url()]);
    let base = sidecar.base.clone();
    let user = sign_up(&base, "ada@example.com");
    let mcp = Mcp::connect(&base, &user.token);
    let before = every_surface(&base, &user, &mcp, "before");
    assert!(before.is_empty(), "before the restart:\n{}", before.join("\n"));

    // the outage, with a statement running when the database goes away
    let in_flight = {
        let (base, token) = (base.clone(), user.token.clone());
        std::thread::spawn(move || {
            let body = br#"{"seconds": 20}"#;
            let a = send(
                &agent(Duration::from_secs(30)),
                "POST",
                &format!("{base}/rest/v1/rpc/slow"),
                &[bearer(&token), json_type()],
                Some(body),
            );
            (a, Instant::now())
        })
    };
    let sleeping = || {
        let sql = "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'";
        !cluster.connect("postgres", "app").query(sql, &[]).unwrap().is_empty()
    };
    assert!(wait_for(Duration::from_secs(5), sleeping), "the slow statement never ran");
    let stopped = Instant::now();
    cluster.stop();
    let quick = agent(Duration::from_secs(10));
    let bound = Duration::from_secs(5);
    let auth = bearer(&user.token);
    let object = format!("{base}/storage/v1/object/files/{}/before.txt", user.id);
    let outage_requests: Vec<Probe<Vec<u8>>> = vec![
        ("REST select", "GET", format!("{base}/rest/v1/notes?select=body"), vec![auth.clone()], None),
        (
            "REST insert",
            "POST",
            format!("{base}/rest/v1/notes"),
            vec![auth.clone(), json_type()],
            Some(json!({"body": "during"}).to_string().into_bytes()),
        ),
        ("REST rpc", "POST", format!("{base}/rest/v1/rpc/slow"), vec![auth.clone(), json_type()], Some(br#"{"seconds": 0}"#.to_vec())),
        (
            "auth sign-in",
            "POST",
            format!("{base}/auth/v1/token?grant_type=password"),
            vec![json_type()],
            Some(json!({"email": user.email, "password": PASSWORD}).to_string().into_bytes()),
        ),
        ("auth user", "GET", format!("{base}/auth/v1/user"), vec![auth.clone()], None),
        ("storage download", "GET", object.clone(), vec![auth.clone()], None),
        (
            "storage upload",
            "POST",
            format!("{base}/storage/v1/object/files/{}/during.txt", user.id),
            vec![auth.clone(), ("Content-Type", "text/plain".into())],
            Some(b"written during the outage".to_vec()),
        ),
        ("storage list", "POST", format!("{base}/storage/v1/object/list/files"), vec![auth.clone(), json_type()], Some(b"{}".to_vec())),
    ];
    let mut problems = Vec::new();
    for round in 1..=2 {
        for (what, method, url, headers, body) in &outage_requests {
            let a = send(&quick, method, url, headers, body.as_deref());
            let json_body = serde_json::from_str::<Value>(&a.body).is_ok();
            if !(a.is_503_with_retry_after() && a.elapsed < bound && json_body) {
                problems.push(format!(
                    "outage round {round}: {what} {method} {url}: want 503 with Retry-After and a JSON body within {bound:?}, got {}",
                    a.show()
                ));
            }
        }
    }
    let health = send(&quick, "GET", &format!("{base}/health"), &[], None);
    if !(health.status == 503 && health.json()["database"] == "unreachable" && health.elapsed < bound) {
        problems.push(format!("outage: GET /health: want 503 saying the database is unreachable, got {}", health.show()));
    }
    let (a, result) = mcp.call("select", json!({"table": "notes"}), Duration::from_secs(10));
    if result.is_some() || a.elapsed >= bound || a.error.is_some() {
        problems.push(format!(
            "outage: MCP tools/call: want a failure (tool error or 503) within {bound:?}, got {:?} from {}",
            result,
            a.show()
        ));
    }

    let (a, answered) = in_flight.join().unwrap();
    if !(a.is_503_with_retry_after() && answered.duration_since(stopped) < bound) {
        problems.push(format!(
            "outage: a statement running when the database stopped: want 503 with Retry-After within {bound:?} of the stop, got {} ({} ms after the stop)",
            a.show(),
            answered.duration_since(stopped).as_millis()
        ));
    }

    // back again: every surface works, without a restart of the sidecar
    cluster.start_again();
    let restarted = Instant::now();
    let healthy = wait_for(Duration::from_secs(15), || send(&quick, "GET", &format!("{base}/health"), &[], None).status == 200);
    if !healthy {
        let h = send(&quick, "GET", &format!("{base}/health"), &[], None);
        problems.push(format!("after the restart: /health not 200 within 15 s: {}", h.show()));
    } else {
        eprintln!("faults: /health was 200 again {} ms after Postgres accepted connections", restarted.elapsed().as_millis());
    }
    problems.extend(every_surface(&base, &user, &mcp, "after"));
    // a new MCP session works too
    let fresh = Mcp::connect(&base, &user.token);
    let (a, result) = fresh.call("count", json!({"table": "notes"}), Duration::from_secs(15));
    if result.is_none() {
        problems.push(format!("after the restart: MCP count in a new session: {}", a.show()));
    }
    // nothing written during the outage
    let mut admin = cluster.connect("postgres", "app");
    let during = scalar_i64(&mut admin, "SELECT count(*) FROM notes WHERE body = 'during'");
    if during != 0 {
        problems.push(format!("an insert refused during the outage was written ({during} rows)"));
    }
    // a schema change made after the restart reaches REST: LISTEN is back, the cache reloads
    admin
        .batch_execute(
            "SELECT bknd.create_table('after_restart', '{\"title\": {\"type\": \"text\"}}');
             SELECT bknd.allow('after_restart', 'select', 'authenticated');
             INSERT INTO after_restart (title) VALUES ('visible');",
        )
        .unwrap();
    let changed = Instant::now();
    let mut last = None;
    let visible = wait_for(Duration::from_secs(10), || {
        let a = send(&quick, "GET", &format!("{base}/rest/v1/after_restart?select=title"), std::slice::from_ref(&auth), None);
        let ok = a.status == 200 && a.json() == json!([{"title": "visible"}]);
        last = Some(a);
        ok
    });
    if visible {
        eprintln!("faults: a table made after the restart was served {} ms later", changed.elapsed().as_millis());
    } else {
        problems.push(format!("a table made after the restart was not served within 10 s: {}", last.unwrap().show()));
    }
    assert!(problems.is_empty(), "PostgreSQL restart:\n{}", problems.join("\n"));
}

/// The database frozen (its processes stopped: a hung host, a dead network path): its sockets
/// stay open and nothing answers. Requests still end within the pool and statement timeouts,
/// and a write answered 503 ("try again") was not made.
#[test]
fn a_frozen_database_does_not_hang_requests() {
    let _serial = serial();
    let cluster = Cluster::start("faults-freeze");
    cluster.database_with_extension("app").batch_execute(FIXTURE).unwrap();
    let storage = StorageDir::new("freeze");
    let sidecar = Sidecar::start(
        &cluster.url("authenticator", "app"),
        &["--pool-timeout", "2", "--statement-timeout-ms", "2000", "--storage", &storage.url()],
    );
    let base = sidecar.base.clone();
    let user = sign_up(&base, "frozen@example.com");
    let mcp = Mcp::connect(&base, &user.token);
    let before = every_surface(&base, &user, &mcp, "before");
    assert!(before.is_empty(), "before the freeze:\n{}", before.join("\n"));

    let auth = bearer(&user.token);
    let probes: Vec<Probe<Vec<u8>>> = vec![
        ("REST select", "GET", format!("{base}/rest/v1/notes?select=body"), vec![auth.clone()], None),
        ("REST insert", "POST", format!("{base}/rest/v1/notes"), vec![auth.clone(), json_type()], Some(br#"{"body": "frozen"}"#.to_vec())),
        ("auth user", "GET", format!("{base}/auth/v1/user"), vec![auth.clone()], None),
        ("storage download", "GET", format!("{base}/storage/v1/object/files/{}/before.txt", user.id), vec![auth.clone()], None),
        (
            "storage upload",
            "POST",
            format!("{base}/storage/v1/object/files/{}/frozen.txt", user.id),
            vec![auth.clone(), ("Content-Type", "text/plain".into())],
            Some(b"written while frozen".to_vec()),
        ),
        ("health", "GET", format!("{base}/health"), vec![], None),
    ];
    // the pool holds a connection for each probe: each finds its server silent mid-exchange
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (base, token) = (&base, &user.token);
            s.spawn(move || {
                let body = br#"{"seconds": 0.5}"#;
                let a = send(
                    &agent(Duration::from_secs(30)),
                    "POST",
                    &format!("{base}/rest/v1/rpc/slow"),
                    &[bearer(token), json_type()],
                    Some(body),
                );
                assert_eq!(a.status, 200, "warming the pool: {}", a.show());
            });
        }
    });
    cluster.freeze();
    // all at once, as clients come: each may wait for the pool (2 s) and run a statement (2 s)
    let bound = Duration::from_secs(6);
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = probes
            .iter()
            .map(|(_, method, url, headers, body)| {
                s.spawn(move || send(&agent(Duration::from_secs(20)), method, url, headers, body.as_deref()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    cluster.thaw();
    let answer = |name: &str| &answers[probes.iter().position(|p| p.0 == name).unwrap()];
    let mut problems = Vec::new();
    for ((what, method, url, _, _), a) in probes.iter().zip(&answers) {
        eprintln!("faults: frozen: {what}: {}", a.show());
        let refused = a.is_503_with_retry_after() || (a.status == 504 && *what != "health") || (a.status == 503 && *what == "health");
        if !(refused && a.elapsed < bound && serde_json::from_str::<Value>(&a.body).is_ok()) {
            problems.push(format!(
                "frozen: {what} {method} {url}: want 503 with Retry-After (or 504) and a JSON body within {bound:?}, got {}",
                a.show()
            ));
        }
    }
    // thawed: served again without a restart of the sidecar
    let quick = agent(Duration::from_secs(10));
    if !wait_for(Duration::from_secs(10), || send(&quick, "GET", &format!("{base}/health"), &[], None).status == 200) {
        problems.push("after the freeze: /health not 200 within 10 s".to_string());
    }
    problems.extend(every_surface(&base, &user, &mcp, "after"));
    // a write answered 503 (try again) must not have been made: a retry would make it twice
    let mut admin = cluster.connect("postgres", "app");
    let written = scalar_i64(&mut admin, "SELECT count(*) FROM notes WHERE body = 'frozen'");
    if answer("REST insert").status == 503 && written != 0 {
        problems.push(format!("the insert answered 503 while frozen was written ({written} rows)"));
    }
    let stored = scalar_i64(&mut admin, "SELECT count(*) FROM bknd.objects WHERE name LIKE '%/frozen.txt' AND status = 'ready'");
    if answer("storage upload").status == 503 && stored != 0 {
        problems.push("the upload answered 503 while frozen was stored".to_string());
    }
    let pending = scalar_i64(&mut admin, "SELECT count(*) FROM bknd.objects WHERE status = 'pending'");
    if pending != 0 || !storage.staging().is_empty() {
        problems.push(format!("after the freeze: {pending} pending uploads, staging files {:?}", storage.staging()));
    }
    assert!(problems.is_empty(), "frozen database:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// 2. Clients that hang up

/// Connect, send `head` and `body`, and hang up (after reading `read` bytes of the answer).
fn hang_up(base: &str, head: &str, body: &[u8], read: usize) {
    let addr = base.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    // the server may refuse early (and close) before all of it is sent: that is fine
    let _ = tcp.write_all(body);
    let _ = tcp.flush();
    let mut got = 0;
    let mut buf = vec![0u8; 16 * 1024];
    while got < read {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    drop(tcp);
}

/// Backends of `db` running pg_sleep.
fn sleeping(db: &TestDb) -> usize {
    let sql = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'";
    db.admin().query(sql, &[]).unwrap().len()
}

/// Backends of `db` the sidecar holds inside a transaction: (pid, state, seconds in it, query).
fn in_transaction(db: &TestDb) -> Vec<String> {
    let mut admin = db.admin();
    admin
        .query(
            "SELECT format('pid %s %s for %s s: %s', pid, state, round(extract(epoch FROM now() - xact_start)::numeric, 1), left(query, 120))
             FROM pg_stat_activity
             WHERE datname = current_database() AND usename = 'authenticator' AND xact_start IS NOT NULL AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn clients_that_hang_up_leave_no_transaction_no_pending_upload_and_no_staging_file() {
    let _serial = serial();
    let db = TestDb::new("faults_hang_up");
    db.admin().batch_execute(FIXTURE).unwrap();
    db.admin().batch_execute("INSERT INTO notes (body, owner_id) SELECT repeat('x', 200), NULL FROM generate_series(1, 30000)").unwrap();
    let storage = StorageDir::new("hang-up");
    // a small pool: a connection the hang-ups leaked would soon show
    let sidecar =
        Sidecar::start(&url("authenticator", &db.name), &["--pool-size", "2", "--pool-timeout", "2", "--storage", &storage.url()]);
    let base = sidecar.base.clone();
    let addr = base.trim_start_matches("http://").to_string();
    let service = db.token(json!({"role": "service_role"}));
    let user = sign_up(&base, "hangup@example.com");
    let http = agent(Duration::from_secs(30));

    // a 24 MiB object to download
    let big: Vec<u8> = (0..24 * 1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let big_url = format!("{base}/storage/v1/object/files/{}/big.bin", user.id);
    let a = send(&http, "POST", &big_url, &[bearer(&user.token), ("Content-Type", "application/octet-stream".into())], Some(&big));
    assert_eq!(a.status, 200, "upload of the object to download: {}", a.show());

    let request = |method: &str, path: &str, token: &str, content_type: &str, length: usize| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
        )
    };
    // mid-request: a REST insert whose body stops halfway, and one with no body at all
    let insert = json!({"body": "never complete"}).to_string();
    hang_up(&base, &request("POST", "/rest/v1/notes", &user.token, "application/json", insert.len()), &insert.as_bytes()[..10], 0);
    hang_up(&base, &request("POST", "/rest/v1/notes", &user.token, "application/json", 5000), b"", 0);
    // mid-response: a large REST read (service_role sees 30000 rows, ~8 MB), read 16 KiB of it
    hang_up(&base, &request("GET", "/rest/v1/notes?select=*", &service, "application/json", 0), b"", 16 * 1024);
    // mid-upload: a raw body cut at 1 of 6 MiB, and a form cut inside its file part
    let part = vec![9u8; 1024 * 1024];
    hang_up(
        &base,
        &request(
            "POST",
            &format!("/storage/v1/object/files/{}/cut.bin", user.id),
            &user.token,
            "application/octet-stream",
            6 * 1024 * 1024,
        ),
        &part,
        0,
    );
    let mut form = b"--XyZ\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n--XyZ\r\nContent-Disposition: form-data; name=\"\"; filename=\"cut-form.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    form.extend_from_slice(&part);
    hang_up(
        &base,
        &request(
            "POST",
            &format!("/storage/v1/object/files/{}/cut-form.bin", user.id),
            &user.token,
            "multipart/form-data; boundary=XyZ",
            6 * 1024 * 1024,
        ),
        &form,
        0,
    );
    // mid-download: 64 KiB of 24 MiB
    hang_up(&base, &request("GET", &format!("/storage/v1/object/files/{}/big.bin", user.id), &user.token, "text/plain", 0), b"", 64 * 1024);
    // a slow statement whose client goes away while it runs
    let slow = br#"{"seconds": 3}"#;
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.write_all(request("POST", "/rest/v1/rpc/slow", &user.token, "application/json", slow.len()).as_bytes()).unwrap();
    tcp.write_all(slow).unwrap();
    let ran = wait_for(Duration::from_secs(3), || sleeping(&db) > 0);
    assert!(ran, "the slow statement never ran");
    drop(tcp);
    let hung_up = Instant::now();
    let mut problems = Vec::new();
    std::thread::sleep(Duration::from_millis(1000));
    eprintln!("faults: 1 s after its client hung up, {} backend(s) still run the slow statement", sleeping(&db));

    // after a moment (the slow statement's 3 s and 3 s more): nothing left behind
    let mut open = Vec::new();
    let settled = wait_for(Duration::from_secs(6), || {
        open = in_transaction(&db);
        open.is_empty()
            && storage.staging().is_empty()
            && scalar_i64(&mut db.admin(), "SELECT count(*) FROM bknd.objects WHERE status = 'pending'") == 0
    });
    eprintln!("faults: settled {settled} {} ms after the slow statement's client hung up", hung_up.elapsed().as_millis());
    if !open.is_empty() {
        problems.push(format!("backends still in a transaction: {open:?}"));
    }
    let mut admin = db.admin();
    let pending: Vec<String> = admin
        .query("SELECT name || ' ' || status FROM bknd.objects WHERE name <> $1", &[&format!("{}/big.bin", user.id)])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !pending.is_empty() {
        problems.push(format!("object rows left by cut uploads: {pending:?}"));
    }
    let files = storage.files();
    if files.len() != 1 {
        problems.push(format!("the storage directory holds {files:?}, want only the one object's file"));
    }
    let cut_inserts = scalar_i64(&mut admin, "SELECT count(*) FROM notes WHERE body = 'never complete'");
    if cut_inserts != 0 {
        problems.push(format!("a cut-off insert was written ({cut_inserts} rows)"));
    }
    // the pool still serves: more requests in a row than it has connections, each quickly
    let quick = agent(Duration::from_secs(10));
    for i in 0..6 {
        let a = send(&quick, "GET", &format!("{base}/rest/v1/notes?select=body&limit=1"), &[bearer(&user.token)], None);
        if a.status != 200 || a.elapsed > Duration::from_secs(2) {
            problems.push(format!("request {i} after the hang-ups: {}", a.show()));
        }
    }
    // and the object that was half downloaded is whole
    let a = send(&http, "GET", &big_url, &[bearer(&user.token)], None);
    if a.status != 200 || a.body.as_bytes() != big.as_slice() {
        problems.push(format!("the half-downloaded object: {} ({} bytes)", a.status, a.body.len()));
    }
    assert!(problems.is_empty(), "after clients hung up:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// 3. The pool exhausted past --pool-timeout, and mixed load beyond the pool's size

#[test]
fn a_request_that_waits_past_the_pool_timeout_gets_503_with_retry_after() {
    let _serial = serial();
    let db = TestDb::new("faults_pool_timeout");
    db.admin().batch_execute(FIXTURE).unwrap();
    let storage = StorageDir::new("pool-timeout");
    let sidecar =
        Sidecar::start(&url("authenticator", &db.name), &["--pool-size", "2", "--pool-timeout", "1", "--storage", &storage.url()]);
    let base = sidecar.base.clone();
    let user = sign_up(&base, "waiting@example.com");
    // two slow calls hold both connections for 6 s
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let (base, token) = (base.clone(), user.token.clone());
            std::thread::spawn(move || {
                let body = br#"{"seconds": 6}"#;
                send(
                    &agent(Duration::from_secs(30)),
                    "POST",
                    &format!("{base}/rest/v1/rpc/slow"),
                    &[bearer(&token), json_type()],
                    Some(body),
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let quick = agent(Duration::from_secs(10));
    let auth = bearer(&user.token);
    let mut problems = Vec::new();
    let waiting: Vec<Probe<&[u8]>> = vec![
        ("REST select", "GET", format!("{base}/rest/v1/notes"), vec![auth.clone()], None),
        ("REST insert", "POST", format!("{base}/rest/v1/notes"), vec![auth.clone(), json_type()], Some(br#"{"body": "queued"}"#)),
        ("auth user", "GET", format!("{base}/auth/v1/user"), vec![auth.clone()], None),
        ("storage list", "POST", format!("{base}/storage/v1/object/list/files"), vec![auth.clone(), json_type()], Some(b"{}")),
    ];
    for (what, method, url, headers, body) in &waiting {
        let a = send(&quick, method, url, headers, *body);
        // waits its second for a connection, then is told to come back
        if !(a.is_503_with_retry_after() && a.elapsed >= Duration::from_millis(900) && a.elapsed < Duration::from_millis(2500)) {
            problems.push(format!("{what} while the pool is held: want 503 with Retry-After after ~1 s, got {}", a.show()));
        }
    }
    for h in holders {
        let a = h.join().unwrap();
        if a.status != 200 {
            problems.push(format!("a slow call holding the pool: {}", a.show()));
        }
    }
    // free again: served, and the insert refused while queued was not written
    let a = send(&quick, "GET", &format!("{base}/rest/v1/notes"), std::slice::from_ref(&auth), None);
    if a.status != 200 {
        problems.push(format!("REST select once the pool is free: {}", a.show()));
    }
    let queued = scalar_i64(&mut db.admin(), "SELECT count(*) FROM notes WHERE body = 'queued'");
    if queued != 0 {
        problems.push(format!("an insert answered 503 was written ({queued} rows)"));
    }
    assert!(problems.is_empty(), "pool timeout:\n{}", problems.join("\n"));
}

#[derive(Default)]
struct Tally {
    /// successes per kind of request
    ok: std::collections::BTreeMap<&'static str, u64>,
    /// 503 with Retry-After: load shed, allowed
    shed: u64,
    /// anything else: a failure, with the first few kept
    bad: u64,
    bad_samples: Vec<String>,
    inserts: u64,
    uploads: u64,
    latencies_ms: Vec<u64>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        for (k, v) in other.ok {
            *self.ok.entry(k).or_default() += v;
        }
        self.shed += other.shed;
        self.bad += other.bad;
        self.inserts += other.inserts;
        self.uploads += other.uploads;
        self.latencies_ms.extend(other.latencies_ms);
        for s in other.bad_samples {
            if self.bad_samples.len() < 15 {
                self.bad_samples.push(s);
            }
        }
    }

    /// Record `a` of kind `what`, whose success is `expected`; whether it succeeded.
    fn record(&mut self, what: &'static str, a: &Answer, expected: u16) -> bool {
        self.latencies_ms.push(a.elapsed.as_millis() as u64);
        if a.status == expected && a.error.is_none() {
            *self.ok.entry(what).or_default() += 1;
            true
        } else if a.is_503_with_retry_after() {
            self.shed += 1;
            false
        } else {
            self.bad += 1;
            if self.bad_samples.len() < 15 {
                self.bad_samples.push(format!("{what}: {}", a.show()));
            }
            false
        }
    }

    fn percentile(&self, p: f64) -> u64 {
        let mut l = self.latencies_ms.clone();
        l.sort_unstable();
        l.get(((l.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0)
    }
}

/// `clients` threads for `seconds` doing mixed reads, writes, sign-ins, uploads and downloads,
/// while `hogs` more take the pool's connections for 2.5 s every 5 s (slow calls): whoever comes
/// then waits past the pool timeout (2 s).
fn load_phase(base: &str, users: &[User], clients: usize, hogs: usize, seconds: u64, phase: u32) -> Tally {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let hogs: Vec<_> = (0..hogs)
            .map(|h| {
                let token = users[h % users.len()].token.clone();
                s.spawn(move || {
                    let http = agent(Duration::from_secs(30));
                    let mut t = Tally::default();
                    let mut cycle = 0;
                    loop {
                        let at = started + Duration::from_millis(1000 + 5000 * cycle);
                        if at + Duration::from_millis(2500) > deadline {
                            break;
                        }
                        std::thread::sleep(at.saturating_duration_since(Instant::now()));
                        let a = send(
                            &http,
                            "POST",
                            &format!("{base}/rest/v1/rpc/slow"),
                            &[bearer(&token), json_type()],
                            Some(br#"{"seconds": 2.5}"#),
                        );
                        t.record("slow", &a, 200);
                        cycle += 1;
                    }
                    t
                })
            })
            .collect();
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let user = users[c % users.len()].clone();
                s.spawn(move || {
                    let http = agent(Duration::from_secs(30));
                    let mut rng = rand::rngs::StdRng::seed_from_u64(phase as u64 * 1000 + c as u64);
                    let mut t = Tally::default();
                    let auth = bearer(&user.token);
                    let mut uploaded: Vec<(String, String)> = Vec::new();
                    let mut k = 0u64;
                    while Instant::now() < deadline {
                        k += 1;
                        let roll = rng.gen_range(0..100);
                        if roll < 40 {
                            let a = send(
                                &http,
                                "GET",
                                &format!("{base}/rest/v1/items?select=id,n&order=created_at.desc&limit=20"),
                                std::slice::from_ref(&auth),
                                None,
                            );
                            t.record("read", &a, 200);
                        } else if roll < 70 {
                            let body = json!({"n": k, "writer": c}).to_string();
                            let a = send(
                                &http,
                                "POST",
                                &format!("{base}/rest/v1/items"),
                                &[auth.clone(), json_type(), ("Prefer", "return=minimal".into())],
                                Some(body.as_bytes()),
                            );
                            if t.record("insert", &a, 201) {
                                t.inserts += 1;
                            }
                        } else if roll < 75 {
                            let a = sign_in(&http, base, &user.email);
                            t.record("sign-in", &a, 200);
                        } else if roll < 90 || uploaded.is_empty() {
                            let url = format!("{base}/storage/v1/object/files/{}/p{phase}-c{c}-{k}.txt", user.id);
                            let content = format!("phase {phase} client {c} upload {k} ").repeat(16);
                            let a =
                                send(&http, "POST", &url, &[auth.clone(), ("Content-Type", "text/plain".into())], Some(content.as_bytes()));
                            if t.record("upload", &a, 200) {
                                t.uploads += 1;
                                uploaded.push((url, content));
                            }
                        } else {
                            let (url, content) = &uploaded[rng.gen_range(0..uploaded.len())];
                            let a = send(&http, "GET", url, std::slice::from_ref(&auth), None);
                            if t.record("download", &a, 200) && a.body != *content {
                                t.bad += 1;
                                t.bad_samples.push(format!("download of {url} gave other bytes"));
                            }
                        }
                    }
                    t
                })
            })
            .collect();
        handles.into_iter().chain(hogs).map(|h| h.join().unwrap()).collect()
    });
    let mut total = Tally::default();
    for t in tallies {
        total.add(t);
    }
    total
}

#[test]
fn mixed_load_beyond_the_pool_loses_no_write_and_answers_only_success_or_503_with_retry_after() {
    let _serial = serial();
    let seconds: u64 = std::env::var("BKND_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20).max(10);
    let db = TestDb::new("faults_load");
    db.admin().batch_execute(FIXTURE).unwrap();
    let storage = StorageDir::new("load");
    let sidecar =
        Sidecar::start(&url("authenticator", &db.name), &["--pool-size", "4", "--pool-timeout", "2", "--storage", &storage.url()]);
    let pool = 4;
    let base = sidecar.base.clone();
    let users: Vec<User> = (0..8).map(|i| sign_up(&base, &format!("load{i}@example.com"))).collect();
    let clients = 32;

    let first = load_phase(&base, &users, clients, pool, seconds / 2, 1);
    let rss_first = sidecar.peak_rss();
    let second = load_phase(&base, &users, clients, pool, seconds - seconds / 2, 2);
    let rss_second = sidecar.peak_rss();
    let mut all = Tally::default();
    all.add(first);
    all.add(second);
    let mb = |b: u64| b as f64 / 1024.0 / 1024.0;
    eprintln!(
        "faults: load {seconds} s, {clients} clients, pool 4: ok {:?}, 503 with Retry-After {}, other {}, latency p50 {} ms p99 {} ms max {} ms, peak RSS {:.1} MiB then {:.1} MiB",
        all.ok,
        all.shed,
        all.bad,
        all.percentile(0.5),
        all.percentile(0.99),
        all.percentile(1.0),
        mb(rss_first),
        mb(rss_second)
    );

    let mut problems = Vec::new();
    if all.bad > 0 {
        problems.push(format!(
            "{} answers neither the expected success nor 503 with Retry-After, e.g.:\n  {}",
            all.bad,
            all.bad_samples.join("\n  ")
        ));
    }
    // the load was real: every kind of request was served, many times, and the pool was
    // exhausted past its timeout (while the slow calls held it)
    if all.shed == 0 {
        problems.push("no request was answered 503 with Retry-After while the slow calls held the pool".to_string());
    }
    for kind in ["read", "insert", "sign-in", "upload", "download", "slow"] {
        let n = all.ok.get(kind).copied().unwrap_or(0);
        if n < if kind == "slow" { 1 } else { 10 } {
            problems.push(format!("only {n} {kind} requests succeeded"));
        }
    }
    // no lost writes, no writes answered as refused
    let mut admin = db.admin();
    let rows = scalar_i64(&mut admin, "SELECT count(*) FROM items") as u64;
    if rows != all.inserts {
        problems.push(format!("{rows} rows in the table, {} inserts answered 201", all.inserts));
    }
    let ready = scalar_i64(&mut admin, "SELECT count(*) FROM bknd.objects WHERE status = 'ready'") as u64;
    let pending = scalar_i64(&mut admin, "SELECT count(*) FROM bknd.objects WHERE status = 'pending'");
    let files = storage.files();
    if ready != all.uploads || pending != 0 || files.len() as u64 != all.uploads {
        problems.push(format!(
            "{} uploads answered 200; {ready} objects, {pending} pending rows, {} files ({} staging)",
            all.uploads,
            files.len(),
            storage.staging().len()
        ));
    }
    // nobody waited much past the pool timeout
    let max = all.percentile(1.0);
    if max > 10_000 {
        problems.push(format!("the slowest request took {max} ms"));
    }
    // memory flat: the second phase, as long as the first, adds at most a little
    if rss_first == 0 || rss_second > rss_first + rss_first / 10 + 8 * 1024 * 1024 {
        problems.push(format!("peak RSS grew from {:.1} MiB to {:.1} MiB in the second phase", mb(rss_first), mb(rss_second)));
    }
    let open = in_transaction(&db);
    if !open.is_empty() {
        problems.push(format!("after the load, backends in a transaction: {open:?}"));
    }
    assert!(problems.is_empty(), "load:\n{}", problems.join("\n"));
}
