//! One-time codes and links by email: magic-link / OTP sign-in, sign-up confirmation, password
//! recovery. A request makes a 6-digit code and a link token, stored only as hashes, valid for
//! an hour and once; the newest request voids the earlier ones.
//!
//! `request_email_token` returns the secrets to send, so only `authenticator` (the sidecar,
//! before it switches role) may call it: no API role can obtain a code for someone else.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::outcome::{answer, fail, Outcome};
use super::user::{self, normalize_email};
use super::{audit, rate_limit, secret_token, session, valid_ip};
use crate::errors;

const VALID_SECONDS: i64 = 3600;
const PURPOSES: [&str; 3] = ["magiclink", "signup", "recovery"];

fn code_hash(email: &str, code: &str) -> Vec<u8> {
    secret_token::digest(&format!("{email}:{code}"))
}

fn six_digits() -> String {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        errors::raise(errors::Code::ERRCODE_INTERNAL_ERROR, "bknd: no random source available");
    }
    format!("{:06}", u32::from_le_bytes(b) % 1_000_000)
}

/// Make a code and a link token for `email`. `{send: false}` when there is nobody to send to
/// (unknown email and no user to create); the sidecar answers the client alike either way.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn request_email_token(
    email: &str,
    purpose: &str,
    create_user: default!(bool, false),
    ip: default!(Option<&str>, "NULL"),
    code_challenge: default!(Option<&str>, "NULL"),
    code_challenge_method: default!(Option<&str>, "NULL"),
) -> pgrx::JsonB {
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        if !PURPOSES.contains(&purpose) {
            return Err(fail(400, "validation_failed", "purpose must be magiclink, signup or recovery"));
        }
        let challenge = super::pkce::challenge(code_challenge, code_challenge_method)?;
        let email = normalize_email(email)?;
        rate_limit::hit(&format!("email_token:email:{email}"), 5, 3600, ip)?;
        rate_limit::hit(&format!("email_token:ip:{}", ip.unwrap_or("-")), 60, 3600, ip)?;
        let user_id = match user::find_by_email(&email) {
            Some(id) => id,
            None if create_user && purpose == "magiclink" => {
                let id = user::create(&email, None, false, json!({}), json!({}), "authenticated");
                audit::log(Some(&id), "user_signedup", ip, json!({"provider": "email", "via": "otp"}));
                id
            }
            None => return Ok(json!({"send": false})),
        };
        errors::spi(Spi::run_with_args(
            "UPDATE bknd.one_time_tokens SET used_at = now() WHERE user_id = $1::uuid AND purpose = $2 AND used_at IS NULL",
            &[user_id.as_str().into(), purpose.into()],
        ));
        let code = six_digits();
        let link = secret_token::random();
        let (challenge, method) = match &challenge {
            Some((c, m)) => (Some(c.as_str()), Some(m.as_str())),
            None => (None, None),
        };
        for hash in [code_hash(&email, &code), secret_token::digest(&link)] {
            errors::spi(Spi::run_with_args(
                "INSERT INTO bknd.one_time_tokens (user_id, email, purpose, token_hash, expires_at, code_challenge, code_challenge_method) \
                 VALUES ($1::uuid, $2, $3, $4, now() + make_interval(secs => $5), $6, $7)",
                &[
                    user_id.as_str().into(),
                    email.as_str().into(),
                    purpose.into(),
                    hash.into(),
                    (VALID_SECONDS as f64).into(),
                    challenge.into(),
                    method.into(),
                ],
            ));
        }
        audit::log(Some(&user_id), "email_token_requested", ip, json!({"purpose": purpose}));
        Ok(json!({"send": true, "email": email, "code": code, "link_token": link, "purpose": purpose}))
    })())
}

/// Use a token (by its hash): single use, unexpired; then confirm the email and start a session,
/// or, for a link requested with a PKCE challenge (`pkce_link`), answer an auth code instead.
fn redeem(hash: Vec<u8>, purposes: &[&str], ip: Option<&str>, pkce_link: bool) -> Outcome {
    let invalid = || fail(403, "otp_expired", "Token has expired or is invalid");
    let row = errors::spi_or(
        Spi::get_two_with_args::<String, String>(
            "SELECT user_id::text, purpose FROM bknd.one_time_tokens \
             WHERE token_hash = $1 AND purpose = ANY($2) AND used_at IS NULL AND expires_at > now() \
             ORDER BY id DESC LIMIT 1 FOR UPDATE",
            &[hash.clone().into(), purposes.iter().map(|p| p.to_string()).collect::<Vec<String>>().into()],
        ),
        (None, None),
    );
    let (Some(user_id), Some(purpose)) = row else { return Err(invalid()) };
    let challenge = errors::spi_or(
        Spi::get_two_with_args::<String, String>(
            "SELECT code_challenge, code_challenge_method FROM bknd.one_time_tokens \
             WHERE token_hash = $1 AND user_id = $2::uuid AND used_at IS NULL ORDER BY id DESC LIMIT 1",
            &[hash.clone().into(), user_id.as_str().into()],
        ),
        (None, None),
    );
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.one_time_tokens SET used_at = now() WHERE user_id = $1::uuid AND purpose = $2 AND used_at IS NULL",
        &[user_id.as_str().into(), purpose.as_str().into()],
    ));
    let banned = errors::spi(Spi::get_one_with_args::<bool>(
        "UPDATE bknd.users SET email_confirmed_at = coalesce(email_confirmed_at, now()), last_sign_in_at = now() \
         WHERE id = $1::uuid RETURNING coalesce(banned_until > now(), false)",
        &[user_id.as_str().into()],
    ))
    .unwrap_or(false);
    if banned {
        return Err(fail(400, "user_banned", "User is banned"));
    }
    audit::log(Some(&user_id), "email_token_used", ip, json!({"purpose": purpose}));
    let method = if purpose == "recovery" { "recovery" } else { "otp" };
    if let (true, (Some(c), Some(m))) = (pkce_link, challenge) {
        return Ok(super::pkce::new_auth_code(&user_id, &c, &m, method));
    }
    Ok(session::issue(&user_id, "aal1", user::amr(method), ip))
}

/// `type`: email / magiclink / signup (any of those codes) or recovery.
fn purposes_for(kind: &str) -> Result<&'static [&'static str], Value> {
    match kind {
        "email" | "magiclink" | "signup" => Ok(&["magiclink", "signup"]),
        "recovery" => Ok(&["recovery"]),
        _ => Err(fail(400, "validation_failed", "type must be email, magiclink, signup or recovery")),
    }
}

/// Sign in with the 6-digit code that was emailed.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn verify_email_code(email: &str, code: &str, kind: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let purposes = purposes_for(kind)?;
        let email = normalize_email(email).map_err(|_| fail(403, "otp_expired", "Token has expired or is invalid"))?;
        rate_limit::hit(&format!("verify_code:email:{email}"), 10, 300, ip)?;
        redeem(code_hash(&email, code.trim()), purposes, ip, false)
    })())
}

/// Sign in with the token from an emailed link.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn verify_email_link(token: &str, kind: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let purposes = purposes_for(kind)?;
        rate_limit::hit(&format!("verify_link:ip:{}", ip.unwrap_or("-")), 60, 300, ip)?;
        redeem(secret_token::digest(token.trim()), purposes, ip, true)
    })())
}
