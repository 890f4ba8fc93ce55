//! The OpenAPI document at `GET /rest/v1/` describes only what the caller's role may use:
//! relations and columns it has a privilege on, functions it may execute (PostgREST's
//! follow-privileges). The token decides the role; none means anon.

use bknd_tests::conformance::request;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

fn setup(label: &str, args: &[&str]) -> (Sidecar, TestDb) {
    let db = TestDb::new(label);
    db.admin()
        .batch_execute(
            r#"SELECT bknd.create_table('open_notes', '{"title": {"type": "text"}}');
               SELECT bknd.create_table('private_notes', '{"secret": {"type": "text"}}');
               REVOKE ALL ON public.private_notes FROM anon;
               CREATE TABLE public.partial (id int PRIMARY KEY, shown text, hidden text);
               GRANT SELECT (id, shown) ON public.partial TO anon;
               CREATE TABLE public.drop_box (id int PRIMARY KEY, note text);
               GRANT INSERT ON public.drop_box TO anon;
               CREATE TABLE public.nobodys (id int);
               CREATE FUNCTION public.open_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
               CREATE FUNCTION public.closed_fn() RETURNS int LANGUAGE sql AS 'SELECT 2';
               REVOKE EXECUTE ON FUNCTION public.closed_fn() FROM PUBLIC;
               GRANT EXECUTE ON FUNCTION public.closed_fn() TO authenticated, service_role;
               CREATE FUNCTION public.twin(a int) RETURNS int LANGUAGE sql AS 'SELECT a';
               CREATE FUNCTION public.twin(b text) RETURNS text LANGUAGE sql AS 'SELECT b';
               REVOKE EXECUTE ON FUNCTION public.twin(int) FROM PUBLIC;
               CREATE SCHEMA app;
               CREATE TABLE app.gadgets (id int);
               GRANT SELECT ON app.gadgets TO anon, authenticated;
               GRANT USAGE ON SCHEMA app TO authenticated;"#,
        )
        .unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), args);
    (sidecar, db)
}

/// The document as `token` sees it (None: anon), for schema `profile` (None: the first).
fn document(sidecar: &Sidecar, token: Option<&str>, profile: Option<&str>) -> Value {
    let mut h = vec![("Accept".to_string(), "application/openapi+json".to_string())];
    if let Some(t) = token {
        h.push(("Authorization".to_string(), format!("Bearer {t}")));
    }
    if let Some(p) = profile {
        h.push(("Accept-Profile".to_string(), p.to_string()));
    }
    let r = request(&sidecar.base, "GET", "/rest/v1/", &h, None);
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.body))
}

fn paths(doc: &Value) -> Vec<String> {
    let mut p: Vec<String> = doc["paths"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    p.sort();
    p
}

fn methods(doc: &Value, path: &str) -> Vec<String> {
    let mut m: Vec<String> = doc["paths"][path].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    m.sort();
    m
}

fn properties(doc: &Value, definition: &str) -> Vec<String> {
    let mut p: Vec<String> =
        doc["definitions"][definition]["properties"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    p.sort();
    p
}

#[test]
fn anon_sees_only_what_anon_may_use() {
    let (sidecar, _db) = setup("openapi_anon", &["--schemas", "public,app"]);
    let doc = document(&sidecar, None, None);
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(paths(&doc), ["/", "/drop_box", "/open_notes", "/partial", "/rpc/open_fn", "/rpc/twin"], "{doc}");
    assert!(doc["definitions"].get("private_notes").is_none() && doc["definitions"].get("nobodys").is_none(), "{doc}");
    // column privileges: only the granted columns, and only the granted operations
    assert_eq!(properties(&doc, "partial"), ["id", "shown"]);
    assert_eq!(methods(&doc, "/partial"), ["get"]);
    assert_eq!(methods(&doc, "/drop_box"), ["post"]);
    assert_eq!(methods(&doc, "/open_notes"), ["delete", "get", "patch", "post"]);
    // of two overloads, the one anon may execute
    let params = &doc["paths"]["/rpc/twin"]["post"]["parameters"][0]["schema"]["properties"];
    assert!(params.get("b").is_some() && params.get("a").is_none(), "{params}");
    // a schema anon has no USAGE on shows nothing, even where a table is granted
    let app = document(&sidecar, None, Some("app"));
    assert_eq!(paths(&app), ["/"], "{app}");
}

#[test]
fn each_token_sees_its_own_role_s_privileges() {
    let (sidecar, db) = setup("openapi_roles", &["--schemas", "public,app"]);
    let user = db.token(json!({"role": "authenticated", "sub": "aaaaaaaa-0000-4000-8000-000000000001"}));
    let doc = document(&sidecar, Some(&user), None);
    let p = paths(&doc);
    for present in ["/open_notes", "/private_notes", "/rpc/closed_fn", "/rpc/open_fn", "/rpc/twin"] {
        assert!(p.contains(&present.to_string()), "authenticated misses {present}: {p:?}");
    }
    for absent in ["/partial", "/drop_box", "/nobodys"] {
        assert!(!p.contains(&absent.to_string()), "authenticated sees {absent}: {p:?}");
    }
    assert_eq!(paths(&document(&sidecar, Some(&user), Some("app"))), ["/", "/gadgets"]);
    // service_role: everything it is granted, which for bknd's tables is all of them
    let service = db.token(json!({"role": "service_role"}));
    let p = paths(&document(&sidecar, Some(&service), None));
    for present in ["/open_notes", "/private_notes", "/rpc/closed_fn", "/rpc/open_fn"] {
        assert!(p.contains(&present.to_string()), "service_role misses {present}: {p:?}");
    }
    // anon again on the same pooled connections: nothing leaks from the other roles
    let anon = document(&sidecar, None, None);
    assert!(!paths(&anon).contains(&"/private_notes".to_string()) && !paths(&anon).contains(&"/rpc/closed_fn".to_string()));
    // a bad token is refused, not downgraded to anon's document
    let h = vec![("Authorization".to_string(), "Bearer garbage".to_string())];
    assert_eq!(request(&sidecar.base, "GET", "/rest/v1/", &h, None).status, 401);
}

#[test]
fn the_document_follows_grants_made_after_start() {
    let (sidecar, db) = setup("openapi_grants", &[]);
    assert!(!paths(&document(&sidecar, None, None)).contains(&"/nobodys".to_string()));
    // privileges are asked of the database on every request, not kept with the schema cache
    db.admin().batch_execute("GRANT SELECT ON public.nobodys TO anon; GRANT EXECUTE ON FUNCTION public.twin(int) TO anon").unwrap();
    let doc = document(&sidecar, None, None);
    assert!(paths(&doc).contains(&"/nobodys".to_string()), "{doc}");
    db.admin().batch_execute("REVOKE SELECT ON public.open_notes FROM anon").unwrap();
    let doc = document(&sidecar, None, None);
    assert_eq!(methods(&doc, "/open_notes"), ["delete", "patch", "post"]);
}
