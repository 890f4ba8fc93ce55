//! `/storage/v1/bucket`: create, list, get, update, empty, delete. The bucket functions run as
//! the caller, so only roles that may write bknd.buckets (service_role) change buckets.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::call::{read, run};
use super::error::StorageError;
use super::{json_body, Answer};
use crate::extension::storage as ext;
use crate::state::AppState;

pub async fn list(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    Ok(Json(read(&s, &headers, ext::list_buckets()).await?))
}

pub async fn get(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    match read(&s, &headers, ext::get_bucket(id)).await? {
        Value::Null => Err(StorageError::not_found("Bucket not found")),
        v => Ok(Json(v)),
    }
}

/// storage-js sends `fileSizeLimit` as a number or a string such as "1mb"; null for none.
fn size_limit(v: &Value) -> Result<Option<i64>, StorageError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            n.as_i64().filter(|n| *n > 0).map(Some).ok_or_else(|| StorageError::invalid("file_size_limit must be a positive integer"))
        }
        Value::String(s) => {
            let t = s.trim().to_ascii_lowercase();
            let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
            let n: i64 = digits.parse().map_err(|_| StorageError::invalid("file_size_limit must be like 1048576 or \"1mb\""))?;
            let mult = match unit.trim() {
                "" | "b" => 1,
                "kb" => 1024,
                "mb" => 1024 * 1024,
                "gb" => 1024 * 1024 * 1024,
                _ => return Err(StorageError::invalid("file_size_limit unit must be b, kb, mb or gb")),
            };
            n.checked_mul(mult).filter(|n| *n > 0).map(Some).ok_or_else(|| StorageError::invalid("file_size_limit is out of range"))
        }
        _ => Err(StorageError::invalid("file_size_limit must be a number")),
    }
}

fn mime_list(v: &Value) -> Result<Option<Vec<String>>, StorageError> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| StorageError::invalid("allowed_mime_types must be strings")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(StorageError::invalid("allowed_mime_types must be an array")),
    }
}

pub async fn create(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let b = json_body(&body)?;
    let name = b["name"].as_str().or(b["id"].as_str()).ok_or_else(|| StorageError::invalid("name is required"))?.to_string();
    let public = b["public"].as_bool().unwrap_or(false);
    let limit = size_limit(&b["file_size_limit"])?;
    let mimes = mime_list(&b["allowed_mime_types"])?;
    // the MIME list travels as JSON and becomes text[] in SQL: no array literal quoting by hand
    let mimes = mimes.map(|m| json!(m));
    run(&s, &headers, ext::create_bucket(name.clone(), public, limit, mimes.as_ref())).await?;
    Ok(Json(json!({"name": name})))
}

pub async fn update(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Answer {
    let b = json_body(&body)?;
    let mut changes = serde_json::Map::new();
    if let Some(p) = b.get("public") {
        changes.insert("public".into(), json!(p.as_bool().ok_or_else(|| StorageError::invalid("public must be a boolean"))?));
    }
    if let Some(l) = b.get("file_size_limit") {
        changes.insert("file_size_limit".into(), json!(size_limit(l)?));
    }
    if let Some(m) = b.get("allowed_mime_types") {
        changes.insert("allowed_mime_types".into(), json!(mime_list(m)?));
    }
    run(&s, &headers, ext::update_bucket(id, &Value::Object(changes))).await?;
    Ok(Json(json!({"message": "Successfully updated"})))
}

pub async fn empty(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    let versions = run(&s, &headers, ext::empty_bucket(id.clone())).await?;
    for v in versions.as_array().into_iter().flatten().filter_map(Value::as_str) {
        super::forget_bytes(&s, &id, v).await;
    }
    Ok(Json(json!({"message": "Successfully emptied"})))
}

pub async fn delete(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    run(&s, &headers, ext::delete_bucket(id)).await?;
    Ok(Json(json!({"message": "Successfully deleted"})))
}
