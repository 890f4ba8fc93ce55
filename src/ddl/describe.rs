//! `bknd.describe_table` and `bknd.list_tables`: the catalog as JSON.

use pgrx::pg_sys::Oid;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use super::catalog;
use super::names::TableName;

const DESCRIBE_TABLE: &str = include_str!("../../sql/queries/describe_table.sql");
const LIST_TABLES: &str = include_str!("../../sql/queries/list_tables.sql");
pub const POLICIES: &str = include_str!("../../sql/queries/policies.sql");

/// A table with its columns, keys, constraints, indexes and policies.
pub fn describe(table: Oid) -> Value {
    let mut doc = catalog::json_query(DESCRIBE_TABLE, Some(table));
    if let Value::Object(map) = &mut doc {
        map.insert("policies".into(), catalog::json_query(POLICIES, Some(table)));
    }
    doc
}

#[pg_extern(stable, strict, parallel_safe)]
fn describe_table(table_name: &str) -> JsonB {
    let table = TableName::parse(table_name, "public");
    JsonB(describe(catalog::table(&table)))
}

#[pg_extern(stable, parallel_safe)]
fn list_tables() -> JsonB {
    JsonB(catalog::json_query(LIST_TABLES, None))
}
