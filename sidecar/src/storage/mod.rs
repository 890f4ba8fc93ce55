//! `/storage/v1`, as `@supabase/storage-js` expects it. The database decides (RLS on
//! bknd.objects, through the `bknd.storage_*` functions); this module moves bytes between HTTP
//! and the object store, streaming both ways so memory stays bounded whatever the size.

pub mod backend;
mod bucket;
mod call;
mod download;
mod error;
mod local_file;
mod object;
mod tus;
mod upload;

use std::time::Duration;

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use object_store::ObjectStoreExt;
use serde_json::Value;

use crate::state::AppState;
pub use error::StorageError;

pub type Answer = Result<axum::Json<Value>, StorageError>;
pub type Streamed = Result<Response, StorageError>;

/// What the storage routes need from the command line.
#[derive(Clone)]
pub struct StorageConfig {
    pub store: backend::Store,
    /// `store` as a local file system, when it is one
    pub local: Option<std::sync::Arc<object_store::local::LocalFileSystem>>,
    /// the largest object anyone may upload, whatever the bucket says
    pub max_upload_bytes: u64,
}

/// The routes under `/storage/v1` (mounted there by crate::router).
pub fn router() -> Router<AppState> {
    let object = "/object";
    Router::new()
        .route("/bucket", get(bucket::list).post(bucket::create))
        .route("/bucket/{id}", get(bucket::get).put(bucket::update).delete(bucket::delete))
        .route("/bucket/{id}/empty", post(bucket::empty))
        .route("/upload/resumable", post(tus::create).options(tus::options))
        .route("/upload/resumable/{id}", axum::routing::head(tus::head).patch(tus::patch).delete(tus::terminate))
        .route(&format!("{object}/list/{{bucket}}"), post(object::list))
        .route(&format!("{object}/move"), post(object::move_object))
        .route(&format!("{object}/copy"), post(object::copy))
        .route(&format!("{object}/sign/{{bucket}}"), post(object::sign_many))
        .route(&format!("{object}/sign/{{bucket}}/{{*path}}"), post(object::sign).get(download::signed))
        .route(&format!("{object}/upload/sign/{{bucket}}/{{*path}}"), post(object::sign_upload).put(upload::signed))
        .route(&format!("{object}/public/{{bucket}}/{{*path}}"), get(download::public))
        .route(&format!("{object}/authenticated/{{bucket}}/{{*path}}"), get(download::authenticated))
        .route(&format!("{object}/info/{{bucket}}/{{*path}}"), get(object::info))
        .route(&format!("{object}/{{bucket}}"), axum::routing::delete(object::remove))
        .route(&format!("{object}/{{bucket}}/{{*path}}"), get(download::authenticated).post(upload::create).put(upload::update))
}

/// A string field of a `bknd.storage_*` answer ("" when absent).
fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").to_string()
}

/// A JSON object body, or a clear 400.
fn json_body(bytes: &[u8]) -> Result<Value, StorageError> {
    if bytes.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => storable(v),
        _ => Err(StorageError::invalid("the body must be a JSON object")),
    }
}

/// User metadata sent as JSON text (a form field, TUS's `metadata`), if it parses and can be stored.
fn metadata_json(text: &str) -> Result<Value, StorageError> {
    storable(serde_json::from_str(text).map_err(|_| StorageError::invalid("metadata must be JSON"))?)
}

/// `v`, if PostgreSQL can store it: its text and jsonb hold no NUL character (`\u0000`).
fn storable(v: Value) -> Result<Value, StorageError> {
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    if has_nul(&v) {
        return Err(StorageError::invalid("JSON text must not contain the NUL character (\\u0000)"));
    }
    Ok(v)
}

/// Delete a version's bytes once no row points at them. A failure leaves unreachable bytes
/// behind (logged), never a row without bytes.
/// Delete the bytes of `bucket`/`version` (already gone counts as deleted): whether they are gone.
pub(crate) async fn forget_bytes(s: &AppState, bucket: &str, version: &str) -> bool {
    match s.storage.store.delete(&backend::key(bucket, version)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => true,
        Err(e) => {
            tracing::warn!("storage: could not delete {bucket}/{version}: {e}");
            false
        }
    }
}

/// At start and every minute: remove uploads pending for more than a day (a resumable upload
/// given up, or a request cut off by a crash), their rows, bytes and parts, unless a request is
/// writing one (`expire_uploads`); and delete the bytes of objects deleted since
/// (bknd.storage_garbage: by the API or straight from SQL). At start, on the local disk: staging
/// files a crash left, that is, not written to for a day (a request writing one, on this
/// sidecar or another on the same disk, writes to it all along; and an upload that began a day
/// ago has had its row expired, so its bytes could never become an object).
/// Runs until the application stops it (crate::state::Background).
pub async fn sweep(s: AppState) {
    if let Some(local) = s.storage.local.clone() {
        let cleaned = tokio::task::spawn_blocking(move || local_file::remove_stale_staging(&local, std::time::Duration::from_secs(86400)));
        if let Ok(removed @ 1..) = cleaned.await {
            tracing::info!("storage: removed {removed} staging files a crash left");
        }
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        // their rows' deletion queued their bytes as garbage, collected next
        if let Err(e) = expire_uploads(&s).await {
            tracing::debug!("storage sweeper: {}", e.message);
        }
        if let Err(e) = collect_garbage(&s).await {
            tracing::debug!("storage sweeper: {}", e.message);
        }
    }
}

/// Expire the uploads pending for more than a day, in one transaction: delete their rows
/// (bknd.storage_expire_uploads), take each one's upload lock (tus.rs) and remove its parts
/// while holding it, then commit. If a request holds one of the locks (a PATCH still writing,
/// on this sidecar or another), nothing is expired this round: the transaction rolls back and
/// the next round tries again. A PATCH that takes the lock after the commit finds its upload
/// gone (tus::still_pending).
async fn expire_uploads(s: &AppState) -> Result<(), StorageError> {
    let tx = tus::Tx::new(s).await?;
    let client = tx.client();
    let expire = crate::extension::storage::storage_expire_uploads(86400);
    let expired = tus::limited(s, Duration::ZERO, async {
        let params = expire.params();
        let (began, expired) = tokio::join!(client.batch_execute("BEGIN"), client.query_one(expire.sql, &params));
        began.map_err(tus::db_error)?;
        Ok(expired.map_err(tus::db_error)?.get::<_, Option<String>>(0))
    })
    .await?;
    let expired: Value = serde_json::from_str(expired.as_deref().unwrap_or("[]")).map_err(StorageError::internal)?;
    let expired: Vec<(&str, &str)> = expired.as_array().into_iter().flatten().map(located).collect();
    if expired.is_empty() {
        tx.rollback().await;
        return Ok(());
    }
    let versions: Vec<&str> = expired.iter().map(|(_, v)| *v).collect();
    let busy = tus::limited(s, Duration::ZERO, async {
        Ok(client.query_one(tus::BUSY, &[&versions]).await.map_err(tus::db_error)?.get::<_, Vec<String>>(0))
    })
    .await?;
    if !busy.is_empty() {
        tx.rollback().await;
        tracing::info!("storage sweeper: {} expired uploads, {} of them being written: none expired this round", expired.len(), busy.len());
        return Ok(());
    }
    for (bucket, version) in &expired {
        tus::remove_parts(s, bucket, version).await;
    }
    tx.commit(s).await?;
    tracing::info!("storage sweeper: expired {} uploads pending for more than a day", expired.len());
    Ok(())
}

/// Delete the bytes bknd.storage_garbage lists, a thousand at a time, and then their entries
/// (an entry whose bytes could not be deleted stays for the next round).
async fn collect_garbage(s: &AppState) -> Result<(), StorageError> {
    const BATCH: usize = 1000;
    loop {
        let garbage = call::run_as_sidecar(s, crate::extension::storage::storage_garbage(BATCH as i64)).await?;
        let entries = garbage.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut gone = Vec::new();
        for e in entries {
            let (bucket, version) = located(e);
            if forget_bytes(s, bucket, version).await {
                gone.push(version.to_string());
            }
        }
        if !gone.is_empty() {
            let versions = format!("{{{}}}", gone.join(","));
            call::run_as_sidecar(s, crate::extension::storage::storage_garbage_gone(versions)).await?;
        }
        if entries.len() < BATCH || gone.len() < entries.len() {
            return Ok(());
        }
    }
}

/// `{bucket, version}` as the sweeper's functions answer them.
fn located(e: &Value) -> (&str, &str) {
    (e["bucket"].as_str().unwrap_or(""), e["version"].as_str().unwrap_or(""))
}
