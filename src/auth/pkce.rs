//! PKCE (RFC 7636): a link requested with a code challenge is redeemed for a short-lived auth
//! code, which only the holder of the matching code verifier can exchange for a session.

use base64::Engine;
use pgrx::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::outcome::{answer, fail, Outcome};
use super::{audit, secret_token, session, user, valid_ip};
use crate::errors;

const AUTH_CODE_SECONDS: i64 = 300;

/// A validated (challenge, method) pair, or None when the request is not PKCE.
pub fn challenge(challenge: Option<&str>, method: Option<&str>) -> Result<Option<(String, String)>, Value> {
    let Some(c) = challenge.filter(|c| !c.is_empty()) else { return Ok(None) };
    let method = match method.unwrap_or("s256").to_ascii_lowercase().as_str() {
        "s256" => "s256",
        "plain" => "plain",
        _ => return Err(fail(400, "validation_failed", "code_challenge_method must be s256 or plain")),
    };
    let ok = (43..=128).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch));
    if !ok {
        return Err(fail(400, "validation_failed", "code_challenge must be 43 to 128 unreserved characters"));
    }
    Ok(Some((c.to_string(), method.to_string())))
}

pub fn new_auth_code(user_id: &str, challenge: &str, method: &str, amr_method: &str) -> Value {
    let code = secret_token::random();
    errors::spi(Spi::run_with_args(
        "INSERT INTO bknd.flow_states (auth_code_hash, user_id, code_challenge, code_challenge_method, method) \
         VALUES ($1, $2::uuid, $3, $4, $5)",
        &[secret_token::digest(&code).into(), user_id.into(), challenge.into(), method.into(), amr_method.into()],
    ));
    json!({"auth_code": code})
}

/// Exchange an auth code and its code verifier for a session.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn exchange_auth_code(auth_code: &str, code_verifier: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let invalid = || fail(404, "flow_state_not_found", "invalid flow state, no valid flow state found");
        super::rate_limit::hit(&format!("pkce:ip:{}", ip.unwrap_or("-")), 60, 300, ip)?;
        let row = errors::spi_or(
            Spi::connect(|c| {
                let t = c.select(
                    "SELECT id, user_id::text, code_challenge, code_challenge_method, method FROM bknd.flow_states \
                     WHERE auth_code_hash = $1 AND used_at IS NULL AND created_at > now() - make_interval(secs => $2) FOR UPDATE",
                    Some(1),
                    &[secret_token::digest(auth_code.trim()).into(), (AUTH_CODE_SECONDS as f64).into()],
                )?;
                let r = t.first();
                Ok::<_, pgrx::spi::SpiError>((
                    r.get::<i64>(1)?,
                    r.get::<String>(2)?,
                    r.get::<String>(3)?,
                    r.get::<String>(4)?,
                    r.get::<String>(5)?,
                ))
            }),
            (None, None, None, None, None),
        );
        let (Some(id), Some(user_id), Some(challenge), Some(method), Some(amr_method)) = row else { return Err(invalid()) };
        let computed = match method.as_str() {
            "plain" => code_verifier.to_string(),
            _ => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes())),
        };
        use subtle::ConstantTimeEq;
        let matches = computed.len() == challenge.len() && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()));
        if !matches {
            audit::log(Some(&user_id), "pkce_verifier_mismatch", ip, json!({}));
            return Err(fail(403, "bad_code_verifier", "code challenge does not match previously saved code verifier"));
        }
        errors::spi(Spi::run_with_args("UPDATE bknd.flow_states SET used_at = now() WHERE id = $1", &[id.into()]));
        Ok(session::issue(&user_id, "aal1", user::amr(&amr_method), ip))
    })())
}
