//! Object operations besides upload and download: signed URLs, list, move, copy, remove,
//! info. Each is one `bknd.storage_*` call as the caller, so the policies decide.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use object_store::ObjectStoreExt;
use serde_json::{json, Value};

use super::call::{read, run, run_as_sidecar};
use super::error::StorageError;
use super::{backend, forget_bytes, json_body, text, Answer};
use crate::extension::storage as ext;
use crate::extension::{Call, TextArray};
use crate::state::AppState;

/// The longest a signed URL may live (the database refuses more): a week.
const MAX_EXPIRES_IN: i64 = 7 * 24 * 3600;

fn expires_in(b: &Value) -> Result<i64, StorageError> {
    match &b["expiresIn"] {
        Value::Null => Ok(3600),
        v => v
            .as_i64()
            .filter(|n| (1..=MAX_EXPIRES_IN).contains(n))
            .ok_or_else(|| StorageError::invalid(format!("expiresIn must be a whole number of seconds from 1 to {MAX_EXPIRES_IN}"))),
    }
}

/// A whole number from 0 to 2^31 - 1 at `v` (`default` when absent), or a clear 400.
fn count(v: &Value, field: &str, default: i64) -> Result<i64, StorageError> {
    match v {
        Value::Null => Ok(default),
        v => v
            .as_i64()
            .filter(|n| (0..=i32::MAX as i64).contains(n))
            .ok_or_else(|| StorageError::invalid(format!("{field} must be a whole number from 0 to {}", i32::MAX))),
    }
}

/// The URL path storage-js expects back: raw, because it passes the whole URL through
/// `encodeURI` itself (so names with `?` or `#` are better fetched by the authenticated route).
fn signed_path(kind: &str, bucket: &str, name: &str, token: &str) -> String {
    format!("/object/{kind}/{bucket}/{name}?token={token}")
}

async fn sign_one(s: &AppState, headers: &HeaderMap, bucket: &str, name: &str, expires: i64) -> Result<String, StorageError> {
    let signed = run(s, headers, ext::storage_sign(bucket.into(), name.into(), "download", expires, false)).await?;
    Ok(signed_path("sign", bucket, signed["name"].as_str().unwrap_or(name), signed["token"].as_str().unwrap_or("")))
}

pub async fn sign(
    State(s): State<AppState>,
    Path((bucket, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    let b = json_body(&body)?;
    let url = sign_one(&s, &headers, &bucket, &path, expires_in(&b)?).await?;
    Ok(Json(json!({"signedURL": url})))
}

pub async fn sign_many(State(s): State<AppState>, Path(bucket): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let b = json_body(&body)?;
    let expires = expires_in(&b)?;
    let paths = b["paths"].as_array().ok_or_else(|| StorageError::invalid("paths must be an array"))?;
    if paths.len() > 1000 {
        return Err(StorageError::invalid("at most 1000 paths at a time"));
    }
    let mut out = Vec::new();
    for p in paths {
        let Some(name) = p.as_str() else { return Err(StorageError::invalid("paths must be strings")) };
        out.push(match sign_one(&s, &headers, &bucket, name, expires).await {
            Ok(url) => json!({"error": null, "path": name, "signedURL": url}),
            Err(e) => json!({"error": e.message, "path": name, "signedURL": null}),
        });
    }
    Ok(Json(Value::Array(out)))
}

pub async fn sign_upload(State(s): State<AppState>, Path((bucket, path)): Path<(String, String)>, headers: HeaderMap) -> Answer {
    let upsert = headers.get("x-upsert").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let signed = run(&s, &headers, ext::storage_sign(bucket.clone(), path.clone(), "upload", 7200, upsert)).await?;
    let token = signed["token"].as_str().unwrap_or("");
    Ok(Json(json!({"url": signed_path("upload/sign", &bucket, signed["name"].as_str().unwrap_or(&path), token), "token": token})))
}

pub async fn list(State(s): State<AppState>, Path(bucket): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let b = json_body(&body)?;
    let field = |v: &Value, default: &str| v.as_str().unwrap_or(default).to_string();
    let list = ext::storage_list(
        bucket,
        field(&b["prefix"], ""),
        count(&b["limit"], "limit", 100)?,
        count(&b["offset"], "offset", 0)?,
        field(&b["sortBy"]["column"], "name"),
        field(&b["sortBy"]["order"], "asc"),
        field(&b["search"], ""),
    );
    Ok(Json(read(&s, &headers, list).await?))
}

/// The source and destination of a move or copy.
fn route(b: &Value) -> Result<(String, String, String, Option<String>), StorageError> {
    let field = |k: &str| b[k].as_str().map(str::to_string);
    let bucket = field("bucketId").ok_or_else(|| StorageError::invalid("bucketId is required"))?;
    let from = field("sourceKey").ok_or_else(|| StorageError::invalid("sourceKey is required"))?;
    let to = field("destinationKey").ok_or_else(|| StorageError::invalid("destinationKey is required"))?;
    Ok((bucket, from, to, field("destinationBucket")))
}

/// Within a bucket a move renames the row (the bytes stay); to another bucket it is a copy of
/// the bytes under a new version and one transaction that removes the source and makes the
/// copy the object, so the object is never without its bytes.
pub async fn move_object(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let (bucket, from, to, to_bucket) = route(&json_body(&body)?)?;
    let to_bucket = match to_bucket {
        Some(other) if other != bucket => other,
        _ => return Ok(Json(run(&s, &headers, ext::storage_move(bucket, from, to)).await?)),
    };
    let begun = run(&s, &headers, ext::storage_begin_move(bucket, from, to, to_bucket)).await?;
    let source_id = text(&begun["source"], "id");
    transfer(&s, &begun, |size, version| ext::storage_finish_move(text(&begun["upload"], "id"), source_id.clone(), size, version)).await?;
    Ok(Json(json!({"message": "Successfully moved"})))
}

pub async fn copy(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let (bucket, from, to, to_bucket) = route(&json_body(&body)?)?;
    let upsert = headers.get("x-upsert").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let to_bucket = to_bucket.unwrap_or_else(|| bucket.clone());
    let begun = run(&s, &headers, ext::storage_begin_copy(bucket, from, to, to_bucket, upsert)).await?;
    let upload = &begun["upload"];
    transfer(&s, &begun, |size, version| ext::storage_finish_upload(text(upload, "id"), size, version, upsert, None, None, None)).await?;
    Ok(Json(json!({"Key": format!("{}/{}", text(upload, "bucket"), text(upload, "name")), "Id": text(upload, "id")})))
}

/// Copy `begun.source`'s bytes to `begun.upload`'s version and finish with the statement
/// `finish(size, version)` gives (as the sidecar); on any failure the upload and its bytes go.
async fn transfer(s: &AppState, begun: &Value, finish: impl FnOnce(i64, String) -> Call) -> Result<(), StorageError> {
    let (source, upload) = (&begun["source"], &begun["upload"]);
    let (id, dest_bucket, version) = (text(upload, "id"), text(upload, "bucket"), text(upload, "version"));
    let copied = s
        .storage
        .store
        .copy(&backend::key(&text(source, "bucket_id"), &text(source, "version")), &backend::key(&dest_bucket, &version))
        .await
        .map_err(StorageError::internal);
    let finished = match copied {
        Ok(()) => run_as_sidecar(s, finish(source["size"].as_i64().unwrap_or(0), version.clone())).await,
        Err(e) => Err(e),
    };
    match finished {
        Ok(done) => {
            if let Some(old) = done["replaced_version"].as_str() {
                forget_bytes(s, &dest_bucket, old).await;
            }
            Ok(())
        }
        Err(e) => {
            let _ = run_as_sidecar(s, ext::storage_abort_upload(id)).await;
            forget_bytes(s, &dest_bucket, &version).await;
            Err(e)
        }
    }
}

pub async fn remove(State(s): State<AppState>, Path(bucket): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let b = json_body(&body)?;
    let names = b["prefixes"].as_array().ok_or_else(|| StorageError::invalid("prefixes must be an array of paths"))?;
    let names: Vec<String> = names
        .iter()
        .map(|n| n.as_str().map(str::to_string).ok_or_else(|| StorageError::invalid("prefixes must be strings")))
        .collect::<Result<_, _>>()?;
    let removed = run(&s, &headers, ext::storage_remove(bucket.clone(), TextArray(&names))).await?;
    for o in removed.as_array().into_iter().flatten() {
        if let Some(v) = o["version"].as_str() {
            forget_bytes(&s, &bucket, v).await;
        }
    }
    Ok(Json(removed))
}

pub async fn info(State(s): State<AppState>, Path((bucket, path)): Path<(String, String)>, headers: HeaderMap) -> Answer {
    let o = read(&s, &headers, ext::storage_object(bucket, path)).await?;
    Ok(Json(json!({
        "id": o["id"], "name": o["name"], "version": o["version"], "bucket_id": o["bucket_id"],
        "size": o["size"], "content_type": o["mime_type"], "cache_control": o["cache_control"], "etag": o["etag"],
        "metadata": o["user_metadata"], "created_at": o["created_at"], "last_modified": o["updated_at"],
        "last_accessed_at": o["last_accessed_at"],
    })))
}
