//! One-time codes and links by email: magic-link / OTP sign-in, sign-up confirmation, password
//! recovery, email change (email_change.rs) and reauthentication (reauthenticate.rs). A request
//! makes a 6-digit code and a link token, stored only as hashes, valid for an hour and once; the
//! newest request voids the earlier ones.
//!
//! A code is redeemed only as a code (with its email, under the per-email limit) and a link
//! token only as a link: each row says which it is (`kind`) and their hashes are domain-
//! separated, so a guessable code can never be presented as an unguessable link token.
//!
//! `request_email_token` returns the secrets to send, so only `authenticator` (the sidecar,
//! before it switches role) may call it: no API role can obtain a code for someone else.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::outcome::{answer, fail, Outcome};
use super::user::{self, normalize_email};
use super::{audit, email_change, rate_limit, secret_token, session, valid_ip};
use crate::errors;

pub const VALID_SECONDS: i64 = 3600;
const PURPOSES: [&str; 3] = ["magiclink", "signup", "recovery"];

/// A code's hash: bound to the email it was sent to, and in a domain of its own.
pub fn code_hash(email: &str, code: &str) -> Vec<u8> {
    secret_token::digest(&format!("code\0{email}\0{code}"))
}

/// A link token's hash, in a domain of its own: no code's preimage starts this way.
fn link_hash(token: &str) -> Vec<u8> {
    secret_token::digest(&format!("link\0{token}"))
}

fn six_digits() -> String {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        errors::raise(errors::Code::ERRCODE_INTERNAL_ERROR, "bknd: no random source available");
    }
    format!("{:06}", u32::from_le_bytes(b) % 1_000_000)
}

/// What a request for a token hands back to send: the code and, when asked for, a link token.
pub struct Issued {
    pub code: String,
    pub link: Option<String>,
}

/// Store a new code (and a link token when `with_link`) for `user_id`, sent to `email`.
pub fn issue(user_id: &str, email: &str, purpose: &str, with_link: bool, challenge: Option<(&str, &str)>) -> Issued {
    let code = six_digits();
    let link = with_link.then(secret_token::random);
    let (challenge, method) = challenge.unzip();
    let mut rows = vec![("code", code_hash(email, &code))];
    if let Some(l) = &link {
        rows.push(("link", link_hash(l)));
    }
    for (kind, hash) in rows {
        errors::spi(Spi::run_with_args(
            "INSERT INTO bknd.one_time_tokens (user_id, email, purpose, kind, token_hash, expires_at, code_challenge, code_challenge_method) \
             VALUES ($1::uuid, $2, $3, $4, $5, now() + make_interval(secs => $6), $7, $8)",
            &[
                user_id.into(),
                email.into(),
                purpose.into(),
                kind.into(),
                hash.into(),
                (VALID_SECONDS as f64).into(),
                challenge.into(),
                method.into(),
            ],
        ));
    }
    Issued { code, link }
}

/// Void the unused tokens of `user_id` for `purpose`.
pub fn void(user_id: &str, purpose: &str) {
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.one_time_tokens SET used_at = now() WHERE user_id = $1::uuid AND purpose = $2 AND used_at IS NULL",
        &[user_id.into(), purpose.into()],
    ));
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
    crate::identity::refuse_switched_role("request email tokens");
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
        void(&user_id, purpose);
        let challenge = challenge.as_ref().map(|(c, m)| (c.as_str(), m.as_str()));
        let Issued { code, link } = issue(&user_id, &email, purpose, true, challenge);
        audit::log(Some(&user_id), "email_token_requested", ip, json!({"purpose": purpose}));
        Ok(json!({"send": true, "email": email, "code": code, "link_token": link.unwrap_or_default(), "purpose": purpose}))
    })())
}

/// Use a token (by its hash and kind): single use, unexpired. An email change's token goes on
/// in email_change.rs; any other confirms the email and starts a session, or, for a link
/// requested with a PKCE challenge (`pkce_link`), answers an auth code instead.
fn redeem(hash: Vec<u8>, kind: &str, purposes: &[&str], ip: Option<&str>, pkce_link: bool) -> Outcome {
    let invalid = || fail(403, "otp_expired", "Token has expired or is invalid");
    let row = errors::spi_or(
        Spi::connect(|c| {
            let t = c.select(
                "SELECT user_id::text, purpose, email, code_challenge, code_challenge_method FROM bknd.one_time_tokens \
                 WHERE token_hash = $1 AND kind = $2 AND purpose = ANY($3) AND used_at IS NULL AND expires_at > now() \
                 ORDER BY id DESC LIMIT 1 FOR UPDATE",
                Some(1),
                &[hash.into(), kind.into(), purposes.iter().map(|p| p.to_string()).collect::<Vec<String>>().into()],
            )?;
            let r = t.first();
            Ok::<_, pgrx::spi::SpiError>((
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?,
                r.get::<String>(4)?,
                r.get::<String>(5)?,
            ))
        }),
        (None, None, None, None, None),
    );
    let (Some(user_id), Some(purpose), sent_to, challenge, method) = row else { return Err(invalid()) };
    void(&user_id, &purpose);
    if email_change::is_email_change(&purpose) {
        return email_change::confirm(&user_id, &purpose, sent_to.as_deref().unwrap_or(""), ip);
    }
    let banned = errors::spi(crate::plans::get_one::<bool>(
        "UPDATE bknd.users SET email_confirmed_at = coalesce(email_confirmed_at, now()), last_sign_in_at = now() \
         WHERE id = $1::uuid RETURNING coalesce(banned_until > now(), false)",
        &[user_id.as_str().into()],
    ))
    .unwrap_or(false);
    if banned {
        return Err(fail(400, "user_banned", "User is banned"));
    }
    audit::log(Some(&user_id), "email_token_used", ip, json!({"purpose": purpose}));
    let amr_method = if purpose == "recovery" { "recovery" } else { "otp" };
    if let (true, Some(c), Some(m)) = (pkce_link, challenge, method) {
        return Ok(super::pkce::new_auth_code(&user_id, &c, &m, amr_method));
    }
    Ok(session::issue(&user_id, "aal1", user::amr(amr_method), ip))
}

/// `type`: email / magiclink / signup (any of those codes), recovery, or email_change.
fn purposes_for(kind: &str) -> Result<&'static [&'static str], Value> {
    match kind {
        "email" | "magiclink" | "signup" => Ok(&["magiclink", "signup"]),
        "recovery" => Ok(&["recovery"]),
        "email_change" => Ok(&email_change::PURPOSES),
        _ => Err(fail(400, "validation_failed", "type must be email, magiclink, signup, recovery or email_change")),
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
        redeem(code_hash(&email, code.trim()), "code", purposes, ip, false)
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
        redeem(link_hash(token.trim()), "link", purposes, ip, true)
    })())
}
