//! Column specifications: JSON in, SQL column definition and named constraints out.
//!
//! `{"type": "text", "required": true, "max_length": 200}` becomes
//! `"title" text NOT NULL` plus `CONSTRAINT posts_title_max_length CHECK (...)`.

use pgrx::spi::quote_literal;
use serde_json::{Map, Number, Value};

use super::catalog;
use super::names::{self, quote, Kind, TableName};
use crate::errors;

const ATTRIBUTES: [&str; 14] = [
    "type",
    "required",
    "unique",
    "default",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "description",
    "values",
    "items",
    "table",
    "on_delete",
];

/// The scalar types and their Postgres spelling.
fn scalar_sql(name: &str) -> Option<&'static str> {
    Some(match name {
        "text" => "text",
        "integer" => "integer",
        "bigint" => "bigint",
        "number" => "double precision",
        "numeric" => "numeric",
        "boolean" => "boolean",
        "date" => "date",
        "timestamp" => "timestamptz",
        "uuid" => "uuid",
        "json" => "jsonb",
        _ => return None,
    })
}

/// Defaults that are expressions rather than literals. Only these exact spellings.
const DEFAULT_EXPRESSIONS: [&str; 3] = ["now()", "gen_random_uuid()", "bknd.uid()"];

#[derive(Clone, Copy, Debug)]
pub enum OnDelete {
    Cascade,
    SetNull,
    Restrict,
    NoAction,
}

impl OnDelete {
    pub fn parse(text: Option<&str>) -> OnDelete {
        match text {
            None => OnDelete::NoAction,
            Some("cascade") => OnDelete::Cascade,
            Some("set null") | Some("set_null") => OnDelete::SetNull,
            Some("restrict") => OnDelete::Restrict,
            Some("no action") | Some("no_action") => OnDelete::NoAction,
            Some(other) => errors::invalid(format!("on_delete {other:?} is not one of cascade, set null, restrict, no action")),
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::NoAction => "NO ACTION",
        }
    }
}

#[derive(Debug)]
pub enum ColumnType {
    Scalar(&'static str),
    Enum(Vec<String>),
    Array(&'static str),
    Reference { table: TableName, on_delete: OnDelete },
}

#[derive(Debug)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: ColumnType,
    pub required: bool,
    pub unique: bool,
    pub default: Option<Value>,
    pub min: Option<Number>,
    pub max: Option<Number>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    pub description: Option<String>,
}

/// What a column becomes in SQL.
pub struct RenderedColumn {
    /// `"name" type [NOT NULL] [DEFAULT ...]`
    pub definition: String,
    /// `CONSTRAINT name CHECK (...)`, `CONSTRAINT name UNIQUE (...)`, `CONSTRAINT name FOREIGN KEY ...`
    pub constraints: Vec<String>,
    /// Statements to run after the column exists (comment, index on a reference).
    pub after: Vec<String>,
}

fn bad(column: &str, why: impl std::fmt::Display) -> ! {
    errors::invalid(format!("column \"{column}\": {why}"))
}

impl ColumnSpec {
    pub fn parse(name: &str, spec: &Value, default_schema: &str) -> ColumnSpec {
        let name = names::validate(name, Kind::Column);
        let Value::Object(spec) = spec else { bad(&name, "the specification must be a JSON object") };
        if let Some(unknown) = spec.keys().find(|k| !ATTRIBUTES.contains(&k.as_str())) {
            bad(&name, format!("unknown attribute \"{unknown}\" (known: {})", ATTRIBUTES.join(", ")));
        }
        let text = |key: &str| -> Option<String> {
            match spec.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => bad(&name, format!("\"{key}\" must be a string")),
            }
        };
        let flag = |key: &str| -> bool {
            match spec.get(key) {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => bad(&name, format!("\"{key}\" must be true or false")),
            }
        };
        let number = |key: &str| -> Option<Number> {
            match spec.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(n.clone()),
                Some(_) => bad(&name, format!("\"{key}\" must be a number")),
            }
        };
        let count = |key: &str| -> Option<u64> {
            match spec.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
                Some(_) => bad(&name, format!("\"{key}\" must be a non-negative integer")),
            }
        };
        let only_for = |key: &str, allowed: bool, what: &str| {
            if spec.get(key).is_some_and(|v| !v.is_null()) && !allowed {
                bad(&name, format!("\"{key}\" applies only to {what} columns"));
            }
        };

        let type_name = text("type").unwrap_or_else(|| bad(&name, "\"type\" is required"));
        let ty = match type_name.as_str() {
            "enum" => {
                let values: Vec<String> = match spec.get("values") {
                    Some(Value::Array(items)) if !items.is_empty() => items
                        .iter()
                        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| bad(&name, "enum values must be strings")))
                        .collect(),
                    _ => bad(&name, "an enum needs \"values\": a non-empty array of strings"),
                };
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = values.iter().find(|v| !seen.insert(*v)) {
                    bad(&name, format!("enum value {dup:?} is listed twice"));
                }
                ColumnType::Enum(values)
            }
            "array" => {
                let items = text("items").unwrap_or_else(|| bad(&name, "an array needs \"items\", a scalar type"));
                let sql = scalar_sql(&items).unwrap_or_else(|| bad(&name, format!("array items type {items:?} is not a scalar type")));
                ColumnType::Array(sql)
            }
            "reference" => {
                let target = text("table").unwrap_or_else(|| bad(&name, "a reference needs \"table\""));
                ColumnType::Reference {
                    table: TableName::parse(&target, default_schema),
                    on_delete: OnDelete::parse(text("on_delete").as_deref()),
                }
            }
            other => ColumnType::Scalar(scalar_sql(other).unwrap_or_else(|| {
                bad(&name, format!(
                    "unknown type {other:?} (known: text, integer, bigint, number, numeric, boolean, date, timestamp, uuid, json, enum, array, reference)"
                ))
            })),
        };
        let is_numeric = matches!(ty, ColumnType::Scalar("integer" | "bigint" | "double precision" | "numeric"));
        let is_text = matches!(ty, ColumnType::Scalar("text"));
        only_for("values", matches!(ty, ColumnType::Enum(_)), "enum");
        only_for("items", matches!(ty, ColumnType::Array(_)), "array");
        only_for("table", matches!(ty, ColumnType::Reference { .. }), "reference");
        only_for("on_delete", matches!(ty, ColumnType::Reference { .. }), "reference");
        only_for("min", is_numeric, "numeric");
        only_for("max", is_numeric, "numeric");
        only_for("min_length", is_text, "text");
        only_for("max_length", is_text, "text");
        only_for("pattern", is_text, "text");

        let column = ColumnSpec {
            required: flag("required"),
            unique: flag("unique"),
            default: spec.get("default").filter(|v| !v.is_null()).cloned(),
            min: number("min"),
            max: number("max"),
            min_length: count("min_length"),
            max_length: count("max_length"),
            pattern: text("pattern"),
            description: text("description"),
            name,
            ty,
        };
        column.check_consistency();
        column
    }

    fn check_consistency(&self) {
        if let (Some(min), Some(max)) = (&self.min, &self.max) {
            if min.as_f64() > max.as_f64() {
                bad(&self.name, "min is greater than max");
            }
        }
        if let (Some(min), Some(max)) = (self.min_length, self.max_length) {
            if min > max {
                bad(&self.name, "min_length is greater than max_length");
            }
        }
        if let ColumnType::Reference { on_delete: OnDelete::SetNull, .. } = self.ty {
            if self.required {
                bad(&self.name, "a required reference cannot use on_delete \"set null\"");
            }
        }
        if let Some(pattern) = &self.pattern {
            // Compile it now rather than on the first insert: a bad one raises 2201B here.
            errors::spi(crate::plans::get_one::<bool>("SELECT '' ~ $1", &[pattern.as_str().into()]));
        }
    }

    /// `self_table` is the table being created, so a reference to it needs no catalog look-up.
    pub fn render(&self, table: &TableName, self_table_pk: Option<(&str, &str)>) -> RenderedColumn {
        let col = quote(&self.name);
        let constraint = |suffix: &str| quote(&names::derived(&[&table.name, &self.name], suffix));
        let mut constraints = Vec::new();
        let mut after = Vec::new();

        let sql_type = match &self.ty {
            ColumnType::Scalar(t) => t.to_string(),
            ColumnType::Enum(values) => {
                let list: Vec<String> = values.iter().map(quote_literal).collect();
                constraints.push(format!("CONSTRAINT {} CHECK ({col} IN ({}))", constraint("enum"), list.join(", ")));
                "text".to_string()
            }
            ColumnType::Array(item) => format!("{item}[]"),
            ColumnType::Reference { table: target, on_delete } => {
                let (pk, pk_type) = if *target == *table {
                    match self_table_pk {
                        Some((c, t)) => (c.to_string(), t.to_string()),
                        None => self.no_primary_key(target),
                    }
                } else {
                    catalog::primary_key(catalog::table(target)).unwrap_or_else(|| self.no_primary_key(target))
                };
                constraints.push(format!(
                    "CONSTRAINT {} FOREIGN KEY ({col}) REFERENCES {} ({}) ON DELETE {}",
                    constraint("fkey"),
                    target.quoted(),
                    quote(&pk),
                    on_delete.sql()
                ));
                // Joins and cascades on a foreign key need an index on the referencing side.
                after.push(format!("CREATE INDEX {} ON {} ({col})", constraint("idx"), table.quoted()));
                pk_type
            }
        };

        let mut definition = format!("{col} {sql_type}");
        if self.required {
            definition.push_str(" NOT NULL");
        }
        if let Some(default) = &self.default {
            definition.push_str(&format!(" DEFAULT {}", self.default_sql(default, &sql_type)));
        }
        if self.unique {
            constraints.push(format!("CONSTRAINT {} UNIQUE ({col})", constraint("key")));
        }
        if let Some(min) = &self.min {
            constraints.push(format!("CONSTRAINT {} CHECK ({col} >= {}::numeric)", constraint("min"), quote_literal(min.to_string())));
        }
        if let Some(max) = &self.max {
            constraints.push(format!("CONSTRAINT {} CHECK ({col} <= {}::numeric)", constraint("max"), quote_literal(max.to_string())));
        }
        if let Some(n) = self.min_length {
            constraints.push(format!("CONSTRAINT {} CHECK (char_length({col}) >= {n})", constraint("min_length")));
        }
        if let Some(n) = self.max_length {
            constraints.push(format!("CONSTRAINT {} CHECK (char_length({col}) <= {n})", constraint("max_length")));
        }
        if let Some(pattern) = &self.pattern {
            constraints.push(format!("CONSTRAINT {} CHECK ({col} ~ {})", constraint("pattern"), quote_literal(pattern)));
        }
        if let Some(text) = &self.description {
            after.push(format!("COMMENT ON COLUMN {}.{col} IS {}", table.quoted(), quote_literal(text)));
        }
        RenderedColumn { definition, constraints, after }
    }

    fn no_primary_key(&self, target: &TableName) -> ! {
        bad(&self.name, format!("table {} has no single-column primary key to reference", target.display()))
    }

    fn default_sql(&self, value: &Value, sql_type: &str) -> String {
        match value {
            Value::String(s) if DEFAULT_EXPRESSIONS.contains(&s.as_str()) => s.clone(),
            Value::String(s) => format!("{}::{sql_type}", quote_literal(s)),
            Value::Number(n) => format!("{}::{sql_type}", quote_literal(n.to_string())),
            Value::Bool(b) => format!("{b}::{sql_type}"),
            Value::Array(_) | Value::Object(_) if sql_type == "jsonb" => {
                format!("{}::jsonb", quote_literal(value.to_string()))
            }
            Value::Array(items) if sql_type.ends_with("[]") => {
                let literals: Vec<String> = items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => quote_literal(s),
                        Value::Number(n) => quote_literal(n.to_string()),
                        Value::Bool(b) => b.to_string(),
                        _ => bad(&self.name, "array defaults may hold only strings, numbers and booleans"),
                    })
                    .collect();
                format!("ARRAY[{}]::{sql_type}", literals.join(", "))
            }
            _ => bad(&self.name, "default does not fit the column type"),
        }
    }
}

/// Parse the `columns` of create_table: an object `{name: spec}` (jsonb orders its keys by
/// length, so the columns come in that order) or an array `[{"name": ..., ...spec}]` (kept in
/// the order given).
pub fn parse_columns(columns: &Value, default_schema: &str) -> Vec<ColumnSpec> {
    match columns {
        Value::Object(map) => map.iter().map(|(name, spec)| ColumnSpec::parse(name, spec, default_schema)).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let Value::Object(fields) = item else { errors::invalid("each column must be a JSON object") };
                let mut spec: Map<String, Value> = fields.clone();
                let Some(Value::String(name)) = spec.remove("name") else { errors::invalid("each column in an array needs a \"name\"") };
                ColumnSpec::parse(&name, &Value::Object(spec), default_schema)
            })
            .collect(),
        _ => errors::invalid("columns must be a JSON object {name: spec} or an array of {name, ...spec}"),
    }
}
