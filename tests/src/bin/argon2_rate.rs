//! `make bench`: argon2id verifications per second alone, with the parameters bknd uses
//! (19 MiB, t=2, p=1) and the way it uses them (src/auth/password.rs: the 19 MiB kept per
//! thread, not allocated per hash, which is ~10% faster), on THREADS threads for SECONDS
//! seconds. The baseline the sign-in rates are compared with.
//!
//! `argon2_rate cheap PASSWORD` prints instead a hash of PASSWORD with the cheapest parameters
//! (8 KiB, t=1): a user with it signs in at the cost of everything but the hash, which is how
//! the bench measures the time HTTP and SQL add.

use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("cheap") {
        let password = std::env::args().nth(2).expect("argon2_rate cheap PASSWORD");
        let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap());
        println!("{}", cheap.hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng)).unwrap());
        return;
    }
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
                    let mut salt = [0u8; 64];
                    let salt = parsed.salt.unwrap().decode_b64(&mut salt).unwrap();
                    let expected = parsed.hash.unwrap();
                    let mut memory = vec![Block::default(); 19 * 1024];
                    let mut out = vec![0u8; expected.len()];
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        argon.hash_password_into_with_memory(b"bench password", salt, &mut out, &mut memory[..]).unwrap();
                        assert_eq!(out, expected.as_bytes());
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
