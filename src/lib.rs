//! bknd: a backend-as-a-service inside PostgreSQL.
//!
//! One module per concept: `jwt` (sign, verify, authenticate), `secrets` (the key store and
//! its per-backend cache), `ddl` (dynamic tables), `policy` (RLS policy generation).
//! Hand-written SQL (roles, tables, grants, claim helpers) lives in `sql/`.

use pgrx::prelude::*;

mod advisors;
mod agent_context;
mod auth;
mod console_logs;
mod console_overview;
mod ddl;
mod errors;
mod execute_sql;
mod identity;
mod jwt;
mod plans;
mod policy;
mod realtime;
mod secrets;
mod statement_error;
mod storage;
mod subtransaction;
mod webhooks;

pgrx::pg_module_magic!();

// Roles, the extension's own tables and the claim helpers come first; the Rust functions are
// created next; grants on them and the first secret come last.
extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/auth.sql", name = "auth_tables", requires = ["bootstrap"]);
extension_sql_file!("../sql/oauth.sql", name = "oauth_tables", requires = ["auth_tables"]);
extension_sql_file!("../sql/storage.sql", name = "storage_tables", requires = ["oauth_tables"]);
extension_sql_file!("../sql/realtime.sql", name = "realtime_tables", requires = ["storage_tables"]);
extension_sql_file!("../sql/webhooks.sql", name = "webhook_tables", requires = ["realtime_tables", webhook_new_secret, webhook_signature]);
extension_sql_file!("../sql/console.sql", name = "console_tables", requires = ["webhook_tables"]);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    secrets::register_invalidation_callback();
}
