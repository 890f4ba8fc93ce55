//! Storage metadata: buckets, objects and their RLS, signed tokens. The sidecar moves the bytes;
//! every decision about who may read or write which object is made here, under the caller's
//! role, by the policies on `bknd.objects` (`bknd.allow_storage` writes them).

mod bucket;
mod name;
mod object;
mod policy;
mod sign;

use serde_json::Value;

use crate::errors::{self, Code};

/// A bucket's settings (read as the extension owner: the caller may not see buckets directly).
pub struct Bucket {
    pub file_size_limit: Option<i64>,
    pub allowed_mime_types: Option<Vec<String>>,
}

pub fn bucket(id: &str) -> Bucket {
    let row = crate::identity::as_extension_owner(|| {
        errors::spi_or(
            crate::plans::get_one::<pgrx::JsonB>(
                "SELECT jsonb_build_object('limit', file_size_limit, 'mime', allowed_mime_types) FROM bknd.buckets WHERE id = $1",
                &[id.into()],
            ),
            None,
        )
    });
    let Some(pgrx::JsonB(v)) = row else { errors::raise(Code::ERRCODE_NO_DATA_FOUND, "Bucket not found") };
    Bucket {
        file_size_limit: v["limit"].as_i64(),
        allowed_mime_types: v["mime"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()),
    }
}

impl Bucket {
    /// Whether `mime` is allowed (`image/*` style wildcards allowed); no list allows anything.
    pub fn allows(&self, mime: &str) -> bool {
        let Some(list) = &self.allowed_mime_types else { return true };
        let mime = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        list.iter().any(|allowed| {
            let allowed = allowed.trim().to_ascii_lowercase();
            match allowed.strip_suffix("/*") {
                Some(kind) => mime.split('/').next() == Some(kind),
                None => allowed == mime,
            }
        })
    }
}
