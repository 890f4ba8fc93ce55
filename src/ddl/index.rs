//! `bknd.create_index`.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use super::catalog;
use super::change::Change;
use super::names::{self, quote, Kind, TableName};
use crate::errors::{self, Code};

const METHODS: [&str; 5] = ["btree", "hash", "gin", "gist", "brin"];

/// Create an index on `columns`; its name is derived from the table and columns, so calling
/// this twice with the same arguments changes nothing. Returns the index name.
#[pg_extern(volatile, parallel_unsafe)]
fn create_index(table_name: &str, columns: Vec<String>, unique: default!(bool, false), method: default!(&str, "'btree'")) -> JsonB {
    let mut change =
        Change::begin("create_index", json!({"table_name": table_name, "columns": columns, "unique": unique, "method": method}));
    let table = TableName::parse(table_name, "public");
    let oid = catalog::table(&table);
    if columns.is_empty() {
        errors::invalid("an index needs at least one column");
    }
    if !METHODS.contains(&method) {
        errors::invalid(format!("index method {method:?} is not one of {}", METHODS.join(", ")));
    }
    if unique && method != "btree" {
        errors::invalid("only btree indexes can be unique");
    }
    let columns: Vec<String> = columns.iter().map(|c| names::validate(c, Kind::Column)).collect();
    for column in &columns {
        if !catalog::column_exists(oid, column) {
            errors::raise(Code::ERRCODE_UNDEFINED_COLUMN, format!("column \"{column}\" of table {} does not exist", table.display()));
        }
    }
    let mut parts: Vec<&str> = vec![&table.name];
    parts.extend(columns.iter().map(String::as_str));
    let name = names::derived(&parts, if unique { "key" } else { "idx" });
    let quoted: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    change.push(format!(
        "CREATE {}INDEX IF NOT EXISTS {} ON {} USING {method} ({})",
        if unique { "UNIQUE " } else { "" },
        quote(&name),
        table.quoted(),
        quoted.join(", ")
    ));
    change.run();
    JsonB(json!({"index": name, "table": table.display(), "columns": columns, "unique": unique, "method": method}))
}
