//! Object operations besides upload and download: signed URLs, list, move, copy, remove,
//! info. Each is one `bknd.storage_*` call as the caller, so the policies decide.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use object_store::ObjectStoreExt;
use serde_json::{json, Value};

use super::call::{as_caller, as_sidecar};
use super::error::StorageError;
use super::{backend, forget_bytes, json_body, text, Answer};
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
fn count(v: &Value, field: &str, default: i64) -> Result<String, StorageError> {
    match v {
        Value::Null => Ok(default.to_string()),
        v => v
            .as_i64()
            .filter(|n| (0..=i32::MAX as i64).contains(n))
            .map(|n| n.to_string())
            .ok_or_else(|| StorageError::invalid(format!("{field} must be a whole number from 0 to {}", i32::MAX))),
    }
}

/// The URL path storage-js expects back: raw, because it passes the whole URL through
/// `encodeURI` itself (so names with `?` or `#` are better fetched by the authenticated route).
fn signed_path(kind: &str, bucket: &str, name: &str, token: &str) -> String {
    format!("/object/{kind}/{bucket}/{name}?token={token}")
}

async fn sign_one(s: &AppState, headers: &HeaderMap, bucket: &str, name: &str, expires: i64) -> Result<String, StorageError> {
    let sql = "SELECT bknd.storage_sign($1, $2, 'download', $3::text::integer)::text";
    let signed = as_caller(s, headers, sql, vec![Some(bucket.into()), Some(name.into()), Some(expires.to_string())]).await?;
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
    let sql = "SELECT bknd.storage_sign($1, $2, 'upload', 7200, $3::text::boolean)::text";
    let signed = as_caller(&s, &headers, sql, vec![Some(bucket.clone()), Some(path.clone()), Some(upsert.to_string())]).await?;
    let token = signed["token"].as_str().unwrap_or("");
    Ok(Json(json!({"url": signed_path("upload/sign", &bucket, signed["name"].as_str().unwrap_or(&path), token), "token": token})))
}

pub async fn list(State(s): State<AppState>, Path(bucket): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let b = json_body(&body)?;
    let sql = "SELECT bknd.storage_list($1, $2, $3::text::integer, $4::text::integer, $5, $6, $7)::text";
    let args = vec![
        Some(bucket),
        Some(b["prefix"].as_str().unwrap_or("").to_string()),
        Some(count(&b["limit"], "limit", 100)?),
        Some(count(&b["offset"], "offset", 0)?),
        Some(b["sortBy"]["column"].as_str().unwrap_or("name").to_string()),
        Some(b["sortBy"]["order"].as_str().unwrap_or("asc").to_string()),
        Some(b["search"].as_str().unwrap_or("").to_string()),
    ];
    Ok(Json(as_caller(&s, &headers, sql, args).await?))
}

/// The source and destination of a move or copy.
fn route(b: &Value) -> Result<[Option<String>; 4], StorageError> {
    let field = |k: &str| b[k].as_str().map(str::to_string);
    let bucket = field("bucketId").ok_or_else(|| StorageError::invalid("bucketId is required"))?;
    let from = field("sourceKey").ok_or_else(|| StorageError::invalid("sourceKey is required"))?;
    let to = field("destinationKey").ok_or_else(|| StorageError::invalid("destinationKey is required"))?;
    Ok([Some(bucket), Some(from), Some(to), field("destinationBucket")])
}

/// Within a bucket a move renames the row (the bytes stay); to another bucket it is a copy of
/// the bytes under a new version and one transaction that removes the source and makes the
/// copy the object, so the object is never without its bytes.
pub async fn move_object(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let [bucket, from, to, to_bucket] = route(&json_body(&body)?)?;
    if to_bucket.is_none() || to_bucket == bucket {
        let sql = "SELECT bknd.storage_move($1, $2, $3)::text";
        return Ok(Json(as_caller(&s, &headers, sql, vec![bucket, from, to]).await?));
    }
    let sql = "SELECT bknd.storage_begin_move($1, $2, $3, $4)::text";
    let begun = as_caller(&s, &headers, sql, vec![bucket, from, to, to_bucket]).await?;
    let source_id = text(&begun["source"], "id");
    transfer(&s, &begun, |size, version| {
        let sql = "SELECT bknd.storage_finish_move($1::text::uuid, $2::text::uuid, $3::text::bigint, $4)::text";
        (sql, vec![Some(text(&begun["upload"], "id")), Some(source_id.clone()), Some(size), Some(version)])
    })
    .await?;
    Ok(Json(json!({"message": "Successfully moved"})))
}

pub async fn copy(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let [bucket, from, to, to_bucket] = route(&json_body(&body)?)?;
    let upsert = headers.get("x-upsert").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let sql = "SELECT bknd.storage_begin_copy($1, $2, $3, $4, $5::text::boolean)::text";
    let begun = as_caller(&s, &headers, sql, vec![bucket, from, to, to_bucket, Some(upsert.to_string())]).await?;
    let upload = &begun["upload"];
    transfer(&s, &begun, |size, version| {
        let sql = "SELECT bknd.storage_finish_upload($1::text::uuid, $2::text::bigint, $3, $4::text::boolean)::text";
        (sql, vec![Some(text(upload, "id")), Some(size), Some(version), Some(upsert.to_string())])
    })
    .await?;
    Ok(Json(json!({"Key": format!("{}/{}", text(upload, "bucket"), text(upload, "name")), "Id": text(upload, "id")})))
}

/// Copy `begun.source`'s bytes to `begun.upload`'s version and finish with the statement
/// `finish(size, version)` gives (as the sidecar); on any failure the upload and its bytes go.
async fn transfer(
    s: &AppState,
    begun: &Value,
    finish: impl FnOnce(String, String) -> (&'static str, Vec<Option<String>>),
) -> Result<(), StorageError> {
    let (source, upload) = (&begun["source"], &begun["upload"]);
    let (id, dest_bucket, version) = (text(upload, "id"), text(upload, "bucket"), text(upload, "version"));
    let copied = s
        .storage
        .store
        .copy(&backend::key(&text(source, "bucket_id"), &text(source, "version")), &backend::key(&dest_bucket, &version))
        .await
        .map_err(StorageError::internal);
    let finished = match copied {
        Ok(()) => {
            let (sql, args) = finish(source["size"].as_i64().unwrap_or(0).to_string(), version.clone());
            as_sidecar(s, sql, args).await
        }
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
            let _ = as_sidecar(s, "SELECT to_jsonb(bknd.storage_abort_upload($1::text::uuid))::text", vec![Some(id)]).await;
            forget_bytes(s, &dest_bucket, &version).await;
            Err(e)
        }
    }
}

pub async fn remove(State(s): State<AppState>, Path(bucket): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let b = json_body(&body)?;
    let names = b["prefixes"].as_array().ok_or_else(|| StorageError::invalid("prefixes must be an array of paths"))?;
    let names: Vec<&str> =
        names.iter().map(|n| n.as_str().ok_or_else(|| StorageError::invalid("prefixes must be strings"))).collect::<Result<_, _>>()?;
    let sql = "SELECT bknd.storage_remove($1, ARRAY(SELECT jsonb_array_elements_text($2::text::jsonb)))::text";
    let removed = as_caller(&s, &headers, sql, vec![Some(bucket.clone()), Some(json!(names).to_string())]).await?;
    for o in removed.as_array().into_iter().flatten() {
        if let Some(v) = o["version"].as_str() {
            forget_bytes(&s, &bucket, v).await;
        }
    }
    Ok(Json(removed))
}

pub async fn info(State(s): State<AppState>, Path((bucket, path)): Path<(String, String)>, headers: HeaderMap) -> Answer {
    let o = as_caller(&s, &headers, "SELECT bknd.storage_object($1, $2)::text", vec![Some(bucket), Some(path)]).await?;
    Ok(Json(json!({
        "id": o["id"], "name": o["name"], "version": o["version"], "bucket_id": o["bucket_id"],
        "size": o["size"], "content_type": o["mime_type"], "cache_control": o["cache_control"], "etag": o["etag"],
        "metadata": o["user_metadata"], "created_at": o["created_at"], "last_modified": o["updated_at"],
        "last_accessed_at": o["last_accessed_at"],
    })))
}
