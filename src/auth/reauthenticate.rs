//! Reauthentication, as GoTrue has it: with `secure_password_change` on, a password change
//! needs a session that signed in within the last 24 hours, or the nonce (a 6-digit code) that
//! `GET /reauthenticate` mailed to the user. `request_reauthentication` returns the nonce to
//! mail, so it is the sidecar's role's only.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::email_token::{self, Issued};
use super::outcome::{answer, fail, Outcome};
use super::{audit, rate_limit, settings, valid_ip};
use crate::errors;

const PURPOSE: &str = "reauthentication";
/// A session younger than this may change the password without a nonce (GoTrue's rule).
const RECENT_SECONDS: i64 = 24 * 3600;

/// `{send, email, code}`: a new nonce for `user_id` (earlier ones voided).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn request_reauthentication(user_id: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    crate::identity::refuse_switched_role("request reauthentication");
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let email = errors::spi_or(
            crate::plans::get_one::<String>("SELECT lower(email) FROM bknd.users WHERE id = $1::uuid", &[user_id.into()]),
            None,
        )
        .filter(|e| !e.is_empty())
        .ok_or_else(|| fail(422, "validation_failed", "Reauthentication requires the user to have an email"))?;
        rate_limit::hit(&format!("email_token:email:{email}"), 5, 3600, ip)?;
        email_token::void(user_id, PURPOSE);
        let Issued { code, .. } = email_token::issue(user_id, &email, PURPOSE, false, None);
        audit::log(Some(user_id), "reauthentication_requested", ip, json!({}));
        Ok(json!({"send": true, "email": email, "code": code}))
    })())
}

/// Whether the signed-in user may set a new password now: always when `secure_password_change`
/// is off; else when their session signed in within 24 hours, or `nonce` is their newest
/// unused, unexpired reauthentication code (used up here). Guesses count against the same
/// per-email limit as any other code.
pub fn password_change_allowed(user_id: &str, session_id: Option<&str>, nonce: Option<&str>, ip: Option<&str>) -> Result<(), Value> {
    if !settings()["secure_password_change"].as_bool().unwrap_or(false) {
        return Ok(());
    }
    let recent = session_id.is_some_and(|s| {
        errors::spi_or(
            crate::plans::get_one::<bool>(
                "SELECT created_at > now() - make_interval(secs => $3) FROM bknd.sessions WHERE id = $1::uuid AND user_id = $2::uuid",
                &[s.into(), user_id.into(), (RECENT_SECONDS as f64).into()],
            ),
            None,
        )
        .unwrap_or(false)
    });
    if recent {
        return Ok(());
    }
    let Some(nonce) = nonce.map(str::trim).filter(|n| !n.is_empty()) else {
        return Err(fail(400, "reauthentication_needed", "Password update requires reauthentication"));
    };
    let not_valid = || fail(422, "reauthentication_not_valid", "Requested nonce is invalid");
    let email =
        errors::spi_or(crate::plans::get_one::<String>("SELECT lower(email) FROM bknd.users WHERE id = $1::uuid", &[user_id.into()]), None)
            .ok_or_else(not_valid)?;
    rate_limit::hit(&format!("verify_code:email:{email}"), 10, 300, ip)?;
    let used = errors::spi_or(
        crate::plans::get_one::<i64>(
            "UPDATE bknd.one_time_tokens SET used_at = now() \
             WHERE user_id = $1::uuid AND purpose = $2 AND kind = 'code' AND token_hash = $3 AND used_at IS NULL AND expires_at > now() \
             RETURNING id",
            &[user_id.into(), PURPOSE.into(), email_token::code_hash(&email, nonce).into()],
        ),
        None,
    );
    match used {
        Some(_) => Ok(()),
        None => Err(not_valid()),
    }
}
