//! The key store (`bknd.secrets`) and its per-backend cache.
//!
//! Keys are parsed once per backend. Any change to `bknd.secrets` (through
//! `bknd.set_jwt_secret`, `bknd.set_jwks`, a direct UPDATE by a superuser, or a restore) fires
//! a trigger that queues a relcache invalidation for the table; every backend drops its cache
//! when that invalidation arrives at commit.

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine;
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{self, Code};
use crate::identity;
use crate::jwt::keys::KeySet;

/// The minimum length of an HMAC secret (PostgREST and GoTrue require 32 characters too).
pub const MIN_SECRET_LEN: usize = 32;

struct Cached {
    table: pg_sys::Oid,
    keys: Rc<KeySet>,
}

thread_local! {
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

pub fn register_invalidation_callback() {
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache_invalidation), pg_sys::Datum::from(0));
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let hit = match cache.as_ref() {
            Some(c) => relid == pg_sys::InvalidOid || relid == c.table,
            None => false,
        };
        if hit {
            *cache = None;
            crate::jwt::cache::clear();
        }
    });
}

/// The parsed keys, loaded from `bknd.secrets` on first use in this backend.
pub fn keys() -> Rc<KeySet> {
    if let Some(keys) = CACHE.with(|c| c.borrow().as_ref().map(|c| c.keys.clone())) {
        return keys;
    }
    let (table, keys) = load();
    crate::jwt::cache::clear(); // verified under the old keys
    let keys = Rc::new(keys);
    CACHE.with(|c| *c.borrow_mut() = Some(Cached { table, keys: keys.clone() }));
    keys
}

fn load() -> (pg_sys::Oid, KeySet) {
    identity::as_extension_owner(|| {
        let table =
            errors::spi(crate::plans::get_one::<pg_sys::Oid>("SELECT 'bknd.secrets'::regclass::oid", &[])).unwrap_or(pg_sys::InvalidOid);
        let rows: Vec<(String, String)> = errors::spi(Spi::connect(|client| {
            client
                .select("SELECT name, value FROM bknd.secrets", None, &[])?
                .map(|row| Ok((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default())))
                .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        }));
        let mut secret = None;
        let mut jwks = None;
        let mut hs_enabled = true;
        for (name, value) in rows {
            match name.as_str() {
                "jwt_secret" => secret = Some(value),
                "jwks" => jwks = Some(value),
                "jwt_hs_enabled" => hs_enabled = value == "true",
                _ => {}
            }
        }
        let keys = match KeySet::new(secret.filter(|_| hs_enabled), jwks.as_deref()) {
            Ok(k) => k,
            Err(e) => errors::raise(Code::ERRCODE_CONFIG_FILE_ERROR, format!("bknd: stored JWKS is invalid: {e}")),
        };
        (table, keys)
    })
}

/// The HMAC secret for signing; an error when HS256 is disabled.
pub fn signing_secret() -> Rc<KeySet> {
    let keys = keys();
    if keys.hmac_secret().is_none() {
        errors::raise(
            Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "bknd cannot sign tokens: HS256 is disabled (bknd.set_jwks(..., hs_enabled => false))",
        );
    }
    keys
}

/// 48 random bytes, base64url: a 64-character secret usable by other HS256 tools too.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    if getrandom::getrandom(&mut bytes).is_err() {
        errors::raise(Code::ERRCODE_INTERNAL_ERROR, "bknd: no random source available");
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn store(name: &str, value: &str) {
    errors::spi(Spi::run_with_args(
        "INSERT INTO bknd.secrets (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = now()",
        &[name.into(), value.into()],
    ));
}

fn remove(name: &str) {
    errors::spi(Spi::run_with_args("DELETE FROM bknd.secrets WHERE name = $1", &[name.into()]));
}

/// Generates the first secret at CREATE EXTENSION; not callable by PUBLIC.
#[pg_extern(volatile, parallel_unsafe)]
fn generate_secret() -> String {
    random_secret()
}

/// Replace the HS256 secret (to accept tokens of an existing identity provider), or generate a
/// new random one when `secret` is NULL. Superuser only. Every token signed with the old
/// secret stops verifying at commit.
#[pg_extern(volatile, parallel_unsafe)]
fn set_jwt_secret(secret: default!(Option<&str>, "NULL")) {
    identity::require_superuser("set the JWT secret");
    let secret = match secret {
        Some(s) if s.len() < MIN_SECRET_LEN => errors::raise_hint(
            Code::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("the JWT secret must be at least {MIN_SECRET_LEN} bytes long"),
            "use a long random value, or call bknd.set_jwt_secret() to generate one",
        ),
        Some(s) => s.to_string(),
        None => random_secret(),
    };
    store("jwt_secret", &secret);
}

/// A new random HS256 secret, from the console: console owners (the role their session took)
/// and superusers. Every key and access token signed with the old one stops verifying at commit.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_rotate_jwt_secret() -> bool {
    identity::require_console_role("rotate the JWT secret", &["owner"]);
    store("jwt_secret", &random_secret());
    true
}

/// Configure public keys (a JWKS document, as served at an identity provider's
/// `/.well-known/jwks.json`) to verify RS256/RS384/RS512/ES256 tokens. `hs_enabled => false`
/// makes bknd accept only tokens signed by those keys. A NULL `jwks` removes the keys.
/// Superuser only.
#[pg_extern(volatile, parallel_unsafe)]
fn set_jwks(jwks: Option<pgrx::JsonB>, hs_enabled: default!(bool, true)) {
    identity::require_superuser("configure JWT keys");
    match jwks {
        Some(pgrx::JsonB(doc)) => {
            let text = doc.to_string();
            if let Err(e) = KeySet::new(None, Some(&text)) {
                errors::invalid(format!("invalid JWKS: {e}"));
            }
            store("jwks", &text);
        }
        None => {
            if !hs_enabled {
                errors::invalid("HS256 can only be disabled when a JWKS is configured");
            }
            remove("jwks");
        }
    }
    store("jwt_hs_enabled", if hs_enabled { "true" } else { "false" });
}

/// Called by the trigger on bknd.secrets: tells every backend to drop its parsed keys.
#[pg_trigger]
fn secrets_changed<'a>(
    trigger: &'a pgrx::PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, pgrx::AllocatedByPostgres>>, pgrx::PgTriggerError> {
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(trigger.relation()?.oid()) };
    Ok(None)
}

extension_sql!(
    r#"
CREATE TRIGGER secrets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bknd.secrets
  FOR EACH STATEMENT EXECUTE FUNCTION bknd.secrets_changed();
"#,
    name = "secrets_changed_trigger",
    requires = ["bootstrap", secrets_changed],
);
