//! RLS policy generation, and RLS end to end through bknd.authenticate.

use bknd_tests::*;
use serde_json::{json, Value};

const A: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const B: &str = "bbbbbbbb-0000-0000-0000-000000000002";

/// Run `sql` as the holder of `token` (None = anon) in one transaction; rows as JSON.
fn as_user(db: &TestDb, token: Option<&str>, sql: &str) -> Result<Vec<Value>, String> {
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&token]).map_err(|e| sqlstate(&e))?;
    let rows = tx.query(&format!("WITH r AS ({sql}) SELECT coalesce(jsonb_agg(r), '[]')::text FROM r"), &[]).map_err(|e| sqlstate(&e))?;
    tx.commit().map_err(|e| sqlstate(&e))?;
    let text: String = rows[0].get(0);
    Ok(serde_json::from_str::<Value>(&text).unwrap().as_array().unwrap().clone())
}

#[test]
fn owner_policies_keep_users_apart_and_anon_out() {
    let db = TestDb::new("rls");
    let mut admin = db.admin();
    admin.batch_execute("SELECT bknd.create_table('posts', '{\"title\": {\"type\": \"text\"}}')").unwrap();
    admin.batch_execute("SELECT bknd.allow('posts', 'all', 'authenticated', 'owner')").unwrap();
    let (a, b) = (db.token(json!({"sub": A})), db.token(json!({"sub": B})));

    // A inserts; owner_id defaults to A
    let rows = as_user(&db, Some(&a), "INSERT INTO posts (title) VALUES ('a1'), ('a2') RETURNING title, owner_id").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["owner_id"], A);
    as_user(&db, Some(&b), "INSERT INTO posts (title) VALUES ('b1') RETURNING id").unwrap();
    // nobody can insert a row in someone else's name (WITH CHECK)
    assert_eq!(
        as_user(&db, Some(&b), &format!("INSERT INTO posts (title, owner_id) VALUES ('x', '{A}') RETURNING id")).unwrap_err(),
        "42501"
    );

    let titles = |token: Option<&str>| -> Vec<String> {
        as_user(&db, token, "SELECT title FROM posts ORDER BY title")
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles(Some(&a)), vec!["a1", "a2"]);
    assert_eq!(titles(Some(&b)), vec!["b1"]);
    assert!(titles(None).is_empty(), "anon sees nothing without a policy");

    // B can neither update nor delete A's rows; A can
    assert!(as_user(&db, Some(&b), "UPDATE posts SET title = 'hacked' WHERE title = 'a1' RETURNING id").unwrap().is_empty());
    assert!(as_user(&db, Some(&b), "DELETE FROM posts WHERE title = 'a2' RETURNING id").unwrap().is_empty());
    // nor give their own row away
    assert_eq!(as_user(&db, Some(&b), &format!("UPDATE posts SET owner_id = '{A}' RETURNING id")).unwrap_err(), "42501");
    assert_eq!(as_user(&db, Some(&a), "UPDATE posts SET title = 'a1!' WHERE title = 'a1' RETURNING id").unwrap().len(), 1);
    assert_eq!(as_user(&db, Some(&a), "DELETE FROM posts WHERE title = 'a2' RETURNING id").unwrap().len(), 1);
    assert_eq!(titles(Some(&a)), vec!["a1!"]);
    assert_eq!(titles(Some(&b)), vec!["b1"]);

    // anon reads once allowed; still cannot write
    admin.batch_execute("SELECT bknd.allow('posts', 'select', 'anon')").unwrap();
    assert_eq!(titles(None), vec!["a1!", "b1"]);
    assert_eq!(as_user(&db, None, "INSERT INTO posts (title) VALUES ('anon') RETURNING id").unwrap_err(), "42501");
    // service_role bypasses RLS
    let service = db.token(json!({"role": "service_role"}));
    assert_eq!(as_user(&db, Some(&service), "SELECT title FROM posts").unwrap().len(), 2);
}

#[test]
fn allow_is_idempotent_and_revoke_removes() {
    let db = TestDb::new("allow");
    let mut c = db.admin();
    c.batch_execute("SELECT bknd.create_table('items', '{\"name\": {\"type\": \"text\"}}')").unwrap();
    let first = json(&mut c, "bknd.allow('items', 'select,insert', 'authenticated', 'owner')");
    let second = json(&mut c, "bknd.allow('items', 'insert, select', 'authenticated', 'owner')");
    assert_eq!(first, second);
    assert_eq!(first["policies"], json!(["bknd_select_authenticated_owner", "bknd_insert_authenticated_owner"]));
    let policies = json(&mut c, "bknd.policies('items')");
    assert_eq!(policies.as_array().unwrap().len(), 2);
    let insert = policies.as_array().unwrap().iter().find(|p| p["command"] == "insert").unwrap();
    assert!(insert["with_check"].as_str().unwrap().contains("uid()"), "{insert}");
    assert_eq!(insert["using"], Value::Null);
    assert_eq!(insert["roles"], json!(["authenticated"]));
    json(&mut c, "bknd.allow('items', 'update', 'authenticated', 'owner')");
    let update = json(&mut c, "bknd.policies('items')").as_array().unwrap().iter().find(|p| p["command"] == "update").cloned().unwrap();
    assert!(update["using"].is_string() && update["with_check"].is_string());
    json(&mut c, "bknd.allow('items', 'select', 'anon', 'true')");
    json(&mut c, "bknd.allow('items', 'select', 'authenticated', 'authenticated')");
    assert_eq!(json(&mut c, "bknd.policies('items')").as_array().unwrap().len(), 5);

    let dropped = json(&mut c, "bknd.revoke('items', 'select', 'authenticated', 'owner')");
    assert_eq!(dropped["dropped"], json!(["bknd_select_authenticated_owner"]));
    let dropped = json(&mut c, "bknd.revoke('items', 'all')");
    assert_eq!(dropped["dropped"].as_array().unwrap().len(), 3);
    assert_eq!(json(&mut c, "bknd.policies('items')").as_array().unwrap().len(), 1); // anon's select stays

    expect_error(&mut c, "SELECT bknd.allow('items', 'select', 'no_such_role')", "42704");
    expect_error(&mut c, "SELECT bknd.allow('items', 'truncate')", "22023");
    expect_error(&mut c, "SELECT bknd.allow('nope', 'select')", "42P01");
    c.batch_execute("SELECT bknd.create_table('ownerless', '{\"x\": {\"type\": \"text\"}}', '{\"owner\": false}')").unwrap();
    expect_error(&mut c, "SELECT bknd.allow('ownerless', 'select', 'authenticated', 'owner')", "42703");
}

#[test]
fn sql_rules_are_for_owners_and_cannot_smuggle_statements() {
    let db = TestDb::new("rules");
    let mut admin = db.admin();
    admin.batch_execute("SELECT bknd.create_table('docs', '{\"public\": {\"type\": \"boolean\", \"default\": false}}')").unwrap();
    admin.batch_execute("CREATE TABLE victim (v int)").unwrap();
    // a superuser may write an expression
    json(&mut admin, "bknd.allow('docs', 'select', 'anon', 'public = true')");
    admin.batch_execute("INSERT INTO docs (public) VALUES (true), (false)").unwrap();
    assert_eq!(as_user(&db, None, "SELECT id FROM docs").unwrap().len(), 1);
    // injection attempts: a second statement never runs
    for rule in [
        "true); DROP TABLE victim; --",
        "true) WITH CHECK (true); DROP TABLE victim; CREATE POLICY p ON docs USING (true",
        "true; DROP TABLE victim",
    ] {
        let err = admin.query_one("SELECT bknd.allow('docs', 'select', 'anon', $1)", &[&rule]).unwrap_err();
        assert!(["42601", "22023"].contains(&sqlstate(&err).as_str()), "{rule}: {err}");
    }
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM victim"), 0, "victim must still exist");
    // service_role does not own a table made outside bknd (postgres does): presets only
    admin.batch_execute("CREATE TABLE outside (public boolean); ALTER TABLE outside ENABLE ROW LEVEL SECURITY").unwrap();
    let service = db.token(json!({"role": "service_role"}));
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&service]).unwrap();
    let err = tx.query_one("SELECT bknd.allow('outside', 'select', 'authenticated', 'public')", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    tx.rollback().unwrap();
    // tables bknd made are service_role's, whoever made them (docs was made from psql)
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&service]).unwrap();
    tx.query_one("SELECT bknd.allow('docs', 'select', 'authenticated', 'public')", &[]).unwrap();
    tx.rollback().unwrap();
    // on a table service_role created (and so owns), it may
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&service]).unwrap();
    tx.query_one("SELECT bknd.create_table('own', '{\"flag\": {\"type\": \"boolean\"}}')", &[]).unwrap();
    tx.query_one("SELECT bknd.allow('own', 'select', 'authenticated', 'flag')", &[]).unwrap();
    tx.commit().unwrap();
}
