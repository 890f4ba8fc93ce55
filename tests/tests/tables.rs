//! Dynamic tables: create_table and friends, their validation, and the schema history.

use bknd_tests::*;
use serde_json::{json, Value};

const POSTS: &str = r#"{"title": {"type": "text", "required": true, "max_length": 200, "description": "Headline"},
  "body": {"type": "text"}, "views": {"type": "integer", "default": 0, "min": 0},
  "tags": {"type": "array", "items": "text"}, "status": {"type": "enum", "values": ["draft","published"]},
  "author": {"type": "reference", "table": "authors", "on_delete": "cascade"}}"#;

fn create(c: &mut Client, name: &str, columns: &str) -> Value {
    json(c, &format!("bknd.create_table('{name}', '{}')", columns.replace('\'', "''")))
}

fn relations(c: &mut Client) -> i64 {
    scalar_i64(c, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")
}

#[test]
fn create_table_builds_the_issue_example() {
    let db = TestDb::new("create");
    let mut c = db.admin();
    create(&mut c, "authors", r#"{"name": {"type": "text", "required": true, "unique": true}}"#);
    let posts = create(&mut c, "posts", POSTS);

    let columns: Vec<(String, String)> = posts["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|col| (col["name"].as_str().unwrap().to_string(), col["type"].as_str().unwrap().to_string()))
        .collect();
    for expected in [
        ("id", "uuid"),
        ("title", "text"),
        ("body", "text"),
        ("views", "integer"),
        ("tags", "text[]"),
        ("status", "text"),
        ("author", "uuid"),
        ("owner_id", "uuid"),
        ("created_at", "timestamp with time zone"),
        ("updated_at", "timestamp with time zone"),
    ] {
        assert!(columns.contains(&(expected.0.to_string(), expected.1.to_string())), "missing {expected:?} in {columns:?}");
    }
    assert_eq!(posts["rls_enabled"], true);
    assert_eq!(posts["primary_key"], json!(["id"]));
    assert_eq!(posts["policies"], json!([]));
    let title = posts["columns"].as_array().unwrap().iter().find(|c| c["name"] == "title").unwrap();
    assert_eq!(title["description"], "Headline");
    assert_eq!(title["nullable"], false);
    let fk = &posts["foreign_keys"][0];
    assert_eq!(fk["references"]["table"], "authors");
    assert_eq!(fk["on_delete"], "cascade");
    let checks: Vec<String> = posts["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    for name in ["posts_title_max_length", "posts_views_min", "posts_status_enum"] {
        assert!(checks.contains(&name.to_string()), "{name} missing from {checks:?}");
    }

    // the constraints are real
    c.batch_execute("INSERT INTO authors (name) VALUES ('ann')").unwrap();
    let author: String = c.query_one("SELECT id::text FROM authors", &[]).unwrap().get(0);
    let insert = |title: &str, extra: &str| {
        format!(
            "INSERT INTO posts (title, author{}) VALUES ('{title}', '{author}'{})",
            if extra.is_empty() { "" } else { ", status" },
            if extra.is_empty() { String::new() } else { format!(", '{extra}'") }
        )
    };
    c.batch_execute(&insert("hello", "draft")).unwrap();
    expect_error(&mut c, &insert(&"x".repeat(201), ""), "23514");
    expect_error(&mut c, &insert("t", "archived"), "23514");
    expect_error(&mut c, "INSERT INTO posts (body) VALUES ('no title')", "23502");
    expect_error(&mut c, "INSERT INTO posts (title, views) VALUES ('t', -1)", "23514");
    expect_error(&mut c, "INSERT INTO authors (name) VALUES ('ann')", "23505");
    let row = c.query_one("SELECT views, tags IS NULL, owner_id IS NULL, created_at = updated_at FROM posts", &[]).unwrap();
    assert_eq!(row.get::<_, i32>(0), 0);
    // updated_at is kept by the trigger, created_at cannot be rewritten
    c.batch_execute("UPDATE posts SET body = 'b', created_at = '2000-01-01'").unwrap();
    let row = c.query_one("SELECT updated_at > created_at, created_at > '2001-01-01' FROM posts", &[]).unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    // on_delete cascade
    c.batch_execute("DELETE FROM authors").unwrap();
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM posts"), 0);
    // grants for the API roles, and an index on owner_id and on the reference
    assert_eq!(
        scalar_string(&mut c, "SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants WHERE table_name = 'posts' AND grantee = 'anon'"),
        Some("DELETE,INSERT,SELECT,UPDATE".into())
    );
    let indexes =
        scalar_string(&mut c, "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'posts'").unwrap();
    assert!(indexes.contains("posts_owner_id_idx") && indexes.contains("posts_author_idx"), "{indexes}");
}

#[test]
fn every_type_and_attribute() {
    let db = TestDb::new("types");
    let mut c = db.admin();
    let t = create(
        &mut c,
        "everything",
        r#"[
      {"name": "a_text", "type": "text", "pattern": "^[a-z]+$", "min_length": 2, "default": "ab"},
      {"name": "a_int", "type": "integer", "max": 10},
      {"name": "a_big", "type": "bigint", "default": 5000000000},
      {"name": "a_num", "type": "number", "min": -1.5},
      {"name": "a_dec", "type": "numeric", "default": 1.25},
      {"name": "a_bool", "type": "boolean", "default": true},
      {"name": "a_date", "type": "date"},
      {"name": "a_ts", "type": "timestamp", "default": "now()"},
      {"name": "a_uuid", "type": "uuid", "default": "gen_random_uuid()", "unique": true},
      {"name": "a_json", "type": "json", "default": {"k": [1, 2]}},
      {"name": "a_arr", "type": "array", "items": "integer", "default": [1, 2, 3]},
      {"name": "who", "type": "uuid", "default": "bknd.uid()"}
    ]"#,
    );
    let names: Vec<&str> = t["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        &names[1..13],
        &["a_text", "a_int", "a_big", "a_num", "a_dec", "a_bool", "a_date", "a_ts", "a_uuid", "a_json", "a_arr", "who"]
    );
    c.batch_execute("INSERT INTO everything DEFAULT VALUES").unwrap();
    let row = c
        .query_one(
            "SELECT a_text, a_big, a_bool, a_json::text, array_length(a_arr, 1), a_uuid IS NOT NULL, a_ts IS NOT NULL FROM everything",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ab");
    assert_eq!(row.get::<_, i64>(1), 5_000_000_000);
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, String>(3), r#"{"k": [1, 2]}"#);
    assert_eq!(row.get::<_, i32>(4), 3);
    expect_error(&mut c, "INSERT INTO everything (a_text) VALUES ('ABC')", "23514");
    expect_error(&mut c, "INSERT INTO everything (a_text) VALUES ('a')", "23514");
    expect_error(&mut c, "INSERT INTO everything (a_int) VALUES (11)", "23514");
    expect_error(&mut c, "INSERT INTO everything (a_num) VALUES (-2)", "23514");
    // options: no system columns, bigint ids, another schema
    c.batch_execute("CREATE SCHEMA app").unwrap();
    let plain = json(
        &mut c,
        r#"bknd.create_table('plain', '{"x": {"type": "text"}}', '{"id": "bigint", "timestamps": false, "owner": false, "schema": "app", "description": "a plain table"}')"#,
    );
    let names: Vec<&str> = plain["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["id", "x"]);
    assert_eq!(plain["schema"], "app");
    assert_eq!(plain["description"], "a plain table");
    c.batch_execute("INSERT INTO app.plain (x) VALUES ('a'), ('b')").unwrap();
    assert_eq!(scalar_i64(&mut c, "SELECT max(id) FROM app.plain"), 2);
}

#[test]
fn bad_specifications_are_refused_and_create_nothing() {
    let db = TestDb::new("bad_specs");
    let mut c = db.admin();
    let before = relations(&mut c);
    for (columns, options, code) in [
        (r#"{"x": {"type": "text", "max": 3}}"#, "{}", "22023"),
        (r#"{"x": {"type": "integer", "pattern": "a"}}"#, "{}", "22023"),
        (r#"{"x": {"type": "varchar"}}"#, "{}", "22023"),
        (r#"{"x": {"type": "text", "colour": "red"}}"#, "{}", "22023"),
        (r#"{"x": {}}"#, "{}", "22023"),
        (r#"{"x": "text"}"#, "{}", "22023"),
        (r#"{"x": {"type": "enum", "values": []}}"#, "{}", "22023"),
        (r#"{"x": {"type": "enum", "values": ["a", "a"]}}"#, "{}", "22023"),
        (r#"{"x": {"type": "array", "items": "array"}}"#, "{}", "22023"),
        (r#"{"x": {"type": "integer", "min": 5, "max": 1}}"#, "{}", "22023"),
        (r#"{"x": {"type": "text", "pattern": "("}}"#, "{}", "2201B"),
        (r#"{"x": {"type": "reference", "table": "nowhere"}}"#, "{}", "42P01"),
        (r#"{"x": {"type": "reference", "table": "t", "on_delete": "explode"}}"#, "{}", "22023"),
        (r#"{"x": {"type": "integer", "default": "abc"}}"#, "{}", "22P02"),
        (r#"{"id": {"type": "text"}}"#, "{}", "42701"),
        (r#"{"owner_id": {"type": "text"}}"#, "{}", "42701"),
        (r#"{"x": {"type": "text"}}"#, r#"{"schema": "nope"}"#, "3F000"),
        (r#"{"x": {"type": "text"}}"#, r#"{"colour": 1}"#, "22023"),
        (r#"[1]"#, "{}", "22023"),
        (r#"5"#, "{}", "22023"),
    ] {
        let sql = format!("SELECT bknd.create_table('t', '{}', '{options}')", columns.replace('\'', "''"));
        expect_error(&mut c, &sql, code);
    }
    assert_eq!(relations(&mut c), before, "a refused create_table left something behind");
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM bknd.schema_history"), 0);
}

#[test]
fn hostile_names_get_a_clear_error_and_create_nothing() {
    let db = TestDb::new("hostile");
    let mut c = db.admin();
    c.batch_execute("CREATE TABLE y (v int)").unwrap();
    let before = relations(&mut c);
    let long = "a".repeat(200);
    for name in [
        "x; drop table y",
        "x'",
        "x\"",
        "\"; drop table y; --",
        "pаsts", /* Cyrillic а */
        &long,
        "",
        "1abc",
        "select",
        "user",
        "pg_foo",
        "bknd_users",
        "a b",
        "a-b",
        "a.b.c",
        "tab\tle",
        "x\u{0}y",
    ] {
        let err = c.query_one("SELECT bknd.create_table($1, '{\"x\": {\"type\": \"text\"}}')", &[&name]).expect_err(name);
        let code = sqlstate(&err);
        assert!(code == "42602" || code == "22021", "name {name:?}: SQLSTATE {code}: {err}");
    }
    for column in ["x; drop table y", "xmin", "ctid", "sélect", "order"] {
        let columns = json!({ column: {"type": "text"} }).to_string();
        let err = c.query_one("SELECT bknd.create_table('t', $1::text::jsonb)", &[&columns]).expect_err(column);
        assert_eq!(sqlstate(&err), "42602", "column {column:?}: {err}");
    }
    assert_eq!(relations(&mut c), before);
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM y"), 0);
    // the longest accepted name still yields constraint names Postgres keeps whole
    let name = "n".repeat(48);
    let t = json(&mut c, &format!(r#"bknd.create_table('{name}', '{{"{name}": {{"type": "text", "max_length": 3, "unique": true}}}}')"#));
    for check in t["checks"].as_array().unwrap() {
        assert!(check["name"].as_str().unwrap().len() <= 63);
    }
    let names: Vec<&str> = t["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "two distinct derived names: {names:?}");
    expect_error(&mut c, &format!("SELECT bknd.create_table('{}', '{{}}')", "n".repeat(49)), "42602");
}

#[test]
fn concurrent_create_table_for_one_name_one_wins() {
    let db = TestDb::new("concurrent");
    let name = db.name.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let name = name.clone();
            std::thread::spawn(move || {
                let mut c = connect("postgres", &name);
                let mut tx = c.transaction().unwrap();
                let r = tx.query_one("SELECT bknd.create_table('race', '{\"x\": {\"type\": \"text\"}}')", &[]);
                // hold the lock a moment so the other call has to wait for it
                std::thread::sleep(std::time::Duration::from_millis(300));
                match r {
                    Ok(_) => tx.commit().map(|_| String::new()).map_err(|e| sqlstate(&e)),
                    Err(e) => Err(sqlstate(&e)),
                }
            })
        })
        .collect();
    let results: Vec<Result<String, String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.contains(&Err("42P07".into())), "{results:?}");
}

#[test]
fn alter_index_relation_describe_list_and_history() {
    let db = TestDb::new("alter");
    let mut c = db.admin();
    create(&mut c, "tags", r#"{"label": {"type": "text", "required": true}}"#);
    create(&mut c, "posts", r#"{"title": {"type": "text"}}"#);
    create(&mut c, "authors", r#"{"name": {"type": "text"}}"#);

    let t = json(&mut c, r#"bknd.add_column('posts', 'score', '{"type": "number", "min": 0, "description": "rank"}')"#);
    assert!(t["columns"].as_array().unwrap().iter().any(|c| c["name"] == "score" && c["description"] == "rank"));
    expect_error(&mut c, "INSERT INTO posts (score) VALUES (-1)", "23514");
    expect_error(&mut c, r#"SELECT bknd.add_column('posts', 'score', '{"type": "text"}')"#, "42701");
    expect_error(&mut c, r#"SELECT bknd.add_column('nope', 'x', '{"type": "text"}')"#, "42P01");

    json(&mut c, "bknd.rename_column('posts', 'score', 'rank')");
    expect_error(&mut c, "SELECT bknd.rename_column('posts', 'score', 'x')", "42703");
    expect_error(&mut c, "SELECT bknd.rename_column('posts', 'rank', 'title')", "42701");
    c.batch_execute("INSERT INTO posts (rank) VALUES (1)").unwrap();
    let t = json(&mut c, "bknd.drop_column('posts', 'rank')");
    assert!(!t["columns"].as_array().unwrap().iter().any(|c| c["name"] == "rank"));
    expect_error(&mut c, "SELECT bknd.drop_column('posts', 'id')", "42P16");
    expect_error(&mut c, "SELECT bknd.drop_column('posts', 'ghost')", "42703");

    let idx = json(&mut c, "bknd.create_index('posts', ARRAY['title'], true)");
    assert_eq!(idx["index"], "posts_title_key");
    json(&mut c, "bknd.create_index('posts', ARRAY['title'], true)"); // idempotent
    json(&mut c, "bknd.create_index('posts', ARRAY['title', 'created_at'])");
    expect_error(&mut c, "SELECT bknd.create_index('posts', ARRAY['nope'])", "42703");
    expect_error(&mut c, "SELECT bknd.create_index('posts', ARRAY['title'], false, 'bogus')", "22023");
    expect_error(&mut c, "SELECT bknd.create_index('posts', ARRAY[]::text[])", "22023");

    let rel = json(&mut c, "bknd.create_relation('posts', 'authors', 'many_to_one', '{\"on_delete\": \"set null\"}')");
    assert_eq!(rel["column"], "authors_id");
    json(&mut c, "bknd.create_relation('authors', 'tags', 'one_to_one')");
    expect_error(&mut c, "INSERT INTO tags (label) VALUES ('a'); INSERT INTO authors (tags_id) SELECT id FROM tags; INSERT INTO authors (tags_id) SELECT id FROM tags", "23505");
    let m2m = json(&mut c, "bknd.create_relation('posts', 'tags', 'many_to_many')");
    assert_eq!(m2m["junction"], "public.posts_tags");
    let junction = json(&mut c, "bknd.describe_table('posts_tags')");
    assert_eq!(junction["primary_key"], json!(["posts_id", "tags_id"]));
    assert_eq!(junction["rls_enabled"], true);
    assert_eq!(junction["foreign_keys"].as_array().unwrap().len(), 2);
    expect_error(&mut c, "SELECT bknd.create_relation('posts', 'tags', 'many_to_many')", "42P07");
    expect_error(&mut c, "SELECT bknd.create_relation('posts', 'tags', 'sideways')", "22023");

    let tables = json(&mut c, "bknd.list_tables()");
    let names: Vec<&str> = tables.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["authors", "posts", "posts_tags", "tags"]);

    json(&mut c, "bknd.drop_table('tags', true)");
    expect_error(&mut c, "SELECT bknd.describe_table('tags')", "42P01");

    let history = json(
        &mut c,
        "(SELECT jsonb_agg(jsonb_build_object('op', operation, 'by', by_role, 'ddl', ddl) ORDER BY id) FROM bknd.schema_history)",
    );
    let ops: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["op"].as_str().unwrap()).collect();
    assert_eq!(
        ops,
        vec![
            "create_table",
            "create_table",
            "create_table",
            "add_column",
            "rename_column",
            "drop_column",
            "create_index",
            "create_index",
            "create_index",
            "create_relation",
            "create_relation",
            "create_relation",
            "drop_table",
        ]
    );
    assert_eq!(history[0]["by"], "postgres");
    assert!(history[0]["ddl"][0].as_str().unwrap().starts_with("CREATE TABLE public.tags"));
}

#[test]
fn service_role_builds_the_schema_and_api_roles_cannot() {
    let db = TestDb::new("ddl_roles");
    let sub = "00000000-0000-0000-0000-0000000000aa";
    let service = db.token(json!({"role": "service_role", "sub": sub}));
    let user = db.token(json!({"sub": sub}));
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&service]).unwrap();
    tx.query_one("SELECT bknd.create_table('notes', '{\"body\": {\"type\": \"text\"}}')", &[]).unwrap();
    tx.commit().unwrap();
    let by: String = db.admin().query_one("SELECT by_role || '/' || by_sub FROM bknd.schema_history", &[]).unwrap().get(0);
    assert_eq!(by, format!("service_role/{sub}"));
    for token in [Some(user.as_str()), None] {
        let mut tx = c.transaction().unwrap();
        tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
        let err = tx.query_one("SELECT bknd.create_table('evil', '{\"x\": {\"type\": \"text\"}}')", &[]).unwrap_err();
        assert_eq!(sqlstate(&err), "42501");
        tx.rollback().unwrap();
        let mut tx = c.transaction().unwrap();
        tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
        assert_eq!(sqlstate(&tx.query_one("SELECT bknd.allow('notes', 'select', 'anon')", &[]).unwrap_err()), "42501");
        tx.rollback().unwrap();
        let mut tx = c.transaction().unwrap();
        tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
        assert_eq!(sqlstate(&tx.query_one("SELECT * FROM bknd.schema_history", &[]).unwrap_err()), "42501");
        tx.rollback().unwrap();
    }
}

#[test]
fn a_table_made_from_psql_is_manageable_through_the_api() {
    let db = TestDb::new("owner");
    let mut c = db.admin();
    create(&mut c, "notes", r#"{"body": {"type": "text"}}"#);
    let owner = scalar_string(&mut c, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'notes'");
    assert_eq!(owner.as_deref(), Some("service_role"));
    // service_role (the MCP tools, the console) manages it though a superuser made it
    let service = db.token(json!({"role": "service_role"}));
    db.call_as(Some(&service), "bknd.allow('notes', 'select', 'anon', 'true')");
    db.call_as(Some(&service), r#"bknd.add_column('notes', 'title', '{"type": "text"}')"#);
    db.call_as(Some(&service), "bknd.create_index('notes', '{title}')");
    db.call_as(Some(&service), "to_jsonb(bknd.drop_column('notes', 'title'))");
}

#[test]
fn adopt_table_brings_an_existing_table_under_bknd() {
    let db = TestDb::new("adopt");
    let mut c = db.admin();
    c.batch_execute("CREATE TABLE legacy (id serial PRIMARY KEY, body text); INSERT INTO legacy (body) VALUES ('old')").unwrap();
    let service = db.token(json!({"role": "service_role"}));
    let user = db.token(json!({"role": "authenticated", "sub": "aaaaaaaa-1111-4111-8111-000000000001"}));
    let read = |token: &str| {
        let mut api = db.connect_as("authenticator");
        let mut tx = api.transaction().unwrap();
        tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
        tx.query_one("SELECT count(*) FROM legacy", &[]).map(|r| r.get::<_, i64>(0)).map_err(|e| sqlstate(&e))
    };
    assert_eq!(read(&service), Err("42501".into()), "before: not even service_role");
    // service_role may not take a table it does not own; the DBA adopts it
    let mut api = db.connect_as("authenticator");
    let mut tx = api.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&service.as_str()]).unwrap();
    assert_eq!(tx.batch_execute("SELECT bknd.adopt_table('legacy')").map_err(|e| sqlstate(&e)), Err("42501".into()));
    drop(tx);
    let adopted = json(&mut c, r#"bknd.adopt_table('legacy', '{"timestamps": true}')"#);
    assert_eq!(adopted["rls_enabled"], true);
    assert_eq!(read(&service), Ok(1));
    assert_eq!(read(&user), Ok(0), "RLS on, no policy yet");
    db.call_as(Some(&service), "bknd.allow('legacy', 'select', 'authenticated', 'true')");
    assert_eq!(read(&user), Ok(1));
    let history = scalar_string(&mut c, "SELECT operation FROM bknd.schema_history ORDER BY id DESC OFFSET 1 LIMIT 1");
    assert_eq!(history.as_deref(), Some("adopt_table"));
    // the timestamps were added and updated_at follows updates
    c.batch_execute("UPDATE legacy SET body = 'new', updated_at = '2000-01-01'").unwrap();
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM legacy WHERE updated_at > now() - interval '1 minute'"), 1);
    expect_error(&mut c, "SELECT bknd.adopt_table('bknd.users')", "42602");
    expect_error(&mut c, "SELECT bknd.adopt_table('nope')", "42P01");
}
