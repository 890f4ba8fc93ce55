//! `/rest/v1/rpc/{function}`: POST with JSON arguments, GET/HEAD with query arguments (in a
//! READ ONLY transaction). Set-returning functions of rows accept select, filters and order.

use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::execute::{self, Finish, Statement};
use super::plan::{Planner, Source};
use super::query::read::planned_count_statement_after;
use super::query::read::{read_statement, BodyShape};
use super::query::{ident, qualified, Sql};
use super::relation::count_sql;
use super::relation::{apply_range, read_reply};
use super::request::prefer::Count;
use super::request::query_string::root_filters;
use super::request::{ApiRequest, MediaType};
use super::response::Reply;
use super::schema::{Function, ReturnKind, SchemaCache};
use crate::state::AppState;

pub async fn handle(state: &AppState, cache: &SchemaCache, req: &ApiRequest, name: &str) -> Result<Response<Body>, ApiError> {
    let overloads = cache.functions.get(&(req.schema.clone(), name.to_string())).cloned().unwrap_or_default();
    let is_get = req.method == Method::GET || req.method == Method::HEAD;

    // arguments, and for GET the pairs left over as filters
    let (args, leftover): (Map<String, Value>, Vec<(String, String)>) = if is_get {
        let arg_names: Vec<&str> = overloads.iter().flat_map(|f| f.args.iter().map(|a| a.name.as_str())).collect();
        let mut args = Map::new();
        let mut rest = Vec::new();
        for (k, v) in &req.query.plain {
            let looks_like_filter =
                super::request::filter::parse_filter(super::request::field::Field { name: k.clone(), json_path: vec![] }, v).is_ok();
            if arg_names.contains(&k.as_str()) || !looks_like_filter {
                args.insert(k.clone(), Value::String(v.clone()));
            } else {
                rest.push((k.clone(), v.clone()));
            }
        }
        (args, rest)
    } else {
        let body: Value = if req.body.is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&req.body).map_err(|_| ApiError::body("Empty or invalid json"))?
        };
        match body {
            Value::Object(m) => (m, req.query.plain.clone()),
            other => {
                // a single unnamed json parameter takes the whole body
                let mut m = Map::new();
                m.insert(String::new(), other);
                (m, req.query.plain.clone())
            }
        }
    };

    let function = choose(&overloads, &args, &req.body, is_get).ok_or_else(|| not_found(&req.schema, name, &args, &overloads))?;
    let mut sql = Sql::default();
    let call = call_sql(&mut sql, function, &args, &req.body, is_get);
    // the call's own parameters, for a planned count's EXPLAIN of the same call
    let call_params = sql.clone();
    let read_only = is_get || !function.volatile;
    let count = req.prefer.count.is_some();

    match function.return_kind {
        ReturnKind::Composite => {
            let relation = match (&function.return_schema, &function.return_table) {
                (Some(s), Some(t)) if cache.relation(s, t).is_some() => Some((s.clone(), t.clone())),
                _ => None,
            };
            let columns =
                relation.as_ref().and_then(|(s, t)| cache.relation(s, t)).map(|r| r.columns.iter().map(|c| c.name.clone()).collect());
            let filters = root_filters(&leftover)?;
            let mut planner = Planner::new(cache, &req.query);
            let mut root = planner.read(Source::Call(call), relation.as_ref().map(|(s, t)| (s.as_str(), t.as_str())), columns, filters)?;
            apply_range(req, &mut root);
            let shape = if req.accept == MediaType::SingleObject || !function.returns_set { BodyShape::Object } else { BodyShape::Array };
            let text = read_statement(&mut sql, &root, count_sql(req), shape)?;
            let single = req.accept == MediaType::SingleObject;
            let tx_rollback = req.prefer.tx_rollback;
            let blind_commit = !single && !req.prefer.tx_rollback;
            let mut stmt = Statement::new(text, sql, read_only, blind_commit);
            stmt.explain = match req.prefer.count {
                Some(Count::Planned) | Some(Count::Estimated) => Some(planned_count_statement_after(&root, call_params)?),
                _ => None,
            };
            let outcome = execute::run(state, req, stmt, move |row| {
                let page = execute::int(row, "page_total").unwrap_or(0);
                if single && page != 1 {
                    return Err(ApiError::new(StatusCode::NOT_ACCEPTABLE, "PGRST116", "Cannot coerce the result to a single JSON object")
                        .details(format!("The result contains {page} rows")));
                }
                Ok(if tx_rollback { Finish::Rollback } else { Finish::Commit })
            })
            .await
            .map_err(|e| e.missing_rpc_function(&function.schema, &function.name))?;
            if !function.returns_set && execute::text(&outcome.row, "body").as_deref() == Some("") {
                let reply = Reply::new(StatusCode::OK).with_body(req, "null".into());
                return Ok(reply.finish(req));
            }
            read_reply(req, &root, &outcome)
        }
        ReturnKind::Scalar | ReturnKind::Void => {
            let body = if function.returns_set {
                format!("(SELECT coalesce(pg_catalog.json_agg(_v), '[]'::json)::text FROM {call} AS _v)")
            } else if function.return_kind == ReturnKind::Void {
                format!("({call})::text")
            } else {
                format!("pg_catalog.to_json({call})::text")
            };
            let text = format!("SELECT NULL::bigint AS total, 1::bigint AS page_total, {body} AS body");
            let blind_commit = !req.prefer.tx_rollback;
            let tx_rollback = req.prefer.tx_rollback;
            let row = execute::run(state, req, Statement::new(text, sql, read_only, blind_commit), move |_| {
                Ok(if tx_rollback { Finish::Rollback } else { Finish::Commit })
            })
            .await
            .map_err(|e| e.missing_rpc_function(&function.schema, &function.name))?
            .row;
            if function.return_kind == ReturnKind::Void {
                return Ok(Reply::new(StatusCode::NO_CONTENT).finish(req));
            }
            let body = execute::text(&row, "body").unwrap_or_else(|| "null".into());
            let reply = Reply::new(StatusCode::OK)
                .header(axum::http::header::CONTENT_RANGE, if count { "0-0/1" } else { "0-0/*" })
                .with_body(req, body);
            Ok(reply.finish(req))
        }
    }
}

fn single_json_param(f: &Function) -> bool {
    f.args.len() == 1 && f.args[0].name.is_empty() && matches!(f.args[0].type_name.as_str(), "json" | "jsonb")
}

/// The overload whose arguments fit the given names: every required one given, nothing unknown.
fn choose<'a>(overloads: &'a [Function], args: &Map<String, Value>, body: &[u8], is_get: bool) -> Option<&'a Function> {
    if !is_get && !body.is_empty() {
        if let Some(f) = overloads.iter().find(|f| single_json_param(f)) {
            return Some(f);
        }
    }
    overloads.iter().find(|f| {
        let known = args.keys().all(|k| f.args.iter().any(|a| &a.name == k));
        let required = f.args.iter().filter(|a| !a.has_default && !a.variadic).all(|a| args.contains_key(&a.name));
        known && required
    })
}

fn call_sql(sql: &mut Sql, f: &Function, args: &Map<String, Value>, body: &[u8], is_get: bool) -> String {
    let name = qualified(&f.schema, &f.name);
    if !is_get && single_json_param(f) {
        let p = sql.param(String::from_utf8_lossy(body).into_owned());
        return format!("{name}({p}::{})", f.args[0].type_name);
    }
    let mut parts = Vec::new();
    for a in &f.args {
        let Some(v) = args.get(&a.name) else { continue };
        let text = match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            // arrays for array parameters: JSON arrays become Postgres arrays through json
            other => Some(other.to_string()),
        };
        let placeholder = match text {
            Some(t) if a.type_name.ends_with("[]") && v.is_array() => {
                let p = sql.param(t);
                format!("ARRAY(SELECT pg_catalog.json_array_elements_text({p}::json))::{}", a.type_name)
            }
            Some(t) => format!("{}::{}", sql.param(t), a.type_name),
            None => format!("{}::{}", sql.null_param(), a.type_name),
        };
        let variadic = if a.variadic { "VARIADIC " } else { "" };
        parts.push(format!("{variadic}{} := {placeholder}", ident(&a.name)));
    }
    format!("{name}({})", parts.join(", "))
}

fn not_found(schema: &str, name: &str, args: &Map<String, Value>, overloads: &[Function]) -> ApiError {
    let given: Vec<&str> = args.keys().map(String::as_str).collect();
    let mut err = ApiError::new(
        StatusCode::NOT_FOUND,
        "PGRST202",
        format!("Could not find the function {schema}.{name}({}) in the schema cache", given.join(", ")),
    )
    .details(format!(
        "Searched for the function {schema}.{name} with parameter{} {}, but no matches were found in the schema cache.",
        if given.len() == 1 { "" } else { "s" },
        given.join(", ")
    ));
    if given.is_empty() {
        err.details =
            Some(format!("Searched for the function {schema}.{name} without parameters, but no matches were found in the schema cache."));
    }
    if let Some(f) = overloads.first() {
        let names: Vec<&str> = f.args.iter().map(|a| a.name.as_str()).collect();
        err.hint = Some(format!("Perhaps you meant to call the function {schema}.{name}({})", names.join(", ")));
    }
    err
}
