//! Opaque secrets handed to clients (refresh tokens, one-time codes): random, and stored only
//! as their SHA-256.

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn random() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::getrandom(&mut bytes).is_err() {
        crate::errors::raise(crate::errors::Code::ERRCODE_INTERNAL_ERROR, "bknd: no random source available");
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random (version 4) UUID, as text: the same as gen_random_uuid(), without a trip through
/// SQL and OpenSSL's random-source checks (a tenth of a session's insert).
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        crate::errors::raise(crate::errors::Code::ERRCODE_INTERNAL_ERROR, "bknd: no random source available");
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    pgrx::Uuid::from_bytes(b).to_string()
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
