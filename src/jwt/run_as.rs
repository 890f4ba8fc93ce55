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

/// `bknd.run_as` for a whole row, for the sidecar's REST reads and writes: authenticate
/// `token` as `bknd.authenticate(token, method, path, headers, anon_role)` does (SQLSTATE
/// 28000 when refused), make the transaction read-only when `read_only`, then run `statement`
/// with `args` typed as PostgreSQL infers them from where each `$n` is used (as the wire
/// protocol does for parameters sent without a type). Answers the first row's columns as
/// name, value, name, value ... (all text), or NULL when there is no row. One statement in an
/// implicit transaction is one answer from the server, where BEGIN, authenticate, the
/// statement and COMMIT pipelined are four.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn run_as_row(
    token: Option<&str>,
    method: &str,
    path: &str,
    headers: Option<pgrx::JsonB>,
    anon_role: &str,
    read_only: bool,
    statement: &str,
    args: Vec<Option<String>>,
) -> Option<Vec<Option<String>>> {
    super::authenticate(token, Some(method), Some(path), headers, Some(anon_role));
    if read_only {
        super::set_local("transaction_read_only", "on");
    }
    let row = errors::spi(crate::plans::first_row_as_text(statement, &args))?;
    Some(row.into_iter().flat_map(|(name, value)| [Some(name), value]).collect())
}
