//! The sidecar skeleton: `bknd serve` with /health, and `bknd keys`.

use bknd_tests::sidecar::{binary, Sidecar};
use bknd_tests::*;
use serde_json::Value;
use std::process::Command;

#[test]
fn health_is_200_when_the_database_answers() {
    let db = TestDb::new("health_ok");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let (status, body) = sidecar.get("/health");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    let (status, _) = sidecar.get("/no/such/route");
    assert_eq!(status, 404);
}

#[test]
fn health_is_503_when_the_database_does_not() {
    // nothing listens on port 1
    let sidecar = Sidecar::start("postgres://authenticator@127.0.0.1:1/bknd", &[]);
    let (status, body) = sidecar.get("/health");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
}

#[test]
fn keys_prints_an_anon_and_a_service_role_key_signed_in_the_database() {
    let db = TestDb::new("keys");
    for user in ["postgres", "authenticator"] {
        let out = Command::new(binary())
            .args(["keys", "--database-url", &url(user, &db.name)])
            .output()
            .expect("run bknd keys");
        assert!(out.status.success(), "bknd keys as {user}: {}", String::from_utf8_lossy(&out.stderr));
        let keys: Value = serde_json::from_slice(&out.stdout).expect("keys print JSON on stdout");
        let mut c = db.connect_as("authenticator");
        for role in ["anon", "service_role"] {
            let token = keys[role].as_str().unwrap();
            let mut tx = c.transaction().unwrap();
            tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
            let current: String = tx.query_one("SELECT current_user::text", &[]).unwrap().get(0);
            assert_eq!(current, role);
            tx.rollback().unwrap();
        }
    }
    // a role that may not sign gets a clear failure, not a panic
    let out = Command::new(binary())
        .args(["keys", "--database-url", "postgres://authenticator@127.0.0.1:1/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}
