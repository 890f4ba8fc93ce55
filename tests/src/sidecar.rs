//! The real `bknd` binary (path in `BKND_BIN`), started on a free loopback port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn binary() -> String {
    std::env::var("BKND_BIN").expect("BKND_BIN is not set: run the tests with `make test`")
}

pub struct Sidecar {
    child: Child,
    pub base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Sidecar {
    /// `bknd serve --database-url URL` on a free port; waits until it answers HTTP.
    pub fn start(database_url: &str, extra_args: &[&str]) -> Sidecar {
        Sidecar::start_with_env(database_url, extra_args, &[])
    }

    /// The same, with extra environment variables (S3 credentials and endpoint, say).
    pub fn start_with_env(database_url: &str, extra_args: &[&str], env: &[(&str, &str)]) -> Sidecar {
        let port = free_port();
        let child = Command::new(binary())
            .args(["serve", "--database-url", database_url, "--listen", &format!("127.0.0.1:{port}")])
            .args(extra_args)
            .envs(env.iter().copied())
            .env("BKND_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start bknd serve");
        let sidecar = Sidecar { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sidecar;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("bknd serve did not start listening on port {port}");
    }

    /// The sidecar's peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`: (status, body as JSON or a JSON string).
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.answer(path, ureq::get(&self.url(path)))
    }

    /// GET `path` with a bearer token (as `Authorization` and `apikey`).
    pub fn get_with_token(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let request = ureq::get(&self.url(path)).set("authorization", &format!("Bearer {token}")).set("apikey", token);
        self.answer(path, request)
    }

    fn answer(&self, path: &str, request: ureq::Request) -> (u16, serde_json::Value) {
        let response = match request.timeout(Duration::from_secs(15)).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = response.status();
        let text = response.into_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
