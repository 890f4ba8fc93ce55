//! SQL building. Every value is a bind parameter (but a page's LIMIT and OFFSET: integers,
//! written as numbers so a page's plan is kept, query/read.rs); every identifier is quoted.
//!
//! Parameters are sent in text format with no declared type, so PostgreSQL types them from
//! where they are used (`"id" = $1` makes `$1` a bigint), just as PostgREST's unknown-typed
//! literals are.

pub mod mutate;
pub mod read;
pub mod where_clause;

use bytes::BytesMut;
use tokio_postgres::types::{Format, IsNull, ToSql, Type};

#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub params: Vec<Option<String>>,
}

impl Sql {
    /// A placeholder for `value`.
    pub fn param(&mut self, value: impl Into<String>) -> String {
        self.params.push(Some(value.into()));
        self.placeholder()
    }

    pub fn null_param(&mut self) -> String {
        self.params.push(None);
        self.placeholder()
    }

    /// `$n` for the last parameter (an integer's to_string is not the formatting machinery)
    fn placeholder(&self) -> String {
        let mut p = String::with_capacity(4);
        p.push('$');
        p.push_str(&self.params.len().to_string());
        p
    }

    pub fn bind(&self) -> Vec<TextParam> {
        self.params.iter().map(|p| TextParam(p.clone())).collect()
    }
}

/// `"name"` with embedded quotes doubled.
pub fn ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    push_ident(&mut quoted, name);
    quoted
}

/// `name` quoted onto the end of `out` (one allocation less than `ident`: statements are built
/// on every request).
pub fn push_ident(out: &mut String, name: &str) {
    out.push('"');
    for (i, part) in name.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

pub fn qualified(schema: &str, name: &str) -> String {
    let mut quoted = String::with_capacity(schema.len() + name.len() + 5);
    push_ident(&mut quoted, schema);
    quoted.push('.');
    push_ident(&mut quoted, name);
    quoted
}

/// A string literal, for the few places SQL needs one that is not a value (json keys in
/// json_build_object use parameters instead).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A value sent as text for PostgreSQL to parse as whatever type the statement needs.
#[derive(Debug, Clone)]
pub struct TextParam(pub Option<String>);

impl ToSql for TextParam {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(v) => {
                out.extend_from_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A cast target from the query string: letters, digits, underscores, spaces, `[]`; checked
/// again here because it is spliced into SQL text.
pub fn cast_type(name: &str) -> Option<String> {
    let ok = !name.is_empty() && name.trim_end_matches("[]").chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ');
    ok.then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::{ident, qualified};

    #[test]
    fn names_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(ident("items"), "\"items\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("\"\""), "\"\"\"\"\"\"");
        assert_eq!(ident(""), "\"\"");
        assert_eq!(qualified("public", "x\"; DROP TABLE t; --"), "\"public\".\"x\"\"; DROP TABLE t; --\"");
    }
}
