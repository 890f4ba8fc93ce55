//! `select=id,name,client:clients!fk!inner(id,name),data->a->>b,total::text,...rel(col)`

use super::field::{Cursor, Field};
use crate::rest::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Default,
    Inner,
    Left,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`
    Star,
    Field {
        field: Field,
        alias: Option<String>,
        cast: Option<String>,
    },
    Embed(Embed),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embed {
    pub relation: String,
    pub alias: Option<String>,
    pub hint: Option<String>,
    pub join: JoinKind,
    pub spread: bool,
    pub items: Vec<SelectItem>,
}

impl Embed {
    /// The key it shows as: the alias, else the relation name.
    pub fn label(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.relation)
    }
}

pub fn parse_select(text: &str) -> Result<Vec<SelectItem>, ApiError> {
    let mut c = Cursor::new(text);
    let items = items(&mut c, 0)?;
    if !c.at_end() {
        return Err(c.error("expecting \",\" or end of input"));
    }
    Ok(items)
}

fn items(c: &mut Cursor, depth: usize) -> Result<Vec<SelectItem>, ApiError> {
    if depth > 16 {
        return Err(c.error("embedding nested too deeply"));
    }
    let mut out = Vec::new();
    loop {
        c.skip_spaces();
        if depth > 0 && c.peek() == Some(')') && out.is_empty() {
            return Ok(out); // `rel()`: embed nothing (spread/filter only)
        }
        out.push(item(c, depth)?);
        c.skip_spaces();
        if !c.eat(",") {
            return Ok(out);
        }
    }
}

fn item(c: &mut Cursor, depth: usize) -> Result<SelectItem, ApiError> {
    if c.eat("*") {
        return Ok(SelectItem::Star);
    }
    let spread = c.eat("...");
    let first = c.name("a column or relation name")?;
    // `alias:name` (but not `name::cast`)
    let (alias, name) = if c.rest().starts_with(':') && !c.rest().starts_with("::") {
        c.pos += 1;
        c.skip_spaces();
        (Some(first), c.name("a column or relation name")?)
    } else {
        (None, first)
    };
    if c.peek() == Some('!') || c.peek() == Some('(') {
        let mut hint = None;
        let mut join = JoinKind::Default;
        while c.eat("!") {
            let word = c.name("an embedding hint")?;
            match word.as_str() {
                "inner" => join = JoinKind::Inner,
                "left" => join = JoinKind::Left,
                _ => hint = Some(word),
            }
        }
        if !c.eat("(") {
            return Err(c.error("expecting \"(\""));
        }
        let items = items(c, depth + 1)?;
        c.skip_spaces();
        if !c.eat(")") {
            return Err(c.error("expecting \")\""));
        }
        return Ok(SelectItem::Embed(Embed { relation: name, alias, hint, join, spread, items }));
    }
    if spread {
        return Err(c.error("expecting \"(\" after a spread relation"));
    }
    // the rest of a field: JSON path and cast
    let field = Field { name, json_path: c.json_path()? };
    let cast = if c.eat("::") { Some(cast_type(c)?) } else { None };
    Ok(SelectItem::Field { field, alias, cast })
}

/// A type name for a cast: letters, digits, underscores, spaces, optionally `[]`. Pseudo-types
/// name no values (`unknown`, `record`, `any*`, `internal`, ...): PostgreSQL cannot cast to
/// them and some of those casts fail inside it (XX000), so they are refused here.
fn cast_type(c: &mut Cursor) -> Result<String, ApiError> {
    let start = c.pos;
    while c.peek().is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ' ') {
        c.pos += 1;
    }
    let name = c.text[start..c.pos].trim().to_string();
    if name.is_empty() {
        return Err(c.error("expecting a type name"));
    }
    if is_pseudo_type(&name) {
        return Err(ApiError::parse(format!("\"failed to parse select ({})\"", c.text), format!("cannot cast to the pseudo-type {name}")));
    }
    let name = if c.eat("[]") { format!("{name}[]") } else { name };
    Ok(name)
}

/// PostgreSQL's pseudo-types (pg_type.typtype = 'p') and their array types (`_record`), as an
/// unquoted name may spell them (any case; `pg_catalog.` cannot be written here).
pub fn is_pseudo_type(name: &str) -> bool {
    const PSEUDO: &[&str] = &[
        "any",
        "anyarray",
        "anycompatible",
        "anycompatiblearray",
        "anycompatiblemultirange",
        "anycompatiblenonarray",
        "anycompatiblerange",
        "anyelement",
        "anyenum",
        "anymultirange",
        "anynonarray",
        "anyrange",
        "cstring",
        "event_trigger",
        "fdw_handler",
        "index_am_handler",
        "internal",
        "language_handler",
        "opaque",
        "pg_ddl_command",
        "record",
        "table_am_handler",
        "trigger",
        "tsm_handler",
        "unknown",
        "void",
    ];
    let lower = name.trim().to_ascii_lowercase();
    let base = lower.strip_prefix('_').unwrap_or(&lower);
    PSEUDO.contains(&base)
}
