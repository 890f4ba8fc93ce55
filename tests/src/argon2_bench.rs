//! argon2id verification as the extension runs it (src/auth/password.rs: OWASP's parameters,
//! 19 MiB, t=2, p=1, with the memory kept between verifications rather than allocated for each,
//! which is ~10% faster), for the benchmarks' baselines.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

pub struct Verifier {
    argon: Argon2<'static>,
    password: Vec<u8>,
    salt: Vec<u8>,
    expected: Vec<u8>,
    memory: Vec<Block>,
    out: Vec<u8>,
}

impl Verifier {
    /// A verifier of `password` against a fresh hash of it.
    pub fn new(password: &[u8]) -> Self {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).unwrap());
        let hash = argon.hash_password(password, &SaltString::generate(&mut OsRng)).unwrap().to_string();
        let parsed = PasswordHash::new(&hash).unwrap();
        let mut salt = [0u8; 64];
        let salt = parsed.salt.unwrap().decode_b64(&mut salt).unwrap().to_vec();
        let expected = parsed.hash.unwrap().as_bytes().to_vec();
        let out = vec![0u8; expected.len()];
        Verifier { argon, password: password.to_vec(), salt, expected, memory: vec![Block::default(); 19 * 1024], out }
    }

    /// One verification (it must match).
    pub fn verify(&mut self) {
        self.argon.hash_password_into_with_memory(&self.password, &self.salt, &mut self.out, &mut self.memory[..]).unwrap();
        assert_eq!(self.out, self.expected);
    }
}

/// A hash of `password` with the cheapest parameters (8 KiB, t=1).
pub fn cheap_hash(password: &str) -> String {
    let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap());
    cheap.hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng)).unwrap().to_string()
}
