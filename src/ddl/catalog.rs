//! Catalog look-ups the DDL functions need. They run as the caller.

use pgrx::pg_sys::Oid;
use serde_json::Value;

use super::names::TableName;
use crate::errors::{self, Code};

/// The table's oid, or None.
pub fn find_table(table: &TableName) -> Option<Oid> {
    let oid = crate::plans::get_one::<Oid>(
        "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
        &[table.schema.as_str().into(), table.name.as_str().into()],
    );
    errors::spi_or(oid, None)
}

/// The table's oid, or 42P01 (undefined_table).
pub fn table(table: &TableName) -> Oid {
    find_table(table).unwrap_or_else(|| errors::raise(Code::ERRCODE_UNDEFINED_TABLE, format!("table {} does not exist", table.display())))
}

pub fn schema_exists(schema: &str) -> bool {
    let hit = crate::plans::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", &[schema.into()]);
    errors::spi(hit).unwrap_or(false)
}

/// Whether the relation belongs to an extension (pg_dump would not dump it as the user's).
pub fn is_extension_member(table: Oid) -> bool {
    let hit = crate::plans::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_depend WHERE classid = 'pg_catalog.pg_class'::regclass \
         AND objid = $1 AND deptype = 'e')",
        &[table.into()],
    );
    errors::spi(hit).unwrap_or(false)
}

pub fn trigger_exists(table: Oid, name: &str) -> bool {
    let hit = crate::plans::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2)",
        &[table.into(), name.into()],
    );
    errors::spi(hit).unwrap_or(false)
}

pub fn column_exists(table: Oid, column: &str) -> bool {
    let hit = crate::plans::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute \
         WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped)",
        &[table.into(), column.into()],
    );
    errors::spi(hit).unwrap_or(false)
}

/// The single-column primary key of a table: (column, type), or None.
pub fn primary_key(table: Oid) -> Option<(String, String)> {
    let row = crate::plans::get_two::<String, String>(
        "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) \
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_attribute a \
           ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
         WHERE k.conrelid = $1 AND k.contype = 'p' AND array_length(k.conkey, 1) = 1",
        &[table.into()],
    );
    match errors::spi_or(row, (None, None)) {
        (Some(col), Some(ty)) => Some((col, ty)),
        _ => None,
    }
}

/// The owner of a relation.
pub fn owner(table: Oid) -> Oid {
    errors::spi_or(crate::plans::get_one::<Oid>("SELECT relowner FROM pg_catalog.pg_class WHERE oid = $1", &[table.into()]), None)
        .unwrap_or(pgrx::pg_sys::InvalidOid)
}

/// Run a catalog query (an `include_str!` of sql/queries/*.sql) taking one oid; its jsonb.
pub fn json_query(sql: &str, oid: Option<Oid>) -> Value {
    let args: Vec<pgrx::datum::DatumWithOid> = oid.into_iter().map(Into::into).collect();
    let result = crate::plans::get_one::<pgrx::JsonB>(sql, &args);
    errors::spi_or(result, None).map(|j| j.0).unwrap_or(Value::Null)
}
