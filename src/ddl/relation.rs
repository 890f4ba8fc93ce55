//! `bknd.create_relation`: many_to_one, one_to_one and many_to_many (through a junction table).

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use super::catalog;
use super::change::Change;
use super::column::OnDelete;
use super::names::{self, quote, Kind, TableName};
use super::table::secure_statements;
use crate::errors::{self, Code};

const OPTIONS: [&str; 4] = ["column", "on_delete", "junction", "required"];

/// Relate `from_table` to `to_table`.
/// - many_to_one: `from_table.<to>_id` references `to_table` (options: column, on_delete, required)
/// - one_to_one: the same column, unique
/// - many_to_many: a junction table `<from>_<to>` (option: junction) with a composite primary key
#[pg_extern(volatile, parallel_unsafe)]
fn create_relation(from_table: &str, to_table: &str, kind: &str, options: default!(JsonB, "'{}'")) -> JsonB {
    let mut change =
        Change::begin("create_relation", json!({"from_table": from_table, "to_table": to_table, "kind": kind, "options": options.0}));
    let Value::Object(opts) = &options.0 else { errors::invalid("options must be a JSON object") };
    if let Some(unknown) = opts.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
        errors::invalid(format!("unknown option \"{unknown}\" (known: {})", OPTIONS.join(", ")));
    }
    let text = |key: &str| opts.get(key).and_then(Value::as_str);
    let from = TableName::parse(from_table, "public");
    let to = TableName::parse(to_table, &from.schema);
    let from_oid = catalog::table(&from);
    let to_oid = catalog::table(&to);
    let (from_pk, from_pk_type) = primary_key(from_oid, &from);
    let (to_pk, to_pk_type) = primary_key(to_oid, &to);

    let result = match kind {
        "many_to_one" | "one_to_one" => {
            let column = names::validate(text("column").unwrap_or(&format!("{}_id", to.name)), Kind::Column);
            if catalog::column_exists(from_oid, &column) {
                errors::raise(Code::ERRCODE_DUPLICATE_COLUMN, format!("column \"{column}\" already exists on {}", from.display()));
            }
            let required = opts.get("required").and_then(Value::as_bool).unwrap_or(false);
            let on_delete = OnDelete::parse(text("on_delete"));
            if required && matches!(on_delete, OnDelete::SetNull) {
                errors::invalid("a required relation cannot use on_delete \"set null\"");
            }
            let constraint = |suffix: &str| quote(&names::derived(&[&from.name, &column], suffix));
            let mut parts = vec![format!("ADD COLUMN {} {to_pk_type}{}", quote(&column), if required { " NOT NULL" } else { "" })];
            parts.push(format!(
                "ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
                constraint("fkey"),
                quote(&column),
                to.quoted(),
                quote(&to_pk),
                on_delete.sql()
            ));
            if kind == "one_to_one" {
                parts.push(format!("ADD CONSTRAINT {} UNIQUE ({})", constraint("key"), quote(&column)));
            }
            change.push(format!("ALTER TABLE {} {}", from.quoted(), parts.join(", ")));
            if kind == "many_to_one" {
                change.push(format!("CREATE INDEX {} ON {} ({})", constraint("idx"), from.quoted(), quote(&column)));
            }
            json!({"kind": kind, "table": from.display(), "column": column, "references": to.display()})
        }
        "many_to_many" => {
            let junction_name = text("junction").map(str::to_string).unwrap_or(format!("{}_{}", from.name, to.name));
            let junction = TableName::parse(&junction_name, &from.schema);
            if catalog::find_table(&junction).is_some() {
                errors::raise(Code::ERRCODE_DUPLICATE_TABLE, format!("table {} already exists", junction.display()));
            }
            let from_col = format!("{}_id", from.name);
            let to_col = if from == to { format!("related_{}_id", to.name) } else { format!("{}_id", to.name) };
            let (from_col, to_col) = (names::validate(&from_col, Kind::Column), names::validate(&to_col, Kind::Column));
            let constraint = |parts: &[&str], suffix: &str| quote(&names::derived(parts, suffix));
            change.push(format!(
                "CREATE TABLE {jt} (\n  {fc} {from_pk_type} NOT NULL,\n  {tc} {to_pk_type} NOT NULL,\n  \
                 \"owner_id\" uuid DEFAULT bknd.uid(),\n  \"created_at\" timestamptz NOT NULL DEFAULT now(),\n  \
                 CONSTRAINT {pk} PRIMARY KEY ({fc}, {tc}),\n  \
                 CONSTRAINT {ffk} FOREIGN KEY ({fc}) REFERENCES {ft} ({fpk}) ON DELETE CASCADE,\n  \
                 CONSTRAINT {tfk} FOREIGN KEY ({tc}) REFERENCES {tt} ({tpk}) ON DELETE CASCADE\n)",
                jt = junction.quoted(),
                fc = quote(&from_col),
                tc = quote(&to_col),
                pk = constraint(&[&junction.name], "pkey"),
                ffk = constraint(&[&junction.name, &from_col], "fkey"),
                tfk = constraint(&[&junction.name, &to_col], "fkey"),
                ft = from.quoted(),
                tt = to.quoted(),
                fpk = quote(&from_pk),
                tpk = quote(&to_pk),
            ));
            change.push(format!(
                "CREATE INDEX {} ON {} ({})",
                constraint(&[&junction.name, &to_col], "idx"),
                junction.quoted(),
                quote(&to_col)
            ));
            change.extend(secure_statements(&junction));
            json!({"kind": kind, "junction": junction.display(), "columns": [from_col, to_col],
                   "references": [from.display(), to.display()]})
        }
        other => errors::invalid(format!("relation kind {other:?} is not one of many_to_one, one_to_one, many_to_many")),
    };
    change.run();
    JsonB(result)
}

fn primary_key(oid: pgrx::pg_sys::Oid, table: &TableName) -> (String, String) {
    catalog::primary_key(oid).unwrap_or_else(|| {
        errors::raise(Code::ERRCODE_INVALID_TABLE_DEFINITION, format!("table {} has no single-column primary key", table.display()))
    })
}
