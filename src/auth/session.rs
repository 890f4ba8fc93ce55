//! Sessions: an access token (a JWT, 1 hour) and an opaque refresh token, rotated on every use.
//! A refresh token used twice within `REUSE_GRACE_SECONDS` (two tabs refreshing at once) is
//! refused without harm; used again after that, it revokes the session's whole token family.

use pgrx::prelude::*;
use serde_json::{json, Map, Value};

use super::outcome::{answer, fail, Outcome};
use super::{audit, caller, rate_limit, secret_token, user, valid_ip};
use crate::errors;
use crate::jwt;

pub const ACCESS_TOKEN_SECONDS: i64 = 3600;
const REUSE_GRACE_SECONDS: i64 = 10;

/// A new session for `user_id`, with its first refresh token, answered as GoTrue does.
pub fn issue(user_id: &str, aal: &str, amr: Value, ip: Option<&str>) -> Value {
    let opened = open(user_id, aal, &amr, ip);
    respond(user_id, user::json(user_id), &opened, aal, &amr)
}

/// A session's row and first refresh token, not yet answered.
pub struct Opened {
    session_id: String,
    refresh: String,
}

/// Insert a session for `user_id` and its first refresh token, in one statement.
pub fn open(user_id: &str, aal: &str, amr: &Value, ip: Option<&str>) -> Opened {
    let refresh = secret_token::random();
    let session_id = secret_token::uuid_v4();
    errors::spi(crate::plans::run(
        "WITH s AS (INSERT INTO bknd.sessions (id, user_id, aal, amr, ip) VALUES ($6::uuid, $1::uuid, $2, $3, $4::inet) RETURNING id) \
         INSERT INTO bknd.refresh_tokens (token_hash, session_id, user_id) SELECT $5, s.id, $1::uuid FROM s",
        &[
            user_id.into(),
            aal.into(),
            pgrx::JsonB(amr.clone()).into(),
            ip.into(),
            secret_token::digest(&refresh).into(),
            session_id.as_str().into(),
        ],
    ));
    Opened { session_id, refresh }
}

fn new_refresh_token(session_id: &str, user_id: &str) -> String {
    let token = secret_token::random();
    errors::spi(crate::plans::run(
        "INSERT INTO bknd.refresh_tokens (token_hash, session_id, user_id) VALUES ($1, $2::uuid, $3::uuid)",
        &[secret_token::digest(&token).into(), session_id.into(), user_id.into()],
    ));
    token
}

/// What GoTrue answers for a session: tokens and the user (as user::json shows them).
pub fn respond(user_id: &str, user: Value, opened: &Opened, aal: &str, amr: &Value) -> Value {
    let (session_id, refresh) = (&opened.session_id, &opened.refresh);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user_id));
    claims.insert("aud".into(), json!("authenticated"));
    claims.insert("role".into(), user["role"].clone());
    claims.insert("email".into(), user["email"].clone());
    claims.insert("phone".into(), json!(""));
    claims.insert("aal".into(), json!(aal));
    claims.insert("amr".into(), amr.clone());
    claims.insert("session_id".into(), json!(session_id));
    claims.insert("app_metadata".into(), user["app_metadata"].clone());
    claims.insert("user_metadata".into(), user["user_metadata"].clone());
    claims.insert("is_anonymous".into(), user["is_anonymous"].clone());
    claims.insert("iss".into(), json!("bknd"));
    let access = jwt::sign_claims(claims, Some(ACCESS_TOKEN_SECONDS));
    json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "expires_at": jwt::unix_now() + ACCESS_TOKEN_SECONDS,
        "refresh_token": refresh,
        "user": user,
    })
}

/// Trade a refresh token for a new session token pair.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn refresh_session(refresh_token: &str, ip: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    answer(refresh(refresh_token, valid_ip(ip)))
}

fn refresh(token: &str, ip: Option<&str>) -> Outcome {
    rate_limit::hit(&format!("refresh:ip:{}", ip.unwrap_or("-")), 300, 300, ip)?;
    let invalid = || fail(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    // FOR UPDATE: a concurrent refresh of the same token waits here, then sees it revoked
    let row = errors::spi_or(
        crate::plans::get_three::<i64, String, bool>(
            "SELECT t.id, t.session_id::text, t.revoked_at IS NOT NULL FROM bknd.refresh_tokens t \
             WHERE t.token_hash = $1 FOR UPDATE",
            &[secret_token::digest(token).into()],
        ),
        (None, None, None),
    );
    let (Some(id), Some(session_id), Some(revoked)) = row else { return Err(invalid()) };
    let (user_id, aal, amr, banned) = session_user(&session_id).ok_or_else(invalid)?;
    if revoked {
        let recently = errors::spi(crate::plans::get_one::<bool>(
            "SELECT revoked_at > now() - make_interval(secs => $2) FROM bknd.refresh_tokens WHERE id = $1",
            &[id.into(), (REUSE_GRACE_SECONDS as f64).into()],
        ))
        .unwrap_or(false);
        if !recently {
            // a stolen token replayed: end the whole family
            errors::spi(Spi::run_with_args("DELETE FROM bknd.sessions WHERE id = $1::uuid", &[session_id.as_str().into()]));
            audit::log(Some(&user_id), "token_revoked", ip, json!({"reason": "refresh token reuse", "session_id": session_id}));
        }
        return Err(fail(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"));
    }
    if banned {
        return Err(fail(403, "user_banned", "User is banned"));
    }
    errors::spi(crate::plans::run("UPDATE bknd.refresh_tokens SET revoked_at = now() WHERE id = $1", &[id.into()]));
    errors::spi(crate::plans::run("UPDATE bknd.sessions SET updated_at = now() WHERE id = $1::uuid", &[session_id.as_str().into()]));
    let child = new_refresh_token(&session_id, &user_id);
    audit::log(Some(&user_id), "token_refreshed", ip, json!({"session_id": session_id}));
    Ok(respond(&user_id, user::json(&user_id), &Opened { session_id, refresh: child }, &aal, &amr))
}

/// (user id, aal, amr, banned) of a session.
fn session_user(session_id: &str) -> Option<(String, String, Value, bool)> {
    let row = errors::spi_or(
        Spi::connect(|c| {
            let t = c.select(
                "SELECT s.user_id::text, s.aal, s.amr, coalesce(u.banned_until > now(), false) \
                 FROM bknd.sessions s JOIN bknd.users u ON u.id = s.user_id WHERE s.id = $1::uuid",
                Some(1),
                &[session_id.into()],
            )?;
            let r = t.first();
            Ok::<_, pgrx::spi::SpiError>((r.get::<String>(1)?, r.get::<String>(2)?, r.get::<pgrx::JsonB>(3)?, r.get::<bool>(4)?))
        }),
        (None, None, None, None),
    );
    match row {
        (Some(u), Some(aal), Some(amr), Some(banned)) => Some((u, aal, amr.0, banned)),
        _ => None,
    }
}

/// End the caller's session (`local`), all their sessions (`global`), or all but this one
/// (`others`). Their refresh tokens stop working; access tokens run out within the hour.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn sign_out(scope: default!(&str, "'local'")) -> pgrx::JsonB {
    answer((|| {
        let (user_id, session_id) = caller().ok_or_else(|| fail(401, "no_authorization", "This endpoint requires a valid Bearer token"))?;
        let sql = match scope {
            "local" => "DELETE FROM bknd.sessions WHERE user_id = $1::uuid AND id = $2::uuid",
            "global" => "DELETE FROM bknd.sessions WHERE user_id = $1::uuid",
            "others" => "DELETE FROM bknd.sessions WHERE user_id = $1::uuid AND id IS DISTINCT FROM $2::uuid",
            _ => return Err(fail(400, "validation_failed", "scope must be local, global or others")),
        };
        errors::spi(Spi::run_with_args(sql, &[user_id.as_str().into(), session_id.into()]));
        audit::log(Some(&user_id), "logout", None, json!({"scope": scope}));
        Ok(json!({}))
    })())
}
