//! `make bench`: the share of an HTTP sign-in's time spent in argon2, one sign-in at a time.
//! Half a second of sign-ins one after another, then half a second of argon2id verifications
//! here (as the extension runs them), again and again for SECONDS: this VM's speed drifts by
//! 10-20% within seconds, and neighbouring half-seconds see the same. Sign-ins follow each
//! other, as on a server: each one's SQL and HTTP run after the previous one's hash, not after
//! one of ours (the first of each half-second, which does, is left out, as is the first hash).
//! The client is lean, as wrk is: one kept-alive connection, the request's bytes built once.
//!
//! sign_in_share URL EMAIL PASSWORD SECONDS
//! prints: sign-ins, mean sign-in ms, verifications, mean argon2 ms, share (argon2 / sign-in)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bknd_tests::argon2_bench::Verifier;

const HALF: Duration = Duration::from_millis(500);

/// A kept-alive HTTP/1.1 connection that sends one prepared request again and again.
struct Client {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Client {
    fn new(url: &str, body: &str) -> Client {
        let rest = url.strip_prefix("http://").expect("an http:// URL");
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("cannot connect to {host}: {e}"));
        stream.set_nodelay(true).unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Client { stream, request: request.into_bytes(), buf: Vec::with_capacity(8192) }
    }

    /// One sign-in: the answer must be 200 with an access token.
    fn sign_in(&mut self) {
        self.stream.write_all(&self.request).expect("sending the request");
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let (head_end, length) = loop {
            let n = self.stream.read(&mut chunk).expect("reading the answer");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "sign-in failed: {}", String::from_utf8_lossy(&self.buf));
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .expect("a Content-Length");
                break (end + 4, length);
            }
        };
        while self.buf.len() < head_end + length {
            let n = self.stream.read(&mut chunk).expect("reading the answer");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = &self.buf[head_end..head_end + length];
        assert!(body.windows(14).any(|w| w == b"\"access_token\""), "no access token in {}", String::from_utf8_lossy(body));
    }
}

/// Run `step` for half a second; the time and count of all runs but the first.
fn half_second(mut step: impl FnMut()) -> (Duration, u32) {
    step();
    let (start, mut n) = (Instant::now(), 0);
    while start.elapsed() < HALF {
        step();
        n += 1;
    }
    (start.elapsed(), n)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, email, password, seconds] = &args[..] else {
        eprintln!("usage: sign_in_share URL EMAIL PASSWORD SECONDS");
        std::process::exit(2);
    };
    let seconds: u64 = seconds.parse().expect("SECONDS");
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let mut client = Client::new(url, &body);
    let mut verifier = Verifier::new(password.as_bytes());
    let (mut signing_in, mut hashing, mut sign_ins, mut hashes) = (Duration::ZERO, Duration::ZERO, 0u32, 0u32);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let (t, n) = half_second(|| client.sign_in());
        (signing_in, sign_ins) = (signing_in + t, sign_ins + n);
        let (t, n) = half_second(|| verifier.verify());
        (hashing, hashes) = (hashing + t, hashes + n);
    }
    let per = |d: Duration, n: u32| d.as_secs_f64() * 1e3 / n as f64;
    let (s, h) = (per(signing_in, sign_ins), per(hashing, hashes));
    println!("{sign_ins} {s:.2} {hashes} {h:.2} {:.3}", h / s);
}
