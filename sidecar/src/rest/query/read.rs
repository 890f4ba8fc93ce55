//! A read tree as one SELECT: embedded resources are lateral joins producing JSON, the whole
//! result is aggregated to JSON text in the database (no row-by-row work in Rust).

use super::where_clause::{conditions, field_sql, order_sql, with_cast};
use super::{ident, push_ident, qualified, Sql};
use crate::rest::error::ApiError;
use crate::rest::plan::{EmbedNode, Projection, ReadNode, Source};
use crate::rest::schema::Relationship;
use axum::http::StatusCode;

/// The pieces of a node's SELECT, kept apart so the count query can reuse FROM and WHERE.
pub struct NodeSql {
    pub select_list: String,
    pub from: String,
    /// lateral joins for every embed (the inner ones also restrict the count)
    pub laterals: String,
    pub inner_laterals: String,
    pub conditions: Vec<String>,
    pub order: String,
    pub limit_offset: String,
}

impl NodeSql {
    pub fn select(&self) -> String {
        let mut s = String::with_capacity(64 + self.select_list.len() + self.from.len() + self.laterals.len());
        s.push_str("SELECT ");
        s.push_str(&self.select_list);
        s.push_str(" FROM ");
        s.push_str(&self.from);
        s.push_str(&self.laterals);
        for (i, condition) in self.conditions.iter().enumerate() {
            s.push_str(if i == 0 { " WHERE " } else { " AND " });
            s.push_str(condition);
        }
        s.push_str(&self.order);
        s.push_str(&self.limit_offset);
        s
    }

    pub fn count(&self) -> String {
        let mut s = format!("SELECT pg_catalog.count(*) FROM {}{}", self.from, self.inner_laterals);
        if !self.conditions.is_empty() {
            s.push_str(&format!(" WHERE {}", self.conditions.join(" AND ")));
        }
        s
    }
}

pub fn source_sql(source: &Source, alias: &str) -> String {
    match source {
        Source::Table { schema, name } => {
            let mut s = String::with_capacity(schema.len() + name.len() + alias.len() + 12);
            push_ident(&mut s, schema);
            s.push('.');
            push_ident(&mut s, name);
            s.push_str(" AS ");
            push_ident(&mut s, alias);
            s
        }
        Source::Cte(name) => format!("{} AS {}", ident(name), ident(alias)),
        Source::Call(call) => format!("{call} AS {}", ident(alias)),
    }
}

/// `extra` conditions (a join to the parent) come before the node's own filters.
pub fn node_sql(sql: &mut Sql, node: &ReadNode, extra_from: &str, extra: Vec<String>) -> Result<NodeSql, ApiError> {
    let a = &node.alias;
    let mut select = Vec::new();
    let mut laterals = String::new();
    let mut inner_laterals = String::new();
    for p in &node.projections {
        match p {
            Projection::Star(Some(cols)) => {
                let alias = ident(a);
                select.extend(cols.iter().map(|c| {
                    let mut column = String::with_capacity(alias.len() + c.len() + 3);
                    column.push_str(&alias);
                    column.push('.');
                    push_ident(&mut column, c);
                    column
                }))
            }
            Projection::Star(None) => select.push(format!("{}.*", ident(a))),
            Projection::Column { field, label, cast } => {
                let expr = field_sql(sql, a, field);
                let expr = with_cast(expr, cast.as_deref()).ok_or_else(|| {
                    ApiError::parse("\"failed to parse select\"", format!("invalid cast type {:?}", cast.as_deref().unwrap_or("")))
                })?;
                select.push(format!("{expr} AS {}", ident(label)));
            }
            Projection::Embed(e) => {
                let (lateral, columns) = embed_sql(sql, a, e)?;
                laterals.push_str(&lateral);
                if e.inner {
                    inner_laterals.push_str(&lateral);
                }
                select.extend(columns);
            }
        }
    }
    let mut conds = extra;
    conds.extend(conditions(sql, a, &node.filters));
    let order = order_sql(sql, a, &node.order);
    // numbers in the text, not parameters (as PostgREST writes them): with `LIMIT $n` the
    // planner guesses a tenth of the rows, so a kept plan never looks as cheap as planning
    // afresh and every request is planned again; a page size repeats, its plan is kept
    let mut limit_offset = String::new();
    if let Some(l) = node.limit {
        limit_offset.push_str(" LIMIT ");
        limit_offset.push_str(&l.to_string());
    }
    if let Some(o) = node.offset {
        limit_offset.push_str(" OFFSET ");
        limit_offset.push_str(&o.to_string());
    }
    let mut from = source_sql(&node.source, a);
    from.push_str(extra_from);
    Ok(NodeSql { select_list: select.join(", "), from, laterals, inner_laterals, conditions: conds, order, limit_offset })
}

fn join_conditions(child: &str, parent: &str, join: &[(String, String)]) -> Vec<String> {
    join.iter().map(|(c, p)| format!("{}.{} = {}.{}", ident(child), ident(c), ident(parent), ident(p))).collect()
}

/// The lateral join for one embed, and what the parent selects from it.
fn embed_sql(sql: &mut Sql, parent: &str, e: &EmbedNode) -> Result<(String, Vec<String>), ApiError> {
    let child = &e.node.alias;
    let (extra_from, join) = match &e.relationship {
        Relationship::ToOne { join, .. } | Relationship::ToMany { join, .. } => (String::new(), join_conditions(child, parent, join)),
        Relationship::ManyToMany { junction_schema, junction, junction_join, child_join, .. } => {
            let j = format!("{child}_j");
            let mut conds = join_conditions(&j, parent, junction_join);
            // child_join pairs are (child col, junction col)
            conds.extend(child_join.iter().map(|(c, jc)| format!("{}.{} = {}.{}", ident(child), ident(c), ident(&j), ident(jc))));
            (format!(", {} AS {}", qualified(junction_schema, junction), ident(&j)), conds)
        }
    };
    let inner_sql = node_sql(sql, &e.node, &extra_from, join)?;
    let lateral_alias = format!("{child}_e");
    let join_kind = if e.inner { "INNER" } else { "LEFT" };
    let body = inner_sql.select();
    let empty = inner_sql.select_list.is_empty();
    if e.spread {
        if empty {
            return Ok((format!(" {join_kind} JOIN LATERAL ({body}) AS {} ON TRUE", ident(&lateral_alias)), vec![]));
        }
        return Ok((
            format!(" {join_kind} JOIN LATERAL ({body}) AS {} ON TRUE", ident(&lateral_alias)),
            vec![format!("{}.*", ident(&lateral_alias))],
        ));
    }
    let lateral = if e.relationship.is_to_one() {
        format!(
            " {join_kind} JOIN LATERAL (SELECT pg_catalog.row_to_json(_e) AS body FROM ({body}) _e) AS {} ON TRUE",
            ident(&lateral_alias)
        )
    } else if e.inner {
        format!(
            " INNER JOIN LATERAL (SELECT pg_catalog.json_agg(_e) AS body FROM ({body}) _e HAVING pg_catalog.count(*) > 0) AS {} ON TRUE",
            ident(&lateral_alias)
        )
    } else {
        format!(
            " LEFT JOIN LATERAL (SELECT coalesce(pg_catalog.json_agg(_e), '[]'::json) AS body FROM ({body}) _e) AS {} ON TRUE",
            ident(&lateral_alias)
        )
    };
    // an embed with nothing selected only filters (`rel!inner()`): it adds no key
    let columns = if empty { vec![] } else { vec![format!("{}.body AS {}", ident(&lateral_alias), ident(&e.label))] };
    Ok((lateral, columns))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// a JSON array of the rows
    Array,
    /// the first row as a JSON object (callers check there is exactly one)
    Object,
}

pub fn body_expr(shape: BodyShape) -> &'static str {
    match shape {
        BodyShape::Array => "coalesce(pg_catalog.json_agg(_bknd_t), '[]'::json)::text",
        BodyShape::Object => "coalesce((pg_catalog.json_agg(_bknd_t) -> 0)::text, '')",
    }
}

/// How the read statement counts the rows its filters match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSql {
    None,
    Exact,
    /// count, but stop at this many (the rest comes from the planner's estimate)
    AtMost(i64),
}

/// The rows of every count=estimated answer up to which the count is exact.
pub const ESTIMATE_THRESHOLD: i64 = 1000;

/// `EXPLAIN (FORMAT JSON)` of the rows the count would count, with parameters of its own.
/// Built from a copy of the tree holding only what the count uses (filters and `!inner`
/// embeds), so every parameter it allocates is referenced.
pub fn planned_count_statement(root: &ReadNode) -> Result<(String, Sql), ApiError> {
    planned_count_statement_after(root, Sql::default())
}

/// The same, for a tree whose source already uses parameters: a function call
/// (`Source::Call`) numbers its arguments `$1..$n` in the statement's `Sql` before the tree
/// adds its own. `before` holds exactly those (a copy taken right after the call was built),
/// so the EXPLAIN binds the call's arguments too.
pub fn planned_count_statement_after(root: &ReadNode, before: Sql) -> Result<(String, Sql), ApiError> {
    let mut stripped = root.clone();
    stripped.limit = None;
    stripped.offset = None;
    stripped.order.clear();
    stripped.projections.retain(|p| matches!(p, Projection::Embed(e) if e.inner));
    let mut sql = before;
    let node = node_sql(&mut sql, &stripped, "", vec![])?;
    let rows = node.count().replacen("SELECT pg_catalog.count(*) FROM", "SELECT 1 FROM", 1);
    Ok((format!("EXPLAIN (FORMAT JSON) {rows}"), sql))
}

/// The whole read: `total` (when counting), `page_total`, `body`.
pub fn read_statement(sql: &mut Sql, root: &ReadNode, count: CountSql, shape: BodyShape) -> Result<String, ApiError> {
    let node = node_sql(sql, root, "", vec![])?;
    if node.select_list.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "PGRST100", "select names nothing to return"));
    }
    let total = match count {
        CountSql::None => "NULL::bigint".into(),
        CountSql::Exact => format!("({})", node.count()),
        CountSql::AtMost(n) => {
            let mut limited = node.count().replacen("SELECT pg_catalog.count(*) FROM", "SELECT 1 FROM", 1);
            limited.push_str(&format!(" LIMIT {n}"));
            format!("(SELECT pg_catalog.count(*) FROM ({limited}) _c)")
        }
    };
    let select = node.select();
    let mut statement = String::with_capacity(select.len() + total.len() + 160);
    for piece in
        ["SELECT ", &total, " AS total, pg_catalog.count(*) AS page_total, ", body_expr(shape), " AS body FROM (", &select, ") _bknd_t"]
    {
        statement.push_str(piece);
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_numbers_in_the_text_not_parameters() {
        let node = ReadNode {
            source: Source::Table { schema: "public".into(), name: "items".into() },
            alias: "t0".into(),
            projections: vec![Projection::Star(Some(vec!["id".into()]))],
            filters: vec![],
            order: vec![],
            limit: Some(20),
            offset: Some(40),
        };
        let mut sql = Sql::default();
        let select = node_sql(&mut sql, &node, "", vec![]).unwrap().select();
        assert_eq!(select, r#"SELECT "t0"."id" FROM "public"."items" AS "t0" LIMIT 20 OFFSET 40"#);
        assert!(sql.params.is_empty(), "{:?}", sql.params);
    }
}
