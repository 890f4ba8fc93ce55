//! The web console in a real browser: tests/e2e/console.test.mjs drives Debian's chromium with
//! playwright-core against a sidecar with two app users and two console members (an owner and a
//! viewer): sign in, tables with several types and a relation, rows, an owner policy viewed as
//! anon and as each user, SQL, the API screen, a viewer refused, cross-site requests, hostile
//! input, sign-out. The same API without a browser is tested in console_api.rs.
//!
//! Screenshots of the main screens go to a temporary folder, or to docs/screenshots (for the
//! README) with BKND_SCREENSHOTS=1.

use std::path::PathBuf;
use std::process::Command;

use bknd_tests::sidecar::{binary, Sidecar};
use bknd_tests::*;
use postgres::Client;
use serde_json::json;

const OWNER: (&str, &str) = ("owner@example.com", "owner password 1");
const VIEWER: (&str, &str) = ("viewer@example.com", "viewer password 1");
const ANN: (&str, &str) = ("ann@example.com", "ann password 1");
const BOB: (&str, &str) = ("bob@example.com", "bob password 1");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `bknd members add EMAIL --role ROLE --password P`, as a superuser.
fn add_member(db: &TestDb, (email, password): (&str, &str), role: &str) {
    let out = Command::new(binary())
        .args(["members", "add", email, "--role", role, "--password", password, "--database-url", &url("postgres", &db.name)])
        .output()
        .unwrap();
    assert!(out.status.success(), "members add {email}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// An app user (confirmed, with a password); answers its id.
fn add_user(admin: &mut Client, (email, password): (&str, &str)) -> String {
    let user = json!({"email": email, "password": password, "email_confirm": true}).to_string();
    admin.query_one("SELECT bknd.admin_create_user($1::text::jsonb)->>'id'", &[&user]).unwrap().get(0)
}

#[test]
fn the_console_in_a_browser() {
    let e2e = repo().join("tests/e2e");
    assert!(e2e.join("node_modules/playwright-core").exists(), "npm packages missing: run `make test`");
    assert!(std::path::Path::new("/usr/bin/chromium").exists(), "chromium missing: run `make test` (scripts/setup-clients.sh installs it)");

    let db = TestDb::new("console_browser");
    let mut admin = db.admin();
    let ann = add_user(&mut admin, ANN);
    let bob = add_user(&mut admin, BOB);
    add_member(&db, OWNER, "owner");
    add_member(&db, VIEWER, "viewer");
    // declared after db: stops before the database is dropped
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);

    let keep = std::env::var("BKND_SCREENSHOTS").is_ok_and(|v| v == "1");
    let screenshots = if keep {
        repo().join("docs/screenshots")
    } else {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        std::env::temp_dir().join(format!("bknd-console-shots-{}-{nanos}", std::process::id()))
    };
    std::fs::create_dir_all(&screenshots).unwrap();

    let out = Command::new("node")
        .current_dir(&e2e)
        .args(["--test", "--test-concurrency=1", "console.test.mjs"])
        .env("BKND_URL", &sidecar.base)
        .env("OWNER_EMAIL", OWNER.0)
        .env("OWNER_PASSWORD", OWNER.1)
        .env("VIEWER_EMAIL", VIEWER.0)
        .env("VIEWER_PASSWORD", VIEWER.1)
        .env("ANN_EMAIL", ANN.0)
        .env("BOB_EMAIL", BOB.0)
        .env("ANN_ID", &ann)
        .env("BOB_ID", &bob)
        .env("ANON_KEY", db.token(json!({"role": "anon"})))
        .env("SCREENSHOTS", &screenshots)
        .output()
        .unwrap_or_else(|e| panic!("node: cannot start: {e} (run `make test`, which checks for it)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node --test console.test.mjs failed (screenshots so far in {}):\n{stdout}\n{stderr}",
        screenshots.display()
    );

    // what the browser did, as the database saw it: three rows left, an owner policy, every
    // schema change recorded with the owner, and nothing from the viewer or the hostile input
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM public.notes"), 3);
    let titles: Vec<String> = admin.query("SELECT title FROM public.notes ORDER BY title", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(titles, ["ann 1 edited", "ann 2", "bob 1"]);
    assert_eq!(scalar_i64(&mut admin, &format!("SELECT count(*) FROM public.notes WHERE owner_id = '{ann}'")), 2, "Ann owns two rows");
    assert_eq!(
        scalar_i64(
            &mut admin,
            "SELECT count(*) FROM pg_policies WHERE schemaname = 'public' AND tablename = 'notes' AND 'authenticated' = ANY (roles)"
        ),
        1
    );
    let tables: Vec<String> = admin
        .query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, ["notes", "tags"], "only the owner's two tables");
    let history: Vec<(String, Option<String>)> = admin
        .query("SELECT by_role, by_sub FROM bknd.schema_history ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(history.len() >= 3, "create tags, create notes, allow: {history:?}");
    let by_owner = format!("console:{}", OWNER.0);
    assert!(
        history.iter().all(|(role, sub)| role == "bknd_console_owner" && sub.as_deref() == Some(by_owner.as_str())),
        "every change is the owner's: {history:?}"
    );

    // and every change the owner made through the console is in its audit log; of the viewer's
    // only turning on TOTP for its own sign-in, and the export it may read
    let audit: Vec<(String, String)> = admin
        .query("SELECT email, action FROM bknd.console_audit ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let viewers: Vec<&str> = audit.iter().filter(|(email, _)| email != OWNER.0).map(|(_, a)| a.as_str()).collect();
    assert_eq!(viewers, ["enable_totp"], "only the owner changed anything: {audit:?}");
    for action in ["tool:create_table", "rest:POST", "rest:PATCH", "rest:DELETE", "tool:allow", "reveal_service_role_key", "export"] {
        assert!(audit.iter().any(|(_, a)| a == action), "{action} is recorded: {audit:?}");
    }

    drop(sidecar);
    if !keep {
        let _ = std::fs::remove_dir_all(&screenshots);
    }
}
