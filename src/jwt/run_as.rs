//! `bknd.run_as`: authenticate and one statement in a single call, for the sidecar.
//!
//! Postgres answers every Sync of the extended protocol with its own flush, so BEGIN,
//! `bknd.authenticate`, a statement and COMMIT sent together still come back in four writes,
//! each waking the sidecar. As one statement in an implicit transaction the call is answered
//! once, after its commit. The statement is planned and checked as the role the token gives,
//! so it can do nothing that role could not; only `authenticator` may call this (it can switch
//! to those roles anyway).

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

use crate::errors;

/// Authenticate `token` as `bknd.authenticate(token, method, path, NULL, anon_role)` does
/// (SQLSTATE 28000 when it is refused), then run `statement` with `args` (all text) under the
/// role it switched to: the first column of its first row, as text.
#[pg_extern(volatile, parallel_unsafe)]
fn run_as(token: Option<&str>, method: &str, path: &str, anon_role: &str, statement: &str, args: Vec<Option<String>>) -> Option<String> {
    super::authenticate(token, Some(method), Some(path), None, Some(anon_role));
    let args: Vec<DatumWithOid> = args.iter().map(|a| a.as_deref().into()).collect();
    errors::spi_or(crate::plans::get_one::<String>(statement, &args), None)
}
