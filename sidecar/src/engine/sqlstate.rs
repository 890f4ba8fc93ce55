//! The one classification of database errors: SQLSTATE (a code, else its two-letter class) to a
//! kind and an HTTP status. Every surface renders a classified error in its own wire format
//! (PostgREST, GoTrue, Supabase Storage, MCP); none keeps a table of its own. The README's
//! "Errors" section lists this table, and a test keeps the two equal.

/// What went wrong, as a client should understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// the request's own mistake (bad input, unknown column, a check failed)
    BadRequest,
    /// no token and the anon role may not do this (42501 without a token)
    Unauthorized,
    /// the caller's role may not do this
    Forbidden,
    NotFound,
    /// a write in a read-only transaction (GET, HEAD)
    NotAllowed,
    /// a unique or foreign key, or dependent objects
    Conflict,
    TooLarge,
    /// serialization failure, deadlock, lock not available: the same request may succeed again
    Busy,
    /// the statement timeout canceled it
    Timeout,
    /// the database is down, restarting or out of connections
    Unavailable,
    /// our fault or the schema's: never the client's
    Internal,
    /// `RAISE SQLSTATE 'PTnnn'` in the app's own SQL chose the status
    Custom,
}

/// One row of the table: an exact SQLSTATE (5 characters) or a class (2 characters).
pub struct Rule {
    pub sqlstate: &'static str,
    pub kind: Kind,
    pub status: u16,
    pub meaning: &'static str,
}

const fn rule(sqlstate: &'static str, kind: Kind, status: u16, meaning: &'static str) -> Rule {
    Rule { sqlstate, kind, status, meaning }
}

/// PostgREST's table (Error.hs, pgErrorStatus) with bknd's additions: P0002 (bknd's functions
/// raise it for "not found"), 2BP01, and the retryable 40001/40P01/55P03 as 503. Exact codes
/// first, then classes; anything else is 400.
pub const TABLE: &[Rule] = &[
    rule("23503", Kind::Conflict, 409, "foreign key violation"),
    rule("23505", Kind::Conflict, 409, "unique violation"),
    rule("2BP01", Kind::Conflict, 409, "dependent objects still exist"),
    rule("25006", Kind::NotAllowed, 405, "read-only transaction (a write in GET or HEAD)"),
    rule("P0001", Kind::BadRequest, 400, "raise_exception (RAISE in the app's SQL)"),
    rule("P0002", Kind::NotFound, 404, "no_data_found"),
    rule("42P01", Kind::NotFound, 404, "undefined table"),
    rule("42501", Kind::Forbidden, 403, "insufficient privilege (401 when the request carried no token)"),
    rule("42P17", Kind::Internal, 500, "infinite recursion in a policy"),
    rule("40001", Kind::Busy, 503, "serialization failure (retry)"),
    rule("40P01", Kind::Busy, 503, "deadlock detected (retry)"),
    rule("55P03", Kind::Busy, 503, "lock not available (retry)"),
    rule("57014", Kind::Timeout, 504, "canceled by the statement timeout"),
    rule("57P01", Kind::Unavailable, 503, "the database is shutting down"),
    rule("57P02", Kind::Unavailable, 503, "the database crashed"),
    rule("57P03", Kind::Unavailable, 503, "the database is starting"),
    rule("08", Kind::Unavailable, 503, "connection exception"),
    rule("53", Kind::Unavailable, 503, "insufficient resources"),
    rule("54", Kind::TooLarge, 413, "program limit exceeded"),
    rule("0L", Kind::Forbidden, 403, "invalid grantor"),
    rule("0P", Kind::Forbidden, 403, "invalid role specification"),
    rule("28", Kind::Forbidden, 403, "invalid authorization"),
    rule("09", Kind::Internal, 500, "triggered action exception"),
    rule("25", Kind::Internal, 500, "invalid transaction state"),
    rule("2D", Kind::Internal, 500, "invalid transaction termination"),
    rule("38", Kind::Internal, 500, "external routine exception"),
    rule("39", Kind::Internal, 500, "external routine invocation"),
    rule("3B", Kind::Internal, 500, "savepoint exception"),
    rule("40", Kind::Internal, 500, "transaction rollback"),
    rule("55", Kind::Internal, 500, "object not in prerequisite state"),
    rule("57", Kind::Internal, 500, "operator intervention"),
    rule("58", Kind::Internal, 500, "system error"),
    rule("F0", Kind::Internal, 500, "configuration file error"),
    rule("HV", Kind::Internal, 500, "foreign data wrapper error"),
    rule("P0", Kind::Internal, 500, "PL/pgSQL error"),
    rule("XX", Kind::Internal, 500, "internal error"),
];

/// Anything the table does not name: class 22 (data exceptions), 23 (other integrity
/// violations), 42 (syntax, undefined columns and functions), 0A and the rest.
pub const OTHERWISE: Rule = rule("*", Kind::BadRequest, 400, "the request's mistake");

/// A database error's kind and status. `anonymous`: the request carried no token, so a
/// refusal means "sign in" (401), not "not you" (403).
pub fn classify(sqlstate: &str, anonymous: bool) -> (Kind, u16) {
    if let Some(custom) = sqlstate.strip_prefix("PT") {
        let status = custom.parse::<u16>().ok().filter(|n| (100..=599).contains(n)).unwrap_or(500);
        return (Kind::Custom, status);
    }
    let class = sqlstate.get(..2).unwrap_or(sqlstate);
    let found =
        TABLE.iter().find(|r| r.sqlstate == sqlstate).or_else(|| TABLE.iter().find(|r| r.sqlstate.len() == 2 && r.sqlstate == class));
    let rule = found.unwrap_or(&OTHERWISE);
    if sqlstate == "42501" && anonymous {
        return (Kind::Unauthorized, 401);
    }
    (rule.kind, rule.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_classes_map_as_the_table_says() {
        for (code, kind, status) in [
            ("22P02", Kind::BadRequest, 400),
            ("22021", Kind::BadRequest, 400),
            ("42804", Kind::BadRequest, 400),
            ("42883", Kind::BadRequest, 400),
            ("0A000", Kind::BadRequest, 400),
            ("23514", Kind::BadRequest, 400),
            ("23505", Kind::Conflict, 409),
            ("42P01", Kind::NotFound, 404),
            ("P0002", Kind::NotFound, 404),
            ("25006", Kind::NotAllowed, 405),
            ("42P17", Kind::Internal, 500),
            ("XX000", Kind::Internal, 500),
            ("40001", Kind::Busy, 503),
            ("40002", Kind::Internal, 500),
            ("57014", Kind::Timeout, 504),
            ("57P01", Kind::Unavailable, 503),
            ("08006", Kind::Unavailable, 503),
            ("54001", Kind::TooLarge, 413),
            ("28000", Kind::Forbidden, 403),
            ("PT418", Kind::Custom, 418),
            ("PTxyz", Kind::Custom, 500),
            ("PT999", Kind::Custom, 500),
        ] {
            assert_eq!(classify(code, false), (kind, status), "{code}");
        }
    }

    #[test]
    fn a_refusal_without_a_token_asks_for_one() {
        assert_eq!(classify("42501", true), (Kind::Unauthorized, 401));
        assert_eq!(classify("42501", false), (Kind::Forbidden, 403));
        assert_eq!(classify("23505", true), (Kind::Conflict, 409));
    }

    #[test]
    fn every_rule_names_a_code_or_a_class_once() {
        let mut seen = std::collections::HashSet::new();
        for r in TABLE {
            assert!(r.sqlstate.len() == 5 || r.sqlstate.len() == 2, "{}", r.sqlstate);
            assert!(seen.insert(r.sqlstate), "{} twice", r.sqlstate);
            assert!((100..=599).contains(&r.status));
        }
    }

    /// The README's error section is this table, row for row.
    #[test]
    fn the_readme_lists_this_table() {
        let readme = include_str!("../../../README.md");
        let section = readme.split("<!-- errors -->").nth(1).expect("README has an <!-- errors --> section");
        let rows: Vec<(String, u16)> = section
            .lines()
            .take_while(|l| !l.contains("<!-- /errors -->"))
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let code = cells.get(1)?.trim_matches('`');
                let status = cells.get(2)?.parse::<u16>().ok()?;
                Some((code.to_string(), status))
            })
            .collect();
        let mut expected: Vec<(String, u16)> = TABLE.iter().map(|r| (r.sqlstate.to_string(), r.status)).collect();
        expected.push(("*".into(), OTHERWISE.status));
        assert_eq!(rows, expected, "README.md's errors table differs from engine/sqlstate.rs");
    }
}
