//! The console's team: members, their one-time links and sessions (src/auth/console.rs).

use serde_json::Value;

use super::{calls, Call};

calls! {
    /// superusers' (the `bknd members add` CLI)
    fn console_add_member(email: String, role: String, password: Option<String>) =
        "SELECT bknd.console_add_member($1::text, $2::text, $3::text)::text";
    fn console_set_password(token: String, password: String) = "SELECT bknd.console_set_password($1::text, $2::text)::text";
    fn console_sign_in(email: String, password: String, ip: Option<String>, code: Option<String>) =
        "SELECT bknd.console_sign_in($1::text, $2::text, $3::text, $4::text)::text";
    fn console_logs(log: String, max: i64, before: Option<i64>, since: Option<String>, until: Option<String>,
                    actor: Option<String>, action: Option<String>) =
        "SELECT bknd.console_logs($1::text, $2::text::integer, $3::text::bigint, $4::text::timestamptz, $5::text::timestamptz, \
         $6::text, $7::text)::text";
    fn console_rotate_jwt_secret() = "SELECT to_jsonb(bknd.console_rotate_jwt_secret())::text";
    fn console_overview() = "SELECT bknd.console_overview()::text";
    /// the sidecar's own: requests answered since the last call, by surface
    fn record_requests(counts: &Value) = "SELECT bknd.record_requests($1::text::jsonb)::text";
    fn console_team() = "SELECT bknd.console_team()::text";
    fn console_invite_member(email: String, role: String) = "SELECT bknd.console_invite_member($1::text, $2::text)::text";
    fn console_set_member_role(id: String, role: String) = "SELECT bknd.console_set_member_role($1::text, $2::text)::text";
    fn console_remove_member(id: String) = "SELECT bknd.console_remove_member($1::text)::text";
    fn console_totp_begin(session: String) = "SELECT bknd.console_totp_begin($1::text)::text";
    fn console_totp_enable(session: String, code: String) = "SELECT bknd.console_totp_enable($1::text, $2::text)::text";
    fn console_totp_disable(session: String, code: String) = "SELECT bknd.console_totp_disable($1::text, $2::text)::text";
    fn console_session(token: String) = "SELECT bknd.console_session($1::text)::text";
    fn console_sign_out(token: String) = "SELECT to_jsonb(bknd.console_sign_out($1::text))::text";
    fn console_has_members() = "SELECT to_jsonb(bknd.console_has_members())::text";
    fn console_snippets(session: String) = "SELECT bknd.console_snippets($1::text)::text";
    fn console_save_snippet(session: String, name: String, sql: String) =
        "SELECT bknd.console_save_snippet($1::text, $2::text, $3::text)::text";
    fn console_record(session: String, action: String, target: Option<String>, detail: String) =
        "SELECT to_jsonb(bknd.console_record($1::text, $2::text, $3::text, $4::text::jsonb))::text";
    fn console_delete_snippet(session: String, id: String) = "SELECT to_jsonb(bknd.console_delete_snippet($1::text, $2::text::uuid))::text";
    /// as the member's console role (the database decides who sees the service_role key)
    fn console_api_keys(with_service_role: bool) = "SELECT bknd.console_api_keys($1::text::boolean)::text";
}
