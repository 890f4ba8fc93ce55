//! Buckets, objects, uploads, signed URLs and the sweeper's housekeeping (`sql/storage.sql`,
//! `src/storage`).

use serde_json::Value;

use super::{calls, Call, TextArray};

calls! {
    fn list_buckets() = "SELECT bknd.list_buckets()::text";
    fn get_bucket(id: String) = "SELECT bknd.get_bucket($1::text)::text";
    fn create_bucket(id: String, public: bool, file_size_limit: Option<i64>, allowed_mime_types: Option<&Value>) =
        "SELECT bknd.create_bucket($1::text, $2::text::boolean, $3::text::bigint, \
         (SELECT array_agg(m) FROM jsonb_array_elements_text($4::text::jsonb) m))::text";
    fn update_bucket(id: String, changes: &Value) = "SELECT bknd.update_bucket($1::text, $2::text::jsonb)::text";
    fn storage_policies(bucket: String) = "SELECT bknd.storage_policies($1::text)::text";
    fn allow_storage(bucket: String, operations: String, to_role: String, rule: String) =
        "SELECT bknd.allow_storage($1::text, $2::text, $3::text, $4::text)::text";
    fn drop_storage_policy(bucket: String, name: String) = "SELECT to_jsonb(bknd.drop_storage_policy($1::text, $2::text))::text";
    fn empty_bucket(id: String) = "SELECT to_jsonb(bknd.empty_bucket($1::text))::text";
    fn delete_bucket(id: String) = "SELECT to_jsonb(bknd.delete_bucket($1::text))::text";
    fn storage_object(bucket: String, name: String) = "SELECT bknd.storage_object($1::text, $2::text)::text";
    fn storage_public_object(bucket: String, name: String) = "SELECT bknd.storage_public_object($1::text, $2::text)::text";
    /// `purpose`: download or upload
    fn storage_verify(token: String, purpose: &str, bucket: String, name: String) =
        "SELECT bknd.storage_verify($1::text, $2::text, $3::text, $4::text)::text";
    fn storage_sign(bucket: String, name: String, purpose: &str, expires_in: i64, upsert: bool) =
        "SELECT bknd.storage_sign($1::text, $2::text, $3::text, $4::text::integer, $5::text::boolean)::text";
    fn storage_list(bucket: String, prefix: String, max_rows: i64, skip: i64, sort_column: String, sort_order: String, search: String) =
        "SELECT bknd.storage_list($1::text, $2::text, $3::text::integer, $4::text::integer, $5::text, $6::text, $7::text)::text";
    fn storage_move(bucket: String, from: String, to: String) = "SELECT bknd.storage_move($1::text, $2::text, $3::text)::text";
    fn storage_begin_move(bucket: String, from: String, to: String, to_bucket: String) =
        "SELECT bknd.storage_begin_move($1::text, $2::text, $3::text, $4::text)::text";
    /// the sidecar's own
    fn storage_finish_move(upload_id: String, source_id: String, size: i64, etag: String) =
        "SELECT bknd.storage_finish_move($1::text::uuid, $2::text::uuid, $3::text::bigint, $4::text)::text";
    fn storage_begin_copy(bucket: String, from: String, to: String, to_bucket: String, upsert: bool) =
        "SELECT bknd.storage_begin_copy($1::text, $2::text, $3::text, $4::text, $5::text::boolean)::text";
    fn storage_begin_upload(bucket: String, name: String, upsert: bool, mime_type: Option<String>, size: Option<i64>,
                            metadata: Option<&Value>, cache_control: Option<String>) =
        "SELECT bknd.storage_begin_upload($1::text, $2::text, $3::text::boolean, $4::text, $5::text::bigint, $6::text::jsonb, $7::text)::text";
    fn storage_upload(upload_id: String) = "SELECT bknd.storage_upload($1::text::uuid)::text";
    /// the sidecar's own: the bytes are stored, the row becomes the object
    fn storage_finish_upload(upload_id: String, size: i64, etag: String, upsert: bool, mime_type: Option<String>,
                             cache_control: Option<String>, metadata: Option<&Value>) =
        "SELECT bknd.storage_finish_upload($1::text::uuid, $2::text::bigint, $3::text, $4::text::boolean, $5::text, $6::text, $7::text::jsonb)::text";
    /// the sidecar's own
    fn storage_abort_upload(upload_id: String) = "SELECT to_jsonb(bknd.storage_abort_upload($1::text::uuid))::text";
    fn storage_remove(bucket: String, names: TextArray) =
        "SELECT bknd.storage_remove($1::text, ARRAY(SELECT jsonb_array_elements_text($2::text::jsonb)))::text";
    /// the sweeper's: uploads left pending longer than this
    fn storage_expire_uploads(older_than_seconds: i64) = "SELECT bknd.storage_expire_uploads($1::text::integer)::text";
    fn storage_garbage(max_rows: i64) = "SELECT bknd.storage_garbage($1::text::integer)::text";
    /// `versions`: a uuid[] literal
    fn storage_garbage_gone(versions: String) = "SELECT bknd.storage_garbage_gone($1::text::uuid[])::text";
}
