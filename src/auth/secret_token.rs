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

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
