//! `bknd mcp --database-url URL [--token JWT]`: the same MCP server over stdin/stdout, for
//! clients that start a process (Claude Desktop, Cursor, VS Code). Every call uses the one
//! token (none: anon). Only JSON-RPC goes to stdout; logs go to stderr.

use std::sync::Arc;

use anyhow::Context;
use rmcp::ServiceExt;

use super::Bknd;
use crate::app::AppState;
use crate::cli::McpArgs;
use crate::rest::schema::reload::{watch, SharedSchema};
use crate::rest::RestConfig;

pub async fn serve(args: McpArgs) -> anyhow::Result<()> {
    let pool = crate::db::pool(&args.database_url, 4)?;
    let rest = Arc::new(RestConfig {
        schemas: args.queries.schemas.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        anon_role: args.queries.anon_role.clone(),
        statement_timeout_ms: args.queries.statement_timeout_ms,
        max_body_bytes: 10 * 1024 * 1024,
        pre_request: None,
    });
    let schema = SharedSchema::new();
    tokio::spawn(watch(args.database_url.clone(), rest.schemas.clone(), schema.clone()));
    let public_url = args.public_url.clone().unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let auth = Arc::new(crate::auth::AuthConfig {
        mail: crate::auth::mail::MailConfig { smtp_url: None, from: String::new(), mail_dir: None },
        site_url: public_url.clone(),
        public_url,
        redirect_allow: vec![],
        oauth: Default::default(),
    });
    let (store, local) = crate::storage::backend::open(args.storage.as_deref())?;
    let storage = Arc::new(crate::storage::StorageConfig { store, local, max_upload_bytes: 0, tus_locks: Default::default() });
    let state = AppState { pool, rest, schema, auth, storage, mcp: Default::default() };
    let server =
        Bknd::new(state, Some(args.token.clone())).serve(rmcp::transport::stdio()).await.context("MCP over stdio did not start")?;
    server.waiting().await.context("MCP over stdio")?;
    Ok(())
}
