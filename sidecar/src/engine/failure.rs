//! Why work run through the engine failed, before any surface renders it. A failure that is
//! the server's (5xx) is logged here, once, with the request's id (the tracing span); what a
//! client reads for it is a fixed sentence, never the database's words.

use super::sqlstate::{classify, Kind};

#[derive(Debug, Clone)]
pub enum Failure {
    /// `bknd.authenticate` refused the token (28000); why, in the extension's words
    Token(String),
    /// The database raised an error, classified by `sqlstate::TABLE`.
    Database(DatabaseError),
    /// No connection within --pool-timeout, a broken connection, or the database is down.
    Unavailable,
    /// Our own failure; the details are in the log.
    Internal,
}

#[derive(Debug, Clone)]
pub struct DatabaseError {
    pub sqlstate: String,
    pub kind: Kind,
    pub status: u16,
    /// the database's message when the client may read it (a 4xx, or `PTnnn`), else a fixed one
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// What a client reads for a server-side failure of this kind.
pub fn fixed_message(kind: Kind) -> &'static str {
    match kind {
        Kind::Timeout => "The statement took too long and was canceled",
        Kind::Busy => "The request conflicted with another; try again",
        Kind::Unavailable => "The database is unavailable",
        _ => "Internal error",
    }
}

/// Seconds a client should wait before trying again (`Retry-After`), for failures that pass.
pub const RETRY_AFTER_SECONDS: u64 = 1;

impl Failure {
    /// A driver error: the database's (classified), a lost connection (unavailable), or ours.
    pub fn from_pg(e: &tokio_postgres::Error, anonymous: bool) -> Failure {
        match e.as_db_error() {
            Some(db) => Failure::database(db, anonymous),
            None if e.is_closed() || is_io(e) => {
                tracing::warn!("database connection lost: {e}");
                Failure::Unavailable
            }
            None => Failure::internal("database driver", e),
        }
    }

    pub fn database(db: &tokio_postgres::error::DbError, anonymous: bool) -> Failure {
        let sqlstate = db.code().code();
        let (kind, status) = classify(sqlstate, anonymous);
        let server_side = status >= 500 && kind != Kind::Custom;
        if server_side {
            let (detail, hint) = (db.detail().unwrap_or(""), db.hint().unwrap_or(""));
            if kind == Kind::Internal {
                tracing::error!(sqlstate, detail, hint, "database error answered with {status}: {}", db.message());
            } else {
                // timeouts, conflicts and an unavailable database are the load's doing, not a bug
                tracing::warn!(sqlstate, detail, hint, "database error answered with {status}: {}", db.message());
            }
        }
        Failure::Database(DatabaseError {
            sqlstate: sqlstate.to_string(),
            kind,
            status,
            message: if server_side { fixed_message(kind).to_string() } else { db.message().to_string() },
            detail: if server_side { None } else { db.detail().map(str::to_string) },
            hint: if server_side { None } else { db.hint().map(str::to_string) },
        })
    }

    /// The database did not answer within the work limit: the outcome is unknown (504).
    pub fn no_answer() -> Failure {
        tracing::warn!("the database did not answer in time; its connection is closed");
        Failure::Database(DatabaseError {
            sqlstate: "57014".into(),
            kind: Kind::Timeout,
            status: 504,
            message: "The database did not answer in time; the request may or may not have taken effect".into(),
            detail: None,
            hint: None,
        })
    }

    pub fn internal(context: &str, e: impl std::fmt::Display) -> Failure {
        tracing::error!("{context}: {e}");
        Failure::Internal
    }

    pub fn unavailable(context: &str, e: impl std::fmt::Display) -> Failure {
        tracing::warn!("{context}: {e}");
        Failure::Unavailable
    }

    /// The HTTP status every surface answers with (a surface's format may refine the kind's
    /// name, never this number, except where its reference server differs; see each renderer).
    pub fn status(&self) -> u16 {
        match self {
            Failure::Token(_) => 401,
            Failure::Database(d) => d.status,
            Failure::Unavailable => 503,
            Failure::Internal => 500,
        }
    }

    /// `Retry-After` for failures that pass by themselves.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Failure::Unavailable => Some(RETRY_AFTER_SECONDS),
            Failure::Database(d) if matches!(d.kind, Kind::Busy | Kind::Unavailable) => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }
}

fn is_io(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}
