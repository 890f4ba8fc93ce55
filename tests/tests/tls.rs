//! TLS to PostgreSQL: the sidecar connects over TLS when the database URL asks (`sslmode=require`,
//! `verify-ca`, `verify-full` with `sslrootcert`), refuses to start when the server's certificate
//! is not the one it must be or the server has no TLS, and stays plain otherwise. A cluster of
//! the test's own (the shared one must not change), a CA and certificates made by `openssl`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bknd_tests::cluster::Cluster;
use bknd_tests::sidecar::{binary, Sidecar};

/// `openssl` with `args` (split at spaces) in `dir`; panics with its words if it fails.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl").args(args.split(' ')).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA (`ca.pem`), another CA nobody used (`other-ca.pem`), and the server's certificate
/// (`server.crt`, `server.key`), issued by the first for the name `localhost` only.
fn certificates(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &format!(
                "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bknd-test-{ca} -keyout {ca}.key -out {ca}.pem \
                 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
            ),
        );
    }
    openssl(dir, "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr");
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    openssl(dir, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt");
}

/// Copy the server's certificate and key into the cluster's directory, readable by the server
/// alone (PostgreSQL refuses a key others may read), and turn TLS on.
fn enable_ssl(cluster: &Cluster, certs: &Path) {
    for file in ["server.crt", "server.key"] {
        let to = cluster.dir.join(file);
        std::fs::copy(certs.join(file), &to).unwrap();
        let mode = if file.ends_with(".key") { 0o600 } else { 0o644 };
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        if is_root() {
            let status = Command::new("chown").args(["postgres:postgres", to.to_str().unwrap()]).status().unwrap();
            assert!(status.success());
        }
    }
    set_ssl(cluster, "on");
}

fn set_ssl(cluster: &Cluster, on: &str) {
    let mut admin = cluster.connect("postgres", "postgres");
    // one at a time: ALTER SYSTEM may not run in the implicit transaction of several statements
    for statement in [
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
        "ALTER SYSTEM SET ssl_key_file = 'server.key'",
        &format!("ALTER SYSTEM SET ssl = {on}"),
        "SELECT pg_reload_conf()",
    ] {
        admin.batch_execute(statement).unwrap();
    }
    // the reload is asynchronous: wait until new sessions see it
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: String = cluster.connect("postgres", "postgres").query_one("SHOW ssl", &[]).unwrap().get(0);
        if now == on {
            return;
        }
        assert!(Instant::now() < deadline, "ssl is still {now} after the reload");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// `bknd serve` with `url` must not start: it exits with an error; what it said.
fn refuses_to_start(url: &str) -> String {
    let mut child = Command::new(binary())
        .args(["serve", "--database-url", url, "--listen", "127.0.0.1:0"])
        .env("BKND_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bknd serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bknd serve with {url} did not stop: it should refuse to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut said = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut said).unwrap();
    assert!(!status.success(), "bknd serve with {url} exited with success: {said}");
    eprintln!("bknd serve with {url} refused to start: {said}");
    said
}

/// The sidecar's sessions (as `authenticator`) as (all of them, those over TLS).
fn sessions(cluster: &Cluster) -> (i64, i64) {
    let row = cluster
        .connect("postgres", "postgres")
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.usename = 'authenticator' AND a.datname = 'app'",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

/// Start a sidecar on `url`; check that REST answers through it, and how its sessions connect.
fn serves(cluster: &Cluster, url: &str, service: &str) -> (i64, i64) {
    let sidecar = Sidecar::start(url, &[]);
    let r = ureq::get(&sidecar.url("/rest/v1/notes?select=body"))
        .set("Authorization", &format!("Bearer {service}"))
        .timeout(Duration::from_secs(15))
        .call()
        .unwrap_or_else(|e| panic!("REST through {url}: {e}"));
    let body: serde_json::Value = r.into_json().unwrap();
    assert_eq!(body, serde_json::json!([{"body": "over the wire"}]), "{url}");
    let (status, health) = sidecar.get("/health");
    assert_eq!(status, 200, "{health}");
    let seen = sessions(cluster);
    drop(sidecar);
    // its sessions end with it, before the next sidecar's are counted
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions(cluster).0 > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

#[test]
fn the_sidecar_connects_over_tls_when_the_url_asks_and_refuses_a_server_it_cannot_trust() {
    let cluster = Cluster::start("tls");
    let certs = Certs(cluster.dir.with_extension("certs"));
    let _ = std::fs::remove_dir_all(&certs.0);
    certificates(&certs.0);
    let certs = &certs.0;
    let mut app = cluster.database_with_extension("app");
    app.batch_execute(
        "SELECT bknd.create_table('notes', '{\"body\": {\"type\": \"text\"}}'); INSERT INTO public.notes (body) VALUES ('over the wire');",
    )
    .unwrap();
    let service: String = app.query_one("SELECT bknd.jwt_sign('{\"role\": \"service_role\"}'::jsonb)", &[]).unwrap().get(0);
    enable_ssl(&cluster, certs);

    let port = cluster.port;
    let ca = certs.join("ca.pem");
    let other_ca = certs.join("other-ca.pem");
    let url = |host: &str, query: &str| format!("postgres://authenticator@{host}:{port}/app{query}");

    // sslmode=require: encrypted (the certificate is not checked)
    let (all, tls) = serves(&cluster, &url("127.0.0.1", "?sslmode=require"), &service);
    assert!(all > 0 && tls == all, "sslmode=require: {tls} of the sidecar's {all} sessions use TLS");
    // verify-full with the CA that issued the certificate, to the name it was issued for
    let verified = url("localhost", &format!("?sslmode=verify-full&sslrootcert={}", ca.display()));
    let (all, tls) = serves(&cluster, &verified, &service);
    assert!(all > 0 && tls == all, "verify-full: {tls} of the sidecar's {all} sessions use TLS");
    // verify-ca checks the issuer, not the name; libpq's key=value form works as well
    let key_values = format!("host=127.0.0.1 port={port} user=authenticator dbname=app sslmode=verify-ca sslrootcert='{}'", ca.display());
    let (all, tls) = serves(&cluster, &key_values, &service);
    assert!(all > 0 && tls == all, "verify-ca: {tls} of the sidecar's {all} sessions use TLS");
    // without sslmode (libpq's default, prefer) the connection stays plain, as before
    let (all, tls) = serves(&cluster, &url("127.0.0.1", ""), &service);
    assert!(all > 0 && tls == 0, "no sslmode: {tls} of the sidecar's {all} sessions use TLS");

    // a certificate from another CA: the sidecar does not start, and says why
    let said = refuses_to_start(&url("localhost", &format!("?sslmode=verify-full&sslrootcert={}", other_ca.display())));
    assert!(said.contains("sslmode=verify-full") && said.contains("certificate") && said.contains("UnknownIssuer"), "{said}");
    // the right CA, but a host name the certificate was not issued for
    let said = refuses_to_start(&url("127.0.0.1", &format!("?sslmode=verify-full&sslrootcert={}", ca.display())));
    assert!(said.contains("sslmode=verify-full") && said.contains("not valid for name"), "{said}");
    // a CA file that is not there
    let said = refuses_to_start(&url("localhost", "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"));
    assert!(said.contains("/nonexistent/ca.pem"), "{said}");

    // a server without TLS: sslmode=require refuses it
    set_ssl(&cluster, "off");
    let said = refuses_to_start(&url("127.0.0.1", "?sslmode=require"));
    assert!(said.contains("sslmode=require") && said.contains("server does not support TLS"), "{said}");
}

/// The certificates' directory, removed at the end of the test, also when it fails.
struct Certs(PathBuf);

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
