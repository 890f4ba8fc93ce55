//! Filters (`col=not.eq(any).{1,2}`, `col=in.(a,"b,c")`, `col=fts(french).word`) and logic
//! trees (`or=(a.eq.1,and(b.gt.2,c.is.null))`).

use super::field::{Cursor, Field};
use crate::rest::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsValue {
    Null,
    NotNull,
    True,
    False,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, cs, cd, ov, sl, sr, nxr, nxl, adj,
    /// isdistinct: an operator and one value (or a list with a quantifier)
    Compare {
        op: &'static str,
        quantifier: Option<Quantifier>,
        value: String,
    },
    In(Vec<String>),
    Is(IsValue),
    /// fts, plfts, phfts, wfts
    TextSearch {
        function: &'static str,
        language: Option<String>,
        query: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: Field,
    pub negate: bool,
    pub operation: Operation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logic {
    Filter(Filter),
    Tree { negate: bool, or: bool, children: Vec<Logic> },
}

/// The SQL operator for a PostgREST operator name.
fn sql_operator(name: &str) -> Option<&'static str> {
    Some(match name {
        "eq" => "=",
        "neq" => "<>",
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        "lte" => "<=",
        "like" => "LIKE",
        "ilike" => "ILIKE",
        "match" => "~",
        "imatch" => "~*",
        "isdistinct" => "IS DISTINCT FROM",
        "cs" => "@>",
        "cd" => "<@",
        "ov" => "&&",
        "sl" => "<<",
        "sr" => ">>",
        "nxr" => "&<",
        "nxl" => "&>",
        "adj" => "-|-",
        _ => return None,
    })
}

fn text_search_function(name: &str) -> Option<&'static str> {
    Some(match name {
        "fts" => "to_tsquery",
        "plfts" => "plainto_tsquery",
        "phfts" => "phraseto_tsquery",
        "wfts" => "websearch_to_tsquery",
        _ => return None,
    })
}

/// `[not.]op[(modifier)].value` for `field`.
pub fn parse_filter(field: Field, text: &str) -> Result<Filter, ApiError> {
    let fail = |details: String| ApiError::parse(format!("\"failed to parse filter ({text})\""), details);
    let (negate, rest) = match text.strip_prefix("not.") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (head, value) = rest.split_once('.').ok_or_else(|| fail("expecting an operator and a value: op.value".into()))?;
    let (op_name, modifier) = match head.split_once('(') {
        Some((op, m)) => {
            let m = m.strip_suffix(')').ok_or_else(|| fail("unclosed \"(\" after the operator".into()))?;
            (op, Some(m))
        }
        None => (head, None),
    };
    let operation = if let Some(function) = text_search_function(op_name) {
        Operation::TextSearch { function, language: modifier.map(str::to_string), query: value.to_string() }
    } else if op_name == "in" {
        if modifier.is_some() {
            return Err(fail("\"in\" takes no modifier".into()));
        }
        Operation::In(parse_list(value).map_err(fail)?)
    } else if op_name == "is" {
        Operation::Is(match value.to_ascii_lowercase().as_str() {
            "null" => IsValue::Null,
            "not_null" => IsValue::NotNull,
            "true" => IsValue::True,
            "false" => IsValue::False,
            "unknown" => IsValue::Unknown,
            _ => return Err(fail(format!("unknown \"is\" value \"{value}\": use null, not_null, true, false or unknown"))),
        })
    } else if let Some(op) = sql_operator(op_name) {
        let quantifier = match modifier {
            None => None,
            Some("any") => Some(Quantifier::Any),
            Some("all") => Some(Quantifier::All),
            Some(other) => return Err(fail(format!("unknown modifier \"{other}\": use any or all"))),
        };
        if quantifier.is_some() && !matches!(op_name, "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "like" | "ilike" | "match" | "imatch") {
            return Err(fail(format!("\"{op_name}\" takes no any/all modifier")));
        }
        let value = if matches!(op_name, "like" | "ilike") { value.replace('*', "%") } else { value.to_string() };
        Operation::Compare { op, quantifier, value }
    } else {
        return Err(fail(format!("unknown operator \"{op_name}\"")));
    };
    Ok(Filter { field, negate, operation })
}

/// `(a,"b,c",d)` -> ["a", "b,c", "d"]
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let inner = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')).ok_or_else(|| "a list must be written (a,b,c)".to_string())?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Ok(out);
    }
    let mut c = Cursor::new(inner);
    loop {
        if c.peek() == Some('"') {
            out.push(c.quoted().map_err(|mut e| e.details.take().unwrap_or_default())?);
        } else {
            let start = c.pos;
            while c.peek().is_some_and(|ch| ch != ',') {
                c.pos += c.peek().map(char::len_utf8).unwrap_or(1);
            }
            out.push(inner[start..c.pos].to_string());
        }
        if c.at_end() {
            return Ok(out);
        }
        if !c.eat(",") {
            return Err(format!("unexpected text after a quoted list item in {text}"));
        }
    }
}

/// The value of an `or=` / `and=` parameter: `(filter,filter,and(...))`.
pub fn parse_logic(or: bool, negate: bool, text: &str) -> Result<Logic, ApiError> {
    let mut c = Cursor::new(text);
    let children = logic_children(&mut c, 0)?;
    if !c.at_end() {
        return Err(c.error("expecting end of input"));
    }
    Ok(Logic::Tree { negate, or, children })
}

fn logic_children(c: &mut Cursor, depth: usize) -> Result<Vec<Logic>, ApiError> {
    if depth > 32 {
        return Err(c.error("logic nested too deeply"));
    }
    if !c.eat("(") {
        return Err(c.error("expecting \"(\""));
    }
    let mut out = Vec::new();
    loop {
        c.skip_spaces();
        out.push(logic_item(c, depth)?);
        c.skip_spaces();
        if c.eat(")") {
            return Ok(out);
        }
        if !c.eat(",") {
            return Err(c.error("expecting \",\" or \")\""));
        }
    }
}

fn logic_item(c: &mut Cursor, depth: usize) -> Result<Logic, ApiError> {
    let negate = c.rest().starts_with("not.and(") || c.rest().starts_with("not.or(");
    if negate {
        c.eat("not.");
    }
    for (word, or) in [("and(", false), ("or(", true)] {
        if c.rest().starts_with(word) {
            c.pos += word.len() - 1;
            let children = logic_children(c, depth + 1)?;
            return Ok(Logic::Tree { negate, or, children });
        }
    }
    let field = c.field()?;
    if !c.eat(".") {
        return Err(c.error("expecting \".\" after the column"));
    }
    // the filter runs to the next top-level ',' or ')': quotes and parentheses nest
    let start = c.pos;
    let mut depth_parens = 0usize;
    let mut in_quotes = false;
    while let Some(ch) = c.peek() {
        match ch {
            '\\' if in_quotes => {
                // skip the backslash; the escaped character (if any) is skipped below
                c.pos += 1;
                if c.at_end() {
                    break;
                }
            }
            '"' => in_quotes = !in_quotes,
            '(' | '{' | '[' if !in_quotes => depth_parens += 1,
            ')' | '}' | ']' if !in_quotes && depth_parens > 0 => depth_parens -= 1,
            ')' | ',' if !in_quotes && depth_parens == 0 => break,
            _ => {}
        }
        c.pos += c.peek().map(char::len_utf8).unwrap_or(1);
    }
    let text = c.text.get(start..c.pos).unwrap_or("");
    Ok(Logic::Filter(parse_filter(field, text)?))
}
