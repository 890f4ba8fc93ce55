//! Storage safety: rows no API role can forge, signatures that cannot be bent, hostile paths,
//! interrupted and oversized uploads that leave nothing, racing uploads to one name, and
//! memory that stays flat however large the file. storage-js, tus-js-client and S3 run in
//! e2e_clients.rs.

use std::io::{Read, Write};
use std::net::TcpStream;

use bknd_tests::conformance::request;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

const A: &str = "aaaaaaaa-1111-4111-8111-000000000001";
const B: &str = "bbbbbbbb-2222-4222-8222-000000000002";

fn storage_db(label: &str) -> TestDb {
    let db = TestDb::new(label);
    db.admin()
        .batch_execute(
            "SELECT bknd.create_bucket('files', false, 1048576);
             SELECT bknd.allow_storage('files', 'all', 'authenticated', 'folder');
             SELECT bknd.create_bucket('big');
             SELECT bknd.allow_storage('big', 'all', 'authenticated', 'folder');",
        )
        .unwrap();
    db
}

fn user(db: &TestDb, id: &str) -> String {
    db.token(json!({"sub": id, "role": "authenticated"}))
}

/// Run `sql` as the holder of `token`; the error's SQLSTATE, or "" on success.
fn outcome(db: &TestDb, token: &str, sql: &str) -> String {
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
    match tx.batch_execute(sql) {
        Ok(()) => {
            tx.commit().unwrap();
            String::new()
        }
        Err(e) => sqlstate(&e),
    }
}

#[test]
fn api_roles_cannot_forge_where_bytes_are_or_that_they_are_complete() {
    let db = storage_db("storage_forge");
    let a = user(&db, A);
    let begun = db.call_as(Some(&a), &format!("bknd.storage_begin_upload('files', '{A}/x.txt')"));
    let id = begun["id"].as_str().unwrap().to_string();
    for sql in [
        format!("INSERT INTO bknd.objects (bucket_id, name, status) VALUES ('files', '{A}/y.txt', 'ready')"),
        format!("INSERT INTO bknd.objects (bucket_id, name, version) VALUES ('files', '{A}/y.txt', gen_random_uuid())"),
        format!("UPDATE bknd.objects SET status = 'ready' WHERE id = '{id}'"),
        format!("UPDATE bknd.objects SET version = gen_random_uuid() WHERE id = '{id}'"),
        format!("UPDATE bknd.objects SET size = 1 WHERE id = '{id}'"),
        format!("UPDATE bknd.objects SET owner_id = '{B}' WHERE id = '{id}'"),
        // the bytes live under the bucket: a row may not move by UPDATE
        format!("UPDATE bknd.objects SET bucket_id = 'big' WHERE id = '{id}'"),
        format!("SELECT bknd.storage_finish_upload('{id}', 1, 'e', false)"),
        "SELECT bknd.storage_expire_uploads(0)".to_string(),
        "SELECT value FROM bknd.secrets WHERE name = 'storage_secret'".to_string(),
        "INSERT INTO bknd.buckets (id) VALUES ('mine')".to_string(),
        "SELECT bknd.allow_storage('files', 'select', 'anon', 'true')".to_string(),
    ] {
        assert_eq!(outcome(&db, &a, &sql), "42501", "{sql}");
    }
    // B cannot start an upload into A's folder, nor see A's pending upload
    assert_eq!(outcome(&db, &user(&db, B), &format!("SELECT bknd.storage_begin_upload('files', '{A}/z.txt')")), "42501");
    let seen = db.call_as(Some(&user(&db, B)), &format!("to_jsonb(bknd.storage_upload('{id}') IS NOT NULL)"));
    assert_eq!(seen, json!(false));
}

#[test]
fn signatures_are_bound_to_object_operation_and_time() {
    let db = storage_db("storage_sign");
    let (a, b) = (user(&db, A), user(&db, B));
    let path = format!("{A}/doc.txt");
    let up = db.call_as(Some(&a), &format!("bknd.storage_begin_upload('files', '{path}')"));
    db.admin().execute("SELECT bknd.storage_finish_upload($1::text::uuid, 3, 'e', false)", &[&up["id"].as_str().unwrap()]).unwrap();
    let signed = db.call_as(Some(&a), &format!("bknd.storage_sign('files', '{path}', 'download', 60)"));
    let token = signed["token"].as_str().unwrap().to_string();
    let verify = |t: &str, op: &str, p: &str| outcome(&db, "", &format!("SELECT bknd.storage_verify('{t}', '{op}', 'files', '{p}')"));
    let anon = db.token(json!({"role": "anon"}));
    let verify_anon =
        |t: &str, op: &str, p: &str| outcome(&db, &anon, &format!("SELECT bknd.storage_verify('{t}', '{op}', 'files', '{p}')"));
    let _ = verify;
    assert_eq!(verify_anon(&token, "download", &path), "");
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(verify_anon(&tampered, "download", &path), "28000");
    assert_eq!(verify_anon(&token, "download", &format!("{A}/other.txt")), "28000");
    assert_eq!(verify_anon(&token, "upload", &path), "28000");
    // a forged payload with the real signature
    let (_, sig) = token.split_once('.').unwrap();
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"op": "download", "b": "files", "n": format!("{B}/x"), "exp": 9999999999i64}).to_string());
    assert_eq!(verify_anon(&format!("{forged}.{sig}"), "download", &format!("{B}/x")), "28000");
    // expired
    let short =
        db.call_as(Some(&a), &format!("bknd.storage_sign('files', '{path}', 'download', 1)"))["token"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(verify_anon(&short, "download", &path), "28000");
    // B may not sign A's object; nobody signs for longer than a week
    assert_eq!(outcome(&db, &b, &format!("SELECT bknd.storage_sign('files', '{path}')")), "P0002");
    assert_eq!(outcome(&db, &a, &format!("SELECT bknd.storage_sign('files', '{path}', 'download', 100000000)")), "22023");
}

struct Server {
    db: TestDb,
    sidecar: Sidecar,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn server(label: &str) -> Server {
    let db = storage_db(label);
    let dir = std::env::temp_dir().join(format!("bknd-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sidecar = start_sidecar(&db, &dir);
    Server { db, sidecar, dir }
}

fn start_sidecar(db: &TestDb, dir: &std::path::Path) -> Sidecar {
    Sidecar::start(&url("authenticator", &db.name), &["--storage", &format!("file://{}", dir.display())])
}

/// Wait up to ten seconds for `done`.
fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

impl Server {
    fn files(&self) -> usize {
        fn count(p: &std::path::Path) -> usize {
            std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum()
        }
        count(&self.dir)
    }
    fn rows(&self) -> i64 {
        scalar_i64(&mut self.db.admin(), "SELECT count(*) FROM bknd.objects")
    }
    fn auth(&self, id: &str) -> Vec<(String, String)> {
        vec![("Authorization".into(), format!("Bearer {}", user(&self.db, id)))]
    }
}

#[test]
fn hostile_paths_are_refused_and_leave_nothing() {
    let s = server("storage_paths");
    for path in [
        "%2E%2E/x.txt".to_string(),
        format!("{A}/%2E%2E/%2E%2E/x.txt"),
        format!("{A}%2F..%2Fx.txt"),
        format!("{A}/nul%00.txt"),
        format!("{A}/ctl%01.txt"),
        format!("{A}//double.txt"),
        format!("{A}/./dot.txt"),
        format!("{A}/{}", "x".repeat(1100)),
    ] {
        let (status, body) = raw(&s, "POST", &format!("/storage/v1/object/files/{path}"), &user(&s.db, A), "data");
        assert_eq!(status, 400, "{path}: {status} {body}");
        let v: Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| panic!("{path}: not JSON: {body}"));
        assert!(v["message"].is_string() && v["statusCode"] == "400", "{body}");
    }
    // a bucket that does not exist, a bad token, a bad JSON body
    assert_eq!(request(&s.sidecar.base, "POST", &format!("/storage/v1/object/nope/{A}/x"), &s.auth(A), Some("x")).status, 404);
    let bad = vec![("Authorization".to_string(), "Bearer not.a.jwt".to_string())];
    assert_eq!(request(&s.sidecar.base, "POST", &format!("/storage/v1/object/files/{A}/x"), &bad, Some("x")).status, 400);
    assert_eq!(request(&s.sidecar.base, "POST", "/storage/v1/object/list/files", &s.auth(A), Some("{")).status, 400);
    assert_eq!((s.rows(), s.files()), (0, 0));
    // Unicode is normalised: two spellings of one name are one object
    let composed = request(&s.sidecar.base, "POST", &format!("/storage/v1/object/files/{A}/caf%C3%A9.txt"), &s.auth(A), Some("1"));
    assert_eq!(composed.status, 200, "{}", composed.body);
    let decomposed = request(&s.sidecar.base, "POST", &format!("/storage/v1/object/files/{A}/cafe%CC%81.txt"), &s.auth(A), Some("2"));
    assert_eq!(decomposed.status, 409, "{}", decomposed.body);
}

/// One raw HTTP/1.1 request, the path sent exactly as given (clients normalise `%2E%2E`):
/// (status, body).
fn raw(s: &Server, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let addr = s.sidecar.base.trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A raw HTTP upload that stops after `sent` of `declared` bytes and hangs up.
fn cut_off_upload(s: &Server, path: &str, declared: usize, sent: usize) {
    let addr = s.sidecar.base.trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    let token = user(&s.db, A);
    let head = format!(
        "POST /storage/v1/object/big/{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut n = 0;
    while n < sent {
        let k = chunk.len().min(sent - n);
        tcp.write_all(&chunk[..k]).unwrap();
        n += k;
    }
    tcp.flush().unwrap();
    drop(tcp);
}

#[test]
fn interrupted_and_oversized_uploads_leave_no_row_and_no_bytes() {
    let s = server("storage_cut");
    cut_off_upload(&s, &format!("{A}/cut-small.bin"), 1_000_000, 100_000);
    cut_off_upload(&s, &format!("{A}/cut-large.bin"), 40_000_000, 20_000_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while (s.rows(), s.files()) != (0, 0) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!((s.rows(), s.files()), (0, 0), "an interrupted upload left something");
    // over the bucket's limit (1 MiB), with no Content-Length to warn: 413 mid-stream
    let addr = s.sidecar.base.trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    let token = user(&s.db, A);
    let head = format!(
        "POST /storage/v1/object/files/{A}/huge.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).unwrap();
    let chunk = vec![1u8; 256 * 1024];
    for _ in 0..8 {
        if tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
            || tcp.write_all(&chunk).is_err()
            || tcp.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n");
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!((s.rows(), s.files()), (0, 0));
}

/// One raw HTTP/1.1 request with extra headers: (status, head of the answer).
fn raw_head(s: &Server, method: &str, path: &str, headers: &str) -> (u16, String) {
    let addr = s.sidecar.base.trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    let token = user(&s.db, A);
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer.to_lowercase())
}

#[test]
fn a_resumable_patch_cut_off_keeps_every_byte_that_arrived() {
    let s = server("storage_tus_cut");
    let total = 20 * 1024 * 1024;
    let meta = |k: &str, v: &str| format!("{k} {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v));
    let metadata = [meta("bucketName", "big"), meta("objectName", &format!("{A}/resumed.bin"))].join(",");
    let (status, head) =
        raw_head(&s, "POST", "/storage/v1/upload/resumable", &format!("Upload-Length: {total}\r\nUpload-Metadata: {metadata}\r\n"));
    assert_eq!(status, 201, "{head}");
    let location = head.lines().find_map(|l| l.strip_prefix("location: ")).unwrap().trim().to_string();
    let path = location.split_once("/storage/").map(|(_, p)| format!("/storage/{p}")).unwrap();
    // a PATCH that declares everything, sends 10 MiB + 5 bytes and hangs up: all of it is kept
    let sent = 10 * 1024 * 1024 + 5;
    let addr = s.sidecar.base.trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    let token = user(&s.db, A);
    let patch = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {total}\r\n\r\n"
    );
    tcp.write_all(patch.as_bytes()).unwrap();
    tcp.write_all(&vec![3u8; sent]).unwrap();
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    drop(tcp);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let offset = loop {
        let (status, head) = raw_head(&s, "HEAD", &path, "");
        assert_eq!(status, 200, "{head}");
        let offset: usize = head.lines().find_map(|l| l.strip_prefix("upload-offset: ")).unwrap().trim().parse().unwrap();
        if offset == sent || std::time::Instant::now() > deadline {
            break offset;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(offset, sent, "the server kept {offset} of the {sent} bytes that arrived");
    // not an object yet
    assert_eq!(scalar_i64(&mut s.db.admin(), "SELECT count(*) FROM bknd.objects WHERE status = 'ready'"), 0);
}

#[test]
fn empty_files_upload_and_download_raw_and_as_forms() {
    let s = server("storage_empty");
    let token = user(&s.db, A);
    let (status, body) = raw(&s, "POST", &format!("/storage/v1/object/files/{A}/empty.txt"), &token, "");
    assert_eq!(status, 200, "{body}");
    // storage-js sends a form: text fields, then the file (here empty, then a short one)
    let addr = s.sidecar.base.trim_start_matches("http://").to_string();
    for (name, content) in [("empty-form.txt", ""), ("form.txt", "form bytes")] {
        let form = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n{content}\r\n--XyZ--\r\n"
        );
        let mut tcp = TcpStream::connect(&addr).unwrap();
        let head = format!(
            "POST /storage/v1/object/files/{A}/{name} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            form.len()
        );
        tcp.write_all(head.as_bytes()).unwrap();
        tcp.write_all(form.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
    }
    for (name, content) in [("empty.txt", ""), ("empty-form.txt", ""), ("form.txt", "form bytes")] {
        let got = request(&s.sidecar.base, "GET", &format!("/storage/v1/object/files/{A}/{name}"), &s.auth(A), None);
        assert_eq!((got.status, got.body.as_str()), (200, content), "{name}");
    }
    assert_eq!((s.rows(), s.files()), (3, 3));
}

#[test]
fn racing_uploads_to_one_name_give_one_object() {
    let s = server("storage_race");
    let path = format!("/storage/v1/object/files/{A}/race.txt");
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (base, auth, path) = (s.sidecar.base.clone(), s.auth(A), path.clone());
                scope.spawn(move || request(&base, "POST", &path, &auth, Some(&format!("writer {i}"))).status)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|s| **s == 200).count(), 1, "{results:?}");
    assert!(results.iter().all(|s| *s == 200 || *s == 409), "{results:?}");
    assert_eq!(s.rows(), 1);
    assert_eq!(s.files(), 1, "the losers' bytes were not removed");
}

#[test]
fn memory_stays_flat_uploading_and_downloading_300_mib() {
    let s = server("storage_rss");
    let size: usize = 300 * 1024 * 1024;
    let addr = s.sidecar.base.trim_start_matches("http://").to_string();
    let token = user(&s.db, A);
    let mut tcp = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /storage/v1/object/big/{A}/large.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).unwrap();
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    for _ in 0..size / chunk.len() {
        tcp.write_all(&chunk).unwrap();
    }
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let mut tcp = TcpStream::connect(&addr).unwrap();
    let get = format!(
        "GET /storage/v1/object/big/{A}/large.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(get.as_bytes()).unwrap();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut total = 0usize;
    loop {
        let n = tcp.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert!(total > size, "downloaded {total} bytes with headers, expected more than {size}");
    let peak = s.sidecar.peak_rss();
    assert!(peak > 0 && peak < 100 * 1024 * 1024, "peak RSS {} MiB", peak / 1024 / 1024);
}

/// Rows deleted straight from SQL (as a user the policies let delete them) leave no bytes
/// behind: the sidecar deletes them at start and every minute, and only theirs.
#[test]
fn bytes_of_objects_deleted_from_sql_are_deleted_too() {
    let mut s = server("storage_garbage");
    for name in ["gone.txt", "kept.txt"] {
        let up = request(&s.sidecar.base, "POST", &format!("/storage/v1/object/files/{A}/{name}"), &s.auth(A), Some(name));
        assert_eq!(up.status, 200, "{}", up.body);
    }
    assert_eq!((s.rows(), s.files()), (2, 2));
    assert_eq!(outcome(&s.db, &user(&s.db, A), &format!("DELETE FROM bknd.objects WHERE name = '{A}/gone.txt'")), "");
    // B's policies do not reach A's folder: nothing of A's goes
    assert_eq!(outcome(&s.db, &user(&s.db, B), &format!("DELETE FROM bknd.objects WHERE name = '{A}/kept.txt'")), "");
    assert_eq!((s.rows(), s.files()), (1, 2));
    let mut admin = s.db.admin();
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.storage_garbage"), 1);
    assert_eq!(outcome(&s.db, &user(&s.db, A), "SELECT count(*) FROM bknd.storage_garbage"), "42501");
    // a sidecar sweeps at start
    s.sidecar = start_sidecar(&s.db, &s.dir);
    wait_until(|| s.files() == 1);
    assert_eq!((s.rows(), s.files()), (1, 1));
    let kept = request(&s.sidecar.base, "GET", &format!("/storage/v1/object/authenticated/files/{A}/kept.txt"), &s.auth(A), None);
    assert_eq!((kept.status, kept.body.as_str()), (200, "kept.txt"));
    wait_until(|| scalar_i64(&mut admin, "SELECT count(*) FROM bknd.storage_garbage") == 0);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.storage_garbage"), 0);
}

/// A signed upload URL is made before the file is chosen: the PUT's content type,
/// cache-control and metadata (storage-js's uploadToSignedUrl sends them) are the object's.
#[test]
fn a_signed_upload_keeps_what_its_request_says_of_the_file() {
    let s = server("storage_signed_meta");
    let signed = request(&s.sidecar.base, "POST", &format!("/storage/v1/object/upload/sign/files/{A}/cc.md"), &s.auth(A), None);
    assert_eq!(signed.status, 200, "{}", signed.body);
    let url = serde_json::from_str::<Value>(&signed.body).unwrap()["url"].as_str().unwrap().to_string();
    use base64::Engine;
    let metadata = base64::engine::general_purpose::STANDARD.encode(r#"{"owner": "a"}"#);
    let headers = vec![
        ("Content-Type".to_string(), "text/markdown".to_string()),
        ("Cache-Control".to_string(), "max-age=120".to_string()),
        ("x-metadata".to_string(), metadata),
    ];
    let put = request(&s.sidecar.base, "PUT", &format!("/storage/v1{url}"), &headers, Some("# hi"));
    assert_eq!(put.status, 200, "{}", put.body);
    let got = request(&s.sidecar.base, "GET", &format!("/storage/v1/object/authenticated/files/{A}/cc.md"), &s.auth(A), None);
    let header = |name: &str| got.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    assert_eq!((got.status, got.body.as_str()), (200, "# hi"));
    assert_eq!(header("cache-control").as_deref(), Some("max-age=120"));
    assert_eq!(header("content-type").as_deref(), Some("text/markdown"));
    let info = request(&s.sidecar.base, "GET", &format!("/storage/v1/object/info/files/{A}/cc.md"), &s.auth(A), None);
    assert_eq!(serde_json::from_str::<Value>(&info.body).unwrap()["metadata"], json!({"owner": "a"}));
}

/// A crash in the middle of an upload leaves its staging file (`<version>#<digits>`): a
/// sidecar removes those idle for a day when it starts, and nothing else.
#[test]
fn staging_files_a_crash_left_are_removed_at_start() {
    let mut s = server("storage_staging");
    let up = request(&s.sidecar.base, "POST", &format!("/storage/v1/object/files/{A}/kept.txt"), &s.auth(A), Some("kept"));
    assert_eq!(up.status, 200, "{}", up.body);
    let bucket = s.dir.join("files");
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86400);
    let put = |name: &str, modified: Option<std::time::SystemTime>| {
        let f = std::fs::File::create(bucket.join(name)).unwrap();
        if let Some(t) = modified {
            f.set_modified(t).unwrap();
        }
    };
    put("aaaaaaaa-0000-4000-8000-000000000000#1234567", Some(two_days_ago));
    put("bbbbbbbb-0000-4000-8000-000000000000#7654321", None); // an upload under way
    put("not-ours#draft", Some(two_days_ago));
    assert_eq!(s.files(), 4);
    s.sidecar = start_sidecar(&s.db, &s.dir);
    wait_until(|| !bucket.join("aaaaaaaa-0000-4000-8000-000000000000#1234567").exists());
    assert!(!bucket.join("aaaaaaaa-0000-4000-8000-000000000000#1234567").exists());
    assert!(bucket.join("bbbbbbbb-0000-4000-8000-000000000000#7654321").exists());
    assert!(bucket.join("not-ours#draft").exists());
    let kept = request(&s.sidecar.base, "GET", &format!("/storage/v1/object/authenticated/files/{A}/kept.txt"), &s.auth(A), None);
    assert_eq!((kept.status, kept.body.as_str()), (200, "kept"));
}

// The audit's probes (issue 14): takeovers, oracles, lost moves, 500s on bad input.

fn with(mut headers: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    headers
}

/// A TUS upload of `bytes` to `bucket`/`name` created as `id` (with `upsert`): its path.
fn tus_create(s: &Server, id: &str, bucket: &str, name: &str, bytes: usize, upsert: bool) -> (u16, String) {
    use base64::Engine;
    let meta = |k: &str, v: &str| format!("{k} {}", base64::engine::general_purpose::STANDARD.encode(v));
    let metadata = [meta("bucketName", bucket), meta("objectName", name)].join(",");
    let headers = with(
        s.auth(id),
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Length", &bytes.to_string()),
            ("Upload-Metadata", &metadata),
            ("x-upsert", if upsert { "true" } else { "false" }),
        ],
    );
    let r = request(&s.sidecar.base, "POST", "/storage/v1/upload/resumable", &headers, Some(""));
    let location = r.headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v.clone()).unwrap_or_default();
    (r.status, location.split_once("/storage/").map(|(_, p)| format!("/storage/{p}")).unwrap_or_default())
}

fn read_as(s: &Server, id: &str, bucket: &str, name: &str) -> (u16, String) {
    let r = request(&s.sidecar.base, "GET", &format!("/storage/v1/object/authenticated/{bucket}/{name}"), &s.auth(id), None);
    (r.status, r.body)
}

#[test]
fn an_upload_replaces_only_the_object_it_was_allowed_to_replace_when_it_began() {
    let s = server("storage_replace_bound");
    s.db.admin()
        .batch_execute("SELECT bknd.create_bucket('shared'); SELECT bknd.allow_storage('shared', 'all', 'authenticated', 'owner');")
        .unwrap();
    let base = &s.sidecar.base;
    // B signs an upload URL with x-upsert for a name nobody holds yet, and starts a TUS upload
    let signed = request(base, "POST", "/storage/v1/object/upload/sign/shared/doc.txt", &with(s.auth(B), &[("x-upsert", "true")]), None);
    assert_eq!(signed.status, 200, "{}", signed.body);
    let signed_url = serde_json::from_str::<Value>(&signed.body).unwrap()["url"].as_str().unwrap().to_string();
    let (created, tus_path) = tus_create(&s, B, "shared", "tus.txt", 3, true);
    assert_eq!(created, 201);
    // then A uploads both names
    for name in ["doc.txt", "tus.txt"] {
        assert_eq!(request(base, "POST", &format!("/storage/v1/object/shared/{name}"), &s.auth(A), Some("A's")).status, 200);
    }
    // B's direct overwrite is refused, and so are B's earlier signed URL and TUS upload
    assert_eq!(request(base, "PUT", "/storage/v1/object/shared/doc.txt", &s.auth(B), Some("B's")).status, 403);
    let put = request(base, "PUT", &format!("/storage/v1{signed_url}"), &[], Some("B's"));
    assert_eq!(put.status, 409, "{}", put.body);
    let patch_headers =
        with(s.auth(B), &[("Tus-Resumable", "1.0.0"), ("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream")]);
    let patched = request(base, "PATCH", &tus_path, &patch_headers, Some("B's"));
    assert_eq!(patched.status, 409, "{}", patched.body);
    for name in ["doc.txt", "tus.txt"] {
        assert_eq!(read_as(&s, A, "shared", name), (200, "A's".to_string()), "{name}");
    }
    // an overwrite that was allowed when it began still replaces: A's own signed URL
    let mine = request(base, "POST", "/storage/v1/object/upload/sign/shared/doc.txt", &with(s.auth(A), &[("x-upsert", "true")]), None);
    let mine_url = serde_json::from_str::<Value>(&mine.body).unwrap()["url"].as_str().unwrap().to_string();
    assert_eq!(request(base, "PUT", &format!("/storage/v1{mine_url}"), &[], Some("A's 2")).status, 200);
    assert_eq!(read_as(&s, A, "shared", "doc.txt"), (200, "A's 2".to_string()));
    // and B's pending uploads left nothing behind
    assert_eq!(scalar_i64(&mut s.db.admin(), "SELECT count(*) FROM bknd.objects WHERE status = 'pending'"), 0);
}

#[test]
fn a_caller_who_may_not_write_a_name_learns_nothing_of_whether_it_is_taken() {
    let s = server("storage_oracle");
    let base = &s.sidecar.base;
    assert_eq!(request(base, "POST", &format!("/storage/v1/object/files/{A}/taken.txt"), &s.auth(A), Some("a")).status, 200);
    assert_eq!(request(base, "POST", &format!("/storage/v1/object/files/{B}/mine.txt"), &s.auth(B), Some("b")).status, 200);
    let answer = |method: &str, name: &str, upsert: &str| {
        let r =
            request(base, method, &format!("/storage/v1/object/files/{A}/{name}"), &with(s.auth(B), &[("x-upsert", upsert)]), Some("b"));
        (r.status, serde_json::from_str::<Value>(&r.body).map(|v| v["error"].clone()).unwrap_or_default())
    };
    for (method, upsert) in [("POST", "false"), ("POST", "true"), ("PUT", "true")] {
        let (taken, free) = (answer(method, "taken.txt", upsert), answer(method, "free.txt", upsert));
        assert_eq!(taken, free, "{method} upsert={upsert}");
        assert_eq!(taken.0, 403);
    }
    for op in ["move", "copy"] {
        let to = |name: &str| {
            let body =
                json!({"bucketId": "files", "sourceKey": format!("{B}/mine.txt"), "destinationKey": format!("{A}/{name}")}).to_string();
            request(base, "POST", &format!("/storage/v1/object/{op}"), &s.auth(B), Some(&body)).status
        };
        assert_eq!((to("taken.txt"), to("free.txt")), (403, 403), "{op}");
    }
    assert_eq!(read_as(&s, A, "files", &format!("{A}/taken.txt")), (200, "a".to_string()));
    assert_eq!(read_as(&s, B, "files", &format!("{B}/mine.txt")), (200, "b".to_string()));
}

#[test]
fn moving_to_another_bucket_moves_the_bytes_and_keeps_to_its_limits() {
    let s = server("storage_move_bucket");
    s.db.admin()
        .batch_execute("SELECT bknd.create_bucket('tiny', false, 4, '{text/plain}'); SELECT bknd.allow_storage('tiny', 'all', 'authenticated', 'folder');")
        .unwrap();
    let base = &s.sidecar.base;
    let text = with(s.auth(A), &[("Content-Type", "text/plain")]);
    assert_eq!(request(base, "POST", &format!("/storage/v1/object/files/{A}/note.txt"), &text, Some("hello")).status, 200);
    let json_type = with(s.auth(A), &[("Content-Type", "application/json")]);
    assert_eq!(request(base, "POST", &format!("/storage/v1/object/files/{A}/abc.txt"), &json_type, Some("abc")).status, 200);
    let old_version =
        scalar_string(&mut s.db.admin(), &format!("SELECT version::text FROM bknd.objects WHERE name = '{A}/note.txt'")).unwrap();
    let move_to = |bucket: &str, from: &str, to: &str| {
        let body = json!({"bucketId": "files", "sourceKey": format!("{A}/{from}"), "destinationKey": format!("{A}/{to}"), "destinationBucket": bucket});
        request(base, "POST", "/storage/v1/object/move", &s.auth(A), Some(&body.to_string()))
    };
    let moved = move_to("big", "note.txt", "moved.txt");
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(read_as(&s, A, "big", &format!("{A}/moved.txt")), (200, "hello".to_string()));
    assert_eq!(read_as(&s, A, "files", &format!("{A}/note.txt")).0, 404, "the source is gone");
    // the source's bytes are queued for the sweeper, not left behind
    let queued = scalar_string(&mut s.db.admin(), "SELECT string_agg(bucket_id || '/' || version, ',') FROM bknd.storage_garbage");
    assert_eq!(queued, Some(format!("files/{old_version}")));
    // the destination's limits hold: too large (413), a type it does not take (415)
    assert_eq!(move_to("tiny", "moved.txt", "x.txt").status, 404, "moved.txt is in big now");
    let body = json!({"bucketId": "big", "sourceKey": format!("{A}/moved.txt"), "destinationKey": format!("{A}/x.txt"), "destinationBucket": "tiny"});
    assert_eq!(request(base, "POST", "/storage/v1/object/move", &s.auth(A), Some(&body.to_string())).status, 413);
    assert_eq!(move_to("tiny", "abc.txt", "abc.txt").status, 415);
    assert_eq!(read_as(&s, A, "big", &format!("{A}/moved.txt")), (200, "hello".to_string()));
    assert_eq!(read_as(&s, A, "files", &format!("{A}/abc.txt")), (200, "abc".to_string()));
    assert_eq!(scalar_i64(&mut s.db.admin(), "SELECT count(*) FROM bknd.objects WHERE bucket_id = 'tiny'"), 0);
    // psql's storage_move renames within a bucket and says how to move across
    let a = user(&s.db, A);
    assert_eq!(outcome(&s.db, &a, &format!("SELECT bknd.storage_move('files', '{A}/abc.txt', '{A}/b.txt', 'big')")), "0A000");
}

#[test]
fn numbers_and_json_the_database_cannot_take_are_refused_at_the_edge() {
    use base64::Engine;
    let s = server("storage_edge");
    let base = &s.sidecar.base;
    assert_eq!(request(base, "POST", &format!("/storage/v1/object/files/{A}/x.txt"), &s.auth(A), Some("x")).status, 200);
    let refused = |method: &str, path: &str, headers: Vec<(String, String)>, body: &str| {
        let r = request(base, method, path, &headers, Some(body));
        assert_eq!(r.status, 400, "{method} {path} {body}: {} {}", r.status, r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.body));
        assert_eq!(v["statusCode"], "400", "{}", r.body);
    };
    for body in
        [json!({"prefix": "", "limit": 99999999999i64}), json!({"offset": -99999999999i64}), json!({"limit": -1}), json!({"limit": "ten"})]
    {
        refused("POST", "/storage/v1/object/list/files", s.auth(A), &body.to_string());
    }
    for expires in [json!(99999999999i64), json!(0), json!(-5), json!(7 * 24 * 3600 + 1)] {
        refused("POST", &format!("/storage/v1/object/sign/files/{A}/x.txt"), s.auth(A), &json!({"expiresIn": expires}).to_string());
    }
    let nul = base64::engine::general_purpose::STANDARD.encode(r#"{"a": "x\u0000y"}"#);
    refused("POST", &format!("/storage/v1/object/files/{A}/nul.txt"), with(s.auth(A), &[("x-metadata", &nul)]), "x");
    refused("POST", "/storage/v1/object/list/files", s.auth(A), r#"{"prefix": "a\u0000"}"#);
    let meta = |k: &str, v: &str| format!("{k} {}", base64::engine::general_purpose::STANDARD.encode(v));
    let metadata =
        [meta("bucketName", "files"), meta("objectName", &format!("{A}/tus.txt")), meta("metadata", r#"{"\u0000": 1}"#)].join(",");
    refused(
        "POST",
        "/storage/v1/upload/resumable",
        with(s.auth(A), &[("Tus-Resumable", "1.0.0"), ("Upload-Length", "1"), ("Upload-Metadata", &metadata)]),
        "",
    );
    assert_eq!(s.rows(), 1, "nothing but the first object");
}

#[test]
fn a_signed_upload_url_works_on_a_bucket_with_a_mime_list_and_the_bytes_type_is_checked() {
    let s = server("storage_sign_mime");
    s.db.admin()
        .batch_execute("SELECT bknd.create_bucket('images', false, NULL, '{image/*}'); SELECT bknd.allow_storage('images', 'all', 'authenticated', 'folder');")
        .unwrap();
    let base = &s.sidecar.base;
    let sign = |name: &str| {
        let r = request(base, "POST", &format!("/storage/v1/object/upload/sign/images/{A}/{name}"), &s.auth(A), None);
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Value>(&r.body).unwrap()["url"].as_str().unwrap().to_string()
    };
    let put = |url: &str, mime: &str| {
        request(base, "PUT", &format!("/storage/v1{url}"), &[("Content-Type".to_string(), mime.to_string())], Some("px")).status
    };
    assert_eq!(put(&sign("ok.png"), "image/png"), 200);
    assert_eq!(put(&sign("no.txt"), "text/plain"), 415);
    assert_eq!(read_as(&s, A, "images", &format!("{A}/ok.png")), (200, "px".to_string()));
    assert_eq!(s.rows(), 1);
}

#[test]
fn only_public_buckets_are_listed_to_anon_and_users() {
    let s = server("storage_bucket_list");
    s.db.admin().batch_execute("SELECT bknd.create_bucket('open', true)").unwrap();
    let ids = |headers: &[(String, String)]| {
        let r = request(&s.sidecar.base, "GET", "/storage/v1/bucket", headers, None);
        assert_eq!(r.status, 200, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        v.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let anon = vec![("apikey".to_string(), s.db.token(json!({"role": "anon"})))];
    assert_eq!(ids(&anon), ["open"]);
    assert_eq!(ids(&s.auth(A)), ["open"]);
    let service = vec![("Authorization".to_string(), format!("Bearer {}", s.db.token(json!({"role": "service_role"}))))];
    assert_eq!(ids(&service), ["big", "files", "open"]);
    assert_eq!(request(&s.sidecar.base, "GET", "/storage/v1/bucket/files", &anon, None).status, 404);
    // uploads to a private bucket still work for those its policies allow
    assert_eq!(request(&s.sidecar.base, "POST", &format!("/storage/v1/object/files/{A}/x.txt"), &s.auth(A), Some("x")).status, 200);
}

#[test]
fn the_same_owners_overlapping_overwrites_end_with_the_last_one() {
    let db = storage_db("storage_last_writer");
    let (a, b) = (user(&db, A), user(&db, B));
    db.admin()
        .batch_execute("SELECT bknd.create_bucket('shared'); SELECT bknd.allow_storage('shared', 'all', 'authenticated', 'true');")
        .unwrap();
    let begin =
        |token: &str| db.call_as(Some(token), "bknd.storage_begin_upload('shared', 'doc.txt', true)")["id"].as_str().unwrap().to_string();
    let finish = |id: &str, etag: &str| {
        let mut c = db.admin();
        c.query_one("SELECT bknd.storage_finish_upload($1::text::uuid, 1, $2, true)", &[&id, &etag]).map(|_| ()).map_err(|e| sqlstate(&e))
    };
    let first = begin(&a);
    finish(&first, "v1").unwrap();
    // two tabs of A's, both bound to v1; the later to finish wins, whichever began first
    let (tab1, tab2) = (begin(&a), begin(&a));
    finish(&tab2, "tab2").unwrap();
    finish(&tab1, "tab1").unwrap();
    let etag = scalar_string(&mut db.admin(), "SELECT etag FROM bknd.objects WHERE name = 'doc.txt' AND status = 'ready'");
    assert_eq!(etag.as_deref(), Some("tab1"));
    // B's overwrite bound to what A has since replaced does not replace A's newer object
    let (b_upload, a_upload) = (begin(&b), begin(&a));
    finish(&a_upload, "a").unwrap();
    assert_eq!(finish(&b_upload, "b"), Err("23505".to_string()));
    let etag = scalar_string(&mut db.admin(), "SELECT etag FROM bknd.objects WHERE name = 'doc.txt' AND status = 'ready'");
    assert_eq!(etag.as_deref(), Some("a"));
}
