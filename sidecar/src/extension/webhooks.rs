//! Webhooks: endpoints (service_role's, through MCP) and the worker's claims and reports
//! (`sql/webhooks.sql`).

use serde_json::Value;

use super::{calls, Call, TextArray};

calls! {
    fn create_webhook(name: String, url: String, events: TextArray, options: &Value) =
        "SELECT bknd.create_webhook($1::text, $2::text, ARRAY(SELECT jsonb_array_elements_text($3::text::jsonb)), $4::text::jsonb)::text";
    fn list_webhooks() = "SELECT bknd.list_webhooks()::text";
    fn update_webhook(name: String, changes: &Value) = "SELECT bknd.update_webhook($1::text, $2::text::jsonb)::text";
    fn delete_webhook(name: String) = "SELECT to_jsonb(bknd.delete_webhook($1::text))::text";
    fn rotate_webhook_secret(name: String) = "SELECT bknd.rotate_webhook_secret($1::text)::text";
    fn test_webhook(name: String) = "SELECT bknd.test_webhook($1::text)::text";
    fn resend_webhook_delivery(delivery_id: i64) = "SELECT bknd.resend_webhook_delivery($1::text::bigint)::text";
    fn webhook_deliveries(name: Option<String>, status: Option<String>, limit: i64) =
        "SELECT bknd.webhook_deliveries_of($1::text, $2::text, $3::text::integer)::text";
    /// the sidecar's own: due deliveries, signed
    fn webhook_claim(worker: String, max_total: i64, per_endpoint: i64, lease_seconds: i64) =
        "SELECT bknd.webhook_claim($1::text, $2::text::integer, $3::text::integer, $4::text::integer)::text";
    /// the sidecar's own: how an attempt went
    fn webhook_result(delivery_id: i64, worker: String, status: Option<i64>, error: Option<String>, latency_ms: i64, retry_after: Option<i64>) =
        "SELECT to_jsonb(bknd.webhook_result($1::text::bigint, $2::text, $3::text::integer, $4::text, $5::text::integer, $6::text::integer))::text";
    /// the sidecar's own
    fn webhook_prune(keep_hours: i64) = "SELECT to_jsonb(bknd.webhook_prune(make_interval(hours => $1::text::integer)))::text";
}
