//! Test harness: a real PostgreSQL cluster (started by scripts/test.sh, port in
//! `BKND_TEST_PG_PORT`), one fresh database with the extension per test.

pub mod argon2_bench;
pub mod cluster;
pub mod conformance;
pub mod jwt;
pub mod mail;
pub mod sidecar;
pub mod totp;
pub mod walkthrough;

use std::sync::atomic::{AtomicU32, Ordering};

pub use postgres::{Client, NoTls};

pub fn port() -> u16 {
    std::env::var("BKND_TEST_PG_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .expect("BKND_TEST_PG_PORT is not set: run the tests with `make test`")
}

pub fn url(user: &str, database: &str) -> String {
    format!("postgres://{user}@127.0.0.1:{}/{database}", port())
}

pub fn connect(user: &str, database: &str) -> Client {
    Client::connect(&url(user, database), NoTls).unwrap_or_else(|e| panic!("connect as {user} to {database}: {e}"))
}

/// A database of its own with `CREATE EXTENSION bknd`, dropped at the end of the test.
pub struct TestDb {
    pub name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub fn new(label: &str) -> TestDb {
        // scripts/test.sh installs the extension once in a template database: a copy is faster
        // than CREATE EXTENSION per test (the copies share its generated secrets)
        match std::env::var("BKND_TEST_TEMPLATE") {
            Ok(template) if !template.is_empty() => Self::create_from(label, &template),
            _ => Self::installed(label),
        }
    }

    /// A database where `CREATE EXTENSION bknd` itself ran (its own secrets).
    pub fn installed(label: &str) -> TestDb {
        Self::create(label, Some("CREATE EXTENSION bknd"))
    }

    /// A database without the extension (a restore target).
    pub fn empty(label: &str) -> TestDb {
        Self::create(label, None)
    }

    /// A database with an earlier release of the extension (an upgrade's starting point; the
    /// install scripts of earlier releases are kept in sql/archive).
    pub fn at_version(label: &str, version: &str) -> TestDb {
        Self::create(label, Some(&format!("CREATE EXTENSION bknd VERSION '{version}'")))
    }

    fn create_from(label: &str, template: &str) -> TestDb {
        Self::make(label, &format!("TEMPLATE {template}"), None)
    }

    fn create(label: &str, extension: Option<&str>) -> TestDb {
        Self::make(label, "", extension)
    }

    fn make(label: &str, create_options: &str, extension: Option<&str>) -> TestDb {
        let name = format!("t_{label}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut admin = connect("postgres", "postgres");
        // Roles are cluster-wide: create extensions one at a time across all test processes.
        admin.execute("SELECT pg_advisory_lock(4242)", &[]).unwrap();
        let result = (|| -> Result<(), postgres::Error> {
            admin.batch_execute(&format!("CREATE DATABASE {name} {create_options}"))?;
            if let Some(statement) = extension {
                connect("postgres", &name).batch_execute(statement)?;
            }
            Ok(())
        })();
        admin.execute("SELECT pg_advisory_unlock(4242)", &[]).unwrap();
        result.unwrap_or_else(|e| panic!("create test database {name}: {e}"));
        TestDb { name }
    }

    /// A superuser connection.
    pub fn admin(&self) -> Client {
        connect("postgres", &self.name)
    }

    pub fn connect_as(&self, user: &str) -> Client {
        connect(user, &self.name)
    }

    /// Evaluate `sql` (an expression giving json/jsonb) as the holder of `token` (None: anon),
    /// through authenticator, in one committed transaction.
    pub fn call_as(&self, token: Option<&str>, sql: &str) -> serde_json::Value {
        let mut c = self.connect_as("authenticator");
        let mut tx = c.transaction().unwrap();
        tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
        let text: String = tx.query_one(&format!("SELECT ({sql})::text"), &[]).unwrap().get(0);
        tx.commit().unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Run `a` and `b` at once, as two racing requests: `table` is locked against writes until
    /// both have had time to reach their first write to it, so each has read what it reads
    /// before either writes.
    pub fn racing<A: Send, B: Send>(&self, table: &str, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
        let mut holder = self.admin();
        let mut tx = holder.transaction().unwrap();
        tx.batch_execute(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")).unwrap();
        std::thread::scope(|s| {
            let (a, b) = (s.spawn(a), s.spawn(b));
            std::thread::sleep(std::time::Duration::from_millis(700));
            tx.commit().unwrap();
            (a.join().unwrap(), b.join().unwrap())
        })
    }

    /// Sign claims with the database's secret (as superuser, through bknd.jwt_sign).
    pub fn token(&self, claims: serde_json::Value) -> String {
        self.admin().query_one("SELECT bknd.jwt_sign($1::text::jsonb)", &[&claims.to_string()]).unwrap().get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // keep it for a look
        }
        if let Ok(mut admin) = Client::connect(&url("postgres", "postgres"), NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The SQLSTATE of an error, or "" when the error has none.
pub fn sqlstate(e: &postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

/// Run `sql` expecting failure with `code`; returns the message.
pub fn expect_error(client: &mut Client, sql: &str, code: &str) -> String {
    match client.batch_execute(sql) {
        Ok(()) => panic!("expected SQLSTATE {code} from: {sql}"),
        Err(e) => {
            let message = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
            assert_eq!(sqlstate(&e), code, "wrong SQLSTATE for {sql}: {message}");
            message
        }
    }
}

/// A single jsonb value from a query.
pub fn json(client: &mut Client, sql: &str) -> serde_json::Value {
    let text: String = client.query_one(&format!("SELECT ({sql})::text"), &[]).unwrap().get(0);
    serde_json::from_str(&text).unwrap()
}

pub fn scalar_i64(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

pub fn scalar_string(client: &mut Client, sql: &str) -> Option<String> {
    client.query_one(sql, &[]).unwrap().get(0)
}
