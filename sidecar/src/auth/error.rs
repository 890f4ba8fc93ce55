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
            Some(db) => AuthError::from_sqlstate(db.code().code(), db.message(), false),
            None => AuthError::unavailable(e),
        }
    }

    /// An error raised (not answered) by a call. The auth functions answer every mistake of the
    /// caller's as `{"error": ...}`, so what is raised is a refusal (42501: no EXECUTE on the
    /// function, the token may not do this), bad input the database itself caught (class 22),
    /// or a failure of ours, whose text (constraint and table names) stays in the log.
    pub fn from_db(e: &tokio_postgres::Error, anonymous: bool) -> AuthError {
        match e.as_db_error() {
            Some(db) => AuthError::from_sqlstate(db.code().code(), db.message(), anonymous),
            None => AuthError::unavailable(e),
        }
    }

    fn from_sqlstate(code: &str, message: &str, anonymous: bool) -> AuthError {
        match code {
            "42501" if anonymous => AuthError::new(401, "no_authorization", "This endpoint requires a valid Bearer token"),
            "42501" => AuthError::new(403, "not_admin", "User not allowed"),
            _ if code.starts_with("22") => AuthError::validation(message),
            "40001" | "40P01" | "55P03" | "57014" => {
                tracing::warn!("auth call failed: {code} {message}");
                AuthError::new(503, "unexpected_failure", "The request conflicted with another; try again")
            }
            _ => {
                tracing::error!("auth call failed: {code} {message}");
                AuthError::new(500, "unexpected_failure", "Internal error")
            }
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

#[cfg(test)]
mod tests {
    use super::AuthError;

    #[test]
    fn raised_errors_keep_the_databases_words_to_the_log_except_for_bad_input() {
        let refused = AuthError::from_sqlstate("42501", "permission denied for function admin_list_users", true);
        assert_eq!((refused.status.as_u16(), refused.code.as_str()), (401, "no_authorization"));
        let refused = AuthError::from_sqlstate("42501", "permission denied for function admin_list_users", false);
        assert_eq!((refused.status.as_u16(), refused.code.as_str()), (403, "not_admin"));
        let bad = AuthError::from_sqlstate("22P02", "invalid input syntax for type uuid: \"x\"", false);
        assert_eq!((bad.status.as_u16(), bad.code.as_str()), (400, "validation_failed"));
        assert!(bad.message.contains("uuid"));
        let ours = AuthError::from_sqlstate("23505", "duplicate key value violates unique constraint \"users_email_key\"", false);
        assert_eq!((ours.status.as_u16(), ours.code.as_str(), ours.message.as_str()), (500, "unexpected_failure", "Internal error"));
        let busy = AuthError::from_sqlstate("40P01", "deadlock detected", false);
        assert_eq!(busy.status.as_u16(), 503);
        assert!(!busy.message.contains("deadlock"));
    }
}
