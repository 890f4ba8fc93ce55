//! OAuth 2 / OpenID Connect sign-in. The sidecar talks to the provider over HTTP; the database
//! keeps the providers (with their client secrets), the `state` of each sign-in in flight and
//! decides who the provider's identity is:
//!
//! 1. `oauth_begin`: a random `state` and the PKCE verifier bknd uses with the provider.
//! 2. `oauth_take_state`: the callback's `state`, once, within 10 minutes: what the sidecar
//!    needs to exchange the code (client secret, endpoints, verifier).
//! 3. `oauth_complete`: the identity the provider vouched for becomes a session (or, when the
//!    app started a PKCE flow, an auth code for `grant_type=pkce`).
//!
//! Steps 1-3 return secrets, so only `authenticator` (the sidecar's own role) may call them.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::outcome::{answer, fail, Outcome};
use super::user::{self, normalize_email};
use super::{audit, pkce, rate_limit, secret_token, session, settings, valid_ip};
use crate::{errors, identity};

const STATE_SECONDS: f64 = 600.0;

fn default_scopes(kind: &str) -> &'static str {
    if kind == "github" {
        "read:user user:email"
    } else {
        "openid email profile"
    }
}

/// https, or plain http to this machine only (a provider in development or a test).
fn valid_endpoint(url: &str) -> bool {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/'])));
    (url.starts_with("https://") || loopback) && url.len() <= 2048 && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Add or change an OAuth / OIDC provider: superusers, and console admins and owners. An
/// empty `client_secret` keeps a known provider's secret (the console never shows it back).
/// `kind` defaults to `github` for the provider named github and `oidc` otherwise; `google`
/// defaults to the issuer https://accounts.google.com.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn configure_oauth_provider(
    name: &str,
    client_id: &str,
    client_secret: &str,
    issuer: default!(Option<&str>, "NULL"),
    kind: default!(Option<&str>, "NULL"),
    scopes: default!(Option<&str>, "NULL"),
    authorize_url: default!(Option<&str>, "NULL"),
    token_url: default!(Option<&str>, "NULL"),
    userinfo_url: default!(Option<&str>, "NULL"),
    enabled: default!(bool, true),
) -> pgrx::JsonB {
    identity::require_console_role("configure an OAuth provider", &["owner", "admin"]);
    let kind = kind.unwrap_or(if name == "github" { "github" } else { "oidc" });
    if !matches!(kind, "github" | "oidc") {
        errors::invalid("kind must be github or oidc");
    }
    let issuer = issuer.or(if name == "google" { Some("https://accounts.google.com") } else { None });
    for (what, url) in [("issuer", issuer), ("authorize_url", authorize_url), ("token_url", token_url), ("userinfo_url", userinfo_url)] {
        if let Some(u) = url {
            if !valid_endpoint(u) {
                errors::invalid(format!("{what} must be an https URL (or http on 127.0.0.1 / localhost)"));
            }
        }
    }
    if kind == "oidc" && issuer.is_none() && (authorize_url.is_none() || token_url.is_none() || userinfo_url.is_none()) {
        errors::invalid("an oidc provider needs an issuer (or authorize_url, token_url and userinfo_url)");
    }
    let known =
        errors::spi(crate::plans::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM bknd.oauth_providers WHERE name = $1)", &[name.into()]))
            .unwrap_or(false);
    if client_id.trim().is_empty() || (client_secret.is_empty() && !known) {
        errors::invalid("client_id and client_secret must not be empty");
    }
    // the stored secret is kept only for the same kind and endpoints: pointed elsewhere, the
    // next sign-in would hand it to whoever runs the new endpoint
    if client_secret.is_empty() {
        let same = errors::spi(crate::plans::get_one::<bool>(
            "SELECT kind = $2 AND issuer IS NOT DISTINCT FROM $3 AND authorize_url IS NOT DISTINCT FROM $4 \
               AND token_url IS NOT DISTINCT FROM $5 AND userinfo_url IS NOT DISTINCT FROM $6 \
             FROM bknd.oauth_providers WHERE name = $1",
            &[name.into(), kind.into(), issuer.into(), authorize_url.into(), token_url.into(), userinfo_url.into()],
        ))
        .unwrap_or(false);
        if !same {
            errors::invalid("give the client secret again: the provider's kind or endpoints change");
        }
    }
    let scopes = scopes.unwrap_or(default_scopes(kind));
    let row = errors::spi(crate::plans::get_one::<pgrx::JsonB>(
        "INSERT INTO bknd.oauth_providers AS p (name, kind, client_id, client_secret, issuer, authorize_url, token_url, userinfo_url, scopes, enabled) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, client_id = EXCLUDED.client_id, \
           client_secret = coalesce(nullif(EXCLUDED.client_secret, ''), p.client_secret), \
           issuer = EXCLUDED.issuer, authorize_url = EXCLUDED.authorize_url, token_url = EXCLUDED.token_url, \
           userinfo_url = EXCLUDED.userinfo_url, scopes = EXCLUDED.scopes, enabled = EXCLUDED.enabled, updated_at = now() \
         RETURNING jsonb_build_object('name', p.name, 'kind', p.kind, 'client_id', p.client_id, 'issuer', p.issuer, \
           'authorize_url', p.authorize_url, 'token_url', p.token_url, 'userinfo_url', p.userinfo_url, 'scopes', p.scopes, 'enabled', p.enabled)",
        &[
            name.into(),
            kind.into(),
            client_id.trim().into(),
            client_secret.into(),
            issuer.into(),
            authorize_url.into(),
            token_url.into(),
            userinfo_url.into(),
            scopes.into(),
            enabled.into(),
        ],
    ));
    row.unwrap_or(pgrx::JsonB(Value::Null))
}

/// Remove a provider (its identities stay, so re-adding it signs the same users in).
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn remove_oauth_provider(name: &str) -> bool {
    identity::require_console_role("remove an OAuth provider", &["owner", "admin"]);
    errors::spi(crate::plans::get_one::<bool>(
        "WITH d AS (DELETE FROM bknd.oauth_providers WHERE name = $1 RETURNING 1) SELECT count(*) > 0 FROM d",
        &[name.into()],
    ))
    .unwrap_or(false)
}

/// The enabled providers' names, for /settings.
pub fn enabled_providers() -> Vec<String> {
    errors::spi(Spi::connect(|c| {
        let t = c.select("SELECT name FROM bknd.oauth_providers WHERE enabled ORDER BY name", None, &[])?;
        t.map(|r| r.get::<String>(1).map(Option::unwrap_or_default)).collect::<Result<Vec<_>, _>>()
    }))
}

/// Start a sign-in with `provider`: a new state and provider-side PKCE verifier.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn oauth_begin(
    provider: &str,
    redirect_to: default!(Option<&str>, "NULL"),
    code_challenge: default!(Option<&str>, "NULL"),
    code_challenge_method: default!(Option<&str>, "NULL"),
    ip: default!(Option<&str>, "NULL"),
) -> pgrx::JsonB {
    crate::identity::refuse_switched_role("begin an OAuth sign-in");
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let challenge = pkce::challenge(code_challenge, code_challenge_method)?;
        rate_limit::hit(&format!("oauth:ip:{}", ip.unwrap_or("-")), 60, 300, ip)?;
        let config = errors::spi_or(
            crate::plans::get_one::<pgrx::JsonB>(
                "SELECT jsonb_build_object('kind', kind, 'client_id', client_id, 'issuer', issuer, 'authorize_url', authorize_url, 'scopes', scopes) \
                 FROM bknd.oauth_providers WHERE name = $1 AND enabled",
                &[provider.into()],
            ),
            None,
        );
        let Some(pgrx::JsonB(mut config)) = config else {
            return Err(fail(400, "validation_failed", "Unsupported provider: provider is not enabled"));
        };
        // sign-ins abandoned long ago are of no use to anyone
        errors::spi(Spi::run("DELETE FROM bknd.oauth_states WHERE created_at < now() - interval '1 hour'"));
        let (state, verifier) = (secret_token::random(), secret_token::random());
        let (c, m) = challenge.map(|(c, m)| (Some(c), Some(m))).unwrap_or((None, None));
        errors::spi(Spi::run_with_args(
            "INSERT INTO bknd.oauth_states (state_hash, provider, provider_verifier, redirect_to, code_challenge, code_challenge_method) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[secret_token::digest(&state).into(), provider.into(), verifier.as_str().into(), redirect_to.into(), c.into(), m.into()],
        ));
        config["state"] = json!(state);
        config["provider_verifier"] = json!(verifier);
        Ok(config)
    })())
}

/// The callback's `state`, once and within 10 minutes: what the sidecar needs to exchange the
/// provider's code.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn oauth_take_state(state: &str) -> pgrx::JsonB {
    crate::identity::refuse_switched_role("take an OAuth state");
    let row = errors::spi_or(
        crate::plans::get_one::<pgrx::JsonB>(
            "UPDATE bknd.oauth_states s SET taken_at = now() FROM bknd.oauth_providers p \
             WHERE s.state_hash = $1 AND s.taken_at IS NULL AND s.created_at > now() - make_interval(secs => $2) \
               AND p.name = s.provider AND p.enabled \
             RETURNING jsonb_build_object('provider', p.name, 'kind', p.kind, 'client_id', p.client_id, \
               'client_secret', p.client_secret, 'issuer', p.issuer, 'token_url', p.token_url, 'userinfo_url', p.userinfo_url, \
               'provider_verifier', s.provider_verifier, 'redirect_to', s.redirect_to, 'pkce', s.code_challenge IS NOT NULL)",
            &[secret_token::digest(state).into(), STATE_SECONDS.into()],
        ),
        None,
    );
    answer(row.map(|j| j.0).ok_or_else(|| fail(404, "flow_state_not_found", "OAuth state not found, already used or expired")))
}

/// The provider vouched for `identity` (`provider_id`, and optionally `email`,
/// `email_verified`, profile fields): sign that user in, linking by verified email or creating
/// the user. The answer is a session, or `{auth_code}` when the app started a PKCE flow.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn oauth_complete(state: &str, identity: pgrx::JsonB, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    crate::identity::refuse_switched_role("complete an OAuth sign-in");
    let ip = valid_ip(ip);
    answer((|| -> Outcome {
        let row = errors::spi_or(
            crate::plans::get_three::<String, String, String>(
                "UPDATE bknd.oauth_states SET completed_at = now() \
                 WHERE state_hash = $1 AND taken_at IS NOT NULL AND completed_at IS NULL AND created_at > now() - make_interval(secs => $2) \
                 RETURNING provider, code_challenge, code_challenge_method",
                &[secret_token::digest(state).into(), STATE_SECONDS.into()],
            ),
            (None, None, None),
        );
        let (Some(provider), challenge, method) = row else {
            return Err(fail(404, "flow_state_not_found", "OAuth state not found, already used or expired"));
        };
        let user_id = link_or_create(&provider, &identity.0, ip)?;
        user::mark_signed_in(&user_id);
        audit::log(Some(&user_id), "login", ip, json!({"provider": provider}));
        match (challenge, method) {
            (Some(c), Some(m)) => Ok(pkce::new_auth_code(&user_id, &c, &m, "oauth")),
            _ => Ok(session::issue(&user_id, "aal1", user::amr("oauth"), ip)),
        }
    })())
}

/// The user `identity` belongs to: the one already linked to it; else the user with the same
/// email if the provider verified it; else a new user.
fn link_or_create(provider: &str, identity: &Value, ip: Option<&str>) -> Result<String, Value> {
    let bad = |why: &str| fail(400, "bad_oauth_callback", why);
    let Value::Object(_) = identity else { return Err(bad("identity must be a JSON object")) };
    let provider_id = match &identity["provider_id"] {
        Value::String(s) if !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control) => s.clone(),
        _ => return Err(bad("the provider gave no user id")),
    };
    let email = identity["email"].as_str().and_then(|e| normalize_email(e).ok());
    let verified = email.is_some() && identity["email_verified"].as_bool() == Some(true);
    // the first sign-in of a new identity in two tabs at once: the second waits for the first
    // to commit, then finds the identity linked, rather than creating a user of its own
    user::lock_until_commit("bknd.identities", &format!("{provider} {provider_id}"));

    let linked = errors::spi_or(
        crate::plans::get_one::<String>(
            "UPDATE bknd.identities SET identity_data = $3, last_sign_in_at = now(), updated_at = now() \
             WHERE provider = $1 AND provider_id = $2 RETURNING user_id::text",
            &[provider.into(), provider_id.as_str().into(), pgrx::JsonB(identity.clone()).into()],
        ),
        None,
    );
    let user_id = match linked {
        Some(id) => id,
        None => {
            let existing = email.as_deref().and_then(user::find_by_email);
            let id = match existing {
                Some(id) if verified => {
                    // The provider proved the email. A password set by whoever signed up with it
                    // without confirming it is not to be trusted: drop it (pre-account takeover).
                    errors::spi(Spi::run_with_args(
                        "UPDATE bknd.users SET password_hash = CASE WHEN email_confirmed_at IS NULL THEN NULL ELSE password_hash END, \
                           email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now() WHERE id = $1::uuid",
                        &[id.as_str().into()],
                    ));
                    audit::log(Some(&id), "identity_linked", ip, json!({"provider": provider}));
                    id
                }
                Some(_) => {
                    return Err(fail(422, "email_exists", "A user with this email exists, and the provider has not verified the email"))
                }
                None => {
                    if settings()["disable_signup"].as_bool().unwrap_or(false) {
                        return Err(fail(422, "signup_disabled", "Signups not allowed for this instance"));
                    }
                    let meta = profile(identity);
                    let id = errors::spi(crate::plans::get_one::<String>(
                        "INSERT INTO bknd.users (email, email_confirmed_at, user_metadata) \
                         VALUES ($1, CASE WHEN $2 THEN now() END, $3) RETURNING id::text",
                        &[email.as_deref().into(), verified.into(), pgrx::JsonB(meta).into()],
                    ))
                    .unwrap_or_default();
                    audit::log(Some(&id), "user_signedup", ip, json!({"provider": provider}));
                    id
                }
            };
            errors::spi(Spi::run_with_args(
                "INSERT INTO bknd.identities (user_id, provider, provider_id, identity_data, last_sign_in_at) \
                 VALUES ($1::uuid, $2, $3, $4, now())",
                &[id.as_str().into(), provider.into(), provider_id.as_str().into(), pgrx::JsonB(identity.clone()).into()],
            ));
            id
        }
    };
    let banned = errors::spi(crate::plans::get_one::<bool>(
        "SELECT coalesce(banned_until > now(), false) FROM bknd.users WHERE id = $1::uuid",
        &[user_id.as_str().into()],
    ))
    .unwrap_or(false);
    if banned {
        audit::log(Some(&user_id), "login_banned", ip, json!({"provider": provider}));
        return Err(fail(400, "user_banned", "User is banned"));
    }
    Ok(user_id)
}

/// The profile fields GoTrue copies into a new user's user_metadata.
fn profile(identity: &Value) -> Value {
    let mut meta = serde_json::Map::new();
    for key in ["name", "full_name", "avatar_url", "picture", "preferred_username", "user_name", "email", "email_verified"] {
        if let Some(v) = identity.get(key).filter(|v| !v.is_null()) {
            meta.insert(key.into(), v.clone());
        }
    }
    meta.insert("provider_id".into(), identity["provider_id"].clone());
    meta.insert("sub".into(), identity["provider_id"].clone());
    Value::Object(meta)
}
