//! `bknd.add_column`, `bknd.drop_column`, `bknd.rename_column`.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use super::catalog;
use super::change::Change;
use super::column::ColumnSpec;
use super::describe::describe;
use super::names::{self, quote, Kind, TableName};
use crate::errors::{self, Code};

fn missing_column(table: &TableName, column: &str) -> ! {
    errors::raise(Code::ERRCODE_UNDEFINED_COLUMN, format!("column \"{column}\" of table {} does not exist", table.display()))
}

/// Add a column described like one entry of create_table's `columns`.
#[pg_extern(volatile, parallel_unsafe)]
fn add_column(table_name: &str, column_name: &str, spec: JsonB) -> JsonB {
    let mut change = Change::begin("add_column", json!({"table_name": table_name, "column_name": column_name, "spec": spec.0}));
    let table = TableName::parse(table_name, "public");
    let oid = catalog::table(&table);
    let column = ColumnSpec::parse(column_name, &spec.0, &table.schema);
    if catalog::column_exists(oid, &column.name) {
        errors::raise(Code::ERRCODE_DUPLICATE_COLUMN, format!("column \"{}\" of table {} already exists", column.name, table.display()));
    }
    let pk = catalog::primary_key(oid);
    let rendered = column.render(&table, pk.as_ref().map(|(c, t)| (c.as_str(), t.as_str())));
    let mut parts = vec![format!("ADD COLUMN {}", rendered.definition)];
    parts.extend(rendered.constraints.into_iter().map(|c| format!("ADD {c}")));
    change.push(format!("ALTER TABLE {} {}", table.quoted(), parts.join(", ")));
    change.extend(rendered.after);
    change.run();
    JsonB(describe(oid))
}

/// Drop a column (and the constraints and indexes on it). The primary key stays.
#[pg_extern(volatile, parallel_unsafe)]
fn drop_column(table_name: &str, column_name: &str) -> JsonB {
    let mut change = Change::begin("drop_column", json!({"table_name": table_name, "column_name": column_name}));
    let table = TableName::parse(table_name, "public");
    let oid = catalog::table(&table);
    let column = names::validate(column_name, Kind::Column);
    if !catalog::column_exists(oid, &column) {
        missing_column(&table, &column);
    }
    if catalog::primary_key(oid).is_some_and(|(pk, _)| pk == column) {
        errors::raise(Code::ERRCODE_INVALID_TABLE_DEFINITION, format!("column \"{column}\" is the primary key"));
    }
    change.push(format!("ALTER TABLE {} DROP COLUMN {}", table.quoted(), quote(&column)));
    change.run();
    JsonB(describe(oid))
}

/// Rename a column. Policies, constraints and indexes follow the new name.
#[pg_extern(volatile, parallel_unsafe)]
fn rename_column(table_name: &str, column_name: &str, new_name: &str) -> JsonB {
    let mut change = Change::begin("rename_column", json!({"table_name": table_name, "column_name": column_name, "new_name": new_name}));
    let table = TableName::parse(table_name, "public");
    let oid = catalog::table(&table);
    let column = names::validate(column_name, Kind::Column);
    let new_name = names::validate(new_name, Kind::Column);
    if !catalog::column_exists(oid, &column) {
        missing_column(&table, &column);
    }
    if catalog::column_exists(oid, &new_name) {
        errors::raise(Code::ERRCODE_DUPLICATE_COLUMN, format!("column \"{new_name}\" already exists"));
    }
    change.push(format!("ALTER TABLE {} RENAME COLUMN {} TO {}", table.quoted(), quote(&column), quote(&new_name)));
    change.run();
    JsonB(describe(oid))
}
