//! `make bench`: argon2id verifications per second alone, with the parameters bknd uses and the
//! way it uses them (bknd_tests::argon2_bench), on THREADS threads for SECONDS seconds.
//!
//! `argon2_rate cheap PASSWORD` prints instead a hash of PASSWORD with the cheapest parameters
//! (8 KiB, t=1): a user with it signs in at the cost of everything but the hash, which is how
//! the bench measures the time HTTP and SQL add.

use std::time::{Duration, Instant};

use bknd_tests::argon2_bench::{cheap_hash, Verifier};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("cheap") {
        let password = std::env::args().nth(2).expect("argon2_rate cheap PASSWORD");
        println!("{}", cheap_hash(&password));
        return;
    }
    let threads: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let seconds: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    let mut verifier = Verifier::new(b"bench password");
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        verifier.verify();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: u64 = counts.iter().sum();
    println!("{:.1}", total as f64 / start.elapsed().as_secs_f64());
}
