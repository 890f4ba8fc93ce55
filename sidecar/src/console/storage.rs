//! The Storage screen's API: `/console/api/storage/...` is the storage API (`/storage/v1/...`,
//! Supabase Storage's format) as the signed-in member, or as whom the screen views the files
//! as (`x-bknd-view-as`). Buckets, listings, uploads (one request or resumable TUS), downloads,
//! signed URLs, moves and deletes all run in the storage module itself, through the engine
//! under the member's console role, so the database decides here as everywhere. Changes are
//! recorded in the members' log.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, Response};
use serde_json::json;
use tower::ServiceExt;

use super::api::{console_token, record, view_as};
use super::error::ConsoleError;
use super::session::required;
use crate::state::AppState;

/// What the browser may tell the storage API; everything else (cookies first) stays behind.
const FORWARDED: [&str; 16] = [
    "accept",
    "cache-control",
    "content-length",
    "content-type",
    "if-modified-since",
    "if-none-match",
    "range",
    "tus-resumable",
    "upload-length",
    "upload-metadata",
    "upload-offset",
    "x-metadata",
    "x-request-id",
    "x-upsert",
    "upload-defer-length",
    "upload-concat",
];

pub async fn forward(State(state): State<AppState>, request: Request) -> Result<Response<Body>, ConsoleError> {
    let (parts, body) = request.into_parts();
    let session = required(&parts.headers)?;
    let token = console_token(&session, view_as(&parts.headers)?.as_deref());
    let full = parts.uri.path();
    let path = full.strip_prefix("/console/api/storage").or_else(|| full.strip_prefix("/storage")).unwrap_or(full);
    let uri = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut forwarded = Request::builder().method(parts.method.clone()).uri(uri);
    for name in FORWARDED {
        for value in parts.headers.get_all(name) {
            forwarded = forwarded.header(name, value.clone());
        }
    }
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ConsoleError::no_session())?;
    let forwarded = forwarded.header(header::AUTHORIZATION, bearer).body(body).map_err(|e| ConsoleError::bad_request(e.to_string()))?;
    let storage = crate::storage::router().with_state(state.clone());
    let mut response = storage.oneshot(forwarded).await.unwrap_or_else(|never| match never {});
    relocate(&state, &mut response);
    if changes(&parts.method, path) && response.status().is_success() {
        let detail = json!({"method": parts.method.as_str(), "path": path, "status": response.status().as_u16()});
        record(&state, &session, format!("storage:{}", parts.method), Some(path.trim_start_matches('/').to_string()), detail).await;
    }
    Ok(response.map(Body::new))
}

/// A resumable upload's address points back through the console, so the page keeps sending
/// its chunks here (with its session), never to `/storage/v1` (which refuses console tokens).
fn relocate(state: &AppState, response: &mut Response<Body>) {
    let public = format!("{}/storage/v1/", state.auth.public_url.trim_end_matches('/'));
    let Some(location) = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()) else { return };
    if let Some(rest) = location.strip_prefix(&public) {
        if let Ok(v) = HeaderValue::from_str(&format!("/console/api/storage/{rest}")) {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
}

/// Whether a storage request changes something worth recording: not reads, listings or a
/// resumable upload's every chunk (its creation is recorded).
fn changes(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PATCH => false,
        Method::POST => !path.starts_with("/object/list/"),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_chunks_are_not_recorded() {
        assert!(!changes(&Method::GET, "/object/authenticated/b/a.png"));
        assert!(!changes(&Method::POST, "/object/list/b"));
        assert!(!changes(&Method::PATCH, "/upload/resumable/x"));
        assert!(changes(&Method::POST, "/bucket"));
        assert!(changes(&Method::POST, "/object/sign/b/a.png"));
        assert!(changes(&Method::DELETE, "/object/b"));
        assert!(changes(&Method::PUT, "/bucket/b"));
    }
}
