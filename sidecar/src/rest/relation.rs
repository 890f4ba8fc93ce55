//! `/rest/v1/{table}`: GET/HEAD read, POST insert or upsert, PUT single-row upsert, PATCH
//! update, DELETE.

use axum::body::Body;
use axum::http::{header, HeaderName, Method, Response, StatusCode};
use serde_json::Value;

use super::error::ApiError;
use super::execute::{self, Finish, Statement};
use super::plan::{Planner, ReadNode, Source};
use super::query::mutate::{write_statement, Write, WriteSpec, SOURCE_CTE, TARGET_ALIAS};
use super::query::read::{planned_count_statement, read_statement, BodyShape, CountSql, ESTIMATE_THRESHOLD};
use super::query::where_clause::conditions;
use super::query::Sql;
use super::request::filter::{Logic, Operation};
use super::request::prefer::{Count, Resolution, Return};
use super::request::query_string::root_filters;
use super::request::{ApiRequest, MediaType};
use super::response::{content_range, preference_applied, Reply};
use super::schema::{Relation, SchemaCache};
use crate::state::AppState;

pub async fn handle(state: &AppState, cache: &SchemaCache, req: &ApiRequest, name: &str) -> Result<Response<Body>, ApiError> {
    let Some(rel) = cache.relation(&req.schema, name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST205",
            format!("Could not find the table '{}.{name}' in the schema cache", req.schema),
        ));
    };
    match req.method {
        Method::GET | Method::HEAD => read(state, cache, req, rel).await,
        Method::POST => write(state, cache, req, rel, WriteKind::Insert).await,
        Method::PUT => write(state, cache, req, rel, WriteKind::Put).await,
        Method::PATCH => write(state, cache, req, rel, WriteKind::Update).await,
        Method::DELETE => write(state, cache, req, rel, WriteKind::Delete).await,
        _ => Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "PGRST117", format!("Unsupported HTTP method: {}", req.method))),
    }
}

fn shape(req: &ApiRequest) -> BodyShape {
    if req.accept == MediaType::SingleObject {
        BodyShape::Object
    } else {
        BodyShape::Array
    }
}

fn columns(rel: &Relation) -> Vec<String> {
    rel.columns.iter().map(|c| c.name.clone()).collect()
}

/// 406 unless exactly one row: the write is rolled back.
fn single_row_check(accept: MediaType, rows: i64) -> Result<(), ApiError> {
    if accept == MediaType::SingleObject && rows != 1 {
        return Err(ApiError::new(StatusCode::NOT_ACCEPTABLE, "PGRST116", "Cannot coerce the result to a single JSON object")
            .details(format!("The result contains {rows} rows")));
    }
    Ok(())
}

async fn read(state: &AppState, cache: &SchemaCache, req: &ApiRequest, rel: &Relation) -> Result<Response<Body>, ApiError> {
    let filters = root_filters(&req.query.plain)?;
    let mut planner = Planner::new(cache, &req.query);
    let mut root = planner.read(
        Source::Table { schema: rel.schema.clone(), name: rel.name.clone() },
        Some((&rel.schema, &rel.name)),
        Some(columns(rel)),
        filters,
    )?;
    apply_range(req, &mut root);
    let mut sql = Sql::default();
    let text = read_statement(&mut sql, &root, count_sql(req), shape(req))?;
    let accept = req.accept;
    let blind_commit = req.accept != MediaType::SingleObject;
    let mut stmt = Statement::new(text, sql, true, blind_commit);
    stmt.explain = explain_for(req, &root)?;
    let outcome = execute::run(state, req, stmt, move |row| {
        single_row_check(accept, execute::int(row, "page_total").unwrap_or(0))?;
        Ok(Finish::Commit)
    })
    .await?;
    read_reply(req, &root, &outcome)
}

/// What the read statement itself counts, for each `Prefer: count=`.
pub fn count_sql(req: &ApiRequest) -> CountSql {
    match req.prefer.count {
        None | Some(Count::Planned) => CountSql::None,
        Some(Count::Exact) => CountSql::Exact,
        Some(Count::Estimated) => CountSql::AtMost(ESTIMATE_THRESHOLD + 1),
    }
}

pub fn explain_for(req: &ApiRequest, root: &ReadNode) -> Result<Option<(String, Sql)>, ApiError> {
    match req.prefer.count {
        Some(Count::Planned) | Some(Count::Estimated) => Ok(Some(planned_count_statement(root)?)),
        _ => Ok(None),
    }
}

/// The total for Content-Range: exact, the planner's estimate, or exact up to the threshold.
fn total(req: &ApiRequest, outcome: &execute::Outcome) -> Option<i64> {
    let counted = execute::int(&outcome.row, "total");
    match req.prefer.count {
        None => None,
        Some(Count::Exact) => counted,
        Some(Count::Planned) => outcome.planned,
        Some(Count::Estimated) => match counted {
            Some(n) if n <= ESTIMATE_THRESHOLD => Some(n),
            _ => outcome.planned.map(|p| p.max(ESTIMATE_THRESHOLD + 1)),
        },
    }
}

/// The Range header narrows limit and offset.
pub fn apply_range(req: &ApiRequest, root: &mut ReadNode) {
    if let Some((first, last)) = req.range {
        let offset = root.offset.unwrap_or(0).max(first);
        root.offset = Some(offset);
        if let Some(last) = last {
            // saturating: `Range: 0-9223372036854775807` is all rows, not an overflow
            let n = last.saturating_sub(first).saturating_add(1).max(0);
            root.limit = Some(root.limit.map_or(n, |l| l.min(n)));
        }
    }
}

pub fn read_reply(req: &ApiRequest, root: &ReadNode, outcome: &execute::Outcome) -> Result<Response<Body>, ApiError> {
    let row = &outcome.row;
    let total = total(req, outcome);
    let page = execute::int(row, "page_total").unwrap_or(0);
    let offset = root.offset.unwrap_or(0);
    if let Some(t) = total {
        if offset > 0 && offset > t {
            let mut err = ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "PGRST103", "Requested range not satisfiable")
                .details(format!("An offset of {offset} was requested, but there are only {t} rows."));
            err.content_range = Some(format!("*/{t}"));
            return Err(err);
        }
    }
    let status = match total {
        Some(t) if page < t => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    let body = execute::text(row, "body").unwrap_or_else(|| "[]".into());
    let reply = Reply::new(status).header(header::CONTENT_RANGE, content_range(offset, page, total)).with_body(req, body);
    Ok(reply.finish(req))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Insert,
    Put,
    Update,
    Delete,
}

/// The JSON body: an object or an array of objects.
fn body_json(req: &ApiRequest) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(|_| ApiError::body("Empty or invalid json"))?;
    match &v {
        Value::Object(_) => Ok(v),
        Value::Array(items) if items.iter().all(Value::is_object) => Ok(v),
        _ => Err(ApiError::body("Empty or invalid json")),
    }
}

/// The columns a write sets: `?columns=`, else the keys of the body's objects (which must all
/// have the same keys).
fn write_columns(req: &ApiRequest, rel: &Relation, body: &Value) -> Result<Vec<String>, ApiError> {
    let columns: Vec<String> = match &req.query.columns {
        Some(cols) => cols.clone(),
        None => {
            let objects: Vec<&serde_json::Map<String, Value>> = match body {
                Value::Object(o) => vec![o],
                Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
                _ => vec![],
            };
            let Some(first) = objects.first() else { return Ok(vec![]) };
            let keys: Vec<String> = first.keys().cloned().collect();
            for o in &objects[1..] {
                if o.len() != keys.len() || !keys.iter().all(|k| o.contains_key(k)) {
                    return Err(ApiError::body("All object keys must match"));
                }
            }
            keys
        }
    };
    for c in &columns {
        if rel.column(c).is_none() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "PGRST204",
                format!("Could not find the '{c}' column of '{}' in the schema cache", rel.name),
            ));
        }
    }
    Ok(columns)
}

async fn write(
    state: &AppState,
    cache: &SchemaCache,
    req: &ApiRequest,
    rel: &Relation,
    kind: WriteKind,
) -> Result<Response<Body>, ApiError> {
    let mut sql = Sql::default();
    // the write's own filters: the plain pairs and the root's logic trees
    let mut filters = root_filters(&req.query.plain)?;
    filters.extend(req.query.root().filters);
    let body = match kind {
        WriteKind::Delete => Value::Null,
        _ => body_json(req)?,
    };
    let write = match kind {
        WriteKind::Insert | WriteKind::Put => {
            let columns = write_columns(req, rel, &body)?;
            let on_conflict = match (kind, req.prefer.resolution) {
                (WriteKind::Put, _) => Some((rel.pk.clone(), true)),
                (_, Some(r)) => {
                    let keys = req.query.on_conflict.clone().unwrap_or_else(|| rel.pk.clone());
                    if keys.is_empty() {
                        return Err(ApiError::body("An upsert needs a primary key or on_conflict"));
                    }
                    Some((keys, r == Resolution::MergeDuplicates))
                }
                _ => None,
            };
            if kind == WriteKind::Put {
                check_put(rel, &body, &filters)?;
            }
            let defaults = req
                .prefer
                .missing_default
                .then(|| columns.iter().map(|c| (c.clone(), rel.column(c).and_then(|col| col.default.clone()))).collect());
            Write::Insert { columns, on_conflict, defaults }
        }
        WriteKind::Update => {
            let Value::Object(obj) = &body else { return Err(ApiError::body("A PATCH body must be a JSON object")) };
            let columns = match &req.query.columns {
                Some(c) => c.clone(),
                None => obj.keys().cloned().collect(),
            };
            for c in &columns {
                if rel.column(c).is_none() {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "PGRST204",
                        format!("Could not find the '{c}' column of '{}' in the schema cache", rel.name),
                    ));
                }
            }
            Write::Update { columns }
        }
        WriteKind::Delete => Write::Delete,
    };
    let body_param = match kind {
        WriteKind::Delete => None,
        // the body as sent (it parsed as JSON above, so it is UTF-8): re-serialising the
        // parsed value would round numbers beyond f64 (`numeric` columns, big `bigint`s)
        _ => Some(sql.param(String::from_utf8_lossy(&req.body).into_owned())),
    };
    let conds = if kind == WriteKind::Put { vec![] } else { conditions(&mut sql, TARGET_ALIAS, &filters) };
    let nothing_to_update = matches!(&write, Write::Update { columns } if columns.is_empty());
    let spec = WriteSpec { schema: &rel.schema, table: &rel.name, write, conditions: conds, body_param, pk: rel.pk.clone() };

    let ret = req.prefer.return_.unwrap_or(Return::Minimal);
    let representation = ret == Return::Representation || req.accept == MediaType::SingleObject;
    let mut read_query = req.query.clone();
    if let Some(root) = read_query.nodes.get_mut(&Vec::new()) {
        root.filters.clear();
    }
    let read = if representation {
        let mut planner = Planner::new(cache, &read_query);
        Some(planner.read(Source::Cte(SOURCE_CTE.into()), Some((&rel.schema, &rel.name)), Some(columns(rel)), vec![])?)
    } else {
        None
    };
    if nothing_to_update {
        // PATCH with {}: nothing to set, nothing changes
        let mut reply = Reply::new(if representation { StatusCode::OK } else { StatusCode::NO_CONTENT });
        reply = reply.header(header::CONTENT_RANGE, "*/*");
        if representation {
            reply = reply.with_body(req, "[]".into());
        }
        return Ok(reply.finish(req));
    }
    let count = req.prefer.count.is_some();
    let text = write_statement(&mut sql, &spec, read.as_ref(), count, shape(req))?;
    let (accept, tx_rollback) = (req.accept, req.prefer.tx_rollback);
    let blind_commit = req.accept != MediaType::SingleObject && !tx_rollback;
    let row = execute::run(state, req, Statement::new(text, sql, false, blind_commit), move |row| {
        single_row_check(accept, execute::int(row, "page_total").unwrap_or(0))?;
        Ok(if tx_rollback { Finish::Rollback } else { Finish::Commit })
    })
    .await?
    .row;

    let total = execute::int(&row, "total");
    let page = execute::int(&row, "page_total").unwrap_or(0);
    let inserted = execute::int(&row, "inserted").unwrap_or(0);
    let status = match kind {
        WriteKind::Insert | WriteKind::Put => {
            if req.prefer.resolution.is_some() || kind == WriteKind::Put {
                if inserted > 0 {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                }
            } else {
                StatusCode::CREATED
            }
        }
        _ if representation => StatusCode::OK,
        _ => StatusCode::NO_CONTENT,
    };
    let range = match kind {
        WriteKind::Update => content_range(0, page, total),
        _ => content_range(1, 0, total),
    };
    let mut reply = Reply::new(status).header(header::CONTENT_RANGE, range);
    if let Some((n, v)) = preference_applied(req) {
        reply = reply.header(n, v);
    }
    if matches!(kind, WriteKind::Insert) && ret == Return::HeadersOnly {
        if let Some(loc) = execute::text(&row, "location").and_then(|l| location(&rel.name, &l)) {
            reply = reply.header(HeaderName::from_static("location"), loc);
        }
    }
    if representation {
        reply = reply.with_body(req, execute::text(&row, "body").unwrap_or_else(|| "[]".into()));
    }
    Ok(reply.finish(req))
}

/// `/table?pk=eq.value` from the first written row's primary key (as JSON).
fn location(table: &str, pk_json: &str) -> Option<String> {
    let Value::Object(map) = serde_json::from_str::<Value>(pk_json).ok()? else { return None };
    let parts: Vec<String> = map
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}=eq.{}", enc(k), enc(&v))
        })
        .collect();
    Some(format!("/{table}?{}", parts.join("&")))
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%5F", "_")
        .replace("%2D", "-")
        .replace("%2E", ".")
}

/// PUT: the URL filters every primary key column with `eq`, and the body is one row whose key
/// matches them.
fn check_put(rel: &Relation, body: &Value, filters: &[Logic]) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "PGRST105",
            "Filters must include all and only primary key columns with 'eq' operators",
        )
    };
    if rel.pk.is_empty() || filters.len() != rel.pk.len() {
        return Err(invalid());
    }
    let row = match body {
        Value::Object(o) => o.clone(),
        Value::Array(items) if items.len() == 1 => items[0].as_object().cloned().unwrap_or_default(),
        _ => return Err(ApiError::body("PUT payload must contain a single row")),
    };
    for f in filters {
        let Logic::Filter(f) = f else { return Err(invalid()) };
        let Operation::Compare { op: "=", quantifier: None, value } = &f.operation else { return Err(invalid()) };
        if f.negate || !f.field.json_path.is_empty() || !rel.pk.contains(&f.field.name) {
            return Err(invalid());
        }
        let matches = match row.get(&f.field.name) {
            Some(Value::String(s)) => s == value,
            // the URL's text against the body's JSON text (a number, a boolean), as written
            #[allow(clippy::cmp_owned)]
            Some(other) => *value == other.to_string(),
            None => false,
        };
        if !matches {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "PGRST115", "Payload values do not match URL in primary key column(s)"));
        }
    }
    Ok(())
}
