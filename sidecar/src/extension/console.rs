//! The console's team: members, their one-time links and sessions (src/auth/console.rs).

use super::{calls, Call};

calls! {
    /// superusers' (the `bknd members add` CLI)
    fn console_add_member(email: String, role: String, password: Option<String>) =
        "SELECT bknd.console_add_member($1::text, $2::text, $3::text)::text";
    fn console_set_password(token: String, password: String) = "SELECT bknd.console_set_password($1::text, $2::text)::text";
    fn console_sign_in(email: String, password: String, ip: Option<String>) =
        "SELECT bknd.console_sign_in($1::text, $2::text, $3::text)::text";
    fn console_session(token: String) = "SELECT bknd.console_session($1::text)::text";
    fn console_sign_out(token: String) = "SELECT to_jsonb(bknd.console_sign_out($1::text))::text";
    fn console_has_members() = "SELECT to_jsonb(bknd.console_has_members())::text";
}
