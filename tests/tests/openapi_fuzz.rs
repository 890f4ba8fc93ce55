//! Schemathesis fuzzes the REST API from its own OpenAPI document (tests/e2e/fuzz_rest.py), as
//! service_role and as anon, on tables of every column type bknd makes, a view, functions and
//! policies: no 5xx, no response that breaks the documented schema, no panic in the sidecar.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bknd_tests::conformance::request;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const FIXTURE: &str = r#"
SELECT bknd.create_table('authors', '{"name": {"type": "text", "required": true}, "born": {"type": "date"}}');
SELECT bknd.create_table('items', '[{"name": "title", "type": "text", "required": true, "max_length": 80},
  {"name": "qty", "type": "integer", "default": 0}, {"name": "big", "type": "bigint"},
  {"name": "price", "type": "numeric"}, {"name": "ratio", "type": "number"},
  {"name": "done", "type": "boolean", "default": false}, {"name": "due", "type": "timestamp"},
  {"name": "meta", "type": "json"}, {"name": "tags", "type": "array", "items": "text"},
  {"name": "scores", "type": "array", "items": "integer"}, {"name": "ref", "type": "uuid"},
  {"name": "status", "type": "enum", "values": ["draft", "done"]},
  {"name": "author_id", "type": "reference", "table": "authors"}]');
SELECT bknd.create_table('secrets', '{"value": {"type": "text"}}');
REVOKE ALL ON public.secrets FROM anon;
SELECT bknd.allow('items', 'select', 'anon', 'qty > 10');
SELECT bknd.allow('authors', 'select', 'anon');
SELECT bknd.allow('authors', 'insert', 'anon');
CREATE TABLE public.codes (code varchar(8) PRIMARY KEY, n smallint NOT NULL, note text DEFAULT 'none');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.codes TO service_role;
GRANT SELECT ON public.codes TO anon;
CREATE VIEW public.cheap_items AS SELECT id, title, qty, price FROM public.items WHERE price < 10;
GRANT SELECT ON public.cheap_items TO anon, service_role;
CREATE FUNCTION public.add_them(a integer, b integer DEFAULT 1) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION public.items_over(min_qty integer) RETURNS SETOF public.items LANGUAGE sql STABLE
  AS 'SELECT * FROM public.items WHERE qty > min_qty';
REVOKE EXECUTE ON FUNCTION public.items_over(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.items_over(integer) TO service_role;
CREATE FUNCTION public.rename_author(author uuid, new_name text) RETURNS void LANGUAGE sql
  AS 'UPDATE public.authors SET name = new_name WHERE id = author';
INSERT INTO public.authors (name, born) VALUES ('Ann', '1970-01-02'), ('Bob', NULL);
INSERT INTO public.items (title, qty, big, price, ratio, done, due, meta, tags, scores, ref, status, author_id)
  SELECT 'item ' || i, i * 7, i * 1000000000000, i * 2.5, i / 3.0, i % 2 = 0, '2024-01-01'::timestamptz + i * interval '1 day',
         jsonb_build_object('i', i), ARRAY['t' || i], ARRAY[i, i + 1], gen_random_uuid(), 'draft',
         (SELECT id FROM public.authors ORDER BY name LIMIT 1)
  FROM generate_series(1, 5) i;
INSERT INTO public.items (title) VALUES ('bare');
INSERT INTO public.codes VALUES ('a1', 1, 'first'), ('b2', 2, NULL);
"#;

/// `bknd serve` with its stderr in a file, to look for panics afterwards.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(database_url: &str, log: PathBuf) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(bknd_tests::sidecar::binary())
            .args(["serve", "--database-url", database_url, "--listen", &format!("127.0.0.1:{port}")])
            .env("BKND_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start bknd serve");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "bknd serve did not start listening on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Served { child, base: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn schemathesis_finds_no_5xx_and_no_schema_break() {
    let python = repo().join(".tools/venv/bin/python");
    assert!(repo().join(".tools/venv/bin/schemathesis").exists(), "schemathesis missing: run `make test` (scripts/setup-clients.sh)");
    let db = TestDb::new("openapi_fuzz");
    db.admin().batch_execute(FIXTURE).unwrap();
    let log = std::env::temp_dir().join(format!("{}.sidecar.log", db.name));
    let sidecar = Served::start(&url("authenticator", &db.name), log.clone());
    let started = Instant::now();
    let out = Command::new(python)
        .arg(repo().join("tests/e2e/fuzz_rest.py"))
        .env("BKND_URL", &sidecar.base)
        .env("SERVICE_KEY", db.token(json!({"role": "service_role"})))
        .env("ANON_KEY", db.token(json!({"role": "anon"})))
        .output()
        .expect("run tests/e2e/fuzz_rest.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // the sidecar still serves after the run, and never panicked
    let health = ureq::get(&format!("{}/health", sidecar.base)).timeout(Duration::from_secs(5)).call();
    drop(sidecar);
    let sidecar_log = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(out.status.success(), "schemathesis found failures:\n{stdout}\n{stderr}\nsidecar log:\n{sidecar_log}");
    assert!(!sidecar_log.contains("panicked"), "the sidecar panicked:\n{sidecar_log}");
    assert!(health.is_ok(), "the sidecar stopped answering /health: {health:?}");
    assert!(stdout.contains("fuzz: no failure"), "{stdout}");
    eprintln!("fuzzing took {:?}\n{stdout}", started.elapsed());
}

/// What fuzzing found, kept as plain requests.
#[test]
fn an_insert_of_no_column_inserts_defaults() {
    let db = TestDb::new("openapi_fuzz_empty");
    db.admin().batch_execute("SELECT bknd.create_table('marks', '{\"note\": {\"type\": \"text\"}}')").unwrap();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let service = db.token(json!({"role": "service_role"}));
    let h = vec![
        ("Authorization".to_string(), format!("Bearer {service}")),
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Prefer".to_string(), "return=representation".to_string()),
    ];
    // `[]` was `INSERT INTO t () ...`: a syntax error (42601) answered as 400
    for (body, rows) in [("[]", 0), ("{}", 1), ("[{}, {}]", 2)] {
        let r = request(&sidecar.base, "POST", "/rest/v1/marks", &h, Some(body));
        assert_eq!(r.status, 201, "{body}: {}", r.body);
        let got: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(got.as_array().map(Vec::len), Some(rows), "{body}: {got}");
        assert!(got.as_array().unwrap().iter().all(|row| row["id"].is_string() && row["note"].is_null()), "{got}");
    }
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM public.marks"), 3);
}
