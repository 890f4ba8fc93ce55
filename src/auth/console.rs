//! The console's team (`sql/console.sql`): members are not app users. Each has a role (owner,
//! admin, developer, viewer) and an argon2id password, set by the member through a one-time
//! link (24 hours) or given when the member is added; sessions are opaque tokens stored as
//! their SHA-256 that end after 8 idle hours. Adding members is a superuser's (the `bknd
//! members add` CLI); signing in and checking a session are the sidecar's.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::{password, rate_limit, secret_token, valid_ip};
use crate::errors::{self, Code};

/// How long a one-time link to set a password holds.
const LINK_HOURS: i32 = 24;
/// A session unused this long is over.
const IDLE_SECONDS: i32 = 8 * 3600;
/// The sign-in rate limits' window, and their limits (per email and address, per address).
const SIGN_IN_WINDOW: i32 = 300;

const ROLES: [&str; 4] = ["owner", "admin", "developer", "viewer"];

fn member_json(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Option<Value> {
    errors::spi_or(crate::plans::get_one::<pgrx::JsonB>(sql, args), None).map(|j| j.0)
}

const MEMBER: &str = "jsonb_build_object('id', m.id, 'email', m.email, 'role', m.role, 'has_password', m.password_hash IS NOT NULL, \
                      'created_at', m.created_at, 'last_sign_in_at', m.last_sign_in_at)";

fn checked_email(email: &str) -> String {
    super::user::normalize_email(email).unwrap_or_else(|_| errors::invalid(format!("invalid email address {email:?}")))
}

fn checked_password(password: &str) -> String {
    if let Some(why) = password::weakness(password) {
        errors::raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, format!("the password is too weak: {why}"));
    }
    password::hash(password)
}

/// A one-time token to set `member`'s password (replacing any earlier one).
fn new_link(member: &str) -> String {
    let token = secret_token::random();
    errors::spi(Spi::run_with_args(
        "WITH gone AS (DELETE FROM bknd.console_tokens WHERE member_id = $1::uuid) \
         INSERT INTO bknd.console_tokens (token_hash, member_id, expires_at) \
         VALUES ($2, $1::uuid, now() + make_interval(hours => $3))",
        &[member.into(), secret_token::digest(&token).into(), LINK_HOURS.into()],
    ));
    token
}

/// Add a member, or change an existing one's role (and password, if given). Without a password
/// the answer carries `set_password_token`, for a link valid 24 hours. Superusers only.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_add_member(email: &str, role: &str, password: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let email = checked_email(email);
    if !ROLES.contains(&role) {
        errors::raise_hint(
            Code::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown console role {role:?}"),
            "owner, admin, developer or viewer",
        );
    }
    let hash = password.map(checked_password);
    let member = member_json(
        &format!(
            "WITH m AS (INSERT INTO bknd.console_members AS x (email, role, password_hash) VALUES ($1, $2, $3) \
               ON CONFLICT (lower(email)) DO UPDATE SET role = EXCLUDED.role, \
                 password_hash = coalesce(EXCLUDED.password_hash, x.password_hash), updated_at = now() \
               RETURNING *) SELECT {MEMBER} FROM m"
        ),
        &[email.as_str().into(), role.into(), hash.into()],
    )
    .unwrap_or_else(|| errors::raise(Code::ERRCODE_INTERNAL_ERROR, "the member was not saved"));
    let mut answer = json!({"member": member});
    if password.is_none() {
        answer["set_password_token"] = json!(new_link(member["id"].as_str().unwrap_or_default()));
    }
    pgrx::JsonB(answer)
}

/// Set a password with a one-time token (used once; expired ones are refused alike). The
/// sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_set_password(token: &str, password: &str) -> pgrx::JsonB {
    let hash = checked_password(password);
    let member = member_json(
        &format!(
            "WITH t AS (DELETE FROM bknd.console_tokens WHERE token_hash = $1 RETURNING member_id, expires_at), \
             m AS (UPDATE bknd.console_members x SET password_hash = $2, updated_at = now() \
                   FROM t WHERE x.id = t.member_id AND t.expires_at > now() RETURNING x.*) \
             SELECT {MEMBER} FROM m"
        ),
        &[secret_token::digest(token).into(), hash.into()],
    );
    pgrx::JsonB(member.unwrap_or_else(|| {
        errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "this link is not valid: it was used, or it expired")
    }))
}

/// Sign a member in: `{session, member}`, or `{error, message}`: `invalid_credentials` for a
/// wrong email or password (the same for both, and as slow), `too_many_attempts` past ten tries
/// per email and address or sixty per address in five minutes. An answer, not an error, so the
/// failed try is counted (an error would roll its count back). The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_sign_in(email: &str, password: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let ip = valid_ip(ip);
    let email = email.trim().to_lowercase();
    let (by_pair, by_ip) =
        (format!("console_sign_in:email_ip:{}:{email}", ip.unwrap_or("-")), format!("console_sign_in:ip:{}", ip.unwrap_or("-")));
    let limits = [(by_pair.as_str(), 10), (by_ip.as_str(), 60)];
    let too_many =
        || pgrx::JsonB(json!({"error": "too_many_attempts", "message": "too many sign-in attempts; try again in a few minutes"}));
    if rate_limit::check(&limits, SIGN_IN_WINDOW, ip).is_err() {
        return too_many();
    }
    let found = errors::spi_or(
        Spi::get_two_with_args::<String, String>(
            "SELECT id::text, password_hash FROM bknd.console_members WHERE lower(email) = $1 AND password_hash IS NOT NULL",
            &[email.as_str().into()],
        ),
        (None, None),
    );
    let matches = match &found {
        (Some(_), Some(stored)) => password::verify(password, stored),
        _ => {
            password::verify_dummy(password);
            false
        }
    };
    if rate_limit::hit_all(&limits, SIGN_IN_WINDOW, ip).is_err() {
        return too_many();
    }
    let (Some(id), true) = (found.0, matches) else {
        return pgrx::JsonB(json!({"error": "invalid_credentials", "message": "invalid email or password"}));
    };
    let token = secret_token::random();
    let member = member_json(
        &format!(
            "WITH s AS (INSERT INTO bknd.console_sessions (token_hash, member_id, ip) VALUES ($1, $2::uuid, $3::inet)), \
             m AS (UPDATE bknd.console_members SET last_sign_in_at = now() WHERE id = $2::uuid RETURNING *) \
             SELECT {MEMBER} FROM m"
        ),
        &[secret_token::digest(&token).into(), id.as_str().into(), ip.into()],
    );
    pgrx::JsonB(json!({"session": token, "member": member}))
}

/// The member a session belongs to, or NULL when it is unknown or idle too long (then it is
/// removed). Keeps an active session alive. The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_session(token: &str) -> Option<pgrx::JsonB> {
    let digest = secret_token::digest(token);
    let member = member_json(
        &format!(
            "WITH s AS (UPDATE bknd.console_sessions SET last_seen_at = now() \
                        WHERE token_hash = $1 AND last_seen_at > now() - make_interval(secs => $2) RETURNING member_id) \
             SELECT {MEMBER} FROM bknd.console_members m JOIN s ON s.member_id = m.id"
        ),
        &[digest.clone().into(), IDLE_SECONDS.into()],
    );
    if member.is_none() {
        errors::spi(Spi::run_with_args("DELETE FROM bknd.console_sessions WHERE token_hash = $1", &[digest.into()]));
    }
    member.map(pgrx::JsonB)
}

/// End a session (whether or not it still was one). The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_sign_out(token: &str) -> bool {
    errors::spi(Spi::run_with_args("DELETE FROM bknd.console_sessions WHERE token_hash = $1", &[secret_token::digest(token).into()]));
    true
}

/// Whether the console has a member yet (`make run` offers a link for the first owner when
/// not). The sidecar's and superusers'.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_has_members() -> bool {
    errors::spi(Spi::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM bknd.console_members)")).unwrap_or(false)
}
