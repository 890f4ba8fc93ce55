//! A `postgres_changes` binding: which events of which table, and one filter
//! (`col=eq|neq|lt|lte|gt|gte.value`, `col=in.(a,b)` with up to 100 values), matched against a
//! change's row. Values compare as numbers when both sides are numbers, else as text, as the
//! row's JSON and the filter's text allow.

use std::cmp::Ordering;

use serde_json::Value;

pub const MAX_IN_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    All,
    Insert,
    Update,
    Delete,
}

impl Event {
    pub fn parse(s: &str) -> Result<Event, String> {
        match s.to_ascii_uppercase().as_str() {
            "*" => Ok(Event::All),
            "INSERT" => Ok(Event::Insert),
            "UPDATE" => Ok(Event::Update),
            "DELETE" => Ok(Event::Delete),
            _ => Err(format!("event must be *, INSERT, UPDATE or DELETE, not {s:?}")),
        }
    }

    pub fn matches(self, change_type: &str) -> bool {
        match self {
            Event::All => true,
            Event::Insert => change_type == "INSERT",
            Event::Update => change_type == "UPDATE",
            Event::Delete => change_type == "DELETE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: String,
    op: Op,
    values: Vec<String>,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let (column, rest) = text.split_once('=').ok_or_else(|| format!("filter {text:?} is not column=operator.value"))?;
        let (op, value) = rest.split_once('.').ok_or_else(|| format!("filter {text:?} is not column=operator.value"))?;
        if column.is_empty() || column.len() > 63 || !column.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!("filter column {column:?} is not a column name"));
        }
        let op = match op {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "in" => Op::In,
            other => return Err(format!("filter operator {other:?} is not one of eq, neq, lt, lte, gt, gte, in")),
        };
        let values = if op == Op::In {
            let inner = value
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| "the in filter's values are wrapped in parentheses: in.(a,b)".to_string())?;
            let values: Vec<String> = inner.split(',').map(|v| unquote(v.trim())).collect();
            if values.len() > MAX_IN_VALUES {
                return Err(format!("the in filter takes at most {MAX_IN_VALUES} values"));
            }
            values
        } else {
            vec![unquote(value)]
        };
        Ok(Filter { column: column.to_string(), op, values })
    }

    /// Does `row` (a change's record, or the key of a delete) match? A row without the
    /// column does not.
    pub fn matches(&self, row: &Value) -> bool {
        let Some(cell) = row.get(&self.column) else { return false };
        let ordering = |want: &str| compare(cell, want);
        match self.op {
            Op::Eq => ordering(&self.values[0]) == Some(Ordering::Equal),
            Op::Neq => matches!(ordering(&self.values[0]), Some(Ordering::Less | Ordering::Greater)),
            Op::Lt => ordering(&self.values[0]) == Some(Ordering::Less),
            Op::Lte => matches!(ordering(&self.values[0]), Some(Ordering::Less | Ordering::Equal)),
            Op::Gt => ordering(&self.values[0]) == Some(Ordering::Greater),
            Op::Gte => matches!(ordering(&self.values[0]), Some(Ordering::Greater | Ordering::Equal)),
            Op::In => self.values.iter().any(|v| ordering(v) == Some(Ordering::Equal)),
        }
    }
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

/// `cell` against the filter's text: numbers as numbers, booleans by name, NULL matches
/// nothing (as in SQL), anything else as its text.
fn compare(cell: &Value, want: &str) -> Option<Ordering> {
    match cell {
        Value::Null => None,
        Value::Number(n) => {
            let want: f64 = want.parse().ok()?;
            n.as_f64()?.partial_cmp(&want)
        }
        Value::Bool(b) => match want {
            "true" | "t" => Some(b.cmp(&true)),
            "false" | "f" => Some(b.cmp(&false)),
            _ => None,
        },
        Value::String(s) => Some(s.as_str().cmp(want)),
        other => Some(other.to_string().as_str().cmp(want)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_match_as_sql_would() {
        let row = json!({"id": 7, "status": "open", "done": false, "note": null});
        let yes = [
            "id=eq.7",
            "id=neq.8",
            "id=lt.10",
            "id=lte.7",
            "id=gt.6.5",
            "id=gte.7",
            "id=in.(1,7,9)",
            "status=eq.open",
            "status=in.(\"open\",closed)",
            "done=eq.false",
        ];
        for f in yes {
            assert!(Filter::parse(f).unwrap().matches(&row), "{f}");
        }
        let no = ["id=eq.8", "id=gt.7", "id=in.(1,2)", "status=eq.closed", "note=eq.x", "note=neq.x", "missing=eq.1", "id=eq.abc"];
        for f in no {
            assert!(!Filter::parse(f).unwrap().matches(&row), "{f}");
        }
    }

    #[test]
    fn bad_filters_are_refused_with_a_reason() {
        let hundred_and_one = format!("id=in.({})", (0..101).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
        for f in ["id", "id=eq", "id=like.x", "id=in.1,2", "=eq.1", "a b=eq.1", "id;drop=eq.1", hundred_and_one.as_str()] {
            assert!(Filter::parse(f).is_err(), "{f}");
        }
        assert!(Event::parse("upsert").is_err());
        assert_eq!(Event::parse("insert"), Ok(Event::Insert));
    }
}
