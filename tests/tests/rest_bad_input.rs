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
            r#"SELECT bknd.create_table('notes', '{"title": {"type": "text"}, "rank": {"type": "integer"}, "data": {"type": "json"}}');
               SELECT bknd.allow('notes', 'all', 'anon');
               SELECT bknd.create_table('amounts', '{"v": {"type": "numeric"}, "n": {"type": "bigint"}}');
               SELECT bknd.allow('amounts', 'all', 'anon');
               INSERT INTO notes (title, rank) VALUES ('a', 1), ('b', 2);
               CREATE FUNCTION public.slow() RETURNS int LANGUAGE sql AS 'SELECT pg_sleep(3)::text::int';
               CREATE FUNCTION public.boom() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE 'no %', 'way' USING HINT = 'try again'; END $$;
               CREATE FUNCTION public.echo(t text) RETURNS text LANGUAGE sql AS 'SELECT t';
               CREATE FUNCTION public.twice(n integer) RETURNS integer LANGUAGE sql AS 'SELECT n * 2';
               CREATE FUNCTION public.calls_missing() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN public.not_there(1); END $$;
               CREATE FUNCTION public.internal_failure() RETURNS int LANGUAGE plpgsql AS $$
                 BEGIN RAISE 'internal detail: table pg_secret_x' USING ERRCODE = 'XX000', DETAIL = 'detail text', HINT = 'hint text'; END $$;
               CREATE FUNCTION public.not_ready() RETURNS int LANGUAGE plpgsql AS $$
                 BEGIN RAISE 'come back later' USING ERRCODE = 'PT503'; END $$;"#,
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

/// `GET` and `POST` helpers for the tests below.
fn get(sidecar: &Sidecar, path: &str, headers: &[(&str, &str)]) -> bknd_tests::conformance::HttpResponse {
    let h: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    request(&sidecar.base, "GET", &format!("/rest/v1{path}"), &h, None)
}

fn send(sidecar: &Sidecar, method: &str, path: &str, body: &str) -> bknd_tests::conformance::HttpResponse {
    let h = vec![("Content-Type".to_string(), "application/json".to_string())];
    request(&sidecar.base, method, &format!("/rest/v1{path}"), &h, Some(body))
}

fn body_json(r: &bknd_tests::conformance::HttpResponse) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.body))
}

fn notes_unchanged(db: &TestDb) {
    let mut c = db.admin();
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM notes"), 2);
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM notes WHERE data IS NOT NULL OR title NOT IN ('a', 'b')"), 0);
}

#[test]
fn casts_to_pseudo_types_are_refused_at_the_edge() {
    let (sidecar, db, _) = setup("pseudo_casts", &[]);
    for ty in [
        "unknown",
        "UNKNOWN",
        "any",
        "anyelement",
        "anyarray",
        "anynonarray",
        "anyenum",
        "anyrange",
        "anymultirange",
        "anycompatible",
        "record",
        "record[]",
        "_record",
        "cstring",
        "internal",
        "void",
        "trigger",
        "event_trigger",
        "language_handler",
        "fdw_handler",
        "index_am_handler",
        "tsm_handler",
        "table_am_handler",
        "pg_ddl_command",
    ] {
        let path = format!("/notes?select=title::{}", ty.replace(' ', "%20"));
        let r = get(&sidecar, &path, &[]);
        assert_error(&r, 400, "PGRST100", &path);
        assert!(!r.body.contains("conversion function"), "{path}: the database's words reached the client: {}", r.body);
    }
    // in an embedded resource's select, and on a JSON path
    assert_error(&get(&sidecar, "/notes?select=data->a::unknown", &[]), 400, "PGRST100", "json path cast");
    // ordinary casts still work
    let r = get(&sidecar, "/notes?select=rank::text,title::character%20varying&order=rank", &[]);
    assert_eq!((r.status, body_json(&r)), (200, json!([{"rank": "1", "title": "a"}, {"rank": "2", "title": "b"}])));
    notes_unchanged(&db);
}

#[test]
fn mistakes_the_database_reports_are_400_and_server_errors_keep_its_words() {
    let (sidecar, db, _) = setup("db_mistakes", &[]);
    // operators and functions that do not exist for the column's type: 42883 is a 400 here
    for (path, code) in [
        ("/notes?title=cs.x", "42883"),
        ("/notes?rank=like.1", "42883"),
        ("/notes?select=title->a", "42883"),
        ("/notes?rank=cs.{1}", "42883"),
        ("/notes?data=like.x", "42883"),
        ("/notes?title=adj.x", "42883"),
        ("/notes?rank=is.unknown", "42804"),
        ("/notes?title=match.(", "2201B"),
        ("/notes?title=fts(nope).word", "42704"),
    ] {
        assert_error(&get(&sidecar, path, &[]), 400, code, path);
    }
    // a function that calls a missing one: the developer's mistake, not a missing endpoint
    let r = send(&sidecar, "POST", "/rpc/calls_missing", "{}");
    assert_error(&r, 400, "42883", "calls_missing");
    // 5xx: the code and a fixed message; the database's message, detail and hint go to the log
    let r = send(&sidecar, "POST", "/rpc/internal_failure", "{}");
    assert_error(&r, 500, "XX000", "internal_failure");
    for leaked in ["pg_secret_x", "detail text", "hint text"] {
        assert!(!r.body.contains(leaked), "a 500 carried the database's text: {}", r.body);
    }
    // a status the developer chose with RAISE SQLSTATE 'PTnnn' keeps the developer's words
    let r = send(&sidecar, "POST", "/rpc/not_ready", "{}");
    assert_error(&r, 503, "PT503", "not_ready");
    assert!(r.body.contains("come back later"), "{}", r.body);
    notes_unchanged(&db);
}

#[test]
fn numbers_at_the_edge_are_4xx_or_honoured_never_5xx() {
    let (sidecar, db, _) = setup("numbers", &[]);
    for (path, status, code) in [
        ("/notes?limit=99999999999999999999", 400, "PGRST100"),
        ("/notes?offset=-99999999999", 400, "PGRST100"),
        ("/notes?limit=-99999999999", 400, "PGRST100"),
        ("/notes?offset=1e3", 400, "PGRST100"),
        ("/notes?rank=eq.99999999999999999999", 400, "22003"),
        ("/notes?rank=in.(1,99999999999)", 400, "22003"),
        ("/rpc/twice?n=99999999999", 400, "22003"),
        ("/rpc/twice?n=-1e999", 400, "22P02"),
    ] {
        assert_error(&get(&sidecar, path, &[]), status, code, path);
    }
    let all = json!([{"title": "a"}, {"title": "b"}]);
    for (path, body) in [
        ("/notes?select=title&limit=99999999999&order=rank", all.clone()),
        ("/notes?select=title&limit=9223372036854775807&order=rank", all.clone()),
        ("/notes?select=title&offset=99999999999", json!([])),
        ("/notes?select=title&offset=9223372036854775807", json!([])),
    ] {
        let r = get(&sidecar, path, &[]);
        assert_eq!((r.status, body_json(&r)), (200, body), "{path}");
    }
    // Range: all rows up to the largest bound; a range that does not parse is ignored
    for (range, body) in [
        ("0-9223372036854775807", all.clone()),
        ("items=0-9223372036854775807", all.clone()),
        ("1-9223372036854775807", json!([{"title": "b"}])),
        ("0-99999999999999999999", all.clone()),
        ("-5-3", all.clone()),
    ] {
        let r = get(&sidecar, "/notes?select=title&order=rank", &[("Range", range)]);
        assert_eq!((r.status, body_json(&r)), (200, body), "Range {range}");
    }
    let r = get(&sidecar, "/notes?select=title", &[("Range", "9223372036854775807-9223372036854775807"), ("Prefer", "count=exact")]);
    assert_error(&r, 416, "PGRST103", "range past the end");
    assert_error(&get(&sidecar, "/notes", &[("Range", "5-2")]), 416, "PGRST103", "a range ending before it starts");
    let r = get(&sidecar, "/notes?offset=9223372036854775807", &[("Prefer", "count=exact")]);
    assert_error(&r, 416, "PGRST103", "offset past the end");
    // numbers in a body reach the database as written, not rounded through f64
    let exact = "123456789012345678901234567890.123456789012345678901234567890";
    let r = send(&sidecar, "POST", "/amounts", &format!(r#"{{"v": {exact}, "n": 9223372036854775807}}"#));
    assert_eq!(r.status, 201, "{}", r.body);
    let stored = scalar_string(&mut db.admin(), "SELECT v::text || ' ' || n::text FROM amounts");
    assert_eq!(stored.as_deref(), Some(format!("{exact} 9223372036854775807").as_str()));
    assert_error(&send(&sidecar, "POST", "/amounts", r#"{"n": 9223372036854775808}"#), 400, "22003", "bigint overflow");
    notes_unchanged(&db);
}

#[test]
fn nul_characters_are_4xx_and_change_nothing() {
    let (sidecar, db, _) = setup("nul", &[]);
    // JSON strings PostgreSQL text and json(b) cannot hold
    for (method, path, body) in [
        ("POST", "/notes", r#"{"title": "a\u0000b"}"#),
        ("POST", "/notes", r#"[{"title": "ok"}, {"title": "\u0000"}]"#),
        ("POST", "/notes", r#"{"data": {"k": "\u0000"}}"#),
        ("POST", "/notes", r#"{"data": {"\u0000": 1}}"#),
        ("POST", "/notes?columns=title", r#"{"title": "\u0000"}"#),
        ("PATCH", "/notes?title=eq.a", r#"{"title": "x\u0000"}"#),
        ("PATCH", "/notes?title=eq.a", r#"{"data": ["\u0000"]}"#),
        ("POST", "/rpc/echo", r#"{"t": "\u0000"}"#),
    ] {
        let r = send(&sidecar, method, path, body);
        assert!((400..500).contains(&r.status), "{method} {path} {body}: {} {}", r.status, r.body);
        let code = serde_json::from_str::<Value>(&r.body).map(|b| b["code"].as_str().unwrap_or("").to_string()).unwrap_or_default();
        assert!(["22P05", "22021", "22P02"].contains(&code.as_str()), "{method} {path} {body}: {}", r.body);
    }
    // in the query string: values are bind parameters, names are refused when parsed
    assert_error(&get(&sidecar, "/notes?title=eq.a%00b", &[]), 400, "22021", "NUL in a value");
    assert_error(&get(&sidecar, "/rpc/echo?t=%00", &[]), 400, "22021", "NUL in an RPC argument");
    for path in [
        "/notes?select=%22ti%00tle%22",
        "/notes?select=x:%22a%00%22",
        "/notes?order=%22a%00%22",
        "/notes?%22a%00%22=eq.1",
        "/notes?or=(%22a%00%22.eq.1)",
        "/notes?select=data->%22a%5C%00%22",
    ] {
        assert_error(&get(&sidecar, path, &[]), 400, "PGRST100", path);
    }
    for path in ["/notes?columns=%22ti%00tle%22", "/notes?on_conflict=%22id%00%22"] {
        let h = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Prefer".to_string(), "resolution=merge-duplicates".to_string()),
        ];
        let r = request(&sidecar.base, "POST", &format!("/rest/v1{path}"), &h, Some(r#"{"title": "c"}"#));
        assert_error(&r, 400, "PGRST100", path);
    }
    notes_unchanged(&db);
}
