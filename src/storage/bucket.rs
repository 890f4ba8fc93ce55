//! Buckets: create, update, empty, delete. They run as the caller, so the privileges on
//! bknd.buckets decide (service_role and superusers manage buckets).

use pgrx::prelude::*;
use serde_json::Value;

use crate::errors::{self, Code};

const BUCKET_JSON: &str = "SELECT jsonb_build_object('id', id, 'name', id, 'owner', owner_id, 'public', public, \
   'file_size_limit', file_size_limit, 'allowed_mime_types', allowed_mime_types, 'created_at', created_at, \
   'updated_at', updated_at) FROM bknd.buckets WHERE id = $1";

fn bucket_json(id: &str) -> pgrx::JsonB {
    errors::spi_or(crate::plans::get_one::<pgrx::JsonB>(BUCKET_JSON, &[id.into()]), None)
        .unwrap_or_else(|| errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Bucket not found"))
}

/// Create a bucket. `file_size_limit` in bytes; `allowed_mime_types` such as `{image/*}`.
#[pg_extern(volatile, parallel_unsafe)]
fn create_bucket(
    name: &str,
    public: default!(bool, false),
    file_size_limit: default!(Option<i64>, "NULL"),
    allowed_mime_types: default!(Option<Vec<String>>, "NULL"),
) -> pgrx::JsonB {
    let exists = errors::spi(crate::plans::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM bknd.buckets WHERE id = $1)", &[name.into()]));
    if exists == Some(true) {
        errors::raise(Code::ERRCODE_UNIQUE_VIOLATION, "The resource already exists");
    }
    errors::spi(Spi::run_with_args(
        "INSERT INTO bknd.buckets (id, public, file_size_limit, allowed_mime_types) VALUES ($1, $2, $3, $4)",
        &[name.into(), public.into(), file_size_limit.into(), allowed_mime_types.into()],
    ));
    bucket_json(name)
}

/// Change a bucket: `changes` may hold `public`, `file_size_limit`, `allowed_mime_types`
/// (null clears a limit or list).
#[pg_extern(volatile, parallel_unsafe)]
fn update_bucket(name: &str, changes: pgrx::JsonB) -> pgrx::JsonB {
    let Value::Object(c) = &changes.0 else { errors::invalid("changes must be a JSON object") };
    for key in c.keys() {
        if !["public", "file_size_limit", "allowed_mime_types", "id", "name"].contains(&key.as_str()) {
            errors::invalid(format!("unknown bucket setting {key:?}"));
        }
    }
    let updated = errors::spi(crate::plans::get_one::<bool>(
        "WITH u AS (UPDATE bknd.buckets SET \
           public = CASE WHEN $2 ? 'public' THEN ($2->>'public')::boolean ELSE public END, \
           file_size_limit = CASE WHEN $2 ? 'file_size_limit' THEN ($2->>'file_size_limit')::bigint ELSE file_size_limit END, \
           allowed_mime_types = CASE WHEN $2 ? 'allowed_mime_types' THEN \
             (SELECT array_agg(m) FROM jsonb_array_elements_text(nullif($2->'allowed_mime_types', 'null'::jsonb)) m) ELSE allowed_mime_types END, \
           updated_at = now() WHERE id = $1 RETURNING 1) SELECT count(*) > 0 FROM u",
        &[name.into(), changes.into()],
    ));
    if updated != Some(true) {
        errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Bucket not found");
    }
    bucket_json(name)
}

/// Remove every object of a bucket; returns the byte versions the store may now delete.
#[pg_extern(volatile, parallel_unsafe)]
fn empty_bucket(name: &str) -> Vec<String> {
    bucket_json(name);
    errors::spi(crate::plans::get_one::<Vec<String>>(
        "WITH d AS (DELETE FROM bknd.objects WHERE bucket_id = $1 RETURNING version) \
         SELECT coalesce(array_agg(version::text), '{}') FROM d",
        &[name.into()],
    ))
    .unwrap_or_default()
}

/// Delete an empty bucket.
#[pg_extern(volatile, parallel_unsafe)]
fn delete_bucket(name: &str) -> bool {
    bucket_json(name);
    let any = crate::identity::as_extension_owner(|| {
        errors::spi(crate::plans::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM bknd.objects WHERE bucket_id = $1)", &[name.into()]))
    });
    if any == Some(true) {
        errors::raise(Code::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST, "The bucket you tried to delete is not empty");
    }
    errors::spi(Spi::run_with_args("DELETE FROM bknd.buckets WHERE id = $1", &[name.into()]));
    true
}
