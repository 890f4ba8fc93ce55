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

/// A real SMTP server on 127.0.0.1 (aiosmtpd), storing what it receives in a Maildir.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("bknd-mail-{}-{port}", std::process::id()));
        let child = Command::new(repo().join(".tools/venv/bin/python"))
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .spawn()
            .expect("start aiosmtpd (run `make test`, which installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        SmtpSink { child, port, dir }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn supabase_js_email_codes_magic_links_and_recovery() {
    let smtp = SmtpSink::start();
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
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
