//! The command line: `bknd serve`, `bknd keys`. Every flag also reads an environment variable.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "bknd", version, about = "bknd: a backend inside PostgreSQL, served over HTTP")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// parsed once at start: the size of its largest variant does not matter
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API (REST, auth, storage, MCP, /health).
    Serve(ServeArgs),
    /// Print an anon key and a service_role key, signed in the database, as JSON.
    Keys(KeysArgs),
    /// Serve MCP over stdin/stdout for AI tools that start a process; every call uses --token.
    Mcp(McpArgs),
    /// The console's team: `bknd members add EMAIL --role ROLE`.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Generated code: `bknd gen types` prints the TypeScript types supabase-js takes.
    #[command(subcommand)]
    Gen(GenCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum GenCommand {
    /// Print the `Database` type for `createClient<Database>()`, in the shape
    /// `supabase gen types typescript` prints, from the live schema.
    Types(GenTypesArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct GenTypesArgs {
    /// PostgreSQL URL of a superuser, or of `authenticator` (it reads as service_role).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// The schemas to describe (repeat, or a comma list).
    #[arg(long = "schema", value_delimiter = ',', default_value = "public")]
    pub schemas: Vec<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum MembersCommand {
    /// Add a console member, or change a member's role (and password). Without --password, prints
    /// a one-time link, valid 24 hours, where the member sets one.
    Add(MembersAddArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct MembersAddArgs {
    /// The member's email: their name when signing in to the console.
    pub email: String,
    /// owner, admin, developer or viewer.
    #[arg(long)]
    pub role: String,
    /// The password (8 characters at least); better left out, for the member to choose it.
    #[arg(long, env = "BKND_MEMBER_PASSWORD")]
    pub password: Option<String>,
    /// PostgreSQL URL of a superuser.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// The sidecar's URL as browsers reach it, for the link.
    #[arg(long, env = "BKND_PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub public_url: String,
}

#[derive(clap::Args, Debug, Clone)]
pub struct McpArgs {
    /// PostgreSQL URL; connect as `authenticator` so every call runs under the token's role.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// The JWT every call runs under (none: anon).
    #[arg(long, env = "BKND_TOKEN")]
    pub token: Option<String>,
    /// Where file bytes are (as for serve), so delete_object can remove them.
    #[arg(long, env = "BKND_STORAGE")]
    pub storage: Option<String>,
    /// The HTTP server's public URL, for signed URLs.
    #[arg(long, env = "BKND_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub queries: QueryArgs,
}

/// How requests query the database: shared by `serve` and `mcp`.
#[derive(clap::Args, Debug, Clone)]
pub struct QueryArgs {
    /// Schemas the REST API and the data tools expose, comma-separated; the first is the default.
    #[arg(long, env = "BKND_SCHEMAS", default_value = "public", value_delimiter = ',')]
    pub schemas: Vec<String>,
    /// The role for requests without a token.
    #[arg(long, env = "BKND_ANON_ROLE", default_value = "anon")]
    pub anon_role: String,
    /// Statement timeout, in milliseconds, for every statement of every surface (REST, auth,
    /// storage, MCP): a longer one is canceled and answered 504.
    #[arg(long, env = "BKND_STATEMENT_TIMEOUT_MS", default_value_t = 10_000)]
    pub statement_timeout_ms: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// PostgreSQL URL; connect as `authenticator` so every request runs under its token's role.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Address to listen on.
    #[arg(long, env = "BKND_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Where file bytes go: file:///path (default file://.bknd/storage) or s3://bucket (AWS_*
    /// environment variables; AWS_ENDPOINT_URL for S3-compatible services).
    #[arg(long, env = "BKND_STORAGE")]
    pub storage: Option<String>,
    /// Database connections in the pool.
    #[arg(long, env = "BKND_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// Seconds a request waits for a free database connection before it is answered 503 with
    /// Retry-After (the pool is busy, or the database unreachable).
    #[arg(long, env = "BKND_POOL_TIMEOUT", default_value_t = 10)]
    pub pool_timeout: u64,
    #[command(flatten)]
    pub queries: QueryArgs,
    /// A function (schema.name) called after authentication on every REST request, like
    /// PostgREST's db-pre-request: it may check headers or claims, raise, or SET LOCAL ROLE.
    #[arg(long, env = "BKND_PRE_REQUEST")]
    pub pre_request: Option<String>,
    /// SMTP server for auth email (codes, magic links, recovery): smtp://[user:pass@]host:port,
    /// with ?tls=required for STARTTLS, or smtps://host for implicit TLS.
    /// Without it, in development, messages go to --mail-dir, else to the log on stderr.
    #[arg(long, env = "BKND_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Without --smtp-url: a Maildir where each auth email is written as a file (`new/*.eml`),
    /// for development (`make run` uses $BKND_DATA_DIR/mail).
    #[arg(long, env = "BKND_MAIL_DIR")]
    pub mail_dir: Option<std::path::PathBuf>,
    /// Sender of auth email.
    #[arg(long, env = "BKND_SMTP_FROM", default_value = "bknd <noreply@localhost>")]
    pub smtp_from: String,
    /// This server's URL as browsers reach it, for links in email (default http://LISTEN).
    #[arg(long, env = "BKND_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The app's URL: where links land by default (default: the public URL).
    #[arg(long, env = "BKND_SITE_URL")]
    pub site_url: Option<String>,
    /// URL prefixes a `redirect_to` may start with, comma-separated (the site URL always may).
    #[arg(long, env = "BKND_REDIRECT_ALLOW", value_delimiter = ',')]
    pub redirect_allow: Vec<String>,
    /// Largest request body accepted, in bytes (default 10 MiB).
    #[arg(long, env = "BKND_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Browser origins allowed to call /rest/v1, /auth/v1 and /storage/v1 (CORS), comma-separated,
    /// or * for any (the default: access is decided by tokens, not cookies).
    #[arg(long, env = "BKND_CORS_ALLOW_ORIGIN", value_delimiter = ',', default_value = "*")]
    pub cors_allow_origin: Vec<String>,
    /// Browser origins allowed to use /mcp, comma-separated (default: none; non-browser clients send no Origin).
    #[arg(long, env = "BKND_MCP_ALLOW_ORIGIN", value_delimiter = ',')]
    pub mcp_allow_origin: Vec<String>,
    /// Host header values /mcp accepts besides loopback and the public URL's host, comma-separated.
    #[arg(long, env = "BKND_MCP_ALLOW_HOST", value_delimiter = ',')]
    pub mcp_allow_host: Vec<String>,
    /// Largest file anyone may upload to storage, in bytes (default 50 GiB; buckets may set less).
    #[arg(long, env = "BKND_MAX_UPLOAD_BYTES", default_value_t = 50 * 1024 * 1024 * 1024)]
    pub max_upload_bytes: u64,
    /// Hosts, IPs and networks (CIDR) webhooks may reach besides public https targets (private,
    /// loopback, plain http), comma-separated (default: none).
    #[arg(long, env = "BKND_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
    pub webhook_allow_hosts: Vec<String>,
    /// How long delivered and dead webhook deliveries stay in bknd.webhook_deliveries, in hours.
    #[arg(long, env = "BKND_WEBHOOK_RETENTION_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u32).range(1..=87_600))]
    pub webhook_retention_hours: u32,
    /// How often the requests this sidecar answered are added to bknd.request_stats (the
    /// console's Home), in milliseconds; tests shorten it.
    #[arg(long, env = "BKND_REQUEST_STATS_INTERVAL_MS", default_value_t = 60_000, hide = true,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub request_stats_interval_ms: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct KeysArgs {
    /// PostgreSQL URL of a superuser, or of `authenticator` (it signs as service_role).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Lifetime of the keys in seconds (default: ten years).
    #[arg(long, env = "BKND_KEYS_EXPIRE_IN", default_value_t = 315_360_000)]
    pub expires_in: i32,
}

pub fn run(cli: Cli) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bknd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => crate::serve::serve(args).await,
            Command::Keys(args) => crate::keys::print(args).await,
            Command::Mcp(args) => crate::mcp::stdio::serve(args).await,
            Command::Members(MembersCommand::Add(args)) => crate::members::add(args).await,
            Command::Gen(GenCommand::Types(args)) => crate::typescript::print(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bknd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; stdout is kept for output other programs read (keys, MCP stdio).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BKND_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // colours only for a terminal and without NO_COLOR (with_ansi overrides the subscriber's
    // own NO_COLOR check): escape codes in a log file are noise, and formatting them into each
    // request's span fields is work on every request
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !no_color;
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
