//! Webhooks: the sidecar's half (`sql/webhooks.sql` is the other). Endpoints are managed in
//! SQL and through MCP; the worker sends what the delivery log holds.

pub mod guard;
pub mod send;
pub mod worker;

use std::sync::Arc;

/// `bknd serve`'s webhook settings.
pub struct WebhookConfig {
    /// what targets besides public https ones are allowed (`--webhook-allow-hosts`)
    pub allow: Arc<guard::Allow>,
    /// how long delivered and dead deliveries are kept (`--webhook-retention-hours`)
    pub retention_hours: i64,
}
