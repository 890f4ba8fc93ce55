//! `make bench`: the share of an HTTP sign-in's time spent in argon2, measured in pairs. One
//! sign-in over HTTP, then one argon2id verification here (as the extension runs it), again
//! and again for SECONDS: this VM's speed drifts by 10-20% within seconds, and pairs 20 ms
//! apart see the same speed, where runs a few seconds apart do not.
//!
//! sign_in_share URL EMAIL PASSWORD SECONDS
//! prints: sign-ins, mean sign-in ms, mean argon2 ms, share (argon2 / sign-in)

use std::time::{Duration, Instant};

use bknd_tests::argon2_bench::Verifier;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, email, password, seconds] = &args[..] else {
        eprintln!("usage: sign_in_share URL EMAIL PASSWORD SECONDS");
        std::process::exit(2);
    };
    let seconds: u64 = seconds.parse().expect("SECONDS");
    let agent = ureq::AgentBuilder::new().build();
    let body = serde_json::json!({"email": email, "password": password});
    let sign_in = || {
        let answer = agent.post(url).send_json(body.clone()).unwrap_or_else(|e| panic!("sign-in failed: {e}"));
        let session: serde_json::Value = answer.into_json().expect("a JSON session");
        assert!(session["access_token"].is_string(), "no access token in {session}");
    };
    let mut verifier = Verifier::new(password.as_bytes());
    // warm up: the connection, the server's kept plans and argon2 memory
    sign_in();
    verifier.verify();
    let (mut signing_in, mut hashing, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let t = Instant::now();
        sign_in();
        signing_in += t.elapsed();
        let t = Instant::now();
        verifier.verify();
        hashing += t.elapsed();
        n += 1;
    }
    let (s, h) = (signing_in.as_secs_f64() * 1e3 / n as f64, hashing.as_secs_f64() * 1e3 / n as f64);
    println!("{n} {s:.2} {h:.2} {:.3}", h / s);
}
