//! `make bench`: argon2id verifications per second alone, with the parameters bknd uses
//! (19 MiB, t=2, p=1; see src/auth/password.rs), on THREADS threads for SECONDS seconds.
//! The baseline the sign-in rates are compared with.

use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let seconds: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).unwrap());
    let hash = argon.hash_password(b"bench password", &SaltString::generate(&mut OsRng)).unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (argon, hash) = (argon.clone(), hash.clone());
                s.spawn(move || {
                    let parsed = PasswordHash::new(&hash).unwrap();
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        argon.verify_password(b"bench password", &parsed).unwrap();
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
