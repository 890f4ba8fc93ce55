//! `GET /console/api/export/{table}?format=csv|json[&schema=S][&view_as=V][&filter=F]`: a whole
//! table (or what a filter keeps) streamed to the browser as a download, never held whole in
//! memory on either side. The rows are read as the member (or as whom View as names) through
//! the REST API, so the same RLS decides (F is the grid's filter, PostgREST pairs such as
//! `title=eq.a&price=lt.10`, itself URL-encoded), in keyset pages of 5,000 in primary-key order; a
//! table without a one-column key is read in offset pages ordered by its key (or all its columns).
//! `probe=1` reads one row and answers 204 or the error, so the page can show a refusal before
//! it starts a download that could only fail.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use futures_util::{stream, StreamExt};
use serde_json::Value;

use super::api::{console_token, parse_view_as, record};
use super::error::ConsoleError;
use super::session::required;
use crate::state::AppState;

const PAGE: usize = 5000;
/// Query parameters that shape the page itself: a filter may not set them.
const RESERVED: [&str; 7] = ["select", "order", "limit", "offset", "columns", "on_conflict", "and_cursor"];

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Json,
}

/// Where the previous page ended.
#[derive(Clone)]
enum Cursor {
    Start,
    After(String),
    Offset(usize),
    Done,
}

/// What every page of one export shares.
struct Export {
    state: AppState,
    token: String,
    schema: String,
    table: String,
    filters: Vec<(String, String)>,
    columns: Vec<String>,
    /// the one-column primary key that keyset pages follow
    key: Option<String>,
    order: String,
    format: Format,
}

pub async fn export(
    State(state): State<AppState>,
    Path(table): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response<Body>, ConsoleError> {
    let session = required(&headers)?;
    let (mut format, mut schema, mut view, mut probe, mut filters) = (Format::Csv, "public".to_string(), None, false, Vec::new());
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "format" => {
                format = match v.as_ref() {
                    "csv" => Format::Csv,
                    "json" => Format::Json,
                    _ => return Err(ConsoleError::bad_request("format is csv or json")),
                }
            }
            "schema" => schema = v.into_owned(),
            "view_as" => view = parse_view_as(&v)?,
            "probe" => probe = v == "1",
            "filter" => {
                for (column, condition) in form_urlencoded::parse(v.as_bytes()) {
                    if column.is_empty() || RESERVED.contains(&column.as_ref()) {
                        return Err(ConsoleError::bad_request(format!("the filter takes column=operator.value pairs, not {column:?}")));
                    }
                    filters.push((column.into_owned(), condition.into_owned()));
                }
            }
            other => {
                return Err(ConsoleError::bad_request(format!("unknown parameter {other:?}: format, schema, view_as, filter or probe")))
            }
        }
    }
    let cache = match state.schema.wait(std::time::Duration::from_secs(5)).await {
        Some(c) if c.relation(&schema, &table).is_some() => c,
        _ => state
            .schema
            .refresh(std::time::Duration::from_secs(2))
            .await
            .ok_or_else(|| ConsoleError::new(503, "unavailable", "the schema is not loaded yet"))?,
    };
    let Some(relation) = cache.relation(&schema, &table) else {
        return Err(ConsoleError::new(404, "not_found", format!("no table {schema}.{table}")));
    };
    let columns: Vec<String> = relation.columns.iter().map(|c| c.name.clone()).collect();
    let key = (relation.pk.len() == 1).then(|| relation.pk[0].clone());
    // without a key, every column that has an order (json has none), so offset pages are stable
    // unless two rows are equal throughout
    let order_by = if relation.pk.is_empty() {
        relation.columns.iter().filter(|c| !matches!(c.type_name.as_str(), "json" | "xml" | "point")).map(|c| c.name.clone()).collect()
    } else {
        relation.pk.clone()
    };
    let order = order_by.iter().map(|c| format!("{c}.asc")).collect::<Vec<_>>().join(",");
    let export = Export {
        state: state.clone(),
        token: console_token(&session, view.as_deref()),
        schema,
        table: table.clone(),
        filters,
        columns,
        key,
        order,
        format,
    };

    // the first page before answering: a refusal or a bad filter is an error, not a broken file
    let limit = if probe { 1 } else { PAGE };
    let first = export.page(&Cursor::Start, limit).await?;
    if probe {
        return Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Body::empty()).unwrap_or_default());
    }
    let detail =
        serde_json::json!({"format": if format == Format::Csv { "csv" } else { "json" }, "view_as": view, "filters": export.filters});
    record(&state, &session, "export".to_string(), Some(format!("{}.{}", export.schema, table)), detail).await;

    let file = format!(
        "{}.{}",
        table.replace(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)), "_"),
        if format == Format::Csv { "csv" } else { "json" }
    );
    let content_type = if format == Format::Csv { "text/csv; charset=utf-8" } else { "application/json" };
    let opening = match format {
        Format::Csv => csv_line(export.columns.iter().map(|c| Some(c.clone()))),
        Format::Json => "[".to_string(),
    };
    let (rows, next) = first;
    let head = Bytes::from(opening + &export.chunk(&rows, true));
    if rows.last_page {
        // one page held everything
        let mut text = head.to_vec();
        if format == Format::Json {
            text.extend_from_slice(b"\n]\n");
        }
        return Ok(download(Body::from(text), content_type, &file));
    }
    // a full first page came before: every later row follows a comma
    let rest = stream::unfold((export, next), |(export, cursor)| async move {
        match cursor {
            Cursor::Done => None,
            cursor => match export.page(&cursor, PAGE).await {
                Ok((rows, next)) => {
                    let mut text = export.chunk(&rows, false);
                    if matches!(next, Cursor::Done) && export.format == Format::Json {
                        text.push_str("\n]\n");
                    }
                    Some((Ok::<_, std::io::Error>(Bytes::from(text)), (export, next)))
                }
                // the status is sent: a failure now can only end the download as broken
                Err(e) => {
                    tracing::warn!(table = %export.table, failure = %e.message, "console: an export ended early");
                    Some((Err(std::io::Error::other(e.message)), (export, Cursor::Done)))
                }
            },
        }
    });
    let body = Body::from_stream(stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(rest));
    Ok(download(body, content_type, &file))
}

fn download(body: Body, content_type: &'static str, file: &str) -> Response<Body> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

struct Rows {
    items: Vec<serde_json::Map<String, Value>>,
    last_page: bool,
}

impl Export {
    /// One page after `cursor`, and where the next one starts.
    async fn page(&self, cursor: &Cursor, limit: usize) -> Result<(Rows, Cursor), ConsoleError> {
        // built apart: the serializer may not live across the await below
        let query = self.query(cursor, limit);
        let uri = format!("/rest/v1/{}?{}", utf8_path(&self.table), query);
        let request = Request::builder()
            .method("GET")
            .uri(uri)
            .header("accept-profile", self.schema.as_str())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .body(Body::empty())
            .map_err(|e| ConsoleError::bad_request(e.to_string()))?;
        let response = crate::rest::handle_internal(&self.state, request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|_| ConsoleError::new(502, "server_error", "the rows could not be read"))?;
        if !status.is_success() {
            let error: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = error["message"].as_str().unwrap_or("the rows could not be read").to_string();
            let code = match status.as_u16() {
                401 | 403 => "forbidden",
                404 => "not_found",
                s if s >= 500 => "server_error",
                _ => "bad_request",
            };
            return Err(ConsoleError::new(status.as_u16(), code, message));
        }
        let items: Vec<serde_json::Map<String, Value>> =
            serde_json::from_slice(&bytes).map_err(|_| ConsoleError::new(502, "server_error", "the rows could not be read"))?;
        let last_page = items.len() < limit;
        let next = match (&self.key, items.last()) {
            _ if last_page => Cursor::Done,
            (Some(key), Some(row)) => Cursor::After(value_text(&row[key.as_str()]).unwrap_or_default()),
            _ => Cursor::Offset(match cursor {
                Cursor::Offset(n) => n + items.len(),
                _ => items.len(),
            }),
        };
        Ok((Rows { items, last_page }, next))
    }

    /// The REST query of one page.
    fn query(&self, cursor: &Cursor, limit: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.filters {
            query.append_pair(k, v);
        }
        query.append_pair("select", "*").append_pair("order", &self.order).append_pair("limit", &limit.to_string());
        match (cursor, &self.key) {
            (Cursor::After(last), Some(key)) => {
                query.append_pair(key, &format!("gt.{last}"));
            }
            (Cursor::Offset(n), _) => {
                query.append_pair("offset", &n.to_string());
            }
            _ => {}
        }
        query.finish().replace('+', "%20")
    }

    /// A page's rows as text; `first` says no row was written before (JSON's commas).
    fn chunk(&self, rows: &Rows, first: bool) -> String {
        let mut out = String::new();
        for (i, row) in rows.items.iter().enumerate() {
            match self.format {
                Format::Csv => out.push_str(&csv_line(self.columns.iter().map(|c| value_text(row.get(c).unwrap_or(&Value::Null))))),
                Format::Json => {
                    out.push_str(if first && i == 0 { "\n" } else { ",\n" });
                    out.push_str(&Value::Object(row.clone()).to_string());
                }
            }
        }
        out
    }
}

/// A table name in a URL path.
fn utf8_path(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A value as a CSV field's text: NULL is none; objects and arrays are their JSON.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// One RFC 4180 record: fields with a comma, a quote, a line break or edge spaces are quoted.
fn csv_line(fields: impl Iterator<Item = Option<String>>) -> String {
    let mut line = fields
        .map(|f| match f {
            None => String::new(),
            Some(t) if t.contains([',', '"', '\r', '\n']) || t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace) => {
                format!("\"{}\"", t.replace('"', "\"\""))
            }
            Some(t) => t,
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        let line = csv_line(
            [Some("plain".into()), None, Some("a, b".into()), Some("say \"hi\"".into()), Some("two\nlines".into()), Some(" edge".into())]
                .into_iter(),
        );
        assert_eq!(line, "plain,,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",\" edge\"\r\n");
        assert_eq!(value_text(&serde_json::json!({"a": [1]})).as_deref(), Some("{\"a\":[1]}"));
        assert_eq!(value_text(&Value::Null), None);
        assert_eq!(value_text(&serde_json::json!(true)).as_deref(), Some("true"));
    }
}
