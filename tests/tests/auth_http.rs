//! /auth/v1 over HTTP with hostile input: every field, every route. Always a 4xx with a GoTrue
//! error body, never a 5xx, and nothing created.

use bknd_tests::conformance::request;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

#[test]
fn hostile_input_to_every_auth_route_is_a_clean_4xx() {
    let db = TestDb::new("auth_http");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let service = db.token(json!({"role": "service_role"}));
    let ct = ("Content-Type".to_string(), "application/json".to_string());
    let long = "x".repeat(100_000);
    let cases: Vec<(&str, String, Option<String>, bool)> = vec![
        ("POST", "/auth/v1/signup".into(), Some("{".into()), false),
        ("POST", "/auth/v1/signup".into(), Some("[]".into()), false),
        ("POST", "/auth/v1/signup".into(), Some(r#"{"email": 5, "password": "a long enough password"}"#.into()), false),
        ("POST", "/auth/v1/signup".into(), Some(r#"{"email": "x'); DROP TABLE bknd.users; --", "password": "a long enough password"}"#.into()), false),
        ("POST", "/auth/v1/signup".into(), Some(json!({"email": format!("{long}@example.com"), "password": "a long enough password"}).to_string()), false),
        ("POST", "/auth/v1/signup".into(), Some(json!({"email": "ok@example.com", "password": long}).to_string()), false),
        ("POST", "/auth/v1/signup".into(), Some(r#"{"email": "ok@example.com", "password": "a long enough password", "data": "not an object"}"#.into()), false),
        ("POST", "/auth/v1/token?grant_type=password".into(), Some(r#"{"email": {"$ne": null}, "password": "x"}"#.into()), false),
        ("POST", "/auth/v1/token?grant_type=password".into(), Some(r#"{"email": "nobody@example.com", "password": "x"}"#.into()), false),
        ("POST", "/auth/v1/token?grant_type=refresh_token".into(), Some(r#"{"refresh_token": "' OR 1=1 --"}"#.into()), false),
        ("POST", "/auth/v1/token?grant_type=implicit".into(), Some("{}".into()), false),
        ("POST", "/auth/v1/token".into(), Some("{}".into()), false),
        ("POST", "/auth/v1/otp".into(), Some(r#"{"email": "not an email"}"#.into()), false),
        ("POST", "/auth/v1/verify".into(), Some(r#"{"type": "email", "email": "a@example.com", "token": "' OR ''='"}"#.into()), false),
        ("POST", "/auth/v1/verify".into(), Some(r#"{"type": "sideways", "email": "a@example.com", "token": "123456"}"#.into()), false),
        ("GET", "/auth/v1/user".into(), None, false),
        ("PUT", "/auth/v1/user".into(), Some(r#"{"password": "short"}"#.into()), false),
        ("POST", "/auth/v1/factors".into(), Some(r#"{"factor_type": "totp"}"#.into()), false),
        ("POST", "/auth/v1/factors/not-a-uuid/challenge".into(), None, false),
        ("GET", "/auth/v1/admin/users".into(), None, false),
        ("GET", "/auth/v1/admin/users/x'%3B%20drop".into(), None, true),
        ("PUT", "/auth/v1/admin/users/00000000-0000-0000-0000-000000000000".into(), Some(r#"{"ban_duration": "forever and ever"}"#.into()), true),
        ("POST", "/auth/v1/admin/users".into(), Some(r#"{"email": "admin-made@example.com", "password": "x"}"#.into()), true),
        ("POST", "/auth/v1/admin/users".into(), Some(r#"{"email": "admin-made@example.com", "role": "postgres"}"#.into()), true),
        ("GET", "/auth/v1/authorize".into(), None, false),
        ("GET", "/auth/v1/authorize?provider=x%27%3B%20drop%20table%20bknd.users".into(), None, false),
        ("GET", format!("/auth/v1/authorize?provider=github&scopes={}", "s".repeat(2000)), None, false),
        ("GET", "/auth/v1/callback".into(), None, false),
        ("GET", "/auth/v1/callback?state=forged&code=x".into(), None, false),
        ("GET", "/auth/v1/callback?state=%00&error=access_denied".into(), None, false),
    ];
    for (method, path, body, as_service) in &cases {
        let mut headers = vec![ct.clone()];
        if *as_service {
            headers.push(("Authorization".to_string(), format!("Bearer {service}")));
        }
        let r = request(&sidecar.base, method, path, &headers, body.as_deref());
        assert!((400..500).contains(&r.status), "{method} {path} {:?}: status {} {}", body.as_deref().map(|b| &b[..b.len().min(80)]), r.status, r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {}", r.body));
        assert!(v["error_code"].is_string() && v["msg"].is_string() && v["code"].is_number(), "{method} {path}: {v}");
    }
    let mut admin = db.admin();
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.users"), 0);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions"), 0);
}
