//! Real clients against the sidecar: @supabase/postgrest-js (node) and Python `postgrest`,
//! on a table made with bknd.create_table and policies from bknd.allow, with two users' tokens
//! and anon. The client-side checks live in tests/e2e/.

use std::path::PathBuf;
use std::process::Command;

use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::json;

const USER_A: &str = "aaaaaaaa-1111-4111-8111-000000000001";
const USER_B: &str = "bbbbbbbb-2222-4222-8222-000000000002";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const FIXTURE: &str = r#"
SELECT bknd.create_table('authors', '{"name": {"type": "text", "required": true}}');
SELECT bknd.create_table('notes', '[{"name": "title", "type": "text", "required": true},
  {"name": "body", "type": "text"}, {"name": "rank", "type": "integer", "default": 0},
  {"name": "author_id", "type": "reference", "table": "authors"}]');
SELECT bknd.allow('notes', 'all', 'authenticated', 'owner');
SELECT bknd.allow('notes', 'select', 'anon', 'rank > 100');
SELECT bknd.allow('authors', 'select', 'authenticated');
CREATE FUNCTION public.note_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM public.notes';
CREATE FUNCTION public.titles_like(pattern text) RETURNS SETOF public.notes LANGUAGE sql STABLE
  AS 'SELECT * FROM public.notes WHERE title LIKE pattern';
"#;

// fields drop in order: the sidecar stops before its database is dropped
struct Env {
    sidecar: Sidecar,
    db: TestDb,
    vars: Vec<(String, String)>,
}

fn setup(label: &str) -> Env {
    setup_with(label, &[])
}

fn setup_with(label: &str, args: &[&str]) -> Env {
    let db = TestDb::new(label);
    let mut admin = db.admin();
    admin.batch_execute(FIXTURE).unwrap();
    let author: String = admin.query_one("INSERT INTO authors (name) VALUES ('Ann') RETURNING id::text", &[]).unwrap().get(0);
    let sidecar = Sidecar::start(&url("authenticator", &db.name), args);
    let vars = vec![
        ("BKND_URL".to_string(), sidecar.base.clone()),
        ("TOKEN_A".into(), db.token(json!({"sub": USER_A, "role": "authenticated"}))),
        ("TOKEN_B".into(), db.token(json!({"sub": USER_B, "role": "authenticated"}))),
        ("ANON_KEY".into(), db.token(json!({"role": "anon"}))),
        ("USER_A".into(), USER_A.into()),
        ("USER_B".into(), USER_B.into()),
        ("AUTHOR_ID".into(), author),
    ];
    Env { sidecar, db, vars }
}

fn run(mut cmd: Command, env: &Env, what: &str) {
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e} (run `make test`, which installs it)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    let _ = (&env.db, &env.sidecar);
}

#[test]
fn postgrest_js_against_bknd() {
    let env = setup("e2e_js");
    let dir = repo().join("tests/e2e");
    assert!(dir.join("node_modules/@supabase/postgrest-js").exists(), "npm packages missing: run `make test`");
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).args(["--test", "--test-concurrency=1", "postgrest_js.test.mjs"]);
    run(cmd, &env, "node --test postgrest_js.test.mjs");
}

#[test]
fn supabase_js_auth_then_rest() {
    let env = setup("e2e_auth");
    let dir = repo().join("tests/e2e");
    assert!(dir.join("node_modules/@supabase/supabase-js").exists(), "npm packages missing: run `make test`");
    let mut env = env;
    env.vars.push(("SERVICE_KEY".into(), env.db.token(json!({"role": "service_role"}))));
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).args(["--test", "--test-concurrency=1", "auth_js.test.mjs"]);
    run(cmd, &env, "node --test auth_js.test.mjs");
}

#[test]
fn python_postgrest_against_bknd() {
    let env = setup("e2e_py");
    let python = repo().join(".tools/venv/bin/python");
    assert!(python.exists(), "python venv missing: run `make test`");
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/e2e/test_postgrest_py.py"));
    run(cmd, &env, "python test_postgrest_py.py");
}

/// A helper server the test runs on 127.0.0.1 (a Python script from the venv), stopped on drop.
struct Helper {
    child: std::process::Child,
    port: u16,
}

impl Helper {
    /// Start `python ARGS...` with `{port}` in the arguments replaced by a free port; wait until
    /// it listens.
    fn start(what: &str, args: &[&str]) -> Helper {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let args: Vec<String> = args.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        let child = Command::new(repo().join(".tools/venv/bin/python"))
            .args(&args)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e} (run `make test`, which installs it)"));
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Helper { child, port }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real SMTP server on 127.0.0.1 (aiosmtpd), storing what it receives in a Maildir.
struct SmtpSink {
    server: Helper,
    dir: PathBuf,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let dir = std::env::temp_dir().join(format!("bknd-mail-{}-{}", std::process::id(), rand_suffix()));
        let dir_arg = dir.to_string_lossy().into_owned();
        let server =
            Helper::start("aiosmtpd", &["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox", &dir_arg]);
        SmtpSink { server, dir }
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn supabase_js_email_codes_magic_links_and_recovery() {
    let smtp = SmtpSink::start();
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.server.port);
    let mut env = setup_with(
        "e2e_email",
        &["--smtp-url", &smtp_url, "--site-url", "http://app.example.test", "--redirect-allow", "http://app.example.test/"],
    );
    env.vars.push(("MAIL_DIR".into(), smtp.dir.to_string_lossy().into_owned()));
    let dir = repo().join("tests/e2e");
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).args(["--test", "--test-concurrency=1", "email_js.test.mjs"]);
    run(cmd, &env, "node --test email_js.test.mjs");
}

#[test]
fn supabase_js_sign_in_with_oauth_and_oidc() {
    let script = repo().join("tests/e2e/oauth_provider.py").to_string_lossy().into_owned();
    let provider = Helper::start("the OAuth provider", &[&script, "{port}", "bknd-client", "provider-secret"]);
    let provider_url = format!("http://127.0.0.1:{}", provider.port);
    let mut env = setup_with("e2e_oauth", &["--site-url", "http://app.example.test", "--redirect-allow", "http://app.example.test/"]);
    let mut admin = env.db.admin();
    admin
        .execute("SELECT bknd.configure_oauth_provider('acme', 'bknd-client', 'provider-secret', issuer => $1)", &[&provider_url])
        .unwrap();
    admin
        .execute(
            "SELECT bknd.configure_oauth_provider('github', 'bknd-client', 'provider-secret', \
               authorize_url => $1 || '/login/oauth/authorize', token_url => $1 || '/login/oauth/access_token', userinfo_url => $1 || '/user')",
            &[&provider_url],
        )
        .unwrap();
    env.vars.push(("PROVIDER_URL".into(), provider_url));
    env.vars.push(("APP_URL".into(), "http://app.example.test".into()));
    let mut cmd = Command::new("node");
    cmd.current_dir(repo().join("tests/e2e")).args(["--test", "--test-concurrency=1", "oauth_js.test.mjs"]);
    run(cmd, &env, "node --test oauth_js.test.mjs");
}

/// `?tls=required` means STARTTLS or nothing: against a server that does not offer it, no email
/// leaves in the clear; the request fails and the sink receives nothing.
#[test]
fn smtp_tls_required_is_never_downgraded() {
    let smtp = SmtpSink::start();
    let smtp_url = format!("smtp://127.0.0.1:{}?tls=required", smtp.server.port);
    let env = setup_with("e2e_smtp_tls", &["--smtp-url", &smtp_url]);
    let anon = env.vars.iter().find(|(k, _)| k == "ANON_KEY").unwrap().1.clone();
    let headers = [("Authorization".to_string(), format!("Bearer {anon}")), ("Content-Type".to_string(), "application/json".to_string())];
    let r = conformance::request(&env.sidecar.base, "POST", "/auth/v1/otp", &headers, Some(r#"{"email": "tls@example.com"}"#));
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("Error sending email"), "{}", r.body);
    let delivered = std::fs::read_dir(smtp.dir.join("new")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(delivered, 0, "an email went out without TLS");
}

const STORAGE_FIXTURE: &str = "SELECT bknd.create_bucket('avatars', false, 1048576);
     SELECT bknd.allow_storage('avatars', 'all', 'authenticated', 'folder');
     SELECT bknd.create_bucket('videos');
     SELECT bknd.allow_storage('videos', 'all', 'authenticated', 'folder');";

/// The storage-js and tus-js-client scenarios against a sidecar started by `start`.
fn storage_scenarios(label: &str, start: impl FnOnce(&TestDb) -> Sidecar) -> Env {
    let db = TestDb::new(label);
    db.admin().batch_execute(FIXTURE).unwrap();
    db.admin().batch_execute(STORAGE_FIXTURE).unwrap();
    let sidecar = start(&db);
    let vars = vec![
        ("BKND_URL".to_string(), sidecar.base.clone()),
        ("TOKEN_A".into(), db.token(json!({"sub": USER_A, "role": "authenticated"}))),
        ("TOKEN_B".into(), db.token(json!({"sub": USER_B, "role": "authenticated"}))),
        ("ANON_KEY".into(), db.token(json!({"role": "anon"}))),
        ("SERVICE_KEY".into(), db.token(json!({"role": "service_role"}))),
        ("USER_A".into(), USER_A.into()),
        ("USER_B".into(), USER_B.into()),
    ];
    let env = Env { sidecar, db, vars };
    for script in ["storage_js.test.mjs", "tus_js.test.mjs"] {
        let mut cmd = Command::new("node");
        cmd.current_dir(repo().join("tests/e2e")).args(["--test", "--test-concurrency=1", script]);
        run(cmd, &env, &format!("node --test {script}"));
    }
    env
}

#[test]
fn storage_js_and_tus_on_the_local_disk() {
    let dir = std::env::temp_dir().join(format!("bknd-storage-{}-{}", std::process::id(), rand_suffix()));
    let storage = format!("file://{}", dir.display());
    let env = storage_scenarios("e2e_storage", |db| Sidecar::start(&url("authenticator", &db.name), &["--storage", &storage]));
    // the terminated and finished uploads left no parts behind, and no pending rows
    let leftovers: Vec<_> = walk(&dir).into_iter().filter(|p| p.to_string_lossy().contains(".tus")).collect();
    assert!(leftovers.is_empty(), "TUS parts left behind: {leftovers:?}");
    assert_eq!(scalar_i64(&mut env.db.admin(), "SELECT count(*) FROM bknd.objects WHERE status = 'pending'"), 0);
    drop(env);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same scenarios with the bytes in S3: a local S3 server (moto) on 127.0.0.1.
#[test]
fn storage_js_and_tus_on_s3() {
    let s3 = Helper::start("moto_server", &["-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"]);
    let endpoint = format!("http://127.0.0.1:{}", s3.port);
    let made = ureq::put(&format!("{endpoint}/bknd-test")).call();
    assert!(made.is_ok(), "create the S3 bucket: {made:?}");
    let env = storage_scenarios("e2e_s3", |db| {
        Sidecar::start_with_env(
            &url("authenticator", &db.name),
            &["--storage", "s3://bknd-test"],
            &[
                ("AWS_ENDPOINT_URL", &endpoint),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "us-east-1"),
            ],
        )
    });
    // the bytes are in S3 (the 50 MiB resumable upload went up as a multipart upload)
    let listing = ureq::get(&format!("{endpoint}/bknd-test?list-type=2")).call().unwrap().into_string().unwrap();
    assert!(listing.contains("<Key>videos/"), "{listing}");
    assert!(!listing.contains(".tus/"), "TUS parts left in S3: {listing}");
    drop(env);
}

/// MCP with real clients: the Python `mcp` SDK over Streamable HTTP and over stdio (the same
/// scenario both ways), then the MCP Inspector's CLI listing the tools.
#[test]
fn mcp_with_the_python_sdk_and_the_inspector() {
    let mut env = setup("e2e_mcp");
    let service = env.db.token(json!({"role": "service_role"}));
    env.vars.push(("SERVICE_KEY".into(), service.clone()));
    env.vars.push(("BKND_BIN".into(), bknd_tests::sidecar::binary()));
    env.vars.push(("DATABASE_URL".into(), url("authenticator", &env.db.name)));
    let mut cmd = Command::new(repo().join(".tools/venv/bin/python"));
    cmd.arg(repo().join("tests/e2e/test_mcp_py.py"));
    run(cmd, &env, "python test_mcp_py.py");

    let out = Command::new("npx")
        .current_dir(repo().join("tests/e2e"))
        .args(["--no-install", "@modelcontextprotocol/inspector", "--cli", &format!("{}/mcp", env.sidecar.base), "--method", "tools/list"])
        .args(["--header", &format!("Authorization: Bearer {service}")])
        .output()
        .expect("run the MCP inspector (make test installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "inspector failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("inspector printed no JSON: {stdout}"));
    let names: Vec<&str> = listed["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    for expected in ["create_table", "select", "insert", "execute_sql", "list_users", "create_signed_url"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
}

/// supabase-js and tus-js-client in Debian's chromium, on a page from another origin than the
/// API (CORS): sign up and in, rows under RLS, upload, download, a resumable upload, realtime.
#[test]
fn supabase_js_in_a_browser_on_another_origin() {
    let dir = std::env::temp_dir().join(format!("bknd-browser-{}-{}", std::process::id(), rand_suffix()));
    let storage = format!("file://{}", dir.display());
    let db = TestDb::new("e2e_browser");
    db.admin().batch_execute(FIXTURE).unwrap();
    db.admin().batch_execute(STORAGE_FIXTURE).unwrap();
    db.admin().batch_execute("SELECT bknd.enable_realtime('notes')").unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &["--storage", &storage]);
    let vars = vec![("BKND_URL".to_string(), sidecar.base.clone()), ("ANON_KEY".into(), db.token(json!({"role": "anon"})))];
    let env = Env { sidecar, db, vars };
    let mut cmd = Command::new("node");
    cmd.current_dir(repo().join("tests/e2e")).args(["--test", "--test-concurrency=1", "browser.test.mjs"]);
    run(cmd, &env, "node --test browser.test.mjs");
    drop(env);
    let _ = std::fs::remove_dir_all(&dir);
}
