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
        let out = Command::new(binary()).args(["keys", "--database-url", &url(user, &db.name)]).output().expect("run bknd keys");
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
    let out = Command::new(binary()).args(["keys", "--database-url", "postgres://authenticator@127.0.0.1:1/x"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}

#[test]
fn the_binary_and_the_extension_are_one_release() {
    let db = TestDb::new("version");
    let extension = scalar_string(&mut db.admin(), "SELECT extversion FROM pg_extension WHERE extname = 'bknd'").unwrap();
    let out = Command::new(binary()).arg("--version").output().expect("run bknd --version");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("bknd {extension}"));
    let help = Command::new(binary()).args(["serve", "--help"]).output().expect("run bknd serve --help");
    assert!(!String::from_utf8_lossy(&help.stdout).contains("console"), "help mentions what does not exist");
}

/// A preflight as a browser sends it: (status, the answer's headers, lower-cased).
fn preflight(base: &str, path: &str, origin: &str) -> (u16, Vec<(String, String)>) {
    let headers = vec![
        ("Origin".to_string(), origin.to_string()),
        ("Access-Control-Request-Method".to_string(), "PATCH".to_string()),
        (
            "Access-Control-Request-Headers".to_string(),
            "authorization,x-client-info,apikey,content-type,x-retry-count,traceparent,tus-resumable,upload-offset".to_string(),
        ),
    ];
    let r = bknd_tests::conformance::request(base, "OPTIONS", path, &headers, None);
    (r.status, r.headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn browsers_on_other_origins_may_call_the_api_routes_and_not_mcp() {
    let db = TestDb::new("cors");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    for path in ["/rest/v1/anything", "/auth/v1/token", "/storage/v1/object/b/x", "/storage/v1/upload/resumable/x"] {
        let (status, headers) = preflight(&sidecar.base, path, "http://localhost:5173");
        assert_eq!(status, 204, "{path}");
        assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"), "{path}");
        assert!(header(&headers, "access-control-allow-methods").is_some_and(|m| m.contains("PATCH")), "{path}: {headers:?}");
        let allowed = header(&headers, "access-control-allow-headers").unwrap_or("").to_lowercase();
        for h in ["authorization", "x-client-info", "apikey", "traceparent", "upload-offset"] {
            assert!(allowed.contains(h), "{path}: {h} not allowed: {allowed}");
        }
    }
    // answers carry the headers clients read
    let r = bknd_tests::conformance::request(&sidecar.base, "GET", "/rest/v1/", &[("Origin".into(), "http://localhost:5173".into())], None);
    assert_eq!(header(&r.headers, "access-control-allow-origin"), Some("*"));
    assert!(header(&r.headers, "access-control-expose-headers").is_some_and(|h| h.contains("content-range") && h.contains("upload-offset")));
    // /mcp keeps refusing browser origins
    let (_, headers) = preflight(&sidecar.base, "/mcp", "http://localhost:5173");
    assert_eq!(header(&headers, "access-control-allow-origin"), None);

    // --cors-allow-origin narrows it to a list
    let narrow = Sidecar::start(&url("authenticator", &db.name), &["--cors-allow-origin", "https://app.example,http://localhost:5173"]);
    let (_, headers) = preflight(&narrow.base, "/rest/v1/anything", "https://app.example");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("https://app.example"));
    let (_, headers) = preflight(&narrow.base, "/rest/v1/anything", "https://evil.example");
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
}
