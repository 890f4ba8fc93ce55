//! `GET /rest/v1/`: a Swagger 2.0 document of the exposed schema, as PostgREST serves it,
//! describing only what the caller's role may use (PostgREST's follow-privileges mode). The
//! schema cache is shared by every role, so the database answers, as the caller and in the
//! request's own transaction, which of the cache's objects that role may use: one statement,
//! paid only by this endpoint.
//!
//! The document follows PostgREST's conventions (src/PostgREST/Response/OpenAPI.hs): shared
//! parameters in the top-level `parameters` section (`select`, `order`, `limit`, `offset`,
//! `range`, `rangeUnit`, `on_conflict`, `prefer*`, `rowFilter.<table>.<column>`,
//! `body.<table>`), referenced from each operation, one definition per table or view.

mod document;

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde::Deserialize;

use super::error::ApiError;
use super::execute::{self, Finish, Statement};
use super::query::Sql;
use super::request::ApiRequest;
use super::response::Reply;
use super::schema::SchemaCache;
use crate::state::AppState;

const VISIBLE_QUERY: &str = include_str!("visible.sql");

/// What the caller may do with one relation.
#[derive(Debug, Default, Deserialize)]
struct RelationAccess {
    select: bool,
    insert: bool,
    update: bool,
    delete: bool,
    /// the columns it has any of SELECT, INSERT, UPDATE on
    columns: Vec<String>,
    /// the columns it may read, and so filter on
    #[serde(default)]
    readable: Vec<String>,
}

/// The cache's objects the caller may use, by oid.
#[derive(Debug, Default, Deserialize)]
struct Visible {
    relations: HashMap<String, RelationAccess>,
    functions: HashSet<u32>,
}

/// `{1,2,3}`: an oid[] literal.
fn oid_array(oids: impl Iterator<Item = u32>) -> String {
    format!("{{{}}}", oids.map(|o| o.to_string()).collect::<Vec<_>>().join(","))
}

pub async fn handle(state: &AppState, cache: &SchemaCache, req: &ApiRequest, host: Option<&str>) -> Result<Response<Body>, ApiError> {
    let schema = req.schema.as_str();
    let mut sql = Sql::default();
    sql.param(oid_array(cache.relations.values().filter(|r| r.schema == schema).map(|r| r.oid)));
    sql.param(oid_array(cache.functions.iter().filter(|((s, _), _)| s == schema).flat_map(|(_, fs)| fs.iter().map(|f| f.oid))));
    let stmt = Statement::new(VISIBLE_QUERY.to_string(), sql, true, true);
    let outcome = execute::run(state, req, stmt, |_| Ok(Finish::Commit)).await?;
    let text = execute::text(&outcome.row, "body").unwrap_or_default();
    let visible: Visible =
        serde_json::from_str(&text).map_err(|e| ApiError::internal("openapi: the privileges query answered an unexpected document", e))?;
    let mut reply = Reply::new(StatusCode::OK);
    reply.body = Some(document::document(cache, schema, host, &visible).to_string());
    reply.content_type = Some("application/openapi+json; charset=utf-8");
    Ok(reply.finish(req))
}
