//! Filters, logic trees and ORDER BY as SQL.

use super::{cast_type, push_ident, Sql};
use crate::rest::request::field::{Arrow, Field};
use crate::rest::request::filter::{Filter, IsValue, Logic, Operation, Quantifier};
use crate::rest::request::order::OrderTerm;

/// `"t0"."data"->$1->>$2`
pub fn field_sql(sql: &mut Sql, alias: &str, field: &Field) -> String {
    // pushed piece by piece rather than formatted: this runs for every filter of every request
    let mut out = String::with_capacity(alias.len() + field.name.len() + 8);
    push_ident(&mut out, alias);
    out.push('.');
    push_ident(&mut out, &field.name);
    for step in &field.json_path {
        out.push_str(match step.arrow {
            Arrow::Json => "->",
            Arrow::Text => "->>",
        });
        out.push_str(&sql.param(&step.key));
        // an integer key indexes an array
        out.push_str(if step.key.parse::<i64>().is_ok() { "::int" } else { "::text" });
    }
    out
}

/// A Postgres array literal `{"a","b"}` from list items.
fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("{{{}}}", quoted.join(","))
}

pub fn filter_sql(sql: &mut Sql, alias: &str, filter: &Filter) -> String {
    let column = field_sql(sql, alias, &filter.field);
    let condition = match &filter.operation {
        Operation::Compare { op, quantifier: None, value } => {
            let mut condition = column;
            condition.push(' ');
            condition.push_str(op);
            condition.push(' ');
            condition.push_str(&sql.param(value));
            condition
        }
        Operation::Compare { op, quantifier: Some(q), value } => {
            let q = match q {
                Quantifier::Any => "ANY",
                Quantifier::All => "ALL",
            };
            format!("{column} {op} {q}({})", sql.param(value))
        }
        Operation::In(items) => format!("{column} = ANY({})", sql.param(array_literal(items))),
        Operation::Is(v) => format!(
            "{column} IS {}",
            match v {
                IsValue::Null => "NULL",
                IsValue::NotNull => "NOT NULL",
                IsValue::True => "TRUE",
                IsValue::False => "FALSE",
                IsValue::Unknown => "UNKNOWN",
            }
        ),
        Operation::TextSearch { function, language, query } => match language {
            Some(lang) => {
                let lang = sql.param(lang);
                format!("{column} @@ pg_catalog.{function}({lang}::regconfig, {})", sql.param(query))
            }
            None => format!("{column} @@ pg_catalog.{function}({})", sql.param(query)),
        },
    };
    if filter.negate {
        format!("NOT ({condition})")
    } else {
        condition
    }
}

pub fn logic_sql(sql: &mut Sql, alias: &str, logic: &Logic) -> String {
    match logic {
        Logic::Filter(f) => filter_sql(sql, alias, f),
        Logic::Tree { negate, or, children } => {
            let parts: Vec<String> = children.iter().map(|c| parenthesized(&logic_sql(sql, alias, c))).collect();
            let joined = if parts.is_empty() { "TRUE".to_string() } else { parts.join(if *or { " OR " } else { " AND " }) };
            if *negate {
                format!("NOT ({joined})")
            } else {
                joined
            }
        }
    }
}

/// The conditions of `filters`, ANDed; empty when there are none.
pub fn conditions(sql: &mut Sql, alias: &str, filters: &[Logic]) -> Vec<String> {
    filters.iter().map(|f| parenthesized(&logic_sql(sql, alias, f))).collect()
}

fn parenthesized(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('(');
    out.push_str(text);
    out.push(')');
    out
}

pub fn order_sql(sql: &mut Sql, alias: &str, order: &[OrderTerm]) -> String {
    if order.is_empty() {
        return String::new();
    }
    let terms: Vec<String> = order
        .iter()
        .map(|t| {
            let mut s = field_sql(sql, alias, &t.field);
            s.push_str(if t.descending { " DESC" } else { " ASC" });
            match t.nulls_first {
                Some(true) => s.push_str(" NULLS FIRST"),
                Some(false) => s.push_str(" NULLS LAST"),
                None => {}
            }
            s
        })
        .collect();
    format!(" ORDER BY {}", terms.join(", "))
}

/// `CAST(expr AS type)` for a validated cast.
pub fn with_cast(expr: String, cast: Option<&str>) -> Option<String> {
    match cast {
        None => Some(expr),
        Some(c) => cast_type(c).map(|t| format!("CAST({expr} AS {t})")),
    }
}
