//! One error type for the REST API, with PostgREST's stable codes, body and status table.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Option<String>,
    pub hint: Option<String>,
    /// `WWW-Authenticate` for 401s.
    pub www_authenticate: Option<String>,
    /// `Content-Range` (a 416 says what range exists)
    pub content_range: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.into(), message: message.into(), details: None, hint: None, www_authenticate: None, content_range: None }
    }

    pub fn details(mut self, details: impl Into<String>) -> ApiError {
        self.details = Some(details.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    /// PGRST100: the query string does not parse.
    pub fn parse(message: impl Into<String>, details: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "PGRST100", message).details(details)
    }

    /// PGRST102: the body is not what the request needs.
    pub fn body(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "PGRST102", message)
    }

    pub fn body_json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "details": self.details, "hint": self.hint})
    }

    /// An error raised by PostgreSQL, mapped like PostgREST maps it. `anonymous`: the request
    /// carried no token (42501 is then 401, not 403).
    pub fn from_db(e: &tokio_postgres::error::DbError, anonymous: bool) -> ApiError {
        let code = e.code().code();
        let status = status_for_sqlstate(code, anonymous);
        let mut err = ApiError::new(status, code, e.message());
        err.details = e.detail().map(str::to_string);
        err.hint = e.hint().map(str::to_string);
        if status == StatusCode::UNAUTHORIZED {
            err.www_authenticate = Some("Bearer".into());
        }
        err
    }

    /// A failure of ours or of the connection: the details go to the log, not the client.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
        tracing::error!("{context}: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "PGRST000", "internal error")
    }

    pub fn unavailable(context: &str, e: impl std::fmt::Display) -> ApiError {
        tracing::warn!("{context}: {e}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "PGRST000", "Database client error. Retrying the connection.")
    }
}

/// PostgREST's SQLSTATE -> HTTP status table (Error.hs, pgErrorStatus).
pub fn status_for_sqlstate(code: &str, anonymous: bool) -> StatusCode {
    let s = |n: u16| StatusCode::from_u16(n).unwrap_or(StatusCode::BAD_REQUEST);
    if let Some(custom) = code.strip_prefix("PT") {
        return custom.parse::<u16>().ok().and_then(|n| StatusCode::from_u16(n).ok()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    match code {
        "23503" | "23505" => s(409),
        "25006" => s(405),
        "P0001" => s(400),
        "42883" | "42P01" => s(404),
        "42501" => if anonymous { s(401) } else { s(403) },
        "57014" => s(504),
        _ => match &code[..2.min(code.len())] {
            "08" | "53" => s(503),
            "09" | "25" | "2D" | "38" | "39" | "3B" | "40" | "55" | "57" | "58" | "F0" | "HV" | "P0" | "XX" => s(500),
            "0L" | "0P" | "28" => s(403),
            "54" => s(413),
            _ => s(400),
        },
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body_json().to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        if let Some(v) = self.www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(v) = self.content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::CONTENT_RANGE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={}", self.code)) {
            headers.insert("proxy-status", v);
        }
        response
    }
}
