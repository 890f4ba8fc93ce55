//! Users: sign up, sign in with a password, read and update the current user.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::outcome::{answer, fail, Outcome};
use super::{audit, caller, commit, email_change, password, rate_limit, reauthenticate, session, settings, valid_ip};
use crate::errors;
use crate::subtransaction::Subtransaction;

const USER_JSON: &str = include_str!("../../sql/queries/auth_user.sql");

/// A user as GoTrue shows one.
pub fn json(user_id: &str) -> Value {
    errors::spi_or(crate::plans::get_one::<pgrx::JsonB>(USER_JSON, &[user_id.into()]), None).map(|j| j.0).unwrap_or(Value::Null)
}

/// Lower-cased and trimmed, or why it is not an email address.
pub fn normalize_email(email: &str) -> Result<String, Value> {
    let e = email.trim().to_lowercase();
    let (local, domain) = e.split_once('@').unwrap_or(("", ""));
    let ok = e.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ';' || c == '<' || c == '>')
        && e.matches('@').count() == 1;
    if ok {
        Ok(e)
    } else {
        Err(fail(400, "validation_failed", "Unable to validate email address: invalid format"))
    }
}

/// The id of the user with `email` (normalized), with the email locked until the transaction
/// ends: a concurrent sign-up, OAuth sign-in, admin creation or email change with the same
/// email waits here for this transaction, then finds what it did. Without the lock both would
/// find no one, and the second would fail on the unique index with an error that names it.
pub fn find_by_email(email: &str) -> Option<String> {
    lock_until_commit("bknd.users.email", email);
    // a statement of its own, so that its snapshot is taken after the wait
    errors::spi_or(crate::plans::get_one::<String>("SELECT id::text FROM bknd.users WHERE lower(email) = $1", &[email.into()]), None)
}

/// Hold a transaction-level advisory lock on (`kind`, `key`) until commit or rollback.
pub fn lock_until_commit(kind: &str, key: &str) {
    errors::spi(crate::plans::run("SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0))", &[kind.into(), key.into()]));
}

/// Insert a user with an email identity; returns the id.
pub fn create(email: &str, password_hash: Option<&str>, confirmed: bool, user_metadata: Value, app_metadata: Value, role: &str) -> String {
    let id = errors::spi(crate::plans::get_one::<String>(
        "INSERT INTO bknd.users (email, password_hash, email_confirmed_at, user_metadata, app_metadata, role) \
         VALUES ($1, $2, CASE WHEN $3 THEN now() END, $4, $5, $6) RETURNING id::text",
        &[
            email.into(),
            password_hash.into(),
            confirmed.into(),
            pgrx::JsonB(user_metadata).into(),
            pgrx::JsonB(app_metadata).into(),
            role.into(),
        ],
    ))
    .unwrap_or_default();
    errors::spi(Spi::run_with_args(
        "INSERT INTO bknd.identities (user_id, provider, provider_id, identity_data) \
         VALUES ($1::uuid, 'email', $1, jsonb_build_object('sub', $1, 'email', $2, 'email_verified', $3))",
        &[id.as_str().into(), email.into(), confirmed.into()],
    ));
    id
}

fn metadata(data: Option<pgrx::JsonB>) -> Result<Value, Value> {
    match data.map(|j| j.0) {
        None | Some(Value::Null) => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(fail(400, "validation_failed", "data must be a JSON object")),
    }
}

/// Sign up with email and password. With autoconfirm on (the default until email is set up)
/// the answer is a session; otherwise the user, who must confirm their email first, and an
/// existing email gets an answer that looks the same as a new one.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn sign_up(email: &str, password: &str, data: default!(Option<pgrx::JsonB>, "NULL"), ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let cfg = settings();
        if cfg["disable_signup"].as_bool().unwrap_or(false) {
            return Err(fail(422, "signup_disabled", "Signups not allowed for this instance"));
        }
        rate_limit::hit(&format!("sign_up:ip:{}", ip.unwrap_or("-")), 30, 3600, ip)?;
        let email = normalize_email(email)?;
        if let Some(why) = password::weakness(password) {
            return Err(fail(422, "weak_password", why));
        }
        let meta = metadata(data)?;
        let autoconfirm = cfg["autoconfirm"].as_bool().unwrap_or(true);
        let hash = password::hash(password);
        if let Some(existing) = find_by_email(&email) {
            audit::log(Some(&existing), "user_repeated_signup", ip, json!({}));
            if autoconfirm {
                return Err(fail(422, "user_already_exists", "User already registered"));
            }
            // confirmations on: answer as for a new user, reveal nothing
            return Ok(json!({"id": super::secret_token::uuid_v4(), "aud": "authenticated", "role": "authenticated", "email": email,
                             "phone": "", "app_metadata": {"provider": "email", "providers": ["email"]},
                             "user_metadata": meta, "identities": [], "created_at": now_text(), "updated_at": now_text(),
                             "is_anonymous": false}));
        }
        let id = create(&email, Some(&hash), autoconfirm, meta, json!({}), "authenticated");
        audit::log(Some(&id), "user_signedup", ip, json!({"provider": "email"}));
        if autoconfirm {
            mark_signed_in(&id);
            Ok(session::issue(&id, "aal1", amr("password"), ip))
        } else {
            Ok(json(&id))
        }
    })())
}

fn now_text() -> String {
    errors::spi(crate::plans::get_one::<String>("SELECT to_json(now())#>>'{}'", &[])).unwrap_or_default()
}

pub fn amr(method: &str) -> Value {
    json!([{"method": method, "timestamp": crate::jwt::unix_now()}])
}

pub fn mark_signed_in(user_id: &str) {
    errors::spi(crate::plans::run("UPDATE bknd.users SET last_sign_in_at = now() WHERE id = $1::uuid", &[user_id.into()]));
}

/// The window of sign-in rate limits, in seconds (10 attempts per email and IP pair, 60 per IP).
/// Not per email alone: then anyone could lock a user out by failing ten times (GoTrue counts
/// per IP too).
const SIGN_IN_WINDOW: i32 = 300;

/// Sign in with email and password: a session, or `invalid_credentials` whether the email is
/// unknown or the password wrong (both cost one argon2id verification).
///
/// argon2 streams 19 MiB through the CPU caches, and every statement after it runs two to three
/// times slower than it would before. So the reads and the session's rows come before the hash,
/// in a subtransaction that the hash keeps or undoes; what must follow it (the attempt counted
/// and last_sign_in_at, whose row locks would otherwise be held through argon2) is two
/// statements, in the same subtransaction so that the user's row is locked by one transaction
/// id (two would make a MultiXact on every sign-in). A sign-in that succeeds commits without
/// waiting for the disk (commit.rs).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn sign_in_password(email: &str, password: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let invalid = || fail(400, "invalid_credentials", "Invalid login credentials");
        let email = normalize_email(email).map_err(|_| invalid())?;
        let (by_pair, by_ip) = (format!("sign_in:email_ip:{}:{email}", ip.unwrap_or("-")), format!("sign_in:ip:{}", ip.unwrap_or("-")));
        let limits = [(by_pair.as_str(), 10), (by_ip.as_str(), 60)];
        rate_limit::check(&limits, SIGN_IN_WINDOW, ip)?;
        let account = account(&email);
        let amr = amr("password");
        let prepared = account.as_ref().filter(|a| a.standing == "ok").map(|a| {
            let user = json(&a.id);
            let pending = Subtransaction::begin();
            (pending, a.id.clone(), user, session::open(&a.id, "aal1", &amr, ip))
        });
        let matches = match &account {
            Some(a) => password::verify(password, &a.stored),
            None => {
                password::verify_dummy(password);
                false
            }
        };
        if let Some((pending, id, mut user, opened)) = prepared {
            if matches && rate_limit::hit_all(&limits, SIGN_IN_WINDOW, ip).is_ok() {
                user["last_sign_in_at"] = signed_in(&id, ip);
                pending.keep();
                commit::without_waiting_for_disk();
                return Ok(session::respond(&id, user, &opened, "aal1", &amr));
            }
            // a wrong password, or over a rate limit: nothing written since the hash began stays
            pending.undo();
        }
        let judged = judge(account, matches, &email, ip);
        rate_limit::hit_all(&limits, SIGN_IN_WINDOW, ip)?;
        let id = judged?;
        // the password matched and a limit was reached, but no longer is (its window ended)
        signed_in(&id, ip);
        commit::without_waiting_for_disk();
        Ok(session::issue(&id, "aal1", amr, ip))
    })())
}

/// Record a password sign-in (last_sign_in_at and the audit row, one statement): the new
/// last_sign_in_at as JSON.
fn signed_in(user_id: &str, ip: Option<&str>) -> Value {
    errors::spi(crate::plans::get_one::<pgrx::JsonB>(
        "WITH signed_in AS (UPDATE bknd.users SET last_sign_in_at = now() WHERE id = $1::uuid RETURNING last_sign_in_at), \
         logged AS (INSERT INTO bknd.audit_log (user_id, action, ip, detail) VALUES ($1::uuid, 'login', $2::inet, $3)) \
         SELECT to_jsonb(last_sign_in_at) FROM signed_in",
        &[user_id.into(), ip.into(), pgrx::JsonB(json!({"provider": "email"})).into()],
    ))
    .map_or(Value::Null, |at| at.0)
}

/// A user's row as a sign-in needs it: the ban and confirmation are read with the hash.
struct Account {
    id: String,
    stored: String,
    standing: String,
}

fn account(email: &str) -> Option<Account> {
    let row = errors::spi_or(
        crate::plans::get_three::<String, String, String>(
            "SELECT id::text, password_hash, \
               CASE WHEN coalesce(banned_until > now(), false) THEN 'banned' \
                    WHEN email_confirmed_at IS NULL THEN 'unconfirmed' ELSE 'ok' END \
             FROM bknd.users WHERE lower(email) = $1",
            &[email.into()],
        ),
        (None, None, None),
    );
    match row {
        (Some(id), Some(stored), Some(standing)) => Some(Account { id, stored, standing }),
        _ => None,
    }
}

/// The user whose password this is, or why not (`invalid_credentials` alike for an unknown
/// email and a wrong password; banned; unconfirmed), with failures written to the audit log.
fn judge(account: Option<Account>, matches: bool, email: &str, ip: Option<&str>) -> Result<String, Value> {
    let invalid = || fail(400, "invalid_credentials", "Invalid login credentials");
    let Some(Account { id, standing, .. }) = account else {
        audit::log(None, "login_failed", ip, json!({"email": email}));
        return Err(invalid());
    };
    if !matches {
        audit::log(Some(&id), "login_failed", ip, json!({}));
        return Err(invalid());
    }
    match standing.as_str() {
        "banned" => {
            audit::log(Some(&id), "login_banned", ip, json!({}));
            Err(fail(400, "user_banned", "User is banned"))
        }
        "unconfirmed" => Err(fail(400, "email_not_confirmed", "Email not confirmed")),
        _ => Ok(id),
    }
}

/// The signed-in user.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn get_user() -> pgrx::JsonB {
    answer(match caller() {
        Some((id, _)) => {
            let u = json(&id);
            if u.is_null() {
                Err(fail(403, "user_not_found", "User from sub claim in JWT does not exist"))
            } else {
                Ok(u)
            }
        }
        None => Err(fail(401, "no_authorization", "This endpoint requires a valid Bearer token")),
    })
}

/// Update the signed-in user: `email`, `password` (with `nonce` when reauthentication is
/// needed), `data` (merged into user_metadata). With confirmations on, a new email is only
/// recorded as pending (`new_email`) until confirmed (email_change.rs); `email_confirm` is an
/// admin's alone.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn update_user(attributes: pgrx::JsonB) -> pgrx::JsonB {
    answer((|| -> Outcome {
        let (id, session_id) = caller().ok_or_else(|| fail(401, "no_authorization", "This endpoint requires a valid Bearer token"))?;
        apply_update(&id, &attributes.0, Editor::User { session_id: session_id.as_deref() })?;
        audit::log(Some(&id), "user_modified", None, json!({}));
        Ok(json(&id))
    })())
}

/// Who makes a change: service_role's admin functions, or the user themselves (in a session).
pub enum Editor<'a> {
    Admin,
    User { session_id: Option<&'a str> },
}

/// Validate everything first, then write: a refused update changes nothing.
pub fn apply_update(id: &str, attrs: &Value, editor: Editor) -> Result<(), Value> {
    let admin = matches!(editor, Editor::Admin);
    let Value::Object(a) = attrs else {
        return Err(fail(400, "validation_failed", "expected a JSON object"));
    };
    let current = errors::spi_or(
        crate::plans::get_one::<String>("SELECT coalesce(lower(email), '') FROM bknd.users WHERE id = $1::uuid", &[id.into()]),
        None,
    )
    .unwrap_or_default();
    let email = match a.get("email") {
        // the same address again changes nothing (as in GoTrue)
        Some(Value::String(e)) => Some(normalize_email(e)?).filter(|e| *e != current),
        None | Some(Value::Null) => None,
        Some(_) => return Err(fail(400, "validation_failed", "email must be a string")),
    };
    if let Some(e) = &email {
        if find_by_email(e).is_some_and(|other| other != id) {
            return Err(fail(422, "email_exists", "A user with this email address has already been registered"));
        }
    }
    let password = match a.get("password") {
        Some(Value::String(p)) => {
            if let Some(why) = password::weakness(p) {
                return Err(fail(422, "weak_password", why));
            }
            Some(p.as_str())
        }
        None | Some(Value::Null) => None,
        Some(_) => return Err(fail(400, "validation_failed", "password must be a string")),
    };
    let nonce = match a.get("nonce") {
        Some(Value::String(n)) => Some(n.as_str()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(fail(400, "validation_failed", "nonce must be a string")),
    };
    let data_key = if admin { "user_metadata" } else { "data" };
    let user_metadata = match a.get(data_key) {
        Some(v @ Value::Object(_)) => Some(v.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(fail(400, "validation_failed", format!("{data_key} must be a JSON object"))),
    };
    let app_metadata = if admin {
        match a.get("app_metadata") {
            Some(v @ Value::Object(_)) => Some(v.clone()),
            None | Some(Value::Null) => None,
            Some(_) => return Err(fail(400, "validation_failed", "app_metadata must be a JSON object")),
        }
    } else {
        None
    };
    let autoconfirm = settings()["autoconfirm"].as_bool().unwrap_or(true);
    // only an admin vouches for an address; a user's new one is confirmed by a code sent to it
    let confirmed = autoconfirm || (admin && a.get("email_confirm").and_then(Value::as_bool).unwrap_or(false));
    if let (Some(_), Editor::User { session_id }) = (password, &editor) {
        reauthenticate::password_change_allowed(id, *session_id, nonce, None)?;
    }
    let (set_email, pending) = match (&email, confirmed) {
        (Some(e), false) if !admin => (None, Some(e.as_str())),
        (e, _) => (e.as_deref(), None),
    };
    let password = password.map(password::hash);
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.users SET \
           email = coalesce($2, email), \
           email_confirmed_at = CASE WHEN $2 IS NOT NULL THEN (CASE WHEN $6 THEN now() END) ELSE email_confirmed_at END, \
           password_hash = coalesce($3, password_hash), \
           user_metadata = user_metadata || coalesce($4, '{}'::jsonb), \
           app_metadata = app_metadata || coalesce($5, '{}'::jsonb), \
           updated_at = now() \
         WHERE id = $1::uuid",
        &[
            id.into(),
            set_email.into(),
            password.as_deref().into(),
            user_metadata.map(pgrx::JsonB).into(),
            app_metadata.map(pgrx::JsonB).into(),
            confirmed.into(),
        ],
    ));
    if let Some(e) = pending {
        email_change::record(id, e);
    }
    if let Some(e) = set_email {
        set_identity_email(id, e);
        email_change::clear(id);
        // a code or link sent to the old address must not confirm the new one
        errors::spi(Spi::run_with_args(
            "UPDATE bknd.one_time_tokens SET used_at = now() WHERE user_id = $1::uuid AND used_at IS NULL",
            &[id.into()],
        ));
    }
    Ok(())
}

/// Keep the email identity's copy of the address in step with the user's.
pub fn set_identity_email(id: &str, email: &str) {
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.identities SET identity_data = identity_data || jsonb_build_object('email', $2), updated_at = now() \
         WHERE user_id = $1::uuid AND provider = 'email'",
        &[id.into(), email.into()],
    ));
}
