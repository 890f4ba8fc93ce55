//! The schema cache: what the exposed schemas hold, read from pg_catalog in one query and
//! reloaded when the extension's event trigger NOTIFYs `bknd_schema` (or on `NOTIFY pgrst`).

mod relationships;
pub mod reload;

use std::collections::HashMap;

use serde::Deserialize;

pub use relationships::{Join, Relationship};

const CATALOG_QUERY: &str = include_str!("catalog.sql");

#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub nullable: bool,
    pub has_default: bool,
    pub default: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Relation {
    /// pg_class oid, for privilege checks (the OpenAPI document)
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub is_view: bool,
    pub description: Option<String>,
    pub columns: Vec<Column>,
    pub pk: Vec<String>,
    pub uniques: Vec<Vec<String>>,
}

impl Relation {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether `cols` (in any order) is the primary key or a unique key.
    pub fn is_unique(&self, cols: &[String]) -> bool {
        let same = |key: &Vec<String>| key.len() == cols.len() && cols.iter().all(|c| key.contains(c));
        (!self.pk.is_empty() && same(&self.pk)) || self.uniques.iter().any(same)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub schema: String,
    pub table: String,
    pub columns: Vec<String>,
    pub ref_schema: String,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Arg {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub variadic: bool,
    #[serde(default)]
    pub has_default: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReturnKind {
    Void,
    Composite,
    Scalar,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Function {
    /// pg_proc oid, for privilege checks (the OpenAPI document)
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub args: Vec<Arg>,
    defaults: i32,
    pub returns: String,
    pub returns_set: bool,
    pub return_kind: ReturnKind,
    pub return_schema: Option<String>,
    pub return_table: Option<String>,
    pub volatile: bool,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Document {
    relations: Vec<Relation>,
    foreign_keys: Vec<ForeignKey>,
    functions: Vec<Function>,
}

#[derive(Debug, Default)]
pub struct SchemaCache {
    pub schemas: Vec<String>,
    pub relations: HashMap<(String, String), Relation>,
    pub foreign_keys: Vec<ForeignKey>,
    pub functions: HashMap<(String, String), Vec<Function>>,
}

impl SchemaCache {
    pub async fn load(client: &tokio_postgres::Client, schemas: &[String]) -> Result<SchemaCache, tokio_postgres::Error> {
        let row = client.query_one(CATALOG_QUERY, &[&schemas]).await?;
        let text: String = row.get(0);
        let doc: Document = match serde_json::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("schema cache: the catalog query returned an unexpected document: {e}");
                return Ok(SchemaCache { schemas: schemas.to_vec(), ..Default::default() });
            }
        };
        let mut cache = SchemaCache { schemas: schemas.to_vec(), foreign_keys: doc.foreign_keys, ..Default::default() };
        for r in doc.relations {
            cache.relations.insert((r.schema.clone(), r.name.clone()), r);
        }
        for mut f in doc.functions {
            let n = f.args.len();
            let defaults = f.defaults.max(0) as usize;
            for (i, arg) in f.args.iter_mut().enumerate() {
                arg.has_default = i + defaults >= n;
            }
            cache.functions.entry((f.schema.clone(), f.name.clone())).or_default().push(f);
        }
        Ok(cache)
    }

    pub fn relation(&self, schema: &str, name: &str) -> Option<&Relation> {
        self.relations.get(&(schema.to_string(), name.to_string()))
    }
}
