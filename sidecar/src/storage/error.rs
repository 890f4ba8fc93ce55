//! Errors as Supabase Storage sends them: `{"statusCode": "404", "error": "not_found",
//! "message": "Object not found"}` with the same HTTP status. Database errors map by SQLSTATE.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug)]
pub struct StorageError {
    pub status: u16,
    pub error: &'static str,
    pub message: String,
}

impl StorageError {
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> StorageError {
        StorageError { status, error, message: message.into() }
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

    pub fn internal(e: impl std::fmt::Display) -> StorageError {
        tracing::error!("storage: {e}");
        StorageError::new(500, "internal", "Internal error")
    }

    pub fn unavailable(e: impl std::fmt::Display) -> StorageError {
        tracing::warn!("storage: database unavailable: {e}");
        StorageError::new(503, "unavailable", "Database unavailable")
    }

    pub fn from_db(e: &tokio_postgres::Error) -> StorageError {
        let Some(db) = e.as_db_error() else { return StorageError::unavailable(e) };
        let message = db.message().to_string();
        match db.code().code() {
            "P0002" => StorageError::not_found(message),
            "23505" => StorageError::new(409, "Duplicate", "The resource already exists"),
            "54000" => StorageError::too_large(),
            "22023" if message.starts_with("mime type") => StorageError::new(415, "invalid_mime_type", message),
            // the rest of class 22 (data exceptions: out of range, bad text) is the client's input
            c if c.starts_with("22") || c == "23514" => StorageError::invalid(message),
            "42501" => StorageError::new(403, "Unauthorized", message),
            "28000" => StorageError::new(400, "InvalidSignature", message),
            "2BP01" => StorageError::new(409, "InvalidRequest", message),
            "57014" => StorageError::new(504, "timeout", "The request took too long"),
            // the database's words stay in the log: they may name tables, constraints, values
            code => StorageError::internal(format!("storage call failed: {code} {message}")),
        }
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(json!({"statusCode": self.status.to_string(), "error": self.error, "message": self.message}))).into_response()
    }
}
