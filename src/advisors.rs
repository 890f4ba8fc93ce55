//! `bknd.advisors(schemas)`: security and performance findings, each with a level, a
//! description and the fix as SQL (sql/queries/advisors.sql). As the caller: findings only
//! about what its role may use. The MCP server's `get_advisors` and the console read it.

use pgrx::prelude::*;
use serde_json::json;

use crate::errors;

const ADVISORS: &str = include_str!("../sql/queries/advisors.sql");

/// `[{level: error|warn|info, kind, object, description, fix}]`, most serious first.
#[pg_extern(stable, parallel_safe)]
fn advisors(schemas: default!(Vec<String>, "ARRAY['public']")) -> pgrx::JsonB {
    let found = errors::spi(crate::plans::get_one::<pgrx::JsonB>(ADVISORS, &[schemas.into()]));
    found.unwrap_or(pgrx::JsonB(json!([])))
}
