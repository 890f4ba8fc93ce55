//! `x-request-id` on every request: the client's own when it is sane (an id a proxy or the
//! browser app made, so both ends' logs meet), else a new one. It is echoed on the response and
//! carried by the request's tracing span, so every log line of the request names it. The span
//! records the method and path, never the query string (signed URLs carry tokens there).

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// Up to 128 characters a log line can carry as they are.
fn sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

pub fn of(request: &Request) -> String {
    match request.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        Some(id) if sane(id) => id.to_string(),
        // encoded straight into a buffer: to_string would go through the formatting machinery
        _ => uuid::Uuid::new_v4().hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).to_owned(),
    }
}

pub async fn layer(mut request: Request, next: Next) -> Response {
    let id = of(&request);
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(HEADER, value.clone());
    // at ERROR level so that it is on whenever any line of the request is logged
    let span = tracing::error_span!("request", id = %id, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let surface = crate::traffic::surface(request.uri().path());
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    crate::traffic::count(surface, status);
    span.in_scope(|| {
        let ms = started.elapsed().as_millis() as u64;
        if status >= 500 {
            tracing::warn!(status, ms, "answered");
        } else {
            tracing::debug!(status, ms, "answered");
        }
    });
    response.headers_mut().insert(HEADER, value);
    response
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn ids_that_could_forge_log_lines_are_replaced() {
        assert!(sane("7f9c0e1a-4b2d-4c8e-9a3b-2f1d0c9e8b7a"));
        assert!(sane("req_123:abc"));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane("x\ny"));
        assert!(!sane(&"a".repeat(129)));
    }
}
