//! What the sidecar is set to do, read once from the command line (`serve` or `mcp`) and
//! checked before anything starts: a bad flag fails at start, not at the first request.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::auth::mail::MailConfig;
use crate::auth::AuthConfig;
use crate::cli::{McpArgs, ServeArgs};
use crate::cors::Origins;
use crate::db::PoolSettings;
use crate::mcp::http::McpConfig;
use crate::rest::RestConfig;

pub struct Config {
    pub database_url: String,
    pub pool: PoolSettings,
    pub rest: RestConfig,
    pub auth: AuthConfig,
    /// where file bytes go (`--storage`)
    pub storage: Option<String>,
    pub max_upload_bytes: u64,
    pub mcp: McpConfig,
    pub cors: Arc<Origins>,
    /// run the storage sweeper (the HTTP server does; a stdio MCP process does not)
    pub sweep_storage: bool,
    /// deliver webhooks (the HTTP server does; a stdio MCP process does not)
    pub webhooks: Option<crate::webhooks::WebhookConfig>,
    /// how often to add the requests answered to bknd.request_stats (the HTTP server only)
    pub request_stats: Option<Duration>,
}

fn schemas(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

impl Config {
    /// `bknd serve`; `public_url` is the listening address when --public-url is not given.
    pub fn serve(args: &ServeArgs, listening: &str) -> anyhow::Result<Config> {
        if let Some(url) = &args.smtp_url {
            // the error does not repeat the URL: it may hold a password
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                .map_err(|e| anyhow::anyhow!("--smtp-url is not usable: {e}"))?;
        }
        let pre_request = match &args.pre_request {
            None => None,
            Some(name) => {
                Some(crate::rest::pre_request_call(name).with_context(|| format!("--pre-request {name:?} is not schema.function"))?)
            }
        };
        let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{listening}"));
        Ok(Config {
            database_url: args.database_url.clone(),
            pool: PoolSettings {
                size: args.pool_size,
                wait: Duration::from_secs(args.pool_timeout),
                statement_timeout_ms: args.queries.statement_timeout_ms,
            },
            rest: RestConfig {
                schemas: schemas(&args.queries.schemas),
                anon_role: args.queries.anon_role.clone(),
                max_body_bytes: args.max_body_bytes,
                pre_request,
            },
            auth: AuthConfig {
                mail: MailConfig { smtp_url: args.smtp_url.clone(), from: args.smtp_from.clone(), mail_dir: args.mail_dir.clone() },
                site_url: args.site_url.clone().unwrap_or_else(|| public_url.clone()),
                public_url,
                redirect_allow: args.redirect_allow.clone(),
                oauth: Default::default(),
            },
            storage: args.storage.clone(),
            max_upload_bytes: args.max_upload_bytes,
            mcp: McpConfig { allow_origins: args.mcp_allow_origin.clone(), allow_hosts: args.mcp_allow_host.clone() },
            cors: Arc::new(Origins::parse(&args.cors_allow_origin)?),
            sweep_storage: true,
            webhooks: Some(crate::webhooks::WebhookConfig {
                allow: Arc::new(crate::webhooks::guard::Allow::parse(&args.webhook_allow_hosts)?),
                retention_hours: i64::from(args.webhook_retention_hours),
            }),
            request_stats: Some(Duration::from_millis(args.request_stats_interval_ms)),
        })
    }

    /// `bknd mcp`: the same application without HTTP; mail is not sent from it.
    pub fn mcp(args: &McpArgs) -> anyhow::Result<Config> {
        let public_url = args.public_url.clone().unwrap_or_else(|| "http://127.0.0.1:3000".into());
        Ok(Config {
            database_url: args.database_url.clone(),
            pool: PoolSettings { size: 4, wait: Duration::from_secs(10), statement_timeout_ms: args.queries.statement_timeout_ms },
            rest: RestConfig {
                schemas: schemas(&args.queries.schemas),
                anon_role: args.queries.anon_role.clone(),
                max_body_bytes: 10 * 1024 * 1024,
                pre_request: None,
            },
            auth: AuthConfig {
                mail: MailConfig { smtp_url: None, from: String::new(), mail_dir: None },
                site_url: public_url.clone(),
                public_url,
                redirect_allow: vec![],
                oauth: Default::default(),
            },
            storage: args.storage.clone(),
            max_upload_bytes: 0,
            mcp: McpConfig::default(),
            cors: Arc::new(Origins::Any),
            sweep_storage: false,
            webhooks: None,
            request_stats: None,
        })
    }
}
