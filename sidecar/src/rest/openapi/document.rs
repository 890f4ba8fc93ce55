//! The Swagger 2.0 document itself, built from the schema cache and what the caller may use.
//! Shapes and names follow PostgREST's OpenAPI output, so tools written for it work here.

use serde_json::{json, Map, Value};

use super::{RelationAccess, Visible};
use crate::rest::schema::{Arg, Column, Function, Relation, SchemaCache};

/// Reference to `#/<section>/<name>`: the name escaped as a JSON pointer token (RFC 6901) and
/// percent-encoded as a URI fragment (a `$ref` is a URI).
fn reference(section: &str, name: &str) -> Value {
    const FRAGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'!')
        .remove(b'$')
        .remove(b'&')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')')
        .remove(b'*')
        .remove(b'+')
        .remove(b',')
        .remove(b';')
        .remove(b'=')
        .remove(b':')
        .remove(b'@');
    let token = name.replace('~', "~0").replace('/', "~1");
    json!({"$ref": format!("#/{section}/{}", percent_encoding::utf8_percent_encode(&token, FRAGMENT))})
}

fn param_ref(name: &str) -> Value {
    reference("parameters", name)
}

/// `character varying(20)` -> (`character varying`, Some(20)); `numeric(10,2)[]` -> `numeric[]`.
/// The type's modifiers go; the name stays as Postgres spells it (PostgREST's formats).
fn base_type(type_name: &str) -> (String, Option<u64>) {
    let mut base = String::with_capacity(type_name.len());
    let mut modifier = String::new();
    let mut depth = 0;
    for ch in type_name.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth > 0 => modifier.push(ch),
            _ => base.push(ch),
        }
    }
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ").replace(" []", "[]");
    let max_length = match base.as_str() {
        "character varying" | "character" => modifier.trim().parse().ok(),
        _ => None,
    };
    (base, max_length)
}

/// PostgREST's toSwaggerType: json and jsonb have no type (any JSON value).
fn swagger_type(base: &str) -> Option<&'static str> {
    if base.ends_with("[]") {
        return Some("array");
    }
    match base {
        "character varying" | "character" | "text" => Some("string"),
        "boolean" => Some("boolean"),
        "smallint" | "integer" | "bigint" => Some("integer"),
        "numeric" | "real" | "double precision" => Some("number"),
        "json" | "jsonb" => None,
        _ => Some("string"),
    }
}

/// PostgREST's toSwaggerFormat.
fn swagger_format(base: &str) -> &str {
    match base {
        "smallint" | "integer" => "int32",
        "bigint" => "int64",
        other => other,
    }
}

/// `{"type", "format", "items"}` of a column or a function argument in a JSON body.
fn body_schema(type_name: &str) -> (Map<String, Value>, String, Option<u64>) {
    let (base, max_length) = base_type(type_name);
    let mut s = Map::new();
    if let Some(t) = swagger_type(&base) {
        s.insert("type".into(), json!(t));
    }
    s.insert("format".into(), json!(swagger_format(&base)));
    if let Some(element) = base.strip_suffix("[]") {
        let mut items = Map::new();
        if let Some(t) = swagger_type(element) {
            items.insert("type".into(), json!(t));
        }
        s.insert("items".into(), Value::Object(items));
    }
    (s, base, max_length)
}

/// A column default PostgREST would show, when it is a literal of the column's JSON type
/// (`0`, `true`, `'draft'::text`); expressions such as `now()` are left out.
fn literal_default(expr: &str, ty: Option<&str>, base: &str) -> Option<Value> {
    let expr = expr.trim();
    let unquoted = |e: &str| -> Option<String> {
        let e = e.strip_suffix(&format!("::{base}")).unwrap_or(e);
        let inner = e.strip_prefix('\'')?.strip_suffix('\'')?;
        if inner.replace("''", "").contains('\'') {
            return None;
        }
        Some(inner.replace("''", "'"))
    };
    match ty {
        Some("string") => unquoted(expr).map(Value::String),
        Some("boolean") => match expr {
            "true" => Some(json!(true)),
            "false" => Some(json!(false)),
            _ => None,
        },
        Some("integer") | Some("number") => {
            let text = unquoted(expr).unwrap_or_else(|| expr.trim_start_matches('(').trim_end_matches(')').to_string());
            if ty == Some("integer") {
                text.parse::<i64>().ok().map(|n| json!(n))
            } else {
                text.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| json!(f))
            }
        }
        _ => None,
    }
}

/// One column as a property of its table's definition.
fn column_property(cache: &SchemaCache, rel: &Relation, c: &Column) -> Value {
    let (mut p, base, max_length) = body_schema(&c.type_name);
    let ty = p.get("type").and_then(Value::as_str).map(str::to_string);
    if let Some(d) = c.default.as_deref().and_then(|d| literal_default(d, ty.as_deref(), &base)) {
        p.insert("default".into(), d);
    }
    if let Some(n) = max_length {
        p.insert("maxLength".into(), json!(n));
    }
    // a NULL may come back (Swagger 2.0 has no null type: the common vendor extension)
    if c.nullable && ty.is_some() {
        p.insert("x-nullable".into(), json!(true));
    }
    let mut notes = Vec::new();
    if rel.pk.contains(&c.name) {
        notes.push("This is a Primary Key.<pk/>".to_string());
    }
    let fk = cache
        .foreign_keys
        .iter()
        .filter(|f| f.schema == rel.schema && f.table == rel.name && f.columns.len() == 1 && f.columns[0] == c.name)
        .min_by_key(|f| cache.relation(&f.ref_schema, &f.ref_table).is_some_and(|r| r.is_view));
    if let Some(f) = fk {
        let (t, col) = (&f.ref_table, &f.ref_columns[0]);
        notes.push(format!("This is a Foreign Key to `{t}.{col}`.<fk table='{t}' column='{col}'/>"));
    }
    let description = match (&c.description, notes.is_empty()) {
        (d, true) => d.clone(),
        (d, false) => Some(format!("{}Note:\n{}", d.as_ref().map(|d| format!("{d}\n\n")).unwrap_or_default(), notes.join("\n"))),
    };
    if let Some(d) = description {
        p.insert("description".into(), json!(d));
    }
    Value::Object(p)
}

/// A header parameter `Prefer` offering these preferences.
fn prefer(values: &[&str]) -> Value {
    let mut p = json!({"name": "Prefer", "description": "Preference", "required": false, "in": "header", "type": "string"});
    if !values.is_empty() {
        p["enum"] = json!(values);
    }
    p
}

/// What a row filter's value starts with: `[not.]operator[(modifier)].` (the `pattern` is ours,
/// not PostgREST's: it lets generators and fuzzers write filters the API accepts).
const FILTER_PATTERN: &str = r"^(not\.)?((eq|neq|gt|gte|lt|lte|like|ilike|match|imatch)(\((any|all)\))?|isdistinct|cs|cd|ov|sl|sr|nxr|nxl|adj|in|is|(fts|plfts|phfts|wfts)(\([a-z]+\))?)\.";

fn query_string(name: &str, description: &str) -> Value {
    json!({"name": name, "description": description, "required": false, "in": "query", "type": "string"})
}

/// The parameters every table shares (PostgREST's makeParamDefs), minus the per-table ones.
fn shared_parameters() -> Map<String, Value> {
    const RETURN: [&str; 3] = ["return=representation", "return=minimal", "return=headers-only"];
    let post: Vec<&str> =
        RETURN.iter().copied().chain(["resolution=ignore-duplicates", "resolution=merge-duplicates", "missing=default"]).collect();
    let mut p = Map::new();
    // PostgREST's name (its `params=single-object`); here what a function call honours
    p.insert("preferParams".into(), prefer(&["count=exact", "count=planned", "count=estimated", "tx=commit", "tx=rollback"]));
    p.insert("preferReturn".into(), prefer(&RETURN));
    p.insert("preferCount".into(), prefer(&["count=exact", "count=planned", "count=estimated"]));
    p.insert("preferPost".into(), prefer(&post));
    p.insert("select".into(), query_string("select", "Filtering Columns"));
    p.insert("on_conflict".into(), query_string("on_conflict", "On Conflict"));
    p.insert("order".into(), query_string("order", "Ordering"));
    p.insert(
        "range".into(),
        json!({"name": "Range", "description": "Limiting and Pagination", "required": false, "in": "header", "type": "string", "pattern": "^[0-9]+-[0-9]*$"}),
    );
    p.insert(
        "rangeUnit".into(),
        json!({"name": "Range-Unit", "description": "Limiting and Pagination", "required": false, "in": "header", "type": "string", "default": "items"}),
    );
    for name in ["offset", "limit"] {
        let mut q = query_string(name, "Limiting and Pagination");
        q["pattern"] = json!("^[0-9]+$");
        p.insert(name.into(), q);
    }
    p
}

/// A JSON array of the table's rows.
fn rows(table: &str) -> Value {
    json!({"type": "array", "items": reference("definitions", table)})
}

/// The definition, parameters and path item of one table or view, as the caller may use it.
fn relation_item(
    cache: &SchemaCache,
    rel: &Relation,
    access: &RelationAccess,
    definitions: &mut Map<String, Value>,
    parameters: &mut Map<String, Value>,
) -> Option<Value> {
    let tn = rel.name.as_str();
    let columns: Vec<&Column> = rel.columns.iter().filter(|c| access.columns.contains(&c.name)).collect();
    let properties: Map<String, Value> = columns.iter().map(|c| (c.name.clone(), column_property(cache, rel, c))).collect();
    // The definition is a row as read: a `select` may leave any column out, so none is
    // required here. The body of an insert needs the columns with no default that may not be
    // NULL: `body.<table>` adds them.
    let mut def = json!({"type": "object", "properties": properties});
    if let Some(d) = &rel.description {
        def["description"] = json!(d);
    }
    definitions.insert(tn.to_string(), def);
    let required: Vec<&str> = columns.iter().filter(|c| !c.nullable && !c.has_default).map(|c| c.name.as_str()).collect();
    let body_schema = if required.is_empty() {
        reference("definitions", tn)
    } else {
        json!({"allOf": [reference("definitions", tn)], "required": required})
    };
    let body = format!("body.{tn}");
    parameters.insert(body.clone(), json!({"name": tn, "description": tn, "required": false, "in": "body", "schema": body_schema}));
    // a filter reads its column: only those the caller may SELECT
    let mut filters = Vec::new();
    for c in columns.iter().filter(|c| access.readable.contains(&c.name)) {
        let key = format!("rowFilter.{tn}.{}", c.name);
        let mut p = json!({"name": c.name, "required": false, "in": "query", "type": "string", "pattern": FILTER_PATTERN});
        if let Some(d) = &c.description {
            p["description"] = json!(d);
        }
        parameters.insert(key.clone(), p);
        filters.push(param_ref(&key));
    }
    let refs = |names: &[&str]| -> Vec<Value> { names.iter().map(|n| param_ref(n)).collect() };
    let with_filters = |names: &[&str]| -> Value { Value::Array(filters.iter().cloned().chain(refs(names)).collect()) };

    // first line of the description is the summary, the rest the description
    let (summary, description) = match &rel.description {
        Some(d) => match d.split_once('\n') {
            Some((s, rest)) => (Some(s.to_string()), Some(rest.trim_start_matches('\n').to_string()).filter(|r| !r.is_empty())),
            None => (Some(d.clone()), None),
        },
        None => (None, None),
    };
    let operation = |parameters: Value, responses: Value| -> Value {
        let mut op = json!({"tags": [tn], "parameters": parameters, "responses": responses});
        if let Some(s) = &summary {
            op["summary"] = json!(s);
        }
        if let Some(d) = &description {
            op["description"] = json!(d);
        }
        op
    };
    let mut ops = Map::new();
    if access.select {
        ops.insert(
            "get".into(),
            operation(
                with_filters(&["select", "order", "range", "rangeUnit", "offset", "limit", "preferCount"]),
                json!({"200": {"description": "OK", "schema": rows(tn)}, "206": {"description": "Partial Content", "schema": rows(tn)}}),
            ),
        );
    }
    if !rel.is_view && access.insert {
        ops.insert(
            "post".into(),
            operation(Value::Array(refs(&[&body, "select", "on_conflict", "preferPost"])), json!({"201": {"description": "Created"}})),
        );
    }
    if !rel.is_view && access.update {
        ops.insert(
            "patch".into(),
            operation(
                with_filters(&[&body, "select", "preferReturn"]),
                json!({"200": {"description": "OK", "schema": rows(tn)}, "204": {"description": "No Content"}}),
            ),
        );
    }
    if !rel.is_view && access.delete {
        ops.insert(
            "delete".into(),
            operation(
                with_filters(&["select", "preferReturn"]),
                json!({"200": {"description": "OK", "schema": rows(tn)}, "204": {"description": "No Content"}}),
            ),
        );
    }
    (!ops.is_empty()).then_some(Value::Object(ops))
}

/// One argument of a function called with GET, as a query parameter.
fn get_argument(a: &Arg) -> Value {
    let (base, _) = base_type(&a.type_name);
    let mut p = json!({"name": a.name, "required": !a.has_default, "in": "query"});
    if a.variadic {
        // `?v=1&v=2`
        let element = base.strip_suffix("[]").unwrap_or(&base);
        let mut items = json!({"format": swagger_format(element)});
        if let Some(t) = swagger_type(element) {
            items["type"] = json!(t);
        }
        p["type"] = json!("array");
        p["collectionFormat"] = json!("multi");
        p["items"] = items;
    } else {
        // arrays are written `{1,2}`; a query parameter must have a type
        let ty = match swagger_type(&base) {
            Some("array") | None => "string",
            Some(t) => t,
        };
        p["type"] = json!(ty);
        p["format"] = json!(swagger_format(&base));
    }
    p
}

fn function_item(f: &Function) -> Value {
    let named: Vec<&Arg> = f.args.iter().filter(|a| !a.name.is_empty()).collect();
    let properties: Map<String, Value> = named.iter().map(|a| (a.name.clone(), Value::Object(body_schema(&a.type_name).0))).collect();
    let mut args = json!({"type": "object", "properties": properties});
    let required: Vec<&str> = named.iter().filter(|a| !a.has_default).map(|a| a.name.as_str()).collect();
    if !required.is_empty() {
        args["required"] = json!(required);
    }
    if let Some(d) = &f.description {
        args["description"] = json!(d);
    }
    let (summary, description) = match &f.description {
        Some(d) => match d.split_once('\n') {
            Some((s, rest)) => (Some(s.to_string()), Some(rest.trim_start_matches('\n').to_string()).filter(|r| !r.is_empty())),
            None => (Some(d.clone()), None),
        },
        None => (None, None),
    };
    let operation = |parameters: Value| -> Value {
        let mut op = json!({
            "tags": [format!("(rpc) {}", f.name)],
            "produces": ["application/json", "application/vnd.pgrst.object+json"],
            "parameters": parameters,
            "responses": {"200": {"description": "OK"}}
        });
        if let Some(s) = &summary {
            op["summary"] = json!(s);
        }
        if let Some(d) = &description {
            op["description"] = json!(d);
        }
        op
    };
    let post = operation(json!([{"name": "args", "required": true, "in": "body", "schema": args}, param_ref("preferParams")]));
    let mut item = json!({"post": post});
    // a volatile function may write: POST only
    if !f.volatile {
        item["get"] = operation(Value::Array(named.iter().copied().map(get_argument).collect()));
    }
    item
}

pub(super) fn document(cache: &SchemaCache, schema: &str, host: Option<&str>, visible: &Visible) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    let mut parameters = shared_parameters();
    paths.insert(
        "/".into(),
        json!({"get": {"tags": ["Introspection"], "summary": "OpenAPI description (this document)", "produces": ["application/openapi+json", "application/json"], "responses": {"200": {"description": "OK"}}}}),
    );
    let mut relations: Vec<_> = cache
        .relations
        .values()
        .filter(|r| r.schema == schema)
        .filter_map(|r| visible.relations.get(&r.oid.to_string()).map(|access| (r, access)))
        .collect();
    relations.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (rel, access) in relations {
        if let Some(item) = relation_item(cache, rel, access, &mut definitions, &mut parameters) {
            paths.insert(format!("/{}", rel.name), item);
        }
    }
    let mut functions: Vec<_> = cache.functions.iter().filter(|((s, _), _)| s == schema).collect();
    functions.sort_by(|a, b| a.0 .1.cmp(&b.0 .1));
    for ((_, name), overloads) in functions {
        // of several overloads, the first the caller may execute (one path per name)
        let Some(f) = overloads.iter().find(|f| visible.functions.contains(&f.oid)) else { continue };
        paths.insert(format!("/rpc/{name}"), function_item(f));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "bknd REST API", "description": "A PostgREST-compatible API over the exposed schema", "version": env!("CARGO_PKG_VERSION")},
        "host": host.unwrap_or("localhost"),
        "basePath": "/rest/v1",
        "schemes": ["http"],
        // bodies are JSON (a CSV body is not read yet)
        "consumes": ["application/json", "application/vnd.pgrst.object+json"],
        "produces": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "paths": paths,
        "definitions": definitions,
        "parameters": parameters,
        "securityDefinitions": {"JWT": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Add the token prepending \"Bearer \" (without quotes) to it"}},
        "security": [{"JWT": []}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_postgrest() {
        assert_eq!(base_type("character varying(20)"), ("character varying".into(), Some(20)));
        assert_eq!(base_type("numeric(10,2)[]"), ("numeric[]".into(), None));
        assert_eq!(base_type("timestamp(3) with time zone"), ("timestamp with time zone".into(), None));
        assert_eq!(swagger_type("jsonb"), None);
        assert_eq!(swagger_type("uuid"), Some("string"));
        assert_eq!(swagger_type("text[]"), Some("array"));
        assert_eq!(swagger_format("bigint"), "int64");
        let (s, _, _) = body_schema("integer[]");
        assert_eq!(Value::Object(s), json!({"type": "array", "format": "integer[]", "items": {"type": "integer"}}));
    }

    #[test]
    fn only_literal_defaults_are_shown() {
        assert_eq!(literal_default("'draft'::text", Some("string"), "text"), Some(json!("draft")));
        assert_eq!(literal_default("'it''s'::text", Some("string"), "text"), Some(json!("it's")));
        assert_eq!(literal_default("0", Some("integer"), "integer"), Some(json!(0)));
        assert_eq!(literal_default("'-1'::integer", Some("integer"), "integer"), Some(json!(-1)));
        assert_eq!(literal_default("1.5", Some("number"), "numeric"), Some(json!(1.5)));
        assert_eq!(literal_default("true", Some("boolean"), "boolean"), Some(json!(true)));
        assert_eq!(literal_default("now()", Some("string"), "timestamp with time zone"), None);
        assert_eq!(literal_default("gen_random_uuid()", Some("string"), "uuid"), None);
        assert_eq!(literal_default("'a'::text || 'b'::text", Some("string"), "text"), None);
    }

    #[test]
    fn the_filter_pattern_admits_every_operator_the_parser_knows() {
        use crate::rest::request::field::Field;
        use crate::rest::request::filter::parse_filter;
        let field = || Field { name: "c".into(), json_path: vec![] };
        let ops = "eq neq gt gte lt lte like ilike match imatch isdistinct cs cd ov sl sr nxr nxl adj fts plfts phfts wfts";
        for op in ops.split(' ') {
            for value in [format!("{op}.x"), format!("not.{op}.x")] {
                assert!(parse_filter(field(), &value).is_ok(), "{value}");
                assert!(
                    FILTER_PATTERN.contains(&format!("|{op}|"))
                        || FILTER_PATTERN.contains(&format!("({op}|"))
                        || FILTER_PATTERN.contains(&format!("|{op})")),
                    "{op}"
                );
            }
        }
        assert!(parse_filter(field(), "in.(1,2)").is_ok() && FILTER_PATTERN.contains("|in|"));
        assert!(parse_filter(field(), "is.null").is_ok() && FILTER_PATTERN.contains("|is|"));
        assert!(parse_filter(field(), "bogus.1").is_err());
    }

    #[test]
    fn references_are_escaped() {
        assert_eq!(reference("definitions", "notes"), json!({"$ref": "#/definitions/notes"}));
        assert_eq!(reference("definitions", "a/b c~"), json!({"$ref": "#/definitions/a~1b%20c~0"}));
        assert_eq!(param_ref("rowFilter.notes.id"), json!({"$ref": "#/parameters/rowFilter.notes.id"}));
    }
}
