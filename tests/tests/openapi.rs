//! The OpenAPI document at `GET /rest/v1/` describes only what the caller's role may use:
//! relations and columns it has a privilege on, functions it may execute (PostgREST's
//! follow-privileges). The token decides the role; none means anon.

use bknd_tests::conformance::request;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

fn setup(label: &str, args: &[&str]) -> (Sidecar, TestDb) {
    setup_with(label, args, "")
}

fn setup_with(label: &str, args: &[&str], extra: &str) -> (Sidecar, TestDb) {
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
    db.admin().batch_execute(extra).unwrap();
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

/// `#/parameters/<name>` of a `$ref`, resolved in the document.
fn resolve<'a>(doc: &'a Value, reference: &Value) -> &'a Value {
    let r = reference["$ref"].as_str().unwrap_or_else(|| panic!("not a $ref: {reference}"));
    let name = r.strip_prefix("#/parameters/").unwrap_or_else(|| panic!("not a parameter: {r}"));
    let p = &doc["parameters"][name];
    assert!(p.is_object(), "{r} is not in the document's parameters");
    p
}

/// The parameters of one operation, resolved: (in, name) pairs, and the body's schema.
fn parameters(doc: &Value, path: &str, method: &str) -> (Vec<(String, String)>, Option<Value>) {
    let list = doc["paths"][path][method]["parameters"].as_array().unwrap_or_else(|| panic!("no parameters for {method} {path}: {doc}"));
    let mut out = Vec::new();
    let mut body = None;
    for p in list {
        let p = if p.get("$ref").is_some() { resolve(doc, p) } else { p };
        let place = p["in"].as_str().unwrap().to_string();
        if place == "body" {
            body = Some(p["schema"].clone());
        }
        out.push((place, p["name"].as_str().unwrap().to_string()));
    }
    (out, body)
}

const TYPED: &str = r#"
CREATE TABLE public.typed (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code varchar(8) NOT NULL,
  n integer NOT NULL DEFAULT 3, label text DEFAULT 'it''s', price numeric, tags text[], meta jsonb,
  at timestamptz, box_id int REFERENCES public.drop_box (id), secret text);
COMMENT ON TABLE public.typed IS 'Typed things
and more about them';
GRANT SELECT (id, code, n, label, price, tags, meta, at, box_id), INSERT, UPDATE, DELETE ON public.typed TO anon;
CREATE FUNCTION public.stable_fn(a int, b text DEFAULT 'x', VARIADIC c int[] DEFAULT '{}') RETURNS int
  LANGUAGE sql STABLE AS 'SELECT a';
CREATE FUNCTION public.volatile_fn(a int) RETURNS int LANGUAGE sql AS 'SELECT a';
"#;

#[test]
fn the_document_describes_parameters_and_bodies_as_postgrest_does() {
    let (sidecar, _db) = setup_with("openapi_params", &[], TYPED);
    let doc = document(&sidecar, None, None);
    // the shared parameters, PostgREST's names and places
    for (key, place, name) in [
        ("select", "query", "select"),
        ("order", "query", "order"),
        ("limit", "query", "limit"),
        ("offset", "query", "offset"),
        ("on_conflict", "query", "on_conflict"),
        ("range", "header", "Range"),
        ("rangeUnit", "header", "Range-Unit"),
        ("preferReturn", "header", "Prefer"),
        ("preferCount", "header", "Prefer"),
        ("preferPost", "header", "Prefer"),
        ("preferParams", "header", "Prefer"),
    ] {
        let p = &doc["parameters"][key];
        assert_eq!((p["in"].as_str(), p["name"].as_str()), (Some(place), Some(name)), "{key}: {p}");
        assert_eq!(p["type"], "string", "{key}: {p}");
    }
    let count = doc["parameters"]["preferCount"]["enum"].as_array().unwrap();
    assert!(count.contains(&json!("count=exact")), "{count:?}");

    // GET: one filter per column anon may read (not `secret`, which it may only write), then
    // select .. count
    let (get, body) = parameters(&doc, "/typed", "get");
    assert!(body.is_none());
    let filters: Vec<&str> = get
        .iter()
        .filter(|(_, n)| !["select", "order", "Range", "Range-Unit", "offset", "limit", "Prefer"].contains(&n.as_str()))
        .map(|(_, n)| n.as_str())
        .collect();
    assert_eq!(filters, ["id", "code", "n", "label", "price", "tags", "meta", "at", "box_id"], "{get:?}");
    assert!(get.iter().all(|(place, _)| place == "query" || place == "header"));
    for n in ["select", "order", "Range", "offset", "limit", "Prefer"] {
        assert!(get.iter().any(|(_, g)| g == n), "GET misses {n}: {get:?}");
    }
    let filter = &doc["parameters"]["rowFilter.typed.code"];
    assert_eq!(
        (filter["in"].as_str(), filter["type"].as_str(), filter["required"].as_bool()),
        (Some("query"), Some("string"), Some(false))
    );
    assert!(doc["parameters"].get("rowFilter.typed.secret").is_none());
    let ok = &doc["paths"]["/typed"]["get"]["responses"]["200"]["schema"];
    assert_eq!(ok, &json!({"type": "array", "items": {"$ref": "#/definitions/typed"}}));
    assert_eq!(doc["paths"]["/typed"]["get"]["summary"], "Typed things");
    assert_eq!(doc["paths"]["/typed"]["get"]["description"], "and more about them");

    // POST: the body is the definition, with the columns an insert must name
    let (post, body) = parameters(&doc, "/typed", "post");
    assert!(post.contains(&("header".into(), "Prefer".into())) && post.contains(&("query".into(), "select".into())), "{post:?}");
    assert_eq!(body.unwrap(), json!({"allOf": [{"$ref": "#/definitions/typed"}], "required": ["code"]}));
    assert_eq!(doc["parameters"]["body.typed"]["name"], "typed");
    let prefer_post = doc["parameters"]["preferPost"]["enum"].as_array().unwrap();
    assert!(prefer_post.contains(&json!("return=representation")) && prefer_post.contains(&json!("resolution=merge-duplicates")));
    // PATCH: filters and the body; DELETE: filters, no body
    let (patch, body) = parameters(&doc, "/typed", "patch");
    assert!(body.is_some() && patch.iter().any(|(_, n)| n == "box_id"), "{patch:?}");
    let (delete, body) = parameters(&doc, "/typed", "delete");
    assert!(body.is_none() && delete.iter().any(|(_, n)| n == "code"), "{delete:?}");
    // a table with no required column: the body is the definition itself
    let (_, body) = parameters(&doc, "/open_notes", "post");
    assert_eq!(body.unwrap(), json!({"$ref": "#/definitions/open_notes"}));

    // the definition: PostgREST's types and formats, no required column, NULL where it may be
    let props = &doc["definitions"]["typed"]["properties"];
    assert!(doc["definitions"]["typed"].get("required").is_none());
    assert_eq!(props["id"]["type"], "integer");
    assert_eq!(props["id"]["format"], "int64");
    assert!(props["id"]["description"].as_str().unwrap().contains("<pk/>"));
    assert!(props["id"].get("x-nullable").is_none());
    assert_eq!(props["code"], json!({"type": "string", "format": "character varying", "maxLength": 8}));
    assert_eq!(props["n"], json!({"type": "integer", "format": "int32", "default": 3}));
    assert_eq!(props["label"], json!({"type": "string", "format": "text", "default": "it's", "x-nullable": true}));
    assert_eq!(props["price"], json!({"type": "number", "format": "numeric", "x-nullable": true}));
    assert_eq!(props["tags"], json!({"type": "array", "format": "text[]", "items": {"type": "string"}, "x-nullable": true}));
    assert_eq!(props["meta"], json!({"format": "jsonb"}));
    assert_eq!(props["at"], json!({"type": "string", "format": "timestamp with time zone", "x-nullable": true}));
    assert!(props["box_id"]["description"].as_str().unwrap().contains("<fk table='drop_box' column='id'/>"), "{props}");
    // a column the caller may write but not read: in the body, never a filter
    assert_eq!(props["secret"]["type"], "string");

    // functions: POST takes the arguments as one object; GET (not for volatile ones) one query
    // parameter per argument, required when it has no default
    let (_, args) = parameters(&doc, "/rpc/stable_fn", "post");
    let args = args.unwrap();
    assert_eq!(args["required"], json!(["a"]));
    assert_eq!(args["properties"]["a"], json!({"type": "integer", "format": "int32"}));
    assert_eq!(args["properties"]["c"]["type"], "array");
    let get = doc["paths"]["/rpc/stable_fn"]["get"]["parameters"].as_array().unwrap();
    let by_name = |n: &str| get.iter().find(|p| p["name"] == n).unwrap_or_else(|| panic!("no {n}: {get:?}")).clone();
    assert_eq!(by_name("a"), json!({"name": "a", "in": "query", "required": true, "type": "integer", "format": "int32"}));
    assert_eq!(by_name("b")["required"], false);
    assert_eq!((by_name("c")["type"].as_str(), by_name("c")["collectionFormat"].as_str()), (Some("array"), Some("multi")));
    assert_eq!(methods(&doc, "/rpc/volatile_fn"), ["post"]);
    assert_eq!(methods(&doc, "/rpc/stable_fn"), ["get", "post"]);

    // every $ref points at something in the document
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"").skip(1).map(|t| &t[..t.find('"').unwrap()]) {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "dangling {r}");
    }
}
