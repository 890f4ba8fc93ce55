//! Errors as Supabase Storage sends them: `{"statusCode": "404", "error": "not_found",
//! "message": "Object not found"}` with the same HTTP status. Database errors come classified
//! by the engine (crate::engine::sqlstate).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::engine::failure::Failure;
use crate::engine::sqlstate::Kind;

#[derive(Debug)]
pub struct StorageError {
    pub status: u16,
    pub error: &'static str,
    pub message: String,
    /// `Retry-After` seconds, for failures that pass by themselves (503)
    pub retry_after: Option<u64>,
}

impl StorageError {
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> StorageError {
        StorageError { status, error, message: message.into(), retry_after: None }
    }

    pub fn invalid(message: impl Into<String>) -> StorageError {
        StorageError::new(400, "InvalidRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> StorageError {
        StorageError::new(404, "not_found", message)
    }

    pub fn too_large() -> StorageError {
        StorageError::new(413, "Payload too large", "The object exceeded the maximum allowed size")
    }

    /// A driver error, classified by the engine.
    pub fn from_db(e: &tokio_postgres::Error) -> StorageError {
        StorageError::from(Failure::from_pg(e, false))
    }

    pub fn unavailable(e: impl std::fmt::Display) -> StorageError {
        StorageError::from(Failure::unavailable("storage", e))
    }

    pub fn internal(e: impl std::fmt::Display) -> StorageError {
        StorageError::from(Failure::internal("storage", e))
    }
}

/// The engine's failure in Supabase Storage's format. The status is the one table's, except
/// where Supabase Storage answers otherwise: a bad token or signature is 400, a refused MIME
/// type 415. The storage functions raise what they mean (P0002 not found, 23505 taken, class
/// 22 bad input, 54000 too large, 2BP01 not empty), and a read-only caller's change is 403; anything else the table calls the client's
/// mistake (a missing function, another constraint, a write in a read) is ours here: 500, logged.
impl From<Failure> for StorageError {
    fn from(failure: Failure) -> StorageError {
        let retry_after = failure.retry_after();
        let mut err = match failure {
            Failure::Token(message) => StorageError::new(400, "InvalidJWT", message),
            Failure::Database(d) => match d.kind {
                Kind::BadRequest if d.sqlstate == "22023" && d.message.starts_with("mime type") => {
                    StorageError::new(415, "invalid_mime_type", d.message)
                }
                Kind::BadRequest if d.sqlstate.starts_with("22") || d.sqlstate == "23514" => StorageError::invalid(d.message),
                Kind::NotFound if d.sqlstate == "P0002" => StorageError::not_found(d.message),
                Kind::Conflict if d.sqlstate == "23505" => StorageError::new(409, "Duplicate", "The resource already exists"),
                Kind::Conflict if d.sqlstate == "2BP01" => StorageError::new(409, "InvalidRequest", d.message),
                Kind::TooLarge => StorageError::too_large(),
                Kind::Forbidden if d.sqlstate.starts_with("28") => StorageError::new(400, "InvalidSignature", d.message),
                Kind::Unauthorized | Kind::Forbidden => StorageError::new(d.status, "Unauthorized", d.message),
                // a change in a transaction the caller's role keeps read-only (a console viewer)
                Kind::NotAllowed if d.sqlstate == "25006" => StorageError::new(403, "Unauthorized", d.message),
                Kind::Timeout => StorageError::new(d.status, "timeout", d.message),
                Kind::Busy | Kind::Unavailable => StorageError::new(d.status, "unavailable", d.message),
                Kind::Custom => StorageError::new(d.status, "InvalidRequest", d.message),
                Kind::Internal => StorageError::new(d.status, "internal", d.message),
                _ => {
                    tracing::error!(sqlstate = d.sqlstate, "storage call raised: {}", d.message);
                    StorageError::new(500, "internal", "Internal error")
                }
            },
            Failure::Unavailable => StorageError::new(503, "unavailable", "Database unavailable"),
            Failure::Internal => StorageError::new(500, "internal", "Internal error"),
        };
        err.retry_after = retry_after;
        err
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"statusCode": self.status.to_string(), "error": self.error, "message": self.message});
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::failure::{fixed_message, DatabaseError};
    use crate::engine::sqlstate::classify;

    fn raised(sqlstate: &str, message: &str) -> StorageError {
        let (kind, status) = classify(sqlstate, false);
        let message = if status >= 500 { fixed_message(kind).to_string() } else { message.to_string() };
        StorageError::from(Failure::Database(DatabaseError { sqlstate: sqlstate.into(), kind, status, message, detail: None, hint: None }))
    }

    #[test]
    fn what_the_storage_functions_mean_keeps_its_status_and_the_rest_is_ours() {
        assert_eq!(raised("P0002", "Object not found").status, 404);
        assert_eq!((raised("23505", "duplicate").status, raised("23505", "duplicate").error), (409, "Duplicate"));
        assert_eq!(raised("22023", "mime type image/gif is not allowed").status, 415);
        assert_eq!(raised("22P02", "invalid input syntax").status, 400);
        assert_eq!((raised("28000", "bad signature").status, raised("28000", "x").error), (400, "InvalidSignature"));
        assert_eq!(raised("57014", "canceling statement").status, 504);
        let ours = raised("42883", "function bknd.list_buckets() does not exist");
        assert_eq!((ours.status, ours.message.as_str()), (500, "Internal error"));
        assert_eq!(raised("42P01", "relation \"bknd.x\" does not exist").status, 500);
        // storage writes in read-write transactions: read-only is the caller's role (a console viewer)
        assert_eq!(raised("25006", "cannot execute INSERT in a read-only transaction").status, 403);
    }
}
