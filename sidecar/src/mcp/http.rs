//! `/mcp`: Streamable HTTP (rmcp), behind two checks of our own. A browser `Origin` is refused
//! unless configured (`--mcp-allow-origin`), so a web page cannot drive a local bknd; and a
//! bearer token that does not verify gets 401 with `WWW-Authenticate`, before any MCP message
//! is read. No token means anon, as for REST. rmcp itself checks `Host` (DNS rebinding).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;

use super::Bknd;
use crate::engine::Failure;
use crate::state::AppState;

#[derive(Clone, Debug, Default)]
pub struct McpConfig {
    /// browser origins allowed to call /mcp (scheme://host[:port])
    pub allow_origins: Vec<String>,
    /// Host header values accepted besides loopback and the public URL's host
    pub allow_hosts: Vec<String>,
}

pub fn router(state: AppState) -> Router<AppState> {
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if let Some(host) = url::Url::parse(&state.auth.public_url).ok().and_then(|u| u.host_str().map(str::to_string)) {
        hosts.push(host);
    }
    hosts.extend(state.mcp.allow_hosts.iter().cloned());
    let mut config = StreamableHttpServerConfig::default();
    config.allowed_hosts = hosts;
    let handler_state = state.clone();
    let service: StreamableHttpService<Bknd, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(Bknd::new(handler_state.clone(), None)), Arc::new(LocalSessionManager::default()), config);
    Router::new().route_service("/mcp", service).layer(axum::middleware::from_fn_with_state(state, guard))
}

fn refuse(status: StatusCode, message: &str, www_authenticate: Option<String>) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32001, "message": message}});
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(value) = www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let allowed = state.mcp.allow_origins.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin.trim_end_matches('/')));
        if !allowed {
            return refuse(StatusCode::FORBIDDEN, "this Origin may not use the MCP endpoint (see --mcp-allow-origin)", None);
        }
    }
    if let Some(token) = crate::rest::request::bearer(request.headers()) {
        let verified = state.engine.call_as_sidecar(crate::extension::auth::jwt_verify(token)).await;
        if let Err(failure) = verified {
            let why = match failure {
                Failure::Database(d) if d.sqlstate == "28000" => d.message,
                other => {
                    let status = StatusCode::from_u16(other.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    return refuse(status, &crate::mcp::run::message_of(&other), None);
                }
            };
            let challenge = format!("Bearer realm=\"bknd\", error=\"invalid_token\", error_description=\"{}\"", why.replace('"', "'"));
            return refuse(StatusCode::UNAUTHORIZED, &format!("invalid token: {why}"), Some(challenge));
        }
    }
    let closing = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    // a closed session: rmcp answers 202, which MCP clients (the Python SDK) report as a failure
    if closing && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}
