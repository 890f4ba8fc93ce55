//! A PostgreSQL cluster of a test's own (scripts/pg.sh), for tests that stop and start the
//! server: the shared cluster on `BKND_TEST_PG_PORT` serves other tests at the same time and
//! must never be restarted. Stopped and removed when dropped, also when the test fails.

use std::path::PathBuf;
use std::process::Command;

use postgres::{Client, NoTls};

pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn pg_sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(repo().join("scripts/pg.sh")).args(args).output().map_err(|e| format!("run scripts/pg.sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("scripts/pg.sh {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

impl Cluster {
    /// initdb a new cluster under target/ and start it on a free port.
    pub fn start(label: &str) -> Cluster {
        let dir = repo().join("target").join(format!("pg-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cluster = Cluster { dir, port: free_port() };
        cluster.start_again();
        cluster
    }

    /// Start the (stopped) server again, on the same port; returns once it accepts connections.
    pub fn start_again(&self) {
        let port = self.port.to_string();
        pg_sh(&["start", self.dir.to_str().unwrap(), &port]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Stop the server (fast shutdown: open sessions are ended).
    pub fn stop(&self) {
        pg_sh(&["stop", self.dir.to_str().unwrap()]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The server's processes: the postmaster and its children (backends, background workers).
    fn processes(&self) -> Vec<String> {
        let Ok(pidfile) = std::fs::read_to_string(self.dir.join("postmaster.pid")) else { return vec![] };
        let Some(postmaster) = pidfile.lines().next().map(|l| l.trim().to_string()) else { return vec![] };
        let mut pids = vec![postmaster.clone()];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: the fields after the last ')'
            let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string));
            if parent.as_deref() == Some(postmaster.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        pids
    }

    fn signal(&self, signal: &str) {
        let pids = self.processes();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg(signal).args(&pids).stderr(std::process::Stdio::null()).status();
        }
    }

    /// Freeze the server (SIGSTOP to every process of it): it keeps its sockets and answers
    /// nothing, as a database on a hung host or behind a dead network path.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Let a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    pub fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn connect(&self, user: &str, database: &str) -> Client {
        Client::connect(&self.url(user, database), NoTls)
            .unwrap_or_else(|e| panic!("connect as {user} to {database} on port {}: {e}", self.port))
    }

    /// A new database with `CREATE EXTENSION bknd` (the cluster is this test's: no lock needed).
    pub fn database_with_extension(&self, name: &str) -> Client {
        self.connect("postgres", "postgres").batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut client = self.connect("postgres", name);
        client.batch_execute("CREATE EXTENSION bknd").unwrap();
        client
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.thaw();
        let _ = pg_sh(&["stop", self.dir.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
