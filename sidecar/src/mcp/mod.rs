//! The MCP server: the whole backend for AI tools, under the token each call carries. Over
//! Streamable HTTP at `/mcp` (http.rs) the token is the request's bearer token; over stdio
//! (`bknd mcp`, stdio.rs) it is `--token`. Every tool runs as that token's role, so a user's
//! token sees that user's rows and only a service_role token may change the schema.

mod arguments;
mod catalog;
pub mod context;
mod docs;
pub mod http;
mod prompts;
mod run;

pub use run::ToolError;

/// One tool by name, its arguments checked against its declaration, run as `token`'s caller:
/// what the MCP server and the console (which calls the same tools) both do.
pub async fn call(state: &AppState, token: Option<String>, name: &str, args: Value) -> Result<Value, ToolError> {
    let args = arguments::normalize(args)?;
    match catalog::tools().iter().find(|t| t.name == name) {
        Some(tool) => arguments::check(tool, &args)?,
        None => return Err(ToolError { status: 404, message: format!("unknown tool {name:?}") }),
    }
    let result = run::tool(state, token, name, &args).await?;
    // the caller's next REST call (the console's grid, an agent's insert) sees the new shape:
    // the schema cache has reloaded before the answer, not some moments after it
    if reshapes(name, &args) {
        state.schema.refresh(std::time::Duration::from_secs(2)).await;
    }
    Ok(result)
}

/// Whether tool `name` may change what the REST API's schema cache holds.
fn reshapes(name: &str, args: &Value) -> bool {
    const SCHEMA_TOOLS: [&str; 7] =
        ["create_table", "add_column", "drop_column", "rename_column", "create_index", "create_relation", "drop_table"];
    SCHEMA_TOOLS.contains(&name) || (name == "execute_sql" && args["read_only"] == json!(false))
}
pub mod stdio;

/// Whether calling tool `name` with `args` may change something: tools without readOnlyHint,
/// and execute_sql unless it runs read-only (the console records these with the member).
pub fn changes(name: &str, args: &Value) -> bool {
    if name == "execute_sql" {
        return args["read_only"] == json!(false);
    }
    !catalog::reads_only(name)
}

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};

use crate::state::AppState;

const SCHEMA_URI: &str = "bknd://schema";

#[derive(Clone)]
pub struct Bknd {
    state: AppState,
    /// stdio: the one token every call uses; HTTP: None (each request brings its own)
    fixed_token: Option<Option<String>>,
}

impl Bknd {
    pub fn new(state: AppState, fixed_token: Option<Option<String>>) -> Bknd {
        Bknd { state, fixed_token }
    }

    fn token(&self, context: &RequestContext<RoleServer>) -> Option<String> {
        if let Some(t) = &self.fixed_token {
            return t.clone();
        }
        context.extensions.get::<axum::http::request::Parts>().and_then(|parts| crate::rest::request::bearer(&parts.headers))
    }
}

impl ServerHandler for Bknd {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().enable_prompts().build())
            .with_server_info(Implementation::new("bknd", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "bknd: a backend inside PostgreSQL with Supabase-compatible APIs. Call get_context first, and search_docs \
                 before guessing an API. Every tool runs under your token's role with row-level security: \
                 schema, user and SQL tools need a service_role token; data and storage tools work for any token and \
                 see only what its policies allow. Tables start with RLS on and no access: add policies with `allow`. \
                 The prompt build_app lists the steps to build an app.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(catalog::tools()))
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
        let token = self.token(&context);
        let outcome = call(&self.state, token, &request.name, Value::Object(request.arguments.unwrap_or_default())).await;
        // a failure is a result the model can read and act on, not a protocol error
        Ok(match outcome {
            Ok(result) => CallToolResult::structured(json!({"result": result})),
            Err(failure) => CallToolResult::structured_error(json!({"error": failure.message})),
        }
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let schema = Resource::new(SCHEMA_URI, "schema")
            .with_description("The tables, columns, relations and policies bknd manages, as JSON (service_role)")
            .with_mime_type("application/json");
        let pages = docs::PAGES.iter().map(|(name, text)| {
            Resource::new(format!("{}{name}", docs::URI_PREFIX), *name)
                .with_description(format!("bknd's documentation: {}", docs::title(text)))
                .with_mime_type("text/markdown")
        });
        Ok(ListResourcesResult::with_all_items(std::iter::once(schema).chain(pages).collect()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if let Some(text) = docs::page(&request.uri) {
            let contents = ResourceContents::text(text, request.uri.as_str()).with_mime_type("text/markdown");
            return Ok(ReadResourceResult::new(vec![contents]).into());
        }
        if request.uri != SCHEMA_URI {
            return Err(ErrorData::resource_not_found(format!("no resource {}", request.uri), None));
        }
        let schema = run::tool(&self.state, self.token(&context), "list_tables", &json!({}))
            .await
            .map_err(|m| ErrorData::invalid_request(m.message, None))?;
        let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, SCHEMA_URI).with_mime_type("application/json")]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        prompts::get(&request.name, &args).map(Into::into).map_err(|m| ErrorData::invalid_params(m, None))
    }
}
