//! Signed URLs: `storage_sign` checks the caller's right at signing time (a download only for an
//! object the caller can see; an upload inserts the pending row as the caller) and returns a
//! token: base64url(JSON payload) "." base64url(HMAC-SHA256 with the storage secret). The
//! secret lives in bknd.secrets like the JWT secret; no API role can read it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use pgrx::prelude::*;
use serde_json::{json, Value};
use sha2::Sha256;

use super::name::object_name;
use super::object;
use crate::errors::{self, Code};
use crate::identity::as_extension_owner;

const MAX_EXPIRES_IN: i32 = 7 * 24 * 3600;

fn mac() -> Hmac<Sha256> {
    let secret = as_extension_owner(|| {
        errors::spi_or(crate::plans::get_one::<String>("SELECT value FROM bknd.secrets WHERE name = 'storage_secret'", &[]), None)
    })
    .unwrap_or_else(|| errors::raise(Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "bknd has no storage secret"));
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length")
}

fn seal(payload: &Value) -> String {
    let body = B64.encode(payload.to_string());
    let mut m = mac();
    m.update(body.as_bytes());
    format!("{body}.{}", B64.encode(m.finalize().into_bytes()))
}

/// The payload of a token with a valid signature that has not expired, or why not (28000).
fn open(token: &str) -> Value {
    let bad = |why: &str| -> ! { errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, why.to_string()) };
    let Some((body, signature)) = token.trim().split_once('.') else { bad("invalid signature") };
    let Ok(signature) = B64.decode(signature) else { bad("invalid signature") };
    let mut m = mac();
    m.update(body.as_bytes());
    if m.verify_slice(&signature).is_err() {
        bad("invalid signature");
    }
    let payload: Value = B64.decode(body).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_else(|| bad("invalid signature"));
    if payload["exp"].as_i64().is_none_or(|exp| exp <= crate::jwt::unix_now()) {
        bad("the signed URL has expired");
    }
    payload
}

/// A signed token for `operation` (`download` or `upload`) on `bucket`/`name`, valid for
/// `expires_in` seconds (at most a week). Answers `{token, bucket, name, expires_at}`.
#[pg_extern(volatile, parallel_unsafe)]
fn storage_sign(
    bucket: &str,
    name: &str,
    operation: default!(&str, "'download'"),
    expires_in: default!(i32, 3600),
    upsert: default!(bool, false),
) -> pgrx::JsonB {
    if !(1..=MAX_EXPIRES_IN).contains(&expires_in) {
        errors::invalid(format!("expires_in must be 1 to {MAX_EXPIRES_IN} seconds"));
    }
    let name = object_name(name);
    let exp = crate::jwt::unix_now() + expires_in as i64;
    let payload = match operation {
        "download" => {
            if object::visible(bucket, &name).is_none() {
                errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found");
            }
            json!({"op": "download", "b": bucket, "n": name, "exp": exp})
        }
        "upload" => {
            let upload = object::begin(bucket, &name, upsert, None, None, None, None);
            json!({"op": "upload", "b": bucket, "n": name, "id": upload["id"], "u": upsert, "exp": exp})
        }
        _ => errors::invalid("operation must be download or upload"),
    };
    pgrx::JsonB(json!({"token": seal(&payload), "bucket": bucket, "name": name, "expires_at": exp}))
}

/// What a signed token allows, for anyone holding it: for `download` the object, for `upload`
/// the pending upload (`{id, version, bucket, name, upsert, size_limit}`). 28000 for a bad or
/// expired token, or one for another operation or path.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn storage_verify(token: &str, operation: &str, bucket: &str, name: &str) -> pgrx::JsonB {
    let payload = open(token);
    let name = object_name(name);
    if payload["op"] != operation || payload["b"] != bucket || payload["n"].as_str() != Some(name.as_str()) {
        errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "the signature is for another object or operation");
    }
    if operation == "download" {
        return pgrx::JsonB(object::any(bucket, &name).unwrap_or_else(|| errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Object not found")));
    }
    let id = payload["id"].as_str().unwrap_or("");
    let row = errors::spi_or(
        crate::plans::get_one::<pgrx::JsonB>(
            "SELECT jsonb_build_object('id', id, 'version', version, 'bucket', bucket_id, 'name', name, 'mime_type', mime_type) \
             FROM bknd.objects WHERE id = $1::uuid AND status = 'pending'",
            &[id.into()],
        ),
        None,
    );
    let Some(pgrx::JsonB(mut upload)) = row else {
        errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "the signed upload URL was already used")
    };
    upload["upsert"] = payload["u"].clone();
    upload["size_limit"] = json!(super::bucket(bucket).file_size_limit);
    pgrx::JsonB(upload)
}
