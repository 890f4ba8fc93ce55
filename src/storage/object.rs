//! Objects. Uploads are two-phase: `storage_begin_upload` inserts a pending row as the caller
//! (the INSERT policy decides; an overwrite also needs the UPDATE policy on the old row), the
//! sidecar stores the bytes under the row's version, and `storage_finish_upload` makes the row
//! ready - replacing the old one in the same transaction - or `storage_abort_upload` removes it.
//! Reads, moves and removals run as the caller, so the policies decide those too.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::name::object_name;
use crate::errors::{self, Code};
use crate::identity::as_extension_owner;

const OBJECT_JSON: &str = "jsonb_build_object('id', o.id, 'bucket_id', o.bucket_id, 'name', o.name, 'owner', o.owner_id, \
  'version', o.version, 'size', o.size, 'mime_type', o.mime_type, 'etag', o.etag, 'cache_control', o.cache_control, \
  'user_metadata', o.user_metadata, 'created_at', o.created_at, 'updated_at', o.updated_at, 'last_accessed_at', o.last_accessed_at, \
  'last_modified', to_char(o.updated_at AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS \"GMT\"'))";

/// The ready object `bucket`/`name` if the caller may see it.
pub fn visible(bucket: &str, name: &str) -> Option<Value> {
    errors::spi_or(
        Spi::get_one_with_args::<pgrx::JsonB>(
            &format!("SELECT {OBJECT_JSON} FROM bknd.objects o WHERE o.bucket_id = $1 AND o.name = $2 AND o.status = 'ready'"),
            &[bucket.into(), name.into()],
        ),
        None,
    )
    .map(|j| j.0)
}

/// The ready object `bucket`/`name`, whoever may see it (for verified signatures and public
/// buckets).
pub fn any(bucket: &str, name: &str) -> Option<Value> {
    as_extension_owner(|| visible(bucket, name))
}

/// The object the caller may read: its metadata, with `version` locating the bytes.
#[pg_extern(stable, parallel_safe)]
fn storage_object(bucket: &str, name: &str) -> pgrx::JsonB {
    let name = object_name(name);
    match visible(bucket, &name) {
        Some(v) => pgrx::JsonB(v),
        None => errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found"),
    }
}

/// An object in a public bucket, for anyone.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn storage_public_object(bucket: &str, name: &str) -> pgrx::JsonB {
    let name = object_name(name);
    let public = errors::spi(Spi::get_one_with_args::<bool>("SELECT public FROM bknd.buckets WHERE id = $1", &[bucket.into()]));
    match (public, visible(bucket, &name)) {
        (Some(true), Some(v)) => pgrx::JsonB(v),
        _ => errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found"),
    }
}

/// Start an upload to `bucket`/`name` as the caller. Answers `{id, version, bucket, name,
/// size_limit}`; the sidecar stores at most `size_limit` bytes under `bucket/version`.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn storage_begin_upload(
    bucket: &str,
    name: &str,
    upsert: default!(bool, false),
    mime_type: default!(Option<&str>, "NULL"),
    size: default!(Option<i64>, "NULL"),
    user_metadata: default!(Option<pgrx::JsonB>, "NULL"),
    cache_control: default!(Option<&str>, "NULL"),
) -> pgrx::JsonB {
    pgrx::JsonB(begin(bucket, name, upsert, mime_type, size, user_metadata.map(|j| j.0), cache_control))
}

pub fn begin(bucket: &str, name: &str, upsert: bool, mime: Option<&str>, size: Option<i64>, meta: Option<Value>, cache_control: Option<&str>) -> Value {
    let name = object_name(name);
    let settings = super::bucket(bucket);
    let mime = mime.filter(|m| !m.is_empty()).unwrap_or("application/octet-stream");
    if mime.len() > 255 || mime.chars().any(char::is_control) {
        errors::invalid("invalid mime type");
    }
    if !settings.allows(mime) {
        errors::raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, format!("mime type {mime} is not supported"));
    }
    if let (Some(limit), Some(size)) = (settings.file_size_limit, size) {
        if size > limit {
            errors::raise(Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED, "The object exceeded the maximum allowed size");
        }
    }
    let existing = as_extension_owner(|| {
        errors::spi_or(
            Spi::get_one_with_args::<String>(
                "SELECT id::text FROM bknd.objects WHERE bucket_id = $1 AND name = $2 AND status = 'ready'",
                &[bucket.into(), name.as_str().into()],
            ),
            None,
        )
    });
    if let Some(id) = existing {
        if !upsert {
            errors::raise(Code::ERRCODE_UNIQUE_VIOLATION, "The resource already exists");
        }
        // overwriting needs the UPDATE policy on the object being replaced
        let may = errors::spi(Spi::get_one_with_args::<i64>(
            "WITH u AS (UPDATE bknd.objects SET updated_at = now() WHERE id = $1::uuid RETURNING 1) SELECT count(*) FROM u",
            &[id.as_str().into()],
        ));
        if may != Some(1) {
            errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, "new row violates row-level security policy for table \"objects\"");
        }
    }
    let id = errors::spi(Spi::get_one::<String>("SELECT gen_random_uuid()::text")).unwrap_or_default();
    // as the caller: the INSERT policy decides
    errors::spi(Spi::run_with_args(
        "INSERT INTO bknd.objects (id, bucket_id, name, mime_type, user_metadata, cache_control) VALUES ($1::uuid, $2, $3, $4, $5, $6)",
        &[id.as_str().into(), bucket.into(), name.as_str().into(), mime.into(), meta.map(pgrx::JsonB).into(), cache_control.into()],
    ));
    let version = as_extension_owner(|| {
        errors::spi(Spi::get_one_with_args::<String>("SELECT version::text FROM bknd.objects WHERE id = $1::uuid", &[id.as_str().into()]))
    });
    json!({"id": id, "version": version, "bucket": bucket, "name": name, "upsert": upsert,
           "mime_type": mime, "size_limit": settings.file_size_limit})
}

/// The bytes of a pending upload are stored: make it the object (replacing a ready one of the
/// same name when `upsert`). `mime_type`, `cache_control` and `user_metadata`, when given, are
/// what the bytes' request said (a signed upload URL is made before the file is chosen). Answers
/// `{id, bucket, name, replaced_version}`. The sidecar's role only.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn storage_finish_upload(
    id: pgrx::Uuid,
    size: i64,
    etag: &str,
    upsert: bool,
    mime_type: default!(Option<&str>, "NULL"),
    cache_control: default!(Option<&str>, "NULL"),
    user_metadata: default!(Option<pgrx::JsonB>, "NULL"),
) -> pgrx::JsonB {
    let row = errors::spi_or(
        Spi::get_two_with_args::<String, String>(
            "SELECT bucket_id, name FROM bknd.objects WHERE id = $1 AND status = 'pending' FOR UPDATE",
            &[id.into()],
        ),
        (None, None),
    );
    let (Some(bucket), Some(name)) = row else { errors::raise(Code::ERRCODE_NO_DATA_FOUND, "upload not found or already finished") };
    let settings = super::bucket(&bucket);
    if settings.file_size_limit.is_some_and(|limit| size > limit) {
        errors::raise(Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED, "The object exceeded the maximum allowed size");
    }
    let mime_type = mime_type.filter(|m| !m.is_empty());
    if let Some(mime) = mime_type {
        if mime.len() > 255 || mime.chars().any(char::is_control) || !settings.allows(mime) {
            errors::raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, format!("mime type {mime} is not supported"));
        }
    }
    let cache_control = cache_control.filter(|c| !c.is_empty());
    if cache_control.is_some_and(|c| c.len() > 255 || c.chars().any(char::is_control)) {
        errors::raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, "cache-control must be at most 255 characters, without control characters");
    }
    let replaced = if upsert {
        errors::spi_or(
            Spi::get_one_with_args::<String>(
                "DELETE FROM bknd.objects WHERE bucket_id = $1 AND name = $2 AND status = 'ready' RETURNING version::text",
                &[bucket.as_str().into(), name.as_str().into()],
            ),
            None,
        )
    } else {
        None
    };
    // a concurrent upload that finished first makes this a unique violation (409)
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.objects SET status = 'ready', size = $2, etag = $3, mime_type = coalesce($4, mime_type), \
           cache_control = coalesce($5, cache_control), user_metadata = coalesce($6, user_metadata), \
           updated_at = now(), last_accessed_at = now() WHERE id = $1",
        &[id.into(), size.into(), etag.into(), mime_type.into(), cache_control.into(), user_metadata.into()],
    ));
    pgrx::JsonB(json!({"id": id.to_string(), "bucket": bucket, "name": name, "replaced_version": replaced}))
}

/// Give up a pending upload (the sidecar's role only); answers its version, whose bytes go.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn storage_abort_upload(id: pgrx::Uuid) -> Option<String> {
    errors::spi_or(
        Spi::get_one_with_args::<String>("DELETE FROM bknd.objects WHERE id = $1 AND status = 'pending' RETURNING version::text", &[id.into()]),
        None,
    )
}

/// Rename `bucket`/`from` to `to_bucket`/`to` as the caller (the UPDATE policy decides, on the
/// old row and the new). The bytes stay where they are.
#[pg_extern(volatile, parallel_unsafe)]
fn storage_move(bucket: &str, from: &str, to: &str, to_bucket: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let (from, to) = (object_name(from), object_name(to));
    let to_bucket = to_bucket.unwrap_or(bucket);
    super::bucket(to_bucket);
    if any(to_bucket, &to).is_some() {
        errors::raise(Code::ERRCODE_UNIQUE_VIOLATION, "The resource already exists");
    }
    let moved = errors::spi(Spi::get_one_with_args::<i64>(
        "WITH u AS (UPDATE bknd.objects SET bucket_id = $3, name = $4, updated_at = now() \
           WHERE bucket_id = $1 AND name = $2 AND status = 'ready' RETURNING 1) SELECT count(*) FROM u",
        &[bucket.into(), from.as_str().into(), to_bucket.into(), to.as_str().into()],
    ));
    if moved != Some(1) {
        errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found");
    }
    pgrx::JsonB(json!({"message": "Successfully moved"}))
}

/// Start a copy as the caller: the source must be readable, the destination an allowed upload.
/// Answers the source's version and the destination's pending upload.
#[pg_extern(volatile, parallel_unsafe)]
fn storage_begin_copy(bucket: &str, from: &str, to: &str, to_bucket: default!(Option<&str>, "NULL"), upsert: default!(bool, false)) -> pgrx::JsonB {
    let from = object_name(from);
    let source = visible(bucket, &from).unwrap_or_else(|| errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found"));
    let upload = begin(
        to_bucket.unwrap_or(bucket),
        to,
        upsert,
        source["mime_type"].as_str(),
        source["size"].as_i64(),
        Some(source["user_metadata"].clone()).filter(|m| !m.is_null()),
        source["cache_control"].as_str(),
    );
    pgrx::JsonB(json!({"source": source, "upload": upload}))
}

/// Remove objects as the caller (the DELETE policy decides). Answers the removed objects,
/// with the versions whose bytes the store may delete.
#[pg_extern(volatile, parallel_unsafe)]
fn storage_remove(bucket: &str, names: Vec<String>) -> pgrx::JsonB {
    if names.len() > 1000 {
        errors::invalid("at most 1000 objects at a time");
    }
    let names: Vec<String> = names.iter().map(|n| object_name(n)).collect();
    let removed = errors::spi(Spi::get_one_with_args::<pgrx::JsonB>(
        &format!(
            "WITH d AS (DELETE FROM bknd.objects o WHERE o.bucket_id = $1 AND o.name = ANY($2) AND o.status = 'ready' RETURNING o.*) \
             SELECT coalesce(jsonb_agg({OBJECT_JSON} ORDER BY o.name), '[]') FROM d o"
        ),
        &[bucket.into(), names.into()],
    ));
    removed.unwrap_or(pgrx::JsonB(json!([])))
}
