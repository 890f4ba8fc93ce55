//! ApiRequest: an HTTP request read into what the REST API needs, without touching the
//! database. Everything a client can get wrong here is a 4xx with a PostgREST error body.

pub mod field;
pub mod filter;
pub mod order;
pub mod prefer;
pub mod query_string;
pub mod select;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};

use crate::rest::error::ApiError;
use prefer::Preferences;
use query_string::QueryParams;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/rest/v1/`: the OpenAPI document
    Root,
    Relation(String),
    Rpc(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    SingleObject,
    Csv,
    OpenApi,
}

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub target: Target,
    pub schema: String,
    /// An explicit Accept-Profile / Content-Profile named the schema: echo it back.
    pub schema_negotiated: bool,
    pub query: QueryParams,
    pub prefer: Preferences,
    pub accept: MediaType,
    /// `Range: first-last` (GET and HEAD only): offset and optional last row
    pub range: Option<(i64, Option<i64>)>,
    pub token: Option<String>,
    pub body: Bytes,
    /// request headers as JSON object text with lower-case names, for `request.headers`
    pub headers_json: String,
    pub path: String,
}

impl ApiRequest {
    pub fn is_read(&self) -> bool {
        self.method == Method::GET || self.method == Method::HEAD
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `rest` is the path after `/rest/v1`, `raw_query` the undecoded query string.
pub fn parse(
    method: Method,
    rest: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
    schemas: &[String],
) -> Result<ApiRequest, ApiError> {
    let target = match rest.trim_start_matches('/') {
        "" => Target::Root,
        p => match p.strip_prefix("rpc/") {
            Some(f) if !f.is_empty() && !f.contains('/') => Target::Rpc(decode_path(f)),
            _ if p.contains('/') => return Err(ApiError::new(StatusCode::NOT_FOUND, "PGRST125", "Invalid path specified in request URL")),
            _ => Target::Relation(decode_path(p)),
        },
    };
    if let Target::Rpc(_) = target {
        if !matches!(method, Method::GET | Method::HEAD | Method::POST) {
            return Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "PGRST101", format!("Cannot use the {method} method on RPC")));
        }
    }
    let is_read = method == Method::GET || method == Method::HEAD;

    // schema: Accept-Profile for reads, Content-Profile for writes
    let profile_header = if is_read { "accept-profile" } else { "content-profile" };
    let (schema, schema_negotiated) = match header(headers, profile_header) {
        Some(s) if schemas.iter().any(|x| x == s) => (s.to_string(), true),
        Some(s) => {
            return Err(ApiError::new(StatusCode::NOT_ACCEPTABLE, "PGRST106", format!("Invalid schema: {s}"))
                .hint(format!("Only the following schemas are exposed: {}", schemas.join(", "))))
        }
        None => (schemas.first().cloned().unwrap_or_else(|| "public".into()), false),
    };

    let pairs: Vec<(String, String)> = raw_query
        .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    let query = query_string::parse(&pairs)?;

    let prefer = prefer::parse(headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()));
    let accept = media_type(header(headers, "accept").unwrap_or("*/*"), &target)?;
    let range = match header(headers, "range") {
        Some(value) if is_read => parse_range(value)?,
        _ => None,
    };
    let token = bearer(headers);

    Ok(ApiRequest {
        method,
        target,
        schema,
        schema_negotiated,
        query,
        prefer,
        accept,
        range,
        token,
        body,
        headers_json: headers_json(headers),
        path: rest.to_string(),
    })
}

/// The headers as a JSON object (names are lower-case in a HeaderMap): for a name sent more
/// than once, its last value that is text. Written straight to text, as it is sent.
fn headers_json(headers: &HeaderMap) -> String {
    let mut json = Vec::with_capacity(256);
    json.push(b'{');
    for name in headers.keys() {
        let Some(value) = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).next_back() else { continue };
        if json.len() > 1 {
            json.push(b',');
        }
        // writing a str into a Vec cannot fail
        let _ = serde_json::to_writer(&mut json, name.as_str());
        json.push(b':');
        let _ = serde_json::to_writer(&mut json, value);
    }
    json.push(b'}');
    String::from_utf8(json).unwrap_or_else(|_| "{}".to_string())
}

fn decode_path(p: &str) -> String {
    percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned()
}

/// `Authorization: Bearer <jwt>`, else the `apikey` header; none means anonymous.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    crate::engine::caller::token(headers)
}

fn media_type(accept: &str, target: &Target) -> Result<MediaType, ApiError> {
    let mut any = false;
    for item in accept.split(',') {
        let mime = item.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let found = match mime.as_str() {
            "application/json" | "application/*" | "*/*" | "" => {
                any = true;
                Some(if *target == Target::Root && mime != "application/json" { MediaType::OpenApi } else { MediaType::Json })
            }
            "application/vnd.pgrst.object+json" | "application/vnd.pgrst.object" => Some(MediaType::SingleObject),
            "text/csv" => Some(MediaType::Csv),
            "application/openapi+json" if *target == Target::Root => Some(MediaType::OpenApi),
            _ => None,
        };
        if let Some(m) = found {
            return Ok(m);
        }
    }
    let _ = any;
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "PGRST107",
        format!("None of these media types are available: {}", accept.split(',').map(str::trim).collect::<Vec<_>>().join(", ")),
    ))
}

/// `Range: 0-9` or `items=0-9` or `0-`. A range that does not parse is ignored, as PostgREST
/// ignores it; one whose last row comes before its first is a 416.
fn parse_range(value: &str) -> Result<Option<(i64, Option<i64>)>, ApiError> {
    let Some(spec) = value.rsplit('=').next().map(str::trim) else { return Ok(None) };
    let Some((first, last)) = spec.split_once('-') else { return Ok(None) };
    let Ok(first) = first.trim().parse::<i64>() else { return Ok(None) };
    let last = match last.trim() {
        "" => None,
        l => match l.parse::<i64>() {
            Ok(l) => Some(l),
            Err(_) => return Ok(None),
        },
    };
    if first < 0 {
        return Ok(None);
    }
    if last.is_some_and(|l| l < first) {
        return Err(ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "PGRST103", "Requested range not satisfiable")
            .details("The lower boundary must be lower than or equal to the upper boundary in the Range header."));
    }
    Ok(Some((first, last)))
}

#[cfg(test)]
mod parser_tests;
