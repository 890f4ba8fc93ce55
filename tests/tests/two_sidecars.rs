//! Two sidecars on one database (and one storage directory) behave as one: a resumable upload's
//! PATCHes may go to either, one at a time (the upload's lock lives in PostgreSQL), a schema
//! change reaches both, and neither's sweeper removes an upload the other is writing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::json;

const A: &str = "aaaaaaaa-1111-4111-8111-000000000001";

struct Pair {
    db: TestDb,
    dir: std::path::PathBuf,
    sidecars: Vec<Sidecar>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.sidecars.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pair(label: &str) -> Pair {
    let db = TestDb::new(label);
    db.admin()
        .batch_execute("SELECT bknd.create_bucket('files'); SELECT bknd.allow_storage('files', 'all', 'authenticated', 'folder');")
        .unwrap();
    let dir = std::env::temp_dir().join(format!("bknd-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut pair = Pair { db, dir, sidecars: Vec::new() };
    pair.start();
    pair.start();
    pair
}

impl Pair {
    /// One more sidecar on the same database and directory; its index.
    fn start(&mut self) -> usize {
        let storage = format!("file://{}", self.dir.display());
        self.sidecars.push(Sidecar::start(&url("authenticator", &self.db.name), &["--storage", &storage]));
        self.sidecars.len() - 1
    }

    fn token(&self) -> String {
        self.db.token(json!({"sub": A, "role": "authenticated"}))
    }

    fn scalar(&self, sql: &str) -> i64 {
        scalar_i64(&mut self.db.admin(), sql)
    }

    /// Advisory locks held in this database (the uploads' locks).
    fn advisory_locks(&self) -> i64 {
        self.scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()",
        )
    }

    /// The sidecars' connections left inside a transaction.
    fn idle_in_transaction(&self) -> i64 {
        self.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND usename = 'authenticator' \
             AND state LIKE 'idle in transaction%'",
        )
    }

    /// A resumable upload of `length` bytes to files/A/`name`, made through sidecar `via`: its path.
    fn create_upload(&self, via: usize, name: &str, length: usize) -> String {
        use base64::Engine;
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let metadata = format!("bucketName {},objectName {}", b64("files"), b64(&format!("{A}/{name}")));
        let r = send(
            &self.sidecars[via],
            "POST",
            "/storage/v1/upload/resumable",
            &[
                ("Authorization", &format!("Bearer {}", self.token())),
                ("Tus-Resumable", "1.0.0"),
                ("Upload-Length", &length.to_string()),
                ("Upload-Metadata", &metadata),
            ],
            b"",
        );
        assert_eq!(r.status, 201, "create: {}", r.text());
        let location = r.header("location").expect("a Location");
        format!("/storage/{}", location.split_once("/storage/").unwrap().1)
    }

    fn patch(&self, via: usize, path: &str, offset: usize, bytes: &[u8]) -> Answer {
        send(
            &self.sidecars[via],
            "PATCH",
            path,
            &[
                ("Authorization", &format!("Bearer {}", self.token())),
                ("Tus-Resumable", "1.0.0"),
                ("Upload-Offset", &offset.to_string()),
                ("Content-Type", "application/offset+octet-stream"),
            ],
            bytes,
        )
    }

    /// The status of a PATCH, or 0 if the connection failed under it.
    fn try_patch(&self, via: usize, path: &str, offset: usize, bytes: &[u8]) -> u16 {
        let url = self.sidecars[via].url(path);
        let request = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build()
            .request("PATCH", &url)
            .set("Authorization", &format!("Bearer {}", self.token()))
            .set("Tus-Resumable", "1.0.0")
            .set("Upload-Offset", &offset.to_string())
            .set("Content-Type", "application/offset+octet-stream");
        match request.send_bytes(bytes) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(status, _)) => status,
            Err(_) => 0,
        }
    }

    fn offset(&self, via: usize, path: &str) -> Option<usize> {
        let r = send(
            &self.sidecars[via],
            "HEAD",
            path,
            &[("Authorization", &format!("Bearer {}", self.token())), ("Tus-Resumable", "1.0.0")],
            b"",
        );
        assert_eq!(r.status, 200, "HEAD {path}");
        r.header("upload-offset").and_then(|o| o.parse().ok())
    }

    fn download(&self, via: usize, name: &str) -> Answer {
        send(
            &self.sidecars[via],
            "GET",
            &format!("/storage/v1/object/authenticated/files/{A}/{name}"),
            &[("Authorization", &format!("Bearer {}", self.token()))],
            b"",
        )
    }

    /// A PATCH that sends its headers (declaring `declared` bytes) and `first` bytes, and waits.
    fn start_patch(&self, via: usize, path: &str, offset: usize, declared: usize, first: &[u8]) -> TcpStream {
        let addr = self.sidecars[via].base.trim_start_matches("http://").to_string();
        let mut tcp = TcpStream::connect(&addr).unwrap();
        let head = format!(
            "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
             Content-Type: application/offset+octet-stream\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n",
            self.token()
        );
        tcp.write_all(head.as_bytes()).unwrap();
        tcp.write_all(first).unwrap();
        tcp.flush().unwrap();
        tcp
    }

    fn upload_column(&self, id_of_path: &str, column: &str) -> Option<String> {
        let id = id_of_path.rsplit('/').next().unwrap();
        self.db
            .admin()
            .query_opt(&format!("SELECT {column}::text FROM bknd.objects WHERE id = $1::text::uuid"), &[&id])
            .unwrap()
            .map(|r| r.get(0))
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn send(sidecar: &Sidecar, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let mut req = agent.request(method, &sidecar.url(path));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let response = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let headers = response.headers_names().iter().map(|k| (k.clone(), response.header(k).unwrap_or("").to_string())).collect();
    let mut body = Vec::new();
    response.into_reader().read_to_end(&mut body).unwrap();
    Answer { status, headers, body }
}

/// Bytes that differ from place to place (a misplaced part shows).
fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status line's code of what a raw request got back.
fn finish(mut tcp: TcpStream, rest: &[u8]) -> u16 {
    tcp.write_all(rest).unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn a_resumable_upload_whose_patches_alternate_between_sidecars_completes_with_its_bytes() {
    let p = pair("two_alternate");
    let content = bytes(3 * 1024 * 1024 + 12345, 1);
    let path = p.create_upload(0, "alternating.bin", content.len());
    let chunks: Vec<&[u8]> = content.chunks(700 * 1024 + 3).collect();
    assert!(chunks.len() >= 4);
    let mut offset = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let r = p.patch(i % 2, &path, offset, chunk);
        assert_eq!(r.status, 204, "PATCH {i} through sidecar {}: {}", i % 2, r.text());
        offset += chunk.len();
        assert_eq!(r.header("upload-offset"), Some(offset.to_string()));
        // the other sidecar sees the same offset
        if offset < content.len() {
            assert_eq!(p.offset((i + 1) % 2, &path), Some(offset), "HEAD through the other sidecar after PATCH {i}");
        }
    }
    for via in [0, 1] {
        let got = p.download(via, "alternating.bin");
        assert_eq!(got.status, 200, "download through sidecar {via}: {}", got.text());
        assert!(got.body == content, "sidecar {via} serves {} bytes that are not the {} uploaded", got.body.len(), content.len());
    }
    assert_eq!(p.advisory_locks(), 0, "no upload lock is left held");
    assert_eq!(p.idle_in_transaction(), 0, "no connection is left inside a transaction");
}

#[test]
fn of_two_patches_at_one_offset_through_two_sidecars_one_wins_and_the_other_is_refused() {
    let p = pair("two_race");
    let (first, second) = (bytes(2 * 1024 * 1024, 2), bytes(2 * 1024 * 1024, 3));
    let path = p.create_upload(0, "raced.bin", first.len());
    // the first PATCH, through sidecar 0, is under way (it holds the upload's lock) ...
    let half = first.len() / 2;
    let under_way = p.start_patch(0, &path, 0, first.len(), &first[..half]);
    assert!(wait_for(Duration::from_secs(10), || p.advisory_locks() == 1), "the first PATCH holds the upload's lock");
    // ... so the second, at the same offset through sidecar 1, is refused, and writes nothing
    // (a small body: refused unread, a large one would meet a closed connection)
    let refused = p.patch(1, &path, 0, &second[..1000]);
    assert_eq!(refused.status, 423, "the second PATCH: {}", refused.text());
    // the first one finishes: the object is its bytes
    assert_eq!(finish(under_way, &first[half..]), 204);
    let got = p.download(1, "raced.bin");
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body == first, "the object is not the winning PATCH's bytes");
    // a late PATCH of the loser finds the upload finished
    let late = p.patch(1, &path, 0, &second[..1000]);
    assert_eq!(late.status, 404, "{}", late.text());
    assert_eq!(p.advisory_locks(), 0);
    assert_eq!(p.idle_in_transaction(), 0);

    // two PATCHes let go at the same moment: one wins, the other is refused (423 while the
    // winner writes, 409 or 404 after it; 0: refused before its body was read, the connection
    // closed under the client), and the object is the winner's bytes
    let path = p.create_upload(1, "raced2.bin", first.len());
    let (p0, p1) = std::thread::scope(|scope| {
        let a = scope.spawn(|| p.try_patch(0, &path, 0, &first));
        let b = scope.spawn(|| p.try_patch(1, &path, 0, &second));
        (a.join().unwrap(), b.join().unwrap())
    });
    let refusals = [423, 409, 404, 0];
    let winner = match (p0, p1) {
        (204, refused) if refusals.contains(&refused) => &first,
        (refused, 204) if refusals.contains(&refused) => &second,
        other => panic!("racing PATCHes answered {other:?}: want one 204 and one refusal"),
    };
    let got = p.download(0, "raced2.bin");
    assert!(got.status == 200 && got.body == *winner, "the object is not the winner's bytes ({})", got.status);
    assert_eq!(p.advisory_locks(), 0);
}

#[test]
fn a_patch_cut_off_mid_way_releases_the_upload_for_the_other_sidecar() {
    let p = pair("two_cut");
    let content = bytes(3 * 1024 * 1024, 4);
    let path = p.create_upload(0, "cut.bin", content.len());
    let sent = 1024 * 1024 + 17;
    let tcp = p.start_patch(0, &path, 0, content.len(), &content[..sent]);
    assert!(wait_for(Duration::from_secs(10), || p.advisory_locks() == 1), "the PATCH holds the upload's lock");
    drop(tcp); // the client goes away mid-PATCH
    assert!(wait_for(Duration::from_secs(10), || p.advisory_locks() == 0), "the lock of a PATCH cut off is released");
    assert!(wait_for(Duration::from_secs(10), || p.idle_in_transaction() == 0), "its connection went back out of its transaction");
    // what arrived is kept, and the upload goes on through the other sidecar
    assert!(wait_for(Duration::from_secs(10), || p.offset(1, &path) == Some(sent)), "the bytes that arrived are kept");
    let r = p.patch(1, &path, sent, &content[sent..]);
    assert_eq!(r.status, 204, "{}", r.text());
    let got = p.download(0, "cut.bin");
    assert!(got.status == 200 && got.body == content, "the resumed upload's bytes are not the file's");
    // the pools still serve: every connection that held a lock came back usable
    for via in [0, 1] {
        for _ in 0..20 {
            assert_eq!(send(&p.sidecars[via], "GET", "/health", &[], b"").status, 200);
        }
    }
}

#[test]
fn a_schema_change_reaches_both_sidecars() {
    let p = pair("two_schema");
    let loads = |via: usize| -> u64 {
        let (status, health) = p.sidecars[via].get("/health");
        assert_eq!(status, 200, "{health}");
        health["schema_cache_loads"].as_u64().unwrap()
    };
    assert!(wait_for(Duration::from_secs(10), || loads(0) >= 1 && loads(1) >= 1), "both sidecars loaded the schema");
    let before = [loads(0), loads(1)];
    p.db.admin().batch_execute("SELECT bknd.create_table('notes', '{\"body\": {\"type\": \"text\"}}')").unwrap();
    // no request asks for the new table: the database's notification reloads both caches
    assert!(
        wait_for(Duration::from_secs(10), || loads(0) > before[0] && loads(1) > before[1]),
        "both sidecars reloaded after the schema change (loads {before:?} -> [{}, {}])",
        loads(0),
        loads(1)
    );
    p.db.admin().batch_execute("INSERT INTO public.notes (body) VALUES ('seen by both')").unwrap();
    let service = p.db.token(json!({"role": "service_role"}));
    for via in [0, 1] {
        let r = send(&p.sidecars[via], "GET", "/rest/v1/notes?select=body", &[("Authorization", &format!("Bearer {service}"))], b"");
        assert_eq!(r.status, 200, "sidecar {via}: {}", r.text());
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&r.body).unwrap(), json!([{"body": "seen by both"}]), "sidecar {via}");
    }
}

#[test]
fn a_sweeper_never_removes_an_upload_another_sidecar_is_writing() {
    let mut p = pair("two_sweep");
    let content = bytes(2 * 1024 * 1024, 5);
    let path = p.create_upload(0, "slow.bin", content.len());
    let version = p.upload_column(&path, "version").unwrap();
    let half = content.len() / 2;
    // sidecar 0 is writing the upload (a slow client) when the upload turns a day old
    let under_way = p.start_patch(0, &path, 0, content.len(), &content[..half]);
    assert!(wait_for(Duration::from_secs(10), || p.advisory_locks() == 1), "the PATCH holds the upload's lock");
    let id = path.rsplit('/').next().unwrap().to_string();
    p.db.admin().execute("UPDATE bknd.objects SET created_at = now() - interval '2 days' WHERE id = $1::text::uuid", &[&id]).unwrap();
    // a marker the sweeper's round removes after its expiry step: the round is over when it is gone
    let marker = "cccccccc-3333-4333-8333-000000000003";
    p.db.admin().execute("INSERT INTO bknd.storage_garbage (version, bucket_id) VALUES ($1::text::uuid, 'files')", &[&marker]).unwrap();
    // a new sidecar starts: its sweeper runs at once
    p.start();
    assert!(
        wait_for(Duration::from_secs(15), || p.scalar(&format!("SELECT count(*) FROM bknd.storage_garbage WHERE version = '{marker}'"))
            == 0),
        "the new sidecar's sweeper ran"
    );
    assert_eq!(p.upload_column(&path, "status").as_deref(), Some("pending"), "the upload being written was not expired");
    assert!(p.dir.join("files").join(format!("{version}.tus")).join("info").exists(), "its parts are still there");
    // the write goes on and ends: the object is whole
    assert_eq!(finish(under_way, &content[half..]), 204);
    let got = p.download(2, "slow.bin");
    assert!(got.status == 200 && got.body == content, "the upload written through the sweep is not whole ({})", got.status);

    // an upload a day old that nobody is writing is expired, with its parts
    let idle = p.create_upload(1, "idle.bin", 1000);
    assert_eq!(p.patch(1, &idle, 0, &bytes(300, 6)).status, 204);
    let idle_version = p.upload_column(&idle, "version").unwrap();
    let idle_id = idle.rsplit('/').next().unwrap().to_string();
    p.db.admin().execute("UPDATE bknd.objects SET created_at = now() - interval '2 days' WHERE id = $1::text::uuid", &[&idle_id]).unwrap();
    assert!(p.dir.join("files").join(format!("{idle_version}.tus")).exists());
    p.start();
    assert!(wait_for(Duration::from_secs(15), || p.upload_column(&idle, "status").is_none()), "the idle upload was expired");
    assert!(
        wait_for(Duration::from_secs(10), || !p.dir.join("files").join(format!("{idle_version}.tus")).join("info").exists()),
        "its parts were removed"
    );
    assert_eq!(p.advisory_locks(), 0);
}

#[test]
fn a_sidecar_starting_leaves_the_staging_file_another_is_writing() {
    let mut p = pair("two_staging");
    let content = bytes(4 * 1024 * 1024, 7);
    // sidecar 0 is receiving a plain upload: its bytes go to a staging file beside the object's
    let addr = p.sidecars[0].base.trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /storage/v1/object/files/{A}/staged.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        p.token(),
        content.len()
    );
    tcp.write_all(head.as_bytes()).unwrap();
    let half = content.len() / 2;
    tcp.write_all(&content[..half]).unwrap();
    let bucket = p.dir.join("files");
    let staging = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).and_then(|n| n.rsplit_once('#')).is_some())
            .collect()
    };
    assert!(wait_for(Duration::from_secs(10), || !staging(&bucket).is_empty()), "the upload is being written to a staging file");
    let live = staging(&bucket);
    // beside it, what a crash left a day ago: the starting sidecar's sweep removes that one
    let left = bucket.join("crashed.bin#123456");
    std::fs::write(&left, b"left by a crash").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(2 * 86400))
        .unwrap();
    p.start();
    assert!(wait_for(Duration::from_secs(15), || !left.exists()), "the new sidecar swept what a crash left");
    assert!(live.iter().all(|f| f.exists()), "the staging file sidecar 0 is writing is still there");
    assert_eq!(finish(tcp, &content[half..]), 200);
    let got = p.download(2, "staged.bin");
    assert!(got.status == 200 && got.body == content, "the upload written through the sweep is not whole ({})", got.status);
}
