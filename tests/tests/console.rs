//! The console's team in the database (src/auth/console.rs): members added by a superuser
//! (and by `bknd members add`), one-time links that set a password, sign-in with rate limits,
//! sessions that end when idle, and that no API role can touch any of it.

use std::process::Command;

use bknd_tests::sidecar::binary;
use bknd_tests::*;
use postgres::Client;
use serde_json::Value;

/// authenticator, as the sidecar connects
fn sidecar(db: &TestDb) -> Client {
    db.connect_as("authenticator")
}

fn call(c: &mut Client, sql: &str, args: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Value, postgres::Error> {
    c.query_one(&format!("SELECT ({sql})::text"), args)
        .map(|r| r.get::<_, Option<String>>(0).map_or(Value::Null, |t| serde_json::from_str(&t).unwrap()))
}

/// What a sign-in answered instead of a session.
fn refused(r: Result<Value, postgres::Error>) -> String {
    let v = r.unwrap();
    assert!(v.get("session").is_none(), "{v}");
    v["error"].as_str().unwrap_or_default().to_string()
}

fn code(r: Result<Value, postgres::Error>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => sqlstate(&e),
    }
}

#[test]
fn members_set_passwords_once_sign_in_and_sessions_end() {
    let db = TestDb::new("console_members");
    let mut admin = db.admin();
    let mut side = sidecar(&db);
    assert_eq!(call(&mut side, "bknd.console_has_members()", &[]).unwrap(), Value::Bool(false));
    let added = call(&mut admin, "bknd.console_add_member('Ada@Example.com', 'owner')", &[]).unwrap();
    assert_eq!(added["member"]["email"], "ada@example.com");
    assert_eq!(added["member"]["role"], "owner");
    assert_eq!(added["member"]["has_password"], false);
    let token = added["set_password_token"].as_str().unwrap().to_string();
    assert_eq!(call(&mut side, "bknd.console_has_members()", &[]).unwrap(), Value::Bool(true));
    // no password yet: nobody signs in
    assert_eq!(refused(call(&mut side, "bknd.console_sign_in('ada@example.com', 'anything at all')", &[])), "invalid_credentials");
    // the link: a weak password is refused and the link still holds; a good one is taken once
    assert_eq!(code(call(&mut side, "bknd.console_set_password($1, 'short')", &[&token])), "22023");
    let set = call(&mut side, "bknd.console_set_password($1, 'correct horse battery')", &[&token]).unwrap();
    assert_eq!(set["has_password"], true);
    assert_eq!(code(call(&mut side, "bknd.console_set_password($1, 'another good one')", &[&token])), "28000");
    assert_eq!(code(call(&mut side, "bknd.console_set_password('made-up', 'another good one')", &[])), "28000");

    // sign-in: the same refusal for a wrong password and an unknown email
    assert_eq!(
        refused(call(&mut side, "bknd.console_sign_in('ada@example.com', 'wrong password', '10.0.0.1')", &[])),
        "invalid_credentials"
    );
    assert_eq!(
        refused(call(&mut side, "bknd.console_sign_in('nobody@example.com', 'wrong password', '10.0.0.1')", &[])),
        "invalid_credentials"
    );
    let signed = call(&mut side, "bknd.console_sign_in(' ADA@example.com', 'correct horse battery', '10.0.0.1')", &[]).unwrap();
    let session = signed["session"].as_str().unwrap().to_string();
    assert_eq!(signed["member"]["role"], "owner");
    assert!(!signed["member"]["last_sign_in_at"].is_null());
    // stored only as a hash
    let stored =
        scalar_i64(&mut admin, &format!("SELECT count(*) FROM bknd.console_sessions WHERE token_hash = convert_to('{session}', 'UTF8')"));
    assert_eq!(stored, 0);
    assert_eq!(call(&mut side, "bknd.console_session($1)", &[&session]).unwrap()["email"], "ada@example.com");
    assert_eq!(call(&mut side, "bknd.console_session('made-up')", &[]).unwrap(), Value::Null);

    // an idle session is over, and gone
    admin.batch_execute("UPDATE bknd.console_sessions SET last_seen_at = now() - interval '9 hours'").unwrap();
    assert_eq!(call(&mut side, "bknd.console_session($1)", &[&session]).unwrap(), Value::Null);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.console_sessions"), 0);

    // sign-out ends it at once
    let session = call(&mut side, "bknd.console_sign_in('ada@example.com', 'correct horse battery')", &[]).unwrap()["session"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(call(&mut side, "bknd.console_sign_out($1)", &[&session]).unwrap(), Value::Bool(true));
    assert_eq!(call(&mut side, "bknd.console_session($1)", &[&session]).unwrap(), Value::Null);

    // changing a member's role keeps the password; a new link replaces the old one
    let again = call(&mut admin, "bknd.console_add_member('ada@example.com', 'viewer')", &[]).unwrap();
    assert_eq!((again["member"]["role"].as_str(), again["member"]["has_password"].as_bool()), (Some("viewer"), Some(true)));
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.console_tokens"), 1);
    let with_password = call(&mut admin, "bknd.console_add_member('bob@example.com', 'developer', 'bob password 1')", &[]).unwrap();
    assert!(with_password.get("set_password_token").is_none());
    call(&mut side, "bknd.console_sign_in('bob@example.com', 'bob password 1')", &[]).unwrap();

    // an expired link is refused
    let link = call(&mut admin, "bknd.console_add_member('cy@example.com', 'viewer')", &[]).unwrap()["set_password_token"]
        .as_str()
        .unwrap()
        .to_string();
    admin.batch_execute("UPDATE bknd.console_tokens SET expires_at = now() - interval '1 second'").unwrap();
    assert_eq!(code(call(&mut side, "bknd.console_set_password($1, 'a fine password')", &[&link])), "28000");
}

#[test]
fn bad_input_and_sign_in_limits() {
    let db = TestDb::new("console_bad_input");
    let mut admin = db.admin();
    for (sql, want) in [
        ("bknd.console_add_member('not an email', 'owner')", "22023"),
        ("bknd.console_add_member('a@example.com', 'root')", "22023"),
        ("bknd.console_add_member('a@example.com', 'owner', 'short')", "22023"),
    ] {
        assert_eq!(code(call(&mut admin, sql, &[])), want, "{sql}");
    }
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.console_members"), 0);
    call(&mut admin, "bknd.console_add_member('a@example.com', 'owner', 'a good password')", &[]).unwrap();
    let mut side = sidecar(&db);
    // ten tries per email and address in five minutes, then none, even with the right password
    for _ in 0..10 {
        assert_eq!(
            refused(call(&mut side, "bknd.console_sign_in('a@example.com', 'wrong password', '10.0.0.9')", &[])),
            "invalid_credentials"
        );
    }
    assert_eq!(refused(call(&mut side, "bknd.console_sign_in('a@example.com', 'a good password', '10.0.0.9')", &[])), "too_many_attempts");
    // another address is not held back
    call(&mut side, "bknd.console_sign_in('a@example.com', 'a good password', '10.0.0.10')", &[]).unwrap();
}

#[test]
fn no_api_role_touches_the_team() {
    let db = TestDb::new("console_roles");
    let mut admin = db.admin();
    call(&mut admin, "bknd.console_add_member('a@example.com', 'owner', 'a good password')", &[]).unwrap();
    for role in ["anon", "authenticated", "service_role"] {
        let mut c = db.connect_as("authenticator");
        c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        for sql in [
            "SELECT bknd.console_add_member('b@example.com', 'owner', 'a good password')",
            "SELECT bknd.console_sign_in('a@example.com', 'a good password')",
            "SELECT bknd.console_session('x')",
            "SELECT bknd.console_set_password('x', 'a good password')",
            "SELECT bknd.console_sign_out('x')",
            "SELECT bknd.console_has_members()",
            "SELECT * FROM bknd.console_members",
            "SELECT * FROM bknd.console_sessions",
            "SELECT * FROM bknd.console_tokens",
        ] {
            expect_error(&mut c, sql, "42501");
        }
    }
    // the sidecar signs in, but adds no one
    expect_error(&mut db.connect_as("authenticator"), "SELECT bknd.console_add_member('b@example.com', 'owner')", "42501");
}

#[test]
fn the_cli_adds_a_member_and_prints_a_one_time_link() {
    let db = TestDb::new("console_cli");
    let out = Command::new(binary())
        .args(["members", "add", "Lin@Example.com", "--role", "admin", "--database-url", &url("postgres", &db.name)])
        .args(["--public-url", "https://console.example.com/"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("lin@example.com is a console admin."), "{stdout}");
    let link = stdout.lines().find_map(|l| l.split("open: ").nth(1)).unwrap_or_else(|| panic!("no link in {stdout}"));
    let token = link.strip_prefix("https://console.example.com/console/set-password#token=").unwrap_or_else(|| panic!("{link}"));
    let mut side = sidecar(&db);
    call(&mut side, "bknd.console_set_password($1, 'a good password')", &[&token]).unwrap();
    call(&mut side, "bknd.console_sign_in('lin@example.com', 'a good password')", &[]).unwrap();

    let bad = Command::new(binary())
        .args(["members", "add", "lin@example.com", "--role", "god", "--database-url", &url("postgres", &db.name)])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown console role"), "{}", String::from_utf8_lossy(&bad.stderr));
    // as a role that is not a superuser, nothing is added
    let refused = Command::new(binary())
        .args(["members", "add", "eve@example.com", "--role", "owner", "--database-url", &url("authenticator", &db.name)])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM bknd.console_members"), 1);
}
