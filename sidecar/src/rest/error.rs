//! One error type for the REST API, with PostgREST's stable codes, body and status table.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::engine::failure::Failure;
use crate::engine::sqlstate::Kind;

/// Boxed: it travels in every `Result` of the request pipeline, and a 152-byte error would
/// make each of them that large.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorBody>);

#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Option<String>,
    pub hint: Option<String>,
    /// `WWW-Authenticate` for 401s.
    pub www_authenticate: Option<String>,
    /// `Content-Range` (a 416 says what range exists)
    pub content_range: Option<String>,
    /// `Retry-After` seconds, for failures that pass by themselves (503)
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(ErrorBody {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
            hint: None,
            www_authenticate: None,
            content_range: None,
            retry_after: None,
        }))
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

    /// 42883 from an RPC call: PostgREST's 404 when it is the called function itself that does
    /// not exist (a schema cache older than a DROP FUNCTION); any other missing function or
    /// operator stays a 400.
    pub fn missing_rpc_function(mut self, schema: &str, name: &str) -> ApiError {
        if self.code == "42883" && self.message.starts_with(&format!("function {schema}.{name}(")) {
            self.status = StatusCode::NOT_FOUND;
        }
        self
    }

    /// A failure of ours or of the connection: the details go to the log, not the client.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
        ApiError::from(Failure::internal(context, e))
    }
}

/// The engine's failure in PostgREST's format: the SQLSTATE as `code` (PostgREST's own codes for
/// a refused token and an unreachable database), the status from the one table.
impl From<Failure> for ApiError {
    fn from(failure: Failure) -> ApiError {
        let retry_after = failure.retry_after();
        let mut err = match failure {
            Failure::Token(message) => {
                // claims that are well-formed but not acceptable (time, role) are PGRST303
                let claims = message.starts_with("JWT expired")
                    || message.starts_with("JWT is not valid yet")
                    || message.contains("named in the JWT");
                let code = if claims { "PGRST303" } else { "PGRST301" };
                let mut err = ApiError::new(StatusCode::UNAUTHORIZED, code, message.clone());
                err.www_authenticate = Some(format!("Bearer error=\"invalid_token\", error_description=\"{}\"", message.replace('"', "'")));
                err
            }
            Failure::Database(d) => {
                let status = StatusCode::from_u16(d.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut err = ApiError::new(status, &d.sqlstate, d.message);
                err.details = d.detail;
                err.hint = d.hint;
                if d.kind == Kind::Unauthorized {
                    err.www_authenticate = Some("Bearer".into());
                }
                err
            }
            Failure::Unavailable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "PGRST000", "Database client error. Retrying the connection.")
            }
            Failure::Internal => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "PGRST000", "internal error"),
        };
        err.retry_after = retry_after;
        err
    }
}

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let body = json!({"code": this.code, "message": this.message, "details": this.details, "hint": this.hint}).to_string();
        let mut response = (this.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        if let Some(v) = this.www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(v) = this.content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::CONTENT_RANGE, v);
        }
        if let Some(seconds) = this.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={}", this.code)) {
            headers.insert("proxy-status", v);
        }
        response
    }
}
