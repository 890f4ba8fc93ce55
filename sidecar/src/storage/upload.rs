//! Uploads: POST (create; `x-upsert: true` overwrites), PUT (overwrite), and PUT to a signed
//! upload URL. The body is a raw stream or a multipart form (storage-js sends text fields
//! first, then the file). The pending row comes first (the policies decide), then the bytes
//! stream into the store under the row's version, then the row becomes the object. Any failure
//! on the way removes both.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use base64::Engine;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use serde::Deserialize;
use serde_json::{json, Value};

use super::call::{run, run_as_sidecar};
use super::error::StorageError;
use super::{backend, forget_bytes, Answer};
use crate::extension::storage as ext;
use crate::state::AppState;

/// Parts go to the store in chunks this size (S3's minimum part is 5 MiB); at most two are in
/// flight, so an upload holds about three chunks of memory.
const CHUNK: usize = 8 * 1024 * 1024;
const IN_FLIGHT: usize = 2;

/// What the client says about the file, from headers or form fields.
#[derive(Default)]
pub(super) struct Described {
    mime: Option<String>,
    cache_control: Option<String>,
    metadata: Option<Value>,
    size: Option<i64>,
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn upsert_header(headers: &HeaderMap) -> bool {
    header_text(headers, "x-upsert").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// `x-metadata` is base64 JSON.
fn metadata_header(headers: &HeaderMap) -> Result<Option<Value>, StorageError> {
    let Some(v) = header_text(headers, "x-metadata") else { return Ok(None) };
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(v.trim()).map_err(|_| StorageError::invalid("x-metadata must be base64 JSON"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| StorageError::invalid("x-metadata must be base64 JSON"))?;
    Ok(Some(super::storable(value)?))
}

pub async fn create(State(s): State<AppState>, Path((bucket, path)): Path<(String, String)>, headers: HeaderMap, body: Body) -> Answer {
    let upsert = upsert_header(&headers);
    receive(&s, &headers, bucket, path, upsert, body).await
}

pub async fn update(State(s): State<AppState>, Path((bucket, path)): Path<(String, String)>, headers: HeaderMap, body: Body) -> Answer {
    receive(&s, &headers, bucket, path, true, body).await
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// PUT to a signed upload URL: the token, not the caller's role, carries the permission (it was
/// checked when the URL was signed).
pub async fn signed(
    State(s): State<AppState>,
    Path((bucket, path)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let token = q.token.ok_or_else(|| StorageError::new(400, "InvalidSignature", "the signed URL has no token"))?;
    let upload = run(&s, &headers, ext::storage_verify(token, "upload", bucket.clone(), path.clone())).await?;
    let (stream, described) = open_body(&headers, body).await?;
    let upsert = upload["upsert"].as_bool().unwrap_or(false);
    store_and_finish(&s, &upload, upsert, stream, described).await
}

async fn receive(s: &AppState, headers: &HeaderMap, bucket: String, path: String, upsert: bool, body: Body) -> Answer {
    let (mut stream, described) = open_body(headers, body).await?;
    let begin = ext::storage_begin_upload(
        bucket,
        path,
        upsert,
        described.mime,
        described.size,
        described.metadata.as_ref(),
        described.cache_control,
    );
    let upload = match run(s, headers, begin).await {
        Ok(upload) => upload,
        Err(e) => {
            drain(&mut stream).await;
            return Err(e);
        }
    };
    store_and_finish(s, &upload, upsert, stream, Described::default()).await
}

/// Read (and drop) up to 1 MiB of a refused upload, so the client, still sending, gets the
/// answer instead of a broken pipe; a larger body is cut off.
async fn drain(stream: &mut ByteStream) {
    let mut read = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len();
        if read > 1024 * 1024 {
            break;
        }
    }
}

pub(super) type ByteStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// The file's bytes and what the request says about them: a multipart form's first file
/// field (after the text fields), or the raw body.
async fn open_body(headers: &HeaderMap, body: Body) -> Result<(ByteStream, Described), StorageError> {
    let content_type = header_text(headers, "content-type").unwrap_or_default();
    let cache_control = header_text(headers, "cache-control");
    if let Ok(boundary) = multer::parse_boundary(&content_type) {
        let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut described = Described { cache_control, ..Default::default() };
        loop {
            let field = form.next_field().await.map_err(|e| StorageError::invalid(format!("bad multipart body: {e}")))?;
            let Some(field) = field else { return Err(StorageError::invalid("the form has no file")) };
            if field.file_name().is_none() && field.name().is_some_and(|n| !n.is_empty()) {
                let name = field.name().unwrap_or("").to_string();
                let text = field.text().await.map_err(|e| StorageError::invalid(format!("bad multipart body: {e}")))?;
                match name.as_str() {
                    "cacheControl" => described.cache_control = Some(format!("max-age={}", text.trim())),
                    "metadata" => described.metadata = Some(super::metadata_json(&text)?),
                    _ => {}
                }
                continue;
            }
            described.mime = field.content_type().map(|m| m.to_string());
            // the form owns the field's stream: hand both on together
            let stream = futures_util::stream::unfold((form, Some(field)), |(mut form, field)| async move {
                let mut field = field?;
                match field.chunk().await {
                    Ok(Some(bytes)) => Some((Ok(bytes), (form, Some(field)))),
                    Ok(None) => {
                        let _ = form.next_field().await;
                        None
                    }
                    Err(e) => Some((Err(StorageError::invalid(format!("bad multipart body: {e}"))), (form, None))),
                }
            });
            return Ok((Box::pin(stream), described));
        }
    }
    let size = header_text(headers, "content-length").and_then(|l| l.parse::<i64>().ok());
    let described =
        Described { mime: Some(content_type).filter(|c| !c.is_empty()), cache_control, metadata: metadata_header(headers)?, size };
    let stream = body.into_data_stream().map_err(|e| StorageError::new(400, "InvalidRequest", format!("the upload was interrupted: {e}")));
    Ok((Box::pin(stream), described))
}

/// Stream into the store under the upload's version, then make the row the object.
/// `late`: the type, cache-control and metadata the bytes' request gave, when the pending row
/// could not know them (a signed upload URL is made before the file is chosen).
pub(super) async fn store_and_finish(s: &AppState, upload: &Value, upsert: bool, stream: ByteStream, late: Described) -> Answer {
    // fused: a refused upload drains what is left, which may be nothing (the stream has ended)
    let mut stream: ByteStream = Box::pin(stream.fuse());
    let (id, version) = (upload["id"].as_str().unwrap_or(""), upload["version"].as_str().unwrap_or(""));
    let (bucket, name) = (upload["bucket"].as_str().unwrap_or(""), upload["name"].as_str().unwrap_or(""));
    let limit = upload["size_limit"].as_u64().map_or(s.storage.max_upload_bytes, |l| l.min(s.storage.max_upload_bytes));
    let key = backend::key(bucket, version);
    let stored = match &s.storage.local {
        Some(local) => super::local_file::write(local, &key, &mut stream, limit).await,
        None => write(&s.storage.store, &key, &mut stream, limit).await,
    };
    if stored.is_err() {
        // a refused body (too large, say): read what little is left so the client gets the answer
        drain(&mut stream).await;
    }
    let finished = match stored {
        Ok(size) => {
            let size = size as i64;
            let finish =
                ext::storage_finish_upload(id.into(), size, version.into(), upsert, late.mime, late.cache_control, late.metadata.as_ref());
            run_as_sidecar(s, finish).await
        }
        Err(e) => Err(e),
    };
    match finished {
        Ok(done) => {
            if let Some(old) = done["replaced_version"].as_str() {
                forget_bytes(s, bucket, old).await;
            }
            Ok(Json(json!({"Id": id, "Key": format!("{bucket}/{name}"), "id": id, "path": name})))
        }
        Err(e) => {
            let _ = run_as_sidecar(s, ext::storage_abort_upload(id.into())).await;
            forget_bytes(s, bucket, version).await;
            Err(e)
        }
    }
}

/// Write at most `limit` bytes to an object store: one PUT for a small file, a multipart upload
/// for a large one.
pub async fn write(
    store: &backend::Store,
    key: &object_store::path::Path,
    stream: &mut ByteStream,
    limit: u64,
) -> Result<u64, StorageError> {
    let mut total: u64 = 0;
    let mut first = Vec::new();
    let mut next = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(StorageError::too_large());
        }
        if first.len() + chunk.len() > CHUNK {
            next = Some(chunk);
            break;
        }
        first.extend_from_slice(&chunk);
    }
    let Some(next) = next else {
        store.put(key, PutPayload::from(first)).await.map_err(StorageError::internal)?;
        return Ok(total);
    };
    let upload = store.put_multipart(key).await.map_err(StorageError::internal)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
    writer.write(&first);
    drop(first);
    writer.write(&next);
    let result: Result<(), StorageError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(StorageError::too_large());
            }
            writer.wait_for_capacity(IN_FLIGHT).await.map_err(StorageError::internal)?;
            writer.write(&chunk);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            writer.finish().await.map_err(StorageError::internal)?;
            Ok(total)
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}
