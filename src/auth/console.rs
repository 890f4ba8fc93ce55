//! The console's team (`sql/console.sql`): members are not app users. Each has a role (owner,
//! admin, developer, viewer) and an argon2id password, set by the member through a one-time
//! link (24 hours) or given when the member is added; sessions are opaque tokens stored as
//! their SHA-256 that end after 8 idle hours. Adding members is a superuser's (the `bknd
//! members add` CLI); signing in and checking a session are the sidecar's.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::{password, rate_limit, secret_token, totp, valid_ip};
use crate::errors::{self, Code};

/// How long a one-time link to set a password holds.
const LINK_HOURS: i32 = 24;
/// A session unused this long is over.
const IDLE_SECONDS: i32 = 8 * 3600;
/// The sign-in rate limits' window, and their limits (per email and address, per address).
const SIGN_IN_WINDOW: i32 = 300;

pub(super) const ROLES: [&str; 4] = ["owner", "admin", "developer", "viewer"];

pub(super) fn member_json(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Option<Value> {
    errors::spi_or(crate::plans::get_one::<pgrx::JsonB>(sql, args), None).map(|j| j.0)
}

pub(super) const MEMBER: &str =
    "jsonb_build_object('id', m.id, 'email', m.email, 'role', m.role, 'has_password', m.password_hash IS NOT NULL, \
                      'totp', m.totp_secret IS NOT NULL, 'created_at', m.created_at, 'last_sign_in_at', m.last_sign_in_at)";

pub(super) fn checked_email(email: &str) -> String {
    super::user::normalize_email(email).unwrap_or_else(|_| errors::invalid(format!("invalid email address {email:?}")))
}

fn checked_password(password: &str) -> String {
    if let Some(why) = password::weakness(password) {
        errors::raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, format!("the password is too weak: {why}"));
    }
    password::hash(password)
}

/// A one-time token to set `member`'s password (replacing any earlier one).
pub(super) fn new_link(member: &str) -> String {
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
/// per email and address or sixty per address in five minutes. A member with TOTP also needs
/// `code`: without it the answer is `totp_required` (only once the password was right), with a
/// wrong or already used one `invalid_code`. An answer, not an error, so the failed try is
/// counted (an error would roll its count back). The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_sign_in(email: &str, password: &str, ip: default!(Option<&str>, "NULL"), code: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
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
    // FOR UPDATE: a TOTP code is used once, even by two sign-ins that race
    let found = member_json(
        "SELECT jsonb_build_object('id', id, 'hash', password_hash, 'totp', totp_secret, 'last_step', totp_last_step) \
         FROM bknd.console_members WHERE lower(email) = $1 AND password_hash IS NOT NULL FOR UPDATE",
        &[email.as_str().into()],
    )
    .unwrap_or(Value::Null);
    let matches = match found["hash"].as_str() {
        Some(stored) => password::verify(password, stored),
        None => {
            password::verify_dummy(password);
            false
        }
    };
    if rate_limit::hit_all(&limits, SIGN_IN_WINDOW, ip).is_err() {
        return too_many();
    }
    let (Some(id), true) = (found["id"].as_str(), matches) else {
        return pgrx::JsonB(json!({"error": "invalid_credentials", "message": "invalid email or password"}));
    };
    if let Some(secret) = found["totp"].as_str() {
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return pgrx::JsonB(json!({"error": "totp_required", "message": "enter the 6-digit code from your authenticator app"}));
        };
        // codes are counted per member too, so guesses spread over many addresses run out
        if let Err(refused) = count_totp_try(id) {
            return refused;
        }
        let last = found["last_step"].as_i64();
        let step = totp::matching_step(secret, code, crate::jwt::unix_now()).filter(|s| last.is_none_or(|l| *s > l));
        let Some(step) = step else {
            return pgrx::JsonB(json!({"error": "invalid_code", "message": "that code is not valid (or was used already)"}));
        };
        errors::spi(Spi::run_with_args(
            "UPDATE bknd.console_members SET totp_last_step = $2 WHERE id = $1::uuid",
            &[id.into(), step.into()],
        ));
    }
    let token = secret_token::random();
    let member = member_json(
        &format!(
            "WITH s AS (INSERT INTO bknd.console_sessions (token_hash, member_id, ip) VALUES ($1, $2::uuid, $3::inet)), \
             m AS (UPDATE bknd.console_members SET last_sign_in_at = now() WHERE id = $2::uuid RETURNING *) \
             SELECT {MEMBER} FROM m"
        ),
        &[secret_token::digest(&token).into(), id.into(), ip.into()],
    );
    pgrx::JsonB(json!({"session": token, "member": member}))
}

/// Start setting up TOTP for the session's own member: a new secret (kept aside until a code
/// from it is confirmed), its `otpauth://` URI and a QR code. The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_totp_begin(session: &str) -> pgrx::JsonB {
    let id = session_member(session);
    let secret = totp::new_secret();
    // never over a secret in use: replacing it would need no code from it, so a stolen session
    // could take the second factor over; turning it off (with a code) comes first
    // (no row: TOTP is on; spi_or, since SPI calls an empty answer an error)
    let email = errors::spi_or(
        crate::plans::get_one::<String>(
            "UPDATE bknd.console_members SET totp_pending = $2 WHERE id = $1::uuid AND totp_secret IS NULL RETURNING email",
            &[id.as_str().into(), secret.as_str().into()],
        ),
        None,
    );
    let Some(email) = email else {
        return refusal("already_enabled", "TOTP is on already: turn it off (with a code) before setting up a new one");
    };
    let uri = totp::uri("bknd console", &email, &secret);
    pgrx::JsonB(json!({"secret": secret, "uri": uri, "qr_code": totp::qr_svg(&uri)}))
}

/// An answer that refuses (`{error, message}`): not an error, so the try stays counted.
fn refusal(error: &str, message: &str) -> pgrx::JsonB {
    pgrx::JsonB(json!({"error": error, "message": message}))
}

/// Count a try at a member's TOTP code (ten in five minutes).
fn count_totp_try(member: &str) -> Result<(), pgrx::JsonB> {
    let key = format!("console_totp:{member}");
    rate_limit::hit_all(&[(key.as_str(), 10)], SIGN_IN_WINDOW, None)
        .map_err(|_| refusal("too_many_attempts", "too many tries; try again in a few minutes"))
}

/// Turn TOTP on with a code from the secret `console_totp_begin` made; from then on signing in
/// needs a code. `{member}`, or `{error, message}` (`invalid_code`, `not_started`,
/// `too_many_attempts`: ten tries in five minutes). The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_totp_enable(session: &str, code: &str) -> pgrx::JsonB {
    let id = session_member(session);
    if let Err(refused) = count_totp_try(&id) {
        return refused;
    }
    let pending = errors::spi_or(
        crate::plans::get_one::<String>(
            "SELECT totp_pending FROM bknd.console_members WHERE id = $1::uuid AND totp_secret IS NULL FOR UPDATE",
            &[id.as_str().into()],
        ),
        None,
    );
    let Some(secret) = pending else {
        return refusal("not_started", "start setting up TOTP first");
    };
    let Some(step) = totp::matching_step(&secret, code.trim(), crate::jwt::unix_now()) else {
        return refusal("invalid_code", "that code is not valid: check the app's clock and try the next one");
    };
    let member = member_json(
        &format!(
            "WITH m AS (UPDATE bknd.console_members SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $2, \
               updated_at = now() WHERE id = $1::uuid RETURNING *) SELECT {MEMBER} FROM m"
        ),
        &[id.as_str().into(), step.into()],
    );
    pgrx::JsonB(json!({"member": member}))
}

/// Turn the member's own TOTP off; it takes a current code, so a stolen session alone cannot.
/// `{member}` or `{error, message}` as `console_totp_enable`. The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_totp_disable(session: &str, code: &str) -> pgrx::JsonB {
    let id = session_member(session);
    if let Err(refused) = count_totp_try(&id) {
        return refused;
    }
    let found = member_json(
        "SELECT jsonb_build_object('totp', totp_secret, 'last_step', totp_last_step) FROM bknd.console_members \
         WHERE id = $1::uuid FOR UPDATE",
        &[id.as_str().into()],
    )
    .unwrap_or(Value::Null);
    let Some(secret) = found["totp"].as_str() else {
        return refusal("not_started", "TOTP is not on");
    };
    let last = found["last_step"].as_i64();
    if totp::matching_step(secret, code.trim(), crate::jwt::unix_now()).filter(|s| last.is_none_or(|l| *s > l)).is_none() {
        return refusal("invalid_code", "that code is not valid (or was used already)");
    }
    let member = member_json(
        &format!(
            "WITH m AS (UPDATE bknd.console_members SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, \
               updated_at = now() WHERE id = $1::uuid RETURNING *) SELECT {MEMBER} FROM m"
        ),
        &[id.as_str().into()],
    );
    pgrx::JsonB(json!({"member": member}))
}

/// The member a session belongs to, or NULL when it is unknown or idle too long (then it is
/// removed). Keeps an active session alive: marked as seen at most once a minute, since every
/// console request checks its session and concurrent requests must not queue on its row.
/// The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_session(token: &str) -> Option<pgrx::JsonB> {
    let digest = secret_token::digest(token);
    let found = member_json(
        &format!(
            "SELECT jsonb_build_object('member', {MEMBER}, 'stale', s.last_seen_at < now() - make_interval(secs => $3)) \
             FROM bknd.console_sessions s JOIN bknd.console_members m ON m.id = s.member_id \
             WHERE s.token_hash = $1 AND s.last_seen_at > now() - make_interval(secs => $2)"
        ),
        &[digest.clone().into(), IDLE_SECONDS.into(), SEEN_EVERY_SECONDS.into()],
    );
    let Some(mut found) = found else {
        errors::spi(Spi::run_with_args("DELETE FROM bknd.console_sessions WHERE token_hash = $1", &[digest.into()]));
        return None;
    };
    if found["stale"] == json!(true) {
        errors::spi(Spi::run_with_args(
            "UPDATE bknd.console_sessions SET last_seen_at = now() \
             WHERE token_hash = $1 AND last_seen_at < now() - make_interval(secs => $2)",
            &[digest.into(), SEEN_EVERY_SECONDS.into()],
        ));
    }
    Some(pgrx::JsonB(found["member"].take()))
}

/// How often a session in use is marked as seen.
const SEEN_EVERY_SECONDS: i32 = 60;

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
    errors::spi(crate::plans::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM bknd.console_members)", &[])).unwrap_or(false)
}

/// What a console request's bearer token starts with: the sidecar turns a member's session
/// cookie into `bknd-console:SESSION` (optionally `|anon`, `|authenticated` or `|user:EMAIL` to
/// view the data as that caller), and `bknd.authenticate` hands it here.
pub const TOKEN_PREFIX: &str = "bknd-console:";

/// The PostgreSQL role of each member role: members of service_role that bypass RLS, as it
/// does; a viewer's transaction is read-only and only admins and owners may sign keys.
pub const CONSOLE_ROLES: [&str; 4] = ["bknd_console_owner", "bknd_console_admin", "bknd_console_developer", "bknd_console_viewer"];

/// Whether `role` is a console role, which only a console session may take.
pub fn is_console_role(role: &str) -> bool {
    CONSOLE_ROLES.contains(&role)
}

/// Refuse console developers and viewers: they act as service_role (a member of it), but
/// managing the app's users is for admins and owners. The role is the one the session set
/// (the outer user), which SECURITY DEFINER functions do not hide and execute_sql may not change.
pub fn refuse_developers_and_viewers(what: &str) {
    let name = crate::identity::acting_role(what);
    if matches!(name.as_str(), "bknd_console_developer" | "bknd_console_viewer") {
        errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, format!("only console admins and owners may {what}"));
    }
}

/// The role and claims a console session runs as: `{role, claims, read_only}`. Without
/// `view_as` the member's console role, with claims naming the member (`sub` is
/// `console:EMAIL`, so `bknd.uid()` is NULL and the schema history records who); with it, the
/// chosen caller (`anon`, `authenticated`, `user:EMAIL`), read-only. An unknown or idle
/// session fails with 28000. Called by `bknd.authenticate`.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_claims(session: &str, view_as: default!(Option<&str>, "NULL"), anon_role: default!(&str, "'anon'")) -> pgrx::JsonB {
    let Some(member) = console_session(session).map(|j| j.0) else {
        errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "the console session ended: sign in again");
    };
    let role = member["role"].as_str().unwrap_or("viewer");
    let console_member = json!({"id": member["id"], "email": member["email"], "role": role});
    let answer = match view_as.map(str::trim).filter(|v| !v.is_empty()) {
        None => json!({
            "role": format!("bknd_console_{role}"),
            "claims": {"sub": format!("console:{}", member["email"].as_str().unwrap_or_default()), "console_member": console_member},
            "read_only": role == "viewer",
        }),
        Some("anon") => json!({"role": anon_role, "claims": {"viewed_by": console_member}, "read_only": true}),
        Some("authenticated") => {
            json!({"role": "authenticated", "claims": {"role": "authenticated", "viewed_by": console_member}, "read_only": true})
        }
        Some(other) if other.starts_with("role:") => {
            let role = other["role:".len()..].trim();
            refuse_privileged_view(role, &format!("the role {role:?}"));
            json!({"role": role, "claims": {"role": role, "viewed_by": console_member}, "read_only": true})
        }
        Some(other) => {
            let Some(email) = other.strip_prefix("user:") else {
                errors::raise_hint(
                    Code::ERRCODE_INVALID_PARAMETER_VALUE,
                    format!("cannot view as {other:?}"),
                    "anon, authenticated, role:NAME or user:EMAIL",
                );
            };
            let email = email.trim().to_lowercase();
            let user = errors::spi_or(
                crate::plans::get_one::<pgrx::JsonB>(
                    "SELECT jsonb_build_object('sub', id, 'role', role, 'email', email, 'aud', 'authenticated', \
                       'app_metadata', app_metadata, 'user_metadata', user_metadata, 'is_anonymous', false) \
                     FROM bknd.users WHERE lower(email) = $1",
                    &[email.as_str().into()],
                ),
                None,
            );
            let Some(pgrx::JsonB(mut claims)) = user else {
                errors::raise(Code::ERRCODE_NO_DATA_FOUND, format!("no user has the email {email:?}"));
            };
            let role = claims["role"].as_str().filter(|r| !r.is_empty()).unwrap_or("authenticated").to_string();
            refuse_privileged_view(&role, &format!("{email}, whose role is {role:?},"));
            claims["role"] = json!(role);
            claims["viewed_by"] = console_member;
            json!({"role": role, "claims": claims, "read_only": true})
        }
    };
    pgrx::JsonB(answer)
}

/// A view shows what an app's caller sees under RLS: never as a role that bypasses it (or
/// that does not exist, or that the sidecar may not take).
fn refuse_privileged_view(role: &str, who: &str) {
    let privileged = errors::spi_or(
        crate::plans::get_one::<bool>(
            "SELECT r.rolbypassrls OR r.rolsuper OR r.rolcanlogin OR pg_catalog.pg_has_role(r.oid, 'service_role', 'MEMBER') \
                    OR NOT pg_catalog.pg_has_role('authenticator', r.oid, 'MEMBER') \
             FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
            &[role.into()],
        ),
        Some(true),
    );
    if privileged != Some(false) || is_console_role(role) {
        errors::raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot view as {who}: only a role the API may take that does not bypass row-level security"),
        );
    }
}

/// The project's API keys as the console shows them: the anon key, and the service_role key
/// only to admins and owners (the database decides, by the member's role). Signed like `bknd
/// keys` does, valid ten years.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn console_api_keys(with_service_role: default!(bool, false)) -> pgrx::JsonB {
    let caller = crate::identity::acting_role("read the console's keys");
    if !is_console_role(&caller) {
        errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, "the console's keys are for console members");
    }
    const TEN_YEARS: i64 = 10 * 365 * 86400;
    let sign = |role: &str| {
        let mut claims = serde_json::Map::new();
        claims.insert("role".into(), json!(role));
        claims.insert("iss".into(), json!("bknd"));
        crate::jwt::sign_claims(claims, Some(TEN_YEARS))
    };
    let mut answer = json!({"anon_key": sign("anon")});
    if with_service_role {
        if !matches!(caller.as_str(), "bknd_console_owner" | "bknd_console_admin") {
            errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, "only admins and owners may see the service_role key");
        }
        answer["service_role_key"] = json!(sign("service_role"));
    }
    pgrx::JsonB(answer)
}

/// The calling member's id, from their session (snippets belong to the member whose session
/// this is; claims could be set by any SQL, a session cannot be guessed).
fn session_member(session: &str) -> String {
    match console_session(session).and_then(|j| j.0["id"].as_str().map(str::to_string)) {
        Some(id) => id,
        None => errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "the console session ended: sign in again"),
    }
}

/// Record a change a member made in the console, after it succeeded, in bknd.console_audit:
/// who (from the session), what (`action`, e.g. `tool:create_table`, `rest:POST`), on what, and
/// the details. Whether it was recorded. The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_record(
    session: &str,
    action: &str,
    target: default!(Option<&str>, "NULL"),
    detail: default!(Option<pgrx::JsonB>, "NULL"),
) -> bool {
    let member = session_member(session);
    let detail = detail.map(|d| d.0).unwrap_or_else(|| json!({}));
    errors::spi(Spi::run_with_args(
        "INSERT INTO bknd.console_audit (member_id, email, role, action, target, detail) \
         SELECT m.id, m.email, m.role, $2, $3, $4 FROM bknd.console_members m WHERE m.id = $1::uuid",
        &[member.as_str().into(), action.into(), target.into(), pgrx::JsonB(detail).into()],
    ));
    true
}

/// A member's saved SQL snippets, newest first. The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_snippets(session: &str) -> pgrx::JsonB {
    let member = session_member(session);
    let list = errors::spi_or(
        crate::plans::get_one::<pgrx::JsonB>(
            "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'name', name, 'sql', sql, 'updated_at', updated_at) \
                ORDER BY updated_at DESC), '[]') FROM bknd.console_snippets WHERE member_id = $1::uuid",
            &[member.as_str().into()],
        ),
        None,
    );
    list.unwrap_or(pgrx::JsonB(json!([])))
}

/// Save a snippet (the same name replaces it). The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_save_snippet(session: &str, name: &str, sql: &str) -> pgrx::JsonB {
    let member = session_member(session);
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors::invalid("a snippet's name is 1 to 200 characters");
    }
    if sql.len() > 1_000_000 {
        errors::invalid("a snippet holds at most 1,000,000 bytes of SQL");
    }
    let saved = errors::spi_or(
        crate::plans::get_one::<pgrx::JsonB>(
            "INSERT INTO bknd.console_snippets AS s (member_id, name, sql) VALUES ($1::uuid, $2, $3) \
             ON CONFLICT (member_id, name) DO UPDATE SET sql = EXCLUDED.sql, updated_at = now() \
             RETURNING jsonb_build_object('id', s.id, 'name', s.name, 'sql', s.sql, 'updated_at', s.updated_at)",
            &[member.as_str().into(), name.into(), sql.into()],
        ),
        None,
    );
    saved.unwrap_or_else(|| errors::raise(Code::ERRCODE_INTERNAL_ERROR, "the snippet was not saved"))
}

/// Delete one of the member's snippets; whether it was theirs and there. The sidecar's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_delete_snippet(session: &str, id: pgrx::Uuid) -> bool {
    let member = session_member(session);
    errors::spi_or(
        crate::plans::get_one::<bool>(
            "WITH d AS (DELETE FROM bknd.console_snippets WHERE id = $1 AND member_id = $2::uuid RETURNING 1) SELECT EXISTS (SELECT 1 FROM d)",
            &[id.into(), member.as_str().into()],
        ),
        None,
    )
    .unwrap_or(false)
}
