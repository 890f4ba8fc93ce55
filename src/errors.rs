//! One way to raise an error: a stable SQLSTATE, a message, and a hint where one helps.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

pub use pgrx::PgSqlErrorCode as Code;

/// Raise an ERROR with `code` and `message`. Never returns.
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>) -> ! {
    ErrorReport::new(code, message.into(), "bknd").report(PgLogLevel::ERROR);
    unreachable!()
}

/// Raise an ERROR with a hint telling the caller what to do instead.
pub fn raise_hint(code: PgSqlErrorCode, message: impl Into<String>, hint: impl Into<String>) -> ! {
    ErrorReport::new(code, message.into(), "bknd").set_hint(hint.into()).report(PgLogLevel::ERROR);
    unreachable!()
}

/// Shorthand for the most common user mistake: a bad argument value (22023).
pub fn invalid(message: impl Into<String>) -> ! {
    raise(Code::ERRCODE_INVALID_PARAMETER_VALUE, message)
}

/// Turn an SPI failure into an ERROR. SPI errors raised by Postgres itself (a failed CHECK,
/// a missing table) already carry their own SQLSTATE and never reach here.
pub fn spi<T>(result: Result<T, pgrx::spi::SpiError>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => raise(Code::ERRCODE_INTERNAL_ERROR, format!("bknd: SPI failed: {e}")),
    }
}

/// Like `spi`, for a query that may return no row: then `empty`.
pub fn spi_or<T>(result: Result<T, pgrx::spi::SpiError>, empty: T) -> T {
    match result {
        Err(pgrx::spi::SpiError::InvalidPosition) => empty,
        other => spi(other),
    }
}
