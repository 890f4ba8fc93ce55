//! Sign-in with an OAuth / OIDC provider, as GoTrue does it:
//! `GET /authorize?provider=` sends the browser to the provider (with `state` and bknd's own
//! PKCE challenge); the provider sends it back to `GET /callback?code=&state=`, where bknd
//! exchanges the code, asks the provider who the user is, and lets the database decide which
//! user that is (`bknd.oauth_complete`). The browser then lands on `redirect_to` with the
//! session in the fragment, or with `?code=` when the app started a PKCE flow.

pub mod provider;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::call::call_privileged;
use super::error::AuthError;
use super::{encode, ip_of, session_fragment, with_query};
use crate::extension::auth as ext;
use crate::state::AppState;

fn found(location: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn callback_url(s: &AppState) -> String {
    format!("{}/auth/v1/callback", s.auth.public_url.trim_end_matches('/'))
}

#[derive(Deserialize)]
pub struct AuthorizeQuery {
    provider: Option<String>,
    redirect_to: Option<String>,
    scopes: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

pub async fn authorize(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<AuthorizeQuery>,
) -> Result<Response, AuthError> {
    let provider =
        q.provider.filter(|p| !p.is_empty()).ok_or_else(|| AuthError::validation("Unsupported provider: missing provider parameter"))?;
    let extra_scopes = q.scopes.unwrap_or_default();
    if extra_scopes.len() > 1024 || extra_scopes.chars().any(|c| c.is_control()) {
        return Err(AuthError::validation("scopes must be at most 1024 printable characters"));
    }
    let redirect = s.auth.redirect(q.redirect_to.as_deref());
    let flow = call_privileged(&s, ext::oauth_begin(provider, redirect, q.code_challenge, q.code_challenge_method, ip_of(&addr))).await?;
    let endpoint = s.auth.oauth.authorize_url(&flow).await.map_err(|e| AuthError::new(502, "oauth_provider_unavailable", e.0))?;
    let mut url = url::Url::parse(&endpoint)
        .map_err(|_| AuthError::new(502, "oauth_provider_unavailable", "the provider's authorization URL is not a URL"))?;
    let text = |key: &str| flow[key].as_str().unwrap_or("").to_string();
    let scope = format!("{} {extra_scopes}", text("scopes")).trim().to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(text("provider_verifier").as_bytes()));
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &text("client_id"))
        .append_pair("redirect_uri", &callback_url(&s))
        .append_pair("scope", &scope)
        .append_pair("state", &text("state"))
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(found(url.into()))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AuthError> {
    let bad_state = || AuthError::new(400, "bad_oauth_state", "OAuth state parameter missing, already used or expired");
    let state = q.state.filter(|st| !st.is_empty()).ok_or_else(bad_state)?;
    // Without a state we know nothing of (one use, ten minutes) there is nowhere safe to go.
    let flow = call_privileged(&s, ext::oauth_take_state(state.clone())).await.map_err(|e| {
        if e.code == "flow_state_not_found" {
            bad_state()
        } else {
            e
        }
    })?;
    let target = s.auth.redirect(flow["redirect_to"].as_str());
    let base = target.split('#').next().unwrap_or(&target).to_string();
    let pkce = flow["pkce"] == Value::Bool(true);

    let outcome: Result<(Value, String), (&str, AuthError)> = async {
        if let Some(error) = q.error {
            let why = q.error_description.unwrap_or(error);
            return Err(("access_denied", AuthError::new(403, "oauth_access_denied", why)));
        }
        let provider_failed = |e: provider::ProviderError| ("server_error", AuthError::new(502, "oauth_provider_error", e.0));
        let code = q.code.filter(|c| !c.is_empty()).ok_or(("invalid_request", AuthError::validation("the provider sent no code")))?;
        let token = s.auth.oauth.exchange(&flow, &code, &callback_url(&s)).await.map_err(provider_failed)?;
        let identity = s.auth.oauth.identity(&flow, &token).await.map_err(provider_failed)?;
        let answer = call_privileged(&s, ext::oauth_complete(state, &identity, ip_of(&addr))).await.map_err(|e| ("access_denied", e))?;
        Ok((answer, token))
    }
    .await;

    Ok(match outcome {
        Ok((answer, _)) if answer.get("auth_code").is_some() => {
            found(with_query(&base, &format!("code={}", encode(answer["auth_code"].as_str().unwrap_or("")))))
        }
        Ok((session, provider_token)) => found(format!("{base}#{}&provider_token={}", session_fragment(&session), encode(&provider_token))),
        // errors go where the app looks for them: the query in a PKCE flow, else the fragment
        Err((error, e)) => {
            tracing::info!("oauth sign-in failed: {} {}", e.code, e.message);
            let params = format!("error={error}&error_code={}&error_description={}", encode(&e.code), encode(&e.message));
            found(if pkce { with_query(&base, &params) } else { format!("{base}#{params}") })
        }
    })
}
