//! Auth in the database: users, argon2id passwords, sessions with rotating refresh tokens,
//! rate limits and an audit log. Every function is SECURITY DEFINER with a fixed search_path;
//! the tables are out of every API role's reach. The sidecar maps `/auth/v1` onto these.

pub(crate) mod admin;
mod admin_users;
mod audit;
mod commit;
pub mod console;
mod console_team;
mod email_change;
mod email_token;
mod mfa;
mod oauth;
mod outcome;
mod password;
mod pkce;
mod rate_limit;
mod reauthenticate;
mod secret_token;
mod session;
mod totp;
mod user;

use pgrx::prelude::*;
use serde_json::Value;

use crate::errors;
use crate::identity;

/// The signed-in caller from the request's claims: (user id, session id).
pub fn caller() -> Option<(String, Option<String>)> {
    let row = errors::spi_or(
        crate::plans::get_two::<String, String>("SELECT bknd.uid()::text, bknd.claims() ->> 'session_id'", &[]),
        (None, None),
    );
    row.0.map(|uid| (uid, row.1))
}

/// An IP address as text, or None when it is not one (it is only used for limits and the log).
pub fn valid_ip(ip: Option<&str>) -> Option<&str> {
    ip.filter(|s| s.parse::<std::net::IpAddr>().is_ok())
}

thread_local! {
    /// The settings as read in this transaction (keyed by its start time): a sign-in consults
    /// them for every rate limit, and they cannot change under it except by configure_auth.
    static SETTINGS: std::cell::RefCell<Option<(pg_sys::TimestampTz, Value)>> = const { std::cell::RefCell::new(None) };
}

/// The auth settings: `autoconfirm` (default true), `disable_signup` (default false),
/// `secure_email_change` (default true: an email change is confirmed by both addresses),
/// `secure_password_change` (default false: a password change needs a recent sign-in or a
/// reauthentication nonce), `rate_limits`. Read once per transaction.
pub fn settings() -> Value {
    let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    if let Some(v) = SETTINGS.with_borrow(|c| c.as_ref().filter(|(at, _)| *at == now).map(|(_, v)| v.clone())) {
        return v;
    }
    let v = errors::spi_or(crate::plans::get_one::<pgrx::JsonB>("SELECT config FROM bknd.auth_settings", &[]), None)
        .map(|j| j.0)
        .unwrap_or(Value::Null);
    SETTINGS.set(Some((now, v.clone())));
    v
}

/// Change auth settings (merged into the current ones). Superusers, and console admins and
/// owners (the role their session took).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn configure_auth(config: pgrx::JsonB) -> pgrx::JsonB {
    identity::require_console_role("configure auth", &["owner", "admin"]);
    let Value::Object(_) = &config.0 else { errors::invalid("config must be a JSON object") };
    let merged = errors::spi(crate::plans::get_one::<pgrx::JsonB>(
        "UPDATE bknd.auth_settings SET config = config || $1 RETURNING config",
        &[config.into()],
    ));
    SETTINGS.set(None);
    merged.unwrap_or(pgrx::JsonB(Value::Null))
}

/// The auth settings as the console shows them: each switch with its default applied, the
/// rate limits set, and the OAuth providers without their client secrets. Console members.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_auth_settings() -> pgrx::JsonB {
    let cfg = settings();
    let flag = |key: &str, default: bool| cfg[key].as_bool().unwrap_or(default);
    let providers = errors::spi(crate::plans::get_one::<pgrx::JsonB>(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'kind', kind, 'client_id', client_id, 'issuer', issuer, \
           'scopes', scopes, 'authorize_url', authorize_url, 'token_url', token_url, 'userinfo_url', userinfo_url, \
           'enabled', enabled, 'updated_at', updated_at) ORDER BY name), '[]') FROM bknd.oauth_providers",
        &[],
    ))
    .map(|j| j.0)
    .unwrap_or(serde_json::json!([]));
    pgrx::JsonB(serde_json::json!({
        "autoconfirm": flag("autoconfirm", true),
        "disable_signup": flag("disable_signup", false),
        "secure_email_change": flag("secure_email_change", true),
        "secure_password_change": flag("secure_password_change", false),
        "rate_limits": if cfg["rate_limits"].is_object() { cfg["rate_limits"].clone() } else { serde_json::json!({}) },
        "oauth_providers": providers,
    }))
}

/// What GET /auth/v1/settings shows: public switches only.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn auth_public_settings() -> pgrx::JsonB {
    let cfg = settings();
    pgrx::JsonB(serde_json::json!({
        "external": external(),
        "disable_signup": cfg["disable_signup"].as_bool().unwrap_or(false),
        "mailer_autoconfirm": cfg["autoconfirm"].as_bool().unwrap_or(true),
        "phone_autoconfirm": false,
        "sms_provider": "",
        "saml_enabled": false
    }))
}

/// Which sign-in methods /settings shows as enabled: email, and each enabled OAuth provider.
fn external() -> Value {
    let mut map = serde_json::Map::new();
    map.insert("email".into(), Value::Bool(true));
    map.insert("phone".into(), Value::Bool(false));
    for name in oauth::enabled_providers() {
        map.insert(name, Value::Bool(true));
    }
    Value::Object(map)
}
