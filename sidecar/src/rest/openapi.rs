//! `GET /rest/v1/`: a Swagger 2.0 document of the exposed schema, as PostgREST serves it.

use serde_json::{json, Map, Value};

use super::schema::SchemaCache;

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

pub fn document(cache: &SchemaCache, schema: &str, host: Option<&str>) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    paths.insert("/".into(), json!({"get": {"tags": ["Introspection"], "summary": "OpenAPI description (this document)", "produces": ["application/openapi+json", "application/json"], "responses": {"200": {"description": "OK"}}}}));
    let mut relations: Vec<_> = cache.relations.values().filter(|r| r.schema == schema).collect();
    relations.sort_by(|a, b| a.name.cmp(&b.name));
    for rel in relations {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for c in &rel.columns {
            let (ty, format) = json_type(&c.type_name);
            let mut p = json!({"type": ty, "format": format.unwrap_or(&c.type_name)});
            if let Some(d) = &c.description {
                p["description"] = json!(d);
            }
            if rel.pk.contains(&c.name) {
                p["description"] = json!(format!("{}Note:\nThis is a Primary Key.<pk/>", c.description.as_ref().map(|d| format!("{d}\n\n")).unwrap_or_default()));
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
        let mut ops = json!({"get": {"tags": tag, "summary": rel.description, "responses": ok}});
        if !rel.is_view {
            ops["post"] = json!({"tags": tag, "responses": {"201": {"description": "Created"}}});
            ops["patch"] = json!({"tags": tag, "responses": {"204": {"description": "No Content"}}});
            ops["delete"] = json!({"tags": tag, "responses": {"204": {"description": "No Content"}}});
        }
        paths.insert(format!("/{}", rel.name), ops);
    }
    let mut functions: Vec<_> = cache.functions.iter().filter(|((s, _), _)| s == schema).collect();
    functions.sort_by(|a, b| a.0 .1.cmp(&b.0 .1));
    for ((_, name), overloads) in functions {
        let Some(f) = overloads.first() else { continue };
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
