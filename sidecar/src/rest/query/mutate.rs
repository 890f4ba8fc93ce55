//! INSERT (and upsert), UPDATE and DELETE as one statement: the write is a CTE, and the
//! response is read from what it RETURNING-ed, embeds included.

use super::read::{body_expr, node_sql, BodyShape};
use super::{ident, qualified, Sql};
use crate::rest::error::ApiError;
use crate::rest::plan::ReadNode;

pub const SOURCE_CTE: &str = "_bknd_source";

pub enum Write {
    Insert {
        columns: Vec<String>,
        /// ON CONFLICT target and whether to update (merge) or skip (ignore) duplicates
        on_conflict: Option<(Vec<String>, bool)>,
        /// the columns' defaults, for `missing=default`: (column, default SQL from the catalog)
        defaults: Option<Vec<(String, Option<String>)>>,
    },
    Update {
        columns: Vec<String>,
    },
    Delete,
}

pub struct WriteSpec<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub write: Write,
    /// conditions on the target (alias `_bknd_target`), already rendered
    pub conditions: Vec<String>,
    /// the JSON body parameter, for inserts and updates
    pub body_param: Option<String>,
    /// primary key columns, for the Location header
    pub pk: Vec<String>,
}

pub const TARGET_ALIAS: &str = "_bknd_target";

fn write_cte(spec: &WriteSpec) -> String {
    let table = qualified(spec.schema, spec.table);
    let target = ident(TARGET_ALIAS);
    // pieces joined with concat rather than format!: a write builds this on every request
    let where_ = if spec.conditions.is_empty() { String::new() } else { [" WHERE ", &spec.conditions.join(" AND ")].concat() };
    let body = spec.body_param.clone().unwrap_or_else(|| "NULL".into());
    match &spec.write {
        Write::Insert { columns, on_conflict, defaults } => {
            let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
            let rows = [
                "(SELECT CASE WHEN pg_catalog.json_typeof(_b) = 'array' THEN _b ELSE pg_catalog.json_build_array(_b) END FROM (SELECT ",
                &body,
                "::json AS _b) _bb)",
            ]
            .concat();
            let select = match defaults {
                None => [
                    "SELECT ",
                    &cols.iter().map(|c| ["_r.", c].concat()).collect::<Vec<_>>().join(", "),
                    " FROM pg_catalog.json_populate_recordset(NULL::",
                    &table,
                    ", ",
                    &rows,
                    ") _r",
                ]
                .concat(),
                Some(defaults) => {
                    // a key absent from an object takes the column default, not NULL
                    let exprs: Vec<String> = defaults
                        .iter()
                        .map(|(c, default)| {
                            let d = default.clone().unwrap_or_else(|| "NULL".into());
                            format!("CASE WHEN (_j::jsonb) ? {} THEN _r.{} ELSE {d} END", super::literal(c), ident(c))
                        })
                        .collect();
                    format!(
                        "SELECT {} FROM pg_catalog.json_array_elements({rows}) _j, LATERAL pg_catalog.json_populate_record(NULL::{table}, _j) _r",
                        exprs.join(", ")
                    )
                }
            };
            let conflict = match on_conflict {
                None => String::new(),
                Some((keys, merge)) => {
                    let keys: Vec<String> = keys.iter().map(|k| ident(k)).collect();
                    if *merge && !cols.is_empty() {
                        let sets: Vec<String> = cols.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
                        format!(" ON CONFLICT ({}) DO UPDATE SET {}", keys.join(", "), sets.join(", "))
                    } else {
                        format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", "))
                    }
                }
            };
            let inserted = if on_conflict.is_some() { ", (xmax = 0) AS _bknd_inserted" } else { ", true AS _bknd_inserted" };
            // no column (`[]`, `{}`): no column list, and `SELECT FROM` (zero columns) gives one
            // row of defaults per object, none for an empty array
            let list = if cols.is_empty() { String::new() } else { ["(", &cols.join(", "), ") "].concat() };
            ["INSERT INTO ", &table, " AS ", &target, " ", &list, &select, &conflict, " RETURNING ", &target, ".*", inserted].concat()
        }
        Write::Update { columns } => {
            let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
            let values: Vec<String> = cols.iter().map(|c| format!("_r.{c}")).collect();
            format!(
                "UPDATE {table} AS {target} SET ({}) = (SELECT {} FROM pg_catalog.json_populate_record(NULL::{table}, {body}::json) _r){where_} RETURNING {target}.*, false AS _bknd_inserted",
                cols.join(", "),
                values.join(", ")
            )
        }
        Write::Delete => format!("DELETE FROM {table} AS {target}{where_} RETURNING {target}.*, false AS _bknd_inserted"),
    }
}

/// The statement: `total`, `page_total`, `body`, `location`, `inserted`.
pub fn write_statement(
    sql: &mut Sql,
    spec: &WriteSpec,
    read: Option<&ReadNode>,
    count: bool,
    shape: BodyShape,
) -> Result<String, ApiError> {
    let cte = write_cte(spec);
    let source = ident(SOURCE_CTE);
    // pieces joined with concat rather than format!: a write builds this on every request
    let location = if spec.pk.is_empty() {
        "NULL::text".to_string()
    } else {
        let cols: Vec<String> = spec.pk.iter().map(|c| ident(c)).collect();
        ["(SELECT pg_catalog.row_to_json(_l)::text FROM (SELECT ", &cols.join(", "), " FROM ", &source, " LIMIT 1) _l)"].concat()
    };
    let counted = ["(SELECT pg_catalog.count(*) FROM ", &source, ")"].concat();
    let total = if count { counted.clone() } else { "NULL::bigint".into() };
    let inserted = ["(SELECT pg_catalog.count(*) FROM ", &source, " WHERE _bknd_inserted)"].concat();
    let body = match read {
        Some(node) => {
            let n = node_sql(sql, node, "", vec![])?;
            ["(SELECT ", body_expr(shape), " FROM (", &n.select(), ") _bknd_t)"].concat()
        }
        None => "NULL::text".to_string(),
    };
    Ok([
        "WITH ",
        &source,
        " AS (",
        &cte,
        ") SELECT ",
        &total,
        " AS total, ",
        &counted,
        " AS page_total, ",
        &body,
        " AS body, ",
        &location,
        " AS location, ",
        &inserted,
        " AS inserted",
    ]
    .concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(columns: &[&str]) -> String {
        let spec = WriteSpec {
            schema: "public",
            table: "t",
            write: Write::Insert { columns: columns.iter().map(|c| c.to_string()).collect(), on_conflict: None, defaults: None },
            conditions: vec![],
            body_param: Some("$1".into()),
            pk: vec![],
        };
        write_cte(&spec)
    }

    #[test]
    fn an_insert_names_its_columns() {
        assert!(insert(&["a", "b"]).starts_with(r#"INSERT INTO "public"."t" AS "_bknd_target" ("a", "b") SELECT _r."a", _r."b" FROM"#));
    }

    #[test]
    fn an_insert_of_no_column_has_no_column_list() {
        // `[]` and `{}` bodies: `INSERT INTO t () ...` is a syntax error; a zero-column SELECT
        // inserts one row of defaults per object
        let sql = insert(&[]);
        assert!(sql.starts_with(r#"INSERT INTO "public"."t" AS "_bknd_target" SELECT  FROM"#), "{sql}");
        assert!(!sql.contains("()"), "{sql}");
    }
}
