//! `bknd.execute_sql(query, read_only)`: one SQL statement from an operator's tool (the MCP
//! server's `execute_sql` and `explain`), run as the caller, inside the caller's transaction.
//!
//! A text of several statements could end the caller's transaction and go on outside it, as
//! the sidecar's login role, without the statement timeout (`COMMIT; ...`). So the text must
//! parse as exactly one statement, transaction control is refused, and the statement runs in a
//! security context where a role change (`SET ROLE`, `RESET ROLE`, `set_config('role', ...)`)
//! is refused, as inside a SECURITY DEFINER function; SPI refuses transaction control in it too.

use std::ffi::{CStr, CString};

use pgrx::pg_sys;
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::*;
use serde_json::{json, Map, Value};

use crate::errors::{self, Code};

/// Run `query` (one statement) as the caller. With `read_only` (the default) the rest of the
/// transaction is read-only. Answers `{command, columns, rows, row_count}`, values as text.
#[pg_extern(volatile, parallel_unsafe)]
fn execute_sql(query: &str, read_only: default!(bool, true)) -> pgrx::JsonB {
    let Ok(text) = CString::new(query) else { errors::invalid("the query contains a NUL byte") };
    // a syntax error says where, too
    with_error_position(|| single_statement(&text));
    if read_only {
        crate::jwt::set_local("transaction_read_only", "on");
    }
    let answer = crate::identity::with_role_changes_refused(|| with_error_position(|| unsafe { run(&text) }));
    pgrx::JsonB(answer)
}

thread_local! {
    /// Where in the statement the last error pointed (1-based characters), 0 for nowhere.
    static ERROR_POSITION: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// An error context callback: SPI's own (called first) has turned a position in the statement
/// into the "internal" one; keep it, since the error that reaches the caller loses it.
#[pg_guard]
unsafe extern "C-unwind" fn remember_position(_arg: *mut std::ffi::c_void) {
    let internal = pg_sys::getinternalerrposition();
    ERROR_POSITION.with(|p| p.set(if internal > 0 { internal } else { pg_sys::geterrposition() }));
}

/// Run `f`; an error in the statement that has a position says it (" at character N"), so a
/// person can find it.
fn with_error_position<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> R {
    ERROR_POSITION.with(|p| p.set(0));
    let mut callback = pg_sys::ErrorContextCallback {
        previous: unsafe { pg_sys::error_context_stack },
        callback: Some(remember_position),
        arg: std::ptr::null_mut(),
    };
    unsafe { pg_sys::error_context_stack = &mut callback };
    let previous = callback.previous;
    let restore = || unsafe { pg_sys::error_context_stack = previous };
    PgTryBuilder::new(f)
        .catch_others(|caught| {
            restore();
            let position = ERROR_POSITION.with(|p| p.replace(0));
            match caught {
                CaughtError::PostgresError(report) if position > 0 => {
                    let mut error =
                        ErrorReport::new(report.sql_error_code(), format!("{} at character {position}", report.message()), "bknd");
                    if let Some(detail) = report.detail() {
                        error = error.set_detail(detail);
                    }
                    if let Some(hint) = report.hint() {
                        error = error.set_hint(hint);
                    }
                    error.report(PgLogLevel::ERROR);
                    unreachable!()
                }
                other => other.rethrow(),
            }
        })
        .finally(restore)
        .execute()
}

/// Refuse anything but one statement, and transaction control.
fn single_statement(text: &CStr) {
    let (count, transaction_control) = unsafe {
        #[cfg(feature = "pg13")]
        let list = pg_sys::raw_parser(text.as_ptr());
        #[cfg(not(feature = "pg13"))]
        let list = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let list = pgrx::PgList::<pg_sys::RawStmt>::from_pg(list);
        let control =
            list.get_ptr(0).is_some_and(|raw| !(*raw).stmt.is_null() && (*(*raw).stmt).type_ == pg_sys::NodeTag::T_TransactionStmt);
        (list.len(), control)
    };
    if count != 1 {
        errors::raise_hint(
            Code::ERRCODE_SYNTAX_ERROR,
            format!("execute_sql runs exactly one statement, not {count}"),
            "send each statement in a call of its own",
        );
    }
    if transaction_control {
        errors::raise_hint(
            Code::ERRCODE_INVALID_TRANSACTION_TERMINATION,
            "execute_sql runs inside the caller's transaction: transaction control is not allowed",
            "each call is its own transaction; read_only chooses whether it may write",
        );
    }
}

/// Execute through SPI and copy the rows out as text before SPI's memory goes.
unsafe fn run(text: &CStr) -> Value {
    if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
        errors::raise(Code::ERRCODE_INTERNAL_ERROR, "bknd: could not connect to SPI");
    }
    // read-only is the transaction's (SET LOCAL above), so a write is refused as in a READ ONLY
    // transaction rather than with SPI's own wording
    let status = pg_sys::SPI_execute(text.as_ptr(), false, 0);
    let command = match status {
        s if s == pg_sys::SPI_OK_SELECT as i32 => "SELECT",
        s if s == pg_sys::SPI_OK_INSERT as i32 || s == pg_sys::SPI_OK_INSERT_RETURNING as i32 => "INSERT",
        s if s == pg_sys::SPI_OK_UPDATE as i32 || s == pg_sys::SPI_OK_UPDATE_RETURNING as i32 => "UPDATE",
        s if s == pg_sys::SPI_OK_DELETE as i32 || s == pg_sys::SPI_OK_DELETE_RETURNING as i32 => "DELETE",
        s if s == pg_sys::SPI_OK_UTILITY as i32 => "UTILITY",
        _ => "OTHER",
    };
    let row_count = pg_sys::SPI_processed;
    let table = pg_sys::SPI_tuptable;
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    if !table.is_null() {
        let desc = (*table).tupdesc;
        let natts = (*desc).natts;
        for c in 1..=natts {
            columns.push(owned(pg_sys::SPI_fname(desc, c)).map(Value::String).unwrap_or(Value::Null));
        }
        for i in 0..row_count as usize {
            let tuple = *(*table).vals.add(i);
            let mut row = Map::new();
            for (c, name) in (1..=natts).zip(&columns) {
                let value = owned(pg_sys::SPI_getvalue(tuple, desc, c)).map(Value::String).unwrap_or(Value::Null);
                row.insert(name.as_str().unwrap_or("?column?").to_string(), value);
            }
            rows.push(Value::Object(row));
        }
    }
    pg_sys::SPI_finish();
    json!({"command": command, "columns": columns, "rows": rows, "row_count": row_count})
}

/// A C string SPI allocated, as a Rust string (NULL: none).
unsafe fn owned(p: *mut std::ffi::c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}
