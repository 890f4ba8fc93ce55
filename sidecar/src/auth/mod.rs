//! GoTrue-compatible `/auth/v1` over the extension's auth functions, so `supabase.auth.*`
//! works unmodified. Each route is one call into the database; the sidecar adds the client's
//! IP (for rate limits and the audit log) and shapes the HTTP answer.

mod call;
pub mod error;
pub mod mail;
pub mod oauth;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extension::auth as ext;
use crate::state::AppState;
use call::{call, call_privileged};
use error::AuthError;

/// The routes under `/auth/v1` (mounted there by crate::router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signup", post(signup))
        .route("/token", post(token))
        .route("/user", get(get_user).put(update_user))
        .route("/reauthenticate", get(reauthenticate))
        .route("/logout", post(logout))
        .route("/settings", get(settings))
        .route("/health", get(|| async { Json(json!({"name": "bknd", "description": "bknd auth"})) }))
        .route("/otp", post(otp))
        .route("/magiclink", post(otp))
        .route("/recover", post(recover))
        .route("/verify", get(verify_link).post(verify_code))
        .route("/factors", post(factor_enroll))
        .route("/factors/{id}", axum::routing::delete(factor_unenroll))
        .route("/factors/{id}/challenge", post(factor_challenge))
        .route("/factors/{id}/verify", post(factor_verify))
        .route("/authorize", get(oauth::authorize))
        .route("/callback", get(oauth::callback))
        .route("/admin/users", get(admin_list).post(admin_create))
        .route("/admin/users/{id}", get(admin_get).put(admin_update).delete(admin_delete))
}

type Answer = Result<Response, AuthError>;

fn token_of(headers: &HeaderMap) -> Option<String> {
    crate::rest::request::bearer(headers)
}

fn ip_of(addr: &SocketAddr) -> Option<String> {
    Some(addr.ip().to_string())
}

/// The JSON body, or a GoTrue validation error for a malformed one.
fn body(bytes: &[u8]) -> Result<Value, AuthError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(AuthError::new(400, "bad_json", "Could not parse request body as JSON")),
    }
}

fn text(v: &Value, key: &str) -> Result<Option<String>, AuthError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::validation(format!("{key} must be a string"))),
    }
}

fn ok(value: Value) -> Answer {
    Ok((StatusCode::OK, Json(value)).into_response())
}

async fn signup(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let b = body(&bytes)?;
    let email = text(&b, "email")?.ok_or_else(|| AuthError::validation("Signup requires a valid email"))?;
    let password = text(&b, "password")?.ok_or_else(|| AuthError::validation("Signup requires a valid password"))?;
    // supabase-js sends options.data as `data`
    let data = b.get("data").filter(|d| !d.is_null());
    let v = call(&s, token_of(&headers), "/auth/v1/signup", ext::sign_up(email, password, data, ip_of(&addr))).await?;
    ok(v)
}

#[derive(Deserialize)]
struct Grant {
    grant_type: Option<String>,
}

async fn token(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<Grant>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let b = body(&bytes)?;
    match q.grant_type.as_deref() {
        Some("password") => {
            let email = text(&b, "email")?.ok_or_else(|| AuthError::new(400, "invalid_credentials", "Invalid login credentials"))?;
            let password = text(&b, "password")?.unwrap_or_default();
            ok(call(&s, token_of(&headers), "/auth/v1/token", ext::sign_in_password(email, password, ip_of(&addr))).await?)
        }
        Some("pkce") => {
            let code = text(&b, "auth_code")?.ok_or_else(|| AuthError::validation("auth_code is required"))?;
            let verifier = text(&b, "code_verifier")?.ok_or_else(|| AuthError::validation("code_verifier is required"))?;
            ok(call(&s, token_of(&headers), "/auth/v1/token", ext::exchange_auth_code(code, verifier, ip_of(&addr))).await?)
        }
        Some("refresh_token") => {
            let refresh = text(&b, "refresh_token")?
                .ok_or_else(|| AuthError::new(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"))?;
            ok(call(&s, token_of(&headers), "/auth/v1/token", ext::refresh_session(refresh, ip_of(&addr))).await?)
        }
        Some(other) => Err(AuthError::new(400, "unsupported_grant_type", format!("unsupported_grant_type: {other}"))),
        None => Err(AuthError::new(400, "unsupported_grant_type", "grant_type is required")),
    }
}

async fn get_user(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    ok(call(&s, token_of(&headers), "/auth/v1/user", ext::get_user()).await?)
}

/// Update the signed-in user. A new email that needs confirming is recorded by update_user (as
/// the user); then the sidecar, in its own role, has the codes made for the recorded addresses
/// and mails them, so no code ever reaches the caller.
async fn update_user(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<RedirectQuery>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let b = body(&bytes)?;
    let user = call(&s, token_of(&headers), "/auth/v1/user", ext::update_user(&b)).await?;
    let (Some(id), true) = (user["id"].as_str(), user.get("new_email").is_some() && b.get("email").is_some()) else { return ok(user) };
    let v = call_privileged(&s, ext::request_email_change_tokens(id, ip_of(&addr))).await?;
    if v["send"].as_bool() != Some(true) {
        return ok(user);
    }
    let redirect = s.auth.redirect(q.redirect_to.as_deref());
    for m in v["messages"].as_array().into_iter().flatten() {
        let to = m["email"].as_str().unwrap_or("");
        mail_token(&s, to, m["code"].as_str().unwrap_or(""), m["link_token"].as_str(), "email_change", &redirect).await?;
    }
    ok(v["user"].clone())
}

/// Mail the signed-in user a nonce that lets a password change through when the session is
/// older than a day (`secure_password_change`).
async fn reauthenticate(State(s): State<AppState>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Answer {
    let user = call(&s, token_of(&headers), "/auth/v1/reauthenticate", ext::get_user()).await?;
    let id = user["id"].as_str().ok_or_else(|| AuthError::new(403, "user_not_found", "User from sub claim in JWT does not exist"))?;
    let v = call_privileged(&s, ext::request_reauthentication(id, ip_of(&addr))).await?;
    if v["send"].as_bool() == Some(true) {
        let to = v["email"].as_str().unwrap_or("");
        mail_token(&s, to, v["code"].as_str().unwrap_or(""), None, "reauthentication", "").await?;
    }
    ok(json!({}))
}

#[derive(Deserialize)]
struct Scope {
    scope: Option<String>,
}

async fn logout(State(s): State<AppState>, Query(q): Query<Scope>, headers: HeaderMap) -> Answer {
    let scope = q.scope.unwrap_or_else(|| "global".into());
    call(&s, token_of(&headers), "/auth/v1/logout", ext::sign_out(scope)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn settings(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    ok(call(&s, token_of(&headers), "/auth/v1/settings", ext::auth_public_settings()).await?)
}

/// auth-js sends `page=` and `per_page=` empty when not given: read them leniently.
#[derive(Deserialize)]
struct Page {
    page: Option<String>,
    per_page: Option<String>,
}

async fn admin_list(State(s): State<AppState>, Query(p): Query<Page>, headers: HeaderMap) -> Answer {
    let number = |v: Option<String>, default: i64| v.and_then(|v| v.trim().parse::<i32>().ok()).map_or(default, i64::from);
    let list = ext::admin_list_users(number(p.page, 1), number(p.per_page, 50));
    ok(call(&s, token_of(&headers), "/auth/v1/admin/users", list).await?)
}

async fn admin_create(State(s): State<AppState>, headers: HeaderMap, bytes: axum::body::Bytes) -> Answer {
    let b = body(&bytes)?;
    ok(call(&s, token_of(&headers), "/auth/v1/admin/users", ext::admin_create_user(&b)).await?)
}

async fn admin_get(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    ok(call(&s, token_of(&headers), "/auth/v1/admin/users", ext::admin_get_user(id)).await?)
}

async fn admin_update(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, bytes: axum::body::Bytes) -> Answer {
    let b = body(&bytes)?;
    ok(call(&s, token_of(&headers), "/auth/v1/admin/users", ext::admin_update_user(id, &b)).await?)
}

async fn admin_delete(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    ok(call(&s, token_of(&headers), "/auth/v1/admin/users", ext::admin_delete_user(id)).await?)
}

async fn factor_enroll(State(s): State<AppState>, headers: HeaderMap, bytes: axum::body::Bytes) -> Answer {
    let b = body(&bytes)?;
    match text(&b, "factor_type")?.as_deref() {
        Some("totp") | None => {}
        Some(other) => return Err(AuthError::validation(format!("factor_type {other} is not supported (totp is)"))),
    }
    let (name, issuer) = (text(&b, "friendly_name")?, text(&b, "issuer")?);
    ok(call(&s, token_of(&headers), "/auth/v1/factors", ext::mfa_enroll_totp(name, issuer)).await?)
}

async fn factor_challenge(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    ok(call(&s, token_of(&headers), "/auth/v1/factors", ext::mfa_challenge(id, ip_of(&addr))).await?)
}

async fn factor_verify(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let b = body(&bytes)?;
    let challenge = text(&b, "challenge_id")?.ok_or_else(|| AuthError::validation("challenge_id is required"))?;
    let code = text(&b, "code")?.ok_or_else(|| AuthError::validation("code is required"))?;
    ok(call(&s, token_of(&headers), "/auth/v1/factors", ext::mfa_verify(id, challenge, code, ip_of(&addr))).await?)
}

async fn factor_unenroll(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    ok(call(&s, token_of(&headers), "/auth/v1/factors", ext::mfa_unenroll(id)).await?)
}

/// Percent-encoding for URL components: everything but RFC 3986's unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, COMPONENT).to_string()
}

/// What the auth routes need from the command line.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub mail: mail::MailConfig,
    /// where links in emails point: this server as the browser reaches it
    pub public_url: String,
    /// where users land by default after a link (and an allowed redirect)
    pub site_url: String,
    /// URL prefixes `redirect_to` may start with (besides site_url)
    pub redirect_allow: Vec<String>,
    /// the HTTP client for OAuth providers
    pub oauth: oauth::provider::Providers,
}

impl AuthConfig {
    /// `redirect_to` if it is allowed, else the site URL: never an open redirect.
    pub fn redirect(&self, wanted: Option<&str>) -> String {
        match wanted {
            Some(w) if std::iter::once(&self.site_url).chain(&self.redirect_allow).any(|p| allowed_by(w, p)) => w.to_string(),
            Some(w) => {
                // the app's developer needs to know why the link did not land where asked
                let shown: String = w.chars().take(200).collect();
                tracing::warn!(
                    "redirect_to {shown:?} is not under the site URL or an allowed prefix: the link lands on {}; \
                     allow it with --redirect-allow (BKND_REDIRECT_ALLOW) or set --site-url",
                    self.site_url
                );
                self.site_url.clone()
            }
            None => self.site_url.clone(),
        }
    }
}

/// Whether `wanted` lies under the allowed URL `prefix`: the same scheme, host and port, and a
/// path under the prefix's path at a segment boundary (`https://app.example` does not allow
/// `https://app.example.evil.com`, nor `/app` allow `/application`).
fn allowed_by(wanted: &str, prefix: &str) -> bool {
    let (Ok(w), Ok(p)) = (url::Url::parse(wanted), url::Url::parse(prefix)) else { return false };
    if prefix.is_empty() || w.origin() != p.origin() || !w.origin().is_tuple() || w.username() != "" || w.password().is_some() {
        return false;
    }
    let base = p.path().trim_end_matches('/');
    let path = w.path();
    path == base || path.starts_with(&format!("{base}/")) || base.is_empty()
}

#[derive(Deserialize)]
struct RedirectQuery {
    redirect_to: Option<String>,
}

/// Make and send a code and link; the answer is the same whether or not anything was sent.
async fn send_token(
    s: &AppState,
    b: &Value,
    email: String,
    purpose: &str,
    create_user: bool,
    redirect_to: Option<String>,
    ip: Option<String>,
) -> Answer {
    // supabase-js sends these in the PKCE flow
    let challenge = text(b, "code_challenge")?;
    let method = text(b, "code_challenge_method")?;
    let v = call_privileged(s, ext::request_email_token(email, purpose, create_user, ip, challenge, method)).await?;
    if v["send"].as_bool() == Some(true) {
        let redirect = s.auth.redirect(redirect_to.as_deref());
        mail_token(s, v["email"].as_str().unwrap_or(""), v["code"].as_str().unwrap_or(""), v["link_token"].as_str(), purpose, &redirect)
            .await?;
    }
    ok(json!({}))
}

/// An invitation by email (the console's Users screen, as GoTrue's invite): a code and a
/// one-time link that confirm the address and sign the user in at the app's site URL, where
/// the app lets them choose a password. Refused (429) when the address was mailed too recently.
pub(crate) async fn send_invite(s: &AppState, email: &str, ip: Option<String>) -> Result<(), AuthError> {
    let v = call_privileged(s, ext::request_email_token(email.to_string(), "recovery", false, ip, None, None)).await?;
    if v["send"].as_bool() != Some(true) {
        return Err(AuthError::new(
            429,
            "over_email_send_rate_limit",
            "too many emails to this address or from here lately; try again later",
        ));
    }
    let redirect = s.auth.redirect(None);
    mail_token(s, v["email"].as_str().unwrap_or(email), v["code"].as_str().unwrap_or(""), v["link_token"].as_str(), "invite", &redirect)
        .await
}

/// Mail `code` (and, when there is one, a link with `link_token` that lands on `redirect`).
async fn mail_token(s: &AppState, to: &str, code: &str, link_token: Option<&str>, purpose: &str, redirect: &str) -> Result<(), AuthError> {
    // an invitation's token is a recovery token: it signs the user in to choose a password
    let kind = if purpose == "invite" { "recovery" } else { purpose };
    let link = link_token.map(|token| {
        format!("{}/auth/v1/verify?token={}&type={kind}&redirect_to={}", s.auth.public_url.trim_end_matches('/'), token, encode(redirect))
    });
    let (subject, what) = match purpose {
        "recovery" => ("Reset your password", "To reset your password"),
        "signup" => ("Confirm your email", "To confirm your email"),
        "email_change" => ("Confirm your email change", "To confirm the change of your account's email"),
        "reauthentication" => ("Confirm reauthentication", "To confirm it is you"),
        "invite" => ("You have been invited", "You have been invited: to accept and choose a password"),
        _ => ("Your sign-in code", "To sign in"),
    };
    let body = match link {
        Some(link) => format!("{what}, enter this code: {code}\n\nor open this link:\n{link}\n\nIt works once, within an hour. If you did not ask for it, ignore this email.\n"),
        None => format!("{what}, enter this code: {code}\n\nIt works once, within an hour. If you did not ask for it, ignore this email.\n"),
    };
    if let Err(e) = mail::send(&s.auth.mail, to, subject, body).await {
        tracing::error!("sending {purpose} email failed: {e}");
        return Err(AuthError::new(500, "unexpected_failure", "Error sending email"));
    }
    Ok(())
}

async fn otp(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<RedirectQuery>,
    bytes: axum::body::Bytes,
) -> Answer {
    let b = body(&bytes)?;
    let email = text(&b, "email")?.ok_or_else(|| AuthError::validation("An email address is required"))?;
    let create_user = b.get("create_user").and_then(Value::as_bool).unwrap_or(true);
    send_token(&s, &b, email, "magiclink", create_user, q.redirect_to, ip_of(&addr)).await
}

async fn recover(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<RedirectQuery>,
    bytes: axum::body::Bytes,
) -> Answer {
    let b = body(&bytes)?;
    let email = text(&b, "email")?.ok_or_else(|| AuthError::validation("An email address is required"))?;
    send_token(&s, &b, email, "recovery", false, q.redirect_to, ip_of(&addr)).await
}

async fn verify_code(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let b = body(&bytes)?;
    let kind = text(&b, "type")?.unwrap_or_else(|| "email".into());
    let ip = ip_of(&addr);
    let v = if let Some(hash) = text(&b, "token_hash")? {
        call(&s, token_of(&headers), "/auth/v1/verify", ext::verify_email_link(hash, kind, ip)).await?
    } else {
        let email = text(&b, "email")?.ok_or_else(|| AuthError::validation("email is required"))?;
        let code = text(&b, "token")?.ok_or_else(|| AuthError::validation("token is required"))?;
        call(&s, token_of(&headers), "/auth/v1/verify", ext::verify_email_code(email, code, kind, ip)).await?
    };
    ok(v)
}

#[derive(Deserialize)]
struct LinkQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

/// A session as GoTrue puts it in a redirect's fragment, where supabase-js picks it up.
fn session_fragment(session: &Value) -> String {
    format!(
        "access_token={}&expires_at={}&expires_in={}&refresh_token={}&token_type=bearer",
        encode(session["access_token"].as_str().unwrap_or("")),
        session["expires_at"],
        session["expires_in"],
        encode(session["refresh_token"].as_str().unwrap_or(""))
    )
}

/// `base` with `params` added to its query string.
fn with_query(base: &str, params: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{params}")
}

/// The click on an emailed link: 303 to the (allowed) redirect with the session in the fragment.
async fn verify_link(State(s): State<AppState>, ConnectInfo(addr): ConnectInfo<SocketAddr>, Query(q): Query<LinkQuery>) -> Response {
    let target = s.auth.redirect(q.redirect_to.as_deref());
    let kind = q.kind.unwrap_or_else(|| "magiclink".into());
    let enc = encode;
    let base = target.split('#').next().unwrap_or(&target).to_string();
    let fragment = match q.token {
        None => "error=invalid_request&error_code=validation_failed&error_description=token+is+required".to_string(),
        Some(token) => match call(&s, None, "/auth/v1/verify", ext::verify_email_link(token, kind.clone(), ip_of(&addr))).await {
            // PKCE: the app exchanges this code (with its verifier) for the session
            Ok(answer) if answer.get("auth_code").is_some() => {
                let location = with_query(&base, &format!("code={}", enc(answer["auth_code"].as_str().unwrap_or(""))));
                return (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, location)]).into_response();
            }
            // the first of an email change's two confirmations: no session yet (as GoTrue)
            Ok(answer) if answer.get("access_token").is_none() => {
                format!("message={}", enc(answer["msg"].as_str().unwrap_or("")))
            }
            Ok(session) => format!("{}&type={}", session_fragment(&session), enc(&kind)),
            Err(e) => format!("error=access_denied&error_code={}&error_description={}", enc(&e.code), enc(&e.message)),
        },
    };
    let location = format!("{base}#{fragment}");
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::allowed_by;

    #[test]
    fn redirects_are_allowed_only_under_the_prefix() {
        assert!(allowed_by("https://app.example/welcome?x=1", "https://app.example"));
        assert!(allowed_by("https://app.example", "https://app.example/"));
        assert!(allowed_by("https://app.example/app/x", "https://app.example/app"));
        assert!(!allowed_by("https://app.example.evil.com/", "https://app.example"));
        assert!(!allowed_by("https://app.example@evil.com/", "https://app.example"));
        assert!(!allowed_by("https://user@app.example/", "https://app.example"));
        assert!(!allowed_by("http://app.example/", "https://app.example"));
        assert!(!allowed_by("https://app.example:8443/", "https://app.example"));
        assert!(!allowed_by("https://app.example/application", "https://app.example/app"));
        assert!(!allowed_by("javascript:alert(1)", "https://app.example"));
        assert!(!allowed_by("https://app.example/", ""));
    }
}
