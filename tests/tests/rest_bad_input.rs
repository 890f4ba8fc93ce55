//! Bad input to the REST API: a 4xx with a PostgREST error body, never a 5xx, and the
//! database unchanged. Limits: body size (413) and statement timeout.

use bknd_tests::conformance::request;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

fn setup(label: &str, args: &[&str]) -> (Sidecar, TestDb, String) {
    let db = TestDb::new(label);
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('notes', '{"title": {"type": "text"}, "rank": {"type": "integer"}}');
               SELECT bknd.allow('notes', 'all', 'anon');
               INSERT INTO notes (title, rank) VALUES ('a', 1), ('b', 2);
               CREATE FUNCTION public.slow() RETURNS int LANGUAGE sql AS 'SELECT pg_sleep(3)::text::int';
               CREATE FUNCTION public.boom() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE 'no %', 'way' USING HINT = 'try again'; END $$;"#,
        )
        .unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), args);
    let service = db.token(json!({"role": "service_role"}));
    (sidecar, db, service)
}

fn assert_error(r: &bknd_tests::conformance::HttpResponse, status: u16, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{what}: not JSON: {}", r.body));
    for key in ["code", "message", "details", "hint"] {
        assert!(body.get(key).is_some(), "{what}: error body lacks {key}: {body}");
    }
    assert_eq!(body["code"], code, "{what}: {body}");
}

#[test]
fn malformed_queries_unknown_names_and_wrong_types_are_4xx() {
    let (sidecar, db, _) = setup("bad_queries", &[]);
    let get = |path: &str| request(&sidecar.base, "GET", &format!("/rest/v1{path}"), &[], None);
    for (path, status, code) in [
        ("/notes?select=id,(", 400, "PGRST100"),
        ("/notes?select=title::text;drop", 400, "PGRST100"),
        ("/notes?title=eq", 400, "PGRST100"),
        ("/notes?title=foo.bar", 400, "PGRST100"),
        ("/notes?title=in.(a,b", 400, "PGRST100"),
        ("/notes?title=is.maybe", 400, "PGRST100"),
        ("/notes?or=(title.eq.a", 400, "PGRST100"),
        ("/notes?or=title.eq.a", 400, "PGRST100"),
        ("/notes?order=title.sideways", 400, "PGRST100"),
        ("/notes?limit=-1", 400, "PGRST100"),
        ("/notes?limit=many", 400, "PGRST100"),
        ("/notes?rank=eq(some).{1}", 400, "PGRST100"),
        ("/notes?select=nope", 400, "42703"),
        ("/notes?nope=eq.1", 400, "42703"),
        ("/notes?order=nope", 400, "42703"),
        ("/notes?rank=eq.abc", 400, "22P02"),
        ("/notes?rank=gt.99999999999", 400, "22003"),
        ("/notes?select=%22x%3B%20drop%20table%20notes%22", 400, "42703"),
        ("/notes?select=title,nope(*)", 400, "PGRST200"),
        ("/nope", 404, "PGRST205"),
        ("/notes%3Bdrop%20table%20notes", 404, "PGRST205"),
        ("/a/b", 404, "PGRST125"),
        ("/rpc/nope", 404, "PGRST202"),
        ("/rpc/boom", 400, "P0001"),
    ] {
        assert_error(&get(path), status, code, path);
    }
    let boom = get("/rpc/boom");
    assert!(boom.body.contains("try again"), "the hint is passed on: {}", boom.body);
    // nothing changed
    let mut c = db.admin();
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM notes"), 2);
}

#[test]
fn bad_bodies_tokens_and_headers_are_4xx_and_change_nothing() {
    let (sidecar, db, service) = setup("bad_bodies", &[]);
    let send = |method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>| {
        let h: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        request(&sidecar.base, method, &format!("/rest/v1{path}"), &h, body)
    };
    let json_ct = [("Content-Type", "application/json")];
    for (body, code) in [("{", "PGRST102"), ("", "PGRST102"), ("42", "PGRST102"), ("[1,2]", "PGRST102"), ("{\"nope\": 1}", "PGRST204")] {
        assert_error(&send("POST", "/notes", &json_ct, Some(body)), 400, code, body);
    }
    assert_error(&send("POST", "/notes", &json_ct, Some(r#"[{"title": "x"}, {"rank": 1}]"#)), 400, "PGRST102", "keys differ");
    assert_error(&send("POST", "/notes", &json_ct, Some(r#"{"rank": "high"}"#)), 400, "22P02", "wrong type");
    assert_error(&send("PATCH", "/notes?title=eq.a", &json_ct, Some("[")), 400, "PGRST102", "bad patch");
    // tokens: garbage, wrong signature, expired
    let bad_sig = jwt::hs("HS256", b"not-the-secret-not-the-secret-not-the", &json!({"role": "anon"}));
    let expired = db.token(json!({"role": "anon", "exp": 1}));
    for (token, code) in [("garbage", "PGRST301"), (bad_sig.as_str(), "PGRST301")] {
        let auth = format!("Bearer {token}");
        let r = send("GET", "/notes", &[("Authorization", auth.as_str())], None);
        assert_error(&r, 401, code, token);
        assert!(r.headers.iter().any(|(n, v)| n == "www-authenticate" && v.starts_with("Bearer")), "{:?}", r.headers);
    }
    let _ = expired;
    let old = jwt::hs("HS256", secret(&db).as_bytes(), &json!({"role": "anon", "exp": jwt::now() - 3600}));
    assert_error(&send("GET", "/notes", &[("Authorization", &format!("Bearer {old}"))], None), 401, "PGRST303", "expired");
    assert_error(&send("GET", "/notes", &[("Accept-Profile", "secret")], None), 406, "PGRST106", "profile");
    assert_error(&send("GET", "/notes", &[("Accept", "image/png")], None), 406, "PGRST107", "accept");
    assert_error(&send("DELETE", "/rpc/boom", &[], None), 405, "PGRST101", "rpc delete");
    // a write as anon that RLS refuses changes nothing either
    let auth = format!("Bearer {service}");
    assert_eq!(send("GET", "/notes", &[("Authorization", auth.as_str())], None).status, 200);
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM notes"), 2);
}

fn secret(db: &TestDb) -> String {
    db.admin().query_one("SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'", &[]).unwrap().get(0)
}

#[test]
fn oversized_bodies_get_413_and_slow_statements_time_out() {
    let (sidecar, db, _) = setup("limits", &["--max-body-bytes", "1024", "--statement-timeout-ms", "300"]);
    let big = format!(r#"{{"title": "{}"}}"#, "x".repeat(4096));
    let h = vec![("Content-Type".to_string(), "application/json".to_string())];
    let r = request(&sidecar.base, "POST", "/rest/v1/notes", &h, Some(&big));
    assert_error(&r, 413, "BKND413", "big body");
    let r = request(&sidecar.base, "POST", "/rest/v1/rpc/slow", &h, Some("{}"));
    assert_error(&r, 504, "57014", "timeout");
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM notes"), 2);
    // the pool is fine afterwards
    assert_eq!(request(&sidecar.base, "GET", "/rest/v1/notes", &[], None).status, 200);
}
