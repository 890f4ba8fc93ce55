//! The console API's errors: `{"code", "message"}` with a status. The engine's failures keep
//! their status; a 5xx never carries the database's words (crate::engine::failure).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::engine::failure::Failure;
use crate::engine::sqlstate::Kind;

#[derive(Debug)]
pub struct ConsoleError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ConsoleError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ConsoleError {
        ConsoleError { status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), code, message: message.into() }
    }

    pub fn no_session() -> ConsoleError {
        ConsoleError::new(401, "no_session", "sign in to the console")
    }

    pub fn bad_request(message: impl Into<String>) -> ConsoleError {
        ConsoleError::new(400, "bad_request", message)
    }
}

impl From<Failure> for ConsoleError {
    fn from(failure: Failure) -> ConsoleError {
        match failure {
            // the console token is refused only when the session is over
            Failure::Token(_) => ConsoleError::no_session(),
            Failure::Database(d) => {
                let code = match d.kind {
                    Kind::Forbidden | Kind::Unauthorized => "forbidden",
                    Kind::Timeout => "timeout",
                    _ if d.status >= 500 => "server_error",
                    _ => "database_error",
                };
                // a member is never anonymous: a refusal is "not you" (403), not "sign in"
                let status = if d.status == 401 { 403 } else { d.status };
                let mut message = d.message;
                if let Some(hint) = d.hint {
                    message = format!("{message} ({hint})");
                }
                ConsoleError::new(status, code, message)
            }
            Failure::Unavailable => ConsoleError::new(503, "unavailable", "the database is unavailable; try again shortly"),
            Failure::Internal => ConsoleError::new(500, "server_error", "internal error"),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"code": self.code, "message": self.message}))).into_response()
    }
}
