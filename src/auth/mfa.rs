//! TOTP multi-factor auth: enroll, challenge, verify (raising the session to aal2), unenroll.
//! A code is accepted once: the step it belongs to must be later than the last one used.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::outcome::{answer, fail, Outcome};
use super::{audit, caller, session, totp};
use crate::errors;

const CHALLENGE_SECONDS: i64 = 300;

fn signed_in() -> Result<(String, Option<String>), Value> {
    caller().ok_or_else(|| fail(401, "no_authorization", "This endpoint requires a valid Bearer token"))
}

fn valid_uuid(s: &str) -> Result<String, Value> {
    if s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(fail(404, "mfa_factor_not_found", "Factor not found"))
    }
}

/// Start enrolling a TOTP factor: its secret, `otpauth://` URI and QR code (issuer "bknd").
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mfa_enroll(friendly_name: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    answer(enroll(friendly_name, None))
}

/// The same, naming the issuer the authenticator app shows (supabase-js sends `issuer`).
/// Since 0.5.0 (a function of its own: mfa_enroll keeps the 0.4.0 shape).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mfa_enroll_totp(friendly_name: default!(Option<&str>, "NULL"), issuer: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    answer(enroll(friendly_name, issuer))
}

fn enroll(friendly_name: Option<&str>, issuer: Option<&str>) -> Outcome {
    let issuer = issuer.map(str::trim).filter(|i| !i.is_empty()).unwrap_or("bknd");
    // the key URI's label is issuer:account, so no colon; what an app shows, so short and printable
    if issuer.chars().count() > 100 || issuer.contains(':') || issuer.chars().any(char::is_control) {
        return Err(fail(422, "validation_failed", "issuer must be at most 100 printable characters, without ':'"));
    }
    let (user_id, _) = signed_in()?;
    let email = errors::spi(crate::plans::get_one::<String>(
        "SELECT coalesce(email, id::text) FROM bknd.users WHERE id = $1::uuid",
        &[user_id.as_str().into()],
    ))
    .unwrap_or_default();
    let count = errors::spi(crate::plans::get_one::<i64>(
        "SELECT count(*) FROM bknd.mfa_factors WHERE user_id = $1::uuid",
        &[user_id.as_str().into()],
    ))
    .unwrap_or(0);
    if count >= 10 {
        return Err(fail(422, "too_many_enrolled_mfa_factors", "Maximum number of enrolled factors reached"));
    }
    let secret = totp::new_secret();
    let id = errors::spi(crate::plans::get_one::<String>(
        "INSERT INTO bknd.mfa_factors (user_id, friendly_name, secret) VALUES ($1::uuid, $2, $3) RETURNING id::text",
        &[user_id.as_str().into(), friendly_name.into(), secret.as_str().into()],
    ))
    .unwrap_or_default();
    let uri = totp::uri(issuer, &email, &secret);
    audit::log(Some(&user_id), "factor_enrolled", None, json!({"factor_id": id}));
    Ok(json!({
        "id": id, "type": "totp", "friendly_name": friendly_name,
        "totp": {"qr_code": totp::qr_svg(&uri), "secret": secret, "uri": uri}
    }))
}

fn own_factor(user_id: &str, factor_id: &str) -> Result<(String, Option<i64>, String), Value> {
    let id = valid_uuid(factor_id)?;
    let row = errors::spi_or(
        crate::plans::get_three::<String, i64, String>(
            "SELECT secret, last_used_step, status FROM bknd.mfa_factors WHERE id = $1::uuid AND user_id = $2::uuid",
            &[id.as_str().into(), user_id.into()],
        ),
        (None, None, None),
    );
    match row {
        (Some(secret), last, Some(status)) => Ok((secret, last, status)),
        _ => Err(fail(404, "mfa_factor_not_found", "Factor not found")),
    }
}

/// A challenge to answer with a code from the factor.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mfa_challenge(factor_id: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = super::valid_ip(ip);
    answer((|| -> Outcome {
        let (user_id, _) = signed_in()?;
        own_factor(&user_id, factor_id)?;
        let row = errors::spi(crate::plans::get_two::<String, i64>(
            "INSERT INTO bknd.mfa_challenges (factor_id, ip) VALUES ($1::uuid, $2::inet) \
             RETURNING id::text, extract(epoch FROM created_at)::bigint + $3",
            &[factor_id.into(), ip.into(), CHALLENGE_SECONDS.into()],
        ));
        Ok(json!({"id": row.0, "type": "totp", "expires_at": row.1}))
    })())
}

/// Answer a challenge: a session at aal2 (and the factor verified, on first use).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mfa_verify(factor_id: &str, challenge_id: &str, code: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = super::valid_ip(ip);
    answer((|| -> Outcome {
        let (user_id, _) = signed_in()?;
        super::rate_limit::hit(&format!("mfa:user:{user_id}"), 30, 300, ip)?;
        let (secret, last_step, _) = own_factor(&user_id, factor_id)?;
        let challenge = valid_uuid(challenge_id).map_err(|_| fail(404, "mfa_challenge_not_found", "Challenge not found"))?;
        // FOR UPDATE: one verification per challenge, even when two race
        let open = errors::spi_or(
            crate::plans::get_one::<bool>(
                "SELECT verified_at IS NULL AND created_at > now() - make_interval(secs => $3) FROM bknd.mfa_challenges \
                 WHERE id = $1::uuid AND factor_id = $2::uuid FOR UPDATE",
                &[challenge.as_str().into(), factor_id.into(), (CHALLENGE_SECONDS as f64).into()],
            ),
            None,
        );
        match open {
            None => return Err(fail(404, "mfa_challenge_not_found", "Challenge not found")),
            Some(false) => return Err(fail(422, "mfa_challenge_expired", "MFA challenge has expired or was used")),
            Some(true) => {}
        }
        let now = crate::jwt::unix_now();
        let step = totp::matching_step(&secret, code.trim(), now);
        let Some(step) = step.filter(|s| last_step.is_none_or(|last| *s > last)) else {
            audit::log(Some(&user_id), "mfa_verify_failed", ip, json!({"factor_id": factor_id}));
            return Err(fail(422, "mfa_verification_failed", "Invalid TOTP code entered"));
        };
        errors::spi(Spi::run_with_args(
            "UPDATE bknd.mfa_factors SET status = 'verified', last_used_step = $2, updated_at = now() WHERE id = $1::uuid",
            &[factor_id.into(), step.into()],
        ));
        errors::spi(Spi::run_with_args(
            "UPDATE bknd.mfa_challenges SET verified_at = now() WHERE id = $1::uuid",
            &[challenge.as_str().into()],
        ));
        audit::log(Some(&user_id), "mfa_verified", ip, json!({"factor_id": factor_id}));
        let amr = json!([{"method": "totp", "timestamp": now}, {"method": "password", "timestamp": now}]);
        Ok(session::issue(&user_id, "aal2", amr, ip))
    })())
}

/// Remove a factor. A verified factor needs an aal2 session to remove.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mfa_unenroll(factor_id: &str) -> pgrx::JsonB {
    answer((|| -> Outcome {
        let (user_id, _) = signed_in()?;
        let (_, _, status) = own_factor(&user_id, factor_id)?;
        let aal = errors::spi(crate::plans::get_one::<String>("SELECT bknd.claims() ->> 'aal'", &[])).unwrap_or_default();
        if status == "verified" && aal != "aal2" {
            return Err(fail(403, "insufficient_aal", "AAL2 required to unenroll verified factor"));
        }
        errors::spi(Spi::run_with_args("DELETE FROM bknd.mfa_factors WHERE id = $1::uuid", &[factor_id.into()]));
        audit::log(Some(&user_id), "factor_unenrolled", None, json!({"factor_id": factor_id}));
        Ok(json!({"id": factor_id}))
    })())
}
