//! Resumable uploads with TUS 1.0 at `/storage/v1/upload/resumable` (core protocol, creation,
//! termination), as storage-js users and tus-js-client speak it. Creation inserts the pending
//! row as the caller (the policies decide); every later request must come from someone who may
//! see that row. The bytes received so far are kept as parts of at most 8 MiB next to the
//! object's future bytes (`<bucket>/<version>.tus/<offset>`), so an interrupted PATCH keeps
//! everything that arrived; when the last byte is in, the parts are streamed into the object
//! and the row becomes ready. Abandoned uploads are removed by the sweeper (mod.rs).
//!
//! Several sidecars may serve one database and one store: a PATCH holds the upload's lock in
//! PostgreSQL (an advisory lock, [`UploadLock`]), so its PATCHes may go to any of them, one at a
//! time, and no sweeper removes an upload a request is writing.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use deadpool_postgres::Object;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{json, Value};

use super::call::run;
use super::error::StorageError;
use super::{text, Streamed};
use crate::engine::failure::Failure;
use crate::extension::storage as ext;
use crate::state::AppState;

/// A statement of the sidecar's own failed: classified as the engine classifies every other.
pub(super) fn db_error(e: tokio_postgres::Error) -> StorageError {
    Failure::from_pg(&e, false).into()
}

const PART: usize = 8 * 1024 * 1024;

/// The advisory lock key of the upload whose bytes are `<bucket>/<version>`, of the SQL text
/// expression `$v` (the version). Every sidecar on the database, and every sweeper, lock an
/// upload under this key.
macro_rules! lock_key {
    ($v:literal) => {
        concat!("hashtextextended('bknd upload ' || ", $v, ", 0)")
    };
}

/// Of the versions `$1` (text[]), those whose upload's lock another session holds; the others'
/// locks are taken, until the end of the transaction (the sweeper's).
pub(super) const BUSY: &str =
    concat!("SELECT coalesce(array_agg(v), '{}') FROM unnest($1::text[]) v WHERE NOT pg_try_advisory_xact_lock(", lock_key!("v"), ")");

/// One PATCH (or termination) at a time per upload, whichever sidecar serves it: a transaction
/// on a pooled connection that holds `pg_advisory_xact_lock` on the upload's key for as long as
/// the request writes, released by ROLLBACK at the end of the request or when it is cut off
/// ([`Tx`]). The lock lives in PostgreSQL, so a sidecar that dies releases it with its connection.
pub(super) struct UploadLock(Tx);

// a long PATCH is an idle transaction as far as the server can tell: it must not be ended under
// the request (the lock would go with it)
const BEGIN: &str = "BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0";
const TRY_LOCK: &str = concat!("SELECT pg_try_advisory_xact_lock(", lock_key!("$1"), ")");
const LOCK: &str = concat!("SELECT pg_advisory_xact_lock(", lock_key!("$1"), ")");

impl UploadLock {
    /// The lock of the upload `version`, if no other request holds it (else 423). `wait`: how
    /// long to wait for it (zero: not at all).
    pub(super) async fn take(s: &AppState, version: &str, wait: Duration) -> Result<UploadLock, StorageError> {
        let tx = Tx::new(s).await?;
        let client = tx.client();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&version];
        let locking = async {
            if wait.is_zero() {
                let try_lock = client.prepare_cached(TRY_LOCK).await.map_err(db_error)?;
                let (began, row) = tokio::join!(client.batch_execute(BEGIN), client.query_one(&try_lock, &params));
                began.map_err(db_error)?;
                Ok(row.map_err(db_error)?.get::<_, bool>(0))
            } else {
                let lock = client.prepare_cached(LOCK).await.map_err(db_error)?;
                let begin = format!("{BEGIN}; SET LOCAL lock_timeout = {}", wait.as_millis());
                let (began, row) = tokio::join!(client.batch_execute(&begin), client.execute(&lock, &params));
                began.map_err(db_error)?;
                match row {
                    Ok(_) => Ok(true),
                    Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => Ok(false),
                    Err(e) => Err(db_error(e)),
                }
            }
        };
        let locked = limited(s, wait, locking).await?;
        if !locked {
            tx.rollback().await;
            return Err(StorageError::new(423, "Locked", "Another request is writing this upload; retry when it is done"));
        }
        Ok(UploadLock(tx))
    }

    /// Whether the lock still holds: its connection is open (a database restart ends it).
    fn holds(&self) -> Result<(), StorageError> {
        if self.0.client().is_closed() {
            return Err(Failure::unavailable("storage", "the connection holding the upload's lock closed").into());
        }
        Ok(())
    }

    pub(super) async fn release(self) {
        self.0.rollback().await
    }
}

/// A pooled connection in a transaction the caller begins: it goes back to the pool only after
/// COMMIT or ROLLBACK. Dropped before either (a request cut off, a task stopped), it is rolled
/// back by a task of its own, or closed when that cannot be done, so no transaction and no lock
/// is ever left behind on a pooled connection.
pub(super) struct Tx(Option<Object>);

impl Tx {
    pub(super) async fn new(s: &AppState) -> Result<Tx, StorageError> {
        Ok(Tx(Some(s.engine.connection().await?)))
    }

    pub(super) fn client(&self) -> &Object {
        self.0.as_ref().expect("a transaction's connection is there until it ends")
    }

    /// COMMIT, within the engine's limit (a connection that does not answer is closed).
    pub(super) async fn commit(mut self, s: &AppState) -> Result<(), StorageError> {
        let client = self.0.take().expect("a transaction's connection is there until it ends");
        match tokio::time::timeout(s.engine.work_limit(), client.batch_execute("COMMIT")).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                end(client).await;
                Err(db_error(e))
            }
            Err(_) => {
                drop(Object::take(client));
                Err(Failure::no_answer().into())
            }
        }
    }

    pub(super) async fn rollback(mut self) {
        if let Some(client) = self.0.take() {
            end(client).await;
        }
    }
}

/// `work` on a connection outside the engine, within the engine's limit (and `extra`): a
/// database that does not answer is a 504, as everywhere, and the connection is not pooled
/// again until it has rolled back.
pub(super) async fn limited<T>(
    s: &AppState,
    extra: Duration,
    work: impl std::future::Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(s.engine.work_limit() + extra, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::no_answer().into()),
    }
}

/// Roll back, then back to the pool; a connection that cannot roll back is closed instead.
async fn end(client: Object) {
    match tokio::time::timeout(Duration::from_secs(5), client.batch_execute("ROLLBACK")).await {
        Ok(Ok(())) => {}
        _ => drop(Object::take(client)),
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(end(client));
                }
                Err(_) => drop(Object::take(client)),
            }
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
        Some(m) => Some(super::metadata_json(m)?),
        None => None,
    };
    let cache_control = meta.get("cacheControl").map(|c| if c.contains('=') { c.clone() } else { format!("max-age={c}") });
    let size = i64::try_from(length).map_err(|_| StorageError::too_large())?;
    let begin = ext::storage_begin_upload(
        bucket,
        name,
        upsert,
        meta.get("contentType").cloned(),
        Some(size),
        user_metadata.as_ref(),
        cache_control,
    );
    let upload = run(&s, &headers, begin).await?;
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
    let upload = run(s, headers, ext::storage_upload(id.to_string())).await?;
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
    let lock = UploadLock::take(&s, &text(&upload, "version"), Duration::ZERO).await?;
    let answer = write(&s, &lock, &upload, (claimed, length, upsert), body).await;
    // released before the answer goes out: the client's next PATCH, to this sidecar or another,
    // finds the upload free
    lock.release().await;
    answer
}

/// A PATCH's work, under the upload's lock.
async fn write(s: &AppState, lock: &UploadLock, upload: &Value, (claimed, length, upsert): (u64, u64, bool), body: Body) -> Streamed {
    still_pending(s, upload).await?;
    let (_, mut offset) = parts(s, upload).await?;
    if claimed != offset {
        return Err(StorageError::new(409, "Conflict", format!("Upload-Offset is {offset}, not {claimed}")));
    }
    let (bucket, version) = (text(upload, "bucket"), text(upload, "version"));
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
            lock.holds()?;
            offset = save_part(s, &bucket, &version, offset, std::mem::take(&mut buffer)).await?;
            buffer.reserve(PART);
        }
    }
    // whatever arrived is kept, even from a request cut off half-way: that is what resuming is
    if !buffer.is_empty() {
        lock.holds()?;
        offset = save_part(s, &bucket, &version, offset, buffer).await?;
    }
    if too_long {
        return Err(StorageError::too_large());
    }
    if interrupted {
        return Err(StorageError::invalid("the upload was interrupted"));
    }
    if offset == length {
        lock.holds()?;
        assemble(s, upload, upsert).await?;
    }
    Ok((StatusCode::NO_CONTENT, tus_headers(&[("upload-offset", offset.to_string())])).into_response())
}

/// Under the upload's lock: whether the upload is still there. Whoever ends an upload (its last
/// PATCH, its termination, the sweeper) removes its `info` while holding the lock, so an upload
/// found before the lock was taken may have ended since.
async fn still_pending(s: &AppState, upload: &Value) -> Result<(), StorageError> {
    match s.storage.store.head(&info_key(&text(upload, "bucket"), &text(upload, "version"))).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::NotFound { .. }) => Err(StorageError::not_found("Upload not found")),
        Err(e) => Err(StorageError::internal(e)),
    }
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
    // a PATCH cut off a moment ago may still hold the lock: wait a little for it
    let lock = UploadLock::take(&s, &text(&upload, "version"), Duration::from_secs(5)).await?;
    let answer = async {
        still_pending(&s, &upload).await?;
        super::call::run_as_sidecar(&s, ext::storage_abort_upload(id.clone())).await?;
        remove_parts(&s, &text(&upload, "bucket"), &text(&upload, "version")).await;
        Ok((StatusCode::NO_CONTENT, tus_headers(&[])).into_response())
    }
    .await;
    lock.release().await;
    answer
}
