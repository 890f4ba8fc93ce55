//! Identifier validation and derived names.
//!
//! Names are ASCII letters, digits and underscores, start with a letter or underscore, are at
//! most `MAX_NAME_LEN` bytes (so derived constraint and index names fit in 63 bytes), are not
//! SQL reserved words, and do not collide with Postgres' or bknd's own names. They are always
//! quoted when spliced into SQL.

use pgrx::spi::{quote_identifier, quote_qualified_identifier};
use sha2::{Digest, Sha256};

use crate::errors::{self, Code};

pub const MAX_NAME_LEN: usize = 48;
const PG_MAX_IDENTIFIER: usize = 63;
const SYSTEM_COLUMNS: [&str; 7] = ["oid", "tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Table,
    Column,
    Schema,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Table => "table",
            Kind::Column => "column",
            Kind::Schema => "schema",
        }
    }
}

/// Validate `name` as an identifier of kind `kind`, or raise 42602 (invalid_name).
pub fn validate(name: &str, kind: Kind) -> String {
    let noun = kind.noun();
    let bad = |why: String| -> ! {
        errors::raise_hint(
            Code::ERRCODE_INVALID_NAME,
            format!("invalid {noun} name {}: {why}", preview(name)),
            "use ASCII letters, digits and underscores, starting with a letter or underscore",
        )
    };
    if name.is_empty() {
        bad("it is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        bad(format!("it is longer than {MAX_NAME_LEN} bytes"));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or('0');
    if !(first.is_ascii_alphabetic() || first == '_') {
        bad("it must start with a letter or underscore".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        bad(format!("character {c:?} is not allowed"));
    }
    let lower = name.to_ascii_lowercase();
    if is_reserved_word(&lower) {
        bad("it is an SQL reserved word".into());
    }
    match kind {
        Kind::Column if SYSTEM_COLUMNS.contains(&lower.as_str()) => bad("it is a Postgres system column".into()),
        Kind::Table | Kind::Schema if lower.starts_with("pg_") => bad("names starting with pg_ are reserved by Postgres".into()),
        Kind::Table if lower.starts_with("bknd") => bad("names starting with bknd are reserved".into()),
        Kind::Schema if lower == "bknd" || lower == "information_schema" => bad("it is a system schema".into()),
        _ => {}
    }
    name.to_string()
}

fn preview(name: &str) -> String {
    let short: String = name.chars().take(40).collect();
    let ellipsis = if short.len() < name.len() { "..." } else { "" };
    format!("\"{}{ellipsis}\"", short.escape_default())
}

fn is_reserved_word(lower: &str) -> bool {
    let hit = crate::plans::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_get_keywords() WHERE word = $1 AND catcode IN ('R', 'T'))",
        &[lower.into()],
    );
    errors::spi(hit).unwrap_or(false)
}

/// A possibly schema-qualified table name: `posts` (schema public) or `app.posts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    pub fn parse(text: &str, default_schema: &str) -> TableName {
        match text.split_once('.') {
            Some((schema, name)) => TableName { schema: validate(schema, Kind::Schema), name: validate(name, Kind::Table) },
            None => TableName { schema: validate(default_schema, Kind::Schema), name: validate(text, Kind::Table) },
        }
    }

    /// `"schema"."name"`, for SQL text.
    pub fn quoted(&self) -> String {
        quote_qualified_identifier(&self.schema, &self.name)
    }

    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

pub fn quote(name: &str) -> String {
    quote_identifier(name)
}

/// A constraint or index name made of `parts` and `suffix`, e.g. `posts_title_max_length`.
/// Too long for Postgres' 63 bytes, the parts are shortened and a hash keeps it unique.
pub fn derived(parts: &[&str], suffix: &str) -> String {
    let joined = format!("{}_{suffix}", parts.join("_"));
    if joined.len() <= PG_MAX_IDENTIFIER {
        return joined;
    }
    let digest = Sha256::digest(joined.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let room = PG_MAX_IDENTIFIER - suffix.len() - hash.len() - 2;
    let head: String = parts.join("_").chars().take(room).collect();
    format!("{head}_{hash}_{suffix}")
}
