//! pg_dump of a database with bknd holds both the extension's own data and the user's tables;
//! restored into a new database, tables, rows, policies and the JWT secret all come back.

use bknd_tests::*;
use serde_json::json;
use std::process::Command;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

#[test]
fn dump_and_restore_keeps_user_tables_and_the_secret() {
    let source = TestDb::new("dump_src");
    let mut c = source.admin();
    c.batch_execute(
        "SELECT bknd.create_table('notes', '{\"body\": {\"type\": \"text\", \"required\": true}}');
         SELECT bknd.allow('notes', 'all', 'authenticated', 'owner');
         INSERT INTO notes (body) VALUES ('first'), ('second');
         SELECT bknd.configure_auth('{\"disable_signup\": true}');",
    )
    .unwrap();
    let token = source.token(json!({"sub": "00000000-0000-0000-0000-000000000009"}));
    // user tables are not extension members
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM pg_depend WHERE objid = 'notes'::regclass AND deptype = 'e'"), 0);

    let dump = Command::new(format!("{PG_BIN}/pg_dump"))
        .args(["-h", "127.0.0.1", "-p", &port().to_string(), "-U", "postgres", "--no-owner", &source.name])
        .output()
        .expect("run pg_dump");
    assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
    let sql = String::from_utf8(dump.stdout).unwrap();
    assert!(sql.contains("CREATE EXTENSION IF NOT EXISTS bknd"));
    assert!(sql.contains("CREATE TABLE public.notes"));
    assert!(sql.contains("bknd.secrets"), "the extension's config tables are dumped");

    let target = TestDb::empty("dump_dst");
    let restore = Command::new(format!("{PG_BIN}/psql"))
        .args(["-h", "127.0.0.1", "-p", &port().to_string(), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-d", &target.name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(sql.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run psql");
    assert!(restore.status.success(), "restore: {}", String::from_utf8_lossy(&restore.stderr));

    let mut r = target.admin();
    assert_eq!(scalar_i64(&mut r, "SELECT count(*) FROM notes"), 2);
    assert_eq!(json(&mut r, "bknd.policies('notes')").as_array().unwrap().len(), 4);
    assert_eq!(scalar_i64(&mut r, "SELECT count(*) FROM bknd.schema_history"), 2);
    assert_eq!(scalar_string(&mut r, "SELECT config ->> 'disable_signup' FROM bknd.auth_settings").as_deref(), Some("true"));
    // the secret came back: a token issued before the dump still verifies
    let mut api = target.connect_as("authenticator");
    api.query_one("SELECT bknd.jwt_verify($1)", &[&token]).unwrap();
    // and new history rows do not collide with restored ones
    r.batch_execute("SELECT bknd.add_column('notes', 'extra', '{\"type\": \"text\"}')").unwrap();
}
