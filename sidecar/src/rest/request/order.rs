//! `order=col.desc.nullslast,data->>x.asc,other`

use super::field::{Cursor, Field};
use crate::rest::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    pub field: Field,
    pub descending: bool,
    /// Some(true): NULLS FIRST, Some(false): NULLS LAST
    pub nulls_first: Option<bool>,
}

pub fn parse_order(text: &str) -> Result<Vec<OrderTerm>, ApiError> {
    let mut c = Cursor::new(text);
    let mut terms = Vec::new();
    loop {
        c.skip_spaces();
        let field = c.field()?;
        let mut term = OrderTerm { field, descending: false, nulls_first: None };
        while c.eat(".") {
            let word_start = c.pos;
            while c.peek().is_some_and(|ch| ch.is_ascii_alphabetic()) {
                c.pos += 1;
            }
            match &c.text[word_start..c.pos] {
                "asc" => term.descending = false,
                "desc" => term.descending = true,
                "nullsfirst" => term.nulls_first = Some(true),
                "nullslast" => term.nulls_first = Some(false),
                _ => {
                    c.pos = word_start;
                    return Err(order_error(text, &c));
                }
            }
        }
        terms.push(term);
        if c.at_end() {
            return Ok(terms);
        }
        if !c.eat(",") {
            return Err(order_error(text, &c));
        }
    }
}

fn order_error(text: &str, c: &Cursor) -> ApiError {
    let found = match c.rest().chars().next() {
        Some(ch) => format!("unexpected '{ch}'"),
        None => "unexpected end of input".into(),
    };
    ApiError::parse(
        format!("\"failed to parse order ({text})\" (line 1, column {})", c.pos + 1),
        format!("{found} expecting \",\" or end of input"),
    )
}
