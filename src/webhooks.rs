//! Webhook secrets and signatures (`sql/webhooks.sql`): the secret never leaves the database
//! except once, when it is made; the sidecar is handed signatures, not secrets.

use base64::Engine;
use hmac::{Hmac, Mac};
use pgrx::prelude::*;
use sha2::Sha256;

use crate::errors::{self, Code};

/// `whsec_` and the base64 of 32 random bytes (Standard Webhooks' form).
#[pg_extern(volatile, parallel_safe)]
fn webhook_new_secret() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::getrandom(&mut bytes).is_err() {
        errors::raise(Code::ERRCODE_INTERNAL_ERROR, "no randomness available for a webhook secret");
    }
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The `webhook-signature` header for `content` (`<id>.<timestamp>.<body>`): `v1,<base64 of
/// HMAC-SHA256>` for each secret, separated by spaces.
#[pg_extern(immutable, parallel_safe, strict)]
fn webhook_signature(secrets: Vec<String>, content: &str) -> String {
    secrets.iter().map(|secret| format!("v1,{}", sign(secret, content))).collect::<Vec<_>>().join(" ")
}

fn sign(secret: &str, content: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap_or_else(|_| errors::raise(Code::ERRCODE_DATA_CORRUPTED, "a webhook secret is not base64"));
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(content.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
