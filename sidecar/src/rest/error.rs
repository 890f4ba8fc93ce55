//! One error type for the REST API, with PostgREST's stable codes, body and status table.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

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

    /// An error raised by PostgreSQL, mapped like PostgREST maps it. `anonymous`: the request
    /// carried no token (42501 is then 401, not 403). A 5xx is the server's fault, not the
    /// client's: its text goes to the log and the client gets the code and a fixed message.
    pub fn from_db(e: &tokio_postgres::error::DbError, anonymous: bool) -> ApiError {
        let code = e.code().code();
        let status = status_for_sqlstate(code, anonymous);
        // a developer's `RAISE SQLSTATE 'PT5xx'` chose its status and words for the client
        if status.is_server_error() && !code.starts_with("PT") {
            let (detail, hint) = (e.detail().unwrap_or(""), e.hint().unwrap_or(""));
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(sqlstate = code, detail, hint, "database error answered with {status}: {}", e.message());
            } else {
                // timeouts and an unavailable database are the load's doing, not a bug
                tracing::warn!(sqlstate = code, detail, hint, "database error answered with {status}: {}", e.message());
            }
            return ApiError::new(status, code, server_error_message(status));
        }
        let mut err = ApiError::new(status, code, e.message());
        err.details = e.detail().map(str::to_string);
        err.hint = e.hint().map(str::to_string);
        if status == StatusCode::UNAUTHORIZED {
            err.www_authenticate = Some("Bearer".into());
        }
        err
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
        tracing::error!("{context}: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "PGRST000", "internal error")
    }

    pub fn unavailable(context: &str, e: impl std::fmt::Display) -> ApiError {
        tracing::warn!("{context}: {e}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "PGRST000", "Database client error. Retrying the connection.")
    }
}

/// What a client reads for a 5xx the database raised (the database's own text is logged).
fn server_error_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => "The database is unavailable",
        StatusCode::GATEWAY_TIMEOUT => "The statement took too long and was canceled",
        _ => "internal error",
    }
}

/// PostgREST's SQLSTATE -> HTTP status table (Error.hs, pgErrorStatus). Mistakes in the
/// request that the database reports (class 22 data exceptions, class 42 syntax, undefined
/// columns, operators and casts, 42804 datatype mismatch) are 400; 42883 is 404 only for a
/// missing RPC function (`ApiError::missing_rpc_function`).
pub fn status_for_sqlstate(code: &str, anonymous: bool) -> StatusCode {
    let s = |n: u16| StatusCode::from_u16(n).unwrap_or(StatusCode::BAD_REQUEST);
    if let Some(custom) = code.strip_prefix("PT") {
        return custom.parse::<u16>().ok().and_then(|n| StatusCode::from_u16(n).ok()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    match code {
        "23503" | "23505" => s(409),
        "25006" => s(405),
        "P0001" => s(400),
        "42P01" => s(404),
        "42501" => {
            if anonymous {
                s(401)
            } else {
                s(403)
            }
        }
        // infinite recursion in a policy: the schema's fault, not the request's
        "42P17" => s(500),
        "57014" => s(504),
        "57P01" => s(503),
        _ => match code.get(..2).unwrap_or(code) {
            "08" | "53" => s(503),
            "09" | "25" | "2D" | "38" | "39" | "3B" | "40" | "55" | "57" | "58" | "F0" | "HV" | "P0" | "XX" => s(500),
            "0L" | "0P" | "28" => s(403),
            "54" => s(413),
            _ => s(400),
        },
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
        if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={}", this.code)) {
            headers.insert("proxy-status", v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::status_for_sqlstate;

    #[test]
    fn the_database_s_reports_of_client_mistakes_are_4xx() {
        for (code, status) in [
            ("22P02", 400),
            ("22P05", 400),
            ("22021", 400),
            ("42804", 400),
            ("42883", 400),
            ("42846", 400),
            ("0A000", 400),
            ("42P01", 404),
            ("42P17", 500),
            ("XX000", 500),
            ("57014", 504),
            ("57P01", 503),
            ("PT418", 418),
        ] {
            assert_eq!(status_for_sqlstate(code, false).as_u16(), status, "{code}");
        }
    }
}
