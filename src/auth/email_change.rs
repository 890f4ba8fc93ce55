//! Changing a user's email, as GoTrue's secure email change does it. With confirmations on
//! (`autoconfirm` off), `update_user` only records the new address as pending; the sidecar then
//! calls `request_email_change_tokens` (its own role only: it returns the codes to mail), which
//! makes a code and link for the new address and, when the current address is confirmed and
//! `secure_email_change` is on (the default), one for the current address too. The email
//! changes once every address written to has confirmed (`verify` with type `email_change`):
//! nobody can take an address they cannot read, nor move an account off one they can read
//! without its owner's say.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::email_token::{self, Issued};
use super::outcome::{answer, fail, Outcome};
use super::{audit, rate_limit, session, settings, user, valid_ip};
use crate::errors;

const NEW: &str = "email_change_new";
const CURRENT: &str = "email_change_current";
pub const PURPOSES: [&str; 2] = [NEW, CURRENT];

/// What GoTrue answers when the first of two confirmations arrives.
const FIRST_OF_TWO: &str = "Confirmation link accepted. Please proceed to confirm link sent to the other email";

pub fn is_email_change(purpose: &str) -> bool {
    PURPOSES.contains(&purpose)
}

/// Record `new_email` as `user_id`'s pending change; its tokens are made (and any earlier
/// change's tokens voided) when the sidecar asks for them to mail.
pub fn record(user_id: &str, new_email: &str) {
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.users SET email_change = $2, email_change_sent_at = NULL, updated_at = now() WHERE id = $1::uuid",
        &[user_id.into(), new_email.into()],
    ));
    forget_tokens(user_id);
}

/// Drop a pending change (the email was set another way) and its tokens.
pub fn clear(user_id: &str) {
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.users SET email_change = NULL, email_change_sent_at = NULL WHERE id = $1::uuid AND email_change IS NOT NULL",
        &[user_id.into()],
    ));
    forget_tokens(user_id);
}

fn forget_tokens(user_id: &str) {
    errors::spi(Spi::run_with_args(
        "DELETE FROM bknd.one_time_tokens WHERE user_id = $1::uuid AND purpose = ANY($2)",
        &[user_id.into(), PURPOSES.iter().map(|p| p.to_string()).collect::<Vec<String>>().into()],
    ));
}

/// The codes and links for `user_id`'s recorded, not yet sent email change:
/// `{send, messages: [{email, code, link_token, purpose}], user}`, or `{send: false}` when
/// there is none. The sidecar's role only: it returns secrets to mail.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn request_email_change_tokens(user_id: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    crate::identity::refuse_switched_role("request email change tokens");
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let pending = errors::spi_or(
            crate::plans::get_three::<String, String, bool>(
                "SELECT email_change, lower(email), email_confirmed_at IS NOT NULL FROM bknd.users \
                 WHERE id = $1::uuid AND email_change IS NOT NULL AND email_change_sent_at IS NULL FOR UPDATE",
                &[user_id.into()],
            ),
            (None, None, None),
        );
        let (Some(new_email), current, confirmed) = pending else { return Ok(json!({"send": false})) };
        rate_limit::hit(&format!("email_token:email:{new_email}"), 5, 3600, ip)?;
        forget_tokens(user_id);
        let mut to = vec![(new_email.as_str(), NEW)];
        let secure = settings()["secure_email_change"].as_bool().unwrap_or(true);
        let current = current.filter(|c| !c.is_empty() && secure && confirmed == Some(true));
        if let Some(c) = &current {
            to.push((c.as_str(), CURRENT));
        }
        let messages: Vec<Value> = to
            .into_iter()
            .map(|(email, purpose)| {
                let Issued { code, link } = email_token::issue(user_id, email, purpose, true, None);
                json!({"email": email, "code": code, "link_token": link.unwrap_or_default(), "purpose": purpose})
            })
            .collect();
        errors::spi(Spi::run_with_args("UPDATE bknd.users SET email_change_sent_at = now() WHERE id = $1::uuid", &[user_id.into()]));
        audit::log(Some(user_id), "email_change_requested", ip, json!({"secure": current.is_some()}));
        Ok(json!({"send": true, "messages": messages, "user": user::json(user_id)}))
    })())
}

/// A redeemed email-change token (already marked used) of `purpose`, sent to `sent_to`: the
/// first of two confirmations answers a message; the last one changes the email and answers a
/// session.
pub fn confirm(user_id: &str, purpose: &str, sent_to: &str, ip: Option<&str>) -> Outcome {
    let invalid = || fail(403, "otp_expired", "Token has expired or is invalid");
    let row = errors::spi_or(
        crate::plans::get_three::<String, String, bool>(
            "SELECT email_change, coalesce(lower(email), ''), coalesce(banned_until > now(), false) \
             FROM bknd.users WHERE id = $1::uuid FOR UPDATE",
            &[user_id.into()],
        ),
        (None, None, None),
    );
    let (Some(new_email), Some(current), banned) = row else { return Err(invalid()) };
    // the token must belong to the change still pending (a newer change voids it anyway)
    let matches = if purpose == NEW { sent_to == new_email } else { sent_to == current };
    if !matches {
        return Err(invalid());
    }
    if banned == Some(true) {
        return Err(fail(400, "user_banned", "User is banned"));
    }
    let other = if purpose == NEW { CURRENT } else { NEW };
    let waiting = errors::spi(crate::plans::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM bknd.one_time_tokens WHERE user_id = $1::uuid AND purpose = $2 AND used_at IS NULL)",
        &[user_id.into(), other.into()],
    ))
    .unwrap_or(false);
    if waiting {
        audit::log(Some(user_id), "email_change_confirmed_once", ip, json!({"purpose": purpose}));
        return Ok(json!({"msg": FIRST_OF_TWO, "code": 200}));
    }
    if user::find_by_email(&new_email).is_some_and(|other| other != user_id) {
        return Err(fail(422, "email_exists", "A user with this email address has already been registered"));
    }
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.users SET email = email_change, email_confirmed_at = now(), email_change = NULL, \
           email_change_sent_at = NULL, last_sign_in_at = now(), updated_at = now() WHERE id = $1::uuid",
        &[user_id.into()],
    ));
    user::set_identity_email(user_id, &new_email);
    forget_tokens(user_id);
    audit::log(Some(user_id), "email_changed", ip, json!({}));
    Ok(session::issue(user_id, "aal1", user::amr("otp"), ip))
}
