//! `GET /rest/v1/`: a Swagger 2.0 document of the exposed schema, as PostgREST serves it,
//! describing only what the caller's role may use (PostgREST's follow-privileges mode). The
//! schema cache is shared by every role, so the database answers, as the caller and in the
//! request's own transaction, which of the cache's objects that role may use: one statement,
//! paid only by this endpoint.

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::execute::{self, Finish, Statement};
use super::query::Sql;
use super::request::ApiRequest;
use super::response::Reply;
use super::schema::SchemaCache;
use crate::app::AppState;

const VISIBLE_QUERY: &str = include_str!("visible.sql");

/// What the caller may do with one relation.
#[derive(Debug, Default, Deserialize)]
struct RelationAccess {
    select: bool,
    insert: bool,
    update: bool,
    delete: bool,
    /// the columns it has any of SELECT, INSERT, UPDATE on
    columns: Vec<String>,
}

/// The cache's objects the caller may use, by oid.
#[derive(Debug, Default, Deserialize)]
struct Visible {
    relations: HashMap<String, RelationAccess>,
    functions: HashSet<u32>,
}

/// `{1,2,3}`: an oid[] literal.
fn oid_array(oids: impl Iterator<Item = u32>) -> String {
    format!("{{{}}}", oids.map(|o| o.to_string()).collect::<Vec<_>>().join(","))
}

pub async fn handle(state: &AppState, cache: &SchemaCache, req: &ApiRequest, host: Option<&str>) -> Result<Response<Body>, ApiError> {
    let schema = req.schema.as_str();
    let mut sql = Sql::default();
    sql.param(oid_array(cache.relations.values().filter(|r| r.schema == schema).map(|r| r.oid)));
    sql.param(oid_array(cache.functions.iter().filter(|((s, _), _)| s == schema).flat_map(|(_, fs)| fs.iter().map(|f| f.oid))));
    let stmt = Statement::new(VISIBLE_QUERY.to_string(), sql, true, true);
    let outcome = execute::run(state, req, stmt, |_| Ok(Finish::Commit)).await?;
    let text = execute::text(&outcome.row, "body").unwrap_or_default();
    let visible: Visible =
        serde_json::from_str(&text).map_err(|e| ApiError::internal("openapi: the privileges query answered an unexpected document", e))?;
    let mut reply = Reply::new(StatusCode::OK);
    reply.body = Some(document(cache, schema, host, &visible).to_string());
    reply.content_type = Some("application/openapi+json; charset=utf-8");
    Ok(reply.finish(req))
}

fn json_type(pg: &str) -> (&'static str, Option<&'static str>) {
    match pg.trim_end_matches("[]") {
        _ if pg.ends_with("[]") => ("array", None),
        "integer" | "smallint" | "bigint" => ("integer", Some(pg_format(pg))),
        "numeric" | "real" | "double precision" => ("number", Some(pg_format(pg))),
        "boolean" => ("boolean", None),
        "json" | "jsonb" => ("object", None),
        _ => ("string", None),
    }
}

fn pg_format(pg: &str) -> &'static str {
    match pg {
        "integer" => "integer",
        "smallint" => "smallint",
        "bigint" => "bigint",
        "numeric" => "numeric",
        "real" => "real",
        _ => "double precision",
    }
}

fn document(cache: &SchemaCache, schema: &str, host: Option<&str>, visible: &Visible) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    paths.insert("/".into(), json!({"get": {"tags": ["Introspection"], "summary": "OpenAPI description (this document)", "produces": ["application/openapi+json", "application/json"], "responses": {"200": {"description": "OK"}}}}));
    let mut relations: Vec<_> = cache
        .relations
        .values()
        .filter(|r| r.schema == schema)
        .filter_map(|r| visible.relations.get(&r.oid.to_string()).map(|access| (r, access)))
        .collect();
    relations.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (rel, access) in relations {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for c in rel.columns.iter().filter(|c| access.columns.contains(&c.name)) {
            let (ty, format) = json_type(&c.type_name);
            let mut p = json!({"type": ty, "format": format.unwrap_or(&c.type_name)});
            if let Some(d) = &c.description {
                p["description"] = json!(d);
            }
            if rel.pk.contains(&c.name) {
                p["description"] = json!(format!(
                    "{}Note:\nThis is a Primary Key.<pk/>",
                    c.description.as_ref().map(|d| format!("{d}\n\n")).unwrap_or_default()
                ));
            }
            if !c.nullable && !c.has_default {
                required.push(json!(c.name));
            }
            properties.insert(c.name.clone(), p);
        }
        let mut def = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            def["required"] = Value::Array(required);
        }
        if let Some(d) = &rel.description {
            def["description"] = json!(d);
        }
        definitions.insert(rel.name.clone(), def);
        let tag = json!([rel.name]);
        let ok = json!({"200": {"description": "OK", "schema": {"type": "array", "items": {"$ref": format!("#/definitions/{}", rel.name)}}}, "206": {"description": "Partial Content"}});
        let mut ops = Map::new();
        if access.select {
            ops.insert("get".into(), json!({"tags": tag, "summary": rel.description, "responses": ok}));
        }
        if !rel.is_view && access.insert {
            ops.insert("post".into(), json!({"tags": tag, "responses": {"201": {"description": "Created"}}}));
        }
        if !rel.is_view && access.update {
            ops.insert("patch".into(), json!({"tags": tag, "responses": {"204": {"description": "No Content"}}}));
        }
        if !rel.is_view && access.delete {
            ops.insert("delete".into(), json!({"tags": tag, "responses": {"204": {"description": "No Content"}}}));
        }
        if !ops.is_empty() {
            paths.insert(format!("/{}", rel.name), Value::Object(ops));
        }
    }
    let mut functions: Vec<_> = cache.functions.iter().filter(|((s, _), _)| s == schema).collect();
    functions.sort_by(|a, b| a.0 .1.cmp(&b.0 .1));
    for ((_, name), overloads) in functions {
        let Some(f) = overloads.iter().find(|f| visible.functions.contains(&f.oid)) else { continue };
        let mut props = Map::new();
        for a in &f.args {
            let (ty, format) = json_type(&a.type_name);
            props.insert(a.name.clone(), json!({"type": ty, "format": format.unwrap_or(&a.type_name)}));
        }
        let args = json!({"in": "body", "name": "args", "required": true, "schema": {"type": "object", "properties": props}});
        paths.insert(
            format!("/rpc/{name}"),
            json!({"post": {"tags": ["(rpc) ".to_string() + name], "summary": f.description, "parameters": [args], "responses": {"200": {"description": "OK"}}}}),
        );
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "bknd REST API", "description": "A PostgREST-compatible API over the exposed schema", "version": env!("CARGO_PKG_VERSION")},
        "host": host.unwrap_or("localhost"),
        "basePath": "/rest/v1",
        "schemes": ["http"],
        "consumes": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "produces": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"JWT": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        "security": [{"JWT": []}]
    })
}
