//! Downloads: authenticated (RLS decides), public buckets, and signed URLs. One way to serve an
//! object: `Content-Type`, `ETag` (the version: a new upload is a new ETag), `Cache-Control`,
//! `Last-Modified`, `If-None-Match` -> 304, a single `Range` -> 206 (416 when unsatisfiable),
//! and the bytes streamed from the store.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use futures_util::TryStreamExt;
use object_store::{GetOptions, GetRange};
use serde::Deserialize;
use serde_json::Value;

use super::call::read;
use super::error::StorageError;
use super::{backend, text, Streamed};
use crate::extension::storage as ext;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct DownloadQuery {
    token: Option<String>,
    download: Option<String>,
}

pub async fn authenticated(
    State(s): State<AppState>,
    Path((bucket, path)): Path<(String, String)>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Streamed {
    let object = read(&s, &headers, ext::storage_object(bucket, path)).await?;
    serve(&s, &object, &headers, q.download).await
}

pub async fn public(
    State(s): State<AppState>,
    Path((bucket, path)): Path<(String, String)>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Streamed {
    let object = read(&s, &headers, ext::storage_public_object(bucket, path)).await?;
    serve(&s, &object, &headers, q.download).await
}

pub async fn signed(
    State(s): State<AppState>,
    Path((bucket, path)): Path<(String, String)>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Streamed {
    let token = q.token.ok_or_else(|| StorageError::new(400, "InvalidSignature", "the signed URL has no token"))?;
    let object = read(&s, &HeaderMap::new(), ext::storage_verify(token, "download", bucket, path)).await?;
    serve(&s, &object, &headers, q.download).await
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`: the inclusive range, None for no
/// (usable) Range header, Err for an unsatisfiable one.
fn range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: serve the whole object, as RFC 9110 allows
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
        (Some(start), None) if b.is_empty() => (start, size.saturating_sub(1)),
        (None, Some(n)) if a.is_empty() && n > 0 => (size.saturating_sub(n), size.saturating_sub(1)),
        _ => return Err(()),
    };
    if size == 0 || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn serve(s: &AppState, object: &Value, headers: &HeaderMap, download: Option<String>) -> Streamed {
    let (bucket, version) = (text(object, "bucket_id"), text(object, "version"));
    let size = object["size"].as_u64().unwrap_or(0);
    let etag = format!("\"{version}\"");
    let mut out = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    };
    set(header::ETAG, etag.clone());
    set(header::CACHE_CONTROL, object["cache_control"].as_str().filter(|c| !c.is_empty()).unwrap_or("max-age=3600").to_string());
    set(header::CONTENT_TYPE, object["mime_type"].as_str().unwrap_or("application/octet-stream").to_string());
    set(header::ACCEPT_RANGES, "bytes".into());
    // files are served from the API's own origin (and the console's): an uploaded HTML or SVG
    // opened in a tab must not run script there, and no type is sniffed into one that does
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; sandbox".into());
    if let Some(modified) = object["last_modified"].as_str() {
        set(header::LAST_MODIFIED, modified.to_string());
    }
    if let Some(name) = download {
        let name = if name.is_empty() { text(object, "name").rsplit('/').next().unwrap_or("").to_string() } else { name };
        let safe: String = name.chars().filter(|c| !c.is_control() && *c != '"' && *c != '\\').collect();
        set(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{safe}\""));
    }
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let wanted = match range(headers, size) {
        Ok(r) => r,
        Err(()) => {
            set(header::CONTENT_RANGE, format!("bytes */{size}"));
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out).into_response());
        }
    };
    let options = GetOptions { range: wanted.map(|(a, b)| GetRange::Bounded(a..b + 1)), ..Default::default() };
    let got = s.storage.store.get_opts(&backend::key(&bucket, &version), options).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => StorageError::not_found("Object not found"),
        e => StorageError::internal(e),
    })?;
    let body = body_of(got);
    let status = match wanted {
        Some((a, b)) => {
            set(header::CONTENT_RANGE, format!("bytes {a}-{b}/{size}"));
            set(header::CONTENT_LENGTH, (b - a + 1).to_string());
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            set(header::CONTENT_LENGTH, size.to_string());
            StatusCode::OK
        }
    };
    Ok((status, out, body).into_response())
}

/// The bytes as a body: a local file by a thread of its own (storage/local_file.rs), anything
/// else as the store streams it.
fn body_of(got: object_store::GetResult) -> Body {
    let range = got.range.clone();
    match got.payload {
        object_store::GetResultPayload::File(file, _) => super::local_file::body(file, range),
        object_store::GetResultPayload::Stream(stream) => Body::from_stream(stream.map_err(std::io::Error::other)),
    }
}
