//! Objects. Uploads are two-phase: `storage_begin_upload` inserts a pending row as the caller
//! (the INSERT policy decides; an overwrite also needs the UPDATE policy on the old row, and
//! binds the upload to that exact version), the sidecar stores the bytes under the row's
//! version, and `storage_finish_upload` makes the row ready - replacing the bound version in
//! the same transaction - or `storage_abort_upload` removes it. Copies and moves to another
//! bucket are uploads whose bytes come from the source.
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
        crate::plans::get_one::<pgrx::JsonB>(
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
    let public = errors::spi(crate::plans::get_one::<bool>("SELECT public FROM bknd.buckets WHERE id = $1", &[bucket.into()]));
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

pub fn begin(
    bucket: &str,
    name: &str,
    upsert: bool,
    mime: Option<&str>,
    size: Option<i64>,
    meta: Option<Value>,
    cache_control: Option<&str>,
) -> Value {
    let name = object_name(name);
    let settings = super::bucket(bucket);
    // no type yet (a signed upload URL is made before the file is chosen): checked at finish
    let mime = mime.filter(|m| !m.is_empty());
    if let Some(mime) = mime {
        check_mime(&settings, mime);
    }
    if let (Some(limit), Some(size)) = (settings.file_size_limit, size) {
        if size > limit {
            errors::raise(Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED, "The object exceeded the maximum allowed size");
        }
    }
    let id = errors::spi(crate::plans::get_one::<String>("SELECT gen_random_uuid()::text", &[])).unwrap_or_default();
    // as the caller, first: the INSERT policy decides before anything is said about the name,
    // so a caller who may not write here cannot learn whether someone else's object is there
    errors::spi(Spi::run_with_args(
        "INSERT INTO bknd.objects (id, bucket_id, name, mime_type, user_metadata, cache_control) VALUES ($1::uuid, $2, $3, $4, $5, $6)",
        &[
            id.as_str().into(),
            bucket.into(),
            name.as_str().into(),
            mime.unwrap_or("application/octet-stream").into(),
            meta.map(pgrx::JsonB).into(),
            cache_control.into(),
        ],
    ));
    let existing = as_extension_owner(|| {
        errors::spi_or(
            crate::plans::get_two::<String, String>(
                "SELECT id::text, version::text FROM bknd.objects WHERE bucket_id = $1 AND name = $2 AND status = 'ready'",
                &[bucket.into(), name.as_str().into()],
            ),
            (None, None),
        )
    });
    if let (Some(existing_id), Some(existing_version)) = existing {
        if !upsert {
            errors::raise(Code::ERRCODE_UNIQUE_VIOLATION, "The resource already exists");
        }
        // overwriting needs the UPDATE policy on the object being replaced; the upload may then
        // replace that version and no other, whenever and by whom it is finished
        if !may_update(&existing_id) {
            errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, "new row violates row-level security policy for table \"objects\"");
        }
        as_extension_owner(|| {
            errors::spi(Spi::run_with_args(
                "UPDATE bknd.objects SET replaces_version = $2::uuid WHERE id = $1::uuid",
                &[id.as_str().into(), existing_version.as_str().into()],
            ))
        });
    }
    let version = as_extension_owner(|| {
        errors::spi(crate::plans::get_one::<String>("SELECT version::text FROM bknd.objects WHERE id = $1::uuid", &[id.as_str().into()]))
    });
    json!({"id": id, "version": version, "bucket": bucket, "name": name, "upsert": upsert,
           "mime_type": mime, "size_limit": settings.file_size_limit})
}

/// Whether the caller's UPDATE policy lets it change the object `id` (touching it to find out).
fn may_update(id: &str) -> bool {
    let touched = errors::spi(crate::plans::get_one::<i64>(
        "WITH u AS (UPDATE bknd.objects SET updated_at = now() WHERE id = $1::uuid RETURNING 1) SELECT count(*) FROM u",
        &[id.into()],
    ));
    touched == Some(1)
}

fn check_mime(settings: &super::Bucket, mime: &str) {
    if mime.len() > 255 || mime.chars().any(char::is_control) || !settings.allows(mime) {
        errors::raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, format!("mime type {mime} is not supported"));
    }
}

/// The bytes of a pending upload are stored: make it the object, replacing the version it was
/// allowed to replace when it began (if that is still the object), never another: a name taken
/// meanwhile is a unique violation (409). `mime_type`, `cache_control` and `user_metadata`, when
/// given, are what the bytes' request said (a signed upload URL is made before the file is
/// chosen). `upsert` is kept for the 0.4.0 signature: the right to overwrite was fixed when the
/// upload began. Answers `{id, bucket, name, replaced_version}`. The sidecar's role only.
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
    crate::identity::refuse_switched_role("finish uploads");
    let _ = upsert;
    pgrx::JsonB(finish(id, size, etag, mime_type, cache_control, user_metadata))
}

fn finish(
    id: pgrx::Uuid,
    size: i64,
    etag: &str,
    mime_type: Option<&str>,
    cache_control: Option<&str>,
    user_metadata: Option<pgrx::JsonB>,
) -> Value {
    let row = errors::spi_or(
        crate::plans::get_one::<pgrx::JsonB>(
            "SELECT jsonb_build_object('bucket', bucket_id, 'name', name, 'replaces', replaces_version, 'mime', mime_type, \
               'owner', owner_id) FROM bknd.objects WHERE id = $1 AND status = 'pending' FOR UPDATE",
            &[id.into()],
        ),
        None,
    );
    let Some(pgrx::JsonB(row)) = row else { errors::raise(Code::ERRCODE_NO_DATA_FOUND, "upload not found or already finished") };
    let (bucket, name) = (row["bucket"].as_str().unwrap_or(""), row["name"].as_str().unwrap_or(""));
    let settings = super::bucket(bucket);
    if settings.file_size_limit.is_some_and(|limit| size > limit) {
        errors::raise(Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED, "The object exceeded the maximum allowed size");
    }
    let mime_type = mime_type.filter(|m| !m.is_empty());
    // the type the object ends up with, whether the request or the pending row said it
    check_mime(&settings, mime_type.or(row["mime"].as_str()).unwrap_or("application/octet-stream"));
    let cache_control = cache_control.filter(|c| !c.is_empty());
    if cache_control.is_some_and(|c| c.len() > 255 || c.chars().any(char::is_control)) {
        errors::raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, "cache-control must be at most 255 characters, without control characters");
    }
    // the bound version, or what the same owner's upload bound to it put there meanwhile (two
    // tabs, a retry: last writer wins); never another's object
    // (the replaced object's removal is no object.deleted webhook event: this is its new version)
    errors::spi(Spi::run("SELECT pg_catalog.set_config('bknd.object_replacing', 'on', true)"));
    let replaced = match row["replaces"].as_str() {
        Some(version) => errors::spi_or(
            crate::plans::get_one::<String>(
                "DELETE FROM bknd.objects WHERE bucket_id = $1 AND name = $2 AND status = 'ready' \
                   AND (version = $3::uuid OR (replaces_version = $3::uuid AND owner_id IS NOT DISTINCT FROM $4::uuid)) \
                 RETURNING version::text",
                &[bucket.into(), name.into(), version.into(), row["owner"].as_str().into()],
            ),
            None,
        ),
        None => None,
    };
    errors::spi(Spi::run("SELECT pg_catalog.set_config('bknd.object_replacing', '', true)"));
    // any other object holding the name (one finished first, or one this upload may not
    // replace) makes this a unique violation (409)
    errors::spi(Spi::run_with_args(
        "UPDATE bknd.objects SET status = 'ready', size = $2, etag = $3, mime_type = coalesce($4, mime_type), \
           cache_control = coalesce($5, cache_control), user_metadata = coalesce($6, user_metadata), \
           updated_at = now(), last_accessed_at = now() WHERE id = $1",
        &[id.into(), size.into(), etag.into(), mime_type.into(), cache_control.into(), user_metadata.into()],
    ));
    json!({"id": id.to_string(), "bucket": bucket, "name": name, "replaced_version": replaced})
}

/// Give up a pending upload (the sidecar's role only); answers its version, whose bytes go.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn storage_abort_upload(id: pgrx::Uuid) -> Option<String> {
    crate::identity::refuse_switched_role("abort uploads");
    errors::spi_or(
        crate::plans::get_one::<String>(
            "DELETE FROM bknd.objects WHERE id = $1 AND status = 'pending' RETURNING version::text",
            &[id.into()],
        ),
        None,
    )
}

/// Rename `bucket`/`from` to `to` within its bucket as the caller (the UPDATE policy decides,
/// on the old row and the new, before a taken name is a conflict). The bytes stay where they
/// are. Moving to another bucket moves bytes too: `storage_begin_move` (the storage API).
#[pg_extern(volatile, parallel_unsafe)]
fn storage_move(bucket: &str, from: &str, to: &str, to_bucket: default!(Option<&str>, "NULL")) -> pgrx::JsonB {
    let (from, to) = (object_name(from), object_name(to));
    if to_bucket.is_some_and(|b| b != bucket) {
        errors::raise_hint(
            Code::ERRCODE_FEATURE_NOT_SUPPORTED,
            "storage_move renames within a bucket",
            "to move an object to another bucket, use the storage API's move (POST /storage/v1/object/move), which copies its bytes",
        );
    }
    super::bucket(bucket);
    // RLS's check of the new row comes before the unique index's: a caller who may not write
    // `to` gets 403 whether or not someone else's object is there
    let moved = errors::spi(crate::plans::get_one::<i64>(
        "WITH u AS (UPDATE bknd.objects SET name = $3, updated_at = now() \
           WHERE bucket_id = $1 AND name = $2 AND status = 'ready' RETURNING 1) SELECT count(*) FROM u",
        &[bucket.into(), from.as_str().into(), to.as_str().into()],
    ));
    if moved != Some(1) {
        errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found");
    }
    pgrx::JsonB(json!({"message": "Successfully moved"}))
}

/// Start moving `bucket`/`from` to `to_bucket`/`to` as the caller: the object must be one the
/// caller sees and may update, and the destination an upload the caller may make (the INSERT
/// policy, the bucket's size and type limits). Answers the source and the destination's
/// pending upload; the sidecar copies the bytes and calls `storage_finish_move`.
#[pg_extern(volatile, parallel_unsafe)]
fn storage_begin_move(bucket: &str, from: &str, to: &str, to_bucket: &str) -> pgrx::JsonB {
    let from = object_name(from);
    let source = visible(bucket, &from).unwrap_or_else(|| errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found"));
    if !may_update(source["id"].as_str().unwrap_or("")) {
        errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, "new row violates row-level security policy for table \"objects\"");
    }
    let upload = begin_from(&source, to_bucket, to, false);
    pgrx::JsonB(json!({"source": source, "upload": upload}))
}

/// The bytes of a move are copied: remove the source (if it is still the object that was
/// checked: `source_id`) and make the destination the object, in one transaction. The
/// source's bytes are queued as garbage. The sidecar's role only.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn storage_finish_move(upload_id: pgrx::Uuid, source_id: pgrx::Uuid, size: i64, etag: &str) -> pgrx::JsonB {
    crate::identity::refuse_switched_role("finish moves");
    let removed = errors::spi(crate::plans::get_one::<i64>(
        "WITH d AS (DELETE FROM bknd.objects WHERE id = $1 AND status = 'ready' RETURNING 1) SELECT count(*) FROM d",
        &[source_id.into()],
    ));
    if removed != Some(1) {
        errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found");
    }
    pgrx::JsonB(finish(upload_id, size, etag, None, None, None))
}

/// A pending upload to `to_bucket`/`to` of a copy of `source` (an object's JSON).
fn begin_from(source: &Value, to_bucket: &str, to: &str, upsert: bool) -> Value {
    begin(
        to_bucket,
        to,
        upsert,
        source["mime_type"].as_str(),
        source["size"].as_i64(),
        Some(source["user_metadata"].clone()).filter(|m| !m.is_null()),
        source["cache_control"].as_str(),
    )
}

/// Start a copy as the caller: the source must be readable, the destination an allowed upload.
/// Answers the source's version and the destination's pending upload.
#[pg_extern(volatile, parallel_unsafe)]
fn storage_begin_copy(
    bucket: &str,
    from: &str,
    to: &str,
    to_bucket: default!(Option<&str>, "NULL"),
    upsert: default!(bool, false),
) -> pgrx::JsonB {
    let from = object_name(from);
    let source = visible(bucket, &from).unwrap_or_else(|| errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found"));
    let upload = begin_from(&source, to_bucket.unwrap_or(bucket), to, upsert);
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
    let removed = errors::spi(crate::plans::get_one::<pgrx::JsonB>(
        &format!(
            "WITH d AS (DELETE FROM bknd.objects o WHERE o.bucket_id = $1 AND o.name = ANY($2) AND o.status = 'ready' RETURNING o.*) \
             SELECT coalesce(jsonb_agg({OBJECT_JSON} ORDER BY o.name), '[]') FROM d o"
        ),
        &[bucket.into(), names.into()],
    ));
    removed.unwrap_or(pgrx::JsonB(json!([])))
}
