//! Errors as GoTrue sends them: `{"code": <status>, "error_code": "...", "msg": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct AuthError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl AuthError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> AuthError {
        AuthError { status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), code: code.into(), message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> AuthError {
        AuthError::new(400, "validation_failed", message)
    }

    /// An error object answered by a bknd auth function.
    pub fn from_answer(e: &Value) -> AuthError {
        AuthError::new(
            e["status"].as_u64().unwrap_or(400) as u16,
            e["code"].as_str().unwrap_or("unexpected_failure"),
            e["message"].as_str().unwrap_or("request failed"),
        )
    }

    pub fn bad_jwt(e: &tokio_postgres::Error) -> AuthError {
        match e.as_db_error() {
            Some(db) if db.code().code() == "28000" => AuthError::new(403, "bad_jwt", format!("invalid JWT: {}", db.message())),
            Some(db) => AuthError::new(400, "unexpected_failure", db.message().to_string()),
            None => AuthError::unavailable(e),
        }
    }

    /// 42501 (no EXECUTE on the function) means the token may not do this.
    pub fn from_db(e: &tokio_postgres::Error, anonymous: bool) -> AuthError {
        match e.as_db_error() {
            Some(db) if db.code().code() == "42501" => {
                if anonymous {
                    AuthError::new(401, "no_authorization", "This endpoint requires a valid Bearer token")
                } else {
                    AuthError::new(403, "not_admin", "User not allowed")
                }
            }
            Some(db) => {
                tracing::warn!("auth call failed: {} {}", db.code().code(), db.message());
                AuthError::new(400, "unexpected_failure", db.message().to_string())
            }
            None => AuthError::unavailable(e),
        }
    }

    pub fn unavailable(e: impl std::fmt::Display) -> AuthError {
        tracing::warn!("auth: database unavailable: {e}");
        AuthError::new(503, "unexpected_failure", "Database unavailable")
    }

    pub fn internal(e: impl std::fmt::Display) -> AuthError {
        tracing::error!("auth: {e}");
        AuthError::new(500, "unexpected_failure", "Internal error")
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.status.as_u16(), "error_code": self.code, "msg": self.message});
        (self.status, Json(body)).into_response()
    }
}
