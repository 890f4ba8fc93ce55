//! How one relation embeds another, found from foreign keys the way PostgREST finds it.

use axum::http::StatusCode;
use serde_json::json;

use super::{ForeignKey, SchemaCache};
use crate::rest::error::ApiError;

/// Column pairs `(child column, parent column)` joining an embedded relation to its parent.
pub type Join = Vec<(String, String)>;

#[derive(Debug, Clone)]
pub enum Relationship {
    /// The child gives at most one row (many-to-one, or one-to-one).
    ToOne { schema: String, table: String, join: Join, fk: String },
    /// The child gives many rows (one-to-many).
    ToMany { schema: String, table: String, join: Join, fk: String },
    /// Through a junction: `junction_join` pairs (junction col, parent col), `child_join`
    /// pairs (child col, junction col).
    ManyToMany {
        schema: String,
        table: String,
        junction_schema: String,
        junction: String,
        junction_join: Join,
        child_join: Join,
        fk: String,
    },
}

impl Relationship {
    pub fn is_to_one(&self) -> bool {
        matches!(self, Relationship::ToOne { .. })
    }

    fn target(&self) -> (&str, &str) {
        match self {
            Relationship::ToOne { schema, table, .. }
            | Relationship::ToMany { schema, table, .. }
            | Relationship::ManyToMany { schema, table, .. } => (schema, table),
        }
    }

    fn describe(&self) -> serde_json::Value {
        match self {
            Relationship::ToOne { fk, .. } => json!({"cardinality": "many-to-one", "embedding": fk}),
            Relationship::ToMany { fk, .. } => json!({"cardinality": "one-to-many", "embedding": fk}),
            Relationship::ManyToMany { junction, .. } => json!({"cardinality": "many-to-many", "embedding": junction}),
        }
    }
}

fn pairs(a: &[String], b: &[String]) -> Join {
    a.iter().cloned().zip(b.iter().cloned()).collect()
}

impl SchemaCache {
    /// The relationship by which `parent` (schema, table) embeds `name`, narrowed by `hint`
    /// (a foreign key name, a column, or a junction table).
    pub fn relationship(&self, parent: (&str, &str), name: &str, hint: Option<&str>) -> Result<Relationship, ApiError> {
        let (ps, pt) = parent;
        let mut found: Vec<(Relationship, Vec<String>)> = Vec::new(); // with the names a hint may match
        for fk in &self.foreign_keys {
            // many-to-one: parent -> child. Embeddable by the child's table name, the fk name,
            // or the fk's single column name.
            if fk.schema == ps && fk.table == pt {
                let by_column = fk.columns.len() == 1 && fk.columns[0] == name;
                if fk.ref_table == name || fk.name == name || by_column {
                    let rel = Relationship::ToOne {
                        schema: fk.ref_schema.clone(),
                        table: fk.ref_table.clone(),
                        join: pairs(&fk.ref_columns, &fk.columns),
                        fk: fk.name.clone(),
                    };
                    found.push((rel, hint_names(fk)));
                }
            }
            // one-to-many (or one-to-one when the child's fk columns are unique)
            if fk.ref_schema == ps && fk.ref_table == pt && (fk.table == name || fk.name == name) {
                let unique = self.relation(&fk.schema, &fk.table).is_some_and(|r| r.is_unique(&fk.columns));
                let (schema, table, join, fkn) =
                    (fk.schema.clone(), fk.table.clone(), pairs(&fk.columns, &fk.ref_columns), fk.name.clone());
                let rel = if unique {
                    Relationship::ToOne { schema, table, join, fk: fkn }
                } else {
                    Relationship::ToMany { schema, table, join, fk: fkn }
                };
                found.push((rel, hint_names(fk)));
            }
        }
        // many-to-many through a junction whose primary key holds both foreign keys' columns
        for to_parent in self.foreign_keys.iter().filter(|f| f.ref_schema == ps && f.ref_table == pt) {
            let Some(junction) = self.relation(&to_parent.schema, &to_parent.table) else { continue };
            for to_child in self
                .foreign_keys
                .iter()
                .filter(|f| f.schema == to_parent.schema && f.table == to_parent.table && f.name != to_parent.name && f.ref_table == name)
            {
                let in_pk = |cols: &[String]| cols.iter().all(|c| junction.pk.contains(c));
                if !(in_pk(&to_parent.columns) && in_pk(&to_child.columns)) {
                    continue;
                }
                let rel = Relationship::ManyToMany {
                    schema: to_child.ref_schema.clone(),
                    table: to_child.ref_table.clone(),
                    junction_schema: junction.schema.clone(),
                    junction: junction.name.clone(),
                    junction_join: pairs(&to_parent.columns, &to_parent.ref_columns),
                    child_join: pairs(&to_child.ref_columns, &to_child.columns),
                    fk: to_child.name.clone(),
                };
                let mut names = vec![junction.name.clone(), to_parent.name.clone(), to_child.name.clone()];
                names.extend(to_child.columns.iter().cloned());
                found.push((rel, names));
            }
        }
        if let Some(h) = hint {
            found.retain(|(rel, names)| names.iter().any(|n| n == h) || rel.target().1 == h);
        }
        match found.len() {
            1 => Ok(found.remove(0).0),
            0 => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "PGRST200",
                format!("Could not find a relationship between '{pt}' and '{name}' in the schema cache"),
            )
            .details(format!(
                "Searched for a foreign key relationship between '{pt}' and '{name}'{} in the schema '{ps}', but no matches were found.",
                hint.map(|h| format!(" using the hint '{h}'")).unwrap_or_default()
            ))),
            _ => {
                let options: Vec<_> = found.iter().map(|(r, _)| r.describe()).collect();
                Err(ApiError::new(
                    StatusCode::MULTIPLE_CHOICES,
                    "PGRST201",
                    format!("Could not embed because more than one relationship was found for '{pt}' and '{name}'"),
                )
                .details(serde_json::Value::Array(options).to_string())
                .hint(format!("Try changing '{name}' to one of the relationships listed in details, e.g. '{name}!<foreign key name>'")))
            }
        }
    }
}

fn hint_names(fk: &ForeignKey) -> Vec<String> {
    let mut names = vec![fk.name.clone()];
    names.extend(fk.columns.iter().cloned());
    names
}
