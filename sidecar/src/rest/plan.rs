//! Plan: the parsed request resolved against the schema cache. Tables and relationships are
//! looked up here; columns are left to PostgreSQL, whose errors (42703) map to 400.

use axum::http::StatusCode;

use super::error::ApiError;
use super::request::field::Field;
use super::request::filter::Logic;
use super::request::order::OrderTerm;
use super::request::query_string::{NodeParams, QueryParams};
use super::request::select::{Embed, JoinKind, SelectItem};
use super::schema::{Relationship, SchemaCache};

/// Where a read node's rows come from.
#[derive(Debug, Clone)]
pub enum Source {
    Table {
        schema: String,
        name: String,
    },
    /// The rows a write returned (a CTE of that name).
    Cte(String),
    /// `schema.function(args...)`: SQL text with its own parameters already numbered.
    Call(String),
}

#[derive(Debug, Clone)]
pub enum Projection {
    /// `*`: the listed columns when the source's columns are known, else `alias.*`
    Star(Option<Vec<String>>),
    Column {
        field: Field,
        label: String,
        cast: Option<String>,
    },
    Embed(Box<EmbedNode>),
}

#[derive(Debug, Clone)]
pub struct ReadNode {
    pub source: Source,
    /// table alias in SQL: t0, t1, ...
    pub alias: String,
    pub projections: Vec<Projection>,
    pub filters: Vec<Logic>,
    pub order: Vec<OrderTerm>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct EmbedNode {
    pub label: String,
    pub relationship: Relationship,
    pub inner: bool,
    pub spread: bool,
    pub node: ReadNode,
}

pub struct Planner<'a> {
    pub cache: &'a SchemaCache,
    pub query: &'a QueryParams,
    next_alias: usize,
}

impl<'a> Planner<'a> {
    pub fn new(cache: &'a SchemaCache, query: &'a QueryParams) -> Planner<'a> {
        Planner { cache, query, next_alias: 0 }
    }

    pub fn alias(&mut self) -> String {
        let a = format!("t{}", self.next_alias);
        self.next_alias += 1;
        a
    }

    /// The read tree for `source`, whose columns (when known) are `columns`.
    pub fn read(
        &mut self,
        source: Source,
        relation: Option<(&str, &str)>,
        columns: Option<Vec<String>>,
        root_filters: Vec<Logic>,
    ) -> Result<ReadNode, ApiError> {
        let items = self.query.select.clone().unwrap_or_else(|| vec![SelectItem::Star]);
        let mut params = self.query.root();
        params.filters.splice(0..0, root_filters);
        self.node(source, relation, columns, &items, params, &[])
    }

    fn node(
        &mut self,
        source: Source,
        relation: Option<(&str, &str)>,
        columns: Option<Vec<String>>,
        items: &[SelectItem],
        params: NodeParams,
        path: &[String],
    ) -> Result<ReadNode, ApiError> {
        let alias = self.alias();
        let mut projections = Vec::new();
        for item in items {
            match item {
                SelectItem::Star => projections.push(Projection::Star(columns.clone())),
                SelectItem::Field { field, alias, cast } => projections.push(Projection::Column {
                    label: alias.clone().unwrap_or_else(|| field.default_label().to_string()),
                    field: field.clone(),
                    cast: cast.clone(),
                }),
                SelectItem::Embed(embed) => {
                    let Some(parent) = relation else {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "PGRST200",
                            format!("Could not find a relationship for '{}': this resource cannot embed", embed.relation),
                        ));
                    };
                    projections.push(Projection::Embed(Box::new(self.embed(parent, embed, path)?)));
                }
            }
        }
        Ok(ReadNode {
            source,
            alias,
            projections,
            filters: params.filters,
            order: params.order,
            limit: params.limit,
            offset: params.offset,
        })
    }

    fn embed(&mut self, parent: (&str, &str), embed: &Embed, path: &[String]) -> Result<EmbedNode, ApiError> {
        let relationship = self.cache.relationship(parent, &embed.relation, embed.hint.as_deref())?;
        let (schema, table) = match &relationship {
            Relationship::ToOne { schema, table, .. }
            | Relationship::ToMany { schema, table, .. }
            | Relationship::ManyToMany { schema, table, .. } => (schema.clone(), table.clone()),
        };
        if embed.spread && !relationship.is_to_one() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "PGRST119",
                format!("A spread operation on '{}' is not possible", embed.relation),
            )
            .details("'...' can only be used on to-one relationships"));
        }
        let columns = self.cache.relation(&schema, &table).map(|r| r.columns.iter().map(|c| c.name.clone()).collect());
        // embedded params are keyed by the label the client used (alias or name)
        let mut child_path = path.to_vec();
        child_path.push(embed.label().to_string());
        let mut params = self.query.nodes.get(&child_path).cloned().unwrap_or_default();
        if params.filters.is_empty() && embed.alias.is_some() {
            let mut by_name = path.to_vec();
            by_name.push(embed.relation.clone());
            params = self.query.nodes.get(&by_name).cloned().unwrap_or_default();
        }
        let items = if embed.items.is_empty() { vec![] } else { embed.items.clone() };
        let node = self.node(
            Source::Table { schema: schema.clone(), name: table.clone() },
            Some((&schema, &table)),
            columns,
            &items,
            params,
            &child_path,
        )?;
        Ok(EmbedNode { label: embed.label().to_string(), relationship, inner: embed.join == JoinKind::Inner, spread: embed.spread, node })
    }
}
