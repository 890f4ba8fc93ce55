//! Auth in the database: users, argon2id passwords, sessions with rotating refresh tokens,
//! rate limits and an audit log. Every function is SECURITY DEFINER with a fixed search_path;
//! the tables are out of every API role's reach. The sidecar maps `/auth/v1` onto these.

mod admin;
mod mfa;
mod totp;
mod audit;
mod email_token;
mod outcome;
mod password;
mod pkce;
mod rate_limit;
mod secret_token;
mod session;
mod user;

use pgrx::prelude::*;
use serde_json::Value;

use crate::errors;
use crate::identity;

/// The signed-in caller from the request's claims: (user id, session id).
pub fn caller() -> Option<(String, Option<String>)> {
    let row = errors::spi_or(
        Spi::get_two::<String, String>("SELECT bknd.uid()::text, bknd.claims() ->> 'session_id'"),
        (None, None),
    );
    row.0.map(|uid| (uid, row.1))
}

/// An IP address as text, or None when it is not one (it is only used for limits and the log).
pub fn valid_ip(ip: Option<&str>) -> Option<&str> {
    ip.filter(|s| s.parse::<std::net::IpAddr>().is_ok())
}

/// The auth settings: `autoconfirm` (default true), `disable_signup` (default false).
pub fn settings() -> Value {
    errors::spi_or(Spi::get_one::<pgrx::JsonB>("SELECT config FROM bknd.auth_settings"), None)
        .map(|j| j.0)
        .unwrap_or(Value::Null)
}

/// Change auth settings (merged into the current ones). Superuser only.
#[pg_extern(volatile, parallel_unsafe)]
fn configure_auth(config: pgrx::JsonB) -> pgrx::JsonB {
    identity::require_superuser("configure auth");
    let Value::Object(_) = &config.0 else { errors::invalid("config must be a JSON object") };
    let merged = errors::spi(Spi::get_one_with_args::<pgrx::JsonB>(
        "UPDATE bknd.auth_settings SET config = config || $1 RETURNING config",
        &[config.into()],
    ));
    merged.unwrap_or(pgrx::JsonB(Value::Null))
}

/// What GET /auth/v1/settings shows: public switches only.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn auth_public_settings() -> pgrx::JsonB {
    let cfg = settings();
    pgrx::JsonB(serde_json::json!({
        "external": {"email": true, "phone": false},
        "disable_signup": cfg["disable_signup"].as_bool().unwrap_or(false),
        "mailer_autoconfirm": cfg["autoconfirm"].as_bool().unwrap_or(true),
        "phone_autoconfirm": false,
        "sms_provider": "",
        "saml_enabled": false
    }))
}
