//! Status and headers for a REST response, as PostgREST sets them.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::Value;

use super::request::{ApiRequest, MediaType};

pub struct Reply {
    pub status: StatusCode,
    pub body: Option<String>,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(HeaderName, String)>,
}

impl Reply {
    pub fn new(status: StatusCode) -> Reply {
        Reply { status, body: None, content_type: None, headers: Vec::new() }
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// The body in the media type the client asked for.
    pub fn with_body(mut self, req: &ApiRequest, json: String) -> Reply {
        match req.accept {
            MediaType::Csv => {
                self.body = Some(json_to_csv(&json));
                self.content_type = Some("text/csv; charset=utf-8");
            }
            MediaType::SingleObject => {
                self.body = Some(json);
                self.content_type = Some("application/vnd.pgrst.object+json; charset=utf-8");
            }
            _ => {
                self.body = Some(json);
                self.content_type = Some("application/json; charset=utf-8");
            }
        }
        self
    }

    pub fn finish(self, req: &ApiRequest) -> Response<Body> {
        let head_only = req.method == axum::http::Method::HEAD;
        let mut builder = Response::builder().status(self.status);
        if let Some(ct) = self.content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                builder = builder.header(name, v);
            }
        }
        if req.schema_negotiated {
            builder = builder.header("content-profile", req.schema.as_str());
        }
        let body = match (head_only, self.body) {
            (false, Some(b)) => Body::from(b),
            _ => Body::empty(),
        };
        builder.body(body).unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// `first-last/total`, `*/total`, with `*` for an unknown total.
pub fn content_range(offset: i64, page: i64, total: Option<i64>) -> String {
    let total = total.map(|t| t.to_string()).unwrap_or_else(|| "*".into());
    if page > 0 {
        format!("{}-{}/{total}", offset, offset.saturating_add(page - 1))
    } else {
        format!("*/{total}")
    }
}

pub fn preference_applied(req: &ApiRequest) -> Option<(HeaderName, String)> {
    if req.prefer.applied.is_empty() {
        None
    } else {
        Some((HeaderName::from_static("preference-applied"), req.prefer.applied.join(", ")))
    }
}

/// A JSON array of objects as CSV: a header line of the first object's keys, then the rows.
fn json_to_csv(json: &str) -> String {
    let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(json) else { return String::new() };
    let Some(Value::Object(first)) = rows.first() else { return String::new() };
    let keys: Vec<&String> = first.keys().collect();
    let mut lines = vec![keys.iter().map(|k| csv_field(k)).collect::<Vec<_>>().join(",")];
    for row in &rows {
        let cells: Vec<String> = keys
            .iter()
            .map(|k| match row.get(k.as_str()) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => csv_field(s),
                Some(other) => csv_field(&other.to_string()),
            })
            .collect();
        lines.push(cells.join(","));
    }
    lines.join("\n")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
