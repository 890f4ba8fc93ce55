//! A tool's arguments checked against the schema it declares, before it runs: an argument the
//! tool does not declare, or of another type, is a tool error naming it. Dropping it silently
//! would run something other than what the caller asked for (an `allow` whose `to_role` was
//! ignored granted `authenticated` instead of `anon`).

use rmcp::model::Tool;
use serde_json::{Map, Value};

/// Our argument names and the SQL functions' names for them (`bknd.allow(table_name, ...,
/// to_role, ...)`): a tool that takes the first also takes the second, one or the other.
pub const ALIASES: [(&str, &str); 2] = [("table", "table_name"), ("role", "to_role")];

/// The SQL name of an argument given as ours (`table_name` becomes `table`); both, with
/// different values, is an error.
pub fn normalize(mut args: Value) -> Result<Value, String> {
    let Value::Object(map) = &mut args else { return Ok(args) };
    for (ours, sql) in ALIASES {
        if let Some(value) = map.remove(sql) {
            match map.get(ours) {
                Some(existing) if *existing != value => return Err(format!("{ours} and {sql} name the same argument: give one")),
                _ => {
                    map.insert(ours.to_string(), value);
                }
            }
        }
    }
    Ok(args)
}

pub fn check(tool: &Tool, args: &Value) -> Result<(), String> {
    let Value::Object(args) = args else { return Err("arguments must be an object".into()) };
    let schema = &tool.input_schema;
    let empty = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let unknown: Vec<&str> = args.keys().map(String::as_str).filter(|k| !properties.contains_key(*k)).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = properties.keys().map(String::as_str).collect();
        return Err(format!(
            "{} does not take {}; its arguments are: {}",
            tool.name,
            unknown.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        ));
    }
    for required in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if args.get(required).is_none_or(Value::is_null) {
            return Err(format!("{required} is required"));
        }
    }
    for (key, value) in args.iter().filter(|(_, v)| !v.is_null()) {
        if let Some(why) = mismatch(&properties[key], value) {
            return Err(format!("{key} {why}"));
        }
    }
    Ok(())
}

/// Why `value` does not fit the property's schema (its `type`, `minimum`, `items` and
/// `additionalProperties` types), or None.
fn mismatch(property: &Value, value: &Value) -> Option<String> {
    let expected = property.get("type").and_then(Value::as_str)?;
    let fits = match expected {
        "string" => value.is_string(),
        "integer" => value.as_i64().is_some_and(|n| property.get("minimum").and_then(Value::as_i64).is_none_or(|min| n >= min)),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    };
    if !fits {
        let minimum = property.get("minimum").and_then(Value::as_i64).map(|m| format!(" of at least {m}")).unwrap_or_default();
        return Some(format!("must be {} {expected}{minimum}", if expected.starts_with(['a', 'i', 'o']) { "an" } else { "a" }));
    }
    let inner = match value {
        Value::Array(items) => property.get("items").map(|s| (s, items.iter().collect::<Vec<_>>())),
        Value::Object(map) => property.get("additionalProperties").filter(|s| s.is_object()).map(|s| (s, map.values().collect())),
        _ => None,
    };
    let (schema, values) = inner?;
    values.into_iter().find_map(|v| mismatch(schema, v)).map(|why| format!("entries {why}"))
}

#[cfg(test)]
mod tests {
    use super::check;
    use serde_json::json;

    fn allow() -> rmcp::model::Tool {
        super::super::catalog::tools().into_iter().find(|t| t.name == "allow").unwrap()
    }

    #[test]
    fn undeclared_and_mistyped_arguments_are_named() {
        let tool = allow();
        assert!(check(&tool, &json!({"table": "t", "operations": "select", "role": "anon"})).is_ok());
        let sql_names = super::normalize(json!({"table_name": "t", "operations": "select", "to_role": "anon"})).unwrap();
        assert_eq!(sql_names, json!({"table": "t", "operations": "select", "role": "anon"}), "the SQL function's names");
        assert!(check(&tool, &sql_names).is_ok());
        assert!(super::normalize(json!({"table": "t", "table_name": "u"})).is_err());
        let why = check(&tool, &json!({"table": "t", "operations": "select", "rol": "anon"})).unwrap_err();
        assert!(why.contains("`rol`"), "{why}");
        let why = check(&tool, &json!({"table": "t", "operations": 5})).unwrap_err();
        assert!(why.starts_with("operations must be a string"), "{why}");
        let create = super::super::catalog::tools().into_iter().find(|t| t.name == "create_table").unwrap();
        assert_eq!(check(&create, &json!({"table": "t"})).unwrap_err(), "columns is required");
        let select = super::super::catalog::tools().into_iter().find(|t| t.name == "select").unwrap();
        assert!(check(&select, &json!({"table": "t", "limit": -1})).is_err());
        assert!(check(&select, &json!({"table": "t", "filters": {"a": 1}})).unwrap_err().contains("filters entries"));
    }
}
