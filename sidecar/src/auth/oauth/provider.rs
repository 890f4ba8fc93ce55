//! The provider side of an OAuth sign-in: where to send the browser, exchanging the code (with
//! bknd's PKCE verifier and the client secret) for the provider's access token, and asking the
//! provider who the user is. GitHub speaks plain OAuth 2 plus its REST API; any other provider
//! is OpenID Connect, its endpoints found by discovery from the issuer URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_USER: &str = "https://api.github.com/user";
/// Provider answers are small JSON documents; anything bigger is refused unread.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// Why talking to the provider failed (shown to the app as `error_description`).
#[derive(Debug)]
pub struct ProviderError(pub String);

type Result<T> = std::result::Result<T, ProviderError>;

#[derive(Clone, Debug)]
pub struct Providers {
    http: reqwest::Client,
    discovered: Arc<Mutex<HashMap<String, (Instant, Value)>>>,
}

impl Default for Providers {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("bknd")
            .build()
            .expect("an HTTP client with default TLS settings");
        Providers { http, discovered: Arc::default() }
    }
}

fn field<'a>(config: &'a Value, key: &str) -> Option<&'a str> {
    config[key].as_str().filter(|s| !s.is_empty())
}

impl Providers {
    /// The provider's authorization endpoint for `config` (a row of bknd.oauth_providers).
    pub async fn authorize_url(&self, config: &Value) -> Result<String> {
        self.endpoint(config, "authorize_url", "authorization_endpoint", GITHUB_AUTHORIZE).await
    }

    /// Exchange the authorization code for the provider's access token.
    pub async fn exchange(&self, config: &Value, code: &str, redirect_uri: &str) -> Result<String> {
        let url = self.endpoint(config, "token_url", "token_endpoint", GITHUB_TOKEN).await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", field(config, "client_id").unwrap_or("")),
            ("client_secret", field(config, "client_secret").unwrap_or("")),
            ("code_verifier", field(config, "provider_verifier").unwrap_or("")),
        ];
        let request = self.http.post(&url).header("Accept", "application/json").form(&form);
        let answer = read_json(request).await?;
        match answer["access_token"].as_str() {
            Some(token) if !token.is_empty() => Ok(token.to_string()),
            _ => Err(ProviderError(format!(
                "the provider did not issue a token: {}",
                answer["error_description"].as_str().or(answer["error"].as_str()).unwrap_or("no access_token in its answer")
            ))),
        }
    }

    /// Who the access token belongs to: `{provider_id, email, email_verified, name, avatar_url, ...}`.
    pub async fn identity(&self, config: &Value, access_token: &str) -> Result<Value> {
        if config["kind"] == "github" {
            self.github_identity(config, access_token).await
        } else {
            self.oidc_identity(config, access_token).await
        }
    }

    async fn github_identity(&self, config: &Value, token: &str) -> Result<Value> {
        let user_url = field(config, "userinfo_url").unwrap_or(GITHUB_USER).to_string();
        let user = read_json(self.github_get(&user_url, token)).await?;
        let id = match &user["id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err(ProviderError("GitHub gave no user id".into())),
        };
        // the profile's email is whatever the user typed; /user/emails says which are verified
        let emails = read_json(self.github_get(&format!("{}/emails", user_url.trim_end_matches('/')), token)).await?;
        let list = emails.as_array().cloned().unwrap_or_default();
        let verified = |e: &&Value| e["verified"] == json!(true) && e["email"].is_string();
        let chosen = list.iter().filter(verified).find(|e| e["primary"] == json!(true)).or_else(|| list.iter().find(verified));
        let (email, email_verified) = match chosen {
            Some(e) => (e["email"].clone(), true),
            None => (user["email"].clone(), false),
        };
        Ok(json!({
            "provider_id": id, "sub": id, "email": email, "email_verified": email_verified,
            "name": user["name"], "full_name": user["name"], "user_name": user["login"],
            "preferred_username": user["login"], "avatar_url": user["avatar_url"],
        }))
    }

    fn github_get(&self, url: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(url).bearer_auth(token).header("Accept", "application/vnd.github+json")
    }

    async fn oidc_identity(&self, config: &Value, token: &str) -> Result<Value> {
        let url = self.endpoint(config, "userinfo_url", "userinfo_endpoint", "").await?;
        let info = read_json(self.http.get(&url).bearer_auth(token).header("Accept", "application/json")).await?;
        let sub =
            info["sub"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| ProviderError("the provider gave no subject (sub)".into()))?;
        // some providers send "true" as a string
        let verified = matches!(&info["email_verified"], Value::Bool(true)) || info["email_verified"] == json!("true");
        let mut identity = json!({
            "provider_id": sub, "sub": sub, "email": info["email"], "email_verified": verified,
            "name": info["name"], "full_name": info["name"], "avatar_url": info["picture"], "picture": info["picture"],
            "preferred_username": info["preferred_username"],
        });
        if let Some(iss) = field(config, "issuer") {
            identity["iss"] = json!(iss);
        }
        Ok(identity)
    }

    /// An endpoint: configured explicitly, else (OIDC) from discovery, else GitHub's.
    async fn endpoint(&self, config: &Value, configured: &str, discovered: &str, github: &str) -> Result<String> {
        if let Some(url) = field(config, configured) {
            return Ok(url.to_string());
        }
        if config["kind"] == "github" {
            return Ok(github.to_string());
        }
        let issuer = field(config, "issuer").ok_or_else(|| ProviderError("the provider has no issuer".into()))?;
        let document = self.discover(issuer).await?;
        document[discovered]
            .as_str()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://127.0.0.1") || u.starts_with("http://localhost"))
            .map(str::to_string)
            .ok_or_else(|| ProviderError(format!("the issuer's discovery document has no usable {discovered}")))
    }

    /// The issuer's `/.well-known/openid-configuration`, kept for an hour.
    async fn discover(&self, issuer: &str) -> Result<Value> {
        let issuer = issuer.trim_end_matches('/');
        if let Some((at, doc)) = self.discovered.lock().unwrap_or_else(|p| p.into_inner()).get(issuer) {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(doc.clone());
            }
        }
        let doc = read_json(self.http.get(format!("{issuer}/.well-known/openid-configuration"))).await?;
        // OIDC Discovery 4.3: the document must name the issuer it was fetched from
        if doc["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer) {
            return Err(ProviderError("the discovery document names another issuer".into()));
        }
        self.discovered.lock().unwrap_or_else(|p| p.into_inner()).insert(issuer.to_string(), (Instant::now(), doc.clone()));
        Ok(doc)
    }
}

/// Send, and read a small JSON answer; a non-2xx status is an error carrying the provider's word.
async fn read_json(request: reqwest::RequestBuilder) -> Result<Value> {
    let unreachable = |e: reqwest::Error| ProviderError(format!("the provider could not be reached: {}", e.without_url()));
    let mut response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ProviderError("the provider's answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| ProviderError(format!("the provider answered {status} without JSON")))?;
    if !status.is_success() {
        let why = value["error_description"].as_str().or(value["error"].as_str()).or(value["message"].as_str()).unwrap_or("");
        return Err(ProviderError(format!("the provider answered {status}: {why}")));
    }
    Ok(value)
}
