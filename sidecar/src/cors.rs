//! CORS for the API routes (`/rest/v1`, `/auth/v1`, `/storage/v1`): browsers on other origins
//! are the main clients. Access is decided by tokens, not cookies, so any origin may call by
//! default (`--cors-allow-origin`, as app backends expect); no credentials mode is offered. A
//! preflight is answered 204 for whatever method and headers it asks for (supabase-js,
//! storage-js and tus-js-client each send their own), as Supabase's gateway does. Only an
//! OPTIONS that asks (`Access-Control-Request-Method`) is a preflight: TUS's own OPTIONS
//! reaches its route. `/mcp` has its own, stricter origin check and no CORS.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

/// The response headers clients read, besides the ones every browser exposes.
const EXPOSED: &str = "content-range, content-profile, content-location, location, etag, preference-applied, \
                       x-request-id, tus-resumable, upload-offset, upload-length, upload-expires";

/// Browsers cap a preflight's lifetime (Chromium at two hours); it saves one per request.
const MAX_AGE_SECONDS: &str = "7200";

/// Which origins may call: any, or exactly these (`scheme://host[:port]`).
#[derive(Debug, Clone)]
pub enum Origins {
    Any,
    Only(Vec<String>),
}

impl Origins {
    /// From `--cors-allow-origin`: `*` (or nothing) for any origin, else a list. An origin that
    /// is not a valid header value is an error at start, not a silent refusal later.
    pub fn parse(values: &[String]) -> anyhow::Result<Origins> {
        let origins: Vec<String> = values.iter().map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect();
        if origins.is_empty() || origins.iter().any(|o| o == "*") {
            return Ok(Origins::Any);
        }
        if let Some(bad) = origins.iter().find(|o| HeaderValue::from_str(o).is_err() || !o.contains("://")) {
            anyhow::bail!("--cors-allow-origin {bad:?} is not an origin (scheme://host[:port])");
        }
        Ok(Origins::Only(origins))
    }

    /// The Access-Control-Allow-Origin value for a request from `origin`, if it may call.
    fn allow(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match self {
            Origins::Any => Some(HeaderValue::from_static("*")),
            Origins::Only(list) => {
                let origin_text = origin.to_str().ok()?;
                list.iter().any(|o| o.eq_ignore_ascii_case(origin_text)).then(|| origin.clone())
            }
        }
    }
}

/// `router` with CORS for `origins`.
pub fn wrap<S: Clone + Send + Sync + 'static>(router: Router<S>, origins: &Arc<Origins>) -> Router<S> {
    router.layer(axum::middleware::from_fn_with_state(origins.clone(), cors))
}

/// The same for a single route.
pub fn wrap_route<S: Clone + Send + Sync + 'static>(
    route: axum::routing::MethodRouter<S>,
    origins: &Arc<Origins>,
) -> axum::routing::MethodRouter<S> {
    route.layer(axum::middleware::from_fn_with_state(origins.clone(), cors))
}

async fn cors(State(origins): State<Arc<Origins>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let allowed = origin.as_ref().and_then(|o| origins.allow(o));
    let asked = request.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD).cloned();
    if let (true, Some(method)) = (request.method() == Method::OPTIONS, asked) {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(allow) = allowed {
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method);
            if let Some(headers) = request.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, headers.clone());
            }
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECONDS));
        }
        vary(response.headers_mut(), &origins);
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(allow) = allowed {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
    }
    vary(response.headers_mut(), &origins);
    response
}

/// With a list of origins the answer depends on the request's Origin: caches must know.
fn vary(headers: &mut HeaderMap, origins: &Origins) {
    if matches!(origins, Origins::Only(_)) {
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::Origins;

    #[test]
    fn origins_are_checked_at_start() {
        assert!(matches!(Origins::parse(&["*".into()]).unwrap(), Origins::Any));
        assert!(matches!(Origins::parse(&[]).unwrap(), Origins::Any));
        let list = Origins::parse(&["https://app.example".into(), "http://localhost:5173/".into()]).unwrap();
        assert!(matches!(list, Origins::Only(ref l) if l == &["https://app.example", "http://localhost:5173"]));
        assert!(Origins::parse(&["https://bad\norigin".into()]).is_err());
        assert!(Origins::parse(&["app.example".into()]).is_err());
    }
}
