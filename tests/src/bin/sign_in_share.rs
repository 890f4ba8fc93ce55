//! `make bench`: the share of an HTTP sign-in's time spent in argon2, one sign-in at a time.
//! A tenth of a second of sign-ins one after another, then a tenth of a second of argon2id
//! verifications here (as the extension runs them), again and again for SECONDS; the share is
//! the median over those pairs of (mean verification / mean sign-in). This VM's speed drifts
//! by 10-20% within seconds and stalls now and then: neighbouring tenths of a second see the
//! same speed, and the median leaves out the pairs a stall fell into. Sign-ins follow each
//! other, as on a server: each one's SQL and HTTP run after the previous one's hash, not after
//! one of ours (the first of each block, which does, is left out, as is the first hash).
//! The client is lean, as wrk is: one kept-alive connection, the request's bytes built once.
//! bench.sh runs it, the server and PostgreSQL on one CPU, so that both hashes run on the same
//! one (the VM's two differ in speed by 5-20%).
//!
//! sign_in_share URL EMAIL PASSWORD SECONDS
//! prints: sign-ins, median sign-in ms, verifications, median argon2 ms (each the median of
//! the blocks' means), share (argon2 / sign-in, the median of the pairs' shares)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bknd_tests::argon2_bench::Verifier;

const BLOCK: Duration = Duration::from_millis(100);

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

/// Run `step` for a block's time: the mean time of all runs but the first, and their count.
fn block(mut step: impl FnMut()) -> (f64, u32) {
    step();
    let (start, mut n) = (Instant::now(), 0);
    while start.elapsed() < BLOCK {
        step();
        n += 1;
    }
    (start.elapsed().as_secs_f64() * 1e3 / n as f64, n)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
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
    let (mut sign_ms, mut hash_ms, mut shares, mut sign_ins, mut hashes) = (vec![], vec![], vec![], 0, 0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let (s, n) = block(|| client.sign_in());
        let (h, m) = block(|| verifier.verify());
        (sign_ins, hashes) = (sign_ins + n, hashes + m);
        sign_ms.push(s);
        hash_ms.push(h);
        shares.push(h / s);
    }
    println!("{sign_ins} {:.2} {hashes} {:.2} {:.3}", median(sign_ms), median(hash_ms), median(shares));
}
