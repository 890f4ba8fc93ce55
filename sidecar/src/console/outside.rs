//! A console session's token (`bknd-console:SESSION`) is made by the console's own handlers and
//! handed to the engine in-process. From outside (REST, auth, storage, realtime, MCP) it is
//! refused: there it would skip the console's cross-site guard, its View as checks and its audit
//! log. Requests the console forwards in-process never pass through this layer.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Whether `text` carries a console token, as sent or percent-encoded in a query.
pub fn names_console_token(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("bknd-console:") || lower.contains("bknd-console%3a")
}

pub async fn layer(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let in_headers = ["authorization", "apikey", "x-api-key"]
        .iter()
        .flat_map(|name| headers.get_all(*name).iter())
        .any(|v| v.to_str().is_ok_and(names_console_token));
    let in_query = request.uri().query().is_some_and(names_console_token);
    if in_headers || in_query {
        let body = json!({"code": "console_token", "message": "a console session is used only through the console (/console/)"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    next.run(request).await
}
