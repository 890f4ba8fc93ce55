//! Resumable uploads with TUS 1.0 at `/storage/v1/upload/resumable` (core protocol, creation,
//! termination), as storage-js users and tus-js-client speak it. Creation inserts the pending
//! row as the caller (the policies decide); every later request must come from someone who may
//! see that row. The bytes received so far are kept as parts of at most 8 MiB next to the
//! object's future bytes (`<bucket>/<version>.tus/<offset>`), so an interrupted PATCH keeps
//! everything that arrived; when the last byte is in, the parts are streamed into the object
//! and the row becomes ready. Abandoned uploads are removed by the sweeper (mod.rs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{json, Value};

use super::call::as_caller;
use super::error::StorageError;
use super::{text, Streamed};
use crate::app::AppState;

const PART: usize = 8 * 1024 * 1024;

/// One PATCH at a time per upload (offsets must not race). An upload's lock lives while a
/// request holds or awaits it, so an abandoned upload leaves nothing behind.
#[derive(Clone, Default)]
pub struct Locks(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

/// An upload's lock, held until dropped (also when the request is cut off).
struct Held {
    locks: Locks,
    id: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Locks {
    async fn hold(&self, id: &str) -> Held {
        let lock = self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(id.to_string()).or_default().clone();
        Held { locks: self.clone(), id: id.to_string(), guard: Some(lock.lock_owned().await) }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.0.lock().unwrap_or_else(|p| p.into_inner());
        // only the map's own reference left: no request holds or awaits this lock
        if map.get(&self.id).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(&self.id);
        }
    }
}

fn tus_headers(extra: &[(&str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |k: &str, v: &str| {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(v)) {
            h.insert(k, v);
        }
    };
    put("tus-resumable", "1.0.0");
    put("cache-control", "no-store");
    for (k, v) in extra {
        put(k, v);
    }
    h
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

pub async fn options(State(s): State<AppState>) -> Response {
    let extra = [
        ("tus-version", "1.0.0".to_string()),
        ("tus-extension", "creation,termination".to_string()),
        ("tus-max-size", s.storage.max_upload_bytes.to_string()),
    ];
    (StatusCode::NO_CONTENT, tus_headers(&extra)).into_response()
}

/// `Upload-Metadata: key base64,key base64`.
fn metadata(headers: &HeaderMap) -> Result<HashMap<String, String>, StorageError> {
    let mut out = HashMap::new();
    for pair in header(headers, "upload-metadata").unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|_| StorageError::invalid("Upload-Metadata values must be base64"))?;
        out.insert(k.to_string(), String::from_utf8(bytes).map_err(|_| StorageError::invalid("Upload-Metadata values must be UTF-8"))?);
    }
    Ok(out)
}

fn info_key(bucket: &str, version: &str) -> Key {
    Key::from(format!("{bucket}/{version}.tus/info"))
}

fn parts_prefix(bucket: &str, version: &str) -> Key {
    Key::from(format!("{bucket}/{version}.tus"))
}

pub async fn create(State(s): State<AppState>, headers: HeaderMap) -> Streamed {
    let length: u64 = header(&headers, "upload-length")
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| StorageError::invalid("Upload-Length is required (deferred lengths are not supported)"))?;
    if length > s.storage.max_upload_bytes {
        return Err(StorageError::too_large());
    }
    let meta = metadata(&headers)?;
    let bucket = meta.get("bucketName").cloned().ok_or_else(|| StorageError::invalid("Upload-Metadata needs bucketName"))?;
    let name = meta.get("objectName").cloned().ok_or_else(|| StorageError::invalid("Upload-Metadata needs objectName"))?;
    let upsert = header(&headers, "x-upsert").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let user_metadata = match meta.get("metadata") {
        Some(m) => Some(super::metadata_json(m)?.to_string()),
        None => None,
    };
    let cache_control = meta.get("cacheControl").map(|c| if c.contains('=') { c.clone() } else { format!("max-age={c}") });
    let sql = "SELECT bknd.storage_begin_upload($1, $2, $3::text::boolean, $4, $5::text::bigint, $6::text::jsonb, $7)::text";
    let args = vec![
        Some(bucket),
        Some(name),
        Some(upsert.to_string()),
        meta.get("contentType").cloned(),
        Some(length.to_string()),
        user_metadata,
        cache_control,
    ];
    let upload = as_caller(&s, &headers, sql, args).await?;
    let (id, version, bucket) = (text(&upload, "id"), text(&upload, "version"), text(&upload, "bucket"));
    let info = json!({"length": length, "upsert": upsert});
    s.storage
        .store
        .put(&info_key(&bucket, &version), PutPayload::from(info.to_string().into_bytes()))
        .await
        .map_err(StorageError::internal)?;
    let location = format!("{}/storage/v1/upload/resumable/{id}", s.auth.public_url.trim_end_matches('/'));
    Ok((StatusCode::CREATED, tus_headers(&[("location", location), ("upload-offset", "0".into())])).into_response())
}

/// The pending upload `id` if the caller may see it, with its declared length and upsert flag.
async fn upload_of(s: &AppState, headers: &HeaderMap, id: &str) -> Result<(Value, u64, bool), StorageError> {
    let uuid =
        id.len() == 36 && id.chars().enumerate().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    if !uuid {
        return Err(StorageError::not_found("Upload not found"));
    }
    let upload = as_caller(s, headers, "SELECT bknd.storage_upload($1::text::uuid)::text", vec![Some(id.to_string())]).await?;
    if upload.is_null() {
        return Err(StorageError::not_found("Upload not found"));
    }
    let got = s.storage.store.get(&info_key(&text(&upload, "bucket"), &text(&upload, "version"))).await;
    let bytes = match got {
        Ok(r) => r.bytes().await.map_err(StorageError::internal)?,
        Err(object_store::Error::NotFound { .. }) => return Err(StorageError::not_found("Upload not found")),
        Err(e) => return Err(StorageError::internal(e)),
    };
    let info: Value = serde_json::from_slice(&bytes).map_err(StorageError::internal)?;
    Ok((upload, info["length"].as_u64().unwrap_or(0), info["upsert"].as_bool().unwrap_or(false)))
}

/// The parts stored so far, in order, and the offset they reach.
async fn parts(s: &AppState, upload: &Value) -> Result<(Vec<Key>, u64), StorageError> {
    let prefix = parts_prefix(&text(upload, "bucket"), &text(upload, "version"));
    let mut listed: Vec<(Key, u64)> = s
        .storage
        .store
        .list(Some(&prefix))
        .map_ok(|m| (m.location, m.size))
        .try_collect::<Vec<_>>()
        .await
        .map_err(StorageError::internal)?
        .into_iter()
        .filter(|(k, _)| k.filename() != Some("info"))
        .collect();
    listed.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    let offset = listed.iter().map(|(_, n)| n).sum();
    Ok((listed.into_iter().map(|(k, _)| k).collect(), offset))
}

pub async fn head(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Streamed {
    let (upload, length, _) = upload_of(&s, &headers, &id).await?;
    let (_, offset) = parts(&s, &upload).await?;
    Ok((StatusCode::OK, tus_headers(&[("upload-offset", offset.to_string()), ("upload-length", length.to_string())])).into_response())
}

pub async fn patch(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Body) -> Streamed {
    if header(&headers, "content-type").as_deref() != Some("application/offset+octet-stream") {
        return Err(StorageError::new(415, "invalid_mime_type", "PATCH needs Content-Type: application/offset+octet-stream"));
    }
    let claimed: u64 = header(&headers, "upload-offset")
        .and_then(|o| o.trim().parse().ok())
        .ok_or_else(|| StorageError::invalid("Upload-Offset is required"))?;
    let (upload, length, upsert) = upload_of(&s, &headers, &id).await?;
    let _held = s.storage.tus_locks.hold(&id).await;
    let (_, mut offset) = parts(&s, &upload).await?;
    if claimed != offset {
        return Err(StorageError::new(409, "Conflict", format!("Upload-Offset is {offset}, not {claimed}")));
    }
    let (bucket, version) = (text(&upload, "bucket"), text(&upload, "version"));
    let limit = upload["size_limit"].as_u64().map_or(length, |l| l.min(length));
    let mut stream = body.into_data_stream();
    let mut buffer: Vec<u8> = Vec::with_capacity(PART);
    let mut interrupted = false;
    let mut too_long = false;
    loop {
        let chunk: Bytes = match stream.next().await {
            Some(Ok(c)) => c,
            Some(Err(_)) => {
                interrupted = true;
                break;
            }
            None => break,
        };
        if offset + (buffer.len() + chunk.len()) as u64 > limit {
            too_long = true;
            break;
        }
        buffer.extend_from_slice(&chunk);
        if buffer.len() >= PART {
            offset = save_part(&s, &bucket, &version, offset, std::mem::take(&mut buffer)).await?;
            buffer.reserve(PART);
        }
    }
    // whatever arrived is kept, even from a request cut off half-way: that is what resuming is
    if !buffer.is_empty() {
        offset = save_part(&s, &bucket, &version, offset, buffer).await?;
    }
    if too_long {
        return Err(StorageError::too_large());
    }
    if interrupted {
        return Err(StorageError::invalid("the upload was interrupted"));
    }
    if offset == length {
        assemble(&s, &upload, upsert).await?;
    }
    Ok((StatusCode::NO_CONTENT, tus_headers(&[("upload-offset", offset.to_string())])).into_response())
}

async fn save_part(s: &AppState, bucket: &str, version: &str, offset: u64, bytes: Vec<u8>) -> Result<u64, StorageError> {
    let n = bytes.len() as u64;
    let key = Key::from(format!("{bucket}/{version}.tus/{offset:020}"));
    s.storage.store.put(&key, PutPayload::from(bytes)).await.map_err(StorageError::internal)?;
    Ok(offset + n)
}

/// All bytes are in: stream the parts, in order, into the object; make the row ready.
async fn assemble(s: &AppState, upload: &Value, upsert: bool) -> Result<(), StorageError> {
    let (keys, _) = parts(s, upload).await?;
    let store = s.storage.store.clone();
    let stream = futures_util::stream::iter(keys)
        .then(move |key| {
            let store = store.clone();
            async move { store.get(&key).await.map(|r| r.into_stream()) }
        })
        .try_flatten()
        .map_err(StorageError::internal);
    let answer = super::upload::store_and_finish(s, upload, upsert, Box::pin(stream), Default::default()).await;
    remove_parts(s, &text(upload, "bucket"), &text(upload, "version")).await;
    answer.map(|_| ())
}

pub async fn remove_parts(s: &AppState, bucket: &str, version: &str) {
    let prefix = parts_prefix(bucket, version);
    let keys: Vec<Key> = s.storage.store.list(Some(&prefix)).map_ok(|m| m.location).try_collect().await.unwrap_or_default();
    for key in keys {
        if let Err(e) = s.storage.store.delete(&key).await {
            tracing::warn!("storage: could not delete {key}: {e}");
        }
    }
}

pub async fn terminate(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Streamed {
    let (upload, _, _) = upload_of(&s, &headers, &id).await?;
    let _held = s.storage.tus_locks.hold(&id).await;
    super::call::as_sidecar(&s, "SELECT to_jsonb(bknd.storage_abort_upload($1::text::uuid))::text", vec![Some(id.clone())]).await?;
    remove_parts(&s, &text(&upload, "bucket"), &text(&upload, "version")).await;
    Ok((StatusCode::NO_CONTENT, tus_headers(&[])).into_response())
}

#[cfg(test)]
mod tests {
    use super::Locks;

    #[tokio::test]
    async fn a_lock_lives_only_while_held_or_awaited() {
        let locks = Locks::default();
        let first = locks.hold("a").await;
        assert_eq!(locks.len(), 1);
        let waiting = tokio::spawn({
            let locks = locks.clone();
            async move {
                let _second = locks.hold("a").await;
            }
        });
        tokio::task::yield_now().await;
        drop(first); // the waiter still needs the lock: it stays
        waiting.await.unwrap();
        assert_eq!(locks.len(), 0, "released by the last holder");
        // a request cut off while waiting leaves nothing either
        let held = locks.hold("b").await;
        let cut_off = tokio::spawn({
            let locks = locks.clone();
            async move {
                let _never = locks.hold("b").await;
            }
        });
        tokio::task::yield_now().await;
        cut_off.abort();
        let _ = cut_off.await;
        drop(held);
        assert_eq!(locks.len(), 0);
    }
}
