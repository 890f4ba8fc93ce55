//! The query string, sorted into what applies where: `select`, `order`, `limit`, `offset`,
//! `columns`, `on_conflict`, filters and logic trees, for the root and for each embedded
//! resource (`projects.tasks.order=...`). Keys that are neither stay as plain parameters
//! (RPC arguments on GET).

use std::collections::BTreeMap;

use super::field::parse_field;
use super::filter::{parse_filter, parse_logic, Logic};
use super::order::{parse_order, OrderTerm};
use super::select::{parse_select, SelectItem};
use crate::rest::error::ApiError;

/// What applies to one resource: the root (empty path) or an embedded one.
#[derive(Debug, Clone, Default)]
pub struct NodeParams {
    pub filters: Vec<Logic>,
    pub order: Vec<OrderTerm>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    pub select: Option<Vec<SelectItem>>,
    pub columns: Option<Vec<String>>,
    pub on_conflict: Option<Vec<String>>,
    /// keyed by the embedding path: [] for the root, ["projects", "tasks"] below it
    pub nodes: BTreeMap<Vec<String>, NodeParams>,
    /// `key=value` pairs that are not reserved words, in order (filters on the root or RPC
    /// arguments: only the plan can tell)
    pub plain: Vec<(String, String)>,
}

impl QueryParams {
    pub fn root(&self) -> NodeParams {
        self.nodes.get(&Vec::new()).cloned().unwrap_or_default()
    }
}

fn number(key: &str, value: &str) -> Result<i64, ApiError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::parse(format!("\"failed to parse {key} ({value})\""), "expecting a non-negative integer"))
}

/// `a,"b",c`: column names, which end up in SQL text (so they cannot hold NUL).
fn column_list(key: &str, value: &str) -> Result<Vec<String>, ApiError> {
    if value.contains('\0') {
        return Err(ApiError::parse(format!("\"failed to parse {key}\""), "a column name cannot contain the NUL character"));
    }
    Ok(value.split(',').map(|c| c.trim().trim_matches('"').to_string()).collect())
}

/// Split `a.b.c->x.y` into the embedding path and the last segment (which keeps its JSON path).
fn split_key(key: &str) -> (Vec<String>, String) {
    let (head, tail) = match key.find("->") {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut parts: Vec<String> = head.split('.').map(str::to_string).collect();
    let last = parts.pop().unwrap_or_default();
    (parts, format!("{last}{tail}"))
}

pub fn parse(pairs: &[(String, String)]) -> Result<QueryParams, ApiError> {
    let mut q = QueryParams::default();
    for (key, value) in pairs {
        match key.as_str() {
            "select" => {
                q.select = Some(parse_select(value)?);
                continue;
            }
            "columns" => {
                q.columns = Some(column_list(key, value)?.into_iter().filter(|c| !c.is_empty()).collect());
                continue;
            }
            "on_conflict" => {
                q.on_conflict = Some(column_list(key, value)?);
                continue;
            }
            _ => {}
        }
        let (mut path, last) = split_key(key);
        // `not.or` / `not.and`: the `not` is part of the last word
        let (negate, word) = if path.last().is_some_and(|p| p == "not") && (last == "or" || last == "and") {
            path.pop();
            (true, last.as_str())
        } else {
            (false, last.as_str())
        };
        match word {
            "order" => q.nodes.entry(path).or_default().order = parse_order(value)?,
            "limit" => q.nodes.entry(path).or_default().limit = Some(number("limit", value)?),
            "offset" => q.nodes.entry(path).or_default().offset = Some(number("offset", value)?),
            "or" | "and" => {
                let tree = parse_logic(word == "or", negate, value)?;
                q.nodes.entry(path).or_default().filters.push(tree);
            }
            _ if path.is_empty() => q.plain.push((key.clone(), value.clone())),
            _ => {
                let filter = parse_filter(parse_field(word)?, value)?;
                q.nodes.entry(path).or_default().filters.push(Logic::Filter(filter));
            }
        }
    }
    Ok(q)
}

/// The root's filters from the plain pairs (for tables; RPC takes its arguments out first).
pub fn root_filters(plain: &[(String, String)]) -> Result<Vec<Logic>, ApiError> {
    plain.iter().map(|(k, v)| Ok(Logic::Filter(parse_filter(parse_field(k)?, v)?))).collect()
}
