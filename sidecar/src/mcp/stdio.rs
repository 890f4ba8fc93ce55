//! `bknd mcp --database-url URL [--token JWT]`: the same MCP server over stdin/stdout, for
//! clients that start a process (Claude Desktop, Cursor, VS Code). Every call uses the one
//! token (none: anon). Only JSON-RPC goes to stdout; logs go to stderr.

use anyhow::Context;
use rmcp::ServiceExt;

use super::Bknd;
use crate::cli::McpArgs;
use crate::config::Config;
use crate::state::App;

pub async fn serve(args: McpArgs) -> anyhow::Result<()> {
    let app = App::build(Config::mcp(&args)?)?;
    let server = Bknd::new(app.state.clone(), Some(args.token.clone()))
        .serve(rmcp::transport::stdio())
        .await
        .context("MCP over stdio did not start")?;
    let served = server.waiting().await.context("MCP over stdio").map(|_| ());
    app.background.shutdown().await;
    served
}
