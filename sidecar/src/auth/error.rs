//! Errors as GoTrue sends them: `{"code": <status>, "error_code": "...", "msg": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::engine::failure::Failure;
use crate::engine::sqlstate::Kind;

#[derive(Debug)]
pub struct AuthError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// `Retry-After` seconds, for failures that pass by themselves (503)
    pub retry_after: Option<u64>,
}

impl AuthError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> AuthError {
        AuthError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
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

    pub fn internal(e: impl std::fmt::Display) -> AuthError {
        AuthError::from(Failure::internal("auth", e))
    }
}

/// The engine's failure in GoTrue's format. The auth functions answer every mistake of the
/// caller's as `{"error": ...}`, so what is raised is a refused token, a refusal (42501: no
/// EXECUTE on the function), bad input the database itself caught (class 22), a collision with
/// another request, or a failure of ours: anything else the table calls the client's mistake
/// (a missing function, a constraint) is ours here, answered 500 and logged.
impl From<Failure> for AuthError {
    fn from(failure: Failure) -> AuthError {
        let retry_after = failure.retry_after();
        let mut err = match failure {
            Failure::Token(message) => AuthError::new(403, "bad_jwt", format!("invalid JWT: {message}")),
            Failure::Database(d) => match d.kind {
                Kind::Unauthorized => AuthError::new(401, "no_authorization", "This endpoint requires a valid Bearer token"),
                Kind::Forbidden => AuthError::new(403, "not_admin", "User not allowed"),
                Kind::BadRequest if d.sqlstate.starts_with("22") => AuthError::validation(d.message),
                Kind::Conflict => AuthError::new(d.status, "conflict", "The request conflicted with another; try again"),
                Kind::Timeout => AuthError::new(d.status, "request_timeout", d.message),
                Kind::Busy | Kind::Unavailable | Kind::Internal => AuthError::new(d.status, "unexpected_failure", d.message),
                _ => {
                    tracing::error!(sqlstate = d.sqlstate, "auth call raised: {}", d.message);
                    AuthError::new(500, "unexpected_failure", "Internal error")
                }
            },
            Failure::Unavailable => AuthError::new(503, "unexpected_failure", "Database unavailable"),
            Failure::Internal => AuthError::new(500, "unexpected_failure", "Internal error"),
        };
        err.retry_after = retry_after;
        err
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.status.as_u16(), "error_code": self.code, "msg": self.message});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::failure::DatabaseError;
    use crate::engine::sqlstate::classify;

    fn raised(sqlstate: &str, message: &str, anonymous: bool) -> AuthError {
        let (kind, status) = classify(sqlstate, anonymous);
        let server_side = status >= 500;
        let message = if server_side { crate::engine::failure::fixed_message(kind).to_string() } else { message.to_string() };
        AuthError::from(Failure::Database(DatabaseError { sqlstate: sqlstate.into(), kind, status, message, detail: None, hint: None }))
    }

    #[test]
    fn raised_errors_keep_the_databases_words_to_the_log_except_for_bad_input() {
        let refused = raised("42501", "permission denied for function admin_list_users", true);
        assert_eq!((refused.status.as_u16(), refused.code.as_str()), (401, "no_authorization"));
        let refused = raised("42501", "permission denied for function admin_list_users", false);
        assert_eq!((refused.status.as_u16(), refused.code.as_str()), (403, "not_admin"));
        let bad = raised("22P02", "invalid input syntax for type uuid: \"x\"", false);
        assert_eq!((bad.status.as_u16(), bad.code.as_str()), (400, "validation_failed"));
        assert!(bad.message.contains("uuid"));
        let ours = raised("XX000", "cache lookup failed for relation 1234", false);
        assert_eq!((ours.status.as_u16(), ours.code.as_str(), ours.message.as_str()), (500, "unexpected_failure", "Internal error"));
        let busy = raised("40P01", "deadlock detected", false);
        assert_eq!((busy.status.as_u16(), busy.retry_after), (503, Some(1)));
        assert!(!busy.message.contains("deadlock"));
        let missing = raised("42883", "function bknd.sign_up(text) does not exist", false);
        assert_eq!((missing.status.as_u16(), missing.message.as_str()), (500, "Internal error"));
        let race = raised("23505", "duplicate key value violates unique constraint \"users_email_key\"", false);
        assert_eq!(race.status.as_u16(), 409);
        assert!(!race.message.contains("users_email_key"));
        let slow = raised("57014", "canceling statement due to statement timeout", false);
        assert_eq!((slow.status.as_u16(), slow.code.as_str()), (504, "request_timeout"));
    }
}
